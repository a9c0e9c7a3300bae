import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText, renderPlan } from '../../src/runbooks/index.js';
import { variableChooses } from '../../src/runbooks/environment-names.js';

/**
 * Environment variables a `command:` argv sets for the program a wrapper runs (env's and
 * sudo's NAME=value, docker's -e, systemd-run's -E, lxc-attach's -v, kubectl run's
 * --env, ssh's -o SetEnv…): a placeholder may not stand in the name, nor in the value of
 * a name that chooses what runs (LD_PRELOAD, PATH, GIT_SSH_COMMAND…); under a name of
 * the runbook's own it loads. Each list is loaded as a runbook and the problems compared whole.
 */
const yaml = (argv: readonly string[]): string =>
  `runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: {command: {argv: ${JSON.stringify(argv)}}}\n    rollback: none\n    rollback_reason: t\n`;
const problems = (argv: readonly string[]): string[] => parseRunbooksText(yaml(argv), 'r.yaml').problems.map(formatProblem);
const at = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;
const LOADER = 'the libraries the dynamic loader and the C library load into the program, or the files they read';
const SEARCH = 'where the program, or one it starts, finds the programs, libraries or modules it runs';
const chooses = (i: number, lead: string, name: string, by: string, what: string) =>
  `${at(i)}: ${lead} sets ${name} for the program ${JSON.stringify(by)} runs, so an alert's value would choose ${what} (LD_*, PATH, GIT_*, …: variables that choose what runs may not hold a {placeholder}); pass the value as an argument, or under a name of your own ("TARGET={x}")`;
const named = (i: number, lead: string, by: string) =>
  `${at(i)}: ${lead} sets a variable whose name holds a {placeholder} for the program ${JSON.stringify(by)} runs: an alert's value could name any variable (LD_PRELOAD, PATH…) and choose what runs; write the name in the runbook ("TARGET={x}")`;
/** The problems, each cut to its argument and what it sets: for the many forms whose whole message is asserted once above. */
const sets = (argv: readonly string[]): string[] => problems(argv).map((p) => p.replace(/^r\.yaml:5: runbooks\.r\.action\.command\.(argv\[\d+\]): (.*?) for the program .*$/, '$1: $2'));

// Regression: [env, "LD_PRELOAD={x}", /usr/local/bin/tool] loaded, and the alert chose a
// library the dynamic loader ran inside the tool.
test('env: a placeholder in the value of a variable that chooses what runs is refused, naming the argument and why', () => {
  assert.deepEqual(problems(['env', 'LD_PRELOAD={x}', '/usr/local/bin/tool']), [chooses(1, '"LD_PRELOAD={x}"', 'LD_PRELOAD', 'env', LOADER)]);
  assert.deepEqual(problems(['env', 'A=1', 'PATH=/usr/local/bin:{x}', 'tool']), [chooses(2, '"PATH=/usr/local/bin:{x}"', 'PATH', 'env', SEARCH)]);
  assert.deepEqual(problems(['env', '-u', 'HOME', 'GIT_SSH_COMMAND={x}', '/usr/bin/git', 'fetch']), [
    chooses(3, '"GIT_SSH_COMMAND={x}"', 'GIT_SSH_COMMAND', 'env', 'a command the program runs (as git runs GIT_SSH_COMMAND, or the pager or editor it starts)'),
  ]);
  // The family, by name, prefix and suffix, in any case; behind another wrapper too.
  for (const [assignment, name] of [
    ['BASH_ENV={x}', 'BASH_ENV'],
    ['BASH_FUNC_ls%%={x}', 'BASH_FUNC_ls%%'],
    ['ENV={x}', 'ENV'],
    ['PS4={x}', 'PS4'],
    ['IFS={x}', 'IFS'],
    ['SHELLOPTS={x}', 'SHELLOPTS'],
    ['PROMPT_COMMAND={x}', 'PROMPT_COMMAND'],
    ['NODE_OPTIONS=--require=/srv/{x}', 'NODE_OPTIONS'],
    ['PYTHONPATH={x}', 'PYTHONPATH'],
    ['PYTHONSTARTUP={x}', 'PYTHONSTARTUP'],
    ['PERL5OPT={x}', 'PERL5OPT'],
    ['RUBYOPT={x}', 'RUBYOPT'],
    ['JAVA_TOOL_OPTIONS={x}', 'JAVA_TOOL_OPTIONS'],
    ['_JAVA_OPTIONS={x}', '_JAVA_OPTIONS'],
    ['JDK_JAVA_OPTIONS={x}', 'JDK_JAVA_OPTIONS'],
    ['CLASSPATH={x}', 'CLASSPATH'],
    ['LD_LIBRARY_PATH={x}', 'LD_LIBRARY_PATH'],
    ['DYLD_INSERT_LIBRARIES={x}', 'DYLD_INSERT_LIBRARIES'],
    ['GCONV_PATH={x}', 'GCONV_PATH'],
    ['GLIBC_TUNABLES={x}', 'GLIBC_TUNABLES'],
    ['LOCPATH={x}', 'LOCPATH'],
    ['NLSPATH={x}', 'NLSPATH'],
    ['HOME=/home/{x}', 'HOME'],
    ['XDG_CONFIG_HOME={x}', 'XDG_CONFIG_HOME'],
    ['KUBECONFIG=/etc/kube/{x}', 'KUBECONFIG'],
    ['DOCKER_CONFIG={x}', 'DOCKER_CONFIG'],
    ['SSH_ASKPASS={x}', 'SSH_ASKPASS'],
    ['SUDO_ASKPASS={x}', 'SUDO_ASKPASS'],
    ['GIT_ASKPASS={x}', 'GIT_ASKPASS'],
    ['GIT_EXTERNAL_DIFF={x}', 'GIT_EXTERNAL_DIFF'],
    ['EDITOR={x}', 'EDITOR'],
    ['VISUAL={x}', 'VISUAL'],
    ['PAGER={x}', 'PAGER'],
    ['SYSTEMD_PAGER={x}', 'SYSTEMD_PAGER'],
    ['LESSOPEN={x}', 'LESSOPEN'],
    ['LESSCLOSE={x}', 'LESSCLOSE'],
    ['RSYNC_RSH={x}', 'RSYNC_RSH'],
    ['TAR_OPTIONS={x}', 'TAR_OPTIONS'],
    ['https_proxy=http://{x}:3128', 'https_proxy'],
    ['ld_preload={x}', 'ld_preload'],
  ]) {
    assert.deepEqual(sets(['timeout', '60', 'env', assignment!, '/usr/local/bin/tool']), [`argv[3]: ${JSON.stringify(assignment)} sets ${name}`], assignment);
  }
  // A placeholder in the name is refused (it is read as the program env runs).
  const program = (i: number) => `${at(i)}: the program "env" runs must be written out, not a {placeholder}: an alert must not choose what runs nor, as "NAME=value", its environment`;
  assert.deepEqual(problems(['env', '{x}=1', '/usr/local/bin/tool']), [program(1)]);
  assert.deepEqual(problems(['env', 'LD_{x}=/tmp/a.so', '/usr/local/bin/tool']), [program(1)]);
});

// Regression: sudo reads NAME=value before the program (among its options, not after
// "--"), but rectify read [sudo, A=1, bash, -c, id] as running the program "A=1", so a
// shell loaded, and [sudo, "LD_PRELOAD={x}", tool] was refused as "the program".
test('sudo: its NAME=value assignments are read as env\'s are, and the program after them', () => {
  assert.deepEqual(problems(['sudo', 'A=1', 'bash', '-c', 'id']), [
    `${at(2)}: "bash" is a shell, which "sudo" would run; rectify runs commands without one, so call the program directly`,
  ]);
  assert.deepEqual(problems(['sudo', '--preserve-env=RECTIFY_STEP_ID', 'LD_PRELOAD={x}', '/usr/local/bin/tool']), [chooses(2, '"LD_PRELOAD={x}"', 'LD_PRELOAD', 'sudo', LOADER)]);
  assert.deepEqual(sets(['sudo', 'SVC=1', '-u', 'app', 'PYTHONPATH=/srv/{x}', '/usr/bin/python3']), ['argv[4]: "PYTHONPATH=/srv/{x}" sets PYTHONPATH']);
  assert.deepEqual(problems(['sudo', '{x}=1', '/usr/local/bin/tool']), [
    `${at(1)}: the program "sudo" runs must be written out, not a {placeholder}: an alert must not choose what runs nor, as "NAME=value", its environment`,
  ]);
  // After "--", or starting with "/", it is the program, as sudo reads it.
  assert.deepEqual(problems(['sudo', '--', 'A=1', '/usr/local/bin/tool']), []);
  assert.deepEqual(problems(['sudo', '/usr/local/bin/a=b', 'bash']), []);
});

test('the options that set the environment of the program run (docker -e, systemd-run -E, lxc-attach -v, kubectl run --env…) are read as env\'s assignments', () => {
  assert.deepEqual(problems(['docker', 'exec', '-e', 'LD_PRELOAD={x}', '{container}', '/usr/local/bin/tool']), [chooses(3, '-e "LD_PRELOAD={x}"', 'LD_PRELOAD', 'docker', LOADER)]);
  assert.deepEqual(problems(['systemd-run', '--setenv=PATH={x}', '/usr/local/bin/tool']), [chooses(1, '--setenv "PATH={x}"', 'PATH', 'systemd-run', SEARCH)]);
  assert.deepEqual(problems(['docker', 'run', '--rm', '-e', '{x}=/tmp/a.so', 'registry/app:1', '/usr/local/bin/tool']), [named(4, '-e "{x}=/tmp/a.so"', 'docker')]);
  assert.deepEqual(problems(['systemd-run', '-E', 'LD_{x}=/tmp/a.so', '/usr/local/bin/tool']), [named(2, '-E "LD_{x}=/tmp/a.so"', 'systemd-run')]);
  for (const [argv, expected] of [
    [['docker', 'exec', '--env', 'LD_PRELOAD={x}', 'c1', '/usr/local/bin/tool'], 'argv[3]: --env "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['docker', 'exec', '-eLD_PRELOAD={x}', 'c1', '/usr/local/bin/tool'], 'argv[2]: -e "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['docker', 'run', '--env=PATH={x}', 'registry/app:1', '/usr/local/bin/tool'], 'argv[2]: --env "PATH={x}" sets PATH'],
    [['docker', 'container', 'run', '-e', 'NODE_OPTIONS={x}', 'registry/app:1'], 'argv[4]: -e "NODE_OPTIONS={x}" sets NODE_OPTIONS'],
    [['docker', 'compose', 'exec', '-e', 'LD_PRELOAD={x}', 'web', '/usr/local/bin/tool'], 'argv[4]: -e "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['docker', 'compose', 'run', '--env', 'BASH_ENV={x}', 'web', '/usr/local/bin/tool'], 'argv[4]: --env "BASH_ENV={x}" sets BASH_ENV'],
    [['podman', 'run', '--env-merge', 'LD_PRELOAD={x}', 'registry/app:1', '/usr/local/bin/tool'], 'argv[3]: --env-merge "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['nerdctl', 'exec', '-e', 'PATH={x}', 'c1', '/usr/local/bin/tool'], 'argv[3]: -e "PATH={x}" sets PATH'],
    [['crictl', 'exec', '-e', 'LD_PRELOAD={x}', 'c1', '/usr/local/bin/tool'], 'argv[3]: -e "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['ctr', 'run', '--env', 'LD_PRELOAD={x}', 'registry/app:1', 'job', '/usr/local/bin/tool'], 'argv[3]: --env "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['systemd-run', '-E', 'LD_PRELOAD={x}', '/usr/local/bin/tool'], 'argv[2]: -E "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['systemd-run', '-ELD_PRELOAD={x}', '/usr/local/bin/tool'], 'argv[1]: -E "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['systemd-nspawn', '-D', '/srv/root', '--setenv=LD_PRELOAD={x}', '/usr/local/bin/tool'], 'argv[3]: --setenv "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['lxc-attach', '-n', '{c}', '-v', 'LD_PRELOAD={x}', '--', '/usr/local/bin/tool'], 'argv[4]: -v "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['lxc-attach', '-n', '{c}', '--set-var=PATH={x}', '--', '/usr/local/bin/tool'], 'argv[3]: --set-var "PATH={x}" sets PATH'],
    [['lxc', 'exec', 'c1', '--env', 'LD_PRELOAD={x}', '--', '/usr/local/bin/tool'], 'argv[4]: --env "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['incus', 'exec', 'c1', '--env=PATH={x}', '--', '/usr/local/bin/tool'], 'argv[3]: --env "PATH={x}" sets PATH'],
    [['kubectl', 'run', 'job-1', '--image=registry/app:1', '--env=LD_PRELOAD={x}', '--', '/usr/local/bin/tool'], 'argv[4]: --env "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['kubectl', 'debug', '{pod}', '--image=registry/debug:1', '--env', 'PATH={x}', '--', '/usr/local/bin/tool'], 'argv[5]: --env "PATH={x}" sets PATH'],
    [['oc', 'run', 'job-1', '--image=registry/app:1', '--env', 'KUBECONFIG={x}', '--', '/usr/local/bin/tool'], 'argv[5]: --env "KUBECONFIG={x}" sets KUBECONFIG'],
    [['firejail', '--env=LD_PRELOAD={x}', '/usr/local/bin/tool'], 'argv[1]: --env "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['ssh', '-o', 'SetEnv=LD_PRELOAD={x}', 'node1', '/usr/local/bin/tool'], 'argv[2]: -o SetEnv "LD_PRELOAD={x}" sets LD_PRELOAD'],
    [['ssh', '-o', 'SetEnv A=1 PATH={x}', 'node1', '/usr/local/bin/tool'], 'argv[2]: -o SetEnv "PATH={x}" sets PATH'],
  ] as const) {
    assert.deepEqual(sets(argv), [expected], JSON.stringify(argv));
  }
  assert.deepEqual(problems(['ssh', '-o', 'SendEnv={x}', 'node1', '/usr/local/bin/tool']), [
    `${at(2)}: ssh's -o SendEnv names the variables ssh sends to the remote host, so it must be written out, not hold a {placeholder}: an alert must not choose which of the command's variables (command_env's among them) leave the host; write it in the runbook`,
  ]);
});

test('a value under a name of the runbook\'s own still loads, and fills as written; the runbook\'s own values under any name too', () => {
  for (const argv of [
    ['env', 'TARGET_POD={pod}', 'SVC={service}', '/usr/local/bin/report'],
    ['env', 'QUEUE={queue}', 'PATH=/usr/local/bin:/usr/bin', 'LD_PRELOAD=/usr/lib/libjemalloc.so.2', '/usr/local/bin/flush'],
    ['sudo', '--preserve-env=RECTIFY_STEP_ID', 'SVC={service}', '-u', 'app', '/usr/local/bin/flush'],
    ['docker', 'exec', '-e', 'QUEUE={queue}', '{container}', '/usr/local/bin/flush'],
    ['docker', 'run', '--rm', '--env=TARGET={x}', 'registry/app:1', '/usr/local/bin/flush'],
    ['systemd-run', '-E', 'TARGET={x}', '--unit=flush-{x}', '/usr/local/bin/flush'],
    ['lxc-attach', '-n', '{c}', '-v', 'SVC={service}', '--', '/usr/local/bin/flush'],
    ['kubectl', 'run', 'job-1', '--image=registry/app:1', '--env=SVC={service}', '--', '/usr/local/bin/flush'],
    ['ssh', '-o', 'SetEnv=SVC={service}', '{host}', '/usr/local/bin/flush'],
    ['docker', 'exec', '-e', 'HOME', '{container}', '/usr/local/bin/flush'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
  const { runbooks } = parseRunbooksText(yaml(['env', 'TARGET_POD={pod}', '/usr/local/bin/report']), 'r.yaml');
  const plan = renderPlan(runbooks[0]!, { pod: 'api-1' });
  assert.ok(plan.ok);
  assert.deepEqual((plan.plan.actions[0]!.spec as { argv: string[] }).argv, ['env', 'TARGET_POD=api-1', '/usr/local/bin/report']);
});

test('the names: exact, by prefix and by suffix, compared upper-cased', () => {
  for (const name of ['LD_PRELOAD', 'ld_preload', 'Path', 'GIT_PAGER', 'MANPAGER', 'JAVA_HOME', 'GNUPGHOME', 'npm_config_script_shell', 'http_proxy', 'NO_PROXY', 'BASH_FUNC_x%%', ' PATH']) {
    assert.ok(variableChooses(name), name);
  }
  for (const name of ['TARGET_POD', 'SVC', 'QUEUE', 'TZ', 'LANG', 'TARGET', 'REPLICAS', 'NAMESPACE']) {
    assert.equal(variableChooses(name), undefined, name);
  }
});

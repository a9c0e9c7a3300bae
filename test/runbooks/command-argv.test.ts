import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText, renderPlan } from '../../src/runbooks/index.js';

/**
 * Which `command:` argument lists may hold a placeholder where kubectl, oc, docker,
 * podman, nerdctl, crictl, ssh and systemd-run read options and subcommands: each
 * list is loaded as a runbook, and the problems are compared whole.
 */
const yaml = (argv: readonly string[]): string =>
  `runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: {command: {argv: ${JSON.stringify(argv)}}}\n    rollback: none\n    rollback_reason: t\n`;
const problems = (argv: readonly string[]): string[] => parseRunbooksText(yaml(argv), 'r.yaml').problems.map(formatProblem);
const at = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;
const TAIL = 'rectify runs commands without one, so call the program directly';
const shellRun = (i: number, shell: string, by: string) => `${at(i)}: ${JSON.stringify(shell)} is a shell, which ${JSON.stringify(by)} would run; ${TAIL}`;
const programValue = (i: number, by: string) => `${at(i)}: the program ${JSON.stringify(by)} runs must be written out, not a {placeholder}: an alert must not choose what runs`;
const anywhere = (i: number, by: string, option: string) =>
  `${at(i)}: ${JSON.stringify(by)}'s option ${option} must be written out wherever it stands, not take a {placeholder} (only -n or --namespace may take one): an alert must not choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`;
const spelt = (i: number, by: string) =>
  `${at(i)}: ${JSON.stringify(by)}'s options must be written out wherever they stand: a value there could be read as an option, and choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`;

// Regression: after the subcommand, a global option joined to its value ("-s{x}",
// "-s={x}") was not read, and the alert chose the API server kubectl talked to.
test('after the subcommand, kubectl and oc read -s joined to its value ("-s{x}", "-s={x}", "-ws {x}") as "-s {x}": refused', () => {
  assert.deepEqual(problems(['kubectl', 'get', 'pods', '-n', '{ns}', '-s{x}']), [anywhere(5, 'kubectl', '-s')]);
  assert.deepEqual(problems(['kubectl', 'get', 'pods', '-s={x}']), [anywhere(3, 'kubectl', '-s')]);
  assert.deepEqual(problems(['oc', 'get', 'pods', '-s{x}']), [anywhere(3, 'oc', '-s')]);
  assert.deepEqual(problems(['oc', 'delete', 'pod', '{pod}', '-s=https://{x}:6443']), [anywhere(4, 'oc', '-s')]);
  assert.deepEqual(problems(['kubectl', 'exec', '{pod}', '-s{x}', '--', '/usr/local/bin/tool']), [anywhere(3, 'kubectl', '-s')]);
  // A flag before it in the same argument: "-w" takes no value, so "-ws" is -w, then -s and its value.
  assert.deepEqual(problems(['kubectl', 'get', 'pods', '-ws', '{x}']), [anywhere(4, 'kubectl', '-s')]);
  assert.deepEqual(problems(['kubectl', 'get', 'pods', '-ws{x}']), [anywhere(3, 'kubectl', '-s')]);
  // A value that could spell an option ("-{x}" with x=sevil:6443, "--{x}" with x=server=evil:6443, "-w{x}").
  assert.deepEqual(problems(['kubectl', 'get', 'pods', '-{x}']), [spelt(3, 'kubectl')]);
  assert.deepEqual(problems(['kubectl', 'get', 'pods', '--{x}']), [spelt(3, 'kubectl')]);
  assert.deepEqual(problems(['oc', 'get', 'pods', '-w{x}']), [spelt(3, 'oc')]);
  // Before the subcommand, the same reading.
  assert.deepEqual(problems(['kubectl', '-s{x}', 'get', 'pods']), [
    `${at(1)}: "kubectl"'s option -s before its subcommand must be written out, not take a {placeholder} (only -n or --namespace may take one): an alert must not choose the server, context, credentials or identity "kubectl" acts with; write it in the runbook`,
  ]);
  // Still loaded: -l's value is the rest ("-ls" is -l s), a program's own options after "--".
  for (const argv of [
    ['kubectl', 'get', 'pods', '-ls', '{x}'],
    ['kubectl', 'get', 'pods', '-l', 'app={svc}', '-o', 'name'],
    ['kubectl', 'exec', '{pod}', '--', '/usr/local/bin/tool', '-s{x}'],
    ['podman', 'exec', 'c1', '/usr/local/bin/tool', '-q{x}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: "-n{ns}" and "-c{c}" were refused ("options must be written out") though
// "-n {ns}" and "--namespace={ns}" loaded.
test('kubectl\'s joined "-n{ns}" and "-c{c}" follow the rule "-n {ns}" and "-c {c}" do: they load, and fill as written', () => {
  for (const argv of [
    ['kubectl', '-n{ns}', 'get', 'pods'],
    ['kubectl', '-n={ns}', 'get', 'pods'],
    ['kubectl', 'exec', '{pod}', '-n{ns}', '--', '/bin/true'],
    ['kubectl', 'exec', '{pod}', '-c{c}', '--', '/bin/true'],
    ['kubectl', 'logs', '{pod}', '-n{ns}', '-c{c}'],
    ['oc', 'exec', '-n{ns}', '{pod}', '--', '/bin/true'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
  const { runbooks } = parseRunbooksText(yaml(['kubectl', 'exec', '{pod}', '-n{ns}', '-c{c}', '--', '/bin/true']), 'r.yaml');
  const plan = renderPlan(runbooks[0]!, { pod: 'api-1', ns: 'prod', c: 'app' });
  assert.ok(plan.ok);
  assert.deepEqual((plan.plan.actions[0]!.spec as { argv: string[] }).argv, ['kubectl', 'exec', 'api-1', '-nprod', '-capp', '--', '/bin/true']);
  // A joined value is read as a separate one is: -s never, "-f{x}" before exec's program not alone.
  assert.deepEqual(problems(['kubectl', 'exec', '-f{x}', '--', '/bin/true']), [
    `${at(2)}: a {placeholder} alone cannot stand before the program "kubectl" runs: a value there could choose what runs or its environment ("kubectl" would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`,
  ]);
  assert.deepEqual(problems(['sudo', '-u{who}', '/usr/local/bin/tool']), [
    `${at(1)}: a {placeholder} alone cannot stand before the program "sudo" runs: a value there could choose what runs or its environment ("sudo" would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`,
  ]);
  assert.deepEqual(problems(['env', '-S{x}']), [`${at(1)}: "env" splits -S's value into the program and its environment; write it as an argument of its own`]);
  // A value standing where option letters are read: still refused.
  assert.deepEqual(problems(['sudo', '-{x}', '/usr/local/bin/tool']), [`${at(1)}: "sudo"'s options must be written out: a value there could choose how it runs what it runs`]);
  assert.deepEqual(problems(['timeout', '--foreground', '-k{x}', '5', '/usr/local/bin/tool']), [
    `${at(2)}: a {placeholder} alone cannot stand before the program "timeout" runs: a value there could choose what runs or its environment ("timeout" would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`,
  ]);
});

// Regression: only the first level's exec and run were read, so `docker container exec
// web {x}` ran whatever the alert named.
test('docker, podman and nerdctl container exec/run, and docker compose exec/run, are read as exec and run are', () => {
  assert.deepEqual(problems(['docker', 'container', 'exec', 'web', '{x}']), [programValue(4, 'docker')]);
  assert.deepEqual(problems(['docker', 'container', 'exec', '{c}', 'sh', '-c', 'x']), [shellRun(4, 'sh', 'docker')]);
  assert.deepEqual(problems(['docker', 'container', 'run', '--rm', 'alpine', '{x}']), [programValue(5, 'docker')]);
  assert.deepEqual(problems(['docker', 'container', 'run', '--rm', 'alpine', 'sh', '-c', 'x']), [shellRun(5, 'sh', 'docker')]);
  assert.deepEqual(problems(['podman', 'container', 'exec', 'web', '{x}']), [programValue(4, 'podman')]);
  assert.deepEqual(problems(['podman', 'container', 'run', 'alpine', 'bash']), [shellRun(4, 'bash', 'podman')]);
  assert.deepEqual(problems(['nerdctl', 'container', 'exec', 'web', '{x}']), [programValue(4, 'nerdctl')]);
  assert.deepEqual(problems(['nerdctl', 'container', 'run', 'alpine', '{x}']), [programValue(4, 'nerdctl')]);
  assert.deepEqual(problems(['docker', 'compose', 'exec', 'web', '{x}']), [programValue(4, 'docker')]);
  assert.deepEqual(problems(['docker', 'compose', '-f', '/srv/app/compose.yaml', 'exec', '-T', 'web', 'sh', '-c', 'x']), [shellRun(7, 'sh', 'docker')]);
  assert.deepEqual(problems(['docker', 'compose', 'run', '--rm', 'web', '{x}']), [programValue(5, 'docker')]);
  assert.deepEqual(problems(['docker', 'compose', 'run', '--entrypoint', 'bash', 'web']), [`${at(4)}: "bash" is a shell, which "docker" would run (--entrypoint); ${TAIL}`]);
  assert.deepEqual(problems(['podman', 'compose', 'exec', 'web', '{x}']), [programValue(4, 'podman')]);
  assert.deepEqual(problems(['docker', 'container', '{verb}', 'web']), [`${at(2)}: the "docker container" subcommand must be written out, not a {placeholder}: an alert must not choose what runs`]);
  assert.deepEqual(problems(['docker', 'compose', '-f', '{file}', 'restart', 'web']), [
    `${at(3)}: "docker"'s option -f before its subcommand must be written out, not take a {placeholder}: an alert must not choose the server, context, credentials or identity "docker" acts with; write it in the runbook`,
  ]);
  // Still loaded: the container or service of an exec, the program's own arguments.
  for (const argv of [
    ['docker', 'container', 'exec', '{c}', '/usr/local/bin/reload', '{queue}'],
    ['podman', 'container', 'exec', '-u', 'root', '{c}', '/usr/local/bin/reload'],
    ['docker', 'compose', 'exec', '-T', '{svc}', '/usr/local/bin/flush', '{queue}'],
    ['docker', 'container', 'restart', '{c}'],
    ['docker', 'compose', 'restart', '{svc}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

test('after a kubectl, oc, docker, podman, nerdctl or crictl subcommand rectify does not know, no argument may be a placeholder or a shell', () => {
  const unknown = (i: number, what: string, chain: string, known: string) =>
    `${at(i)}: ${what}: rectify does not know what ${JSON.stringify(chain)} runs, so no argument after it may be a {placeholder} or a shell (an alert must not choose what runs); write it in the runbook, or use a subcommand it knows (${known})`;
  const KUBE = 'exec, run, debug, get, describe, delete, rollout, scale, autoscale, drain, cordon, uncordon, logs, annotate, label, taint, top, wait, events, explain, version, api-resources, api-versions, cluster-info';
  const CONTAINER = 'exec, run, restart, start, stop, kill, logs, inspect, ps, rm, pause, unpause, top, stats, port, wait, update, container, compose';
  const PLACEHOLDER = 'a {placeholder} cannot stand here';
  assert.deepEqual(problems(['kubectl', 'cp', '{pod}:/tmp/x', '/tmp/x']), [unknown(2, PLACEHOLDER, 'kubectl cp', KUBE)]);
  assert.deepEqual(problems(['kubectl', 'neat', 'sh']), [unknown(2, '"sh" is a shell', 'kubectl neat', KUBE)]);
  assert.deepEqual(problems(['kubectl', 'attach', '-n', '{ns}', 'web']), [unknown(3, PLACEHOLDER, 'kubectl attach', KUBE)]);
  assert.deepEqual(problems(['docker', 'cp', '{c}:/x', '/tmp/x']), [unknown(2, PLACEHOLDER, 'docker cp', CONTAINER)]);
  assert.deepEqual(problems(['podman', 'container', 'attach', '{c}']), [
    unknown(3, PLACEHOLDER, 'podman container attach', 'exec, run, restart, start, stop, kill, logs, inspect, ps, rm, pause, unpause, top, stats, port, wait, update'),
  ]);
  assert.deepEqual(problems(['crictl', 'attach', '{c}']), [
    unknown(2, PLACEHOLDER, 'crictl attach', 'exec, stop, start, rm, stopp, rmp, ps, pods, inspect, inspectp, inspecti, logs, stats, statsp, info, images, rmi'),
  ]);
  // A name an object inherits is no subcommand of rectify's tables.
  assert.deepEqual(problems(['kubectl', 'constructor', '{x}']), [unknown(2, PLACEHOLDER, 'kubectl constructor', KUBE)]);
  // Still loaded: an unknown subcommand written out, a program named as an inherited key.
  for (const argv of [['kubectl', 'cp', 'web-0:/tmp/x', '/tmp/x'], ['constructor', 'x'], ['toString', '{x}']]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: ssh's -o ProxyCommand (and the like) and systemd-run's -p ExecStartPre=
// took a placeholder, so the alert chose a command run before the one written out.
test("ssh's -o command options and systemd-run's -p Exec*/Environment properties may not hold a placeholder", () => {
  const ssh = (i: number, keyword: string) =>
    `${at(i)}: ssh's -o ${keyword} is a command ssh runs (or a library it loads), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['ssh', '-o', 'ProxyCommand={x}', '{host}', '/usr/local/bin/clean']), [ssh(2, 'ProxyCommand')]);
  assert.deepEqual(problems(['ssh', '-oProxyCommand={x}', 'host', '/bin/true']), [ssh(1, 'ProxyCommand')]);
  assert.deepEqual(problems(['ssh', '-o', 'proxycommand /usr/local/bin/{x}', 'host', '/bin/true']), [ssh(2, 'proxycommand')]);
  assert.deepEqual(problems(['ssh', '-4o', 'LocalCommand={x}', 'host', '/bin/true']), [ssh(2, 'LocalCommand')]);
  assert.deepEqual(problems(['ssh', '-o', ' KnownHostsCommand=/usr/bin/{x} %H', 'host', '/bin/true']), [ssh(2, 'KnownHostsCommand')]);
  assert.deepEqual(problems(['ssh', '-o', 'RemoteCommand={x}', 'host', '/bin/true']), [ssh(2, 'RemoteCommand')]);
  assert.deepEqual(problems(['ssh', '-oPKCS11Provider=/tmp/{x}.so', 'host', '/bin/true']), [ssh(1, 'PKCS11Provider')]);
  assert.deepEqual(problems(['ssh', '-o', 'Proxy{x}=a', 'host', '/bin/true']), [
    `${at(2)}: the name of an ssh -o option must be written out, not hold a {placeholder}: an alert must not choose how ssh connects or what it runs; write it in the runbook`,
  ]);
  const systemd = (i: number, option: string, name: string) =>
    `${at(i)}: systemd-run's ${option} ${name}= chooses what runs, its environment or the files it sees, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['systemd-run', '-p', 'ExecStartPre={x}', '/usr/local/bin/flush']), [systemd(2, '-p', 'ExecStartPre')]);
  assert.deepEqual(problems(['systemd-run', '-pExecStopPost=/usr/local/bin/{x}', '/usr/local/bin/flush']), [systemd(1, '-p', 'ExecStopPost')]);
  assert.deepEqual(problems(['systemd-run', '--property=Environment=LD_PRELOAD={x}', '/usr/local/bin/flush']), [systemd(1, '--property', 'Environment')]);
  assert.deepEqual(problems(['systemd-run', '--socket-property', 'ExecStartPre={x}', '/usr/local/bin/flush']), [systemd(2, '--socket-property', 'ExecStartPre')]);
  assert.deepEqual(problems(['systemd-run', '-p', 'BindPaths={x}:/usr/local/bin/flush', '/usr/local/bin/flush']), [systemd(2, '-p', 'BindPaths')]);
  assert.deepEqual(problems(['systemd-run', '-p', '{x}=1', '/usr/local/bin/flush']), [
    `${at(2)}: the name of a systemd-run -p property must be written out, not hold a {placeholder}: an alert must not choose what runs or how; write it in the runbook`,
  ]);
  // Still loaded: other options' values, written-out commands.
  for (const argv of [
    ['ssh', '-o', 'User={user}', '{host}', '/usr/local/bin/clean'],
    ['ssh', '-oConnectTimeout={t}', '{host}', '/usr/local/bin/clean'],
    ['ssh', '-o', 'ProxyCommand=/usr/bin/nc -X connect %h %p', '{host}', '/usr/local/bin/clean'],
    ['systemd-run', '-p', 'MemoryMax={mem}', '--unit=flush-{queue}', '/usr/local/bin/flush', '{queue}'],
    ['systemd-run', '-p', 'ExecStartPre=/usr/local/bin/prepare', '/usr/local/bin/flush', '{queue}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

test('the common forms keep loading', () => {
  for (const argv of [
    ['kubectl', 'rollout', 'restart', 'deployment/{x}', '-n', '{ns}'],
    ['kubectl', '-n', '{ns}', 'delete', 'pod', '{pod}'],
    ['kubectl', 'exec', '-n', '{ns}', '{pod}', '-c', '{c}', '--', '/usr/local/bin/flush'],
    ['kubectl', 'exec', '{pod}', '-n', '{ns}', '--', 'redis-cli', 'FLUSHALL'],
    ['kubectl', '--context', 'prod', '-n', '{ns}', 'scale', 'deploy', '{svc}', '--replicas', '3'],
    ['kubectl', 'get', 'pods', '-l', 'app={svc}'],
    ['kubectl', 'exec', '-it', '{pod}', '--', 'nginx', '-s', 'reload'],
    ['kubectl', '-n{ns}', 'get', 'pods'],
    ['kubectl', 'exec', '{pod}', '-n{ns}', '--', '/bin/true'],
    ['kubectl', 'exec', '{pod}', '-c{c}', '--', '/bin/true'],
    ['kubectl', '--namespace={ns}', 'exec', '{pod}', '--', '/bin/true'],
    ['kubectl', 'drain', '{x}', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout', '300s'],
    ['kubectl', 'delete', 'pod', '{pod}', '-n', '{ns}', '--grace-period', '0', '--force'],
    ['kubectl', 'logs', '{pod}', '-c', '{c}', '-n', '{ns}', '--since', '10m'],
    ['kubectl', 'get', 'deploy', '{svc}', '-n', '{ns}', '-o', 'jsonpath={.spec.replicas}'],
    ['timeout', '60', '/usr/local/bin/drain', '--queue', '{queue}'],
    ['timeout', '-s', 'KILL', '30s', '/usr/local/bin/drain', '{queue}'],
    ['sudo', '-n', 'systemctl', 'restart', '{svc}'],
    ['sudo', 'systemctl', 'restart', '{svc}.service'],
    ['sudo', '-u', 'postgres', '/usr/bin/psql', '-d', '{x}', '-c', 'VACUUM'],
    ['ssh', '{host}', 'sudo', 'systemctl', 'restart', '{svc}'],
    ['ssh', '-i', '/etc/rectify/key', '-o', 'StrictHostKeyChecking=no', '{host}', '/usr/local/bin/clean'],
    ['ssh', '-o', 'User={user}', '{host}', '/usr/local/bin/clean'],
    ['ssh', 'deploy@{host}', '/usr/local/bin/clean'],
    ['ssh', '-p', '2222', '{host}', '/usr/local/bin/clean', '{svc}'],
    ['docker', 'restart', '{c}'],
    ['docker', '-H', 'unix:///var/run/docker.sock', 'restart', '{c}'],
    ['docker', 'exec', '{c}', '/usr/local/bin/reload'],
    ['docker', 'exec', '-u', 'root', '{c}', 'nginx', '-s', 'reload'],
    ['nice', '-n', '10', '/usr/local/bin/compact', '{x}'],
    ['ionice', '-c', '3', '/usr/local/bin/compact', '{x}'],
    ['flock', '-n', '/var/lock/x', '/usr/local/bin/x', '{queue}'],
    ['flock', '-w', '10', '/var/lock/x', '/usr/local/bin/x'],
    ['env', 'QUEUE={queue}', '/usr/local/bin/flush'],
    ['ip', 'link', 'set', '{x}', 'up'],
    ['ip', 'netns', 'exec', '{ns}', 'ip', 'link', 'set', '{x}', 'up'],
    ['find', '/var/cache/app/{svc}', '-type', 'f', '-mtime', '+7', '-delete'],
    ['find', '/var/log/app', '-name', '*.gz', '-exec', 'rm', '{}', ';'],
    ['find', '/var/log/app/{svc}', '-name', '*.log', '-mtime', '+1', '-exec', 'gzip', '{}', '+'],
    ['systemctl', 'restart', '{svc}'],
    ['kubectl', 'exec', '{pod}', '-n', '{ns}', '-c', '{c}', '--', 'kill', '-HUP', '1'],
    ['crictl', 'stop', '{c}'],
    ['systemd-run', '--unit=flush-{queue}', '/usr/local/bin/flush', '{queue}'],
    ['systemd-run', '-u', 'flush-{queue}', '/usr/local/bin/flush'],
    ['timeout', '--preserve-status', '30', '/usr/local/bin/x'],
    ['sudo', '-u', 'app', '--', '/usr/local/bin/flush', '{queue}'],
    ['runuser', '-u', 'app', '--', '/usr/local/bin/flush', '{queue}'],
    ['env', '-u', 'HTTP_PROXY', '/usr/local/bin/flush', '{queue}'],
    ['nsenter', '-t', '1', '-m', '--', '/usr/bin/umount', '{x}'],
    ['kubectl', 'exec', '{pod}', '--', 'varnishadm', '-S', '/etc/secret', 'ban', 'req.url'],
    ['kubectl', 'annotate', 'deploy', '{svc}', '-n', '{ns}', 'rectify/restarted-by=rectify', '--overwrite'],
    ['oc', '-n', '{ns}', 'rollout', 'latest', 'dc/{svc}'],
    ['podman', 'restart', '{c}'],
    ['xargs', '-r', '-n', '1', '/usr/local/bin/x'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

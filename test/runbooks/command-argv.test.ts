import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText, renderPlan } from '../../src/runbooks/index.js';

/**
 * Which `command:` argument lists may hold a placeholder where kubectl, oc, docker,
 * podman, nerdctl, crictl, ctr, lxc, ssh, systemd-run and the other programs that run
 * another read options and subcommands, and where rsync, tar and git read a command
 * line: each list is loaded as a runbook, and the problems are compared whole.
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
  const KUBE =
    'exec, run, debug, get, describe, delete, rollout, scale, autoscale, drain, cordon, uncordon, logs, annotate, label, taint, top, wait, events, explain, version, api-resources, api-versions, cluster-info, patch, apply, replace, create, cp, expose, set';
  const CONTAINER_PLAIN = 'restart, start, stop, kill, logs, inspect, ps, ls, list, rm, pause, unpause, top, stats, port, wait, update, cp';
  const CONTAINER = `exec, run, ${CONTAINER_PLAIN}, container, compose, network, volume, image`;
  const PLACEHOLDER = 'a {placeholder} cannot stand here';
  assert.deepEqual(problems(['kubectl', 'port-forward', '{pod}', '8080:8080']), [unknown(2, PLACEHOLDER, 'kubectl port-forward', KUBE)]);
  // kubectl config can change the server kubectl talks to.
  assert.deepEqual(problems(['kubectl', 'config', 'use-context', '{ctx}']), [unknown(3, PLACEHOLDER, 'kubectl config', KUBE)]);
  assert.deepEqual(problems(['kubectl', 'edit', 'deployment/{d}']), [unknown(2, PLACEHOLDER, 'kubectl edit', KUBE)]);
  assert.deepEqual(problems(['kubectl', 'neat', 'sh']), [unknown(2, '"sh" is a shell', 'kubectl neat', KUBE)]);
  assert.deepEqual(problems(['kubectl', 'attach', '-n', '{ns}', 'web']), [unknown(3, PLACEHOLDER, 'kubectl attach', KUBE)]);
  assert.deepEqual(problems(['docker', 'attach', '{c}']), [unknown(2, PLACEHOLDER, 'docker attach', CONTAINER)]);
  assert.deepEqual(problems(['podman', 'container', 'attach', '{c}']), [unknown(3, PLACEHOLDER, 'podman container attach', `exec, run, ${CONTAINER_PLAIN}`)]);
  // A network or volume driver, an image to fetch: not read.
  assert.deepEqual(problems(['docker', 'network', 'create', '-d', '{driver}', 'n']), [unknown(4, PLACEHOLDER, 'docker network create', 'ls, list, inspect, connect, disconnect, rm, remove, prune')]);
  assert.deepEqual(problems(['docker', 'image', 'pull', '{image}']), [unknown(3, PLACEHOLDER, 'docker image pull', 'ls, list, inspect, rm, remove, prune, history')]);
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

// Regression: after the rule that no argument of a subcommand rectify does not know may be
// a placeholder, these runbooks, with a placeholder only where a resource is named, no
// longer loaded.
test("kubectl's patch, set, create, apply, replace, cp, expose and docker's network, volume, image and container ls take a placeholder where a resource is named", () => {
  for (const argv of [
    ['kubectl', '-n', '{ns}', 'patch', 'deployment/{deployment}', '-p', '{"spec":{"paused":false}}'],
    ['kubectl', 'set', 'env', 'deployment/{deployment}', 'FLAG=off'],
    ['kubectl', 'set', 'image', 'deployment/{deployment}', 'app=registry/app:stable'],
    ['kubectl', 'create', 'job', '{x}-manual', '--from=cronjob/backup'],
    ['kubectl', 'apply', '-f', '/srv/manifests/{deployment}.yaml'],
    ['kubectl', '-n', '{ns}', 'replace', '--force', '-f', '/srv/manifests/{deployment}.yaml'],
    ['kubectl', '-n', '{ns}', 'cp', '{pod}:/tmp/dump', '/tmp/dump'],
    ['docker', 'network', 'disconnect', 'bridge', '{svc}'],
    ['docker', 'container', 'ls', '--filter', 'name={svc}'],
    // Their siblings.
    ['kubectl', 'patch', 'deployment', '{deployment}', '--type', 'merge', '-n', '{ns}', '--patch', '{"spec":{"paused":true}}'],
    ['kubectl', 'set', 'env', '-n', '{ns}', 'deployment/{deployment}', 'FLAG=off'],
    ['kubectl', 'apply', '--filename=/srv/manifests/{deployment}.yaml', '--namespace={ns}'],
    ['kubectl', 'cp', '-c', '{container}', '/srv/dumps/{x}', '{pod}:/tmp/dump'],
    ['kubectl', 'expose', 'deployment', '{deployment}', '--port=80'],
    ['oc', 'set', 'image', 'dc/{deployment}', 'app=registry/app:stable'],
    ['docker', 'cp', '{svc}:/tmp/dump', '/tmp/dump'],
    ['podman', 'volume', 'rm', '{svc}-data'],
    ['nerdctl', 'image', 'rm', 'registry/{svc}:old'],
    ['docker', 'container', 'stop', '{svc}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

test("a placeholder may not choose kubectl patch's patch, set's image or environment, create's image or command, nor another option's value there", () => {
  const where = (w: string, values: string) => `an alert must not choose what runs or what code goes in; write it in the runbook (a {placeholder} may stand only in ${w}, or in ${values})`;
  const PATCH = where('the resource and its name', '-n, --namespace');
  const SET = where('a resource written TYPE/NAME ("deployment/{deployment}")', '-n, --namespace');
  const CREATE = where('the name of what is created and the -f/--filename path', '-n, --namespace, -f, --filename');
  const value = (i: number, option: string, chain: string, tail: string) =>
    `${at(i)}: the value of ${option} after ${JSON.stringify(chain)} must be written out, not hold a {placeholder}: it can decide what the object becomes; ${tail}`;
  const operand = (i: number, chain: string) =>
    `${at(i)}: a {placeholder} cannot stand in a NAME=VALUE or a name alone after ${JSON.stringify(chain)}: a value there could set an image or an environment variable (LD_PRELOAD=…); ${SET}`;
  assert.deepEqual(problems(['kubectl', 'patch', 'deployment/web', '-p', '{"spec":{"replicas":{n}}}']), [value(4, '-p', 'kubectl patch', PATCH)]);
  assert.deepEqual(problems(['kubectl', 'patch', 'deployment/web', '--patch', '{patch}']), [value(4, '--patch', 'kubectl patch', PATCH)]);
  assert.deepEqual(problems(['kubectl', 'patch', 'deployment/web', '--patch={patch}']), [value(3, '--patch', 'kubectl patch', PATCH)]);
  assert.deepEqual(problems(['kubectl', 'patch', 'deployment/web', '--patch-file', '/srv/patches/{x}.json']), [value(4, '--patch-file', 'kubectl patch', PATCH)]);
  assert.deepEqual(problems(['kubectl', 'patch', '-f', '/srv/{x}.yaml', '-p', '{"spec":{}}']), [value(3, '-f', 'kubectl patch', PATCH)]);
  assert.deepEqual(problems(['kubectl', 'patch', '--filename=/srv/{x}.yaml', '-p', '{"spec":{}}']), [value(2, '--filename', 'kubectl patch', PATCH)]);
  assert.deepEqual(problems(['kubectl', 'set', 'image', 'deployment/web', 'app={image}']), [operand(4, 'kubectl set')]);
  assert.deepEqual(problems(['kubectl', 'set', 'image', 'deployment', '{deployment}', 'app=registry/app:stable']), [operand(4, 'kubectl set')]);
  assert.deepEqual(problems(['kubectl', 'set', 'env', 'deployment/web', 'LD_PRELOAD={x}']), [operand(4, 'kubectl set')]);
  assert.deepEqual(problems(['kubectl', 'set', 'env', 'deployment/web', '{x}']), [operand(4, 'kubectl set')]);
  assert.deepEqual(problems(['kubectl', 'set', 'env', 'deployment/web', '-e', 'FLAG={x}']), [value(5, '-e', 'kubectl set', SET)]);
  assert.deepEqual(problems(['kubectl', 'set', 'env', 'deployment/web', '--from=secret/{x}']), [value(4, '--from', 'kubectl set', SET)]);
  assert.deepEqual(problems(['oc', 'set', 'env', 'dc/web', 'FLAG={x}']), [operand(4, 'oc set')]);
  assert.deepEqual(problems(['kubectl', 'create', 'deployment', '{x}', '--image={image}']), [value(4, '--image', 'kubectl create', CREATE)]);
  assert.deepEqual(problems(['kubectl', 'create', 'job', 'j', '--image', '{image}']), [value(5, '--image', 'kubectl create', CREATE)]);
  assert.deepEqual(problems(['kubectl', 'create', 'job', '{x}', '--from=cronjob/{cron}']), [value(4, '--from', 'kubectl create', CREATE)]);
  assert.deepEqual(problems(['kubectl', 'create', 'job', '{x}', '--image=busybox', '--', '/bin/flush', '{queue}']), [
    `${at(7)}: the command after "--" in "kubectl create" runs in the cluster, so it must be written out, not hold a {placeholder}: ${CREATE}`,
  ]);
  assert.deepEqual(problems(['kubectl', 'expose', 'deployment/{d}', '--type', '{type}']), [value(4, '--type', 'kubectl expose', PATCH)]);
  assert.deepEqual(problems(['kubectl', 'apply', '-k', '/srv/{x}']), [value(3, '-k', 'kubectl apply', where('the -f/--filename path', '-n, --namespace, -f, --filename'))]);
  const file = (i: number, option: string, chain: string) =>
    `${at(i)}: the value of ${option} after ${JSON.stringify(chain)} must name its directory before any {placeholder} ("/srv/manifests/{deployment}.yaml"): the file decides what runs, and a value there alone could name any file on the host; write the directory in the runbook`;
  assert.deepEqual(problems(['kubectl', 'apply', '-f', '{manifest}']), [file(3, '-f', 'kubectl apply')]);
  assert.deepEqual(problems(['kubectl', 'replace', '--force', '--filename={x}.yaml']), [file(3, '--filename', 'kubectl replace')]);
  assert.deepEqual(problems(['kubectl', 'create', '-f={x}']), [file(2, '-f', 'kubectl create')]);
  assert.deepEqual(problems(['kubectl', 'create', 'token', '{serviceaccount}']), [
    `${at(3)}: "kubectl create token" hands out a credential, so no argument after it may be a {placeholder}: an alert must not choose whose credential is made; write it in the runbook`,
  ]);
  assert.deepEqual(problems(['kubectl', 'create', '-n', 'prod', 'token', 'backup', '--audience', '{x}']), [
    `${at(7)}: "kubectl create token" hands out a credential, so no argument after it may be a {placeholder}: an alert must not choose whose credential is made; write it in the runbook`,
  ]);
  assert.deepEqual(problems(['kubectl', 'cp', '--retries', '{n}', '/a', 'p:/a']), [value(3, '--retries', 'kubectl cp', where('the pod, the paths and -c/--container', '-n, --namespace, -c, --container'))]);
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

// Regression: gosu, su-exec, chpst, pkexec, tini, dumb-init, unbuffer and systemd-nspawn
// were not read as programs that run another, so `[gosu, app, "{x}"]` ran what the alert named.
test('gosu, su-exec, chpst, pkexec, tini, dumb-init, unbuffer and systemd-nspawn: the program they run is written out and not a shell', () => {
  const shellWithout = (by: string) => `${at(0)}: ${JSON.stringify(by)} runs a shell when no program follows it; ${TAIL}`;
  const before = (i: number, by: string) =>
    `${at(i)}: a {placeholder} alone cannot stand before the program ${JSON.stringify(by)} runs: a value there could choose what runs or its environment (${JSON.stringify(by)} would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`;
  assert.deepEqual(problems(['gosu', 'app', '{x}']), [programValue(2, 'gosu')]);
  assert.deepEqual(problems(['gosu', '{user}', '/usr/local/bin/flush-queue']), [before(1, 'gosu')]);
  assert.deepEqual(problems(['timeout', '60', 'gosu', 'app', 'bash', '-c', 'x']), [`${at(4)}: "bash" is a shell, which "timeout" would run; ${TAIL}`]);
  // gosu and su-exec read no options: "-u" is the user, and the program follows it.
  assert.deepEqual(problems(['su-exec', '-u', 'sh']), [shellRun(2, 'sh', 'su-exec')]);
  assert.deepEqual(problems(['su-exec', 'app:app', '{x}']), [programValue(2, 'su-exec')]);
  assert.deepEqual(problems(['chpst', '-u', 'app', '{x}']), [programValue(3, 'chpst')]);
  assert.deepEqual(problems(['chpst', '-vu', 'app:app', '-/', '/srv/root', 'sh']), [shellRun(5, 'sh', 'chpst')]);
  assert.deepEqual(problems(['chpst', '-e', '{envdir}', '/usr/local/bin/flush-queue']), [before(2, 'chpst')]);
  assert.deepEqual(problems(['pkexec', '{x}']), [programValue(1, 'pkexec')]);
  assert.deepEqual(problems(['pkexec', '--user', 'app']), [shellWithout('pkexec')]);
  assert.deepEqual(problems(['pkexec', '-u', 'app', '/bin/bash']), [shellRun(3, '/bin/bash', 'pkexec')]);
  assert.deepEqual(problems(['tini', '--', '{x}']), [programValue(2, 'tini')]);
  assert.deepEqual(problems(['tini', '-s', '-e', '143', 'sh', '-c', 'x']), [shellRun(4, 'sh', 'tini')]);
  assert.deepEqual(problems(['dumb-init', '{x}']), [programValue(1, 'dumb-init')]);
  assert.deepEqual(problems(['dumb-init', '--rewrite', '15:2', 'bash']), [shellRun(3, 'bash', 'dumb-init')]);
  assert.deepEqual(problems(['unbuffer', '{x}']), [programValue(1, 'unbuffer')]);
  assert.deepEqual(problems(['unbuffer', '-p', 'sh', '-c', 'x']), [shellRun(2, 'sh', 'unbuffer')]);
  assert.deepEqual(problems(['systemd-nspawn', '-D', '/var/lib/machines/app', '{x}']), [programValue(3, 'systemd-nspawn')]);
  assert.deepEqual(problems(['systemd-nspawn', '-qD', '/var/lib/machines/app', '--bind-ro', '/etc/app', '--', 'sh']), [shellRun(6, 'sh', 'systemd-nspawn')]);
  assert.deepEqual(problems(['systemd-nspawn', '-M', 'app']), [shellWithout('systemd-nspawn')]);
  // Still loaded: the program written out, values after it.
  for (const argv of [
    ['gosu', 'app', '/usr/local/bin/flush-queue', '{svc}'],
    ['su-exec', 'app:app', '/usr/local/bin/flush-queue', '--queue', '{queue}'],
    ['chpst', '-u', 'app:app', '-e', '/etc/app/env', '/usr/local/bin/flush-queue', '{svc}'],
    ['pkexec', '--user', 'app', '/usr/local/bin/flush-queue', '{svc}'],
    ['tini', '-s', '--', '/usr/local/bin/flush-queue', '{svc}'],
    ['dumb-init', '--single-child', '/usr/local/bin/flush-queue', '{svc}'],
    ['unbuffer', '-p', '/usr/local/bin/flush-queue', '{svc}'],
    ['systemd-nspawn', '-D', '/var/lib/machines/app', '--', '/usr/local/bin/flush-queue', '{svc}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: expect (a Tcl interpreter) and GNU parallel (which hands its command to a
// shell) loaded, so `[expect, -c, "spawn {x}"]` ran the alert's Tcl.
test('expect is a shell, and parallel runs its commands through one: both are refused, as argv[0] and behind a wrapper', () => {
  assert.deepEqual(problems(['expect', '-c', 'spawn /usr/local/bin/tool {x}']), [`${at(0)}: "expect" is a shell; ${TAIL}`]);
  assert.deepEqual(problems(['timeout', '30', '/usr/bin/expect', '/usr/local/lib/login.exp', '{host}']), [shellRun(2, '/usr/bin/expect', 'timeout')]);
  assert.deepEqual(problems(['parallel', '/usr/local/bin/flush-queue', ':::', '{queue}']), [`${at(0)}: "parallel" runs its commands through a shell; ${TAIL}`]);
  assert.deepEqual(problems(['nice', '-n', '10', 'parallel', '-j2', '/usr/local/bin/flush-queue']), [`${at(3)}: "parallel" runs its commands through a shell; ${TAIL}`]);
  // Still loaded: their names as plain arguments.
  assert.deepEqual(problems(['/usr/local/bin/report', '--tools', 'expect', 'parallel', '{svc}']), []);
});

// Regression: the docker-compose and podman-compose programs, containerd's ctr (run, task
// exec) and lxc exec (LXD's and Incus's) were not read, so `[ctr, task, exec, --exec-id,
// x, app, "{x}"]` ran what the alert named.
test('docker-compose and podman-compose (as docker compose), ctr run and ctr task exec, lxc and incus exec: the program they run is written out and not a shell', () => {
  const option = (i: number, by: string, name: string) =>
    `${at(i)}: ${JSON.stringify(by)}'s option ${name} before its subcommand must be written out, not take a {placeholder}: an alert must not choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`;
  assert.deepEqual(problems(['docker-compose', 'exec', 'web', '{x}']), [programValue(3, 'docker-compose')]);
  assert.deepEqual(problems(['docker-compose', '-f', '/srv/app/compose.yaml', 'run', '--rm', 'web', 'sh', '-c', 'x']), [shellRun(6, 'sh', 'docker-compose')]);
  assert.deepEqual(problems(['docker-compose', '-H', '{host}', 'restart', 'web']), [option(2, 'docker-compose', '-H')]);
  assert.deepEqual(problems(['podman-compose', 'run', '--rm', 'web', '{x}']), [programValue(4, 'podman-compose')]);
  assert.deepEqual(problems(['podman-compose', '--podman-path', '{x}', 'restart', 'web']), [option(2, 'podman-compose', '--podman-path')]);
  assert.deepEqual(problems(['ctr', 'task', 'exec', '--exec-id', 'flush', 'app', '{x}']), [programValue(6, 'ctr')]);
  assert.deepEqual(problems(['ctr', '-n', 'k8s.io', 't', 'exec', '-t', '--exec-id', 'flush', '{c}', 'sh']), [shellRun(9, 'sh', 'ctr')]);
  assert.deepEqual(problems(['ctr', 'run', '--rm', 'docker.io/library/alpine:3', 'job', '{x}']), [programValue(5, 'ctr')]);
  assert.deepEqual(problems(['ctr', 'run', '--rm', '--net-host', 'docker.io/library/alpine:3', 'job', 'sh', '-c', 'x']), [shellRun(6, 'sh', 'ctr')]);
  assert.deepEqual(problems(['ctr', 'run', '--rm', '--runc-binary', '/opt/runc/{x}', 'docker.io/library/alpine:3', 'job', '/bin/true']), [
    `${at(4)}: ctr run's --runc-binary chooses what runs (its spec file's process, or the runtime's program), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`,
  ]);
  assert.deepEqual(problems(['ctr', '-n', '{ns}', 'task', 'ls']), [option(2, 'ctr', '-n')]);
  assert.deepEqual(problems(['lxc', 'exec', 'web', '--', '{x}']), [programValue(4, 'lxc')]);
  assert.deepEqual(problems(['lxc', 'exec', '{c}', '--env', 'A=1', '--', 'bash']), [shellRun(6, 'bash', 'lxc')]);
  // cobra reads lxc's options among the program's arguments up to "--": the program follows "--".
  assert.deepEqual(problems(['lxc', 'exec', 'web', '/usr/local/bin/flush-queue', '--env', '{x}']), [
    `${at(3)}: "lxc" reads its own options among the arguments of the program it runs, up to "--": write "--" before the program`,
  ]);
  assert.deepEqual(problems(['incus', 'exec', 'web', '--', '{x}']), [programValue(4, 'incus')]);
  assert.deepEqual(problems(['lxc', 'restart', '{c}', '--project', '{p}']), [
    `${at(4)}: "lxc"'s option --project must be written out wherever it stands, not take a {placeholder}: an alert must not choose the server, context, credentials or identity "lxc" acts with; write it in the runbook`,
  ]);
  // Still loaded: the service, container or instance of an exec, the program's own arguments.
  for (const argv of [
    ['docker-compose', '-f', '/srv/app/compose.yaml', 'exec', '-T', '{svc}', '/usr/local/bin/flush-queue', '{queue}'],
    ['docker-compose', 'restart', '{svc}'],
    ['podman-compose', 'exec', '{svc}', '/usr/local/bin/flush-queue', '{queue}'],
    ['ctr', '-n', 'k8s.io', 'task', 'exec', '--exec-id', 'flush-{queue}', '{c}', '/usr/local/bin/flush-queue', '{queue}'],
    ['ctr', 'run', '--rm', 'registry.example/app/flush:1', 'flush-{queue}', '/usr/local/bin/flush-queue', '{queue}'],
    ['ctr', '-n', 'k8s.io', 'tasks', 'kill', '{c}'],
    ['lxc', 'exec', '{c}', '--', '/usr/local/bin/flush-queue', '{queue}'],
    ['lxc', 'restart', '{c}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: rsync's -e/--rsh and --rsync-path and tar's -I, --to-command and
// --checkpoint-action=exec= took a placeholder, so the alert chose the command they ran.
test("rsync's and tar's options whose value is a command line may not hold a placeholder", () => {
  const line = (i: number, by: string, option: string, what: string) =>
    `${at(i)}: ${JSON.stringify(by)}'s ${option} is ${what}, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  const RSYNC = 'a command line rsync runs (to reach the remote host, or there to start rsync)';
  const TAR = 'a command line tar runs';
  const spelt = (i: number, by: string) => `${at(i)}: ${JSON.stringify(by)}'s options must be written out: a value there could be read as an option that runs a command; write it in the runbook`;
  assert.deepEqual(problems(['rsync', '-a', '-e', 'ssh -p {port}', '/srv/data/', 'backup:/dst/']), [line(3, 'rsync', '-e', RSYNC)]);
  assert.deepEqual(problems(['rsync', '-ae', '{x}', '/srv/data/', 'backup:/dst/']), [line(2, 'rsync', '-e', RSYNC)]);
  assert.deepEqual(problems(['rsync', '-a', '--rsh=ssh -i /etc/keys/{x}', '/srv/data/', 'backup:/dst/']), [line(2, 'rsync', '--rsh', RSYNC)]);
  // rsync reads options after its operands too.
  assert.deepEqual(problems(['rsync', '-a', '/srv/data/', 'backup:/dst/', '--rsync-path', 'sudo {x}']), [line(5, 'rsync', '--rsync-path', RSYNC)]);
  assert.deepEqual(problems(['rsync', '-a', '-{x}', '/srv/data/', 'backup:/dst/']), [spelt(2, 'rsync')]);
  assert.deepEqual(problems(['tar', '-I', 'zstd {x}', '-cf', '/var/backups/a.tar', '/srv/data']), [line(2, 'tar', '-I', TAR)]);
  // tar (argp) reads an abbreviated long option as the whole one.
  assert.deepEqual(problems(['tar', '-cf', '/var/backups/a.tar', '--use-comp={x}', '/srv/data']), [line(3, 'tar', '--use-compress-program', TAR)]);
  assert.deepEqual(problems(['tar', '-xf', '/var/backups/a.tar', '--to-command', '/usr/local/bin/{x}']), [line(4, 'tar', '--to-command', TAR)]);
  assert.deepEqual(problems(['tar', '-cf', '/var/backups/a.tar', '--checkpoint=1000', '--checkpoint-action=exec={x}', '/srv/data']), [line(4, 'tar', '--checkpoint-action', TAR)]);
  // Old-style letters: -I's value is the argument after them, in order.
  assert.deepEqual(problems(['tar', 'xIf', '{x}', '/var/backups/a.tar']), [line(2, 'tar', '-I', TAR)]);
  assert.deepEqual(problems(['tar', '{mode}', '/var/backups/a.tar']), [
    `${at(1)}: "tar" reads a first argument without "-" as option letters, so it must be written out, not hold a {placeholder}; write it in the runbook`,
  ]);
  // Still loaded: a remote path whose host is written out, written-out command lines, other values.
  for (const argv of [
    ['rsync', '-a', '/srv/data/', 'backup:/dst/{svc}/'],
    ['rsync', '-az', '-e', 'ssh -i /etc/rectify/key', '--exclude', '{pattern}', '/srv/data/', 'backup:/dst/{svc}/'],
    ['tar', '-czf', '/var/backups/{svc}.tar.gz', '-C', '/srv/{svc}', '.'],
    ['tar', '-I', 'zstd -T0', '-cf', '/var/backups/{svc}.tar.zst', '/srv/{svc}'],
    ['tar', 'czf', '/var/backups/{svc}.tar.gz', '/srv/{svc}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: git's -c took a placeholder, so `-c core.sshCommand=…`, `-c alias.x=!…` or
// `-c core.pager=…` let the alert choose a command git runs; so did --exec-path.
test("git's -c, --config-env and --exec-path may not hold a placeholder, nor the subcommand be one", () => {
  const config = (i: number, option: string) =>
    `${at(i)}: "git"'s ${option} sets a configuration variable, and some run a command (core.sshCommand, core.pager, core.editor, alias.*…), so its name and value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['git', '-c', 'core.sshCommand=ssh -i /etc/keys/{k}', '-C', '/srv/app', 'fetch']), [config(2, '-c')]);
  assert.deepEqual(problems(['git', '-c', 'alias.sync=!{x}', 'sync']), [config(2, '-c')]);
  assert.deepEqual(problems(['git', '-C', '/srv/app', '-c', '{name}=less', 'log']), [config(4, '-c')]);
  assert.deepEqual(problems(['git', '-c', 'core.pager={x}', 'log']), [config(2, '-c')]);
  assert.deepEqual(problems(['git', '--config-env', 'core.editor={x}', 'commit']), [config(2, '--config-env')]);
  assert.deepEqual(problems(['git', '--exec-path=/opt/git/{x}', 'status']), [
    `${at(1)}: "git"'s --exec-path is where git finds the programs it runs, so it must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`,
  ]);
  assert.deepEqual(problems(['git', '-c', 'color.ui=never', '--{x}', 'status']), [
    `${at(3)}: "git"'s options before its subcommand must be written out: a value there could be read as an option (-c, --exec-path) that chooses what runs; write it in the runbook`,
  ]);
  assert.deepEqual(problems(['git', '{cmd}']), [`${at(1)}: the "git" subcommand must be written out, not hold a {placeholder}: git runs git-NAME or an alias by that name, so an alert must not choose what runs`]);
  assert.deepEqual(problems(['sudo', '-u', 'app', 'git', '-c', 'core.editor={x}', 'commit']), [config(5, '-c')]);
  // Still loaded: written-out configuration, a directory holding a value, the subcommand's own -c.
  for (const argv of [
    ['git', '-C', '/srv/app/{svc}', 'pull', '--ff-only'],
    ['git', '-c', 'core.sshCommand=ssh -i /etc/rectify/key', '-C', '/srv/app/{svc}', 'fetch', 'origin', '{branch}'],
    ['git', '-C', '/srv/app', 'grep', '-c', '{pattern}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: git's subcommands were not read, so `[git, clone, "--upload-pack={x}", …]`,
// `[git, rebase, -x, "{x}"]` or `[git, submodule, foreach, "{x}"]` ran what the alert named,
// and `[git, -C, "{dir}", …]` ran the commands of any repository's configuration.
test("git's --upload-pack, --receive-pack, --exec, rebase -x, submodule foreach and bisect run, and -C, --git-dir and --work-tree, may not take a placeholder where it chooses what runs", () => {
  const line = (i: number, chain: string, option: string, what: string) =>
    `${at(i)}: ${JSON.stringify(chain)}'s ${option} is ${what}, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  const FETCH = 'the program git runs (on the remote host, through its shell) to serve the fetch';
  const CLONE = 'a program git runs (-u, --upload-pack: on the remote host, through its shell), or configuration or hooks that run commands as the clone is made (-c, --config, --template)';
  const PUSH = 'the program git runs (on the remote host, through its shell) to take the push';
  const REBASE = 'a command line git runs through a shell after each commit it replays';
  const repository = (i: number, option: string) =>
    `${at(i)}: "git"'s ${option} chooses the repository or work tree, whose configuration, hooks and attributes can run commands (core.fsmonitor, core.pager, hooks, filters…), so its value must name a directory the runbook writes before any {placeholder} ("/srv/app/{svc}"): a value there alone could name any repository on the host; write the directory in the runbook`;
  assert.deepEqual(problems(['git', 'clone', '--upload-pack={x}', 'git@git.internal:app', '/srv/app']), [line(2, 'git clone', '--upload-pack', CLONE)]);
  assert.deepEqual(problems(['git', 'clone', '-u', 'git-upload-pack {x}', 'git@git.internal:app']), [line(3, 'git clone', '-u', CLONE)]);
  // git reads an abbreviated long option as the whole one.
  assert.deepEqual(problems(['git', 'clone', '--upload={x}', 'git@git.internal:app']), [line(2, 'git clone', '--upload-pack', CLONE)]);
  assert.deepEqual(problems(['git', 'clone', '-c', 'core.sshCommand={x}', 'git@git.internal:app']), [line(3, 'git clone', '-c', CLONE)]);
  assert.deepEqual(problems(['git', '-C', '/srv/app', 'fetch', '--upload-pack', '{x}', 'origin']), [line(5, 'git fetch', '--upload-pack', FETCH)]);
  assert.deepEqual(problems(['git', 'pull', '--ff-only', '--upload-pack={x}']), [line(3, 'git pull', '--upload-pack', FETCH)]);
  assert.deepEqual(problems(['git', 'ls-remote', '--exec={x}', 'origin']), [line(2, 'git ls-remote', '--exec', FETCH)]);
  assert.deepEqual(problems(['git', 'push', '--receive-pack={x}', 'origin', 'main']), [line(2, 'git push', '--receive-pack', PUSH)]);
  assert.deepEqual(problems(['git', 'push', '--exec', '{x}', 'origin', 'main']), [line(3, 'git push', '--exec', PUSH)]);
  assert.deepEqual(problems(['git', 'fetch', '-{x}', 'origin']), [
    `${at(2)}: "git fetch"'s options must be written out: a value there could be read as an option that runs a command; write it in the runbook`,
  ]);
  assert.deepEqual(problems(['git', 'rebase', '-x', 'make test {x}', 'origin/main']), [line(3, 'git rebase', '-x', REBASE)]);
  assert.deepEqual(problems(['git', 'rebase', '-ix', '{x}', 'origin/main']), [line(3, 'git rebase', '-x', REBASE)]);
  assert.deepEqual(problems(['git', 'rebase', '--exec={x}', 'origin/main']), [line(2, 'git rebase', '--exec', REBASE)]);
  const foreach = (i: number) =>
    `${at(i)}: "git submodule foreach" hands its command to a shell, so the command must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['git', 'submodule', 'foreach', 'git pull origin {branch}']), [foreach(3)]);
  assert.deepEqual(problems(['git', '-C', '/srv/app', 'submodule', '--quiet', 'foreach', '--recursive', 'git', 'checkout', '{branch}']), [foreach(9)]);
  assert.deepEqual(problems(['git', 'submodule', '{x}', 'git pull']), [
    `${at(2)}: the "git submodule" subcommand must be written out, not a {placeholder}: an alert must not choose what runs ("git submodule foreach" runs a command)`,
  ]);
  assert.deepEqual(problems(['git', 'bisect', 'run', '{x}']), [programValue(3, 'git bisect run')]);
  assert.deepEqual(problems(['git', 'bisect', 'run', 'sh', '-c', 'make test']), [shellRun(3, 'sh', 'git')]);
  assert.deepEqual(problems(['git', 'bisect', 'run', 'timeout', '60', '{x}']), [programValue(5, 'timeout')]);
  assert.deepEqual(problems(['git', 'bisect', '{x}', '/usr/local/bin/check']), [
    `${at(2)}: the "git bisect" subcommand must be written out, not a {placeholder}: an alert must not choose what runs ("git bisect run" runs a command)`,
  ]);
  assert.deepEqual(problems(['git', '-C', '{dir}', 'status']), [repository(2, '-C')]);
  assert.deepEqual(problems(['git', '-C', '/{dir}', 'status']), [repository(2, '-C')]);
  assert.deepEqual(problems(['git', '--git-dir={dir}', 'status']), [repository(1, '--git-dir')]);
  assert.deepEqual(problems(['git', '--work-tree', '{dir}', '--git-dir', '/srv/app/.git', 'checkout', '.']), [repository(2, '--work-tree')]);
  // Still loaded: the repository's directory written before the value, values where
  // they choose no command, written-out commands.
  for (const argv of [
    ['git', '-C', '/srv/app/{svc}', 'fetch', 'origin', '{branch}'],
    ['git', '--git-dir=/srv/repos/{svc}.git', '--work-tree', '/srv/app/{svc}', 'status'],
    ['git', 'clone', '--depth', '1', '--branch', '{branch}', 'git@git.internal:app', '/srv/app/{svc}'],
    ['git', 'clone', '-b', '{branch}', '--upload-pack', '/usr/bin/git-upload-pack', 'git@git.internal:app'],
    ['git', 'pull', '--ff-only', 'origin', '{branch}'],
    ['git', 'push', 'origin', 'HEAD:refs/heads/{branch}'],
    ['git', 'ls-remote', '--heads', 'origin', '{branch}'],
    ['git', 'rebase', '-x', 'make test', 'origin/{branch}'],
    ['git', 'submodule', 'update', '--init', '--', '{path}'],
    ['git', 'submodule', 'foreach', 'git pull --ff-only'],
    ['git', 'bisect', 'good', '{rev}'],
    ['git', 'bisect', 'run', '/usr/local/bin/check-build', '{svc}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: lxc-attach and daemontools' setuidgid, envuidgid, envdir, softlimit and
// setlock were not read, so `[lxc-attach, -n, c1, --, "{x}"]` ran what the alert named.
test('lxc-attach and daemontools setuidgid, envuidgid, envdir, softlimit and setlock: the program they run is written out and not a shell', () => {
  const before = (i: number, by: string) =>
    `${at(i)}: a {placeholder} alone cannot stand before the program ${JSON.stringify(by)} runs: a value there could choose what runs or its environment (${JSON.stringify(by)} would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`;
  assert.deepEqual(problems(['lxc-attach', '-n', '{c}', '--', '{x}']), [programValue(4, 'lxc-attach')]);
  assert.deepEqual(problems(['lxc-attach', '-n', 'web', '--clear-env', '--', 'bash', '-c', 'x']), [shellRun(5, 'bash', 'lxc-attach')]);
  assert.deepEqual(problems(['lxc-attach', '--name={c}', '--', 'timeout', '60', '{x}']), [programValue(5, 'timeout')]);
  assert.deepEqual(problems(['lxc-attach', '-n', 'web']), [`${at(0)}: "lxc-attach" runs a shell when no program follows it; ${TAIL}`]);
  assert.deepEqual(problems(['lxc-attach', '-n', 'web', '/usr/local/bin/flush-queue', '-v', '{x}']), [
    `${at(3)}: "lxc-attach" reads its own options among the arguments of the program it runs, up to "--": write "--" before the program`,
  ]);
  assert.deepEqual(problems(['lxc-attach', '-u', '{uid}', '-n', 'web', '--', '/usr/local/bin/flush-queue']), [before(2, 'lxc-attach')]);
  assert.deepEqual(problems(['setuidgid', 'app', '{x}']), [programValue(2, 'setuidgid')]);
  assert.deepEqual(problems(['setuidgid', '{user}', '/usr/local/bin/flush-queue']), [before(1, 'setuidgid')]);
  assert.deepEqual(problems(['envuidgid', 'app', 'sh', '-c', 'x']), [shellRun(2, 'sh', 'envuidgid')]);
  assert.deepEqual(problems(['envdir', '{dir}', '/usr/local/bin/flush-queue']), [before(1, 'envdir')]);
  assert.deepEqual(problems(['envdir', '/etc/flush/env', '{x}']), [programValue(2, 'envdir')]);
  assert.deepEqual(problems(['softlimit', '-m', '100000000', '-o', '64', '{x}']), [programValue(5, 'softlimit')]);
  assert.deepEqual(problems(['setlock', '-nX', '/run/lock/flush', 'sh']), [shellRun(3, 'sh', 'setlock')]);
  assert.deepEqual(problems(['envdir', '/etc/flush/env', 'setuidgid', 'app', 'softlimit', '-m', '100000000', '{x}']), [programValue(7, 'softlimit')]);
  // Still loaded: the container's name, the lock file and the program's arguments.
  for (const argv of [
    ['lxc-attach', '-n', '{c}', '--clear-env', '--', '/usr/local/bin/flush-queue', '{queue}'],
    ['lxc-attach', '-n{c}', '--', '/usr/local/bin/flush-queue', '-v', '{queue}'],
    ['setuidgid', 'app', '/usr/local/bin/flush-queue', '{queue}'],
    ['envdir', '/etc/flush/env', 'setuidgid', 'app', 'softlimit', '-m', '100000000', '/usr/local/bin/flush-queue', '{queue}'],
    ['setlock', '-n', '/run/lock/flush-{queue}', '/usr/local/bin/flush-queue', '{queue}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: podman-compose's --podman-run-args was refused only as an option that chooses
// the server or identity; and docker run's --entrypoint was not followed, so
// `[docker, run, --entrypoint, timeout, IMAGE, "60", "{x}"]` ran what the alert named and
// `--entrypoint parallel` handed the arguments to a shell.
test("podman-compose's --podman-*-args, and what docker run's --entrypoint runs, are read as what they run", () => {
  const podman = (i: number, option: string) =>
    `${at(i)}: podman-compose passes ${option}'s value to podman as arguments of its own, which can choose what runs (--entrypoint, --runtime, --hooks-dir…), so it must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['podman-compose', '--podman-run-args={x}', 'run', '--rm', 'web', '/usr/local/bin/flush-queue']), [podman(1, '--podman-run-args')]);
  assert.deepEqual(problems(['podman-compose', '--podman-args', '--log-level={x}', 'restart', 'web']), [podman(2, '--podman-args')]);
  assert.deepEqual(problems(['podman-compose', '--pod-args={x}', 'up']), [podman(1, '--pod-args')]);
  const parallel = (i: number) => `${at(i)}: "parallel" runs its commands through a shell; ${TAIL}`;
  assert.deepEqual(problems(['docker', 'run', '--rm', '--entrypoint=parallel', 'registry.example/tools:1', '/usr/local/bin/flush-queue', ':::', '{queue}']), [parallel(3)]);
  assert.deepEqual(problems(['docker', 'run', '--entrypoint', 'parallel', 'registry.example/tools:1', 'echo']), [parallel(3)]);
  assert.deepEqual(problems(['docker', 'compose', 'run', '--entrypoint', '/usr/bin/parallel', 'web', 'echo']), [`${at(4)}: "/usr/bin/parallel" runs its commands through a shell; ${TAIL}`]);
  assert.deepEqual(problems(['docker', 'run', '--entrypoint', 'timeout', 'registry.example/tools:1', '60', '{x}']), [programValue(6, 'timeout')]);
  assert.deepEqual(problems(['podman', 'run', '--entrypoint=env', 'registry.example/tools:1', 'sh', '-c', 'x']), [shellRun(4, 'sh', 'podman')]);
  assert.deepEqual(problems(['docker', 'run', '--entrypoint', '{x}', 'registry.example/tools:1']), [
    `${at(3)}: the program "docker" runs (--entrypoint) must be written out, not a {placeholder}: an alert must not choose what runs`,
  ]);
  assert.deepEqual(problems(['docker', 'run', '--entrypoint', 'expect', 'registry.example/tools:1', '-c', 'spawn {x}']), [
    `${at(3)}: "expect" is a shell, which "docker" would run (--entrypoint); ${TAIL}`,
  ]);
  // An empty entrypoint clears the image's: the argument after the image is the program.
  assert.deepEqual(problems(['docker', 'run', '--entrypoint', '', 'registry.example/tools:1', '{x}']), [programValue(5, 'docker')]);
  // Still loaded: podman-compose's written-out arguments, a written-out entrypoint's arguments.
  for (const argv of [
    ['podman-compose', '--podman-run-args=--rm', 'exec', '{svc}', '/usr/local/bin/flush-queue', '{queue}'],
    ['podman-compose', '--podman-args', '--log-level=warn', 'restart', '{svc}'],
    ['docker', 'run', '--rm', '--entrypoint', '/usr/local/bin/flush-queue', 'registry.example/tools:1', '{queue}'],
    ['docker', 'run', '--rm', '--entrypoint=timeout', 'registry.example/tools:1', '60', '/usr/local/bin/flush-queue', '{queue}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

// Regression: kubectl's and oc's run and debug read --image, --overrides, debug's
// --set-image and --custom as any option's value, refused only as a value alone, so
// `[kubectl, run, dbg, "--image=registry.local/{pod}"]` let the alert choose the image, and so
// the code, the cluster ran; and docker's, podman's, nerdctl's and ctr's run read the image
// as an operand, refused only alone, so `[docker, run, --rm, "registry.local/{x}"]` ran the
// alert's image on the host.
test("kubectl and oc run and debug: --image, --overrides, --set-image and --custom; docker, podman, nerdctl and ctr run: the image: an alert must not choose the image", () => {
  const kube = (i: number, chain: string, option: string) =>
    `${at(i)}: "${chain}"'s ${option} chooses the image the container runs, so its value must be written out, not hold a {placeholder}: an alert choosing the image runs its code in the cluster; write it in the runbook`;
  const setImage = (i: number, chain: string) =>
    `${at(i)}: "${chain}"'s --set-image (NAME=IMAGE) chooses the images the copy's containers run, so its value must be written out, not hold a {placeholder}: an alert choosing the image runs its code in the cluster; write it in the runbook`;
  const overrides = (i: number, chain: string) =>
    `${at(i)}: "${chain}"'s --overrides is a patch of the pod it makes, which decides what the pod becomes (its image, command, node, privileges), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs in the cluster; write it in the runbook`;
  const custom = (i: number, chain: string) =>
    `${at(i)}: "${chain}"'s --custom is a file whose container spec decides what the debug container becomes (its image, command, privileges), so its value must name its directory before any {placeholder} ("/srv/debug/{profile}.json"): a value there alone could name any file on the host; write the directory in the runbook`;
  const image = (i: number, by: string) =>
    `${at(i)}: the image ${JSON.stringify(by)} runs (the first argument after its options) must be written out, not hold a {placeholder}: an alert choosing the image runs its code on this host's container runtime; write it in the runbook`;
  // The image, joined or as the next argument, alone or beside written text.
  assert.deepEqual(problems(['kubectl', 'run', 'dbg', '--image=registry.local/{pod}', '--', '/bin/true']), [kube(3, 'kubectl run', '--image')]);
  assert.deepEqual(problems(['kubectl', 'run', 'dbg', '--image', 'registry.local/{pod}']), [kube(4, 'kubectl run', '--image')]);
  assert.deepEqual(problems(['kubectl', 'run', 'dbg', '--image', '{pod}', '--', '/bin/true']), [kube(4, 'kubectl run', '--image')]);
  assert.deepEqual(problems(['kubectl', 'debug', '{pod}', '--image=reg/{pod}', '--', '/bin/true']), [kube(3, 'kubectl debug', '--image')]);
  assert.deepEqual(problems(['kubectl', '-n', '{ns}', 'debug', 'node/{node}', '-it', '--image', 'reg/{x}:1']), [kube(7, 'kubectl debug', '--image')]);
  assert.deepEqual(problems(['oc', 'run', 'dbg', '--image=reg/{pod}', '--', '/bin/true']), [kube(3, 'oc run', '--image')]);
  assert.deepEqual(problems(['oc', 'debug', '{pod}', '--image=reg/{pod}', '--', '/bin/true']), [kube(3, 'oc debug', '--image')]);
  assert.deepEqual(problems(['oc', 'debug', 'node/{node}', '--image-stream=openshift/{x}']), [kube(3, 'oc debug', '--image-stream')]);
  // run's --overrides: a patch of the pod.
  assert.deepEqual(problems(['kubectl', 'run', 'dbg', '--image=busybox', '--overrides', '{"spec":{"nodeName":"{pod}"}}']), [overrides(5, 'kubectl run')]);
  assert.deepEqual(problems(['kubectl', 'run', 'dbg', '--image=busybox', '--overrides={pod}']), [overrides(4, 'kubectl run')]);
  // debug's --set-image: NAME=IMAGE, the name "*" for every container.
  assert.deepEqual(problems(['kubectl', 'debug', '{pod}', '--copy-to=dbg-{pod}', '--set-image=*={pod}']), [setImage(4, 'kubectl debug')]);
  assert.deepEqual(problems(['kubectl', 'debug', '{pod}', '--copy-to=dbg', '--set-image', 'app=reg/{x}']), [setImage(5, 'kubectl debug')]);
  // debug's --custom: a file, whose directory the runbook writes before any placeholder.
  assert.deepEqual(problems(['kubectl', 'debug', '{pod}', '--image=busybox', '--custom={x}']), [custom(4, 'kubectl debug')]);
  assert.deepEqual(problems(['kubectl', 'debug', '{pod}', '--image=busybox', '--custom', 'debug-{x}.json']), [custom(5, 'kubectl debug')]);
  // docker's, podman's, nerdctl's (container) run and ctr run: the image.
  assert.deepEqual(problems(['docker', 'run', '--rm', 'registry.local/{x}']), [image(3, 'docker')]);
  assert.deepEqual(problems(['docker', 'run', '--rm', '{x}', '/bin/true']), [image(3, 'docker')]);
  assert.deepEqual(problems(['docker', 'container', 'run', '--rm', '--name', 'job', 'registry.local/app:{tag}']), [image(6, 'docker')]);
  assert.deepEqual(problems(['podman', 'run', '-e', 'A=1', 'registry.local/{x}', '/bin/true']), [image(4, 'podman')]);
  assert.deepEqual(problems(['nerdctl', '-n', 'k8s.io', 'run', 'registry.local/{x}']), [image(4, 'nerdctl')]);
  assert.deepEqual(problems(['ctr', 'run', '--rm', 'registry.local/{x}', 'job', '/bin/true']), [image(3, 'ctr')]);
  // After an option rectify does not know, both readings: the image is the argument after it.
  assert.deepEqual(problems(['docker', 'run', '--some-flag', 'registry.local/{x}']), [image(3, 'docker')]);
  // Still loaded: names, namespaces, targets, a --custom path under a written directory, a
  // written-out image, the container id and the command's arguments.
  for (const argv of [
    ['kubectl', 'run', 'dbg-{pod}', '--image=busybox:1.36', '--restart=Never', '--', '/bin/true'],
    ['kubectl', 'run', '{pod}-dbg', '-n{ns}', '--image', 'busybox:1.36', '--env=POD={pod}', '--', '/usr/local/bin/probe', '{pod}'],
    ['kubectl', '-n', '{ns}', 'debug', '{pod}', '--image=busybox:1.36', '--target=app', '--', '/usr/local/bin/probe'],
    ['kubectl', 'debug', '{pod}', '--copy-to=dbg-{pod}', '--set-image=app=registry.local/app:debug'],
    ['kubectl', 'debug', '{pod}', '--image=busybox', '--custom=/srv/debug/{pod}.json'],
    ['kubectl', 'debug', '{pod}', '--image=busybox', '--custom', '/srv/debug/{pod}.json'],
    ['kubectl', 'run', 'dbg', '--image=busybox', '--overrides={"spec":{"nodeName":"node-1"}}'],
    ['oc', 'debug', 'node/{node}', '--image=registry.local/tools:1', '--', '/usr/local/bin/probe'],
    ['docker', 'run', '--rm', '--name', 'job-{x}', 'registry.local/tools:1', '/usr/local/bin/flush-queue', '{x}'],
    ['podman', 'container', 'run', '--rm', 'registry.local/tools:1', '/usr/local/bin/flush-queue', '{x}'],
    ['ctr', 'run', '--rm', 'registry.local/tools:1', 'job-{x}', '/usr/local/bin/flush-queue', '{x}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

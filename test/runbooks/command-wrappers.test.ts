import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';

/**
 * More programs that run another, or whose options name what runs: an alert's value may
 * choose neither the program nor a command line, a configuration or an environment
 * that does. Each list is loaded as a runbook and the problems compared whole.
 */
const yaml = (argv: readonly string[], match = ''): string =>
  `runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n${match}    action: {command: {argv: ${JSON.stringify(argv)}}}\n    rollback: none\n    rollback_reason: t\n`;
const problems = (argv: readonly string[]): string[] => parseRunbooksText(yaml(argv), 'r.yaml').problems.map(formatProblem);
const at = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;
const TAIL = 'rectify runs commands without one, so call the program directly';
const programValue = (i: number, by: string) => `${at(i)}: the program ${JSON.stringify(by)} runs must be written out, not a {placeholder}: an alert must not choose what runs`;
const refusedValue = (i: number, by: string, option: string, what: string) =>
  `${at(i)}: ${JSON.stringify(by)}'s ${option} is ${what}, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
const refused = (argv: readonly string[]) => assert.equal(problems(argv).length, 1, JSON.stringify(argv));
const loads = (argv: readonly string[]) => assert.deepEqual(problems(argv), [], JSON.stringify(argv));

// Regression: these ran an alert's program (valgrind, fakeroot, chronic, capsh's bash, start-stop-daemon's --exec).
test('the program valgrind, fakeroot, chronic, screen and the other wrappers run is read: a placeholder or a shell there is refused', () => {
  assert.deepEqual(problems(['valgrind', '-q', '{x}']), [programValue(2, 'valgrind')]);
  assert.deepEqual(problems(['fakeroot', '{x}']), [programValue(1, 'fakeroot')]);
  assert.deepEqual(problems(['chronic', '{x}']), [programValue(1, 'chronic')]);
  assert.deepEqual(problems(['screen', '-dm', 'sh']), [`${at(2)}: "sh" is a shell, which "screen" would run; ${TAIL}`]);
  assert.deepEqual(problems(['fakeroot']), [`${at(0)}: "fakeroot" runs a shell when no program follows it; ${TAIL}`]);
  for (const argv of [
    ['screen', '-dm', '{x}'], ['sshpass', '-f', '/etc/pass', '{x}'], ['systemd-cat', '-t', 'app', '{x}'], ['systemd-inhibit', '--why=x', '{x}'], ['dbus-run-session', '--', '{x}'],
    ['xvfb-run', '-a', '{x}'], ['eatmydata', '{x}'], ['nocache', '{x}'], ['cpulimit', '-l', '50', '--', '{x}'], ['trickle', '-d', '10', '{x}'], ['faketime', '2020-01-01', '{x}'],
    ['runcon', 'system_u:system_r:t:s0', '{x}'], ['runcon', '-t', 'x_t', 'sh'], ['aa-exec', '-p', 'prof', '{x}'], ['bwrap', '--ro-bind', '/', '/', 'sh'], ['schroot', '-c', 'c', '--', '{x}'],
    ['s6-setuidgid', 'app', '{x}'], ['s6-envdir', '/etc/env', '{x}'], ['rlwrap', '{x}'], ['daemonize', '{x}'], ['timeout', '60', 'fakeroot', 'bash'],
    ['valgrind', '--db-command={x}', '/usr/bin/tool'], ['fakeroot', '--lib', '/tmp/{x}.so', '/usr/bin/tool'], ['daemonize', '-E', 'LD_PRELOAD={x}', '/usr/bin/tool'],
  ]) refused(argv);
  loads(['valgrind', '-q', '/usr/local/bin/tool', '{x}']);
  loads(['chronic', '/usr/local/bin/rotate', '--queue', '{x}']);
  loads(['bwrap', '--setenv', 'QUEUE', '{x}', '/usr/local/bin/tool']);
});

test('capsh hands what follows "--" to a shell, and start-stop-daemon runs its --exec/--startas program', () => {
  assert.deepEqual(problems(['capsh', '--', '-c', '{x}']), [`${at(1)}: "capsh --" hands what follows to a shell; ${TAIL}`]);
  assert.deepEqual(problems(['capsh', '--drop=cap_sys_admin', '--', '/usr/bin/tool']), [`${at(2)}: "capsh --" hands what follows to a shell; ${TAIL}`]);
  loads(['capsh', '--print']);
  const ssd = (i: number, option: string) =>
    `${at(i)}: "start-stop-daemon"'s ${option} chooses what runs, as whom or where, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['start-stop-daemon', '--start', '--exec', '{x}']), [ssd(3, '--exec')]);
  assert.deepEqual(problems(['start-stop-daemon', '--start', '--startas', '{x}']), [ssd(3, '--startas')]);
  assert.deepEqual(problems(['start-stop-daemon', '-S', '-x', '{x}']), [ssd(3, '-x')]);
  assert.deepEqual(problems(['start-stop-daemon', '-S', '-a', '{x}']), [ssd(3, '-a')]);
  assert.deepEqual(problems(['start-stop-daemon', '-S', '-x', '/bin/sh', '--', '-c', 'id']), [`${at(3)}: "/bin/sh" is a shell, which "start-stop-daemon" would run; ${TAIL}`]);
  loads(['start-stop-daemon', '--stop', '--pidfile', '/run/{x}.pid']);
  loads(['start-stop-daemon', '--start', '--exec', '/usr/local/bin/app', '--', '{x}']);
});

test('tmux hands its commands to a shell; k3s and microk8s pass through to kubectl and crictl; runc and crun exec run a program', () => {
  const tmux = (i: number, command: string) =>
    `${at(i)}: ${JSON.stringify(`tmux ${command}`)} hands a command line to a shell (or keys to one), so its arguments must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['tmux', 'new-session', '-d', '{x}']), [tmux(3, 'new-session')]);
  assert.deepEqual(problems(['tmux', 'new', '-d', '{x}']), [tmux(3, 'new')]);
  loads(['tmux', 'kill-session', '-t', '{x}']);
  assert.deepEqual(problems(['k3s', 'kubectl', 'exec', 'p', '--', '{x}']), [programValue(5, 'kubectl')]);
  assert.deepEqual(problems(['microk8s', 'kubectl', 'exec', 'p', '--', 'sh']), [`${at(5)}: "sh" is a shell, which "microk8s" would run; ${TAIL}`]);
  refused(['k3s', 'crictl', 'exec', 'c', '{x}']);
  loads(['k3s', 'kubectl', 'get', 'pods', '-n', '{x}']);
  assert.deepEqual(problems(['runc', 'exec', 'c', '{x}']), [programValue(3, 'runc')]);
  refused(['crun', 'exec', 'c', 'sh']);
  loads(['runc', 'exec', '{c}', '/usr/local/bin/tool']);
});

test('minikube kubectl -- passes to kubectl; ifne, ssh-agent and autossh (read as ssh) run a program', () => {
  assert.deepEqual(problems(['minikube', 'kubectl', '--', 'exec', 'p', '--', '{x}']), [programValue(6, 'kubectl')]);
  loads(['minikube', 'kubectl', '--', 'get', 'pods', '-n', '{x}']);
  assert.deepEqual(problems(['ifne', '{x}']), [programValue(1, 'ifne')]);
  assert.deepEqual(problems(['ssh-agent', 'sh']), [`${at(1)}: "sh" is a shell, which "ssh-agent" would run; ${TAIL}`]);
  assert.deepEqual(problems(['autossh', '-M', '0', 'h', '{x}']), [
    `${at(4)}: the command "autossh" runs on the remote host must be written out, not a {placeholder}: the remote user's shell reads it, and an alert must not choose what runs`,
  ]);
  refused(['autossh', '-M', '0', '-o', 'ProxyCommand={x}', 'h', '/usr/bin/uptime']);
  loads(['ifne', '-n', '/usr/local/bin/alert', '{x}']);
});

// Regression: scp -S ran x as the ssh program, sftp -D as the sftp server; scp -o ProxyCommand= loaded.
test('scp and sftp read -o as ssh does and refuse a placeholder in the program they run (-S, -D, sftp -s, -b)', () => {
  assert.deepEqual(problems(['scp', '-S', '{x}', 'src', 'h:b']), [refusedValue(2, 'scp', '-S', 'the program scp runs to connect (ssh in its place)')]);
  assert.deepEqual(problems(['sftp', '-D', '{x}', 'h']), [refusedValue(2, 'sftp', '-D', 'the sftp server program sftp runs')]);
  assert.deepEqual(problems(['scp', '-o', 'ProxyCommand={x}', 'a', 'h:b']), [
    `${at(2)}: scp's -o ProxyCommand is a command ssh runs (or a library it loads), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`,
  ]);
  for (const argv of [['sftp', '-S', '{x}', 'h'], ['scp', '-S{x}', 'a', 'h:b'], ['sftp', '-oProxyCommand={x}', 'h'], ['sftp', '-b', '/tmp/{x}', 'h'], ['scp', '-o', 'SetEnv=LD_PRELOAD={x}', 'a', 'h:b']]) refused(argv);
  loads(['scp', '-i', '/etc/key', '/tmp/{x}.tar', 'backup:/srv/']);
});

test('git options that name a command (difftool -x, grep -O, send-email, filter-branch, instaweb, daemon) and git config refuse a placeholder', () => {
  assert.deepEqual(problems(['git', 'difftool', '-x', '{x}']), [refusedValue(3, 'git difftool', '-x', 'a command line git runs through a shell to show each diff')]);
  assert.deepEqual(problems(['git', 'grep', '-O{x}', 'p']), [refusedValue(2, 'git grep', '-O', 'the pager git runs, through a shell, to open the matching files')]);
  assert.deepEqual(problems(['git', 'config', 'alias.x', '{x}']), [
    `${at(3)}: "git config" sets configuration that runs commands (alias.*, core.pager, core.editor, core.sshCommand, core.hooksPath, core.fsmonitor…), so its name and value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`,
  ]);
  for (const argv of [
    ['git', 'difftool', '--extcmd={x}'], ['git', 'grep', '--open-files-in-pager={x}'], ['git', 'send-email', '--sendmail-cmd', '{x}'], ['git', 'filter-branch', '--tree-filter', '{x}'],
    ['git', 'instaweb', '--httpd', '{x}'], ['git', 'daemon', '--access-hook={x}'], ['git', 'config', '{x}', 'v'], ['git', '-C', '/srv/app', 'config', 'core.pager', '{x}'],
  ]) refused(argv);
  loads(['git', '-C', '/srv/app', 'grep', '-n', '{x}']);
});

test('systemctl set-environment, import-environment, initctl set-env and tmux set-environment read their assignments as env does', () => {
  assert.match(problems(['systemctl', 'set-environment', 'LD_PRELOAD={x}'])[0]!, /argv\[2\]: set-environment "LD_PRELOAD=\{x\}" sets LD_PRELOAD for the program/);
  assert.deepEqual(problems(['systemctl', 'import-environment', '{x}']), [
    `${at(2)}: "systemctl import-environment" copies variables of rectify's own environment (command_env's among them) into the service manager's, so their names must be written out, not hold a {placeholder}; write them in the runbook`,
  ]);
  for (const argv of [['systemctl', 'set-environment', '{x}'], ['initctl', 'set-env', 'LD_PRELOAD={x}'], ['tmux', 'set-environment', '-g', 'LD_PRELOAD', '{x}'], ['timeout', '10', 'systemctl', 'set-environment', 'PATH={x}']]) refused(argv);
  loads(['systemctl', 'set-environment', 'APP_QUEUE={x}']);
  loads(['systemctl', 'restart', 'app@{x}.service']);
});

// Regression: wget -e output_document=/any/path overwrote a file.
test('wget -e/--execute and curl -K/--config refuse a placeholder, joined, separate or abbreviated', () => {
  const wget = 'a wgetrc command wget carries out (output_document= writes any file, use_askpass= runs a program)';
  const curl = 'a file of curl options curl reads (-o writes any file, --proxy chooses where the credentials go)';
  assert.deepEqual(problems(['wget', '-e', '{x}', 'http://h/']), [refusedValue(2, 'wget', '-e', wget)]);
  assert.deepEqual(problems(['wget', '--exec', '{x}']), [refusedValue(2, 'wget', '--execute', wget)]);
  assert.deepEqual(problems(['curl', '--config={x}']), [refusedValue(1, 'curl', '--config', curl)]);
  for (const argv of [['wget', '--execute={x}'], ['wget', '-qe{x}'], ['curl', '-K', '{x}'], ['curl', '--conf', '/tmp/{x}']]) refused(argv);
  loads(['wget', '-O', '/tmp/out', 'http://host/{x}']);
  loads(['curl', '-sS', '-o', '/tmp/out', 'http://host/{x}']);
});

test('lint warns about a systemctl unit that is wholly a placeholder, unless a positive match: keeps it to chosen units', () => {
  const warnings = (match: string, argv: readonly string[]) => parseRunbooksText(yaml(argv, match), 'r.yaml').warnings.map(formatProblem).filter((w) => w.includes('the unit'));
  const argv = ['sudo', '--preserve-env=RECTIFY_STEP_ID', 'systemctl', 'restart', '{svc}'];
  assert.deepEqual(warnings('', argv), [
    `${at(4)}: the unit "systemctl restart" acts on is wholly the {placeholder} {svc}, so an alert's label chooses any unit on the host (poweroff.target, sshd.service…); keep it to your units with a match: on the label (svc=~"app-.*") or write a prefix in the runbook ("app@{svc}.service")`,
  ]);
  const r = parseRunbooksText(yaml(argv), 'r.yaml');
  assert.deepEqual(r.problems, []);
  assert.deepEqual(warnings(`    match: ['svc=~"app-.*"']\n`, argv), []);
  assert.equal(warnings(`    match: ['svc!~"poweroff.*"']\n`, argv).length, 1);
  assert.deepEqual(warnings('', ['systemctl', 'restart', 'app@{svc}.service']), []);
});

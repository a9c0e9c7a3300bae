import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';

/**
 * Which `command:` argument lists may hold a placeholder where kubectl, oc, docker,
 * podman, nerdctl, crictl, ssh and systemd-run read options and subcommands: each
 * list is loaded as a runbook, and the problems are compared whole.
 */
const yaml = (argv: readonly string[]): string =>
  `runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: {command: {argv: ${JSON.stringify(argv)}}}\n    rollback: none\n    rollback_reason: t\n`;
const problems = (argv: readonly string[]): string[] => parseRunbooksText(yaml(argv), 'r.yaml').problems.map(formatProblem);
const at = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;

// Regression: ssh's -o ProxyCommand (and the like) and systemd-run's -p ExecStartPre=
// took a placeholder, so the alert chose a command run before the one written out.
test("ssh's -o command options and systemd-run's -p Exec*/Environment properties may not hold a placeholder", () => {
  const ssh = (i: number, keyword: string) =>
    `${at(i)}: ssh's -o ${keyword} is a command ssh runs (or a library it loads), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['ssh', '-o', 'ProxyCommand={x}', '{host}', '/usr/local/bin/clean']), [ssh(2, 'ProxyCommand')]);
  assert.deepEqual(problems(['ssh', '-o', 'proxycommand /usr/local/bin/{x}', 'host', '/bin/true']), [ssh(2, 'proxycommand')]);
  assert.deepEqual(problems(['ssh', '-4o', 'LocalCommand={x}', 'host', '/bin/true']), [ssh(2, 'LocalCommand')]);
  assert.deepEqual(problems(['ssh', '-o', ' KnownHostsCommand=/usr/bin/{x} %H', 'host', '/bin/true']), [ssh(2, 'KnownHostsCommand')]);
  assert.deepEqual(problems(['ssh', '-o', 'RemoteCommand={x}', 'host', '/bin/true']), [ssh(2, 'RemoteCommand')]);
  assert.deepEqual(problems(['ssh', '-o', 'Proxy{x}=a', 'host', '/bin/true']), [
    `${at(2)}: the name of an ssh -o option must be written out, not hold a {placeholder}: an alert must not choose how ssh connects or what it runs; write it in the runbook`,
  ]);
  const systemd = (i: number, option: string, name: string) =>
    `${at(i)}: systemd-run's ${option} ${name}= chooses what runs, its environment or the files it sees, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  assert.deepEqual(problems(['systemd-run', '-p', 'ExecStartPre={x}', '/usr/local/bin/flush']), [systemd(2, '-p', 'ExecStartPre')]);
  assert.deepEqual(problems(['systemd-run', '--property=Environment=LD_PRELOAD={x}', '/usr/local/bin/flush']), [systemd(1, '--property', 'Environment')]);
  assert.deepEqual(problems(['systemd-run', '--socket-property', 'ExecStartPre={x}', '/usr/local/bin/flush']), [systemd(2, '--socket-property', 'ExecStartPre')]);
  assert.deepEqual(problems(['systemd-run', '-p', 'BindPaths={x}:/usr/local/bin/flush', '/usr/local/bin/flush']), [systemd(2, '-p', 'BindPaths')]);
  assert.deepEqual(problems(['systemd-run', '-p', '{x}=1', '/usr/local/bin/flush']), [
    `${at(2)}: the name of a systemd-run -p property must be written out, not hold a {placeholder}: an alert must not choose what runs or how; write it in the runbook`,
  ]);
  // Still loaded: other options' values, written-out commands.
  for (const argv of [
    ['ssh', '-o', 'User={user}', '{host}', '/usr/local/bin/clean'],
    ['ssh', '-o', 'ProxyCommand=/usr/bin/nc -X connect %h %p', '{host}', '/usr/local/bin/clean'],
    ['systemd-run', '-p', 'MemoryMax={mem}', '--unit=flush-{queue}', '/usr/local/bin/flush', '{queue}'],
    ['systemd-run', '-p', 'ExecStartPre=/usr/local/bin/prepare', '/usr/local/bin/flush', '{queue}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

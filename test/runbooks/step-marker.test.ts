import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { formatProblem } from '../../src/domain/errors.js';
import { STEP_MARKER_VAR } from '../../src/execute/actions/command.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';
import { loadCatalog } from '../../src/service.js';

/**
 * A `command:` whose argv keeps the step marker (RECTIFY_STEP_ID) from its program (sudo
 * resets the environment by default, doas unless doas.conf keeps it; env -i, env -, env -u
 * RECTIFY_STEP_ID, setpriv --reset-env, runuser -l) is lost to
 * crash recovery: a warning naming the argument, never a load problem; the forms that
 * keep the marker are not warned about.
 */

const LOST =
  'RECTIFY_STEP_ID, the marker by which rectify finds a command\'s processes, does not reach the program it runs: after a crash, startup recovery cannot find that program to stop it, and the run\'s INTERRUPTED row only asks a human to check';
const SUDO = (sudo: string) =>
  `"${sudo}" resets the environment (sudoers' env_reset, on by default): ${LOST}. Write [${sudo}, --preserve-env=RECTIFY_STEP_ID, …]; sudo then runs the command only if sudoers allows the variable (Defaults env_keep += "RECTIFY_STEP_ID", or the SETENV tag on the rule), and refuses it otherwise. Recovery reads the marker through /proc: a program run as another user is found only when rectify runs as root`;
const ENV_CLEARS = (written: string) =>
  `"${written}" starts the program with an empty environment: ${LOST}. Leave the environment as it is: rectify already runs a command with a minimal one (PATH, LANG and the variables command_env names)`;
const ENV_UNSETS = (written: string) =>
  `"${written}" removes RECTIFY_STEP_ID from the environment: ${LOST}. Leave the environment as it is: rectify already runs a command with a minimal one (PATH, LANG and the variables command_env names)`;

/** One runbook whose actions are these argv lists (and a rollback), with nothing else to warn about. */
function runbook(argvs: readonly string[], rollback = '/usr/local/bin/unflush'): string {
  return [
    'runbooks:',
    '  flush:',
    '    owner: ops',
    '    risk: LOW',
    '    triggers: [QueueStuck]',
    '    actions:',
    ...argvs.map((a) => `      - command: {argv: ${a}}`),
    `    rollback: {command: {argv: [${rollback}]}}`,
    '    post_checks:',
    '      - http: {url: "http://127.0.0.1:8080/health"}',
    '',
  ].join('\n');
}

const DROPS = [
  '[sudo, /usr/local/bin/flush-queue]',
  '[/usr/bin/sudo, -u, app, /usr/local/bin/flush-queue]',
  '[sudo, --preserve-env=PATH, /usr/local/bin/flush-queue]',
  '[timeout, "60", nice, sudo, -n, /usr/local/bin/flush-queue]',
  '[env, -i, /usr/local/bin/flush-queue]',
  '[env, "-", PATH=/bin, /usr/local/bin/flush-queue]',
  '[setsid, env, --ignore-environment, /usr/local/bin/flush-queue]',
  '[env, -iv, /usr/local/bin/flush-queue]',
  '[env, -u, RECTIFY_STEP_ID, /usr/local/bin/flush-queue]',
  '[env, --unset=RECTIFY_STEP_ID, /usr/local/bin/flush-queue]',
  '[sudo, -E, env, -i, /usr/local/bin/flush-queue]',
];
const KEEPS = [
  '[sudo, --preserve-env=RECTIFY_STEP_ID, /usr/local/bin/flush-queue]',
  '[sudo, "--preserve-env=PATH,RECTIFY_STEP_ID", -u, app, /usr/local/bin/flush-queue]',
  '[sudo, -E, /usr/local/bin/flush-queue]',
  '[sudo, -Eu, app, /usr/local/bin/flush-queue]',
  '[sudo, --preserve-env, /usr/local/bin/flush-queue]',
  '[timeout, "60", sudo, --preserve-env=RECTIFY_STEP_ID, env, FOO=1, /usr/local/bin/flush-queue, -i]',
  '[env, -u, OTHER, /usr/local/bin/flush-queue]',
  '[/usr/local/bin/flush-queue, --sudo, env, -i]',
  '[kubectl, exec, -n, jobs, queue-0, --, env, -i, /usr/local/bin/flush-queue]',
];

test('the marker name the warnings give is the one a command step sets', () => {
  assert.equal(STEP_MARKER_VAR, 'RECTIFY_STEP_ID');
});

test('a command that keeps RECTIFY_STEP_ID from its program is warned about at that argument; the runbook still loads', () => {
  const { runbooks, problems, warnings } = parseRunbooksText(runbook(DROPS, 'sudo, /usr/local/bin/unflush'), 'flush.yaml');
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => r.id), ['flush']);
  assert.deepEqual(warnings.map(formatProblem), [
    `flush.yaml:7: runbooks.flush.actions[0].command.argv[0]: ${SUDO('sudo')}`,
    `flush.yaml:8: runbooks.flush.actions[1].command.argv[0]: ${SUDO('/usr/bin/sudo')}`,
    `flush.yaml:9: runbooks.flush.actions[2].command.argv[0]: ${SUDO('sudo')}`,
    `flush.yaml:10: runbooks.flush.actions[3].command.argv[3]: ${SUDO('sudo')}`,
    `flush.yaml:11: runbooks.flush.actions[4].command.argv[1]: ${ENV_CLEARS('env -i')}`,
    `flush.yaml:12: runbooks.flush.actions[5].command.argv[1]: ${ENV_CLEARS('env -')}`,
    `flush.yaml:13: runbooks.flush.actions[6].command.argv[2]: ${ENV_CLEARS('env --ignore-environment')}`,
    `flush.yaml:14: runbooks.flush.actions[7].command.argv[1]: ${ENV_CLEARS('env -iv')}`,
    `flush.yaml:15: runbooks.flush.actions[8].command.argv[1]: ${ENV_UNSETS('env -u')}`,
    `flush.yaml:16: runbooks.flush.actions[9].command.argv[1]: ${ENV_UNSETS('env --unset=RECTIFY_STEP_ID')}`,
    `flush.yaml:17: runbooks.flush.actions[10].command.argv[3]: ${ENV_CLEARS('env -i')}`,
    `flush.yaml:18: runbooks.flush.rollback.command.argv[0]: ${SUDO('sudo')}`,
  ]);
});

test('sudo --preserve-env=RECTIFY_STEP_ID, sudo -E, env without -i or -, and programs run elsewhere are not warned about', () => {
  const { runbooks, problems, warnings } = parseRunbooksText(runbook(KEEPS), 'flush.yaml');
  assert.deepEqual(problems, []);
  assert.equal(runbooks.length, 1);
  assert.deepEqual(warnings.map(formatProblem), []);
});

test('rectify lint prints the warning with the file and YAML path, and exits 1 as on any warning; the preserved form lints clean; startup loads both', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-marker-'));
  const runbooks = join(dir, 'runbooks');
  mkdirSync(runbooks);
  const file = join(runbooks, 'flush.yaml');
  writeFileSync(file, runbook(['[sudo, -u, app, /usr/local/bin/flush-queue]']));
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l), env: {}, cwd: dir };
  assert.equal(await runCli(['lint', 'runbooks'], io), 1);
  assert.deepEqual(err, [`${file}:7: runbooks.flush.actions[0].command.argv[0]: warning: ${SUDO('sudo')}`, `0 problem(s) and 1 warning(s) in ${runbooks}`]);
  assert.deepEqual(out, []);
  // A warning never refuses the load: the runbook is served, the warning logged.
  const loaded = loadCatalog(runbooks);
  assert.deepEqual(loaded.runbooks.map((r) => r.id), ['flush']);
  assert.deepEqual(loaded.warnings.map(formatProblem), [`${file}:7: runbooks.flush.actions[0].command.argv[0]: ${SUDO('sudo')}`]);

  writeFileSync(file, runbook(['[sudo, --preserve-env=RECTIFY_STEP_ID, -u, app, /usr/local/bin/flush-queue]']));
  err.length = 0;
  assert.equal(await runCli(['lint', 'runbooks'], io), 0);
  assert.deepEqual([out, err], [[`1 runbook(s) OK in ${runbooks}`], []]);
});

// Regression: doas, setpriv --reset-env and runuser -l kept the marker from their program
// without a warning.
test('doas, setpriv --reset-env and runuser -l are warned about at that argument, as argv[0] or behind other wrappers; setpriv and runuser -u without them are not', () => {
  const DOAS = (doas: string) =>
    `"${doas}" resets the environment unless the doas.conf rule that permits the command says keepenv or setenv { RECTIFY_STEP_ID }: ${LOST}. Let that rule keep the variable (permit setenv { RECTIFY_STEP_ID } …), or write [sudo, --preserve-env=RECTIFY_STEP_ID, …], whose argv says that it is kept. Recovery reads the marker through /proc: a program run as another user is found only when rectify runs as root`;
  const SETPRIV = (written: string, option: string) =>
    `"${written}" starts the program with an environment of its own (TERM kept; HOME, SHELL, USER, LOGNAME and PATH set for the user): ${LOST}. Leave out ${option} and the environment as it is: rectify already runs a command with a minimal one (PATH, LANG and the variables command_env names)`;
  const RUNUSER = (written: string, option: string) =>
    `"${written}" asks for a login environment, which would clear the environment: ${LOST}; and beside -u runuser refuses it, so the command fails as written. Leave out ${option}: runuser -u passes the environment on (setting HOME, SHELL, USER and LOGNAME for the user)`;
  const drops = [
    '[doas, /usr/local/bin/flush-queue]',
    '[timeout, "60", /usr/bin/doas, -u, app, /usr/local/bin/flush-queue]',
    '[setpriv, --reset-env, --reuid=app, /usr/local/bin/flush-queue]',
    '[nice, setpriv, --reuid, app, --reset-e, /usr/local/bin/flush-queue]',
    '[runuser, -l, -u, app, --, /usr/local/bin/flush-queue]',
    '[runuser, -u, app, --login, --, /usr/local/bin/flush-queue]',
  ];
  const { runbooks, problems, warnings } = parseRunbooksText(runbook(drops), 'flush.yaml');
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => r.id), ['flush']);
  assert.deepEqual(warnings.map(formatProblem), [
    `flush.yaml:7: runbooks.flush.actions[0].command.argv[0]: ${DOAS('doas')}`,
    `flush.yaml:8: runbooks.flush.actions[1].command.argv[2]: ${DOAS('/usr/bin/doas')}`,
    `flush.yaml:9: runbooks.flush.actions[2].command.argv[1]: ${SETPRIV('setpriv --reset-env', '--reset-env')}`,
    `flush.yaml:10: runbooks.flush.actions[3].command.argv[4]: ${SETPRIV('setpriv --reset-e', '--reset-e')}`,
    `flush.yaml:11: runbooks.flush.actions[4].command.argv[1]: ${RUNUSER('runuser -l', '-l')}`,
    `flush.yaml:12: runbooks.flush.actions[5].command.argv[3]: ${RUNUSER('runuser --login', '--login')}`,
  ]);
  const keeps = [
    '[setpriv, --reuid=app, --init-groups, /usr/local/bin/flush-queue, --reset-env]',
    '[runuser, -u, app, --, /usr/local/bin/flush-queue, -l]',
    '[sudo, --preserve-env=RECTIFY_STEP_ID, setpriv, --no-new-privs, /usr/local/bin/flush-queue]',
  ];
  const kept = parseRunbooksText(runbook(keeps), 'flush.yaml');
  assert.deepEqual([kept.problems, kept.warnings.map(formatProblem)], [[], []]);
});

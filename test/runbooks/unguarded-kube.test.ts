import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';

/**
 * A `command:` that runs `kubectl scale` or `kubectl rollout undo` (oc's too, itself or
 * through a program that runs another) does the built-in action's operation without the
 * checks rectify makes on that action: a lint warning at the subcommand, never a load
 * problem.
 */

const SCALE = (program: string) =>
  `"${program} scale" is run as a program, without the checks rectify makes on the same operation as an action (a scale-down that would leave the workload no ready pod, or take more than the runbook's max_unavailable, is refused there); write it as the action "kubectl scale …" or kubernetes: {verb: scale, …}, which rectify carries out through the Kubernetes API with those checks`;
const UNDO = (program: string) =>
  `"${program} rollout undo" is run as a program, without the checks rectify makes on the same operation as an action (a relative undo, one with no --to-revision, is refused there when a rollout was made after the alert, since it would undo that rollout instead); write it as the action "kubectl rollout undo …" or kubernetes: {verb: rollout_undo, …}, which rectify carries out through the Kubernetes API with those checks`;

function runbook(argvs: readonly string[]): string {
  return [
    'runbooks:',
    '  r:',
    '    risk: LOW',
    '    triggers: [x]',
    '    params: {ns: namespace, deployment: deployment}',
    '    actions:',
    ...argvs.map((a) => `      - command: {argv: ${a}}`),
    '    rollback: none',
    '    rollback_reason: t',
    '    post_checks:',
    '      - http: {url: "http://127.0.0.1:8080/health"}',
    '',
  ].join('\n');
}

test('a command running kubectl scale or kubectl rollout undo is warned about at the subcommand; the runbook still loads', () => {
  const { runbooks, problems, warnings } = parseRunbooksText(
    runbook([
      '[kubectl, -n, "{ns}", rollout, undo, "deployment/{deployment}"]',
      '[kubectl, -n, "{ns}", scale, "deployment/{deployment}", --replicas=3]',
      '[sudo, --preserve-env=RECTIFY_STEP_ID, /usr/bin/kubectl, scale, deployment/web, --replicas=1, -n, prod]',
      '[oc, rollout, -n, "{ns}", undo, "dc/{deployment}"]',
      '[timeout, "60", kubectl, --context, prod, rollout, undo, deployment/web, --to-revision=3, -n, prod]',
    ]),
    'r.yaml',
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => r.id), ['r']);
  assert.deepEqual(warnings.map(formatProblem), [
    `r.yaml:7: runbooks.r.actions[0].command.argv[3]: ${UNDO('kubectl')}`,
    `r.yaml:8: runbooks.r.actions[1].command.argv[3]: ${SCALE('kubectl')}`,
    `r.yaml:9: runbooks.r.actions[2].command.argv[3]: ${SCALE('kubectl')}`,
    `r.yaml:10: runbooks.r.actions[3].command.argv[1]: ${UNDO('oc')}`,
    `r.yaml:11: runbooks.r.actions[4].command.argv[5]: ${UNDO('kubectl')}`,
  ]);
});

test('other kubectl subcommands, and scale or undo as another program\'s argument, are not warned about', () => {
  const { problems, warnings } = parseRunbooksText(
    runbook([
      '[kubectl, -n, "{ns}", rollout, restart, "deployment/{deployment}"]',
      '[kubectl, -n, "{ns}", rollout, status, "deployment/{deployment}"]',
      '[kubectl, -n, "{ns}", get, deployment, scale]',
      '[/usr/local/bin/deploy-tool, kubectl, scale]',
      '[kubectl, -n, "{ns}", exec, "{deployment}-0", --, kubectl, scale, deployment/x, --replicas=1]',
    ]),
    'r.yaml',
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings.map(formatProblem), []);
});

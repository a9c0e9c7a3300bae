import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import type { RenderedKubernetesAction } from '../../src/domain/index.js';
import { createParamsStage, kubernetesTargets, type ExecutionPlan, type StageContext } from '../../src/pipeline/index.js';
import { parseRunbooksText, renderChecks, renderPlan } from '../../src/runbooks/index.js';
import { incident } from './helpers.js';

const { runbooks, problems } = parseRunbooksText(
  `runbooks:
  restart:
    risk: LOW
    actions:
      - kubectl rollout restart deployment {deployment} -n {namespace}
      - kubectl delete pod {pod} -n {namespace}
      - kubectl rollout restart deployment {deployment} -n {namespace}
`,
  'inline.yaml',
);

function rendered(values: Record<string, string>): ExecutionPlan {
  assert.deepEqual(problems.map(formatProblem), []);
  const stage = createParamsStage({ renderer: { renderPlan, renderChecks } });
  const ctx = { input: { incident: incident(), values, trigger: 'auto', dryRun: false }, runbook: runbooks[0]!, circuitTrial: false } as unknown as StageContext;
  assert.equal(stage.run(ctx), undefined);
  return ctx.plan!;
}

test("a remembered plan's Kubernetes objects are worked out once, for every stage and write that asks", () => {
  const plan = rendered({ service: 'api', deployment: 'checkout', namespace: 'prod', pod: 'checkout-1' });
  const targets = kubernetesTargets(plan);
  // Each object once, in the order the steps name them.
  assert.deepEqual(targets, ['deployment prod/checkout', 'pod prod/checkout-1']);
  // The rate limit, the cooldown and the execution's consume get the same answer, not a new one each.
  assert.equal(kubernetesTargets(plan), targets);
  assert.ok(Object.isFrozen(targets));
});

test('a plan that is not frozen (an approval carrying its runbook version) is read as it is', () => {
  const frozen = rendered({ service: 'api', deployment: 'cart', namespace: 'prod', pod: 'cart-1' });
  const plan: ExecutionPlan = { ...frozen, actions: frozen.actions.slice(0, 1), runbookVersion: 'v1' };
  assert.deepEqual(kubernetesTargets(plan), ['deployment prod/cart']);
  plan.actions = [...plan.actions, { ...frozen.actions[1]!, spec: { ...(frozen.actions[1]!.spec as RenderedKubernetesAction), name: 'cart-2' } }];
  assert.deepEqual(kubernetesTargets(plan), ['deployment prod/cart', 'pod prod/cart-2']);
});

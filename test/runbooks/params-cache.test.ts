import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import type { Runbook } from '../../src/domain/runbook.js';
import { createParamsStage, RENDER_CACHE_KEY_MAX, type Renderer } from '../../src/pipeline/stages/index.js';
import type { ExecutionPlan, StageContext } from '../../src/pipeline/types.js';
import { parseRunbooksText, renderChecks, renderPlan } from '../../src/runbooks/index.js';
import { incident } from './helpers.js';

function inline(id = 't'): Runbook {
  const { runbooks, problems } = parseRunbooksText(
    `runbooks:\n  ${id}:\n    risk: LOW\n    action:\n      http: {method: POST, url: "http://127.0.0.1:9/restart/{service}/{namespace}"}\n`,
    'inline.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  return runbooks[0]!;
}

/** The real renderer, counting its plan renderings. */
function counting(): Renderer & { plans: number } {
  const r = {
    plans: 0,
    renderPlan(rb: Runbook, values: Record<string, string>) {
      r.plans++;
      return renderPlan(rb, values);
    },
    renderChecks,
  };
  return r;
}

function run(stage: ReturnType<typeof createParamsStage>, runbook: Runbook, values: Record<string, string>) {
  const ctx = { input: { incident: incident(), values, trigger: 'auto', dryRun: false }, runbook, circuitTrial: false } as unknown as StageContext;
  const verdict = stage.run(ctx);
  return { verdict, plan: ctx.plan as ExecutionPlan | undefined };
}

test('a storm filling one runbook with the same values renders its plan once, and every alert gets that plan', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer });
  const rb = inline();
  const values = { service: 'api', namespace: 'prod', pod: 'api-1' };
  const first = run(stage, rb, values);
  // Labels the runbook does not use (pod) do not make another rendering.
  const second = run(stage, rb, { ...values, pod: 'api-2', incident_id: 'inc-2' });
  assert.equal(renderer.plans, 1);
  assert.equal(first.verdict, undefined);
  assert.equal(second.plan, first.plan);
  assert.equal(first.plan!.actions[0]!.summary, 'POST http://127.0.0.1:9/restart/api/prod');
  assert.deepEqual(first.plan!.params, { service: 'api', namespace: 'prod' });
  // Shared, so frozen: nobody can change what another alert runs.
  assert.ok(Object.isFrozen(first.plan) && Object.isFrozen(first.plan!.actions[0]!.spec));
});

test('another value, a reloaded runbook or a value that moves a boundary renders again', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer });
  const rb = inline();
  run(stage, rb, { service: 'api', namespace: 'prod' });
  const other = run(stage, rb, { service: 'web', namespace: 'prod' });
  assert.equal(renderer.plans, 2);
  assert.equal(other.plan!.actions[0]!.summary, 'POST http://127.0.0.1:9/restart/web/prod');
  // The same id after a reload is another runbook object: its own rendering.
  run(stage, inline(), { service: 'api', namespace: 'prod' });
  assert.equal(renderer.plans, 3);
  // "a" + "bc" and "ab" + "c" are different keys.
  const a = run(stage, rb, { service: 'a', namespace: 'bc' });
  const b = run(stage, rb, { service: 'ab', namespace: 'c' });
  assert.equal(renderer.plans, 5);
  assert.notEqual(a.plan!.actions[0]!.summary, b.plan!.actions[0]!.summary);
});

test('a refusal is remembered like a plan, and a missing value is not an empty one', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer });
  const rb = inline();
  const bad = { service: '../admin', namespace: 'prod' };
  const one = run(stage, rb, bad);
  const two = run(stage, rb, { ...bad });
  assert.equal(renderer.plans, 1);
  assert.equal(one.verdict?.event, 'PARAM_REFUSED');
  assert.deepEqual(two.verdict, one.verdict);
  const missing = run(stage, rb, { service: 'api' });
  const empty = run(stage, rb, { service: 'api', namespace: '' });
  assert.equal(renderer.plans, 3);
  assert.match((missing.verdict as { reason: string }).reason, /no value for placeholder \{namespace\}/);
  assert.doesNotMatch((empty.verdict as { reason: string }).reason, /no value for placeholder/);
});

test('the cache is bounded: past its size the oldest rendering is forgotten', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer, cacheSize: 2 });
  const rb = inline();
  for (const service of ['a', 'b', 'c']) run(stage, rb, { service, namespace: 'n' });
  assert.equal(renderer.plans, 3);
  run(stage, rb, { service: 'c', namespace: 'n' });
  run(stage, rb, { service: 'b', namespace: 'n' });
  assert.equal(renderer.plans, 3, 'b and c are still remembered');
  run(stage, rb, { service: 'a', namespace: 'n' });
  assert.equal(renderer.plans, 4, 'a was forgotten');
});

test('a runbook with a named check renders for each incident: the check carries that incident\'s values', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer });
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  restart:',
      '    risk: LOW',
      '    pre_checks: [replicas_greater_than_one]',
      '    action:',
      '      http: {method: POST, url: "http://127.0.0.1:9/restart/{namespace}"}',
      '',
    ].join('\n'),
    'inline.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const rb = runbooks[0]!;
  const one = run(stage, rb, { namespace: 'prod', pod_name: 'api-1', incident_id: 'inc-1' });
  const two = run(stage, rb, { namespace: 'prod', pod_name: 'api-2', incident_id: 'inc-2' });
  assert.equal(renderer.plans, 2);
  const values = (r: typeof one) => (r.plan!.preChecks[0] as { values: Record<string, string> }).values;
  assert.equal(values(one).pod_name, 'api-1');
  // Only what the check reads: not the incident id, so alerts alike render alike.
  assert.deepEqual(values(two), { namespace: 'prod', pod_name: 'api-2' });
});

test('a scale to a filled count is remembered per current count: each alert plans from the count the cluster had for it', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer });
  // No {old_replicas} placeholder and no named check: only planned_from reads the cluster's count.
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  scale:',
      '    risk: LOW',
      '    triggers: [x]',
      '    params: {deployment: d, namespace: n, new_replicas: r}',
      '    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}',
      '    rollback: none',
      '    rollback_reason: test',
      '',
    ].join('\n'),
    'inline.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const rb = runbooks[0]!;
  const alert = { deployment: 'web', namespace: 'prod', new_replicas: '4' };
  const args = (r: ReturnType<typeof run>) => (r.plan!.actions[0]!.spec as { args: Record<string, string> }).args;
  const had5 = run(stage, rb, { ...alert, old_replicas: '5' });
  const has3 = run(stage, rb, { ...alert, old_replicas: '3' });
  assert.deepEqual(args(had5), { replicas: '4', planned_from: '5' });
  assert.deepEqual(args(has3), { replicas: '4', planned_from: '3' });
  assert.equal(renderer.plans, 2);
  // The same current count is the same rendering, shared.
  const again = run(stage, rb, { ...alert, old_replicas: '3' });
  assert.equal(again.plan, has3.plan);
  assert.equal(renderer.plans, 2);
  // A count nobody read is not a count read: no planned_from, its own rendering.
  const unread = run(stage, rb, alert);
  assert.deepEqual(args(unread), { replicas: '4' });
  assert.equal(renderer.plans, 3);
  // The incident's max_replicas, which may lower the cap, is read too: each its own rendering.
  const lowered = run(stage, rb, { ...alert, old_replicas: '3', max_replicas: '3' });
  assert.equal(lowered.plan, undefined);
  assert.deepEqual(lowered.verdict && { kind: lowered.verdict.kind, event: (lowered.verdict as { event?: string }).event }, { kind: 'blocked', event: 'PARAM_REFUSED' });
  assert.match((lowered.verdict as { reason: string }).reason, /^placeholder \{new_replicas\} in action 1: value "4" would scale deployment prod\/web from 3 to 4 replicas, above the cap of 3 /);
  assert.deepEqual(args(run(stage, rb, { ...alert, old_replicas: '3', max_replicas: '8' })), { replicas: '4', planned_from: '3' });
  assert.equal(renderer.plans, 5);
});

// Regression: a scale-down above the cap (30 to 20 under a cap of 10) was refused as
// "above the cap"; the decision now reads the cluster's count, in a rollback too, so a
// rendering remembered for one count must not answer for another.
test('a filled count above the cap is refused only as a scale-up: each current count its own rendering, in actions and rollbacks', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer });
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  down:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl scale deployment {deployment} --replicas={target} -n {namespace}',
      '    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}',
      '  restart:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl rollout restart deployment {deployment} -n {namespace}',
      '    rollback: kubectl scale deployment {deployment} --replicas={target} -n {namespace}',
      '',
    ].join('\n'),
    'inline.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const [down, restart] = runbooks;
  const alert = { deployment: 'web', namespace: 'prod', target: '20' };
  const from30 = run(stage, down!, { ...alert, old_replicas: '30' });
  assert.deepEqual((from30.plan!.actions[0]!.spec as { args: Record<string, string> }).args, { replicas: '20', planned_from: '30' });
  const from3 = run(stage, down!, { ...alert, old_replicas: '3' });
  assert.equal(from3.plan, undefined);
  assert.equal(
    (from3.verdict as { reason: string }).reason,
    'placeholder {target} in action 1: value "20" would scale deployment prod/web from 3 to 20 replicas, above the cap of 10 (rectify\'s default max_replicas): ' +
      "a scale-up to a count from the alert or the run's params above the cap is refused, not lowered to it; to allow more, set a higher max_replicas on a current_replicas_below_max check in the runbook, or write the count in the runbook",
  );
  assert.equal(renderer.plans, 2);
  // A rollback's filled count is judged the same way: the cluster's count is part of its key.
  assert.ok(run(stage, restart!, { ...alert, old_replicas: '30' }).plan);
  assert.equal(run(stage, restart!, { ...alert, old_replicas: '3' }).plan, undefined);
  assert.equal(renderer.plans, 4);
});

test('a scale target above the cap is refused before anything is claimed: PARAM_REFUSED, naming the placeholder, the value and the cap', () => {
  const stage = createParamsStage({ renderer: counting() });
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  burst:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}',
      '    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}',
      '',
    ].join('\n'),
    'inline.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const rb = runbooks[0]!;
  const { verdict, plan } = run(stage, rb, { deployment: 'web', namespace: 'prod', new_replicas: '999999', old_replicas: '3' });
  assert.equal(plan, undefined);
  assert.deepEqual(verdict, {
    kind: 'blocked',
    event: 'PARAM_REFUSED',
    runbook: rb,
    reason:
      'placeholder {new_replicas} in action 1: value "999999" would scale deployment prod/web from 3 to 999999 replicas, above the cap of 10 (rectify\'s default max_replicas): ' +
      "a scale-up to a count from the alert or the run's params above the cap is refused, not lowered to it; to allow more, set a higher max_replicas on a current_replicas_below_max check in the runbook, or write the count in the runbook",
  });
});

test('a rendering filled from values longer than RENDER_CACHE_KEY_MAX is not remembered: rendered for each alert', () => {
  const renderer = counting();
  const stage = createParamsStage({ renderer });
  const rb = inline();
  const long = { service: 'a'.repeat(RENDER_CACHE_KEY_MAX), namespace: 'prod' };
  const one = run(stage, rb, long);
  const two = run(stage, rb, { ...long });
  assert.equal(renderer.plans, 2);
  // The same decision either way.
  assert.deepEqual(two.plan, one.plan);
  assert.deepEqual(two.verdict, one.verdict);
  // A short key is remembered, as before.
  run(stage, rb, { service: 'api', namespace: 'prod' });
  run(stage, rb, { service: 'api', namespace: 'prod' });
  assert.equal(renderer.plans, 3);
});

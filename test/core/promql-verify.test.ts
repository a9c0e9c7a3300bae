import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { startTestService } from '../helpers/service.js';

/**
 * Verification against a real Prometheus: the action "fixes" the metric the
 * post-check queries, or does not, and rectify rolls back.
 */
describe('PromQL verification with a real Prometheus', () => {
  let target: HttpTarget;
  let prom: RunningDaemon;
  before(async () => {
    target = await startHttpTarget();
    target.setMetric('shop_error_ratio', 0.3, { service: 'shop' });
    prom = await startPrometheus({ scrapeTargets: [target.hostPort] });
    await waitForQuery(prom.url, 'shop_error_ratio', (v) => v[0] === 0.3);
  });
  after(async () => {
    await prom.stop();
    await target.close();
  });

  const runbooks = (base: string) => `runbooks:
  fix-errors:
    risk: LOW
    triggers: [error_rate_high]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/restart/{service}"}
    post_checks:
      - promql: {query: 'max(shop_error_ratio{service="{service}"})', expect: "< 0.05", for_seconds: 2, timeout_seconds: 8, interval_seconds: 1}
    rollback:
      http: {method: POST, url: "${base}/undo/{service}"}
`;

  it('passes when the action brought the metric under the threshold (held for for_seconds)', async () => {
    target.reset();
    target.route('POST', '/restart/shop', () => {
      target.setMetric('shop_error_ratio', 0.01, { service: 'shop' });
      return { status: 200 };
    });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--prometheus-url', prom.url], realClock: true });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'error_rate_high', service: 'shop' });
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, true, r.body.reason);
    assert.equal(target.calls('/undo/shop'), 0);
    const e = await svc.get(`/api/v1/executions/${r.body.execution_id}`);
    assert.equal(e.body.steps[1].phase, 'post_check');
    assert.equal(e.body.steps[1].ok, true);
    await svc.stop({ remove: true });
  });

  it('fails and rolls back when the metric stays high', async () => {
    target.reset();
    target.setMetric('shop_error_ratio', 0.3, { service: 'shop' });
    await waitForQuery(prom.url, 'shop_error_ratio', (v) => v[0] === 0.3);
    target.route('POST', '/restart/shop', { status: 200 });
    target.route('POST', '/undo/shop', { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--prometheus-url', prom.url], realClock: true });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'error_rate_high', service: 'shop' });
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, false);
    assert.equal(r.body.rolled_back, true);
    assert.match(r.body.reason, /^verification failed: promql max\(shop_error_ratio\{service="shop"\}\) < 0.05: /);
    assert.equal(target.calls('/restart/shop', 'POST'), 1);
    assert.equal(target.calls('/undo/shop', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('a quote in a # comment of a pre-check query opens no string: a value after it that would extend the query is refused, and nothing runs', async () => {
    target.reset();
    target.route('POST', '/act/shop', { status: 200 });
    // Passes only when the error rate is at most the threshold (an empty result); "1 and nothing"
    // as the threshold would make every result empty, and so the check always pass.
    const guarded = `runbooks:
  guarded:
    risk: LOW
    triggers: [errors_high]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    pre_checks:
      - promql:
          query: |
            # don't act while the error rate is above the threshold
            sum(rate(shop_error_ratio{service="{service}"}[5m])) > {threshold}
          expect: "< 0"
          on_empty: pass
          timeout_seconds: 2
    action:
      http: {method: POST, url: "${target.url}/act/{service}"}
`;
    const svc = await startTestService({ runbooks: guarded, args: ['--prometheus-url', prom.url], realClock: true });
    const bad = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'errors_high', service: 'shop', context: { threshold: '1 and nothing' } });
    assert.deepEqual([bad.body.action, bad.body.event, bad.body.execution_id, bad.body.reason], [
      'blocked',
      'PARAM_REFUSED',
      null,
      'placeholder {threshold} in check 1: value "1 and nothing" is longer than 6 characters, expected a whole number',
    ]);
    assert.equal(target.calls('/act/shop', 'POST'), 0);
    // A number is taken, and Prometheus reads the query, comment and all.
    const good = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'errors_high', service: 'shop', context: { threshold: '1' } });
    assert.deepEqual([good.body.action, good.body.success], ['executed', true], good.body.reason);
    const e = await svc.get(`/api/v1/executions/${good.body.execution_id}`);
    assert.deepEqual(e.body.steps.map((s: any) => [s.phase, s.ok, s.detail]), [
      ['pre_check', true, 'empty result (on_empty: pass)'],
      ['action', true, e.body.steps[1].detail],
    ]);
    assert.equal(target.calls('/act/shop', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('without --prometheus-url a promql runbook is refused with the reason', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    const r = await svc.post('/api/v1/incidents', { root_cause: 'error_rate_high', service: 'shop' });
    assert.equal(r.body.event, 'EXECUTOR_UNAVAILABLE');
    assert.equal(r.body.reason, 'runbook fix-errors needs a Prometheus to query, which is not configured (set --prometheus-url)');
    await svc.stop({ remove: true });
  });
});

describe('overload', () => {
  it('answers 503 with Retry-After when more writes wait to be recorded than --max-pending, saying so and the fix, and accepts again after', async () => {
    const svc = await startTestService({ args: ['--max-pending', '1'] });
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => svc.post('/api/v1/incidents', { root_cause: 'x', service: `s${i}` })));
    const codes = answers.map((a) => a.status).sort();
    assert.ok(codes.includes(202));
    assert.ok(codes.includes(503), `codes ${codes}`);
    const refused = answers.find((a) => a.status === 503)!;
    assert.equal(refused.body.error.code, 'OVERLOADED');
    assert.equal(
      refused.body.error.message,
      'more than 1 writes are waiting to be recorded (--max-pending 1; an intake request counts one, however many alerts it holds); nothing of this request was recorded: send it again shortly (Alertmanager retries by itself), or raise --max-pending',
    );
    assert.equal(refused.headers['retry-after'], '5');
    const accepted = answers.filter((a) => a.status === 202).length;
    assert.equal((await svc.get('/api/v1/audit?event=NO_RUNBOOK&limit=100')).body.events.length, accepted, 'refused requests recorded nothing');
    assert.equal((await svc.post('/api/v1/incidents', { root_cause: 'x', service: 'later' })).status, 202);
    await svc.stop({ remove: true });
  });
});

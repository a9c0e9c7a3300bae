import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNamedCheckRunner } from '../../src/checks/named.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { namedCheck, stepContext } from './setup.js';

/**
 * metrics_improved and error_rate_normalized against a real Prometheus scraping
 * a real target: "before" is a query at the execution's start time, so the
 * history Prometheus keeps is what the check compares against.
 */
describe('named checks backed by Prometheus', () => {
  let target: HttpTarget;
  let prom: RunningDaemon;

  before(async () => {
    target = await startHttpTarget();
    target.setMetric('demo_cpu', 0.9);
    target.setMetric('demo_error_ratio', 0.2);
    prom = await startPrometheus({ scrapeTargets: [target.hostPort], scrapeIntervalSeconds: 1 });
    await waitForQuery(prom.url, 'demo_cpu', (v) => v[0] === 0.9);
    await waitForQuery(prom.url, 'demo_error_ratio', (v) => v[0] === 0.2);
  });
  after(async () => {
    await prom?.stop();
    await target?.close();
  });

  const values = { namespace: 'production', deployment: 'worker' };

  it('metrics_improved fails while the signal stays where it was, passes once it drops below the value at the start', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const ctx = stepContext({ startedAt: Date.now() });
    const flat = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_cpu' }, 2_500, 700), ctx);
    assert.equal(flat.ok, false);
    assert.match(flat.detail, /^demo_cpu: before 0\.9, now 0\.9 after \d+ attempts$/);

    target.setMetric('demo_cpu', 0.3);
    const better = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_cpu' }, 10_000, 500), ctx);
    assert.equal(better.ok, true, better.detail);
    assert.equal(better.detail, 'demo_cpu: before 0.9, now 0.3');
    assert.equal(better.observed, '0.3');
  });

  it('metrics_improved with no data at the start fails, naming the (default) query', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const out = await runner.run(namedCheck('metrics_improved', values, {}, 1_000, 1_000), stepContext());
    assert.equal(out.ok, false);
    assert.equal(
      out.detail,
      'no baseline: avg(rate(container_cpu_usage_seconds_total{namespace="production",pod=~"worker-[a-z0-9]+-[a-z0-9]+",container!=""}[5m])) had no data at the start of the execution after 1 attempt',
    );
  });

  it('error_rate_normalized fails above the threshold and passes once the ratio is below it', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const high = await runner.run(namedCheck('error_rate_normalized', values, { query: 'demo_error_ratio' }, 1_500, 700), stepContext());
    assert.equal(high.ok, false);
    assert.match(high.detail, /^error ratio 0\.2 \(threshold 0\.05\) after \d+ attempts$/);
    const lenient = await runner.run(namedCheck('error_rate_normalized', values, { query: 'demo_error_ratio', threshold: 0.5 }, 1_500, 700), stepContext());
    assert.equal(lenient.ok, true, lenient.detail);

    target.setMetric('demo_error_ratio', 0.01);
    const ok = await runner.run(namedCheck('error_rate_normalized', values, { query: 'demo_error_ratio' }, 10_000, 500), stepContext());
    assert.equal(ok.ok, true, ok.detail);
    assert.equal(ok.detail, 'error ratio 0.01 (threshold 0.05)');
  });

  it('error_rate_normalized with no data fails: silence is not health', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const out = await runner.run(namedCheck('error_rate_normalized', values, { query: 'no_such_metric' }, 1_000, 1_000), stepContext());
    assert.deepEqual(out, { ok: false, detail: 'no_such_metric returned no data after 1 attempt', attempts: 1 });
  });
});

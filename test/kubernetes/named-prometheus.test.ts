import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNamedCheckRunner } from '../../src/checks/named.js';
import { queryInstant } from '../../src/checks/promql.js';
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
  let traffic: NodeJS.Timeout | undefined;

  /**
   * http_requests_total counters in namespace shop, advanced together every 200 ms so
   * rate() sees real slopes: web's pods only ever answer 200 (no 5xx series exists);
   * api's answer 200 at 10/s and 500 at 2/s (an error ratio of 1/6). Deployment idle has
   * no series at all. Pods named like web's but of other workloads (StatefulSet web-db,
   * deployments web-db and web-canary, DaemonSet web-agent, Job web-migrate) answer only
   * 500: web's ratio stays 0 only if its query leaves them out. Deployment cart's pod
   * answers half its requests with 500; DaemonSet cart-agent's and Job cart-migrate's pods,
   * named like cart's under `[a-z0-9]` but not in Kubernetes' alphabet, answer 200 at 100/s.
   */
  const counters: Array<{ labels: Record<string, string>; perSecond: number; value: number }> = [
    { labels: { namespace: 'shop', pod: 'web-5d8c7b9f6-x2x4z', code: '200' }, perSecond: 20, value: 0 },
    { labels: { namespace: 'shop', pod: 'web-db-0', code: '500' }, perSecond: 3, value: 0 },
    { labels: { namespace: 'shop', pod: 'web-db-5d8c7b9f6-x2x4z', code: '500' }, perSecond: 3, value: 0 },
    { labels: { namespace: 'shop', pod: 'web-canary-5d8c7b9f6-x2x4z', code: '500' }, perSecond: 3, value: 0 },
    { labels: { namespace: 'shop', pod: 'web-agent-q9z4m', code: '500' }, perSecond: 3, value: 0 },
    { labels: { namespace: 'shop', pod: 'web-migrate-x7k2p', code: '500' }, perSecond: 3, value: 0 },
    { labels: { namespace: 'shop', pod: 'api-6c7d8f9b5-bcdfg', code: '200' }, perSecond: 10, value: 0 },
    { labels: { namespace: 'shop', pod: 'api-6c7d8f9b5-bcdfg', code: '500' }, perSecond: 2, value: 0 },
    // Labelled by `status`, not `code`: the default query cannot tell its errors.
    { labels: { namespace: 'shop', pod: 'legacy-7c8b9d5f2-fghjk', status: '500' }, perSecond: 5, value: 0 },
    { labels: { namespace: 'shop', pod: 'cart-6d9f7b8c5-k4x2z', code: '200' }, perSecond: 2, value: 0 },
    { labels: { namespace: 'shop', pod: 'cart-6d9f7b8c5-k4x2z', code: '500' }, perSecond: 2, value: 0 },
    { labels: { namespace: 'shop', pod: 'cart-agent-q9z4m', code: '200' }, perSecond: 100, value: 0 },
    { labels: { namespace: 'shop', pod: 'cart-migrate-x7k2p', code: '200' }, perSecond: 100, value: 0 },
  ];
  /**
   * container_cpu_usage_seconds_total of deployment busy's three pods, 0.6 cores each,
   * and (once a test scales it up) of a fourth that idles.
   */
  const cpu: Array<{ labels: Record<string, string>; perSecond: number; value: number }> = ['busy-7c9d8f6b5-fffff', 'busy-7c9d8f6b5-bbbbb', 'busy-7c9d8f6b5-ccccc'].map((pod) => ({
    labels: { namespace: 'shop', pod, container: 'app' },
    perSecond: 0.6,
    value: 0,
  }));

  before(async () => {
    target = await startHttpTarget();
    target.setMetric('demo_cpu', 0.9);
    target.setMetric('demo_error_ratio', 0.2);
    // Non-finite values (what x/0 gives in PromQL): never a measurement that passes.
    target.setMetric('demo_neg_inf', -Infinity);
    target.setMetric('demo_pos_inf', Infinity);
    target.setMetric('demo_mixed', -Infinity, { pod: 'a' });
    target.setMetric('demo_mixed', 0.01, { pod: 'b' });
    target.setMetric('demo_spike', Infinity);
    target.setMetric('demo_drop', 0.9);
    target.setMetric('demo_latency', 1);
    const tick = () => {
      for (const c of counters) {
        target.setMetric('http_requests_total', c.value, c.labels);
        c.value += c.perSecond * 0.2;
      }
      for (const c of cpu) {
        target.setMetric('container_cpu_usage_seconds_total', c.value, c.labels);
        c.value += c.perSecond * 0.2;
      }
    };
    tick();
    traffic = setInterval(tick, 200);
    prom = await startPrometheus({ scrapeTargets: [target.hostPort], scrapeIntervalSeconds: 1 });
    await waitForQuery(prom.url, 'demo_cpu', (v) => v[0] === 0.9);
    await waitForQuery(prom.url, 'demo_error_ratio', (v) => v[0] === 0.2);
    await waitForQuery(prom.url, 'demo_neg_inf', (v) => v[0] === -Infinity);
    await waitForQuery(prom.url, 'demo_pos_inf', (v) => v[0] === Infinity);
    await waitForQuery(prom.url, 'demo_mixed', (v) => v.length === 2);
    await waitForQuery(prom.url, 'demo_spike', (v) => v[0] === Infinity);
    await waitForQuery(prom.url, 'demo_drop', (v) => v[0] === 0.9);
    await waitForQuery(prom.url, 'demo_latency', (v) => v[0] === 1);
    // rate() needs two samples of every series.
    await waitForQuery(prom.url, 'count(rate(http_requests_total{namespace="shop"}[5m]) > 0)', (v) => v[0] === counters.length);
  });
  after(async () => {
    if (traffic) clearInterval(traffic);
    await prom?.stop();
    await target?.close();
  });

  const values = { namespace: 'production', deployment: 'worker' };
  /** The characters of a pod-template-hash and a pod name's suffix. */
  const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

  it('metrics_improved fails while the signal stays where it was, passes once it drops below the value at the start', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const ctx = stepContext({ startedAt: Date.now() });
    const flat = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_cpu' }, 2_500, 700), ctx);
    assert.equal(flat.ok, false);
    assert.match(flat.detail, /^demo_cpu: before 0\.9, now 0\.9; improved means at least 10% lower \(at most 0\.81\) after \d+ attempts$/);

    target.setMetric('demo_cpu', 0.3);
    const better = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_cpu' }, 10_000, 500), ctx);
    assert.equal(better.ok, true, better.detail);
    assert.equal(better.detail, 'demo_cpu: before 0.9, now 0.3; improved means at least 10% lower (at most 0.81)');
    assert.equal(better.observed, '0.3');
  });

  it('metrics_improved needs a drop of at least its margin (10% by default): a slight one, rounding noise as much as 5% less, is no improvement', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const ctx = stepContext({ startedAt: Date.now() });
    target.setMetric('demo_latency', 0.95);
    await waitForQuery(prom.url, 'demo_latency', (v) => v[0] === 0.95);
    const slight = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_latency' }, 200, 1_000), ctx);
    assert.deepEqual(slight, { ok: false, detail: 'demo_latency: before 1, now 0.95; improved means at least 10% lower (at most 0.9) after 2 attempts', observed: '0.95', attempts: 2 });
    // A smaller margin, as a fraction or a percentage, accepts it.
    const small = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_latency', margin: 0.04 }, 1_000, 1_000), ctx);
    assert.deepEqual(small, { ok: true, detail: 'demo_latency: before 1, now 0.95; improved means at least 4% lower (at most 0.96)', observed: '0.95', attempts: 1 });
    const pct = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_latency', margin: '5%' }, 1_000, 1_000), ctx);
    assert.deepEqual(pct, { ok: true, detail: 'demo_latency: before 1, now 0.95; improved means at least 5% lower (at most 0.95)', observed: '0.95', attempts: 1 });
  });

  // A timeout of 200 ms with a 1 s interval, here and below: a failing check is asked
  // twice, at 0 ms and at its timeout, and its detail is the last answer.
  it('metrics_improved with no data at the start fails, naming the (default) query', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const out = await runner.run(namedCheck('metrics_improved', values, {}, 200, 1_000), stepContext());
    assert.equal(out.ok, false);
    assert.equal(
      out.detail,
      'no baseline: max(sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="production",pod=~"worker-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}",container!=""}[5m]))) had no data at the start of the execution after 2 attempts',
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

  describe('error_rate_normalized with its default query over http_requests_total', () => {
    const query = (deployment: string): string => {
      const sel = `namespace="shop",pod=~"${deployment}-[${ALPHABET}]{1,10}-[${ALPHABET}]{5}"`;
      return `(sum(rate(http_requests_total{${sel},code=~"5.."}[5m])) or sum(rate(http_requests_total{${sel},code=~".+"}[5m])) * 0) / sum(rate(http_requests_total{${sel}}[5m]))`;
    };

    it('passes for pods that have never served a 5xx (no 5xx series exists): an error ratio of 0, other workloads\' pods named alike left out', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('error_rate_normalized', { namespace: 'shop', deployment: 'web' }, { threshold: 0.05 }, 1_000, 1_000), stepContext());
      assert.deepEqual(out, { ok: true, detail: 'error ratio 0 (threshold 0.05)', observed: '0', attempts: 1 });
    });

    it("selects only the deployment's own pods: <deployment>-<1 to 10 characters>-<5 characters>, of Kubernetes' alphabet", async () => {
      // The pod regex as the check renders it (metrics_improved names its query when there is no baseline).
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('metrics_improved', { namespace: 'shop', deployment: 'web' }, {}, 200, 1_000), stepContext());
      const re = /pod=~"([^"]*)"/.exec(out.detail)?.[1];
      assert.equal(re, 'web-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}', out.detail);
      const r = await queryInstant(prom.url, `group by (pod) (http_requests_total{namespace="shop",pod=~"${re}"})`, { signal: AbortSignal.timeout(5_000) });
      assert.deepEqual(r.samples.map((s) => s.metric.pod), ['web-5d8c7b9f6-x2x4z']);
    });

    it("is not diluted by a DaemonSet's or a Job's pods named <deployment>-<word>-<5 characters>: their words are not of Kubernetes' alphabet", async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('error_rate_normalized', { namespace: 'shop', deployment: 'cart' }, { threshold: 0.05 }, 200, 1_000), stepContext());
      assert.equal(out.ok, false, out.detail);
      assert.deepEqual({ detail: out.detail, observed: out.observed }, { detail: 'error ratio 0.5 (threshold 0.05) after 2 attempts', observed: '0.5' });
    });

    it('fails while the 5xx ratio is above the threshold', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('error_rate_normalized', { namespace: 'shop', deployment: 'api' }, { threshold: 0.05 }, 1_500, 700), stepContext());
      assert.equal(out.ok, false);
      const m = /^error ratio (0\.\d+) \(threshold 0\.05\) after (\d+) attempts$/.exec(out.detail);
      assert.ok(m, out.detail);
      assert.ok(Math.abs(Number(m[1]) - 1 / 6) < 1e-9, `2/s of 12/s are 5xx, got ${m[1]}`);
      assert.equal(out.observed, m[1]);
      assert.equal(out.attempts, Number(m[2]));
    });

    it('fails with no data when the requests carry no `code` label (every one may be an error)', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('error_rate_normalized', { namespace: 'shop', deployment: 'legacy' }, { threshold: 0.05 }, 200, 1_000), stepContext());
      assert.deepEqual(out, { ok: false, detail: `${query('legacy')} returned no data after 2 attempts`, attempts: 2, inconclusive: true });
    });

    it('fails with no data when the pods have no traffic series at all', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('error_rate_normalized', { namespace: 'shop', deployment: 'idle' }, { threshold: 0.05 }, 200, 1_000), stepContext());
      assert.deepEqual(out, { ok: false, detail: `${query('idle')} returned no data after 2 attempts`, attempts: 2, inconclusive: true });
    });
  });

  it('error_rate_normalized fails on -Inf and +Inf, alone or beside a passing series, saying the value is not finite', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const neg = await runner.run(namedCheck('error_rate_normalized', values, { query: 'demo_neg_inf' }, 200, 1_000), stepContext());
    assert.deepEqual(neg, { ok: false, detail: 'demo_neg_inf is -Inf, not a finite error ratio after 2 attempts', observed: '-Inf', attempts: 2 });
    const pos = await runner.run(namedCheck('error_rate_normalized', values, { query: 'demo_pos_inf' }, 200, 1_000), stepContext());
    assert.deepEqual(pos, { ok: false, detail: 'demo_pos_inf is +Inf, not a finite error ratio after 2 attempts', observed: '+Inf', attempts: 2 });
    // The worst series of 0.01 and -Inf is not 0.01.
    const mixed = await runner.run(namedCheck('error_rate_normalized', values, { query: 'demo_mixed' }, 200, 1_000), stepContext());
    const scraped = `{__name__="demo_mixed", instance="${target.hostPort}", job="targets", pod="a"}`;
    assert.deepEqual(mixed, { ok: false, detail: `demo_mixed is -Inf, not a finite error ratio for ${scraped} (1 of 2 series) after 2 attempts`, observed: '-Inf', attempts: 2 });
  });

  it('metrics_improved fails when the value drops to -Inf: below the baseline, but no measurement', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    // The baseline is read at the run's start: a start a few scrapes back, when demo_drop was
    // 0.9, so a scrape begun just before the change but answered after it (a busy machine)
    // cannot be taken for the value at the start.
    const ctx = stepContext({ startedAt: Date.now() - 2_500 });
    target.setMetric('demo_drop', -Infinity);
    await waitForQuery(prom.url, 'demo_drop', (v) => v[0] === -Infinity);
    const out = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_drop' }, 200, 1_000), ctx);
    assert.deepEqual(out, { ok: false, detail: 'demo_drop is -Inf now, not a finite value (before: 0.9) after 2 attempts', observed: '-Inf', attempts: 2 });
  });

  it('metrics_improved with a +Inf baseline fails, though the value is finite now: nothing to improve on', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const ctx = stepContext({ startedAt: Date.now() });
    target.setMetric('demo_spike', 0.5);
    await waitForQuery(prom.url, 'demo_spike', (v) => v[0] === 0.5);
    const out = await runner.run(namedCheck('metrics_improved', values, { query: 'demo_spike' }, 200, 1_000), ctx);
    assert.deepEqual(out, { ok: false, detail: 'no baseline: demo_spike was +Inf at the start of the execution, not a finite value after 2 attempts', attempts: 2 });
  });

  it('metrics_improved (default query) is not fooled by an idle pod a scale-up adds: the busiest pod is judged, not the average', async () => {
    const busy = 'container_cpu_usage_seconds_total{namespace="shop",pod=~"busy-.*"}';
    // History enough that rate() over it moves slowly (it grows with the history it covers).
    await waitForQuery(prom.url, `min(count_over_time(${busy}[5m]))`, (v) => (v[0] ?? 0) >= 30, 60_000);
    const ctx = stepContext({ startedAt: Date.now() });
    // The scale-up: a fourth pod joins and takes no load; the three keep theirs.
    cpu.push({ labels: { namespace: 'shop', pod: 'busy-7c9d8f6b5-ddddd', container: 'app' }, perSecond: 0, value: 0 });
    await waitForQuery(prom.url, `count(rate(${busy}[5m]))`, (v) => v[0] === 4);
    // The trap: an average over the pods dropped, only because the idle pod joined it.
    const avg = `avg(rate(${busy}[5m]))`;
    const [avgBefore] = (await queryInstant(prom.url, avg, { signal: AbortSignal.timeout(5_000), time: ctx.startedAt })).samples.map((x) => x.value);
    const [avgNow] = (await queryInstant(prom.url, avg, { signal: AbortSignal.timeout(5_000) })).samples.map((x) => x.value);
    assert.ok(avgNow! < avgBefore!, `the average fell: ${avgBefore} → ${avgNow}`);

    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const out = await runner.run(namedCheck('metrics_improved', { namespace: 'shop', deployment: 'busy' }, {}, 1_500, 700), ctx);
    assert.equal(out.ok, false, out.detail);
    const m = /^max\(sum by \(pod\) \(rate\(container_cpu_usage_seconds_total\{namespace="shop",pod=~"busy-\[bcdfghjklmnpqrstvwxz2456789\]\{1,10\}-\[bcdfghjklmnpqrstvwxz2456789\]\{5\}",container!=""\}\[5m\]\)\)\): before ([\d.e-]+), now ([\d.e-]+); improved means at least 10% lower \(at most [\d.e-]+\) after \d+ attempts$/.exec(out.detail);
    assert.ok(m, out.detail);
    assert.ok(Number(m[2]) >= Number(m[1]), out.detail);
  });

  // Regression: the first non-finite series was the answer, before the others were looked
  // at: one idle pod's 0/0 beside a pod at 90 % errors read "NaN (no traffic?)", inconclusive,
  // and with on_no_data: needs_human the rollback of a measured failure was held.
  describe('a NaN series (0/0: a pod with no traffic) beside others', () => {
    const nanBesideFailing = '(vector(0)/vector(0)) or label_replace(vector(0.9), "pod", "b", "", "")';

    it('error_rate_normalized fails on the series measured above the threshold, not inconclusive', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('error_rate_normalized', values, { query: nanBesideFailing }, 200, 1_000), stepContext());
      assert.deepEqual(out, { ok: false, detail: 'error ratio 0.9 (threshold 0.05) for {pod="b"} (2 of 2 series) after 2 attempts', observed: '0.9', attempts: 2 });
    });

    it('error_rate_normalized with NaN beside passing series only is still inconclusive, naming the NaN one', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const q = '(vector(0)/vector(0)) or label_replace(vector(0.01), "pod", "b", "", "")';
      const out = await runner.run(namedCheck('error_rate_normalized', values, { query: q }, 200, 1_000), stepContext());
      assert.deepEqual(out, { ok: false, detail: `${q} is NaN (no traffic?) for {} (1 of 2 series) after 2 attempts`, observed: 'NaN', attempts: 2, inconclusive: true });
      const alone = await runner.run(namedCheck('error_rate_normalized', values, { query: 'vector(0)/vector(0)' }, 200, 1_000), stepContext());
      assert.deepEqual(alone, { ok: false, detail: 'vector(0)/vector(0) is NaN (no traffic?) after 2 attempts', observed: 'NaN', attempts: 2, inconclusive: true });
    });

    it('metrics_improved fails on the series measured not improved, not inconclusive; the baseline is the worst finite series', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const out = await runner.run(namedCheck('metrics_improved', values, { query: nanBesideFailing }, 200, 1_000), stepContext({ startedAt: Date.now() }));
      assert.deepEqual(out, {
        ok: false,
        detail: `${nanBesideFailing}: before 0.9, now 0.9 for {pod="b"} (2 of 2 series); improved means at least 10% lower (at most 0.81) after 2 attempts`,
        observed: '0.9',
        attempts: 2,
      });
    });

    it('metrics_improved: a NaN series now beside improved ones is inconclusive; one at the start is left out of the baseline; NaN alone is no baseline', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
      const startedAt = Date.now() - 10_000;
      const cut = (startedAt + 5_000) / 1000;
      // Pod a: 0/1 at the start, 0/0 now; pod b: 0.9 at the start, 0 now.
      const nanNow = `label_replace(vector(0)/vector(time() < bool ${cut}), "pod", "a", "", "") or label_replace(vector(0.9 - 0.9 * (time() >= bool ${cut})), "pod", "b", "", "")`;
      const later = await runner.run(namedCheck('metrics_improved', values, { query: nanNow }, 200, 1_000), stepContext({ startedAt }));
      assert.deepEqual(later, { ok: false, detail: `${nanNow} is NaN now, not a finite value (before: 0.9) for {pod="a"} (1 of 2 series) after 2 attempts`, observed: 'NaN', attempts: 2, inconclusive: true });
      // Pod a: 0/0 at the start, 0/1 now: the baseline is b's 0.9, and both are improved on it.
      const nanThen = `label_replace(vector(0)/vector(time() >= bool ${cut}), "pod", "a", "", "") or label_replace(vector(0.9 - 0.9 * (time() >= bool ${cut})), "pod", "b", "", "")`;
      const improved = await runner.run(namedCheck('metrics_improved', values, { query: nanThen }, 1_000, 1_000), stepContext({ startedAt }));
      assert.deepEqual(improved, { ok: true, detail: `${nanThen}: before 0.9, now 0; improved means at least 10% lower (at most 0.81)`, observed: '0', attempts: 1 });
      const alone = await runner.run(namedCheck('metrics_improved', values, { query: 'vector(0)/vector(0)' }, 200, 1_000), stepContext({ startedAt }));
      assert.deepEqual(alone, { ok: false, detail: 'no baseline: vector(0)/vector(0) was NaN at the start of the execution, not a finite value after 2 attempts', attempts: 2, inconclusive: true });
    });
  });

  it('error_rate_normalized with no data fails: silence is not health', async () => {
    const runner = createNamedCheckRunner({ prometheusUrl: prom.url });
    const out = await runner.run(namedCheck('error_rate_normalized', values, { query: 'no_such_metric' }, 200, 1_000), stepContext());
    assert.deepEqual(out, { ok: false, detail: 'no_such_metric returned no data after 2 attempts', attempts: 2, inconclusive: true });
  });
});

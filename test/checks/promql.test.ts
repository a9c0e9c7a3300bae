import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { RenderedPromqlCheck } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { createNamedCheckRunner } from '../../src/checks/named.js';
import { createPromqlCheckRunner, judgeSamples, PromqlClockSkewError, PromqlQueryError, queryInstant } from '../../src/checks/promql.js';
import { httpRequest, type HttpRequest } from '../../src/checks/http-client.js';
import type { Clock } from '../../src/lib/index.js';
import { parseRunbooksText, renderChecks } from '../../src/runbooks/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { freePort, startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';

/**
 * Against a real Prometheus (one per file) scraping a real metrics target every
 * second. Each test uses its own metric names so no test waits for another's
 * value to go stale.
 */
function ctx(signal: AbortSignal = new AbortController().signal): StepContext {
  return { signal, log: pino({ level: 'silent' }), startedAt: Date.now(), memo: new Map() };
}
const check = (query: string, over: Partial<RenderedPromqlCheck> = {}): RenderedPromqlCheck => ({
  type: 'promql',
  query,
  expect: { op: '<', value: 0.05 },
  forMs: 0,
  timeoutMs: 2_000,
  intervalMs: 250,
  onEmpty: 'fail',
  ...over,
});

describe('promql check against a real Prometheus', () => {
  let target: HttpTarget;
  let prom: RunningDaemon;
  const testStarted = Date.now();

  before(async () => {
    target = await startHttpTarget();
    target.setMetric('demo_ok_ratio', 0.01);
    target.setMetric('demo_error_ratio', 0.2);
    target.setMetric('demo_flap_ratio', 0.01);
    target.setMetric('demo_latency_seconds', 0.1, { pod: 'a' });
    target.setMetric('demo_latency_seconds', 0.9, { pod: 'b' });
    // "." is a regex metacharacter and allowed in a label value: a.i as a pattern is also aXi and api.
    for (const svc of ['a.i', 'aXi', 'api']) target.setMetric('probe_good', 1, { svc });
    prom = await startPrometheus({ scrapeTargets: [target.hostPort] });
    // Prometheus applies new scrape targets after a few seconds; wait once for all.
    await waitForQuery(prom.url, 'count(demo_latency_seconds)', (v) => v[0] === 2, 20_000);
    await waitForQuery(prom.url, 'count(probe_good)', (v) => v[0] === 3);
  });
  after(async () => {
    await prom?.stop();
    await target?.close();
  });

  it('a placeholder in a regex matcher selects only the series its value names, as rendered from a runbook', async () => {
    const { runbooks, problems } = parseRunbooksText(
      `runbooks:
  t:
    risk: LOW
    triggers: [x]
    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}
    post_checks:
      - promql: {query: 'count(probe_good{svc=~"{svc}"})', expect: "== 1"}
`,
      'inline.yaml',
    );
    assert.deepEqual(problems, []);
    const r = renderChecks(runbooks[0]!.postChecks, { svc: 'a.i' }, 'post_check');
    assert.ok(r.ok && r.checks[0]?.type === 'promql');
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(r.checks[0], ctx());
    assert.deepEqual(out, { ok: true, detail: 'expected == 1, got 1', observed: '1', attempts: 1 });
  });

  it('passes when the scraped metric is below the threshold', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check('demo_ok_ratio'), ctx());
    assert.deepEqual(out, { ok: true, detail: 'expected < 0.05, got 0.01', observed: '0.01', attempts: 1 });
  });

  it('fails with the exact detail when the metric stays above it', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(
      check('demo_error_ratio', { timeoutMs: 1_000, intervalMs: 250 }),
      ctx(),
    );
    // Five attempts at 0, 250, 500, 750 ms and the last at the timeout, 1 s; one fewer
    // when a loaded machine makes a query take longer than the interval.
    assert.ok(out.attempts === 5 || out.attempts === 4, `attempts ${out.attempts}`);
    assert.deepEqual(out, { ok: false, detail: `expected < 0.05, got 0.2 after ${out.attempts} attempts`, observed: '0.2', attempts: out.attempts });
  });

  it('every series must satisfy the expectation; the detail names the failing one', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(
      check('demo_latency_seconds', { expect: { op: '<', value: 0.5 }, timeoutMs: 200 }),
      ctx(),
    );
    assert.equal(out.ok, false);
    // At 0 ms and at the timeout, 200 ms (the 250 ms interval falls past it).
    assert.equal(
      out.detail,
      `expected < 0.5, got 0.9 for {__name__="demo_latency_seconds", instance="${target.hostPort}", job="targets", pod="b"} (1 of 2 series) after 2 attempts`,
    );
    const all = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check('demo_latency_seconds', { expect: { op: '<', value: 1 } }), ctx());
    assert.equal(all.ok, true);
  });

  it('for_seconds needs consecutive passes for that long', async () => {
    const started = Date.now();
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(
      check('demo_ok_ratio', { forMs: 2_000, timeoutMs: 5_000, intervalMs: 500 }),
      ctx(),
    );
    // Passes at 0, 0.5, 1, 1.5 and 2 s: the fifth attempt completes the window.
    assert.deepEqual(out, { ok: true, detail: 'expected < 0.05, got 0.01, held for 2s', observed: '0.01', attempts: 5 });
    assert.ok(Date.now() - started >= 2_000);
  });

  // Regression: the hold was counted up to when an answer arrived, so an answer that took
  // its time (a loaded Prometheus, a slow proxy) counted as time the condition held.
  it('for_seconds is counted between the attempts\' starts, each query evaluated at its start: a late answer adds nothing to the hold', async () => {
    // A proxy in front of the real Prometheus that answers the second query 2 s late.
    const proxy = await startHttpTarget();
    proxy.route('GET', '/api/v1/query', async (req, call) => {
      const res = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams(req.query)}`);
      return { status: res.status, body: await res.json(), delayMs: call === 2 ? 2_000 : 0 };
    });
    try {
      const out = await createPromqlCheckRunner({ prometheusUrl: proxy.url }).run(check('demo_ok_ratio', { forMs: 2_500, timeoutMs: 6_000, intervalMs: 1_000 }), ctx());
      // Attempts start at 0 and 1 s; the second answers at 3 s, which held 1 s, not 3 s. The
      // third, at once, is the first to start 2.5 s after the first.
      assert.deepEqual(out, { ok: true, detail: 'expected < 0.05, got 0.01, held for 2.5s', observed: '0.01', attempts: 3 });
      // Each query asked for the instant its attempt started, in seconds as Prometheus reads them.
      const times = proxy.requests('/api/v1/query').map((r) => r.query.time);
      assert.equal(times.length, 3);
      for (const t of times) assert.match(t ?? '', /^\d+\.\d{3}$/);
      const secs = times.map(Number);
      assert.ok(secs[0]! < secs[1]! && secs[1]! < secs[2]!, times.join(', '));
    } finally {
      await proxy.close();
    }
  });

  it('for_seconds: a bad sample within the window restarts the count, and the check fails', async () => {
    // Good now, bad from the next scrape on: a check without `for` would pass at once.
    const runner = createPromqlCheckRunner({ prometheusUrl: prom.url });
    setTimeout(() => target.setMetric('demo_flap_ratio', 0.3), 100);
    const out = await runner.run(check('demo_flap_ratio', { forMs: 3_000, timeoutMs: 3_500, intervalMs: 250 }), ctx());
    assert.equal(out.ok, false);
    assert.match(out.detail, /^expected < 0\.05, got 0\.3 after \d+ attempts$/);
  });

  it('an empty vector fails by default (no data is not good news)', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check('demo_no_such_metric', { timeoutMs: 400 }), ctx());
    // At 0 and 250 ms, and the last at the timeout, 400 ms.
    assert.deepEqual(out, { ok: false, detail: 'no data: the query returned an empty vector after 3 attempts', attempts: 3, inconclusive: true });
  });

  it('an empty vector passes with on_empty: pass', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check('demo_no_such_metric', { onEmpty: 'pass' }), ctx());
    assert.deepEqual(out, { ok: true, detail: 'empty result (on_empty: pass)', attempts: 1 });
  });

  it('a Prometheus query error fails with its errorType', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check('sum(demo_ok_ratio', { timeoutMs: 200 }), ctx());
    assert.equal(out.ok, false);
    assert.equal(out.attempts, 2);
    assert.match(out.detail, /^query error bad_data: .*parse error.* after 2 attempts$/);
    // It could not measure: a runbook may hold its rollback on it (on_no_data: needs_human).
    assert.equal(out.inconclusive, true);
  });

  // Regression: only the body's status was read, so a success body with `warnings` (the
  // result computed without a failed remote_read's data) and one under HTTP 500 passed.
  it('an answer with warnings (partial: a remote_read that fails) is inconclusive, never a pass, for promql and named checks', async () => {
    const closed = await freePort();
    const partial = await startPrometheus({ remoteReadUrls: [`http://127.0.0.1:${closed}/api/v1/read`] });
    try {
      // The selector reaches the remote_read; its error becomes a warning beside the 0.01.
      const query = 'sum(demo_ok_ratio) or vector(0.01)';
      const warning = `remote_read: error sending request: Post "http://127.0.0.1:${closed}/api/v1/read": dial tcp 127.0.0.1:${closed}: connect: connection refused`;
      const quoted = JSON.stringify(`${warning.slice(0, 80)}…`);
      const out = await createPromqlCheckRunner({ prometheusUrl: partial.url }).run(check(query, { timeoutMs: 200 }), ctx());
      assert.deepEqual(out, { ok: false, detail: `Prometheus answered in part, warning ${quoted} after 2 attempts`, attempts: 2, inconclusive: true });
      const named = await createNamedCheckRunner({ prometheusUrl: partial.url }).run(
        { type: 'named', name: 'error_rate_normalized', params: { query }, values: {}, timeoutMs: 200, intervalMs: 1_000 },
        ctx(),
      );
      assert.deepEqual(named, { ok: false, detail: `Prometheus answered in part, warning ${quoted} after 2 attempts`, attempts: 2, inconclusive: true });
    } finally {
      await partial.stop();
    }
  });

  // Regression: every `warnings` entry made the answer partial, so a query Prometheus (before
  // `infos` had a field of its own) or Thanos annotated, a rate over a metric not
  // named like a counter, say, could never pass: the check was inconclusive, every time.
  it("PromQL's own annotations among the warnings (an older Prometheus, Thanos) do not make the answer partial; any other warning still does", async () => {
    const standIn = await startHttpTarget();
    const info = 'PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "app_errors"';
    const bucket = 'PromQL warning: bucket label "le" is missing or has a malformed value of "" for metric name "app_latency_bucket"';
    const answer = (value: string, warnings: string[]) => ({
      status: 200,
      body: { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, value] }] }, warnings },
    });
    const noted = `Prometheus noted ${JSON.stringify(`${info.slice(0, 80)}…`)}`;
    try {
      standIn.route('GET', '/api/v1/query', answer('0.01', [info]));
      const pass = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('sum(rate(app_errors[5m]))', { timeoutMs: 200 }), ctx());
      assert.deepEqual(pass, { ok: true, detail: `expected < 0.05, got 0.01 (${noted})`, attempts: 1, observed: '0.01' });
      const named = await createNamedCheckRunner({ prometheusUrl: standIn.url }).run(
        { type: 'named', name: 'error_rate_normalized', params: { query: 'sum(rate(app_errors[5m]))' }, values: {}, timeoutMs: 200, intervalMs: 1_000 },
        ctx(),
      );
      assert.equal(named.ok, true, named.detail);
      // A measured bad value with an annotation fails as measured, not as inconclusive.
      standIn.route('GET', '/api/v1/query', answer('0.2', [bucket, info]));
      const fail = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('sum(rate(app_errors[5m]))', { timeoutMs: 200 }), ctx());
      assert.deepEqual(fail, {
        ok: false,
        detail: `expected < 0.05, got 0.2 (Prometheus noted ${JSON.stringify(`${bucket.slice(0, 80)}…`)} (and 1 more)) after 2 attempts`,
        attempts: 2,
        observed: '0.2',
      });
      // Thanos' partial response beside an annotation: the result may lack a store's data.
      const store = 'fetch series for {__name__="app_errors"} store 10.0.0.7:10901: rpc error: code = Unavailable desc = connection refused';
      standIn.route('GET', '/api/v1/query', answer('0.01', [info, store]));
      const partial = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('sum(rate(app_errors[5m]))', { timeoutMs: 200 }), ctx());
      assert.deepEqual(partial, {
        ok: false,
        detail: `Prometheus answered in part, warning ${JSON.stringify(`${store.slice(0, 80)}…`)} after 2 attempts`,
        attempts: 2,
        inconclusive: true,
      });
      // Only the prefix PromQL writes counts: a warning merely mentioning it is still partial.
      standIn.route('GET', '/api/v1/query', answer('0.01', ['remote_read: PromQL info: not an annotation']));
      const mention = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('sum(rate(app_errors[5m]))', { timeoutMs: 200 }), ctx());
      assert.equal(mention.inconclusive, true, mention.detail);
    } finally {
      await standIn.close();
    }
  });

  it('a non-2xx answer is inconclusive, never a pass, even with a success body', async () => {
    const standIn = await startHttpTarget();
    standIn.route('GET', '/api/v1/query', { status: 500, body: { status: 'success', data: { resultType: 'scalar', result: [0, '0.01'] } } });
    try {
      const out = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('demo_ok_ratio', { timeoutMs: 200 }), ctx());
      assert.deepEqual(out, { ok: false, detail: 'Prometheus: Prometheus answered HTTP 500 (not 2xx) with a success body after 2 attempts', attempts: 2, inconclusive: true });
      const named = await createNamedCheckRunner({ prometheusUrl: standIn.url }).run(
        { type: 'named', name: 'error_rate_normalized', params: { query: 'demo_ok_ratio' }, values: {}, timeoutMs: 200, intervalMs: 1_000 },
        ctx(),
      );
      assert.deepEqual(named, { ok: false, detail: 'Prometheus answered HTTP 500 (not 2xx) with a success body after 2 attempts', attempts: 2, inconclusive: true });
      // An error body keeps its errorType, whatever the status.
      standIn.route('GET', '/api/v1/query', { status: 503, body: { status: 'error', errorType: 'unavailable', error: 'not ready' } });
      const err = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('demo_ok_ratio', { timeoutMs: 200 }), ctx());
      assert.deepEqual(err, { ok: false, detail: 'query error unavailable: not ready after 2 attempts', attempts: 2, inconclusive: true });
    } finally {
      await standIn.close();
    }
  });

  it('NaN and Inf never pass, whatever the operator', async () => {
    const runner = createPromqlCheckRunner({ prometheusUrl: prom.url });
    const nan = await runner.run(check('0/0', { expect: { op: '!=', value: 0 }, timeoutMs: 200 }), ctx());
    assert.deepEqual(nan, { ok: false, detail: 'expected != 0, got NaN after 2 attempts', observed: 'NaN', attempts: 2, inconclusive: true });
    const inf = await runner.run(check('vector(1/0)', { expect: { op: '>', value: 0 }, timeoutMs: 200 }), ctx());
    assert.deepEqual(inf, { ok: false, detail: 'expected > 0, got +Inf after 2 attempts', observed: '+Inf', attempts: 2 });
  });

  // Regression: a series with no data (NaN) beside one measured failing named the NaN one
  // ("got NaN for {i="1"}"): a run rolled back on a measured 5 read as one with no data.
  it('a failing detail names a series measured failing before a NaN one, and keeps the count', async () => {
    const q = 'label_replace(vector(0/0), "i", "1", "", "") or label_replace(vector(5), "i", "2", "", "")';
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check(q, { expect: { op: '<', value: 1 }, timeoutMs: 200 }), ctx());
    assert.deepEqual(out, { ok: false, detail: 'expected < 1, got 5 for {i="2"} (2 of 2 series) after 2 attempts', observed: '5', attempts: 2 });
    // Whatever order the series come in.
    const nanFirst = { resultType: 'vector' as const, samples: [{ metric: { i: '1' }, value: NaN }, { metric: { i: '2' }, value: 5 }] };
    assert.deepEqual(judgeSamples(nanFirst, { op: '<', value: 1 }, 'fail'), { pass: false, observed: '5', detail: 'expected < 1, got 5 for {i="2"} (2 of 2 series)' });
    // NaN alone is still no measurement: inconclusive, named as before.
    const nanOnly = { resultType: 'vector' as const, samples: [{ metric: { i: '1' }, value: NaN }, { metric: { i: '2' }, value: 0 }] };
    assert.deepEqual(judgeSamples(nanOnly, { op: '<', value: 1 }, 'fail'), { pass: false, observed: 'NaN', detail: 'expected < 1, got NaN for {i="1"} (1 of 2 series)', unknown: true });
  });

  it('handles scalar results', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check('scalar(demo_ok_ratio)'), ctx());
    assert.equal(out.ok, true);
    assert.equal(out.observed, '0.01');
  });

  it('an unsupported result type is a failed attempt', async () => {
    const out = await createPromqlCheckRunner({ prometheusUrl: prom.url }).run(check('demo_ok_ratio[1m]', { timeoutMs: 200 }), ctx());
    assert.equal(out.detail, 'Prometheus: unsupported result type matrix: a check needs an instant vector or a scalar after 2 attempts');
  });

  it('a vector answer without a result array is a failed attempt that says so, not an unsupported type', async () => {
    const standIn = await startHttpTarget();
    standIn.route('GET', '/api/v1/query', { status: 200, body: { status: 'success', data: { resultType: 'vector' } } });
    try {
      const out = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('demo_ok_ratio', { timeoutMs: 200 }), ctx());
      assert.deepEqual(out, { ok: false, detail: 'Prometheus: Prometheus returned a vector answer without a result array after 2 attempts', attempts: 2, inconclusive: true });
    } finally {
      await standIn.close();
    }
  });

  it('queries carrying /, ?, # and quotes reach Prometheus intact', async () => {
    const q = 'demo_ok_ratio{job="targets", instance=~".+"} / 1 # a comment ? with /slashes';
    const r = await queryInstant(`${prom.url}/`, q, { signal: AbortSignal.timeout(2_000) });
    assert.deepEqual(r.samples.map((s) => s.value), [0.01]);
  });

  it('queryInstant evaluates at a given time (before the metric existed: empty)', async () => {
    const r = await queryInstant(prom.url, 'demo_ok_ratio', { time: testStarted - 3_600_000, signal: AbortSignal.timeout(2_000) });
    assert.deepEqual(r, { resultType: 'vector', samples: [] });
  });

  describe("rectify's clock against Prometheus'", () => {
    /** rectify's wall clock, `offsetMs` from the system's (Prometheus' here). */
    const shifted = (offsetMs: number): Clock => ({ now: () => Date.now() + offsetMs });
    /** True at Prometheus' own now: its time is past the instant 5 minutes before the check. */
    const recentQuery = (): string => `time() - ${Math.floor(Date.now() / 1000 - 300)}`;
    const SKEW = /^Prometheus' clock \(its answer's Date, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z\) is (599|600) s ahead of rectify's \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z\), more than 30 s: a query evaluated at rectify's time would read its past, so the answer is not judged after 2 attempts$/;

    // Regression: each query was evaluated at rectify's time whatever Prometheus' was, so a
    // rectify 10 minutes behind read Prometheus' history of 10 minutes ago, and a post-check
    // passed on the state from before the incident.
    it("10 minutes behind Prometheus: a promql check is inconclusive, never a pass, naming both clocks and the difference", async () => {
      const out = await createPromqlCheckRunner({ prometheusUrl: prom.url, clock: shifted(-600_000) }).run(
        check(recentQuery(), { expect: { op: '>', value: 0 }, timeoutMs: 200, intervalMs: 1_000 }),
        ctx(),
      );
      assert.equal(out.ok, false);
      assert.equal(out.inconclusive, true);
      assert.equal(out.attempts, 2);
      assert.match(out.detail, SKEW);
      assert.equal(out.observed, undefined);
    });

    it('10 minutes ahead of Prometheus: inconclusive too, the detail saying it would read its future', async () => {
      const out = await createPromqlCheckRunner({ prometheusUrl: prom.url, clock: shifted(600_000) }).run(check('demo_ok_ratio', { timeoutMs: 200, intervalMs: 1_000 }), ctx());
      assert.equal(out.ok, false);
      assert.equal(out.inconclusive, true);
      assert.match(out.detail, /^Prometheus' clock \(.+\) is (599|600|601) s behind rectify's \(.+\), more than 30 s: a query evaluated at rectify's time would read its future, so the answer is not judged after 2 attempts$/);
    });

    it('the same clocks judge the answer as before', async () => {
      const out = await createPromqlCheckRunner({ prometheusUrl: prom.url, clock: shifted(0) }).run(check(recentQuery(), { expect: { op: '>', value: 0 } }), ctx());
      assert.equal(out.ok, true, out.detail);
      assert.equal(out.attempts, 1);
      assert.match(out.detail, /^expected > 0, got 300\.\d+$/);
    });

    it('named checks that read Prometheus compare the clocks the same way, the baseline of metrics_improved included', async () => {
      const runner = createNamedCheckRunner({ prometheusUrl: prom.url, clock: shifted(-600_000) });
      const rate = await runner.run({ type: 'named', name: 'error_rate_normalized', params: { query: 'demo_ok_ratio' }, values: {}, timeoutMs: 200, intervalMs: 1_000 }, ctx());
      assert.equal(rate.ok, false);
      assert.equal(rate.inconclusive, true);
      assert.match(rate.detail, SKEW);
      const improved = await runner.run({ type: 'named', name: 'metrics_improved', params: { query: 'demo_ok_ratio', threshold: 1 }, values: {}, timeoutMs: 200, intervalMs: 1_000 }, ctx());
      assert.equal(improved.ok, false);
      assert.equal(improved.inconclusive, true);
      assert.match(improved.detail, SKEW);
      // The same clocks: judged.
      const same = await createNamedCheckRunner({ prometheusUrl: prom.url, clock: shifted(0) }).run(
        { type: 'named', name: 'error_rate_normalized', params: { query: 'demo_ok_ratio' }, values: {}, timeoutMs: 200, intervalMs: 1_000 },
        ctx(),
      );
      assert.deepEqual(same, { ok: true, detail: 'error ratio 0.01 (threshold 0.05)', observed: '0.01', attempts: 1 });
    });

    it('queryInstant throws PromqlClockSkewError only for a query at a given time, and judges an answer without a Date header as it is', async () => {
      const behind = () => Date.now() - 600_000;
      await assert.rejects(queryInstant(prom.url, 'demo_ok_ratio', { time: behind(), wallNow: behind, signal: AbortSignal.timeout(2_000) }), (err: unknown) => {
        assert.ok(err instanceof PromqlClockSkewError);
        assert.ok(err.skewMs >= 599_000 && err.skewMs <= 600_000, String(err.skewMs));
        return true;
      });
      // No time: Prometheus evaluates at its own now, whatever rectify's clock says.
      const own = await queryInstant(prom.url, 'demo_ok_ratio', { wallNow: behind, signal: AbortSignal.timeout(2_000) });
      assert.deepEqual(own.samples.map((x) => x.value), [0.01]);
      // An answer without a Date header: nothing to compare, judged as it is, evaluated at
      // rectify's time (here 10 minutes before Prometheus' now: 300 s before the instant 5
      // minutes ago).
      const noDate: HttpRequest = async (url, init) => {
        const a = await httpRequest(url, init);
        return { status: a.status, header: (n) => (n.toLowerCase() === 'date' ? undefined : a.header(n)), text: (l, t) => a.text(l, t), discard: (w) => a.discard(w) };
      };
      const out = await createPromqlCheckRunner({ prometheusUrl: prom.url, clock: shifted(-600_000), request: noDate }).run(
        check(recentQuery(), { expect: { op: '>', value: 0 }, timeoutMs: 200, intervalMs: 1_000 }),
        ctx(),
      );
      assert.equal(out.ok, false);
      assert.equal(out.inconclusive, undefined);
      assert.match(out.detail, /^expected > 0, got -29\d\.\d+ after 2 attempts$/);
    });
  });

  it('queryInstant throws PromqlQueryError with the errorType', async () => {
    await assert.rejects(queryInstant(prom.url, 'rate(', { signal: AbortSignal.timeout(2_000) }), (err: unknown) => {
      assert.ok(err instanceof PromqlQueryError);
      assert.equal(err.errorType, 'bad_data');
      return true;
    });
  });

  it('an unreachable Prometheus fails, quickly, and never passes', async () => {
    const gone = await startHttpTarget();
    await gone.close();
    const started = Date.now();
    const out = await createPromqlCheckRunner({ prometheusUrl: gone.url }).run(check('demo_ok_ratio', { timeoutMs: 700, intervalMs: 250 }), ctx());
    assert.ok(Date.now() - started < 1_500);
    // At 0, 250 and 500 ms, and the last at the timeout, 700 ms.
    assert.deepEqual(out, { ok: false, detail: 'Prometheus: connection refused after 4 attempts', attempts: 4, inconclusive: true });
  });

  it('a Prometheus that never answers fails when its last attempt runs out of time, instead of hanging', async () => {
    const hung = await startHttpTarget();
    hung.route('GET', '/api/v1/query', { status: 200, delayMs: 10_000 });
    try {
      const started = Date.now();
      const out = await createPromqlCheckRunner({ prometheusUrl: hung.url, attemptTimeoutMs: 400 }).run(
        check('demo_ok_ratio', { timeoutMs: 300, intervalMs: 1_000 }),
        ctx(),
      );
      // The first attempt is cut off at the timeout (300 ms); the last, made there, has its own 400 ms.
      assert.deepEqual(out, { ok: false, detail: 'no answer within 400ms after 2 attempts', attempts: 2, inconclusive: true });
      assert.ok(Date.now() - started < 1_500);
    } finally {
      await hung.close();
    }
  });

  // Regression: the query carried no `timeout`, so Prometheus kept evaluating a query
  // (up to its own 2 min default) after the attempt had given up on it.
  it("sends each attempt's remaining budget as Prometheus' timeout", async () => {
    const standIn = await startHttpTarget();
    standIn.route('GET', '/api/v1/query', { status: 200, body: { status: 'success', data: { resultType: 'scalar', result: [0, '0.2'] } } });
    try {
      const out = await createPromqlCheckRunner({ prometheusUrl: standIn.url }).run(check('demo_error_ratio', { timeoutMs: 2_000, intervalMs: 500 }), ctx());
      assert.equal(out.ok, false);
      const timeouts = standIn.requests('/api/v1/query').map((r) => r.query.timeout);
      assert.ok(timeouts.length >= 3, String(timeouts));
      // The first attempt has the whole 2 s (the attempt cap, 5 s, is larger); each later
      // one before the timeout what is left of it, in whole milliseconds as Prometheus
      // reads them (rounded up, so a timer that fires within a millisecond of its mark
      // may leave one more); the last, at the timeout, the whole attempt cap.
      assert.equal(timeouts[0], '2000ms');
      const ms = timeouts.map((t) => Number(/^(\d+)ms$/.exec(t ?? '')?.[1]));
      for (let i = 1; i < ms.length - 1; i++) {
        assert.ok(ms[i]! > 0 && ms[i]! <= 2_000 - 500 * i + 2, `attempt ${i + 1}: timeout=${timeouts[i]}`);
      }
      assert.equal(timeouts.at(-1), '5000ms');
      // An attempt cap smaller than the time left is the budget sent; the attempt at the
      // timeout has the whole cap.
      standIn.reset();
      await createPromqlCheckRunner({ prometheusUrl: standIn.url, attemptTimeoutMs: 400 }).run(check('demo_error_ratio', { timeoutMs: 300 }), ctx());
      assert.deepEqual(standIn.requests('/api/v1/query').map((r) => r.query.timeout), ['300ms', '400ms']);
      standIn.reset();
      await createPromqlCheckRunner({ prometheusUrl: standIn.url, attemptTimeoutMs: 400 }).run(check('demo_error_ratio', { timeoutMs: 1_000, intervalMs: 5_000 }), ctx());
      assert.deepEqual(standIn.requests('/api/v1/query').map((r) => r.query.timeout), ['400ms', '400ms']);
    } finally {
      await standIn.close();
    }
  });

  it('keeps a base URL path prefix and puts the query only in the query string', async () => {
    // A reverse proxy at /prometheus/: only the URL shape is under test here.
    const proxy = await startHttpTarget();
    proxy.route('GET', '/prometheus/api/v1/query', { status: 200, body: { status: 'success', data: { resultType: 'scalar', result: [0, '0.01'] } } });
    try {
      const out = await createPromqlCheckRunner({ prometheusUrl: `${proxy.url}/prometheus` }).run(check('up{job="a/b"}'), ctx());
      assert.equal(out.ok, true);
      const [req] = proxy.requests('/prometheus/api/v1/query');
      // The query, the attempt's start as its evaluation time and its budget as Prometheus' timeout; nothing else.
      const { time, ...rest } = req?.query ?? {};
      assert.deepEqual(rest, { query: 'up{job="a/b"}', timeout: '2000ms' });
      assert.match(time ?? '', /^\d+\.\d{3}$/);
    } finally {
      await proxy.close();
    }
  });
});

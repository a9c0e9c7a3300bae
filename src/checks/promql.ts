import { compare, quoteUntrusted, type Expectation, type RenderedPromqlCheck } from '../domain/index.js';
import type { CheckOutcome, CheckRunner, StepContext } from '../execute/ports.js';
import { systemClock, type Clock } from '../lib/index.js';
import { httpRequest, type HttpRequest } from './http-client.js';
import { describeError, poll, type Attempt } from './poll.js';

/**
 * `promql: {query, expect: "< 0.05", for_seconds, timeout_seconds}`: an instant
 * query polled until every returned sample satisfies the expectation.
 *
 * What is a pass is deliberately narrow:
 * - every sample of a vector must satisfy `expect` (one bad pod is a bad rollout);
 * - an empty vector fails unless the runbook says `on_empty: pass` (no data is not
 *   good news: a typo in a label matcher returns nothing, forever);
 * - NaN and ±Inf never pass (0/0 is what an error ratio is with no traffic);
 * - a Prometheus error, an unreachable Prometheus and a non-JSON answer are failed
 *   attempts, never passes;
 * - so are an answer with a non-2xx HTTP status, whatever its body says, and one with
 *   `warnings` (a partial answer: a remote_read or a shard that failed, the result
 *   computed without its data): inconclusive, the first warning in the detail. PromQL's
 *   own annotations (`PromQL info: …`, `PromQL warning: …`: about the query, such as a
 *   rate over a metric that may not be a counter), which Prometheus (before it gave
 *   `infos` a field) and Thanos send among the `warnings`, say nothing is missing: the answer is judged, the
 *   first annotation noted in the attempt's detail;
 * - so is an answer whose `Date` header (Prometheus' clock) is more than MAX_CLOCK_SKEW_MS
 *   from rectify's: each query is evaluated at rectify's time, and Prometheus far ahead would
 *   read its own past (the healthy state before the incident), far behind, its future.
 */

export interface PromqlSample {
  metric: Record<string, string>;
  /** May be NaN or ±Infinity: Prometheus sends "NaN", "+Inf", "-Inf". */
  value: number;
}

export interface InstantQueryResult {
  resultType: 'vector' | 'scalar';
  /** A scalar is one sample with no labels. */
  samples: PromqlSample[];
  /** PromQL's annotations among the answer's `warnings` (`PromQL info: …`, `PromQL warning: …`), when there are any. */
  annotations?: string[];
}

/**
 * Whether a `warnings` entry is one of PromQL's annotations about the query (Prometheus'
 * util/annotations: `PromQL info: metric might not be a counter…`, `PromQL warning: bucket
 * label "le" is missing…`), not a sign of a partial answer. Thanos tells them apart the same way.
 */
export function isPromqlAnnotation(warning: string): boolean {
  return warning.startsWith('PromQL info:') || warning.startsWith('PromQL warning:');
}

/**
 * Prometheus answered `status: "success"` with `warnings` other than PromQL's annotations:
 * the result may lack data (a remote_read endpoint or a store that failed), so it is no measurement.
 */
export class PromqlPartialAnswerError extends Error {
  constructor(warnings: readonly string[]) {
    const more = warnings.length > 1 ? ` (and ${warnings.length - 1} more)` : '';
    super(`Prometheus answered in part, warning ${quoteUntrusted(warnings[0] ?? '')}${more}`);
    this.name = 'PromqlPartialAnswerError';
  }
}

/** Prometheus answered `status: "error"`; `errorType` is its category (bad_data, execution, timeout…). */
export class PromqlQueryError extends Error {
  readonly errorType: string;
  constructor(errorType: string, message: string) {
    super(`${errorType}: ${message}`);
    this.name = 'PromqlQueryError';
    this.errorType = errorType;
  }
}

/**
 * How far Prometheus' clock (its answer's `Date` header) may be from rectify's when a
 * query is evaluated at rectify's time. The header has whole seconds and is written after
 * the query ran, so a few seconds apart is no skew; 30 s is far less than any `rate()`
 * window or lookback a check reads, and far more than an answer's time on the way.
 */
export const MAX_CLOCK_SKEW_MS = 30_000;

/**
 * Prometheus' clock is more than MAX_CLOCK_SKEW_MS from rectify's: a query evaluated at
 * rectify's time reads another instant of Prometheus' history than the one meant, so the
 * answer is no measurement of now.
 */
export class PromqlClockSkewError extends Error {
  readonly skewMs: number;
  constructor(prometheusMs: number, rectifyMs: number) {
    const skew = prometheusMs - rectifyMs;
    const secs = Math.round(Math.abs(skew) / 1000);
    const how = skew > 0 ? `ahead of rectify's` : `behind rectify's`;
    const reads = skew > 0 ? 'its past' : 'its future';
    super(
      `Prometheus' clock (its answer's Date, ${new Date(prometheusMs).toISOString()}) is ${secs} s ${how} (${new Date(rectifyMs).toISOString()}), ` +
        `more than ${MAX_CLOCK_SKEW_MS / 1000} s: a query evaluated at rectify's time would read ${reads}, so the answer is not judged`,
    );
    this.name = 'PromqlClockSkewError';
    this.skewMs = skew;
  }
}

export interface QueryInstantOptions {
  /**
   * Evaluation time in ms since the epoch (rectify's clock); default: Prometheus' now.
   * When given, Prometheus' clock is compared with `wallNow` (PromqlClockSkewError).
   */
  time?: number;
  /** rectify's wall clock, read when the answer arrives, the clock `time` was read from; default Date.now. */
  wallNow?: () => number;
  signal: AbortSignal;
  /** The HTTP client (tests stand in for it); default: undici's request. */
  request?: HttpRequest;
  /** Sent as Prometheus' own `timeout` so the server stops evaluating when we stop waiting. */
  timeoutMs?: number;
}

/**
 * The largest answer we read. A query that matches every series in the TSDB can
 * return hundreds of megabytes; a check needs a handful of samples, and reading
 * everything would let one careless runbook exhaust rectify's memory.
 */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * One instant query. Throws PromqlQueryError for a Prometheus error answer,
 * PromqlPartialAnswerError for a success answer with warnings (other than PromQL's
 * annotations, returned in `annotations`), PromqlClockSkewError for an answer evaluated at
 * `time` whose `Date` says Prometheus' clock is more than MAX_CLOCK_SKEW_MS from rectify's
 * (an answer without a `Date` is judged as it is), and a plain Error for
 * transport problems, a non-2xx status and unsupported result types.
 */
export async function queryInstant(baseUrl: string, query: string, opts: QueryInstantOptions): Promise<InstantQueryResult> {
  const url = apiUrl(baseUrl, 'api/v1/query');
  // The query goes only into the query string, URL-encoded by URLSearchParams:
  // never into the path, where `/`, `?` and `#` in PromQL would change the request.
  url.searchParams.set('query', query);
  if (opts.time !== undefined) url.searchParams.set('time', (opts.time / 1000).toFixed(3));
  if (opts.timeoutMs !== undefined) url.searchParams.set('timeout', `${Math.max(1, Math.floor(opts.timeoutMs))}ms`);

  const res = await (opts.request ?? httpRequest)(url, { method: 'GET', headers: { accept: 'application/json' }, signal: opts.signal });
  // rectify's clock when the headers came, the instant nearest the one Prometheus dated them.
  const received = (opts.wallNow ?? Date.now)();
  const text = await res.text(MAX_RESPONSE_BYTES, `Prometheus answer larger than ${MAX_RESPONSE_BYTES / (1024 * 1024)} MiB: narrow the query`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // A proxy's HTML error page, a wrong URL: say what we got, not the page itself.
    throw new Error(`Prometheus answered HTTP ${res.status} without a JSON body`);
  }
  const result = parseQueryResponse(body, res.status);
  if (opts.time !== undefined) checkClock(res.header('date'), received);
  return result;
}

/**
 * Throws PromqlClockSkewError when the answer's `Date` (whole seconds, written once the query
 * ran) is more than MAX_CLOCK_SKEW_MS from rectify's clock when the answer came. No `Date`,
 * or one that does not parse: nothing to compare, the answer is judged as it is.
 */
function checkClock(date: string | undefined, rectifyMs: number): void {
  if (date === undefined) return;
  const prometheusMs = Date.parse(date);
  if (!Number.isFinite(prometheusMs)) return;
  // Both to the second, as the header is: 10 minutes apart reads 600 s, not 599.
  const rectifySecond = Math.floor(rectifyMs / 1000) * 1000;
  if (Math.abs(prometheusMs - rectifySecond) > MAX_CLOCK_SKEW_MS) throw new PromqlClockSkewError(prometheusMs, rectifySecond);
}

export function parseQueryResponse(body: unknown, httpStatus: number): InstantQueryResult {
  if (!isObject(body)) throw new Error(`Prometheus answered HTTP ${httpStatus} with an unexpected body`);
  if (body.status === 'error') {
    throw new PromqlQueryError(
      typeof body.errorType === 'string' ? body.errorType : 'unknown',
      typeof body.error === 'string' ? body.error : 'no error message',
    );
  }
  if (body.status !== 'success' || !isObject(body.data)) {
    throw new Error(`Prometheus answered HTTP ${httpStatus} with an unexpected body`);
  }
  // A success body under an error status (a proxy's, a Prometheus in trouble) is not trusted.
  if (httpStatus < 200 || httpStatus > 299) throw new Error(`Prometheus answered HTTP ${httpStatus} (not 2xx) with a success body`);
  const warnings = warningsOf(body.warnings);
  const partial = warnings.filter((w) => !isPromqlAnnotation(w));
  if (partial.length > 0) throw new PromqlPartialAnswerError(partial);
  const annotations = warnings.length > 0 ? { annotations: warnings } : {};
  const { resultType, result } = body.data;
  if (resultType === 'scalar') {
    return { resultType: 'scalar', samples: [{ metric: {}, value: parseSampleValue(result) }], ...annotations };
  }
  if (resultType === 'vector' && Array.isArray(result)) {
    const samples = result.map((s): PromqlSample => {
      if (!isObject(s)) throw new Error('Prometheus returned a malformed vector sample');
      const metric: Record<string, string> = {};
      if (isObject(s.metric)) for (const [k, v] of Object.entries(s.metric)) if (typeof v === 'string') metric[k] = v;
      return { metric, value: parseSampleValue(s.value) };
    });
    return { resultType: 'vector', samples, ...annotations };
  }
  // A vector without its samples is a malformed answer, not a type the check does not take.
  if (resultType === 'vector') throw new Error('Prometheus returned a vector answer without a result array');
  throw new Error(`unsupported result type ${String(resultType)}: a check needs an instant vector or a scalar`);
}

/** Prometheus' `warnings`: an array of strings (anything else present is shown as text). */
function warningsOf(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((w) => (typeof w === 'string' ? w : JSON.stringify(w) ?? String(w)));
  if (typeof v === 'string') return v === '' ? [] : [v];
  return [JSON.stringify(v) ?? String(v)];
}

/** `[<unix time>, "<value>"]`. `Number("+Inf")` is NaN, so the special values are mapped by hand. */
function parseSampleValue(pair: unknown): number {
  if (!Array.isArray(pair) || typeof pair[1] !== 'string') throw new Error('Prometheus returned a malformed sample value');
  const text = pair[1];
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const n = Number(text);
  if (text.trim() === '' || Number.isNaN(n)) throw new Error(`Prometheus returned a non-numeric sample value ${JSON.stringify(text.slice(0, 40))}`);
  return n;
}

/**
 * Joins an API path onto a base URL that may carry a path prefix
 * (`http://host/prometheus`). `new URL('/api/v1/query', base)` would drop the prefix.
 */
function apiUrl(baseUrl: string, path: string): URL {
  const base = new URL(baseUrl);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  base.hash = '';
  return new URL(path, base);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function formatExpectation(e: Expectation): string {
  return `${e.op} ${e.value}`;
}

/** Prometheus' own spelling of values, so details read like the Prometheus UI. */
export function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function formatLabels(metric: Record<string, string>): string {
  const parts = Object.entries(metric).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${parts.join(', ')}}`;
}

/** How the series of one answer fare against a test each must pass. */
export interface SeriesVerdict {
  /** The series that fail: NaN and ±Inf whatever the test, the others when it says no. */
  bad: PromqlSample[];
  /**
   * The series a failure is told by: one measured failing (anything but NaN) when there is
   * one, else the first NaN; undefined when every series passes.
   */
  shown: PromqlSample | undefined;
  /** Whether `shown` was measured failing. A failure only NaN series make measured nothing: inconclusive. */
  measured: boolean;
}

/**
 * Judges every series of an answer, so a NaN one (0/0: no traffic) never hides one measured
 * failing beside it: `passes` is asked of the finite values only. Of the series measured
 * failing, `shown` is the one `rank` puts highest (the first of them without it).
 */
export function judgeSeries(samples: readonly PromqlSample[], passes: (v: number) => boolean, rank?: (v: number) => number): SeriesVerdict {
  const bad = samples.filter((s) => !Number.isFinite(s.value) || !passes(s.value));
  let measured: PromqlSample | undefined;
  for (const s of bad) {
    if (Number.isNaN(s.value)) continue;
    if (measured === undefined || (rank !== undefined && rank(s.value) > rank(measured.value))) measured = s;
  }
  return { bad, shown: measured ?? bad[0], measured: measured !== undefined };
}

/** ` for {pod="b"} (2 of 3 series)`: which series a failure is told by, when there are several; else nothing. */
export function seriesNote(v: SeriesVerdict, total: number): string {
  return v.shown !== undefined && total > 1 ? ` for ${formatLabels(v.shown.metric)} (${v.bad.length} of ${total} series)` : '';
}

/** Judges one query answer against the check; pure, so it is tested without a server. */
export function judgeSamples(result: InstantQueryResult, expect: Expectation, onEmpty: 'fail' | 'pass'): Attempt {
  const want = `expected ${formatExpectation(expect)}`;
  if (result.samples.length === 0) {
    return onEmpty === 'pass'
      ? { pass: true, detail: 'empty result (on_empty: pass)' }
      : { pass: false, detail: 'no data: the query returned an empty vector', unknown: true };
  }
  // Non-finite values fail whatever the operator: `NaN != 0` is true in IEEE terms,
  // and `+Inf > 0` too, but neither is a measurement anyone meant to accept.
  // NaN is 0/0 (a ratio with no traffic): not a measurement. The detail names a series
  // measured failing when there is one, so a run failed on a value does not read as no data.
  const verdict = judgeSeries(result.samples, (v) => compare(expect.op, v, expect.value));
  const first = verdict.shown;
  if (!first) {
    const shown = result.samples.slice(0, 5).map((s) => formatSampleValue(s.value));
    const observed = shown.join(', ') + (result.samples.length > 5 ? ', …' : '');
    return { pass: true, observed, detail: `${want}, got ${observed}` };
  }
  const observed = formatSampleValue(first.value);
  const detail = `${want}, got ${observed}${seriesNote(verdict, result.samples.length)}`;
  // Inconclusive only when no series measured a failure.
  return { pass: false, observed, detail, ...(verdict.measured ? {} : { unknown: true }) };
}

export interface PromqlCheckRunnerOptions {
  prometheusUrl: string;
  request?: HttpRequest;
  /** rectify's clock: each query is evaluated at its time, compared with Prometheus'. Default: the system's. */
  clock?: Clock;
  /** Cap on one query; default max(interval, 5s). One that starts before the check's timeout is cut off at it; the last, at the timeout, has the whole cap. */
  attemptTimeoutMs?: number;
}

export function createPromqlCheckRunner(opts: PromqlCheckRunnerOptions): CheckRunner<RenderedPromqlCheck> {
  // Fail at wiring time, not at 3 a.m. during the first check.
  new URL(opts.prometheusUrl);
  const clock = opts.clock ?? systemClock;
  const wallNow = (): number => clock.now();
  return {
    type: 'promql',
    run(check: RenderedPromqlCheck, ctx: StepContext): Promise<CheckOutcome> {
      const evaluate = async (signal: AbortSignal, budgetMs: number, at: number): Promise<Attempt> => {
        let result: InstantQueryResult;
        try {
          result = await queryInstant(opts.prometheusUrl, check.query, {
            signal,
            // Evaluated at the attempt's start, the instant a for_seconds hold counts it at,
            // not whenever the request reaches Prometheus.
            time: at,
            // Prometheus' clock far from this one would make `at` another instant there.
            wallNow,
            // Prometheus stops evaluating when this attempt stops waiting, rather than
            // run an expensive query to its own (2 min default) timeout for nobody.
            timeoutMs: budgetMs,
            ...(opts.request ? { request: opts.request } : {}),
          });
        } catch (err) {
          if (err instanceof PromqlQueryError) return { pass: false, detail: `query error ${err.message}`, unknown: true };
          if (err instanceof PromqlPartialAnswerError || err instanceof PromqlClockSkewError) return { pass: false, detail: err.message, unknown: true };
          return { pass: false, detail: `Prometheus: ${describeError(err)}`, unknown: true };
        }
        const judged = judgeSamples(result, check.expect, check.onEmpty);
        const [note, ...others] = result.annotations ?? [];
        if (note === undefined) return judged;
        const more = others.length > 0 ? ` (and ${others.length} more)` : '';
        return { ...judged, detail: `${judged.detail} (Prometheus noted ${quoteUntrusted(note)}${more})` };
      };
      return poll(evaluate, {
        intervalMs: check.intervalMs,
        timeoutMs: check.timeoutMs,
        limitMs: ctx.budgetMs,
        forMs: check.forMs,
        signal: ctx.signal,
        noAnswerIsUnknown: true,
        wallNow,
        ...(opts.attemptTimeoutMs !== undefined ? { attemptTimeoutMs: opts.attemptTimeoutMs } : {}),
      });
    },
  };
}

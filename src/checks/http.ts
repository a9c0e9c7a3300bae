import type { RenderedHttpCheck } from '../domain/index.js';
import type { CheckOutcome, CheckRunner, StepContext } from '../execute/ports.js';
import { BODY_DISCARD_WAIT_MS, httpRequest, type HttpAnswer, type HttpRequest } from './http-client.js';
import { describeError, poll, type Attempt } from './poll.js';
import { resolveHeaderSecrets, scrubSecrets, type SecretSources } from './secrets.js';

/**
 * `http: {url, expect_status, timeout_seconds, interval_seconds}`: polls a URL until
 * it answers with a status in the expected range.
 *
 * Redirects are not followed: a health endpoint that redirects to a login page
 * answers 200 at the end of the chain, and following it would call a broken
 * service healthy. A 3xx is judged as itself against `expect_status`.
 */
export interface HttpCheckRunnerOptions {
  /** The HTTP client (tests stand in for it); default: undici's request, see http-client.ts. */
  request?: HttpRequest;
  /** Where `${env:NAME}` in header values resolves; default: none (every env reference fails). */
  env?: Readonly<Record<string, string | undefined>>;
  readFile?: SecretSources['readFile'];
  /** Cap on one request; default max(interval, 5s). One that starts before the check's timeout is cut off at it; the last, at the timeout, has the whole cap. */
  attemptTimeoutMs?: number;
}

export function createHttpCheckRunner(opts: HttpCheckRunnerOptions = {}): CheckRunner<RenderedHttpCheck> {
  const send = opts.request ?? httpRequest;
  const sources: SecretSources = { env: opts.env ?? {}, ...(opts.readFile ? { readFile: opts.readFile } : {}) };
  return {
    type: 'http',
    async run(check: RenderedHttpCheck, ctx: StepContext): Promise<CheckOutcome> {
      const target = `${check.method.toUpperCase()} ${displayUrl(check.url)}`;
      const bad = urlProblem(check.url);
      if (bad) return { ok: false, detail: `${target}: ${bad}`, attempts: 0 };
      // Resolved once per run, not per attempt: a secret that is missing stays
      // missing, and re-reading a file on every poll buys nothing.
      const headers = await resolveHeaderSecrets(check.headers, sources, ctx.signal);
      if (!headers.ok) return { ok: false, detail: `${target}: ${headers.error}`, attempts: 0 };
      const secrets = headers.secrets;
      const [lo, hi] = check.expectStatus;

      const evaluate = async (signal: AbortSignal): Promise<Attempt> => {
        let res: HttpAnswer;
        try {
          res = await send(check.url, { method: check.method.toUpperCase(), headers: headers.value, signal });
        } catch (err) {
          return { pass: false, detail: `${target}: ${describeRequestError(err, check.url, secrets)}` };
        }
        // Keep nothing: the body may echo the request's credentials. The status is the
        // answer: the body is let go in the background, for at most a moment, and never
        // waited on (one trickled a byte at a time would hold the attempt to its deadline
        // and read as no answer at all).
        void res.discard(BODY_DISCARD_WAIT_MS);
        const status = String(res.status);
        const pass = res.status >= lo && res.status <= hi;
        return {
          pass,
          observed: status,
          detail: pass ? `${target} → ${status}` : `${target}: expected status ${formatRange(lo, hi)}, got ${status}`,
        };
      };

      return poll(evaluate, {
        intervalMs: check.intervalMs,
        timeoutMs: check.timeoutMs,
        limitMs: ctx.budgetMs,
        signal: ctx.signal,
        ...(opts.attemptTimeoutMs !== undefined ? { attemptTimeoutMs: opts.attemptTimeoutMs } : {}),
      });
    },
  };
}

export function formatRange(lo: number, hi: number): string {
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

/**
 * A URL as it may appear in a detail or log line: no userinfo and no query string.
 * Both are where tokens hide (`https://user:pass@host`, `?api_key=`), and details
 * end up in the audit log and the API.
 */
export function displayUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return '<invalid url>';
  }
  return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
}

/**
 * Why a URL cannot be requested, or null. Checked before any secret is read or
 * byte sent. Credentials in the URL are refused by name: an HTTP client may send
 * them as Basic auth without a word, or quote the whole URL, password included,
 * in its error message.
 */
export function urlProblem(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'invalid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `unsupported scheme ${u.protocol.replace(':', '')}: use http or https`;
  if (u.username !== '' || u.password !== '') {
    return 'credentials in the URL are not supported: send them in a header, e.g. Authorization: Basic ${env:NAME}';
  }
  return null;
}

/**
 * A request's failure as one line fit for the audit log: the network cause, with the
 * request URL shortened (its query may carry tokens) and resolved secrets masked.
 */
export function describeRequestError(err: unknown, url: string, secrets: readonly string[]): string {
  const text = describeError(err).split(url).join(displayUrl(url));
  return scrubSecrets(text, secrets);
}


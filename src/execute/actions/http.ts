import type { RenderedHttpAction } from '../../domain/index.js';
import { createLimiter, formatDuration, withTimeout, type Limiter } from '../../lib/index.js';
import { describeRequestError, displayUrl, formatRange, urlProblem } from '../../checks/http.js';
import { BODY_DISCARD_WAIT_MS, httpRequest, RequestNotSentError, type HttpAnswer, type HttpRequest } from '../../checks/http-client.js';
import { resolveHeaderSecrets, resolveSecretsDeep, type SecretSources } from '../../checks/secrets.js';
import type { ActionExecutor, ActionOutcome, StepContext } from '../ports.js';

/**
 * `http: {method, url, headers, body, expect_status, timeout_seconds}`: one request.
 *
 * Actions are at most once, so there is no retry here, ever: a POST /restart that
 * timed out may well have restarted the service, and sending it again is a second
 * restart nobody decided on. A failure is reported and the runner decides (rollback,
 * a human), never this file. Only a request never sent, or a GET (a read), is
 * `unchanged`: any other that got an answer, even an error status, or that failed
 * after it was written, may have changed something. One that failed after it was
 * written with no answer at all (its deadline passed, the connection was reset or
 * closed) is also `unconfirmed`: nothing said whether the target applied it, so a run
 * with no rollback after it leaves that to a person (`needs_human`). So is a 502 or 504
 * to a write: a gateway's word that the target's answer never reached it. Any other
 * error status is the target's answer, and is judged as one.
 *
 * What the outcome may contain: method, URL without userinfo or query, status code,
 * the reason for a failure. Never the response body (a target may echo the request,
 * credentials included) and never a resolved secret.
 */
export interface HttpActionExecutorOptions {
  /** The HTTP client (tests stand in for it); default: undici's request, see http-client.ts. */
  request?: HttpRequest;
  /**
   * Requests in flight to one origin at most (default 64); more wait their turn,
   * within their own timeout. A storm that starts thousands of executions must not
   * open thousands of connections to the service being fixed, nor hold a socket
   * and its buffers per execution in rectify's bounded heap.
   */
  maxInFlightPerOrigin?: number;
  /** Where `${env:NAME}` resolves; the composition root passes the allowed variables. Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
  readFile?: SecretSources['readFile'];
}

export function createHttpActionExecutor(opts: HttpActionExecutorOptions = {}): ActionExecutor<RenderedHttpAction> {
  const send = opts.request ?? httpRequest;
  const limit = opts.maxInFlightPerOrigin ?? 64;
  const slots = createOriginSlots(limit);
  const sources: SecretSources = { env: opts.env ?? {}, ...(opts.readFile ? { readFile: opts.readFile } : {}) };
  return {
    type: 'http',
    async run(action: RenderedHttpAction, ctx: StepContext): Promise<ActionOutcome> {
      const method = action.method.toUpperCase();
      const target = `${method} ${displayUrl(action.url)}`;
      // A GET changes nothing, whatever it answers (lint counts only other methods as
      // changes needing a rollback): a failed read is no reason to undo anything.
      const reads = method === 'GET' || method === 'HEAD';
      const read = reads ? { unchanged: true } : {};
      // One deadline for everything this step does, secret files included.
      const bad = urlProblem(action.url);
      if (bad) return { ok: false, detail: `${target} not sent: ${bad}`, unchanged: true };
      const signal = withTimeout(ctx.signal, action.timeoutMs);

      // Secrets first: a missing one fails the step before any byte leaves.
      const headers = await resolveHeaderSecrets(action.headers, sources, signal);
      if (!headers.ok) return { ok: false, detail: `${target} not sent: ${headers.error}`, unchanged: true };
      let body: string | undefined;
      let secrets = headers.secrets;
      // No body (an action stored before the loader wrote none as undefined holds null): none sent, no content-type.
      if (action.body !== undefined && action.body !== null) {
        const resolved = await resolveSecretsDeep(action.body, sources, signal);
        if (!resolved.ok) return { ok: false, detail: `${target} not sent: body: ${resolved.error}`, unchanged: true };
        secrets = [...secrets, ...resolved.secrets];
        body = JSON.stringify(resolved.value);
        if (!Object.keys(headers.value).some((h) => h.toLowerCase() === 'content-type')) {
          headers.value['content-type'] = 'application/json';
        }
      }

      const origin = new URL(action.url).origin;
      let release: () => void;
      try {
        release = await slots.acquire(origin, signal);
      } catch {
        // Nothing left rectify: unlike a request that timed out, this one certainly did not happen.
        const why = ctx.signal.aborted ? 'aborted' : `timed out after ${formatDuration(action.timeoutMs)}`;
        return { ok: false, detail: `${target} not sent: ${why} waiting behind ${limit} requests in flight to ${origin}`, unchanged: true };
      }
      let res: HttpAnswer;
      try {
        // A 3xx is the target's answer to *this* request: the client never follows it.
        res = await send(action.url, { method, headers: headers.value, ...(body !== undefined ? { body } : {}), signal });
      } catch (err) {
        release();
        // Never written to a connection (a header value the client cannot send, the
        // connection refused, the host not found, a deadline that passed while
        // connecting): the target never saw it, so there is nothing to roll back.
        if (err instanceof RequestNotSentError) {
          return { ok: false, detail: `${target} not sent: ${notSentReason(err, action, ctx.signal, signal, secrets)}`, unchanged: true };
        }
        // Written, and no answer came: whether the target applied it is unknown. A read changed nothing either way.
        return { ok: false, detail: `${target}: ${failureReason(err, action, ctx.signal, signal, secrets)}`, ...(reads ? read : { unconfirmed: true }) };
      }
      // The status is the answer, judged as soon as it comes: the body is let go in the
      // background, for at most a second, and never waited on (one trickled a byte at a
      // time would hold the step to its deadline). Its origin's slot is held until then.
      void res.discard(BODY_DISCARD_WAIT_MS).finally(release);
      const [lo, hi] = action.expectStatus;
      const ok = res.status >= lo && res.status <= hi;
      // A 502 or 504 is a gateway's answer, not the target's: the proxy in front of it
      // got no answer (or an unreadable one) from the target it forwarded the write to,
      // so nothing said whether the target applied it, as when no answer came at all.
      const gatewayLost = !ok && !reads && (res.status === 502 || res.status === 504);
      const detail = ok
        ? `${target} → ${res.status}`
        : `${target} → ${res.status}, expected ${formatRange(lo, hi)}${gatewayLost ? ' (a gateway answered: the request may have reached the target)' : ''}`;
      return { ok, detail, facts: { status: String(res.status) }, ...read, ...(gatewayLost ? { unconfirmed: true } : {}) };
    },
  };
}

function notSentReason(
  err: RequestNotSentError,
  action: RenderedHttpAction,
  parent: AbortSignal,
  signal: AbortSignal,
  secrets: readonly string[],
): string {
  if (parent.aborted) return 'aborted while connecting';
  if (signal.aborted) return `timed out after ${formatDuration(action.timeoutMs)} while connecting`;
  return describeRequestError(err, action.url, secrets);
}

function failureReason(
  err: unknown,
  action: RenderedHttpAction,
  parent: AbortSignal,
  signal: AbortSignal,
  secrets: readonly string[],
): string {
  // "Timed out" is not "did not happen": say so, so nobody re-runs it blindly.
  if (parent.aborted) return 'aborted (the request may have reached the target)';
  if (signal.aborted) return `timed out after ${formatDuration(action.timeoutMs)} (the request may have reached the target)`;
  return describeRequestError(err, action.url, secrets);
}

/** A limiter per origin, each dropped once nothing runs or waits on it: `acquire` as the limiter's. */
function createOriginSlots(limit: number) {
  const origins = new Map<string, Limiter>();
  return {
    async acquire(origin: string, signal: AbortSignal): Promise<() => void> {
      let slots = origins.get(origin);
      if (!slots) {
        slots = createLimiter(limit);
        origins.set(origin, slots);
      }
      const held = slots;
      const drop = (): void => {
        if (held.active() === 0 && held.waiting() === 0 && origins.get(origin) === held) origins.delete(origin);
      };
      try {
        const release = await held.acquire(signal);
        return () => {
          release();
          drop();
        };
      } catch (err) {
        drop();
        throw err;
      }
    },
  };
}

import type { RenderedHttpAction } from '../../domain/index.js';
import { formatDuration, withTimeout } from '../../lib/index.js';
import { describeFetchError, discardBody, displayUrl, formatRange, urlProblem } from '../../checks/http.js';
import { resolveHeaderSecrets, resolveSecretsDeep, type SecretSources } from '../../checks/secrets.js';
import type { ActionExecutor, ActionOutcome, StepContext } from '../ports.js';

/**
 * `http: {method, url, headers, body, expect_status, timeout_seconds}`: one request.
 *
 * Actions are at most once, so there is no retry here, ever: a POST /restart that
 * timed out may well have restarted the service, and sending it again is a second
 * restart nobody decided on. A failure is reported and the runner decides (rollback,
 * a human), never this file.
 *
 * What the outcome may contain: method, URL without userinfo or query, status code,
 * the reason for a failure. Never the response body (a target may echo the request,
 * credentials included) and never a resolved secret.
 */
export interface HttpActionExecutorOptions {
  fetch?: typeof fetch;
  /** Where `${env:NAME}` resolves; the composition root passes the allowed variables. Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
  readFile?: SecretSources['readFile'];
}

export function createHttpActionExecutor(opts: HttpActionExecutorOptions = {}): ActionExecutor<RenderedHttpAction> {
  const doFetch = opts.fetch ?? fetch;
  const sources: SecretSources = { env: opts.env ?? {}, ...(opts.readFile ? { readFile: opts.readFile } : {}) };
  return {
    type: 'http',
    async run(action: RenderedHttpAction, ctx: StepContext): Promise<ActionOutcome> {
      const method = action.method.toUpperCase();
      const target = `${method} ${displayUrl(action.url)}`;
      // One deadline for everything this step does, secret files included.
      const bad = urlProblem(action.url);
      if (bad) return { ok: false, detail: `${target} not sent: ${bad}` };
      const signal = withTimeout(ctx.signal, action.timeoutMs);

      // Secrets first: a missing one fails the step before any byte leaves.
      const headers = await resolveHeaderSecrets(action.headers, sources, signal);
      if (!headers.ok) return { ok: false, detail: `${target} not sent: ${headers.error}` };
      let body: string | undefined;
      let secrets = headers.secrets;
      if (action.body !== undefined) {
        const resolved = await resolveSecretsDeep(action.body, sources, signal);
        if (!resolved.ok) return { ok: false, detail: `${target} not sent: body: ${resolved.error}` };
        secrets = [...secrets, ...resolved.secrets];
        body = JSON.stringify(resolved.value);
        if (!Object.keys(headers.value).some((h) => h.toLowerCase() === 'content-type')) {
          headers.value['content-type'] = 'application/json';
        }
      }

      let res: Response;
      try {
        res = await doFetch(action.url, {
          method,
          headers: headers.value,
          ...(body !== undefined ? { body } : {}),
          // A 3xx is the target's answer to *this* request; following it would send
          // the method (and its credentials) to a host nobody reviewed.
          redirect: 'manual',
          signal,
        });
      } catch (err) {
        return { ok: false, detail: `${target}: ${failureReason(err, action, ctx.signal, signal, secrets)}` };
      }
      await discardBody(res);
      const [lo, hi] = action.expectStatus;
      const ok = res.status >= lo && res.status <= hi;
      const detail = ok ? `${target} → ${res.status}` : `${target} → ${res.status}, expected ${formatRange(lo, hi)}`;
      return { ok, detail, facts: { status: String(res.status) } };
    },
  };
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
  return describeFetchError(err, action.url, secrets);
}

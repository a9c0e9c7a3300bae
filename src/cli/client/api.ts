import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ClientSettings } from '../../config/index.js';
import { EXIT, type CliIO } from '../io.js';
import { readable, timeoutSignal } from '../../lib/index.js';
import type { AnswerShape } from './shapes.js';

/**
 * The client side of the HTTP API (interface.md §2): one request, one deadline, and
 * every way it can go wrong turned into a message a person can act on and an exit
 * code a script can trust.
 */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: Array<{ path: string; message: string }> };
}

export class ApiFailure extends Error {
  constructor(
    /** The exit code this failure means (EXIT.*). */
    readonly exit: number,
    message: string,
    /**
     * What `--json` prints: the service's own error body, or one in the same shape; for a
     * failure after the service accepted a run, what it accepted beside the error.
     */
    readonly body: ApiErrorBody,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export interface PostOptions {
  /**
   * A POST that may run actions (`run`, `approve`): the service answers it only after a
   * MEDIUM runbook's guardrail checks (up to 15 s each), so it waits `actingTimeoutMs`.
   */
  acts?: boolean;
  /** How to see whether the service acted, said when no answer came: default `rectify audit --since 10m`. */
  check?: string;
}

export interface ApiClient {
  readonly server: string;
  /** The answer, once it holds `shape` (see shapes.ts); returned as it came. */
  get<T = unknown>(path: string, shape: AnswerShape, signal?: AbortSignal): Promise<T>;
  post<T = unknown>(path: string, body: unknown, shape: AnswerShape, opts?: PostOptions): Promise<T>;
}

/** Network errors name their cause in `cause.code` (ECONNREFUSED, ENOTFOUND…); undici hides it otherwise. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** OpenSSL's and Node's names for a certificate that was not accepted. */
const CERT_REFUSED = /CERT|SELF_SIGNED|UNABLE_TO_(?:GET|VERIFY)/;

/**
 * Why nothing answered, and what to do. A TLS problem is no "is it running?": the
 * service answered, and its certificate, or the scheme, is what is wrong.
 */
function unreachableMessage(err: unknown, shown: string): string {
  const reason = networkReason(err);
  const said = (err as { cause?: { message?: string } } | undefined)?.cause?.message;
  const why = said && said !== reason ? `${reason}: ${readable(said).split(':')[0]!.trim()}` : reason;
  const https = shown.startsWith('https:');
  if (reason === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `cannot reach rectify at ${shown}: its TLS certificate is not for this host name (${why}); give --server the name the certificate was issued for`;
  }
  if (reason === 'CERT_HAS_EXPIRED' || reason === 'CERT_NOT_YET_VALID') {
    return `cannot reach rectify at ${shown}: its TLS certificate is not valid now (${reason}); the service needs a new certificate (--tls-cert, reloaded on SIGHUP)`;
  }
  if (CERT_REFUSED.test(reason)) {
    return `cannot reach rectify at ${shown}: its TLS certificate is not trusted (${why}); if it is the service's, give its CA certificate to the CLI with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`;
  }
  if (https && /^ERR_SSL_/.test(reason)) {
    return `cannot reach rectify at ${shown}: no TLS there (${reason}); if the service listens without --tls-cert, its address starts http://`;
  }
  if (!https && reason === 'UND_ERR_SOCKET') {
    return `cannot reach rectify at ${shown}: the connection was closed without an answer (${reason}); if the service listens with TLS (--tls-cert), its address starts https://`;
  }
  return `cannot reach rectify at ${shown}: ${reason} (is it running? set --server or RECTIFY_SERVER)`;
}

/** True when the connection a fetch failed on read nothing: no byte of an answer came. */
function nothingRead(err: unknown): boolean {
  const socket = (err as { cause?: { socket?: { bytesRead?: unknown } } } | undefined)?.cause?.socket;
  return socket?.bytesRead === 0;
}

/**
 * Whether the service's port speaks TLS: a handshake only, nothing sent over it (its
 * certificate is not judged: any TLS server answer, an alert included, says TLS). A
 * plain HTTP port answers the handshake with text (a TLS error that is no alert); no
 * answer within two seconds, or no connection, is "not known", said as not TLS.
 */
function speaksTls(server: string): Promise<boolean> {
  const u = new URL(server);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port: Number(u.port || 80), rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const done = (yes: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(yes);
    };
    const timer = setTimeout(() => done(false), 2_000);
    socket.once('secureConnect', () => done(true));
    socket.once('error', (e: NodeJS.ErrnoException) => done(/ALERT/.test(e.code ?? '')));
  });
}

/** The service's 503 for a commit its database could not confirm (details outcome: unknown): done or not is known after its restart. */
function outcomeUnknown(body: ApiErrorBody): boolean {
  return body.error.details?.some((d) => d.path === 'outcome' && d.message === 'unknown') ?? false;
}

function statusExit(status: number, body: ApiErrorBody): number {
  if (status === 401 || status === 403) return EXIT.AUTH;
  // The service could not confirm its commit: what was asked may have been done.
  if (status >= 500 && outcomeUnknown(body)) return EXIT.UNCONFIRMED;
  if (status >= 500) return EXIT.UNREACHABLE;
  if (status === 400 || status === 413 || status === 415) return EXIT.USAGE;
  return EXIT.FAILED;
}

/**
 * Network failures after which a request may have reached the service: it was sent, and
 * what was lost is the answer (the connection closed or reset under it, the answer late).
 * The others (refused, no such host, TLS, a connect that timed out) sent nothing.
 */
const SENT_REASONS = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

/** The longest id the service takes in a path (the API's longest id, ID_PARAM_MAX): a longer one is refused before it is sent. */
export const MAX_ID_LENGTH = 128;

/** A redirect's target, as a message may show it: scheme, host and path (its query may hold a secret). */
function shownLocation(location: string | null, base: string): string {
  if (!location) return 'an address it does not give';
  try {
    const u = new URL(location, base);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return JSON.stringify(readable(location).slice(0, 200));
  }
}

const failure = (exit: number, code: string, message: string, status: number | null): ApiFailure => new ApiFailure(exit, message, { error: { code, message, details: [] } }, status);

export function createApiClient(settings: ClientSettings, opts: { userAgent?: string } = {}): ApiClient {
  const { server, token, timeoutMs, actingTimeoutMs } = settings;
  // Messages name the service by scheme and host: a path or query may hold a secret.
  const shown = ((u) => `${u.protocol}//${u.host}`)(new URL(server));

  /** A POST sent whose answer was lost (`lost` says how): the service may have acted, so it is not to be sent again before a look. */
  function mayHaveActed(route: string, lost: string, post: PostOptions, status: number | null): ApiFailure {
    const message = `sent POST ${route} to rectify at ${shown}, but ${lost}: the service may have acted on it. Do not send it again before checking what it did: ${post.check ?? 'rectify audit --since 10m'}`;
    return failure(EXIT.UNCONFIRMED, 'UNCONFIRMED', message, status);
  }

  async function request<T>(method: 'GET' | 'POST', path: string, body: unknown, shape: AnswerShape, signal: AbortSignal | undefined, post: PostOptions = {}): Promise<T> {
    const url = `${server}${path}`;
    const route = path.split('?')[0]!;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': opts.userAgent ?? 'rectify-cli' };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const limitMs = post.acts ? actingTimeoutMs : timeoutMs;
    const deadline = timeoutSignal(limitMs);
    // Ctrl-C while a POST waits for its answer (a MEDIUM runbook's guardrail checks hold
    // it for minutes) ended the process at once (130), with no word, while the service went
    // on to act: it stops the wait, and is said as any answer lost (exit 6, how to check).
    const interrupt = method === 'POST' ? new AbortController() : undefined;
    const onSigint = () => interrupt?.abort();
    if (interrupt) process.once('SIGINT', onSigint);
    const signals = [deadline, ...(signal ? [signal] : []), ...(interrupt ? [interrupt.signal] : [])];
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: signals.length === 1 ? deadline : AbortSignal.any(signals),
        // Followed by hand: a redirect is named with its target, never followed (a POST
        // would be sent again elsewhere, with the token).
        redirect: 'manual',
      });
      text = await res.text();
    } catch (err) {
      if (interrupt?.signal.aborted) throw mayHaveActed(route, 'the wait for its answer was interrupted (Ctrl-C)', post, null);
      if (signal?.aborted) throw err;
      const timedOut = deadline.aborted;
      const reason = networkReason(err);
      if (reason === 'bad port') {
        const port = new URL(server).port;
        const message = `cannot talk to rectify at ${shown}: port ${port} is one Node's HTTP client (fetch) refuses to connect to, as browsers do (a port of another protocol); give the service another port (rectify serve --listen) and --server with it`;
        throw failure(EXIT.USAGE, 'BAD_PORT', message, null);
      }
      // A POST whose answer never came may have been carried out: "try again later" (exit 3)
      // would do it twice (a second run of the runbook). It is said, with how to see it.
      if (method === 'POST' && (timedOut || SENT_REASONS.has(reason))) {
        // http:// to a TLS port: the service closes the connection on the request's first
        // bytes, which are no TLS, and nothing of it was read. Told apart from a lost answer
        // (which it looks like) by a TLS handshake with that port: one that speaks TLS
        // could not have read a plain request.
        if (!timedOut && reason === 'UND_ERR_SOCKET' && !shown.startsWith('https:') && nothingRead(err) && (await speaksTls(server))) {
          const message = `cannot reach rectify at ${shown}: the connection was closed without an answer (${reason}), and that port speaks TLS, so the request was not read (nothing was done); the service listens with TLS (--tls-cert): its address starts https://`;
          throw failure(EXIT.UNREACHABLE, 'UNREACHABLE', message, null);
        }
        const lost = timedOut ? `no answer within ${limitMs / 1000}s (--timeout)` : `the connection was closed before the answer (${reason})`;
        throw mayHaveActed(route, lost, post, null);
      }
      const message = timedOut ? `no answer from rectify at ${shown} within ${limitMs / 1000}s (raise --timeout, or check the service)` : unreachableMessage(err, shown);
      throw failure(EXIT.UNREACHABLE, timedOut ? 'TIMEOUT' : 'UNREACHABLE', message, null);
    } finally {
      if (interrupt) process.removeListener('SIGINT', onSigint);
    }
    if (res.status >= 300 && res.status < 400) {
      const message = `rectify at ${shown} answered ${method} ${route} with a redirect (${res.status}) to ${shownLocation(res.headers.get('location'), url)}: rectify never redirects; if the service is there, give that address to --server`;
      throw failure(EXIT.UNREACHABLE, 'BAD_ANSWER', message, res.status);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined) {
        const message = `rectify at ${shown} answered ${method} ${route} with ${res.status} but no JSON: is --server a rectify service?`;
        throw failure(EXIT.UNREACHABLE, 'BAD_ANSWER', message, res.status);
      }
      const checked = shape.safeParse(parsed);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        const where = issue && issue.path.length ? issue.path.join('.') : 'the answer';
        const message = `rectify at ${shown} answered ${method} ${route} with ${res.status} but not with what rectify answers (${where}: ${issue?.message ?? 'unexpected'}): is --server a rectify service?`;
        throw failure(EXIT.UNREACHABLE, 'BAD_ANSWER', message, res.status);
      }
      return parsed as T;
    }
    const apiError = isErrorBody(parsed) ? parsed : undefined;
    if (!apiError && res.status < 500 && res.status !== 401 && res.status !== 403) {
      // Not the API's refusal: something else answers at --server (another service, a proxy
      // with no route). Its 404 read as "unknown id" (exit 1), which a script trusts.
      const message = `rectify at ${shown} answered ${method} ${route} with ${res.status} ${res.statusText} but no rectify error: is --server a rectify service?`;
      throw failure(EXIT.UNREACHABLE, 'BAD_ANSWER', message, res.status);
    }
    if (!apiError && res.status >= 500 && method === 'POST') {
      // A 5xx that is not rectify's (no API error body): a proxy or ingress in front of it
      // gave up waiting (504) or lost its upstream connection (502) while rectify may go on
      // and act. "Try again later" (exit 3) would run it twice; it is a lost answer.
      throw mayHaveActed(route, `the answer was ${res.status} ${res.statusText} without rectify's error body (from a proxy in front of it, say)`, post, res.status);
    }
    const code = apiError?.error.code ?? `HTTP_${res.status}`;
    const said = apiError?.error.message ?? (text.trim().slice(0, 200) || res.statusText);
    let message: string;
    if (res.status === 401) {
      message = `rectify at ${shown} refused the request: ${token === undefined ? 'it needs an API token (set --token or RECTIFY_TOKEN)' : 'the token was not accepted (check --token or RECTIFY_TOKEN)'}${apiError ? ` [${said}]` : ''}`;
    } else if (res.status === 403) {
      // The token is blamed only when one was sent and the refusal names it (its role);
      // a refusal of who acts (separation of duties) or of where the request came from is said as it is.
      const ofToken = token !== undefined && said.startsWith('token ');
      message = ofToken ? `the token is not allowed to ${method} ${route}: ${said}` : `rectify at ${shown} refused ${method} ${route} (${res.status} ${code}): ${said}`;
    } else if (res.status >= 500 && apiError && outcomeUnknown(apiError)) {
      message = `rectify at ${shown} could not confirm ${method} ${route} (${res.status} ${code}): ${said}`;
    } else if (res.status >= 500) {
      message = `rectify at ${shown} could not answer (${res.status} ${code}): ${said}${res.headers.get('retry-after') ? `; retry after ${res.headers.get('retry-after')}s` : ''}`;
    } else {
      // The API's "no route" is no unknown id: the address (a path in --server, say /api)
      // or the service's version is what is wrong.
      const noRoute = res.status === 404 && said.startsWith('no route ');
      message = `${code}: ${said}${noRoute ? ` (check that --server is the service's address with no path it does not serve, such as /api, and that the service is as new as this CLI)` : ''}`;
    }
    const body2: ApiErrorBody = apiError ?? { error: { code, message: said, details: [] } };
    throw new ApiFailure(statusExit(res.status, body2), message, body2, res.status);
  }

  return {
    server,
    get: (path, shape, signal) => request('GET', path, undefined, shape, signal),
    post: (path, body, shape, o) => request('POST', path, body, shape, undefined, o),
  };
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  if (typeof v !== 'object' || v === null) return false;
  const e = (v as { error?: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && typeof (e as { message?: unknown }).message === 'string';
}

/**
 * Reports a failure the way every client command does: a sentence on stderr (with
 * the failing fields, if the service named them), the error JSON on stdout under
 * --json, and the failure's exit code. Anything else is a bug and is rethrown.
 */
export function reportFailure(io: CliIO, json: boolean, err: unknown): number {
  if (!(err instanceof ApiFailure)) throw err;
  // The service's messages quote what it was sent (an alert's service, who acted): on one line.
  io.err(`rectify: ${readable(err.message)}`);
  // A detail the message already says ("invalid query: query.cursor: …") is not said twice.
  for (const d of err.body.error.details ?? []) {
    const line = `${readable(d.path)}: ${readable(d.message)}`;
    if (!readable(err.message).includes(line)) io.err(`  ${line}`);
  }
  if (json) io.out(JSON.stringify(err.body));
  return err.exit;
}

import type { ClientSettings } from '../../config/index.js';
import { EXIT, type CliIO } from '../io.js';
import { readable, timeoutSignal } from '../../lib/index.js';

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
    /** What `--json` prints: the service's own error body, or one in the same shape. */
    readonly body: ApiErrorBody,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export interface ApiClient {
  readonly server: string;
  get<T = unknown>(path: string, signal?: AbortSignal): Promise<T>;
  post<T = unknown>(path: string, body: unknown, signal?: AbortSignal): Promise<T>;
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

function statusExit(status: number): number {
  if (status === 401 || status === 403) return EXIT.AUTH;
  if (status >= 500) return EXIT.UNREACHABLE;
  if (status === 400 || status === 413 || status === 415) return EXIT.USAGE;
  return EXIT.FAILED;
}

export function createApiClient(settings: ClientSettings, opts: { userAgent?: string } = {}): ApiClient {
  const { server, token, timeoutMs } = settings;
  // Messages name the service by scheme and host: a path or query may hold a secret.
  const shown = ((u) => `${u.protocol}//${u.host}`)(new URL(server));

  async function request<T>(method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal | undefined): Promise<T> {
    const url = `${server}${path}`;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': opts.userAgent ?? 'rectify-cli' };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const deadline = timeoutSignal(timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
        redirect: 'error',
      });
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw err;
      const timedOut = deadline.aborted;
      const message = timedOut
        ? `no answer from rectify at ${shown} within ${timeoutMs / 1000}s (raise --timeout, or check the service)`
        : unreachableMessage(err, shown);
      throw new ApiFailure(EXIT.UNREACHABLE, message, { error: { code: timedOut ? 'TIMEOUT' : 'UNREACHABLE', message, details: [] } }, null);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined) {
        const message = `rectify at ${shown} answered ${method} ${path} with ${res.status} but no JSON: is --server a rectify service?`;
        throw new ApiFailure(EXIT.UNREACHABLE, message, { error: { code: 'BAD_ANSWER', message, details: [] } }, res.status);
      }
      return parsed as T;
    }
    const apiError = isErrorBody(parsed) ? parsed : undefined;
    if (!apiError && res.status < 500 && res.status !== 401 && res.status !== 403) {
      // Not the API's refusal: something else answers at --server (another service, a proxy
      // with no route). Its 404 read as "unknown id" (exit 1), which a script trusts.
      const message = `rectify at ${shown} answered ${method} ${path.split('?')[0]} with ${res.status} ${res.statusText} but no rectify error: is --server a rectify service?`;
      throw new ApiFailure(EXIT.UNREACHABLE, message, { error: { code: 'BAD_ANSWER', message, details: [] } }, res.status);
    }
    const code = apiError?.error.code ?? `HTTP_${res.status}`;
    const said = apiError?.error.message ?? (text.trim().slice(0, 200) || res.statusText);
    let message: string;
    if (res.status === 401) {
      message = `rectify at ${shown} refused the request: ${token === undefined ? 'it needs an API token (set --token or RECTIFY_TOKEN)' : 'the token was not accepted (check --token or RECTIFY_TOKEN)'}${apiError ? ` [${said}]` : ''}`;
    } else if (res.status === 403) {
      message = `the token is not allowed to ${method} ${path.split('?')[0]}: ${said}`;
    } else if (res.status >= 500) {
      message = `rectify at ${shown} could not answer (${res.status} ${code}): ${said}${res.headers.get('retry-after') ? `; retry after ${res.headers.get('retry-after')}s` : ''}`;
    } else {
      // The API's "no route" is no unknown id: the address (a path in --server, say /api)
      // or the service's version is what is wrong.
      const noRoute = res.status === 404 && said.startsWith('no route ');
      message = `${code}: ${said}${noRoute ? ` (check that --server is the service's address with no path it does not serve, such as /api, and that the service is as new as this CLI)` : ''}`;
    }
    const body2: ApiErrorBody = apiError ?? { error: { code, message: said, details: [] } };
    throw new ApiFailure(statusExit(res.status), message, body2, res.status);
  }

  return {
    server,
    get: (path, signal) => request('GET', path, undefined, signal),
    post: (path, body, signal) => request('POST', path, body, signal),
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

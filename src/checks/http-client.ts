import { DecoratorHandler, getGlobalDispatcher, request, type Dispatcher } from 'undici';
import { describeError } from './poll.js';
import { timerMs, untilAborted } from '../lib/index.js';

/**
 * The one HTTP client of actions, checks and notifications: undici's `request`,
 * where fetch would cost about four times the CPU per call (a WHATWG Request and
 * Response, body streams teed and cancelled with an exception each). A storm's
 * first seconds start thousands of executions, each with an HTTP action or a
 * check polling Prometheus, on the loop that also takes the alerts.
 *
 * Redirects are never followed (a 3xx is the answer to *this* request: following
 * it would send the method and its credentials to a host nobody reviewed), and
 * every call has the caller's deadline.
 */
export interface HttpRequestInit {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  /** A response header (the first value, for repeated ones). */
  header(name: string): string | undefined;
  /** The body as UTF-8 text; past `limitBytes` the read stops and `tooLarge` is thrown. */
  text(limitBytes: number, tooLarge: string): Promise<string>;
  /**
   * Lets the body go unread. A small one is read to its end, which leaves the
   * connection free for the next request; a larger one closes it. Never throws:
   * once the status is known, the body does not matter. `waitMs` caps the wait: a
   * body still arriving then (one trickled a byte at a time) is cut off, its
   * connection closed.
   */
  discard(waitMs?: number): Promise<void>;
}

/**
 * Rejects with `RequestNotSentError` when the request certainly never left: the
 * client refused it while building it (a header value it cannot encode, an invalid
 * URL or method), or it was never handed to a connected socket (connection refused,
 * host not found, a connect timeout, a TLS handshake that failed, a deadline that
 * passed while connecting). Any other rejection may come after bytes were written.
 */
export type HttpRequest = (url: string | URL, init: HttpRequestInit) => Promise<HttpAnswer>;

/**
 * The request was never written to a connection, so the target cannot have seen
 * it: a caller may treat it as "nothing happened" (no rollback for it). The message
 * is the cause as one line ("invalid X-Team header", "connection refused"), the
 * same words the cause itself would be described with.
 */
export class RequestNotSentError extends Error {
  readonly code = 'REQUEST_NOT_SENT';
  constructor(cause: unknown) {
    super(describeError(cause), { cause });
    this.name = 'RequestNotSentError';
  }
}

/**
 * undici throws InvalidArgumentError only while checking and building a request
 * (its options, URL, method, headers), all before the request is queued on a
 * socket or written.
 */
const NOT_SENT_CODES = new Set(['UND_ERR_INVALID_ARG']);

function refusedBeforeSending(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && NOT_SENT_CODES.has(err.code);
}

/**
 * Whether undici handed the request to a connected socket. It calls the handler's
 * `onConnect` on a connected socket just before it writes the request line, and
 * never before: a request that fails before that (the connection refused, the host
 * not found, a connect or TLS handshake error, a deadline that passed while it
 * waited for a connection) was never written. The trap this guards against is
 * telling errors apart by their code: ECONNRESET, a timeout or "other side closed"
 * on a reused keep-alive socket come after the request was written, and a request
 * written once and queued again behind a broken pipeline could even meet a connect
 * error later; so the only "not sent" here is "never handed over", and everything
 * else stays "may have been sent".
 */
interface Handover {
  written: boolean;
}

/** `handler` as it is, but for `onConnect`, which records the handover first. */
function watch(handler: Dispatcher.DispatchHandlers, handover: Handover): Dispatcher.DispatchHandlers {
  // DecoratorHandler passes every callback on to the handler it wraps.
  const watcher = new DecoratorHandler(handler) as Dispatcher.DispatchHandlers;
  const onConnect = watcher.onConnect!.bind(watcher);
  watcher.onConnect = (abort) => {
    // The request handler aborts at once, inside this call, when the caller's deadline
    // passed while it waited for a connection: undici then returns without writing.
    let abortedNow = false;
    let during = true;
    onConnect((err) => {
      if (during) abortedNow = true;
      abort(err);
    });
    during = false;
    if (!abortedNow) handover.written = true;
  };
  return watcher;
}

/** The current global dispatcher (tests may replace it), seeing each request's handover. */
function watched(handover: Handover): Dispatcher {
  return getGlobalDispatcher().compose((dispatch) => (opts, handler) => dispatch(opts, watch(handler, handover)));
}

/**
 * How long a response body no one reads (a check's, an action's: the status is the
 * answer) may take to arrive, discarded in the background, before its connection is closed.
 */
export const BODY_DISCARD_WAIT_MS = 1_000;

/** Bodies up to this size are read to the end by `discard` rather than cutting the connection. */
const DISCARD_READ_LIMIT = 64 * 1024;

export const httpRequest: HttpRequest = async (url, init) => {
  let pending: ReturnType<typeof request>;
  const handover: Handover = { written: false };
  try {
    pending = request(url, {
      method: init.method as 'GET',
      ...(init.headers ? { headers: init.headers } : {}),
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: init.signal,
      maxRedirections: 0,
      dispatcher: watched(handover),
    });
  } catch (err) {
    // Thrown before request() returned (an unparsable URL): nothing was dispatched.
    throw new RequestNotSentError(err);
  }
  let res: Awaited<typeof pending>;
  try {
    // Given up at the deadline while still waiting for a connection: the client itself
    // acts on such a deadline only when the connection is made (then writes nothing) or
    // its own 10 s connect timeout fires, so a host that drops SYNs would hold the caller
    // that long, whatever its timeout. Once handed over, the client aborts the request.
    res = await untilAborted(pending, init.signal, () => handover.written);
  } catch (err) {
    throw refusedBeforeSending(err) || !handover.written ? new RequestNotSentError(err) : err;
  }
  const body = res.body;
  return {
    status: res.statusCode,
    header(name) {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
    async text(limitBytes, tooLarge) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).byteLength;
        if (size > limitBytes) {
          body.destroy();
          throw new Error(tooLarge);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks).toString('utf8');
    },
    async discard(waitMs) {
      const cut = waitMs === undefined ? undefined : setTimeout(() => body.destroy(), timerMs(waitMs));
      try {
        await body.dump({ limit: DISCARD_READ_LIMIT });
      } catch {
        // Already closed or errored: nothing to release.
      } finally {
        clearTimeout(cut);
      }
    },
  };
};

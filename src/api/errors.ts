import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_STATUS, isOutcomeUnknown, isRectifyError, quoteUntrusted, RectifyError, type ErrorCode } from '../domain/index.js';
import type { BodyFault } from '../engine/index.js';
import type { UnavailableCode } from '../observability/metrics.js';
import { BodyRefusal } from './json-body.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request is answered 503 with an error code: told and counted once the answer is sent (see unavailable.ts). */
    unavailable: { code: UnavailableCode; err?: unknown } | null;
  }
}

/** Fastify's own request errors, by code → our stable codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

export function errorBody(code: string, message: string, details: Array<{ path: string; message: string }> = []) {
  return { error: { code, message, details } };
}

/** The answer to a POST while rectify stops (SIGTERM): its sender retries, here or on another replica. */
export function sendShuttingDown(reply: FastifyReply): FastifyReply {
  reply.request.unavailable = { code: 'SHUTTING_DOWN' };
  return reply.code(503).header('Retry-After', '10').send(errorBody('SHUTTING_DOWN', 'rectify is shutting down; send this to another replica or retry'));
}

/** A request refused as the caller's mistake (4xx): what it was answered. */
export interface ClientRefusal {
  code: ErrorCode;
  status: number;
  message: string;
  /** A body refused in its reading: what was wrong with it (see BodyRefusal). */
  fault?: BodyFault;
}

export interface ErrorHandlerOptions {
  /** --body-limit: a route with a limit of its own (Slack's) is not said to be bound by the flag. */
  bodyLimitBytes: number;
  /** Hears every 4xx answered here, after the answer is sent (intake makes its refusals visible). */
  onRefused?: (req: FastifyRequest, refusal: ClientRefusal) => void;
  /** Hears every request its sender gave up on before its body arrived whole: answered to nobody, so refused to nobody (see `abandoned`). */
  onAbandoned?: (req: FastifyRequest) => void;
}

/**
 * The sender closed the connection before its body arrived whole (Node's `aborted`,
 * ECONNRESET): no answer can reach it, so nothing was refused; it sends again (a
 * webhook retries a delivery it got no answer for). Never taken for a malformed body.
 * Only while the body was still being read: a request that arrived whole and then
 * failed is a failure (logged as one), whether or not its sender still waits.
 */
export function abandoned(req: FastifyRequest, err: { code?: string }): boolean {
  const reading = !req.raw.complete || err.code === 'ECONNRESET';
  return reading && (req.raw.aborted || err.code === 'ECONNRESET' || req.raw.socket?.destroyed === true);
}

/**
 * One table from error codes to HTTP statuses. 4xx bodies say what was wrong and
 * what to do; 5xx bodies hide internals (the log has them, with the request id).
 */
export function createErrorHandler(opts: ErrorHandlerOptions): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => void {
  const refuse = (req: FastifyRequest, reply: FastifyReply, code: ErrorCode, status: number, message: string, details?: Array<{ path: string; message: string }>, fault?: BodyFault): void => {
    void reply.code(status).send(errorBody(code, message, details));
    opts.onRefused?.(req, { code, status, message, ...(fault ? { fault } : {}) });
  };
  return function errorHandler(err, req, reply) {
    if (!isRectifyError(err) && abandoned(req, err)) {
      req.log.debug({ err: err.message, method: req.method, route: req.routeOptions.url }, 'the sender closed the connection before its request arrived whole: nothing is answered');
      opts.onAbandoned?.(req);
      // Fastify sends nothing on a closed connection; the request ends all the same.
      void reply.code(400).send(errorBody('BAD_REQUEST', 'the request was closed by its sender before its body arrived'));
      return;
    }
    if (isRectifyError(err)) {
      const status = ERROR_STATUS[err.code];
      // Not when the outcome is not known: a retry is not the answer (it may have been recorded).
      if (status === 503 && !isOutcomeUnknown(err.details)) reply.header('Retry-After', '5');
      if (status >= 500) {
        const code = err.code;
        if (code === 'STORE_UNAVAILABLE' || code === 'OVERLOADED' || code === 'SHUTTING_DOWN') req.unavailable = { code, err };
        // A store fault or an overload answers every request alike while it lasts: told
        // once it starts, then summed up (see unavailable.ts), not a line per request.
        // The err serializer writes its cause (its message and stack, "caused by:"); an Error
        // under a key of its own would be written as {}.
        if (code !== 'STORE_UNAVAILABLE' && code !== 'OVERLOADED') req.log.error({ err, ...failedRequest(req) }, 'request failed');
        void reply.code(status).send(errorBody(err.code, err.message, err.details));
        return;
      }
      refuse(req, reply, err.code, status, err.message, err.details, err instanceof BodyRefusal ? err.fault : undefined);
      return;
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped === 'UNSUPPORTED_MEDIA_TYPE') {
      const given = req.headers['content-type'];
      const shown = quoteUntrusted(given ?? '', MAX_CONTENT_TYPE_SHOWN);
      refuse(req, reply, mapped, ERROR_STATUS[mapped], `content type ${shown} is not accepted: send application/json`, [
        { path: 'headers.content-type', message: `${given === undefined ? 'missing' : `${shown} is not accepted`}: rectify reads a body only as application/json` },
      ]);
      return;
    }
    if (mapped) {
      refuse(req, reply, mapped, ERROR_STATUS[mapped], mapped === 'PAYLOAD_TOO_LARGE' ? tooLarge(req, opts.bodyLimitBytes) : err.message);
      return;
    }
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      // The parser does not say which of its two refusals this is; name both.
      refuse(req, reply, 'BAD_REQUEST', 400, 'the body is not valid JSON, or it holds a "__proto__" or "constructor.prototype" key, which is refused');
      return;
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // JSON syntax errors and the like: the caller's mistake, said plainly.
      refuse(req, reply, 'BAD_REQUEST', status, err.message);
      return;
    }
    req.log.error({ err, ...failedRequest(req) }, 'unexpected error');
    void reply.code(500).send(errorBody('INTERNAL', `internal error (request ${req.id}); the log has the details`));
  };
}

/** What a 5xx log line says of its request: which one, what was asked, by whom (the token's name, when tokens are configured). */
function failedRequest(req: FastifyRequest): { reqId: string; method: string; route: string | null; caller: string | null } {
  return { reqId: req.id, method: req.method, route: req.routeOptions.url ?? null, caller: req.caller?.name ?? null };
}

/** The 413's message: the declared size when there is one, the route's limit, and whether --body-limit sets it. */
function tooLarge(req: FastifyRequest, bodyLimitBytes: number): string {
  const limit = req.routeOptions.bodyLimit ?? bodyLimitBytes;
  const declared = Number(req.headers['content-length']);
  const body = Number.isSafeInteger(declared) && declared > limit ? `the request body (${declared} bytes)` : 'the request body';
  return limit === bodyLimitBytes
    ? `${body} is larger than the configured limit of ${limit} bytes (--body-limit): raise --body-limit, or send less in one request`
    : `${body} is larger than this route's limit of ${limit} bytes`;
}

/**
 * What a connection is answered when Node cannot read a request on it at all (no route,
 * no hook, no error handler ever sees it): a Content-Length that is not a byte count, a
 * malformed request line, header or chunk, bytes that start no request (after a body
 * its Content-Length announced shorter than the body sent, that request answered
 * already), headers too large, a request too slow to arrive. Used only when no request
 * read before those bytes is still to be answered (see createClientErrors).
 * Fastify's own answer, `{"error":"Bad Request","message":"Client Error"}`, says none of
 * that and is not the API's error shape.
 */
export function clientErrorAnswer(parserCode: string | undefined): { status: number; code: ErrorCode; message: string } {
  switch (parserCode) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time (its headers or body came too slowly): send it again' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: "the request's headers are larger than rectify reads: send fewer or shorter headers" };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: 'the Content-Length header is not a byte count (or is given twice, or beside Transfer-Encoding): send the length of the body in bytes, once',
      };
    default:
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: `the request could not be read as HTTP/1.1 (${parserCode ?? 'unknown'}): a malformed request line, header or chunk, or bytes that start no request (after a body its Content-Length announced shorter than the body sent, that request read and answered already): send the length of the body in bytes`,
      };
  }
}

/**
 * What is logged of an error Node raised on a connection: why it could not read the
 * bytes (the parser's code and reason, how far it read), never the error itself. Node's
 * parse errors carry `rawPacket`, the bytes it was reading, headers and all: an
 * `Authorization: Bearer …` among them would be written to the log.
 */
export function clientErrorFields(err: Error & { code?: unknown; reason?: unknown; bytesParsed?: unknown }): Record<string, unknown> {
  return {
    code: typeof err.code === 'string' ? err.code : null,
    reason: typeof err.reason === 'string' ? err.reason : null,
    message: err.message,
    ...(typeof err.bytesParsed === 'number' ? { bytes_parsed: err.bytesParsed } : {}),
  };
}

/** What a connection has read and not answered yet: a request and its response. */
interface Unanswered {
  req: IncomingMessage;
  res: ServerResponse;
}

export interface ClientErrors {
  /** Fastify's `clientErrorHandler` (see createClientErrors). */
  handler: (this: { log: FastifyBaseLogger }, err: Error & { code?: string }, socket: Socket) => void;
  /** The server's `request` listener: notes each request read until it is answered. */
  track: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * What a connection is told when Node cannot read the bytes that came on it.
 *
 * Nothing read before them waits for an answer: the connection is answered in the API's
 * error shape (see clientErrorAnswer), and closed, its next bytes not to be trusted to
 * start a request.
 *
 * Requests read whole before them (on a kept-alive connection, a request whose body
 * was as long as its Content-Length, followed by bytes that start no request) went to
 * their routes and are decided: an answer saying nothing was read would be false, and
 * would take the place of theirs. They are answered as any other, and the connection is
 * closed after the last of them, the bytes after them unanswered.
 *
 * A request whose body the bytes were part of (a chunk that cannot be read) never
 * reached its route: it is answered as in the first case if it is the only one
 * unanswered; behind requests still answered, nothing can be told in its place without
 * being taken for theirs, and the connection is closed with no answer.
 */
export function createClientErrors(): ClientErrors {
  const unanswered = new WeakMap<Socket, Set<Unanswered>>();
  const closing = new WeakSet<Socket>();
  const closeAfterAnswers = (socket: Socket): void => {
    if (!unanswered.get(socket)?.size) socket.end();
  };
  return {
    track(req, res) {
      const socket = req.socket;
      const mine = unanswered.get(socket) ?? new Set<Unanswered>();
      unanswered.set(socket, mine);
      const entry = { req, res };
      mine.add(entry);
      res.once('close', () => {
        mine.delete(entry);
        if (closing.has(socket)) closeAfterAnswers(socket);
      });
    },
    handler(err, socket) {
      // A reset connection has nobody to answer; a closing one was told already.
      if (err.code === 'ECONNRESET' || socket.destroyed || closing.has(socket)) return;
      const waiting = [...(unanswered.get(socket) ?? [])];
      if (waiting.length > 0 && waiting.every((w) => w.req.complete)) {
        this.log.debug({ client_error: clientErrorFields(err), answering: waiting.length }, 'unreadable bytes after requests read whole: they are answered, then the connection closed');
        closing.add(socket);
        closeAfterAnswers(socket);
        return;
      }
      const answer = clientErrorAnswer(err.code);
      this.log.debug({ client_error: clientErrorFields(err), status: answer.status }, 'request refused before it could be read');
      // Only the request being read waits, and nothing of an answer to it was sent.
      const alone = waiting.length <= 1 && !waiting.some((w) => w.res.headersSent);
      if (socket.writable && alone) {
        const body = JSON.stringify(errorBody(answer.code, answer.message));
        socket.write(
          `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy(err);
    },
  };
}

/** Longest part of a Content-Type shown in a refusal (it is the sender's text). */
const MAX_CONTENT_TYPE_SHOWN = 256;

/** Longest part of a Content-Encoding shown in a refusal (it is the sender's text). */
const MAX_ENCODING_SHOWN = 64;

/**
 * A body sent compressed (`Content-Encoding: gzip`, or any encoding but `identity`):
 * rectify does not decompress, and read as it is the body would be refused as "not
 * valid JSON", sending its sender after the wrong fault. Refused as 415 naming the
 * encoding instead. A request without a body is not concerned.
 */
export function contentEncodingRefusal(headers: FastifyRequest['headers']): RectifyError | undefined {
  const given = headers['content-encoding'];
  if (given === undefined) return undefined;
  const encoding = given.trim();
  if (encoding === '' || encoding.toLowerCase() === 'identity') return undefined;
  const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  if (!hasBody) return undefined;
  return new RectifyError('UNSUPPORTED_MEDIA_TYPE', `content encoding ${quoteUntrusted(encoding, MAX_ENCODING_SHOWN)} is not accepted: send the body uncompressed (no Content-Encoding, or identity)`, {
    details: [{ path: 'headers.content-encoding', message: `${quoteUntrusted(encoding, MAX_ENCODING_SHOWN)} is not accepted: rectify reads only an uncompressed body` }],
  });
}

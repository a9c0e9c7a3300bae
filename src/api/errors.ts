import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_STATUS, isRectifyError, type ErrorCode } from '../domain/index.js';

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

/** A request refused as the caller's mistake (4xx): what it was answered. */
export interface ClientRefusal {
  code: ErrorCode;
  status: number;
  message: string;
}

export interface ErrorHandlerOptions {
  /** --body-limit: a route with a limit of its own (Slack's) is not said to be bound by the flag. */
  bodyLimitBytes: number;
  /** Hears every 4xx answered here, after the answer is sent (intake makes its refusals visible). */
  onRefused?: (req: FastifyRequest, refusal: ClientRefusal) => void;
}

/**
 * One table from error codes to HTTP statuses. 4xx bodies say what was wrong and
 * what to do; 5xx bodies hide internals (the log has them, with the request id).
 */
export function createErrorHandler(opts: ErrorHandlerOptions): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => void {
  const refuse = (req: FastifyRequest, reply: FastifyReply, code: ErrorCode, status: number, message: string, details?: Array<{ path: string; message: string }>): void => {
    void reply.code(status).send(errorBody(code, message, details));
    opts.onRefused?.(req, { code, status, message });
  };
  return function errorHandler(err, req, reply) {
    if (isRectifyError(err)) {
      const status = ERROR_STATUS[err.code];
      if (status === 503) reply.header('Retry-After', '5');
      if (status >= 500) {
        req.log.error({ err, cause: err.cause, reqId: req.id }, 'request failed');
        void reply.code(status).send(errorBody(err.code, err.message, err.details));
        return;
      }
      refuse(req, reply, err.code, status, err.message, err.details);
      return;
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) {
      const message =
        mapped === 'PAYLOAD_TOO_LARGE'
          ? tooLarge(req, opts.bodyLimitBytes)
          : mapped === 'UNSUPPORTED_MEDIA_TYPE'
            ? `content type ${JSON.stringify(req.headers['content-type'] ?? '')} is not accepted: send application/json`
            : err.message;
      refuse(req, reply, mapped, ERROR_STATUS[mapped], message);
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
    req.log.error({ err, reqId: req.id }, 'unexpected error');
    void reply.code(500).send(errorBody('INTERNAL', `internal error (request ${req.id}); the log has the details`));
  };
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

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

/**
 * One table from error codes to HTTP statuses. 4xx bodies say what was wrong and
 * what to do; 5xx bodies hide internals (the log has them, with the request id).
 */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (isRectifyError(err)) {
    const status = ERROR_STATUS[err.code];
    if (status === 503) reply.header('Retry-After', '5');
    if (status >= 500) req.log.error({ err, cause: err.cause, reqId: req.id }, 'request failed');
    void reply.code(status).send(errorBody(err.code, err.message, err.details));
    return;
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) {
    const message =
      mapped === 'PAYLOAD_TOO_LARGE'
        ? 'the request body is larger than the configured limit (--body-limit)'
        : mapped === 'UNSUPPORTED_MEDIA_TYPE'
          ? `content type ${JSON.stringify(req.headers['content-type'] ?? '')} is not accepted: send application/json`
          : err.message;
    void reply.code(ERROR_STATUS[mapped]).send(errorBody(mapped, message));
    return;
  }
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    // The parser does not say which of its two refusals this is; name both.
    void reply.code(400).send(errorBody('BAD_REQUEST', 'the body is not valid JSON, or it holds a "__proto__" or "constructor.prototype" key, which is refused'));
    return;
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // JSON syntax errors and the like: the caller's mistake, said plainly.
    void reply.code(status).send(errorBody(status === 400 ? 'BAD_REQUEST' : 'BAD_REQUEST', err.message));
    return;
  }
  req.log.error({ err, reqId: req.id }, 'unexpected error');
  void reply.code(500).send(errorBody('INTERNAL', `internal error (request ${req.id}); the log has the details`));
}

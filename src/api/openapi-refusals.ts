import type { FastifySchema } from 'fastify';
import { accessFor } from './auth.js';
import { errorSchema } from './schemas.js';
import { BODY_OPTIONAL, toJsonSchema } from './zod-route.js';

const ERROR = toJsonSchema(errorSchema, 'output');

const NOT_LOOPBACK =
  'without --tokens, the request was not addressed to localhost, 127.0.0.1 or [::1] (the Host header), or a web page of another origin sent it (Origin, Sec-Fetch-Site)';

/**
 * The refusals of the app-wide onRequest hooks (auth.ts), added to every operation of
 * the OpenAPI document (a @fastify/swagger `transform`). They answer before any route
 * runs, so a route's own schemas do not list them, and a new route cannot forget them:
 * its access is read from the same policy table the hook enforces. Documentation only:
 * the route's schema as Fastify holds it is not changed.
 */
export function documentRefusals({ schema, url, route }: { schema: FastifySchema; url: string; route: { method: string | string[] } }): {
  schema: FastifySchema;
  url: string;
} {
  if (!schema || (schema as { hide?: boolean }).hide) return { schema, url };
  const method = Array.isArray(route.method) ? route.method[0]! : route.method;
  const access = accessFor(method, url);
  const given = (schema.response ?? {}) as Record<string, Record<string, unknown>>;
  const response: Record<string, unknown> = { ...given };
  const add = (code: string, description: string): void => {
    const own = given[code];
    // A route that lists the status itself (a refusal of its own as well) keeps its schema; it gets this description unless it has one.
    response[code] = own ? { ...own, 'x-response-description': own.description ?? own['x-response-description'] ?? description } : { ...ERROR, 'x-response-description': description };
  };
  if (access === 'public' || access === 'slack') {
    add('403', `FORBIDDEN: ${NOT_LOOPBACK}`);
  } else {
    add('401', 'UNAUTHORIZED (with --tokens): no API token, a malformed Authorization header, or a token that is not valid; answered with `WWW-Authenticate: Bearer realm="rectify"`');
    add('403', `FORBIDDEN: with --tokens, the token lacks the ${access} role this operation needs (or a refusal the operation describes); ${NOT_LOOPBACK}`);
    if (method === 'POST') {
      // Every write: the app-wide draining hook (app.ts) and the store's commit answer it.
      add(
        '503',
        'SERVICE UNAVAILABLE: STORE_UNAVAILABLE (the database cannot commit now: its lock held elsewhere past --db-busy-timeout, a full disk), OVERLOADED (intake: more writes wait than --max-pending) or SHUTTING_DOWN (rectify is stopping); send it again after Retry-After',
      );
    }
    if (method === 'POST' && schema.body) {
      // The content-type parsers and the preParsing hook (app.ts), before the route's own validation.
      add('413', 'PAYLOAD_TOO_LARGE: the body is over --body-limit');
      add('415', 'UNSUPPORTED_MEDIA_TYPE: a body that is not application/json (text/plain, a form), or one sent compressed (Content-Encoding)');
    }
  }
  return { schema: { ...schema, response }, url };
}

/**
 * The whole OpenAPI document (through a @fastify/swagger `transformObject`): @fastify/swagger marks every
 * request body `required`, while a route whose body schema accepts none (pause, resume,
 * approve and reject with an API token) is answered without one as with `{}`. Those are
 * marked not required, and the mark is removed.
 */
export function documentOptionalBodies<D extends object>(document: D): D {
  const paths = ((document as { paths?: unknown }).paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  for (const ops of Object.values(paths)) {
    for (const op of Object.values(ops)) {
      if (typeof op !== 'object' || op === null || !(BODY_OPTIONAL in op)) continue;
      const body = op.requestBody as { required?: boolean } | undefined;
      if (op[BODY_OPTIONAL] === true && body) body.required = false;
      delete op[BODY_OPTIONAL];
    }
  }
  return document;
}

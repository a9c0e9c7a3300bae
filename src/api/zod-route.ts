import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { z } from 'zod';
import { RectifyError, type ErrorDetail } from '../domain/index.js';
import { formatJsonPath } from '../ingest/index.js';
import { errorSchema, noQuerySchema } from './schemas.js';

/**
 * One zod schema per wire shape: it validates the request, types the handler and,
 * converted to JSON Schema, documents the route in the OpenAPI document. Fastify's
 * own validator is replaced by this one, so there is exactly one source of truth.
 */
export interface RouteSchemas {
  body?: z.ZodType;
  /**
   * A hand-written check that is true only for bodies `body` accepts unchanged:
   * when it holds, the parsed JSON is used as is; otherwise the schema decides (and
   * names the fields). For intake routes, where validation runs per alert.
   */
  fastBody?: (data: unknown) => boolean;
  querystring?: z.ZodType;
  params?: z.ZodType;
  response?: Record<number, z.ZodType>;
  /**
   * Answers that are not one JSON document: their media type, what the answer is, and
   * what `response` then describes (one line of a JSON-lines stream, say).
   */
  media?: Partial<Record<number, { type: string; description: string }>>;
  summary: string;
  description?: string;
  tags: string[];
  /** Extra OpenAPI keys (security, …). */
  extra?: Record<string, unknown>;
}

export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const js = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-7' }) as Record<string, unknown>;
  delete js.$schema;
  return js;
}

export function zodDetails(prefix: string, err: z.ZodError): ErrorDetail[] {
  return err.issues.map((i) => ({ path: formatJsonPath(prefix, i.path), message: i.message }));
}

/** The hand-written checks behind the registry's `fast` entries, called as they are (a zod parse around them costs every request). */
const fastChecks = new WeakMap<z.ZodType, (data: unknown) => boolean>();

/** Whether an object has no enumerable key (a request without a query string). */
function noKeys(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  for (const _ in data) return false;
  return true;
}

/** Fastify validator compiler that looks up the zod schema registered for the route. */
export function installZodValidation(app: FastifyInstance, registry: Map<string, z.ZodType>): void {
  app.setValidatorCompiler(({ method, url, httpPart }) => {
    // Fastify answers HEAD for every GET route through the GET handler: it is validated as that GET is.
    const m = String(method) === 'HEAD' ? 'GET' : String(method);
    const schema = registry.get(`${m} ${url} ${httpPart}`);
    if (!schema) return () => true;
    const fastSchema = registry.get(`${m} ${url} ${httpPart} fast`);
    const fast = fastSchema && (fastChecks.get(fastSchema) ?? ((data: unknown) => fastSchema.safeParse(data).success));
    // A request without a query string (every alert a storm sends) is given the schema's
    // answer for none, parsed once here: a copy of it, when it holds only plain values.
    const none = httpPart === 'querystring' ? schema.safeParse({}) : undefined;
    const noQuery = none?.success && isFlat(none.data) ? (none.data as Record<string, unknown>) : undefined;
    return (data: unknown) => {
      if (noQuery && noKeys(data)) return { value: { ...noQuery } };
      if (fast?.(data)) return { value: data };
      let r = schema.safeParse(data);
      // Fastify hands a missing body over as null. Where the schema has a default for
      // "no body" (pause, approve with a token), a request without one gets that default.
      if (!r.success && data === null && httpPart === 'body') {
        const absent = schema.safeParse(undefined);
        if (absent.success) r = absent;
      }
      if (r.success) return { value: r.data };
      const part = httpPart === 'querystring' ? 'query' : httpPart;
      const details = zodDetails(part ?? 'body', r.error);
      const first = details[0];
      return { error: new RectifyError('VALIDATION_FAILED', `invalid ${part}: ${first ? `${first.path}: ${first.message}` : 'does not match the schema'}`, { details }) };
    };
  });
  // Responses are documented, not filtered: serialise as is.
  app.setSerializerCompiler(() => (data: unknown) => JSON.stringify(data));
}

/** The mark routeOptions puts on an operation whose body may be left out (see documentOptionalBodies, openapi-refusals.ts). */
export const BODY_OPTIONAL = 'x-body-optional';

/** An object whose values are all null, booleans, numbers, strings or undefined (a shallow copy of it shares nothing). */
function isFlat(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.values(v).every((x) => x === null || (typeof x !== 'object' && typeof x !== 'function'));
}

export function routeOptions(registry: Map<string, z.ZodType>, method: string, url: string, s: RouteSchemas): RouteShorthandOptions {
  const schema: Record<string, unknown> = { summary: s.summary, tags: s.tags, ...(s.description ? { description: s.description } : {}), ...(s.extra ?? {}) };
  for (const part of ['body', 'querystring', 'params'] as const) {
    const z = s[part];
    if (!z) continue;
    registry.set(`${method} ${url} ${part}`, z);
    schema[part] = toJsonSchema(z, 'input');
  }
  // A body its schema accepts left out (a request without one is validated as `undefined`,
  // below): documented as not required (documentOptionalBodies, openapi-refusals.ts).
  if (s.body?.safeParse(undefined).success) schema[BODY_OPTIONAL] = true;
  // Kept beside the schema under its own key; a zod custom type only so the registry holds one kind of value.
  if (s.fastBody) {
    const fast = z.custom(s.fastBody);
    fastChecks.set(fast, s.fastBody);
    registry.set(`${method} ${url} body fast`, fast);
  }
  if (s.response) {
    const response: Record<string, unknown> = {};
    for (const [code, z] of Object.entries(s.response)) {
      const media = s.media?.[Number(code)];
      response[code] = media
        ? { 'x-response-description': media.description, content: { [media.type]: { schema: toJsonSchema(z, 'output') } } }
        : toJsonSchema(z, 'output');
    }
    schema.response = response;
  }
  return { schema };
}

export type Handler<B = unknown, Q = unknown, P = unknown> = (
  req: FastifyRequest<{ Body: B; Querystring: Q; Params: P }>,
  reply: FastifyReply,
) => Promise<unknown>;

/** Registers a route with its zod schemas. */
export function addRoute<B = unknown, Q = unknown, P = unknown>(
  app: FastifyInstance,
  registry: Map<string, z.ZodType>,
  method: 'GET' | 'POST',
  url: string,
  s: RouteSchemas,
  handler: Handler<B, Q, P>,
): void {
  app.route({ method, url, ...routeOptions(registry, method, url, withQuery(url, s)), handler: handler as never });
}

/**
 * An /api/v1 route that declares no query reads none, and refuses any (400 naming
 * `query.<key>`): a key dropped silently is a request not carried out as asked
 * (`POST /api/v1/pause?runbook=lo` paused every runbook). The probes, the metrics and
 * the document, outside /api/v1, read none and ignore any (a scrape's `params`).
 */
function withQuery(url: string, s: RouteSchemas): RouteSchemas {
  if (s.querystring || !url.startsWith('/api/v1/')) return s;
  return { ...s, querystring: noQuerySchema, response: { 400: errorSchema, ...s.response } };
}

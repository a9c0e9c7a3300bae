import secureJson from 'secure-json-parse';

/**
 * How the service reads a request body's JSON (Fastify's parser, secure-json-parse): a
 * `__proto__` key, or a `constructor` object holding a `prototype`, anywhere in the body is
 * an error (400), never read into an object. The API's Fastify instance is built with
 * these, and replay judges a recorded body by them, so a body the service refuses is
 * refused there too.
 */
export const JSON_BODY_POISONING = Object.freeze({ onProtoPoisoning: 'error', onConstructorPoisoning: 'error' } as const);

/** The reason replay gives for such a body, refused (400) as the service refuses it. */
export const POISONED_BODY_REASON = 'body: holds a "__proto__" or "constructor.prototype" key, which the service\'s JSON parser refuses';

/**
 * Whether a value read by JSON.parse holds what the service's parser refuses (see
 * JSON_BODY_POISONING): the parser's own scan, with the service's options. Iterative, as
 * the parser's is: a deeply nested body is judged, not a stack overflow.
 */
export function poisonedJson(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const scanned: unknown = secureJson.scan(value, {
    protoAction: JSON_BODY_POISONING.onProtoPoisoning,
    constructorAction: JSON_BODY_POISONING.onConstructorPoisoning,
    safe: true,
  });
  return scanned === null;
}

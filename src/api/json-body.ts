import { isUtf8 } from 'node:buffer';
import secureJson from 'secure-json-parse';
import type { FastifyInstance } from 'fastify';
import { quoteUntrusted, RectifyError } from '../domain/index.js';
import type { BodyFault } from '../engine/index.js';
import { duplicateKey, duplicateKeyDetail, invalidUtf8At, JSON_BODY_POISONING, jsonFault, refusedCharset } from '../ingest/index.js';

const PARSE_OPTIONS = { protoAction: JSON_BODY_POISONING.onProtoPoisoning, constructorAction: JSON_BODY_POISONING.onConstructorPoisoning } as const;

/**
 * A 400 of the body's reading, with what was wrong with it besides not being JSON (a key
 * given twice, a reserved key, bytes that are not UTF-8): an intake refusal's advice says
 * what to fix by it (engine/intake-refusals.ts).
 */
export class BodyRefusal extends RectifyError {
  constructor(
    readonly fault: BodyFault | undefined,
    message: string,
    details: Array<{ path: string; message: string }>,
  ) {
    super('BAD_REQUEST', message, { details });
  }
}

/** A 400 for a body that is not one JSON document the service reads, naming `body`. */
function malformed(message: string, detail: string, fault?: BodyFault): RectifyError {
  return new BodyRefusal(fault, message, [{ path: 'body', message: detail }]);
}

/**
 * The API's reading of a JSON body, in place of Fastify's, each refusal saying what was
 * wrong and where:
 * - a charset other than UTF-8 (or US-ASCII, whose bytes are UTF-8's) is a 415 naming it:
 *   the body would otherwise be read as UTF-8 all the same (latin1's é as U+FFFD), or
 *   refused as "not valid JSON" (UTF-16);
 * - an empty body, bytes that are not UTF-8 (named by their offset, never stored as
 *   U+FFFD), and text that is not one JSON document (named by line, column and character
 *   offset) are 400s naming `body`;
 * - read with secure-json-parse and the service's poisoning options (JSON_BODY_POISONING):
 *   a `__proto__` key, or a `constructor` holding `prototype`, is a 400;
 * - a body in which some object gives a key twice is a 400 naming where, never read as
 *   its last value: `"dry_run": true, "dry_run": false` would run for real. The scan for
 *   keys given twice reads only text JSON.parse accepted (see json-keys.ts).
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    const charset = refusedCharset(req.headers['content-type']);
    if (charset !== undefined) {
      const why = `charset ${quoteUntrusted(charset, 64)} is not accepted: rectify reads a JSON body as UTF-8`;
      done(
        new RectifyError('UNSUPPORTED_MEDIA_TYPE', `${why}; send it as UTF-8 (application/json, or application/json; charset=utf-8)`, {
          details: [{ path: 'headers.content-type', message: why }],
        }),
        undefined,
      );
      return;
    }
    if (bytes.length === 0) {
      done(malformed('the body is empty: send one JSON document (or no Content-Type where the route takes no body)', 'empty: expected one JSON document'), undefined);
      return;
    }
    // isUtf8 reads the bytes without decoding them (a few ns per alert of a storm's body).
    if (!isUtf8(bytes)) {
      const at = invalidUtf8At(bytes);
      done(malformed(`the body is not valid UTF-8: byte offset ${at} does not begin or continue a UTF-8 character; send the body encoded as UTF-8`, `not valid UTF-8 at byte offset ${at}`, 'not_utf8'), undefined);
      return;
    }
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = secureJson.parse(text, undefined, PARSE_OPTIONS);
    } catch {
      // Which of the parser's refusals: JSON.parse's, or the poisoning scan's (the text is JSON).
      const fault = jsonFault(text);
      if (fault !== undefined) {
        const where = `line ${fault.line}, column ${fault.column} (character offset ${fault.offset})`;
        done(malformed(`the body is not valid JSON: at ${where}: ${fault.message}`, `not valid JSON at ${where}: ${fault.message}`), undefined);
      } else {
        const why = 'holds a "__proto__" key, or a "constructor" object holding "prototype", which is refused';
        done(malformed(`the body ${why}`, why, 'reserved_key'), undefined);
      }
      return;
    }
    const twice = duplicateKey(text);
    if (twice !== undefined) {
      const detail = duplicateKeyDetail('body', twice);
      done(new BodyRefusal('key_twice', `invalid body: ${detail.path}: ${detail.message}`, [detail]), undefined);
      return;
    }
    done(null, value);
  });
}

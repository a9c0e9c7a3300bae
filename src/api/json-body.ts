import secureJson from 'secure-json-parse';
import { errorCodes, type FastifyInstance } from 'fastify';
import { RectifyError } from '../domain/index.js';
import { duplicateKey, duplicateKeyDetail, JSON_BODY_POISONING } from '../ingest/index.js';

const PARSE_OPTIONS = { protoAction: JSON_BODY_POISONING.onProtoPoisoning, constructorAction: JSON_BODY_POISONING.onConstructorPoisoning } as const;

/**
 * The API's reading of a JSON body, in place of Fastify's: the same parser and the same
 * refusals (secure-json-parse with the service's poisoning options, JSON_BODY_POISONING),
 * and a body in which some object gives a key twice is refused (400 naming where), never
 * read as its last value: `"dry_run": true, "dry_run": false` would run for real. The
 * scan for keys given twice reads only text JSON.parse accepted (see json-keys.ts).
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
      return;
    }
    let value: unknown;
    try {
      value = secureJson.parse(text, undefined, PARSE_OPTIONS);
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      return;
    }
    const twice = duplicateKey(text);
    if (twice !== undefined) {
      const detail = duplicateKeyDetail('body', twice);
      done(new RectifyError('BAD_REQUEST', `invalid body: ${detail.path}: ${detail.message}`, { details: [detail] }), undefined);
      return;
    }
    done(null, value);
  });
}

import { z } from 'zod';
import { ODD_SPACING_MESSAGE, ODD_SPACING_RE, quoteUntrusted, UNREADABLE_NAME_CHAR_RE, UNREADABLE_SERVICE_MESSAGE, type ErrorDetail, type Incident } from '../domain/index.js';
import { wellFormed } from '../lib/index.js';

export interface IngestResult {
  incidents: Incident[];
  /** Field paths of required values that are missing or wrong: the request is refused whole. */
  problems: ErrorDetail[];
}

/**
 * Most entries one label map or context may have. Real alerts carry tens; a body of
 * hundreds of thousands of keys (a few MiB, under the body limit) held the event
 * loop for seconds per request, and would have been stored whole.
 */
export const MAX_MAP_ENTRIES = 1_000;

/**
 * A z.record bounded to MAX_MAP_ENTRIES entries. The refinement is what refuses (its
 * message names the limit); the API document says it as `maxProperties`, since a
 * refinement is left out of the JSON Schema zod makes.
 */
export function boundedMap<T extends z.ZodType>(value: T) {
  return z
    .record(z.string(), value)
    .refine((m) => countKeys(m) <= MAX_MAP_ENTRIES, { message: `at most ${MAX_MAP_ENTRIES} entries` })
    .meta({ maxProperties: MAX_MAP_ENTRIES });
}

/**
 * Longest service name and root cause (or symptom) an incident may carry: a generic
 * incident's are refused past them (`serviceName`, generic.ts); a webhook's text longer
 * than that is cut to it (`cutText`), not refused, since the sender would drop the alert.
 */
export const MAX_SERVICE = 253;
export const MAX_ROOT_CAUSE = 256;

/**
 * `s` at most `max` characters long: a longer one is its first `max - 1` characters and
 * `…`, made well formed (a cut may split a surrogate pair); a shorter one is `s` itself.
 * Every name longer than `max` with the same first characters is one name then: their
 * rate limit, cooldown and blast radius are shared, the conservative direction, and no
 * sender's text of any length is kept in a service's memory (a 1 MB label per alert ran
 * the service out of it).
 */
export function cutText(s: string, max: number): string {
  return s.length > max ? wellFormed(`${s.slice(0, max - 1)}\u2026`) : s;
}

/**
 * A key that spells `confidence` or `confidence_score` once case and everything but
 * letters are ignored (`confidence`, `Confidence`, `confidence-score`, `confidenceScore`).
 * Every such key has at least ten letters: most labels are passed over at once.
 */
export function isConfidenceKey(key: string): boolean {
  if (key.length < 10) return false;
  const letters = key.toLowerCase().replace(/[^a-z]/g, '');
  return letters === 'confidence' || letters === 'confidencescore';
}

/** Own enumerable keys, counted without building the array. */
/**
 * A service name, up to 253 characters, that is not blank, holds no control or
 * invisible character (UNREADABLE_NAME_CHAR_RE) and is evenly spaced (ODD_SPACING_RE): "" or spaces alone, or `api\u200b`
 * beside `api`, would be a rate limit, cooldown and blast radius of their own, under a
 * name no one can read.
 */
export function serviceName() {
  const blank = 'blank: give the name of the service';
  return z
    .string()
    .min(1, { message: blank })
    .max(MAX_SERVICE)
    .refine((s) => s === '' || s.trim() !== '', { message: blank })
    // A blank one is said blank, once.
    .refine((s) => s.trim() === '' || !UNREADABLE_NAME_CHAR_RE.test(s), { message: UNREADABLE_SERVICE_MESSAGE })
    // `"api "` or `api\u00a0` reads as `api` too: refused, saying which (after the two above).
    .refine((s) => s.trim() === '' || UNREADABLE_NAME_CHAR_RE.test(s) || !ODD_SPACING_RE.test(s), { message: ODD_SPACING_MESSAGE });
}

export function countKeys(m: object): number {
  let n = 0;
  for (const k in m) if (Object.hasOwn(m, k)) n++;
  return n;
}

export function ingestProblem(path: string, message: string): ErrorDetail {
  return { path, message };
}

/**
 * A plain decimal number, nothing else: "0.8", "1", ".5", "1.0", "1.". `Number()`
 * reads far more ("0x1" and "0b1" are 1, "1e0" is 1, "" is 0, " " is 0), so a
 * label nobody meant as 1.0 would let a runbook act on its own. Exponent forms
 * ("8e-1") are refused too: nobody writes a probability that way, and an alert
 * whose confidence is refused is still decided, by a person (see alertmanager.ts).
 * Signs are refused ("-0", "+1"): no confidence needs one.
 */
const PLAIN_DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * A confidence from a label or annotation: a number in [0, 1]; absent means 1.0;
 * undefined when it cannot be read. Given but empty or blank ("", "  ") is not absent:
 * an annotation template that rendered nothing said no confidence, never full confidence.
 */
export function parseConfidence(raw: unknown): number | undefined {
  if (raw === undefined || raw === null) return 1;
  let n: number;
  if (typeof raw === 'number') n = raw;
  else {
    const text = String(raw).trim();
    if (!PLAIN_DECIMAL.test(text)) return undefined;
    n = Number(text);
  }
  if (!Number.isFinite(n) || n < 0 || n > 1) return undefined;
  return n;
}

/** Why a confidence label or annotation cannot be read (it is untrusted text: quoted and cut). */
export function unreadableConfidenceMessage(unreadable: { value: string; not_read?: true; differs_from?: { field: string; value: string } }): string {
  const other = unreadable.differs_from;
  if (other) return `differs from ${other.field} (${quoteUntrusted(other.value)}): an alert has one confidence, "confidence"; give it once (or the same in both)`;
  if (unreadable.not_read) return `a key rectify does not read as a confidence (only "confidence" is): name it "confidence" (it holds ${quoteUntrusted(unreadable.value)})`;
  return `expected a decimal number from 0 to 1, got ${quoteUntrusted(unreadable.value)}`;
}

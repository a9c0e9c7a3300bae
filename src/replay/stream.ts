import { alertmanagerWebhookSchema, duplicateKey, duplicateKeyDetail, formatJsonPath, jsonFault, poisonedJson, POISONED_BODY_REASON, type AlertmanagerWebhook } from '../ingest/index.js';
import { didYouMean, impossibleTime, parseRfc3339 } from '../lib/index.js';

/**
 * A recorded alert stream: one JSON object a line, `{"at": "<RFC 3339>", "webhook":
 * <an Alertmanager webhook body>}`, in time order. Blank lines and lines starting
 * with `#` are skipped.
 */
export interface StreamEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  /** Epoch milliseconds. */
  at: number;
  /** The body as the service would take it, or why the service would refuse it: 413 over --body-limit, 400 a body its JSON parser refuses or not a webhook body. */
  webhook: { ok: true; body: AlertmanagerWebhook } | { ok: false; status: number; reason: string };
}

export interface StreamProblem {
  line: number;
  /** 1-based, in characters of the line as the file has it, where the problem is known to be there (a JSON fault). */
  column?: number;
  message: string;
}

const KEYS = ['at', 'webhook'];

export interface StreamOptions {
  /**
   * `--body-limit`: a webhook body larger than this is refused (413) as the service's
   * route refuses it, before it is read as a webhook. Its size is the bytes of its JSON
   * as a sender posts it (compact, UTF-8), whatever spacing the line gives it.
   */
  bodyLimitBytes?: number;
}

/**
 * Reads the whole stream and reports every problem at once, each with its line.
 * A line that is well formed but whose webhook body the service would refuse (a 413:
 * larger than --body-limit; a 400: no alerts, a missing field) is not a problem of the
 * file: it is replayed as a refusal.
 */
/**
 * The size of a value's JSON as Alertmanager posts it: Go's encoding/json, compact, which
 * writes `<`, `>` and `&` as \u003c, \u003e, \u0026 (6 bytes, not 1) and U+2028, U+2029
 * as \u2028, \u2029 (6 bytes, not their 3 in UTF-8). A generatorURL with `&` in its query
 * is longer on the wire than JSON.stringify makes it, and the service refuses it by that.
 * Worked out without recursion, so a value nested deeper than the stack (a body the
 * service takes: its parser does not recurse either) is measured, not a crash. The value
 * is one read from JSON (objects, arrays, strings, numbers, booleans, null).
 */
export function goJsonBytes(value: unknown): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      // [a,b,c]: the brackets and a comma between items.
      bytes += 2 + Math.max(0, v.length - 1);
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      // {"k":v,...}: the braces, a comma between members, each key and its colon.
      const keys = Object.keys(v);
      bytes += 2 + Math.max(0, keys.length - 1);
      for (const k of keys) {
        bytes += scalarBytes(k) + 1;
        stack.push((v as Record<string, unknown>)[k]);
      }
    } else {
      bytes += scalarBytes(v);
    }
  }
  return bytes;
}

/** A string, number, boolean or null as Go writes it (see goJsonBytes). */
function scalarBytes(v: unknown): number {
  const text = JSON.stringify(v) ?? 'null';
  let extra = 0;
  for (const ch of text) {
    if (ch === '<' || ch === '>' || ch === '&') extra += 5;
    else if (ch === '\u2028' || ch === '\u2029') extra += 3;
  }
  return Buffer.byteLength(text) + extra;
}

/**
 * The first key the top-level object of `text` gives twice, whatever its values hold, or
 * undefined (also when the top level is no object). `text` is JSON that JSON.parse accepted.
 */
export function repeatedTopLevelKey(text: string): string | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = i;
      i++;
      while (text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 /* \ */ ? 2 : 1;
      if (depth === 1 && expectKey) {
        expectKey = false;
        const raw = text.slice(start + 1, i);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(start, i + 1)) as string) : raw;
        if (seen.has(key)) return key;
        seen.add(key);
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++;
      if (depth === 1) expectKey = c === 123;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
    else if (c === 44 /* , */ && depth === 1) expectKey = true;
  }
  return undefined;
}

export function parseStream(text: string, opts: StreamOptions = {}): { entries: StreamEntry[]; problems: StreamProblem[] } {
  const entries: StreamEntry[] = [];
  const problems: StreamProblem[] = [];
  let previous: { at: number; line: number; text: string } | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      // Where, as the service's 400 says it: the locator reads what was parsed (the line
      // without the spacing around it), so its column is moved by the spacing before it.
      const fault = jsonFault(trimmed, 'the line');
      const lead = raw.length - raw.trimStart().length;
      if (fault) problems.push({ line, column: lead + fault.column, message: `not valid JSON: ${fault.message}` });
      else problems.push({ line, message: `not valid JSON: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    // A key given twice: JSON.parse kept the last. In the line's own keys ("at" twice) it is a
    // problem of the file, looked for apart from the webhook's inside (duplicateKey names only
    // the first key given twice anywhere, which may be in the body); inside the webhook, a
    // body the service refuses (400), judged below.
    const own = repeatedTopLevelKey(trimmed);
    const twice = own !== undefined ? [own] : duplicateKey(trimmed);
    if (twice !== undefined && (twice.length === 1 || twice[0] !== 'webhook')) {
      const detail = duplicateKeyDetail('line', twice);
      problems.push({ line, message: `${detail.path.slice('line.'.length)}: ${detail.message}` });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push({ line, message: 'expected a JSON object {"at": "<RFC 3339>", "webhook": {...}}' });
      return;
    }
    const obj = value as Record<string, unknown>;
    let bad = false;
    for (const k of Object.keys(obj)) {
      if (!KEYS.includes(k)) {
        problems.push({ line, message: `unknown key ${JSON.stringify(k)}${didYouMean(k, KEYS)}` });
        bad = true;
      }
    }
    const at = obj['at'];
    const ms = (typeof at === 'string' ? parseRfc3339(at) : undefined) ?? NaN;
    if (at === undefined) {
      problems.push({ line, message: 'at: missing (the time the webhook arrived, RFC 3339)' });
      bad = true;
    } else if (Number.isNaN(ms)) {
      // A date that does not exist (2026-02-31, T24:00:00) is named as such: Date.parse would move it.
      const why = (typeof at === 'string' ? impossibleTime(at) : undefined) ?? `expected an RFC 3339 time such as 2026-11-24T03:00:00Z, got ${JSON.stringify(at)}`;
      problems.push({ line, message: `at: ${why}` });
      bad = true;
    } else if (previous && ms < previous.at) {
      problems.push({ line, message: `at: ${at} is earlier than line ${previous.line} (${previous.text}); the stream must be in time order` });
      bad = true;
    }
    const webhook = obj['webhook'];
    if (webhook === undefined) {
      problems.push({ line, message: 'webhook: missing (an Alertmanager webhook body)' });
      bad = true;
    } else if (typeof webhook !== 'object' || webhook === null || Array.isArray(webhook)) {
      problems.push({ line, message: 'webhook: expected an Alertmanager webhook body (a JSON object)' });
      bad = true;
    }
    if (!Number.isNaN(ms)) previous = { at: ms, line, text: String(at) };
    if (bad) return;
    if (opts.bodyLimitBytes !== undefined) {
      const bytes = goJsonBytes(webhook);
      if (bytes > opts.bodyLimitBytes) {
        entries.push({ line, at: ms, webhook: { ok: false, status: 413, reason: `body too large (${bytes} bytes > --body-limit ${opts.bodyLimitBytes} bytes)` } });
        return;
      }
    }
    // Read as the service's parser reads it: after the size (Fastify refuses that while
    // reading), before the schema.
    if (poisonedJson(webhook)) {
      entries.push({ line, at: ms, webhook: { ok: false, status: 400, reason: POISONED_BODY_REASON } });
      return;
    }
    if (twice !== undefined) {
      const detail = duplicateKeyDetail('body', twice.slice(1));
      entries.push({ line, at: ms, webhook: { ok: false, status: 400, reason: `${detail.path}: ${detail.message}` } });
      return;
    }
    const parsed = alertmanagerWebhookSchema.safeParse(webhook);
    if (parsed.success) {
      entries.push({ line, at: ms, webhook: { ok: true, body: parsed.data } });
    } else {
      // Named as the service's 400 names it: the field's path from the body (`body.alerts.0.status`).
      const issue = parsed.error.issues[0]!;
      entries.push({ line, at: ms, webhook: { ok: false, status: 400, reason: `${formatJsonPath('body', issue.path)}: ${issue.message}` } });
    }
  });
  return { entries, problems };
}

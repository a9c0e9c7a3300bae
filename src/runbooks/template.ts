import type { ParamKind, Placeholder, PlaceholderEscape, Template, TemplatePart } from '../domain/runbook.js';
import type { Reporter, YamlPath } from './problems.js';

/**
 * `{name}` placeholders, compiled once at load.
 *
 * The brace rule (PromQL and JSON are full of braces):
 * - `{name}` where name matches `[A-Za-z_][A-Za-z0-9_]*` is a placeholder;
 * - `{{` and `}}` are literal `{` and `}` (so `{{job="{service}"}}` is `{job="<service>"}`);
 * - any other `{` or `}` is literal, so plain PromQL such as `up{job="x"}` needs no escaping;
 * - `${...}` is a secret reference (`${env:NAME}`, `${file:/path}`), passed through
 *   untouched for the executor to resolve at run time; it is never a placeholder.
 * The trap: `{{name}}` is the literal text `{name}`, not a placeholder (Jinja habits).
 */
export const PLACEHOLDER_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Why `name` fits PLACEHOLDER_NAME_RE but may not name a placeholder, or undefined.
 * `__proto__`: written into a plain object (a plan's params, a runbook's `params:`) it
 * sets the prototype instead of a key, so its value went missing from what an approver
 * sees while the step ran with it.
 */
export function reservedPlaceholderProblem(name: string): string | undefined {
  if (name !== '__proto__') return undefined;
  return '"__proto__" cannot name a placeholder: JavaScript objects read it as their prototype, so its value would be left out of the params an approver sees while the step used it; use another name ({proto}) and give the alert that label';
}
const PLACEHOLDER_AT = /\{([A-Za-z_][A-Za-z0-9_]*)\}/y;

export interface ScannedPlaceholder {
  param: string;
  /** Offset of the `{` in the source, for position-dependent kinds (URLs). */
  offset: number;
}
export type ScannedPart = string | ScannedPlaceholder;

export function scanTemplate(source: string): ScannedPart[] {
  const parts: ScannedPart[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '$' && next === '{') {
      const close = source.indexOf('}', i + 2);
      const end = close < 0 ? source.length : close + 1;
      literal += source.slice(i, end);
      i = end;
      continue;
    }
    if (c === '{') {
      if (next === '{') {
        literal += '{';
        i += 2;
        continue;
      }
      PLACEHOLDER_AT.lastIndex = i;
      const m = PLACEHOLDER_AT.exec(source);
      if (m) {
        if (literal) parts.push(literal);
        literal = '';
        parts.push({ param: m[1]!, offset: i });
        i += m[0].length;
        continue;
      }
      literal += '{';
      i += 1;
      continue;
    }
    if (c === '}' && next === '}') {
      literal += '}';
      i += 2;
      continue;
    }
    literal += c;
    i += 1;
  }
  if (literal) parts.push(literal);
  return parts;
}

/** What a placeholder takes, and how its value is written (see Placeholder.escape). */
export type PlaceholderSpec = ParamKind | { kind: ParamKind; escape: PlaceholderEscape };

/** Compiles a template; `kind` may depend on where in the source a placeholder sits. */
export function compileTemplate(source: string, kind: PlaceholderSpec | ((p: ScannedPlaceholder) => PlaceholderSpec)): Template {
  const parts: TemplatePart[] = scanTemplate(source).map((p) => {
    if (typeof p === 'string') return p;
    const spec = typeof kind === 'function' ? kind(p) : kind;
    return (typeof spec === 'string' ? { param: p.param, kind: spec } : { param: p.param, ...spec }) satisfies Placeholder;
  });
  return { source, parts };
}

export function literalTemplate(text: string): Template {
  return { source: text, parts: text ? [text] : [] };
}

export function placeholders(t: Template): Placeholder[] {
  return t.parts.filter((p): p is Placeholder => typeof p !== 'string');
}

export function isLiteral(t: Template): boolean {
  return t.parts.every((p) => typeof p === 'string');
}

/** The text of a template with no placeholder (escapes resolved). */
export function literalText(t: Template): string {
  return t.parts.map((p) => (typeof p === 'string' ? p : `{${p.param}}`)).join('');
}

/** Placeholder names inside a string, for templates whose kind is chosen later. */
export function scanParams(source: string): string[] {
  return scanTemplate(source)
    .filter((p): p is ScannedPlaceholder => typeof p !== 'string')
    .map((p) => p.param);
}

/** Text that only looks like a placeholder: where it is, and what to write instead. */
export interface NearMiss {
  /** The text as written, e.g. `{{service}}`. */
  text: string;
  offset: number;
  /** `"{{service}}" is not a placeholder …: write {service}`. */
  message: string;
}

// Any letter, not only ASCII: {ѕervice} (a Cyrillic "ѕ") or {ｓervice} (a fullwidth "ｓ")
// reads as {service} but is no placeholder, and ran as the literal text.
const NAME_ATTEMPT = '[\\p{L}_][\\p{L}\\p{N}_.-]*';
const DOUBLED_AT = new RegExp(`\\{\\{([ \\t]*)(${NAME_ATTEMPT})([ \\t]*)\\}\\}?`, 'uy');
const SINGLE_AT = new RegExp(`\\{([ \\t]*)(${NAME_ATTEMPT})([ \\t]*)`, 'uy');
// After `{name`, where an unclosed placeholder is plain: a URL delimiter, a quote, another `{`.
const UNCLOSED_BEFORE = '/?&#"\'{';

/**
 * Text that looks like a placeholder but, by the brace rule, is literal: it would be
 * sent or run as written. One per attempt, with the fix in `message`:
 * - `{{name}}` (or `{{ name }}`, `{{name}`): escaped braces, the literal text `{name}`;
 * - `{ name }`: spaces inside the braces;
 * - `{queue-name}`, `{service.name}`: a character a name cannot hold;
 * - `{name` with no `}` where the text or a URL part ends (`/`, `?`, `&`, `#`), or a quote or `{` follows.
 * Only a name attempt counts (a letter, of any script, or `_`, then letters, digits, `_`, `-`, `.`), so
 * PromQL matchers (`{job="x"}`), JSON text, `{}` and regex counts (`{2,3}`) are not near-misses.
 */
export function findNearMisses(source: string): NearMiss[] {
  const out: NearMiss[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '$' && source[i + 1] === '{') {
      // A secret reference, exactly as scanTemplate skips it.
      const close = source.indexOf('}', i + 2);
      i = close < 0 ? source.length : close + 1;
      continue;
    }
    if (c !== '{') {
      i += 1;
      continue;
    }
    let run = 1;
    while (source[i + run] === '{') run += 1;
    if (run === 2) {
      DOUBLED_AT.lastIndex = i;
      const m = DOUBLED_AT.exec(source);
      if (m) {
        out.push({ text: m[0], offset: i, message: nearMissMessage(m[0], m[2]!, 'is not a placeholder ({{ and }} are escaped, literal braces)') });
        i += m[0].length;
        continue;
      }
    }
    // A run of braces is pairs of escapes ({{{{name}}}} is the literal {{name}}), then
    // perhaps one brace that may open a placeholder: scanned as scanTemplate does.
    i += run - (run % 2);
    if (run % 2 === 0) continue;
    PLACEHOLDER_AT.lastIndex = i;
    const placeholder = PLACEHOLDER_AT.exec(source);
    if (placeholder) {
      i += placeholder[0].length;
      continue;
    }
    SINGLE_AT.lastIndex = i;
    const m = run === 1 ? SINGLE_AT.exec(source) : null;
    if (m) {
      const [whole, before, name, after] = m as unknown as [string, string, string, string];
      const next = source[i + whole.length];
      if (next === '}') {
        const text = `${whole}}`;
        const spaces = before || after ? 'has spaces inside the braces' : undefined;
        out.push({ text, offset: i, message: nearMissMessage(text, name, 'looks like a placeholder but', spaces) });
        i += text.length;
        continue;
      }
      if (!before && (next === undefined || (!after && UNCLOSED_BEFORE.includes(next)))) {
        const text = `{${name}`;
        out.push({ text, offset: i, message: nearMissMessage(text, name, 'looks like a placeholder but', 'has no closing "}"') });
        i += text.length;
        continue;
      }
    }
    i += 1;
  }
  return out;
}

/**
 * `"{queue-name}" looks like a placeholder but "-" is not allowed in a name: use {queue_name} and a params entry`.
 * A name with such a character never comes from an alert label (label names cannot hold one),
 * so the fix names a params entry too.
 */
function nearMissMessage(text: string, name: string, lead: string, flaw?: string): string {
  const bad = [...new Set(name.replace(/[A-Za-z0-9_]/g, ''))];
  const flaws = flaw ? [flaw] : [];
  if (bad.length > 0) flaws.push(`${bad.map((b) => JSON.stringify(b)).join(' and ')} ${bad.length === 1 ? 'is' : 'are'} not allowed in a name`);
  const why = flaws.length === 0 ? '' : `${lead.endsWith(' but') ? ' ' : ' and '}${flaws.join(' and ')}`;
  // A letter outside ASCII is most likely a look-alike typed or pasted in: say so, not "_".
  const lookAlike = bad.some((b) => /\p{L}|\p{N}/u.test(b));
  const fix =
    bad.length === 0
      ? `write {${name}}`
      : lookAlike
        ? 'a name is ASCII letters, digits and "_" (is it a look-alike of an ASCII letter?): retype it'
        : `use {${name.replace(/[^A-Za-z0-9_]+/g, '_')}} and a params entry`;
  return `${JSON.stringify(text)} ${lead}${why}: ${fix}`;
}

/**
 * Where a literal brace is never meant (argv, URLs, Kubernetes fields) and running the
 * text as written would be wrong, a near-miss is a load error: reported at `path`, one
 * line each. True if there was one.
 */
export function refuseNearMisses(r: Reporter, text: string, path: YamlPath): boolean {
  const found = findNearMisses(text);
  for (const m of found) r.report(path, m.message);
  return found.length > 0;
}

/**
 * Where text is not a template (a `match:` value, an http body's key, a named check's
 * parameter), nothing in it is filled: a `{name}` there, and text that only looks like
 * one, reach their use as written. The placeholders and the look-alikes it holds.
 */
export function placeholderLike(text: string): { placeholders: string[]; nearMisses: string[] } {
  return { placeholders: scanParams(text), nearMisses: findNearMisses(text).map((m) => m.text) };
}

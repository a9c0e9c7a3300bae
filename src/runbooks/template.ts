import type { ParamKind, Placeholder, Template, TemplatePart } from '../domain/runbook.js';

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

/** Compiles a template; `kind` may depend on where in the source a placeholder sits. */
export function compileTemplate(source: string, kind: ParamKind | ((p: ScannedPlaceholder) => ParamKind)): Template {
  const parts: TemplatePart[] = scanTemplate(source).map((p) =>
    typeof p === 'string' ? p : ({ param: p.param, kind: typeof kind === 'function' ? kind(p) : kind } satisfies Placeholder),
  );
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

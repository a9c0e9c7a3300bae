import { secretReferenceProblem } from '../domain/index.js';
import { isMapValue } from './fields.js';
import type { Reporter, YamlPath } from './problems.js';

/**
 * Secret references (`${env:NAME}`, `${file:/abs/path}`) are resolved by the executor in
 * exactly two places: an HTTP header value (actions and checks) and a string value in an
 * HTTP action's JSON body. Anywhere else in an action or a check (a URL, a command
 * argument, a body key, a Kubernetes field, a PromQL query) nothing resolves them: the
 * text would be sent as written, a failure at best and the token's name handed to the
 * target at worst. And one that can never resolve (`${env:APP-TOKEN}`, a relative
 * `${file:key}`, no closing `}`) would fail every run. Both are load errors.
 */

const SECTIONS = ['action', 'actions', 'rollback', 'pre_checks', 'post_checks', 'guardrails'] as const;
const ACTION_SECTIONS = new Set<string>(['action', 'actions', 'rollback']);
const REF_START_RE = /\$\{(env|file):/;
const REF_RE = /\$\{(env|file):([^}]*)(\}?)/g;

export const RESOLVED_WHERE = 'secret references are resolved only in HTTP header values and in the string values of an http action\'s body';

/** Reports every misplaced or malformed reference in a runbook's actions and checks. */
export function checkSecretReferences(r: Reporter, m: Readonly<Record<string, unknown>>, path: YamlPath): void {
  for (const section of SECTIONS) {
    if (m[section] !== undefined) walk(r, m[section], [section], path);
  }
}

function walk(r: Reporter, v: unknown, rel: (string | number)[], path: YamlPath): void {
  if (typeof v === 'string') {
    if (!REF_START_RE.test(v)) return;
    if (!resolvedAt(rel)) {
      r.report([...path, ...rel], `${quoteRef(v)} is not resolved here and would be sent as written: ${RESOLVED_WHERE}`);
      return;
    }
    for (const problem of malformed(v)) r.report([...path, ...rel], problem);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((item, i) => walk(r, item, [...rel, i], path));
    return;
  }
  if (isMapValue(v)) {
    for (const [k, item] of Object.entries(v)) {
      if (REF_START_RE.test(k)) r.report([...path, ...rel, k], `${quoteRef(k)} in a key is not resolved and would be sent as written: ${RESOLVED_WHERE}`, 'key');
      walk(r, item, [...rel, k], path);
    }
  }
}

/** `[section, (index,) 'http', 'headers', name]`, or under an action's `[…, 'http', 'body']`. */
function resolvedAt(rel: readonly (string | number)[]): boolean {
  const i = typeof rel[1] === 'number' ? 2 : 1;
  if (rel[i] !== 'http') return false;
  if (rel[i + 1] === 'headers') return rel.length === i + 3;
  return rel[i + 1] === 'body' && ACTION_SECTIONS.has(String(rel[0]));
}

function malformed(text: string): string[] {
  const out: string[] = [];
  for (const [whole, kind, ref, close] of text.matchAll(REF_RE)) {
    const problem = close === '' ? undefined : secretReferenceProblem(kind as 'env' | 'file', ref!);
    if (close === '') out.push(`secret reference ${JSON.stringify(whole)} has no closing "}"`);
    else if (problem !== undefined) out.push(`secret ${whole}: ${problem}`);
  }
  return out;
}

/** The first reference in the text, for the message (never a value: references are names). */
function quoteRef(text: string): string {
  const m = /\$\{(env|file):[^}]*\}?/.exec(text);
  return m ? m[0] : text;
}

import { placeholderValue, type Incident } from '../domain/incident.js';
import { formatMatcher, matcherHoldsOn, type Matcher } from '../domain/runbook.js';
import { RE2JS } from 're2js';
import type { Parsed } from './kubectl.js';

/**
 * Alertmanager-style label matchers: `name="v"`, `name!="v"`, `name=~"re"`,
 * `name!~"re"`. As in Alertmanager, regexes are anchored at both ends and a
 * missing label is the empty string (so `severity!="info"` holds without one).
 */
const MATCHER_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s;

/**
 * Labels are untrusted, so regex matchers run on RE2 (re2js), the engine
 * Alertmanager and Prometheus use: matching takes time linear in the label's
 * length, where a backtracking engine (JavaScript's own) takes exponential time on
 * a pattern like `(a+)+b` and a label of a few dozen characters, holding the event
 * loop. RE2 has no lookaround and no backreferences; they are refused at load.
 */
function compileRe2(value: string): { test(v: string): boolean } {
  const re = RE2JS.compile(value);
  return { test: (v) => re.matches(v) };
}

export function parseMatcher(text: string): Parsed<Matcher> {
  const m = MATCHER_RE.exec(text);
  if (!m) return { ok: false, message: `invalid matcher ${JSON.stringify(text)} (expected name="value", name!="value", name=~"regex" or name!~"regex")` };
  const name = m[1]!;
  const op = m[2] as Matcher['op'];
  const raw = m[3]!;
  let value: string;
  // `namespace=="a"` is read as `=` and the value `="a"`: name the operator as written,
  // not the quoting. Unquoted (`namespace==a`) it would match the value "=a" silently.
  const stray = /^[=~!]+/.exec(raw);
  if (stray) {
    return { ok: false, message: `invalid matcher ${JSON.stringify(text)}: ${JSON.stringify(op + stray[0])} is not an operator (use =, !=, =~ or !~: ${name}="value")` };
  }
  if (raw.startsWith('"')) {
    const unq = unquote(raw);
    if (unq === undefined) return { ok: false, message: `invalid matcher ${JSON.stringify(text)}: unterminated or malformed quoted value` };
    value = unq;
  } else {
    if (/["\s{},]/.test(raw)) return { ok: false, message: `invalid matcher ${JSON.stringify(text)}: quote the value` };
    value = raw;
  }
  if (op === '=' || op === '!=') return { ok: true, value: { name, op, value } };
  try {
    return { ok: true, value: { name, op, value, re: compileRe2(value) } };
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
    return { ok: false, message: `invalid regular expression in matcher ${JSON.stringify(text)} (RE2, as Alertmanager): ${why}` };
  }
}

/** `"…"` with `\"`, `\\` and `\n` escapes; other backslashes stay (they belong to the regex). */
function unquote(raw: string): string | undefined {
  let out = '';
  for (let i = 1; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const n = raw[i + 1];
      if (n === undefined) return undefined;
      if (n === '"' || n === '\\') out += n;
      else if (n === 'n') out += '\n';
      else out += `\\${n}`;
      i += 1;
      continue;
    }
    if (c === '"') return i === raw.length - 1 ? out : undefined;
    out += c;
  }
  return undefined;
}

export function matcherHolds(m: Matcher, labels: Readonly<Record<string, string>>): boolean {
  return matcherHoldsOn(m, Object.prototype.hasOwnProperty.call(labels, m.name) ? (labels[m.name] ?? '') : '');
}

export function matchersHold(ms: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of ms) if (!matcherHolds(m, labels)) return false;
  return true;
}

/**
 * Whether all matchers hold on an incident, each seeing the value its name's
 * placeholder would be filled with (context over labels, then `service` and
 * `incident_id`): a guard such as `namespace!~"kube-system"` must see the namespace
 * the action will be rendered with, not a label the context overrides. Reads each
 * value in place; allocates nothing.
 */
export function matchersHoldFor(ms: readonly Matcher[], incident: Pick<Incident, 'context' | 'labels' | 'service' | 'id'>): boolean {
  for (const m of ms) if (!matcherHoldsOn(m, placeholderValue(incident, m.name) ?? '')) return false;
  return true;
}

export { formatMatcher };

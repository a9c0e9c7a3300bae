import type { CheckSpec, CompareOp, Expectation, KubernetesCheckSpec, NamedCheckSpec, OnNoData, Template } from '../domain/runbook.js';
import { checkParam, parseFraction } from '../domain/params.js';
import { didYouMean } from '../lib/suggest.js';
import {
  checkKeys,
  expectMap,
  has,
  isMapValue,
  readList,
  readNonEmptyString,
  readNumberParam,
  readOneOf,
  readPositiveInt,
  readIntervalMs,
  readSecondsMs,
  readStatusRange,
  readString,
  type YamlMap,
} from './fields.js';
import { readHeaders, readMethod, readUrl } from './http-parts.js';
import { namedCheck, NAMED_CHECK_NAMES, NAMED_DEFAULT_TIMEOUT_MS, namedDefaultTimeoutMs, type NamedCheckDef } from './named.js';
import type { Reporter, YamlPath } from './problems.js';
import { compileTemplate, isLiteral, literalText, refuseNearMisses, scanParams, scanTemplate, type PlaceholderSpec, type ScannedPlaceholder } from './template.js';

/**
 * Checks (`pre_checks`, `post_checks`, `guardrails`) in their four forms:
 * a named check (`pod_becomes_ready`, or `{current_replicas_below_max: {max_replicas: 5}}`,
 * or `{named: …, params: {…}}`), `promql: {…}`, `http: {…}` and `kubernetes: {…}`.
 */
export const CHECK_TYPES = ['named', 'promql', 'http', 'kubernetes'] as const;
export const KUBE_CONDITIONS = ['deployment_ready', 'pod_ready', 'exists'] as const;

const NAMED_DEFAULT_INTERVAL_MS = 5_000;
const EXPECT_RE = /^\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

export interface CheckListOptions {
  /**
   * HIGH-risk runbooks go to a human anyway, so a guardrail written as prose
   * ("human_approval_required") is kept as a note. Everywhere else an unknown
   * name is an error: a guardrail that silently checks nothing is worse than none.
   */
  proseAllowed: boolean;
  /**
   * Set for a MEDIUM runbook's guardrails: each is cut off after this long (see
   * GUARDRAIL_BUDGET_MS), so a timeout_seconds, or a for_seconds hold plus one
   * interval, that cannot fit in it is refused rather than failing every run.
   */
  budgetMs?: number;
  /**
   * Pre-checks and guardrails: checked before any action, so their failure never runs a
   * rollback, and `on_no_data` (which holds a rollback back) would do nothing there.
   */
  beforeActions?: boolean;
}

export interface CompiledChecks {
  specs: CheckSpec[];
  notes: string[];
}

export function compileCheckList(r: Reporter, v: unknown, path: YamlPath, opts: CheckListOptions = { proseAllowed: false }): CompiledChecks | undefined {
  const list = readList(r, v, path);
  if (!list) return undefined;
  const before = r.count();
  const out: CompiledChecks = { specs: [], notes: [] };
  list.forEach((item, i) => {
    if (typeof item === 'string' && !namedCheck(item) && opts.proseAllowed) {
      out.notes.push(item);
      return;
    }
    const spec = compileCheck(r, item, [...path, i], opts.budgetMs);
    if (spec && opts.beforeActions && spec.type !== 'http' && spec.onNoData !== undefined) {
      r.report([...path, i], `on_no_data is for post_checks only: a ${path[path.length - 1] === 'guardrails' ? 'guardrail' : 'pre-check'} is checked before any action, and its failure never runs a rollback`);
      return;
    }
    if (spec) out.specs.push(spec);
  });
  return r.count() === before ? out : undefined;
}

/** @param budgetMs a guardrail's budget (see `CheckListOptions.budgetMs`); none for other checks. */
export function compileCheck(r: Reporter, v: unknown, path: YamlPath, budgetMs?: number): CheckSpec | undefined {
  if (typeof v === 'string') return compileNamed(r, v, {}, path, path, undefined, budgetMs);
  if (!isMapValue(v)) {
    r.report(path, `expected a check name or a map (${CHECK_TYPES.join(', ')}), got ${r.got(path, v)}`);
    return undefined;
  }
  if (has(v, 'named')) return compileNamedBlock(r, v, path, budgetMs);
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    r.report(path, `a check is a map with one key (${CHECK_TYPES.join(', ')} or a named check), got keys ${keys.join(', ') || '(none)'}`);
    return undefined;
  }
  const key = keys[0]!;
  const body = v[key];
  const at = [...path, key];
  switch (key) {
    case 'promql':
      return compilePromql(r, body, at, budgetMs);
    case 'http':
      return compileHttpCheck(r, body, at, budgetMs);
    case 'kubernetes':
      return compileKubeCheck(r, body, at, budgetMs);
  }
  if (namedCheck(key)) {
    if (body !== null && !isMapValue(body)) {
      r.report(at, `expected a map of parameters, got ${r.got(at, body)}`);
      return undefined;
    }
    return compileNamed(r, key, body ?? {}, path, at, 'inline', budgetMs);
  }
  r.report(at, `unknown check type${didYouMean(key, [...CHECK_TYPES, ...NAMED_CHECK_NAMES])} (expected ${CHECK_TYPES.join(', ')} or a named check)`, 'key');
  return undefined;
}

function compileNamedBlock(r: Reporter, v: YamlMap, path: YamlPath, budgetMs: number | undefined): NamedCheckSpec | undefined {
  checkKeys(r, v, ['named', 'params', 'timeout_seconds', 'interval_seconds', 'on_no_data'], path);
  const name = readString(r, v.named, [...path, 'named']);
  if (name === undefined) return undefined;
  const params = v.params === undefined || v.params === null ? {} : expectMap(r, v.params, [...path, 'params']);
  if (!params) return undefined;
  const spec = compileNamed(r, name, params, [...path, 'named'], [...path, 'params'], undefined, undefined);
  if (!spec) return undefined;
  if (has(v, 'timeout_seconds')) {
    const at = [...path, 'timeout_seconds'];
    const ms = readSecondsMs(r, v.timeout_seconds, at, { allowZero: false });
    if (ms !== undefined && !timeoutFits(r, ms, at, budgetMs)) return undefined;
    spec.timeoutMs = ms ?? spec.timeoutMs;
  }
  if (has(v, 'interval_seconds')) spec.intervalMs = readIntervalMs(r, v.interval_seconds, [...path, 'interval_seconds']) ?? spec.intervalMs;
  if (has(v, 'on_no_data')) {
    const mode = readOnNoData(r, v.on_no_data, [...path, 'on_no_data']);
    if (mode === undefined) return undefined;
    spec.onNoData = mode;
  }
  return spec;
}

/** The seed's time-of-day guardrail, which a runbook writes as windows. */
const OFF_PEAK_HOURS = 'off_peak_hours';

/**
 * @param inline `'inline'` for the `{name: {…}}` form, where timeout_seconds and
 * interval_seconds sit among the parameters.
 */
function compileNamed(
  r: Reporter,
  name: string,
  given: YamlMap,
  namePath: YamlPath,
  paramsPath: YamlPath,
  inline: 'inline' | undefined,
  budgetMs: number | undefined,
): NamedCheckSpec | undefined {
  const def = namedCheck(name);
  if (!def) {
    const hint = name === OFF_PEAK_HOURS ? `: a time of day is not a check; give the runbook windows: (when it may act on its own) and outside_windows: approval (ask a person at other times)` : didYouMean(name, NAMED_CHECK_NAMES);
    r.report(namePath, `unknown named check ${JSON.stringify(name)}${hint}`);
    return undefined;
  }
  const before = r.count();
  const spec: NamedCheckSpec = {
    type: 'named',
    name,
    params: defaultsOf(def),
    timeoutMs: NAMED_DEFAULT_TIMEOUT_MS,
    intervalMs: NAMED_DEFAULT_INTERVAL_MS,
  };
  const known = Object.keys(def.params);
  let timeoutWritten = false;
  for (const [key, value] of Object.entries(given)) {
    const at = [...paramsPath, key];
    if (inline && key === 'timeout_seconds') {
      timeoutWritten = true;
      const ms = readSecondsMs(r, value, at, { allowZero: false });
      if (ms !== undefined) timeoutFits(r, ms, at, budgetMs);
      spec.timeoutMs = ms ?? spec.timeoutMs;
      continue;
    }
    if (inline && key === 'interval_seconds') {
      spec.intervalMs = readIntervalMs(r, value, at) ?? spec.intervalMs;
      continue;
    }
    if (inline && key === 'on_no_data') {
      const mode = readOnNoData(r, value, at);
      if (mode !== undefined) spec.onNoData = mode;
      continue;
    }
    const p = def.params[key];
    if (!p) {
      const all = inline ? [...known, 'timeout_seconds', 'interval_seconds', 'on_no_data'] : known;
      r.report(at, `unknown parameter for ${name}${didYouMean(key, all)}${known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'}`, 'key');
      continue;
    }
    if (p.type === 'integer') {
      const n = readPositiveInt(r, value, at);
      if (n !== undefined) spec.params[key] = n;
    } else if (p.type === 'number') {
      const n = readNumberParam(r, value, at);
      if (n !== undefined) spec.params[key] = n;
    } else if (p.type === 'fraction') {
      const n = parseFraction(value);
      if (n !== undefined) spec.params[key] = n;
      else r.report(at, `expected a fraction between 0 and 1 (exclusive) such as 0.1, or a percentage such as "10%", got ${r.got(at, value)}`);
    } else {
      const s = readNonEmptyString(r, value, at);
      if (s === undefined) continue;
      // Named checks are not rendered: a placeholder here would reach the check runner unfilled.
      const names = scanParams(s);
      if (names.length > 0) {
        r.report(at, `named check parameters are literal, but this one uses {${names[0]!}}; use a promql check for a templated query`);
        continue;
      }
      spec.params[key] = s;
    }
  }
  // Written in the {named: …} block, compileNamedBlock sets it after this.
  if (!timeoutWritten) spec.timeoutMs = namedDefaultTimeoutMs(def, spec.params);
  return r.count() === before ? spec : undefined;
}

const ON_NO_DATA = ['fail', 'needs_human'] as const;

/**
 * `on_no_data`: what a post-check's failure means when its last try could not measure
 * (no data, NaN, a query error, no answer; for a check that reads the cluster, the
 * named ones as the `kubernetes:` form, the API erring, refusing or not answering).
 * Every named check reads Prometheus or the cluster, so each takes it. `needs_human` keeps the rollback from running
 * on a verdict nobody has: where the rollback re-applies what the action undid (a bad
 * deploy), a check that cannot read its metric would otherwise bring the fault back.
 */
function readOnNoData(r: Reporter, v: unknown, at: YamlPath): OnNoData | undefined {
  return readOneOf(r, v, ON_NO_DATA, at);
}

function defaultsOf(def: NamedCheckDef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(def.params)) if (p.default !== undefined) out[k] = p.default;
  return out;
}

export function parseExpectation(text: string): Expectation | undefined {
  const m = EXPECT_RE.exec(text);
  if (!m) return undefined;
  return { op: m[1] as CompareOp, value: Number(m[2]) };
}

function compilePromql(r: Reporter, v: unknown, path: YamlPath, budgetMs: number | undefined): CheckSpec | undefined {
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, ['query', 'expect', 'for_seconds', 'timeout_seconds', 'interval_seconds', 'on_empty', 'on_no_data'], path);
  const query = readNonEmptyString(r, m.query, [...path, 'query'], true);
  for (const name of query === undefined ? [] : promqlCommentPlaceholders(query)) {
    r.report(
      [...path, 'query'],
      `placeholder {${name}} is in a comment (PromQL ignores everything from a # outside a string to the end of the line), so its value would never reach Prometheus: move it out of the comment, or remove it`,
    );
  }
  let expect: Expectation | undefined;
  const expectText = readString(r, m.expect, [...path, 'expect']);
  if (expectText !== undefined) {
    expect = parseExpectation(expectText);
    if (!expect) r.report([...path, 'expect'], `expected a comparison such as "< 0.05" (one of < <= > >= == != and a number), got ${r.got([...path, 'expect'], expectText)}`);
  }
  const forMs = has(m, 'for_seconds') ? readSecondsMs(r, m.for_seconds, [...path, 'for_seconds'], { allowZero: true }) : 0;
  const timeoutMs = has(m, 'timeout_seconds') ? readSecondsMs(r, m.timeout_seconds, [...path, 'timeout_seconds'], { allowZero: false }) : 120_000;
  const intervalMs = has(m, 'interval_seconds') ? readIntervalMs(r, m.interval_seconds, [...path, 'interval_seconds']) : 5_000;
  const onEmpty = has(m, 'on_empty') ? readOneOf(r, m.on_empty, ['fail', 'pass'] as const, [...path, 'on_empty']) : 'fail';
  const onNoData = has(m, 'on_no_data') ? readOnNoData(r, m.on_no_data, [...path, 'on_no_data']) : undefined;
  if (forMs !== undefined && timeoutMs !== undefined && forMs >= timeoutMs) {
    // A condition that must hold longer than the check may wait can never pass.
    r.report([...path, 'for_seconds'], `for_seconds (${forMs / 1000}) must be less than timeout_seconds (${timeoutMs / 1000})`);
  } else if (budgetMs !== undefined && forMs !== undefined && intervalMs !== undefined && forMs > 0 && forMs + intervalMs > budgetMs) {
    // The hold is seen only by a poll after it: the first passing poll plus for_seconds,
    // and at worst one interval more. Cut off at the budget, it could never pass.
    r.report(
      [...path, 'for_seconds'],
      `for_seconds (${forMs / 1000}) plus one interval_seconds (${intervalMs / 1000}) does not fit in the guardrail budget of ${budgetMs / 1000} seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after ${budgetMs / 1000} seconds), so it could never be seen to hold: shorten for_seconds or interval_seconds, or let Prometheus look back instead (max_over_time(…[${forMs / 1000}s]) in the query)`,
    );
  }
  if (has(m, 'timeout_seconds') && timeoutMs !== undefined) timeoutFits(r, timeoutMs, [...path, 'timeout_seconds'], budgetMs);
  if (r.count() !== before || query === undefined || !expect || forMs === undefined || timeoutMs === undefined || intervalMs === undefined || !onEmpty) {
    return undefined;
  }
  return {
    type: 'promql',
    query: compileTemplate(query, (p) => promqlPlaceholder(query, p.offset)),
    expect,
    forMs,
    timeoutMs,
    intervalMs,
    onEmpty,
    ...(onNoData ? { onNoData } : {}),
  };
}

function compileHttpCheck(r: Reporter, v: unknown, path: YamlPath, budgetMs: number | undefined): CheckSpec | undefined {
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, ['url', 'method', 'headers', 'expect_status', 'timeout_seconds', 'interval_seconds'], path);
  const url = has(m, 'url') ? readUrl(r, m.url, [...path, 'url']) : missing(r, path, 'url');
  // A check observes; it must not change anything.
  const method = has(m, 'method') ? readMethod(r, m.method, ['GET', 'HEAD'], [...path, 'method']) : 'GET';
  const headers = readHeaders(r, m.headers, [...path, 'headers']);
  const expectStatus = has(m, 'expect_status') ? readStatusRange(r, m.expect_status, [...path, 'expect_status']) : ([200, 200] as [number, number]);
  const timeoutMs = has(m, 'timeout_seconds') ? readSecondsMs(r, m.timeout_seconds, [...path, 'timeout_seconds'], { allowZero: false }) : 60_000;
  const intervalMs = has(m, 'interval_seconds') ? readIntervalMs(r, m.interval_seconds, [...path, 'interval_seconds']) : 2_000;
  if (has(m, 'timeout_seconds') && timeoutMs !== undefined) timeoutFits(r, timeoutMs, [...path, 'timeout_seconds'], budgetMs);
  if (r.count() !== before || !url || !method || !headers || !expectStatus || timeoutMs === undefined || intervalMs === undefined) return undefined;
  return { type: 'http', method, url, headers, expectStatus, timeoutMs, intervalMs };
}

const KUBE_CHECK_KINDS = ['deployment', 'pod', 'statefulset', 'node'] as const;
type KubeCheckKind = (typeof KUBE_CHECK_KINDS)[number];
const CONDITION_KINDS: Record<(typeof KUBE_CONDITIONS)[number], readonly KubeCheckKind[]> = {
  deployment_ready: ['deployment', 'statefulset'],
  pod_ready: ['pod'],
  exists: KUBE_CHECK_KINDS,
};
const CONDITION_PARAMS: Record<(typeof KUBE_CONDITIONS)[number], readonly string[]> = {
  deployment_ready: ['min_ready'],
  pod_ready: [],
  exists: [],
};

function compileKubeCheck(r: Reporter, v: unknown, path: YamlPath, budgetMs: number | undefined): KubernetesCheckSpec | undefined {
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  const condition = readOneOf(r, m.condition, KUBE_CONDITIONS, [...path, 'condition']);
  const params: Record<string, unknown> = {};
  const base = ['condition', 'kind', 'name', 'namespace', 'timeout_seconds', 'interval_seconds', 'on_no_data'];
  checkKeys(r, m, [...base, ...(condition ? CONDITION_PARAMS[condition] : [])], path);
  if (!condition) return undefined;
  let kind: KubeCheckKind | undefined;
  if (has(m, 'kind')) kind = readOneOf(r, m.kind, CONDITION_KINDS[condition], [...path, 'kind']);
  else if (condition === 'exists') r.report(path, 'missing "kind" (exists needs to know what to look for)');
  else kind = CONDITION_KINDS[condition][0];
  const name = has(m, 'name') ? readKubeName(r, m.name, [...path, 'name'], 'k8s_name') : missing(r, path, 'name');
  let namespace: Template | null = null;
  if (has(m, 'namespace')) {
    if (kind === 'node') r.report([...path, 'namespace'], 'nodes are not namespaced', 'key');
    else namespace = readKubeName(r, m.namespace, [...path, 'namespace'], 'k8s_label') ?? null;
  } else if (kind && kind !== 'node') missingNamespace(r, path, kind);
  if (has(m, 'min_ready')) {
    const n = readPositiveInt(r, m.min_ready, [...path, 'min_ready']);
    if (n !== undefined) params.min_ready = n;
  }
  const timeoutMs = has(m, 'timeout_seconds') ? readSecondsMs(r, m.timeout_seconds, [...path, 'timeout_seconds'], { allowZero: false }) : NAMED_DEFAULT_TIMEOUT_MS;
  const intervalMs = has(m, 'interval_seconds') ? readIntervalMs(r, m.interval_seconds, [...path, 'interval_seconds']) : NAMED_DEFAULT_INTERVAL_MS;
  if (has(m, 'timeout_seconds') && timeoutMs !== undefined) timeoutFits(r, timeoutMs, [...path, 'timeout_seconds'], budgetMs);
  const onNoData = has(m, 'on_no_data') ? readOnNoData(r, m.on_no_data, [...path, 'on_no_data']) : undefined;
  if (r.count() !== before || !kind || !name || timeoutMs === undefined || intervalMs === undefined) return undefined;
  return { type: 'kubernetes', condition, kind, name, namespace, params, timeoutMs, intervalMs, ...(onNoData ? { onNoData } : {}) };
}

/**
 * A Kubernetes name or namespace template; a fully literal one is validated now, not at 3 a.m.,
 * and text that only looks like a placeholder (`{{pod}}`, `{pod-name}`) is refused.
 */
export function readKubeName(r: Reporter, v: unknown, path: YamlPath, kind: 'k8s_name' | 'k8s_label'): Template | undefined {
  const text = readNonEmptyString(r, v, path, true);
  if (text === undefined || refuseNearMisses(r, text, path)) return undefined;
  const t = compileTemplate(text, kind);
  if (isLiteral(t)) {
    const ok = checkParam(kind, literalText(t));
    if (!ok.ok) {
      r.report(path, `${JSON.stringify(text)} ${ok.reason}`);
      return undefined;
    }
  }
  return t;
}

/**
 * A namespaced object (a pod, a deployment, a statefulset) with no namespace written:
 * rectify assumes none (kubectl's "default" would be a guess about the alert's
 * cluster), so the step would fail on every run. Refused when the runbook loads.
 */
export function missingNamespace(r: Reporter, path: YamlPath, kind: string): void {
  r.report(path, `missing "namespace" (a ${kind} is namespaced, and rectify assumes none): write namespace: <namespace>, or namespace: "{namespace}"`);
}

/**
 * A guardrail's written timeout_seconds past its budget would be cut short without a
 * word (the engine stops it at the budget); a default one is cut to the budget.
 */
function timeoutFits(r: Reporter, timeoutMs: number, at: YamlPath, budgetMs: number | undefined): boolean {
  if (budgetMs === undefined || timeoutMs <= budgetMs) return true;
  r.report(at, `timeout_seconds (${timeoutMs / 1000}) is longer than the guardrail budget of ${budgetMs / 1000} seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after ${budgetMs / 1000} seconds): use at most ${budgetMs / 1000}`);
  return false;
}

function missing(r: Reporter, path: YamlPath, key: string): undefined {
  r.report(path, `missing "${key}"`);
  return undefined;
}

/**
 * What a placeholder at `offset` in a PromQL query takes. Inside a quoted string, a label
 * value; outside one, where a value such as `0 or up` would become part of the query
 * itself, only a number. In the string of a regex matcher (`=~`, `!~`) the value is meant
 * literally: written regex-escaped, else `svc=~"{svc}"` with svc `a.i` would also select
 * `aXi` and `api`. So is it in label_replace's regex, its fifth argument, which would
 * otherwise copy labels from series it was not meant for. A `# comment` is read as
 * Prometheus reads it, so a quote in one (`# don't …`) opens no string; a placeholder in
 * a comment is refused at load (see promqlCommentPlaceholders), and takes only a number here.
 */
export function promqlPlaceholder(query: string, offset: number): PlaceholderSpec {
  const spans = promqlSpans(query);
  const str = spanAt(spans, offset);
  if (str?.kind !== 'string') return 'integer';
  const code = withoutComments(query, spans);
  if (!/[=!]~\s*$/.test(code.slice(0, str.start)) && !isLabelReplaceRegex(code, spans, str.start)) return 'label_value';
  return { kind: 'label_value', escape: str.quote === '`' ? 'promql_regex_raw' : 'promql_regex' };
}

/**
 * The placeholders of a PromQL query that sit in a `#` comment: Prometheus never sees
 * their value, so the runbook does not do what it reads as doing.
 */
export function promqlCommentPlaceholders(query: string): string[] {
  const spans = promqlSpans(query);
  return scanTemplate(query)
    .filter((p): p is ScannedPlaceholder => typeof p !== 'string' && spanAt(spans, p.offset)?.kind === 'comment')
    .map((p) => p.param);
}

/**
 * Whether a string opening at `start` is the regex argument of a `label_replace(…)`
 * call: its fifth argument, counted at the call's own depth (commas inside nested
 * calls, `{…}` selectors, `[…]` ranges, strings and comments do not count). `code` is
 * the query with its comments blanked out.
 */
function isLabelReplaceRegex(code: string, spans: readonly PromqlSpan[], start: number): boolean {
  /** One entry per open bracket: the function it calls (for `(`) and the commas seen at its depth. */
  const open: Array<{ fn: string | null; commas: number }> = [];
  let next = 0;
  for (let i = 0; i < start; i++) {
    const span = spans[next];
    if (span?.start === i) {
      i = span.end - 1;
      next++;
      continue;
    }
    const c = code[i]!;
    if (c === '(' || c === '{' || c === '[') {
      const fn = c === '(' ? (/([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(code.slice(0, i))?.[1] ?? null) : null;
      open.push({ fn, commas: 0 });
    } else if (c === ')' || c === '}' || c === ']') open.pop();
    else if (c === ',' && open.length > 0) open[open.length - 1]!.commas++;
  }
  const inner = open.at(-1);
  return inner?.fn === 'label_replace' && inner.commas === 4;
}

/**
 * A string literal or a comment in a PromQL query, from its opening quote or `#` to
 * `end` (exclusive: past the closing quote; for a comment, the line end).
 */
interface PromqlSpan {
  kind: 'string' | 'comment';
  /** The opening quote of a string. */
  quote: string;
  start: number;
  end: number;
  /** A "…" or '…' string cut off by a line end or the query's end (Prometheus refuses the query). */
  unterminated: boolean;
}

/**
 * The strings and comments of a PromQL query, as Prometheus' lexer reads them: "…" and
 * '…' take backslash escapes and end at their quote or, unterminated, at a newline;
 * `…` is raw (no escapes) and may span lines; `#` outside a string comments out the
 * rest of the line (to "\n" or "\r"), inside `{…}` and `[…]` too.
 */
function promqlSpans(query: string): PromqlSpan[] {
  const spans: PromqlSpan[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i]!;
    if (c === '#') {
      let end = i + 1;
      while (end < query.length && query[end] !== '\n' && query[end] !== '\r') end++;
      spans.push({ kind: 'comment', quote: '', start: i, end, unterminated: false });
      i = end;
    } else if (c === '"' || c === "'" || c === '`') {
      let end = i + 1;
      let unterminated = true;
      while (end < query.length) {
        const d = query[end]!;
        if (d === c) {
          end++;
          unterminated = false;
          break;
        }
        if (c !== '`' && d === '\n') break;
        end += d === '\\' && c !== '`' ? 2 : 1;
      }
      end = Math.min(end, query.length);
      spans.push({ kind: 'string', quote: c, start: i, end, unterminated });
      i = end;
    } else i++;
  }
  return spans;
}

/** The span whose inside (past its opening quote or `#`, before its closing quote) holds `offset`. */
function spanAt(spans: readonly PromqlSpan[], offset: number): PromqlSpan | undefined {
  return spans.find((s) => s.start < offset && offset < s.end - (s.kind === 'string' && !s.unterminated ? 1 : 0));
}

/** The query with each comment's characters turned into spaces (offsets kept). */
function withoutComments(query: string, spans: readonly PromqlSpan[]): string {
  let out = '';
  let at = 0;
  for (const s of spans) {
    if (s.kind !== 'comment') continue;
    out += query.slice(at, s.start) + ' '.repeat(s.end - s.start);
    at = s.end;
  }
  return out + query.slice(at);
}

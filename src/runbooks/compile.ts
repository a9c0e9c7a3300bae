import { createHash } from 'node:crypto';
import { GUARDRAIL_BUDGET_MS, MAX_COOLDOWN_MINUTES, RISKS, type ActionSpec, type CheckSpec, type Matcher, type Risk, type Runbook, type Template } from '../domain/runbook.js';
import { compileAction, compileActionList } from './actions.js';
import { compileCheckList } from './checks.js';
import {
  checkKeys,
  has,
  isMapValue,
  readBool,
  readFraction,
  readNonNegativeNumber,
  readOneOf,
  readPositiveInt,
  readString,
  readStringList,
  type YamlMap,
} from './fields.js';
import { bodyParams } from './http-parts.js';
import { deepFreeze } from '../lib/index.js';
import { parseMatcher } from './matchers.js';
import { namedCheck } from './named.js';
import { describe, type Reporter, type YamlPath } from './problems.js';
import { checkSecretReferences } from './secret-refs.js';
import { DEFAULTS, MODES, OUTSIDE_WINDOWS, RUNBOOK_ID_RE, RUNBOOK_KEYS } from './schema.js';
import { isLiteral, literalText, PLACEHOLDER_NAME_RE, placeholderLike, placeholders, reservedPlaceholderProblem, scanTemplate } from './template.js';
import { compileWindows } from './windows.js';

/**
 * One runbook as written → the compiled `Runbook`, or `undefined` after reporting
 * every problem found. A runbook with any problem is never returned half-built.
 */
export function compileRunbook(r: Reporter, id: string, value: unknown, path: YamlPath, file: string, line?: number): Runbook | undefined {
  const before = r.count();
  if (!RUNBOOK_ID_RE.test(id)) {
    r.report(path, `runbook id ${describe(id)} is not a safe name (lowercase letters, digits, "-", "_" and ".", starting with a letter or digit, at most 63 characters)`, 'key');
  } else if (/^[0-9]+$/.test(id)) {
    // A map read from YAML lists keys that are whole numbers first, whatever their place
    // in the file, and the first runbook that matches an alert is the one that acts.
    r.report(path, `runbook id ${describe(id)} is a number: runbooks are matched in file order, and a numeric id would be read out of it; add a letter`, 'key');
  }
  if (!isMapValue(value)) {
    r.report(path, `expected a map of runbook fields, got ${r.got(path, value)}`);
    return undefined;
  }
  const m = value;
  const at = (key: string): YamlPath => [...path, key];
  checkKeys(r, m, RUNBOOK_KEYS, path);

  if (has(m, 'id') && m.id !== id) r.report(at('id'), `id ${describe(m.id)} differs from its key ${JSON.stringify(id)}; the key is the runbook's id`);
  const name = has(m, 'name') ? readString(r, m.name, at('name')) : undefined;
  const description = has(m, 'description') ? (readString(r, m.description, at('description')) ?? '') : (name ?? '');

  const risk = readRisk(r, m, path);
  const triggers = readTriggers(r, m, path);
  const matchers = readMatchers(r, m.match, at('match'));
  const minConfidence = has(m, 'min_confidence') ? readFraction(r, m.min_confidence, at('min_confidence')) : DEFAULTS.minConfidence;
  const maxPerHour = readAliased(r, m, path, 'max_per_hour', 'max_executions_per_hour', readPositiveInt) ?? DEFAULTS.maxPerHour;
  const cooldownMinutes = has(m, 'cooldown_minutes') ? readCooldownMinutes(r, m.cooldown_minutes, at('cooldown_minutes')) : DEFAULTS.cooldownMinutes;
  const blastRadiusLimit = has(m, 'blast_radius_limit') ? readPositiveInt(r, m.blast_radius_limit, at('blast_radius_limit')) : DEFAULTS.blastRadiusLimit;
  const mode = has(m, 'mode') ? readOneOf(r, m.mode, MODES, at('mode')) : DEFAULTS.mode;
  const windows = compileWindows(r, m.windows, at('windows'));
  const outsideWindows = has(m, 'outside_windows') ? readOneOf(r, m.outside_windows, OUTSIDE_WINDOWS, at('outside_windows')) : DEFAULTS.outsideWindows;
  const approvalsRequired = has(m, 'approvals_required') ? readApprovals(r, m.approvals_required, at('approvals_required')) : DEFAULTS.approvalsRequired;
  const maxUnavailable = has(m, 'max_unavailable') ? readMaxUnavailable(r, m.max_unavailable, at('max_unavailable')) : null;
  const forceDelete = has(m, 'force_delete') ? (readBool(r, m.force_delete, at('force_delete')) ?? false) : DEFAULTS.forceDelete;
  const owner = has(m, 'owner') ? readString(r, m.owner, at('owner')) : undefined;
  const declaredParams = readDeclaredParams(r, m.params, at('params'));
  if (has(m, 'last_updated') && typeof m.last_updated !== 'string' && typeof m.last_updated !== 'number') {
    r.report(at('last_updated'), `expected a date or text, got ${r.got(at('last_updated'), m.last_updated)}`);
  }
  if (has(m, 'success_rate')) readFraction(r, m.success_rate, at('success_rate'));
  if (has(m, 'verification')) readString(r, m.verification, at('verification'));

  const preChecks = compileCheckList(r, m.pre_checks, at('pre_checks'), { proseAllowed: false, beforeActions: true });
  const postChecks = compileCheckList(r, m.post_checks, at('post_checks'));
  // Only a MEDIUM runbook's guardrails are checked (before the decision, within the budget).
  const guardrails = compileCheckList(r, m.guardrails, at('guardrails'), {
    proseAllowed: risk === 'HIGH',
    beforeActions: true,
    ...(risk === 'MEDIUM' ? { budgetMs: GUARDRAIL_BUDGET_MS } : {}),
  });

  checkSecretReferences(r, m, path);
  checkReservedPlaceholders(r, m, path);
  const opts = { forceDelete };
  const actions = readActions(r, m, path, opts);
  const rollback = readRollback(r, m, path, opts);
  if (risk && risk !== 'HIGH') refuseScaleToZero(r, m, path, actions, rollback);
  let rollbackReason: string | undefined;
  if (has(m, 'rollback_reason')) rollbackReason = readString(r, m.rollback_reason, at('rollback_reason'));
  if (m.rollback === 'none' && !rollbackReason) {
    r.report(at('rollback'), 'rollback: none (irreversible) needs a rollback_reason saying why it cannot be undone');
  }
  if (rollbackReason !== undefined && Array.isArray(rollback) && rollback.length > 0) {
    r.report(at('rollback_reason'), 'rollback_reason explains rollback: none or null; this runbook has a rollback', 'key');
  }

  if (
    r.count() !== before ||
    !risk ||
    !triggers ||
    !matchers ||
    minConfidence === undefined ||
    cooldownMinutes === undefined ||
    blastRadiusLimit === undefined ||
    !mode ||
    !windows ||
    !outsideWindows ||
    approvalsRequired === undefined ||
    maxUnavailable === undefined ||
    !preChecks ||
    !postChecks ||
    !guardrails ||
    !actions ||
    rollback === undefined ||
    !declaredParams
  ) {
    return undefined;
  }

  const allChecks = [...preChecks.specs, ...postChecks.specs, ...guardrails.specs];
  const allActions = [...actions, ...(rollback ?? [])];
  const runbook: Runbook = {
    id,
    file,
    description,
    risk,
    triggers: triggers.length > 0 ? triggers : alertnamesMatched(matchers),
    matchers,
    minConfidence,
    maxPerHour,
    cooldownMs: Math.round(cooldownMinutes * 60_000),
    blastRadiusLimit,
    mode,
    windows,
    guardrails: guardrails.specs,
    preChecks: preChecks.specs,
    actions,
    postChecks: postChecks.specs,
    rollback,
    approvalsRequired,
    maxUnavailable,
    forceDelete,
    params: paramsOf(allActions, allChecks),
    declaredParams,
    needs: needsOf(allActions, allChecks),
    raw: structuredClone(m),
    version: '',
    planVersion: '',
    asWritten: {
      version: writtenDigest(m),
      planVersion: writtenDigest(Object.fromEntries(Object.entries(m).filter(([k]) => !DESCRIPTIVE_KEYS.has(k)))),
    },
  };
  if (line !== undefined) runbook.line = line;
  if (rollbackReason !== undefined) runbook.rollbackReason = rollbackReason;
  if (owner !== undefined) runbook.owner = owner;
  if (outsideWindows === 'approval') runbook.outsideWindows = outsideWindows;
  const plan = planMeaning(runbook, guardrails.notes);
  runbook.planVersion = digest(plan);
  runbook.version = digest({ plan, described: { description, ...Object.fromEntries(Object.entries(m).filter(([k]) => DESCRIPTIVE_KEYS.has(k))) } });
  return deepFreeze(runbook);
}

/**
 * The keys that describe a runbook and change nothing of what it runs nor of how it is
 * decided: an edit of these alone leaves its planVersion, so its pending requests stand.
 */
const DESCRIPTIVE_KEYS: ReadonlySet<string> = new Set(['name', 'description', 'verification', 'last_updated', 'success_rate']);

/**
 * What a runbook means, as compiled: what it runs (actions, checks, rollback), how it is
 * decided (risk, mode, matchers, guardrails, limits, windows) and who approves it, less
 * what only describes it (its description, its file and line) and the map as written. Digested
 * from the compiled runbook rather than the map, so that how it is written (keys in
 * another order, `risk: high` for `HIGH`, `max_executions_per_hour` for `max_per_hour`,
 * a default written out) is no change; every field the runbook gains is in it unless
 * left out here. A HIGH runbook's prose guardrails (notes, not compiled into checks) are
 * in it: its approvers read them.
 */
function planMeaning(rb: Runbook, guardrailNotes: readonly string[]): Record<string, unknown> {
  const { file: _file, line: _line, description: _description, raw: _raw, version: _version, planVersion: _planVersion, asWritten: _asWritten, matchers, ...meaning } = rb;
  // A regex matcher's compiled test is made from its op and value.
  return { ...meaning, matchers: matchers.map(({ name, op, value }) => ({ name, op, value })), guardrailNotes: [...guardrailNotes] };
}

/** A digest of the value as canonical JSON: the keys of every map sorted, lists in their order (step order is meaning). */
function digest(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
}

function canonicalJson(v: unknown): string {
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined && typeof o[k] !== 'function')
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** The digest earlier releases took of the map as written, its key order and spelling included (Runbook.asWritten). */
function writtenDigest(m: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(m)).digest('hex').slice(0, 16);
}

function readRisk(r: Reporter, m: YamlMap, path: YamlPath): Risk | undefined {
  const parse = (v: unknown, key: string): Risk | undefined => {
    const up = typeof v === 'string' ? v.toUpperCase() : undefined;
    if (up && (RISKS as readonly string[]).includes(up)) return up as Risk;
    r.report([...path, key], `expected LOW, MEDIUM or HIGH, got ${r.got([...path, key], v)}`);
    return undefined;
  };
  const risk = has(m, 'risk') ? parse(m.risk, 'risk') : undefined;
  const level = has(m, 'risk_level') ? parse(m.risk_level, 'risk_level') : undefined;
  if (risk && level && risk !== level) {
    r.report([...path, 'risk_level'], `risk_level ${describe(m.risk_level)} contradicts risk ${describe(m.risk)}`);
    return undefined;
  }
  if (has(m, 'risk') && !risk) return undefined;
  if (has(m, 'risk_level') && !level) return undefined;
  return risk ?? level ?? DEFAULTS.risk;
}

/**
 * A runbook without trigger words but with `alertname="X"` matchers is triggered by
 * those alert names: Alertmanager users write it so, and matching goes through an
 * index of trigger words, where such a runbook would otherwise never be found.
 */
function alertnamesMatched(matchers: readonly Matcher[]): string[] {
  return matchers.filter((m) => m.name === 'alertname' && m.op === '=' && m.value !== '').map((m) => m.value);
}

/**
 * `cooldown_minutes`, at most a year. `1e20` loaded, and a cooldown's end past the last
 * date JavaScript can hold made GET /api/v1/runbooks answer 500 after the first run.
 */
function readCooldownMinutes(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  const n = readNonNegativeNumber(r, v, path);
  if (n === undefined || n <= MAX_COOLDOWN_MINUTES) return n;
  r.report(path, `expected at most ${MAX_COOLDOWN_MINUTES} minutes (a year), got ${r.got(path, v)}: to stop a runbook acting, set mode: dry_run or remove it`);
  return undefined;
}

/** `triggers`, the seed's `root_causes` and `symptoms`, merged in that order without repeats. */
function readTriggers(r: Reporter, m: YamlMap, path: YamlPath): string[] | undefined {
  const out: string[] = [];
  // A Set beside the list: `out.includes` made a list of 100,000 triggers take a minute.
  const seen = new Set<string>();
  let ok = true;
  for (const key of ['triggers', 'root_causes', 'symptoms']) {
    if (!has(m, key) || m[key] === null) continue;
    const list = readStringList(r, m[key], [...path, key]);
    if (!list) {
      ok = false;
      continue;
    }
    list.forEach((word, i) => {
      if (word.trim() === '') {
        r.report([...path, key, i], 'a trigger cannot be empty');
        ok = false;
      } else if (!seen.has(word)) {
        seen.add(word);
        out.push(word);
      }
    });
  }
  return ok ? out : undefined;
}

function readMatchers(r: Reporter, v: unknown, path: YamlPath): Matcher[] | undefined {
  if (v === undefined || v === null) return [];
  const list = readStringList(r, v, path);
  if (!list) return undefined;
  const out: Matcher[] = [];
  let ok = true;
  list.forEach((text, i) => {
    const parsed = parseMatcher(text);
    // `namespace!="{namespace}"` compares the label with that text itself: the exclusion never applies.
    const names = parsed.ok ? placeholderLike(parsed.value.value).placeholders : [];
    if (names.length > 0) {
      r.report([...path, i], `placeholder {${names[0]!}} is not filled in a match: value (matchers are not templates), so the label is compared with the text ${JSON.stringify(`{${names[0]!}}`)} itself: write the value out`);
      ok = false;
    } else if (parsed.ok) out.push(parsed.value);
    else {
      r.report([...path, i], parsed.message);
      ok = false;
    }
  });
  return ok ? out : undefined;
}

/** A field with a seed alias: either may be given; both must then agree. */
function readAliased<T>(
  r: Reporter,
  m: YamlMap,
  path: YamlPath,
  key: string,
  alias: string,
  read: (r: Reporter, v: unknown, path: YamlPath) => T | undefined,
): T | undefined {
  const a = has(m, key) ? read(r, m[key], [...path, key]) : undefined;
  const b = has(m, alias) ? read(r, m[alias], [...path, alias]) : undefined;
  if (a !== undefined && b !== undefined && a !== b) r.report([...path, alias], `${alias} ${describe(m[alias])} contradicts ${key} ${describe(m[key])}`);
  return a ?? b;
}

/**
 * `params:` a map of name → what it means (or a list of names): the values this
 * runbook expects from the incident's context or a manual run.
 */
function readDeclaredParams(r: Reporter, v: unknown, path: YamlPath): Record<string, string> | undefined {
  if (v === undefined || v === null) return {};
  const out: Record<string, string> = {};
  const before = r.count();
  const name = (key: string, at: YamlPath): boolean => {
    const reserved = reservedPlaceholderProblem(key);
    if (PLACEHOLDER_NAME_RE.test(key) && reserved === undefined) return true;
    r.report(at, reserved ?? `${describe(key)} is not a placeholder name (a letter or "_", then letters, digits or "_")`, 'key');
    return false;
  };
  if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const key = readString(r, item, [...path, i]);
      if (key !== undefined && name(key, [...path, i])) out[key] = '';
    });
  } else if (isMapValue(v)) {
    for (const [key, desc] of Object.entries(v)) {
      if (!name(key, [...path, key])) continue;
      if (desc === null) out[key] = '';
      else {
        const text = readString(r, desc, [...path, key]);
        if (text !== undefined) out[key] = text;
      }
    }
  } else {
    r.report(path, `expected a map of placeholder name to what it means (or a list of names), got ${r.got(path, v)}`);
  }
  return r.count() === before ? out : undefined;
}

const TEMPLATE_SECTIONS = ['action', 'actions', 'rollback', 'pre_checks', 'post_checks', 'guardrails'] as const;

/** A placeholder anywhere in the runbook's actions and checks whose name may not be one (see reservedPlaceholderProblem). */
function checkReservedPlaceholders(r: Reporter, m: YamlMap, path: YamlPath): void {
  const walk = (v: unknown, at: YamlPath): void => {
    if (typeof v === 'string') {
      for (const part of scanTemplate(v)) {
        const problem = typeof part === 'string' ? undefined : reservedPlaceholderProblem(part.param);
        if (problem !== undefined) return r.report(at, problem);
      }
    } else if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...at, i]));
    else if (isMapValue(v)) for (const [k, item] of Object.entries(v)) walk(item, [...at, k]);
  };
  for (const section of TEMPLATE_SECTIONS) if (m[section] !== undefined) walk(m[section], [...path, section]);
}

/**
 * `--replicas=0` takes a whole service down. The executor refuses it unless the
 * runbook wrote the 0 itself, and only a HIGH-risk runbook may, so that a person
 * approves every run.
 */
function refuseScaleToZero(r: Reporter, m: YamlMap, path: YamlPath, actions: ActionSpec[] | undefined, rollback: ActionSpec[] | null | undefined): void {
  const zero = (a: ActionSpec): boolean => a.type === 'kubernetes' && a.verb === 'scale' && a.args.replicas !== undefined && isLiteral(a.args.replicas) && literalText(a.args.replicas) === '0';
  const message = 'scaling to 0 replicas takes the whole workload down: only a HIGH-risk runbook (a person approves every run) may do it';
  const one = (key: 'action' | 'actions' | 'rollback', list: ActionSpec[] | null | undefined): void => {
    const single = key !== 'actions' && !Array.isArray(m[key]);
    (list ?? []).forEach((a, i) => {
      if (zero(a)) r.report(single ? [...path, key] : [...path, key, i], message);
    });
  };
  one(has(m, 'action') && m.action !== null ? 'action' : 'actions', actions);
  one('rollback', rollback);
}

function readApprovals(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  if (v === 1 || v === 2) return v;
  r.report(path, `expected 1 or 2, got ${r.got(path, v)}`);
  return undefined;
}

function readMaxUnavailable(r: Reporter, v: unknown, path: YamlPath): string | null | undefined {
  if (v === null) return null;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return String(v);
  if (typeof v === 'string') {
    const pct = /^([1-9]\d?|100)%$/.exec(v);
    if (pct || /^[1-9]\d*$/.test(v)) return v;
  }
  r.report(path, `expected a percentage such as "25%" or a positive integer, got ${r.got(path, v)}`);
  return undefined;
}

function readActions(r: Reporter, m: YamlMap, path: YamlPath, opts: { forceDelete: boolean }): ActionSpec[] | undefined {
  const hasOne = has(m, 'action') && m.action !== null;
  const hasMany = has(m, 'actions') && m.actions !== null;
  if (hasOne && hasMany) {
    r.report([...path, 'actions'], 'give either action or actions, not both', 'key');
    return undefined;
  }
  if (hasOne) {
    if (Array.isArray(m.action)) {
      r.report([...path, 'action'], 'action is a single action; use actions: for a list');
      return undefined;
    }
    const a = compileAction(r, m.action, [...path, 'action'], opts);
    return a ? [a] : undefined;
  }
  if (hasMany) {
    if (!Array.isArray(m.actions) || m.actions.length === 0) {
      r.report([...path, 'actions'], `expected a non-empty list of actions, got ${r.got([...path, 'actions'], m.actions)}`);
      return undefined;
    }
    return compileActionList(r, m.actions, [...path, 'actions'], opts);
  }
  r.report(path, 'missing "action" (or "actions"): a runbook must say what it does');
  return undefined;
}

/** null/absent: no rollback; "none": irreversible on purpose; else an action or a list of them. */
function readRollback(r: Reporter, m: YamlMap, path: YamlPath, opts: { forceDelete: boolean }): ActionSpec[] | null | undefined {
  const v = m.rollback;
  const at = [...path, 'rollback'];
  if (v === undefined || v === null || v === 'none') return null;
  if (Array.isArray(v)) {
    if (v.length === 0) {
      r.report(at, 'an empty rollback list; write rollback: null (none needed) or rollback: none (irreversible)');
      return undefined;
    }
    return compileActionList(r, v, at, opts);
  }
  const a = compileAction(r, v, at, opts);
  return a ? [a] : undefined;
}

/** The templates of one action (an http body's strings aside: see `placeholdersOfAction`). */
export function templatesOfAction(a: ActionSpec): Template[] {
  switch (a.type) {
    case 'kubernetes':
      return [a.name, ...(a.namespace ? [a.namespace] : []), ...Object.values(a.args)];
    case 'http':
      return [a.url, ...Object.values(a.headers)];
    case 'command':
      return a.argv;
  }
}

export function templatesOfCheck(c: CheckSpec): Template[] {
  switch (c.type) {
    case 'named':
      return [];
    case 'promql':
      return [c.query];
    case 'http':
      return [c.url, ...Object.values(c.headers)];
    case 'kubernetes':
      return [c.name, ...(c.namespace ? [c.namespace] : [])];
  }
}

/** Placeholder names of one action, its http body included, in order of appearance. */
export function placeholdersOfAction(a: ActionSpec): string[] {
  const names = templatesOfAction(a).flatMap((t) => placeholders(t).map((p) => p.param));
  if (a.type === 'http') names.push(...bodyParams(a.body));
  return names;
}

export function placeholdersOfCheck(c: CheckSpec): string[] {
  return templatesOfCheck(c).flatMap((t) => placeholders(t).map((p) => p.param));
}

function paramsOf(actions: ActionSpec[], checks: CheckSpec[]): string[] {
  const names = new Set<string>([...actions.flatMap(placeholdersOfAction), ...checks.flatMap(placeholdersOfCheck)]);
  return [...names].sort();
}

function needsOf(actions: ActionSpec[], checks: CheckSpec[]): Runbook['needs'] {
  const needs = new Set<Runbook['needs'][number]>();
  for (const a of actions) needs.add(a.type);
  for (const c of checks) {
    if (c.type === 'named') {
      const def = namedCheck(c.name);
      if (def) needs.add(def.needs);
    } else if (c.type === 'promql') needs.add('prometheus');
    else needs.add(c.type);
  }
  return [...needs].sort();
}

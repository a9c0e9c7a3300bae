import { ALWAYS_PRESENT_VALUES, KUBERNETES_ENRICHMENT } from '../domain/enrichment.js';
import { GUARDRAIL_BUDGET_MS, guardrailTimeoutMs, NAMED_QUERY_WINDOW, preCheckTimeoutMs, type ActionSpec, type CheckSpec, type KubeVerb, type Runbook, type Template } from '../domain/runbook.js';
import { nearest } from '../lib/suggest.js';
import { ALERT_BASE_LABELS, STANDARD_ALERT_LABELS, standardAlertLabels } from './alerts.js';
import { placeholdersOfAction, placeholdersOfCheck } from './compile.js';
import { has, isMapValue, type YamlMap } from './fields.js';
import { markerDropIn, unguardedKubeIn, wholeUnitIn } from './argv-programs.js';
import { matcherHolds } from './matchers.js';
import { namedCheck, namedCheckWindowMs, namedDefaultTimeoutMs, NAMED_CHECK_NAMES } from './named.js';
import type { Reporter, YamlPath } from './problems.js';
import { findNearMisses, placeholderLike } from './template.js';

/**
 * Reference checks: what a runbook refers to that nothing can provide, and the
 * safety triangle (guardrails, rollback, verification) left open. They are
 * warnings: a runbook that trips one still loads (the seed's exercise file does,
 * and must load unchanged), startup logs each one, and `rectify lint` fails on them.
 *
 * - a placeholder, or a value a named check needs, that no source can fill;
 * - a trigger word with white space at its start or end (matched exactly, it never
 *   matches the word within);
 * - a HIGH-risk runbook with no `owner` to ask for approval;
 * - an action that cannot undo itself, with no rollback and no explicit
 *   `rollback: none` + `rollback_reason`;
 * - no post_checks (nothing verifies the fix);
 * - guardrails on a LOW-risk runbook, which are never evaluated (only MEDIUM's are);
 * - a HIGH-risk guardrail note that looks like a misspelt check name;
 * - a declared param that nothing uses;
 * - text that looks like a placeholder but is literal (`{{service}}`, `{ service }`,
 *   `{queue-name}`, `{service`) in a PromQL query or an HTTP header or body, where a
 *   brace may be meant (argv, URLs and Kubernetes fields refuse it at load), or where
 *   nothing is filled: a `match:` value, an http body's key, a named check's parameter
 *   (a real `{name}` there is a load error);
 * - a check whose timeout is shorter than its interval: it is tried only at its start
 *   and at its timeout, which is rarely what the interval was written for. The timeout
 *   is the one it runs with: a pre-check's, and a MEDIUM runbook's guardrail's, are cut
 *   shorter than written (the message gives both figures);
 * - a post-check reading a rate over a window (`error_rate_normalized`, `metrics_improved`
 *   with their default query) whose written timeout is shorter than the window: it gives up
 *   while the window still holds what came before the fix, and a fix that worked is rolled
 *   back (written without one, its timeout covers the window);
 * - a `command:` whose argv keeps the step marker (RECTIFY_STEP_ID) from its program
 *   (sudo without --preserve-env=RECTIFY_STEP_ID, env -i): after a crash, recovery
 *   cannot find that program to stop it.
 */
export function checkReferences(rb: Runbook, path: YamlPath, warn: Reporter): void {
  const raw = rb.raw;
  const at = (...rest: (string | number)[]): YamlPath => [...path, ...rest];
  const actions = locateActions(rb, raw, path);
  const checks = locateChecks(rb, raw, path);
  const sources = sourcesOf(rb);

  // Placeholders no source can fill: reported once per name, where it first appears.
  const reported = new Set<string>();
  const noSource = (name: string, where: YamlPath, what: string): void => {
    if (reported.has(name)) return;
    reported.add(name);
    warn.report(where, `${what} has no source: no standard alert in triggers carries it, match: does not require it, enrichment does not add it and params: does not declare it; declare it under params: if incidents carry it in their context`);
  };
  for (const { path: where, spec } of actions) {
    for (const name of placeholdersOfAction(spec)) if (!sources.has(name)) noSource(name, where, `placeholder {${name}}`);
  }
  for (const { path: where, spec } of checks) {
    for (const name of placeholdersOfCheck(spec)) if (!sources.has(name)) noSource(name, where, `placeholder {${name}}`);
    if (spec.type !== 'named') continue;
    const def = namedCheck(spec.name);
    if (!def || (def.unlessParam && spec.params[def.unlessParam] !== undefined)) continue;
    for (const group of def.requires) {
      if (group.some((n) => sources.has(n))) continue;
      const what = group.length === 1 ? `{${group[0]!}}` : `one of ${group.map((n) => `{${n}}`).join(', ')}`;
      noSource(group[0]!, where, `${spec.name} needs ${what}, which`);
    }
  }

  // Matching looks runbooks up by trigger word (an alertname="…" matcher counts as one).
  if (rb.triggers.length === 0) {
    warn.report(path, 'no triggers and no alertname="…" matcher: no alert ever matches this runbook (it can still be run by hand); add triggers:', 'key');
  }

  // Trigger words match exactly: one with spaces around it never matches the word within.
  for (const key of ['triggers', 'root_causes', 'symptoms']) {
    const list = raw[key];
    if (!Array.isArray(list)) continue;
    list.forEach((word, i) => {
      if (typeof word !== 'string' || word.trim() === word) return;
      warn.report(at(key, i), `trigger ${JSON.stringify(word)} has white space at its start or end: triggers match exactly, so it never matches ${JSON.stringify(word.trim())}; write ${JSON.stringify(word.trim())}`);
    });
  }

  // HIGH risk always waits for a person; somebody must be named to be asked.
  if (rb.risk === 'HIGH' && rb.mode !== 'dry_run' && !rb.owner) {
    const where = has(raw, 'risk') ? at('risk') : has(raw, 'risk_level') ? at('risk_level') : path;
    warn.report(where, 'HIGH risk waits for an approval, but no owner names who approves: set owner: to the team or person who is asked (it is shown with the approval request)');
  }

  // Irreversible actions need a rollback, or an explicit, explained "none".
  const explicitNone = raw.rollback === 'none' && rb.rollbackReason !== undefined;
  if (rb.rollback === null && !explicitNone) {
    for (const { path: where, spec } of actions) {
      const what = changesState(spec);
      if (!what) continue;
      warn.report(where, `${what} is not undone by itself and this runbook has no rollback: give a rollback, or write rollback: none with a rollback_reason saying why it cannot be undone`);
    }
  }

  // "Always verify": a runbook that acts must check that the fix worked.
  if (rb.mode !== 'dry_run' && rb.postChecks.length === 0) {
    warn.report(path, 'no post_checks: nothing verifies that the fix worked, so a failure is never rolled back; add a check (named, promql, http or kubernetes)', 'key');
  }

  // Only a MEDIUM runbook's guardrails are checked: on a LOW one they read as a safeguard and guard nothing.
  if (rb.risk === 'LOW' && Array.isArray(raw.guardrails) && raw.guardrails.length > 0) {
    warn.report(at('guardrails'), 'guardrails are not evaluated at LOW risk: the runbook runs on its own whatever they would say; make it risk: MEDIUM to require them, or make them pre_checks to stop the run when one fails', 'key');
  }

  // outside_windows says what happens outside the windows: without any, it is never outside them.
  if (rb.outsideWindows === 'approval' && rb.windows.length === 0) {
    warn.report(at('outside_windows'), 'outside_windows has no effect without windows: the runbook may act on its own at any time; give it windows', 'key');
  }

  // A note on a HIGH runbook that looks like a check name was probably meant to be one.
  if (rb.risk === 'HIGH' && Array.isArray(raw.guardrails)) {
    raw.guardrails.forEach((g, i) => {
      if (typeof g !== 'string' || namedCheck(g)) return;
      const near = nearest(g, NAMED_CHECK_NAMES);
      if (near) warn.report(at('guardrails', i), `"${g}" is not a check, so it is kept as a note for the approver; did you mean the check "${near}"?`);
    });
  }

  // Declared params that nothing reads.
  const used = new Set<string>([...actions.flatMap((a) => placeholdersOfAction(a.spec)), ...checks.flatMap((c) => placeholdersOfCheck(c.spec))]);
  for (const c of checks) if (c.spec.type === 'named') for (const group of namedCheck(c.spec.name)?.requires ?? []) for (const n of group) used.add(n);
  for (const name of Object.keys(rb.declaredParams)) {
    if (!used.has(name)) warn.report(at('params', name), `param ${name} is declared but no placeholder or named check uses it`, 'key');
  }

  // A command whose program does not carry the step marker is lost to crash recovery; one
  // running kubectl scale or rollout undo goes without the built-in action's checks.
  const guardedNames = new Set(rb.matchers.filter((m) => m.op === '=' || m.op === '=~').map((m) => m.name));
  for (const { path: where, spec } of actions) {
    if (spec.type !== 'command') continue;
    const drop = markerDropIn(spec.argv);
    if (drop) warn.report([...where, 'command', 'argv', drop.index], drop.message);
    const unguarded = unguardedKubeIn(spec.argv);
    if (unguarded) warn.report([...where, 'command', 'argv', unguarded.index], unguarded.message);
    const unit = wholeUnitIn(spec.argv, guardedNames);
    if (unit) warn.report([...where, 'command', 'argv', unit.index], unit.message);
  }

  // Near-misses where braces can be meant (PromQL matchers, JSON text): sent as written.
  const nearMisses = (text: string, where: YamlPath): void => {
    for (const m of findNearMisses(text)) warn.report(where, m.message);
  };
  const headers = (h: Readonly<Record<string, Template>>, where: YamlPath): void => {
    for (const [name, t] of Object.entries(h)) nearMisses(t.source, [...where, 'headers', name]);
  };
  // Where nothing is filled (not a template), a look-alike is sent or matched as written.
  const literalNearMisses = (text: string, where: YamlPath, what: string, as: string, fix = '', key?: 'key'): void => {
    for (const t of placeholderLike(text).nearMisses) warn.report(where, `${JSON.stringify(t)} looks like a placeholder, but ${what}: nothing is filled in it, so it is ${as} as written${fix}`, key);
  };
  const body = (v: unknown, where: YamlPath): void => {
    if (typeof v === 'string') nearMisses(v, where);
    else if (Array.isArray(v)) v.forEach((item, i) => body(item, [...where, i]));
    else if (isMapValue(v)) {
      for (const [k, item] of Object.entries(v)) {
        literalNearMisses(k, [...where, k], 'a body key is not a template (only string values are)', 'sent', '', 'key');
        body(item, [...where, k]);
      }
    }
  };
  rb.matchers.forEach((m, i) => literalNearMisses(m.value, at('match', i), 'a match: value is not a template', 'matched'));
  for (const { path: where, spec } of actions) {
    if (spec.type !== 'http') continue;
    headers(spec.headers, [...where, 'http']);
    body(spec.body, [...where, 'http', 'body']);
  }
  for (const { path: where, spec, item } of checks) {
    if (spec.type === 'promql') nearMisses(spec.query.source, [...where, 'promql', 'query']);
    else if (spec.type === 'http') headers(spec.headers, [...where, 'http']);
    else if (spec.type === 'named') {
      for (const [key, value] of Object.entries(spec.params)) {
        const written = fieldPath(item, key);
        if (typeof value === 'string' && written) literalNearMisses(value, [...where, ...written], 'named check parameters are literal', 'sent', '; use a promql check for a templated query');
      }
    }
  }

  // A timeout shorter than the interval (given or default): tried at the start and once
  // more at the timeout, never one interval apart. The timeout is the one the check runs
  // with: a pre-check's and a MEDIUM runbook's guardrail's are cut shorter than written,
  // and a 60 s timeout with a 90 s interval is, on a pre-check, tried at 0 and 15 s. A
  // snapshot named check is asked once and has no interval to speak of.
  for (const { path: where, list, spec, item } of checks) {
    const cut = runTimeout(rb, list, spec);
    if (cut.ms >= spec.intervalMs) continue;
    if (spec.type === 'named' && namedCheck(spec.name)?.mode !== 'converge') continue;
    const timeoutAt = fieldPath(item, 'timeout_seconds');
    const intervalAt = fieldPath(item, 'interval_seconds');
    const written = `timeout_seconds (${spec.timeoutMs / 1000}${timeoutAt ? '' : ', the default'})`;
    const interval = `interval_seconds (${spec.intervalMs / 1000}${intervalAt ? '' : ', the default'})`;
    const t = cut.ms / 1000;
    warn.report(
      [...where, ...(timeoutAt ?? intervalAt ?? [])],
      cut.ms < spec.timeoutMs
        ? `${written} is cut to ${t} s ${cut.why}, which is shorter than ${interval}: the check is tried only at its start and once more at ${t} s; to poll it, give a shorter interval_seconds`
        : `${written} is shorter than ${interval}: the check is tried only at its start and once more at ${t} s; to poll it, give a shorter interval_seconds or a longer timeout_seconds`,
    );
  }

  // A post-check reading a rate over a window that gives up before the window holds only
  // what came after the fix: a fix that worked is measured failing and rolled back.
  for (const { path: where, list, spec, item } of checks) {
    if (list !== 'post_checks' || spec.type !== 'named') continue;
    const def = namedCheck(spec.name);
    const windowMs = def?.window ? namedCheckWindowMs(def, spec.params) : undefined;
    const timeoutAt = fieldPath(item, 'timeout_seconds');
    if (!def?.window || windowMs === undefined || !timeoutAt || spec.timeoutMs >= windowMs) continue;
    warn.report(
      [...where, ...timeoutAt],
      `${def.window.reads} is read over the last ${NAMED_QUERY_WINDOW.promql}: a timeout of ${spec.timeoutMs / 1000} s ends before ${def.window.leaves}; a fix that worked would be rolled back; give timeout_seconds of at least ${windowMs / 1000} (without it, ${namedDefaultTimeoutMs(def, spec.params) / 1000})`,
    );
  }
}

/** The timeout a check runs with, where it is cut shorter than written, and why. */
function runTimeout(rb: Runbook, list: CheckList, spec: CheckSpec): { ms: number; why: string } {
  if (list === 'pre_checks') return { ms: preCheckTimeoutMs(spec), why: 'for a pre-check (its for_seconds, plus its interval_seconds up to 10 s, plus 5 s)' };
  // Only a MEDIUM runbook's guardrails are run; the others' are not timed at all.
  if (list === 'guardrails' && rb.risk === 'MEDIUM') {
    return { ms: guardrailTimeoutMs(spec), why: `for a guardrail (its last try ends within the ${GUARDRAIL_BUDGET_MS / 1000} s guardrail budget)` };
  }
  return { ms: spec.timeoutMs, why: '' };
}

/** Where `field` is written in a check item: `{named: x, field}` or `{type: {…, field}}`. */
function fieldPath(item: unknown, field: string): (string | number)[] | undefined {
  if (!isMapValue(item)) return undefined;
  if (has(item, field)) return [field];
  for (const [key, body] of Object.entries(item)) if (isMapValue(body) && has(body, field)) return [key, field];
  return undefined;
}

interface Located<T> {
  path: YamlPath;
  spec: T;
}

/** Actions and rollback actions with the YAML path each was written at. */
function locateActions(rb: Runbook, raw: YamlMap, path: YamlPath): Located<ActionSpec>[] {
  const out: Located<ActionSpec>[] = [];
  if (has(raw, 'action') && raw.action !== null) out.push({ path: [...path, 'action'], spec: rb.actions[0]! });
  else rb.actions.forEach((spec, i) => out.push({ path: [...path, 'actions', i], spec }));
  if (rb.rollback) {
    if (Array.isArray(raw.rollback)) rb.rollback.forEach((spec, i) => out.push({ path: [...path, 'rollback', i], spec }));
    else out.push({ path: [...path, 'rollback'], spec: rb.rollback[0]! });
  }
  return out;
}

type CheckList = 'pre_checks' | 'post_checks' | 'guardrails';

/** Checks with their list, YAML paths and items as written; a HIGH runbook's prose guardrails compiled to nothing and are skipped. */
function locateChecks(rb: Runbook, raw: YamlMap, path: YamlPath): (Located<CheckSpec> & { list: CheckList; item: unknown })[] {
  const out: (Located<CheckSpec> & { list: CheckList; item: unknown })[] = [];
  const pair = (key: CheckList, specs: readonly CheckSpec[]): void => {
    const items = Array.isArray(raw[key]) ? (raw[key] as unknown[]) : [];
    let next = 0;
    items.forEach((item, i) => {
      const isNote = key === 'guardrails' && rb.risk === 'HIGH' && typeof item === 'string' && !namedCheck(item);
      if (isNote) return;
      const spec = specs[next++];
      if (spec) out.push({ path: [...path, key, i], list: key, spec, item });
    });
  };
  pair('guardrails', rb.guardrails);
  pair('pre_checks', rb.preChecks);
  pair('post_checks', rb.postChecks);
  return out;
}

/** Every value some source can give this runbook's incidents. */
function sourcesOf(rb: Runbook): Set<string> {
  const sources = new Set<string>([...ALWAYS_PRESENT_VALUES, ...Object.keys(rb.declaredParams)]);
  // Labels match: guarantees are present (a missing label is "", which these refuse).
  for (const m of rb.matchers) if (!matcherHolds(m, {})) sources.add(m.name);
  // Labels of the standard alerts that can trigger it: by trigger word or by an alertname matcher.
  const alerts = new Set<string>(rb.triggers.filter((t) => standardAlertLabels(t)));
  for (const m of rb.matchers) {
    if (m.name !== 'alertname' || (m.op !== '=' && m.op !== '=~')) continue;
    for (const name of Object.keys(STANDARD_ALERT_LABELS)) if (matcherHolds(m, { alertname: name })) alerts.add(name);
  }
  for (const a of alerts) for (const l of [...ALERT_BASE_LABELS, ...(standardAlertLabels(a) ?? [])]) sources.add(l);
  // Enrichment runs for runbooks that need Kubernetes, from values the incident already has.
  const e = KUBERNETES_ENRICHMENT;
  if (rb.needs.includes('kubernetes') && e.requires.every((n) => sources.has(n)) && e.requiresOneOf.some((n) => sources.has(n))) {
    for (const n of e.adds) sources.add(n);
  }
  return sources;
}

/** Pod evictions and rolling restarts heal themselves: the controller recreates the same pods. */
const SELF_HEALING: readonly KubeVerb[] = ['evict_pod', 'delete_pod', 'rollout_restart'];

/** What an action changes that it does not restore by itself, or undefined. */
function changesState(a: ActionSpec): string | undefined {
  switch (a.type) {
    case 'kubernetes':
      return SELF_HEALING.includes(a.verb) ? undefined : `kubernetes ${a.verb} of ${a.kind} ${a.name.source}`;
    case 'http':
      return a.method === 'GET' ? undefined : `${a.method} ${a.url.source}`;
    case 'command':
      return `command ${a.argv[0]?.source ?? ''}`;
  }
}


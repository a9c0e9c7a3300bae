import type { RenderedCheck } from '../../domain/index.js';
import type { Incident, Matcher, Plan, Runbook, CheckSpec } from '../../domain/index.js';
import {
  formatMatcher,
  isClusterFact,
  isEnrichedName,
  KUBERNETES_ENRICHMENT,
  matcherHoldsOn,
  placeholderValue,
  placeholderValues,
  quoteUntrusted,
  renderReads,
  unjudgedMatcher,
  unreadRefusal,
} from '../../domain/index.js';
import { deepFreeze } from '../../lib/index.js';
import type { ExecutionPlan } from '../types.js';
import type { Stage } from '../types.js';

export type RenderResult<T> = ({ ok: true } & T) | { ok: false; param?: string; reason: string };

export interface Renderer {
  renderPlan(runbook: Runbook, values: Record<string, string>): RenderResult<{ plan: Plan }>;
  renderChecks(specs: CheckSpec[], values: Record<string, string>): RenderResult<{ checks: RenderedCheck[] }>;
}

const isNamed = (c: CheckSpec): boolean => c.type === 'named';

type Rendered = { ok: true; plan: ExecutionPlan } | { ok: false; reason: string; param?: string };

const refusal = (r: { reason: string; param?: string }): Rendered => ({ ok: false, reason: r.reason, ...(r.param !== undefined ? { param: r.param } : {}) });

/**
 * The reason for a refusal over a missing value the Kubernetes enricher would have
 * given, when reading the cluster failed: "no value … (not in the incident's context or
 * labels)" would send a person looking at the alert (which may well carry one, dropped
 * as the cluster's to say), when the cluster read is what to look at.
 */
function unreadValue(out: { reason: string; param?: string }, values: Record<string, string>, unread: string | undefined): string | undefined {
  const param = out.param;
  if (unread === undefined || param === undefined || Object.hasOwn(values, param)) return undefined;
  if (!(KUBERNETES_ENRICHMENT.adds as readonly string[]).includes(param)) return undefined;
  const dropped = isClusterFact(param) ? ` (an alert's own ${param} is never used: it is the cluster's to say)` : '';
  return `no value for placeholder {${param}}: reading it from the cluster ${unread}${dropped}; nothing was run: check that the Kubernetes API answers, then send the alert again or run the runbook by hand`;
}

/**
 * The reason for a refusal over a missing count only the cluster says (`old_replicas`,
 * `ready_replicas`; see KUBERNETES_ENRICHMENT.facts) when no read failed: "no value …
 * (not in the incident's context or labels)" was untrue of an alert carrying one, dropped
 * as the cluster's to say, and sent a person looking at the alert rather than at what the
 * cluster read.
 */
function missingClusterFact(out: { reason: string; param?: string }, values: Record<string, string>, incident: Incident): string | undefined {
  const param = out.param;
  if (param === undefined || !isClusterFact(param) || Object.hasOwn(values, param)) return undefined;
  if (!out.reason.startsWith(`no value for placeholder {${param}}`)) return undefined;
  const dropped = placeholderValue(incident, param) !== undefined ? ` (an alert's own ${param} is never used: it is the cluster's to say)` : '';
  return `no value for placeholder {${param}}: it is read from the cluster (Kubernetes enrichment), and none was read${dropped}`;
}

/**
 * A manual run names its runbook, so `match:` never chose it. But a runbook's negative
 * matchers (`namespace!~"kube-system|kube-public"`) say where it must never act, and
 * whoever runs it by hand expects that to hold as it does for an alert (the same alert
 * would find no runbook). So a run whose values (its params, its service, and what
 * Kubernetes enrichment read for them: a pod's owning deployment) contradict one is
 * refused, naming the matcher. Positive matchers select alerts (an alertname, a
 * severity a manual run does not carry) and are not required; nor is a value the run
 * neither gives nor had read.
 */
function manualRunExclusion(rb: Runbook, values: Readonly<Record<string, string>>): string | undefined {
  const m = excludedBy(rb, values);
  if (m === undefined) return undefined;
  return (
    `runbook ${rb.id} excludes ${m.name} ${quoteUntrusted(values[m.name]!)} (match: ${formatMatcher(m)}): a manual run keeps the runbook's exclusions, ` +
    `and nothing overrides them; to act there, use a runbook whose match: allows it (a reviewed change to the runbooks), or act by hand outside rectify`
  );
}

/**
 * An approval carries out the plan it asked about, rendered with values the runbook's
 * matchers were tested on when it was asked. The exclusions are tested again on the
 * values the plan was rendered with (`plan.params`): a request opened while they were
 * not tested on what enrichment read must not run where the runbook may never act.
 */
function approvalExclusion(rb: Runbook, plan: Partial<Pick<ExecutionPlan, 'params' | 'matched'>>): string | undefined {
  // A plan stored by an older release may carry no values: what it lacks is tested below.
  const values = { ...plan.matched, ...plan.params };
  const m = excludedBy(rb, values);
  if (m !== undefined) {
    return `runbook ${rb.id} excludes ${m.name} ${quoteUntrusted(values[m.name]!)} (match: ${formatMatcher(m)}), the value its plan was rendered with, and nothing overrides that`;
  }
  // Asked for before the values its exclusions read were kept with the plan: a value only the cluster can say is unknown.
  const unjudged = unjudgedMatcher(rb.matchers, (name) => Object.hasOwn(values, name), true);
  if (unjudged === undefined) return undefined;
  return `runbook ${rb.id}'s match: ${formatMatcher(unjudged)} could not be judged: the plan asked about carries no ${unjudged.name} (it was asked for before the values its matchers read were kept with it)`;
}

/**
 * The negative matchers' names a plan's params do not hold that enrichment may give
 * (the owning `deployment`, say), by runbook: their values are kept with the plan
 * (`matched`) for an approval to test. An alert's own label (`instance`) is not kept:
 * it says nothing the cluster could change, and kept, alerts of one storm differing
 * only in it would each ask for an approval of their own. Most runbooks have none,
 * and their plans stay the shared, remembered ones.
 */
const matchedNames = new WeakMap<Runbook, readonly string[]>();
function unrenderedExclusions(rb: Runbook): readonly string[] {
  let names = matchedNames.get(rb);
  if (names === undefined) {
    names = [...new Set(rb.matchers.filter((m) => (m.op === '!=' || m.op === '!~') && !rb.params.includes(m.name) && isEnrichedName(m.name)).map((m) => m.name))];
    matchedNames.set(rb, names);
  }
  return names;
}

/** `plan` with the values its runbook's exclusions were judged on that its params lack (see ExecutionPlan.matched). */
function withMatched(rb: Runbook, plan: ExecutionPlan, value: (name: string) => string | undefined): ExecutionPlan {
  const names = unrenderedExclusions(rb);
  if (names.length === 0) return plan;
  return deepFreeze({ ...plan, matched: Object.fromEntries(names.map((n) => [n, value(n) ?? ''])) });
}

/** The first negative matcher (`!=`, `!~`) of `rb` that a value in `values` contradicts. */
function excludedBy(rb: Runbook, values: Readonly<Record<string, string>>): Matcher | undefined {
  for (const m of rb.matchers) {
    if (m.op !== '!=' && m.op !== '!~') continue;
    if (!Object.hasOwn(values, m.name)) continue;
    if (!matcherHoldsOn(m, values[m.name]!)) return m;
  }
  return undefined;
}

/** Rendered plans remembered, across all runbooks; the oldest is forgotten first. */
export const RENDER_CACHE_SIZE = 4_096;
/**
 * Longest key (runbook id and the values read, see renderKey) whose rendering is
 * remembered: one filled from longer values is rendered for its alert alone. A storm
 * repeats short values; a sender's label of a MB per alert, remembered 4,096 times,
 * ran the service out of memory.
 */
export const RENDER_CACHE_KEY_MAX = 1_024;

/**
 * The key of one rendering: the runbook and the value of each value rendering reads
 * (`renderReads`: its placeholders, and the cluster's count a scale records as
 * planned_from), length-prefixed, so no value can spell another's boundary. For a
 * runbook without named checks rendering reads nothing else: the same key renders
 * the same plan, or the same refusal.
 */
function renderKey(rb: Runbook, reads: readonly string[], values: Record<string, string> | undefined, incident: Incident): string {
  let key = rb.id;
  for (const p of reads) {
    // Without values of its own (no enrichment), an alert's are read from the incident
    // one by one, as `placeholderValues` would give them: a rendering remembered costs
    // no map of every label per alert.
    const v = values === undefined ? placeholderValue(incident, p) : Object.hasOwn(values, p) ? values[p] : undefined;
    key += typeof v === 'string' ? `\u0000${v.length}:${v}` : '\u0001';
  }
  return key;
}

/**
 * Fills every placeholder from the incident, checking each value against the safe
 * pattern for where it goes. A refusal happens here, before any guardrail is
 * consumed and before any step runs, and is audited (PARAM_REFUSED).
 *
 * In an alert storm thousands of alerts fill one runbook with the same values (the
 * same service, the same namespace), so a rendering is remembered by its key and
 * shared, frozen: nothing downstream may change a plan.
 */
export function createParamsStage(deps: { renderer: Renderer; cacheSize?: number }): Stage {
  const cacheSize = deps.cacheSize ?? RENDER_CACHE_SIZE;
  // The runbook object is kept with the entry: another catalog (a runbook test, a replay,
  // a test's restart in one process) gives the same id a new runbook.
  const cache = new Map<string, { runbook: Runbook; out: Rendered }>();

  function render(rb: Runbook, values: Record<string, string>): Rendered {
    const plan = deps.renderer.renderPlan(rb, values);
    if (!plan.ok) return refusal(plan);
    const pre = deps.renderer.renderChecks(rb.preChecks, values);
    if (!pre.ok) return refusal(pre);
    const post = deps.renderer.renderChecks(rb.postChecks, values);
    if (!post.ok) return refusal(post);
    return { ok: true, plan: { ...plan.plan, preChecks: pre.checks, postChecks: post.checks } };
  }

  /**
   * A named check carries every incident value with it (the check reads them when it
   * runs), so its rendering belongs to one incident and is never shared.
   */
  const cacheable = (rb: Runbook): boolean => !rb.preChecks.some(isNamed) && !rb.postChecks.some(isNamed);

  const readsOf = new WeakMap<Runbook, readonly string[]>();
  function remembered(rb: Runbook, given: Record<string, string> | undefined, incident: Incident): Rendered {
    let reads = readsOf.get(rb);
    if (reads === undefined) {
      reads = renderReads(rb);
      readsOf.set(rb, reads);
    }
    const key = renderKey(rb, reads, given, incident);
    if (key.length > RENDER_CACHE_KEY_MAX) return deepFreeze(render(rb, given ?? placeholderValues(incident)));
    const hit = cache.get(key);
    if (hit && hit.runbook === rb) return hit.out;
    const out = deepFreeze(render(rb, given ?? placeholderValues(incident)));
    if (hit) cache.delete(key);
    else if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(key, { runbook: rb, out });
    return out;
  }

  return {
    name: 'params',
    appliesTo: ['auto', 'approval', 'manual'],
    run(ctx) {
      const rb = ctx.runbook!;
      if (ctx.input.plan) {
        const excluded = approvalExclusion(rb, ctx.input.plan);
        if (excluded !== undefined) return { kind: 'blocked', event: 'PARAM_REFUSED', reason: excluded, runbook: rb };
        ctx.plan = ctx.input.plan;
        return undefined;
      }
      if (ctx.input.refused !== undefined) return { kind: 'blocked', event: 'PARAM_REFUSED', reason: ctx.input.refused, runbook: rb };
      const incident = ctx.input.incident;
      const given = ctx.input.values;
      // (A runbook without matchers, most of them, builds no map of values for it: a storm's alerts pay nothing.)
      if (given === undefined && rb.matchers.length > 0) {
        // Not enriched: a value only enrichment could give is unknown, and an exclusion on it
        // is not judged on the empty string; nor is a matcher on an owner name given beside the
        // pod it acts on, which nothing confirmed (see unreadRefusal).
        const refused = unreadRefusal(rb, placeholderValues(incident), ctx.input.trigger === 'manual');
        if (refused !== undefined) return { kind: 'blocked', event: 'PARAM_REFUSED', reason: refused, runbook: rb };
      }
      if (ctx.input.trigger === 'manual') {
        // The values the run is rendered with: what enrichment read for its params included.
        const excluded = manualRunExclusion(rb, given ?? placeholderValues(incident));
        if (excluded !== undefined) return { kind: 'blocked', event: 'PARAM_REFUSED', reason: excluded, runbook: rb };
      }
      const out = cacheSize > 0 && cacheable(rb) ? remembered(rb, given, incident) : render(rb, given ?? placeholderValues(incident));
      if (!out.ok) {
        const values = given ?? placeholderValues(incident);
        const reason = unreadValue(out, values, ctx.input.unread) ?? missingClusterFact(out, values, incident) ?? out.reason;
        return { kind: 'blocked', event: 'PARAM_REFUSED', reason, runbook: rb };
      }
      ctx.plan = withMatched(rb, out.plan, (name) => (given === undefined ? placeholderValue(incident, name) : Object.hasOwn(given, name) ? given[name] : undefined));
      return undefined;
    },
  };
}

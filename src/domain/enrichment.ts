import { checkParam, quoteUntrusted } from './params.js';
import { formatMatcher, type ActionSpec, type Matcher, type Runbook } from './runbook.js';
/**
 * What enrichment may add to an incident's values, and what it needs to start.
 * The contract between the Kubernetes enricher (checks/kubernetes.ts) and the
 * runbook linter (runbooks/references.ts), which counts enrichment as a source
 * for a placeholder only when a runbook can actually be enriched.
 */
export const KUBERNETES_ENRICHMENT = Object.freeze({
  /** Every one of these values must be known… */
  requires: Object.freeze(['namespace'] as const),
  /** …and at least one of these (a pod leads to its owning workload; a named workload is read itself, see `namedWorkload`). */
  requiresOneOf: Object.freeze(['pod', 'pod_name', 'deployment', 'statefulset'] as const),
  /** Every value it may add: the facts below, and names and defaults the incident did not give. */
  adds: Object.freeze(['pod_name', 'workload_kind', 'workload', 'deployment', 'statefulset', 'replicas', 'ready_replicas', 'old_replicas', 'new_replicas'] as const),
  /**
   * Counts it reads from the cluster that only ever describe the state before the
   * run (what a rollback restores, what is ready now). These are never an alert's
   * to say: when an incident is enriched, an alert's value of the same name is
   * dropped and the cluster's is used (a value it could not read stays missing, and
   * rendering refuses the run). Everything else stays the alert's when it gives it:
   * the names it points at (namespace, pod, deployment, workload) and the counts a
   * runbook may take as a target (`replicas`, `new_replicas`).
   */
  facts: Object.freeze(['ready_replicas', 'old_replicas'] as const),
});

/**
 * The value a scale to a count filled from values records beside it as `planned_from`:
 * the cluster's count when the alert was decided, from which the executor tells a
 * workload that has since moved past the target the other way.
 */
export const PLANNED_FROM_VALUE = 'old_replicas';

/**
 * The most replicas a scale-up to a count filled from values (an alert's label, a run's
 * params, enrichment's `new_replicas`) may ask for when the runbook sets no cap of its
 * own (`current_replicas_below_max: {max_replicas: N}`); the incident's `max_replicas`
 * may lower it, never raise it. A count not above the cluster's is no scale-up.
 */
export const DEFAULT_MAX_REPLICAS = 10;
/** The value by which an incident may lower a runbook's replica cap. */
export const MAX_REPLICAS_VALUE = 'max_replicas';
/** The named check whose `max_replicas` is a runbook's replica cap. */
export const REPLICA_CAP_CHECK = 'current_replicas_below_max';

/**
 * A runbook's own replica cap, before an incident's `max_replicas` lowers it: the lowest
 * `max_replicas` of its `current_replicas_below_max` checks, else DEFAULT_MAX_REPLICAS
 * (`fromCheck` false). Rendering refuses a scale-up to a filled count above it, and the
 * Kubernetes enricher computes `new_replicas` against the same cap: computed against
 * the default alone, a runbook whose cap is 20 got a `new_replicas` equal to a count
 * of 12 (a no-op its own pre-check failed on every alert).
 */
export function runbookReplicaCap(rb: Pick<Runbook, 'preChecks' | 'guardrails' | 'postChecks'>): { max: number; fromCheck: boolean } {
  let cap = { max: DEFAULT_MAX_REPLICAS, fromCheck: false };
  for (const c of [...rb.preChecks, ...rb.guardrails, ...rb.postChecks]) {
    const max = c.type === 'named' && c.name === REPLICA_CAP_CHECK ? c.params.max_replicas : undefined;
    if (typeof max === 'number' && (!cap.fromCheck || max < cap.max)) cap = { max, fromCheck: true };
  }
  return cap;
}

/** `max` lowered by the incident's `max_replicas` (a whole number below it), never raised. */
export function loweredReplicaCap(max: number, given: string | undefined): number {
  return given !== undefined && checkParam('integer', given).ok && Number(given) < max ? Number(given) : max;
}

/**
 * Enrichment's `new_replicas` for a workload of `desired` replicas: one more, within the
 * runbook's cap (`runbookCap`) as the incident's `max_replicas` (`given`) may lower it,
 * and never fewer than it has. Worked out by the Kubernetes enricher and by replay's
 * simulated one alike, so a replay predicts the plan (or the refusal) the service makes.
 */
export function enrichedNewReplicas(desired: number, runbookCap: number, given: string | undefined): number {
  return Math.max(desired, Math.min(desired + 1, loweredReplicaCap(runbookCap, given)));
}

const scalesToFilledCount = (a: ActionSpec): boolean =>
  a.type === 'kubernetes' && a.verb === 'scale' && a.args.replicas !== undefined && a.args.replicas.parts.some((p) => typeof p !== 'string');

/**
 * Every value rendering `rb` reads: its placeholders; `PLANNED_FROM_VALUE` and
 * `MAX_REPLICAS_VALUE` when any step scales to a filled count (the count a scale-up
 * starts from, recorded as planned_from, and the cap above which it is refused), which
 * no placeholder need name. (Named checks read more; a runbook with one renders per
 * incident.) A rendering remembered by these values is the one a new rendering would
 * give: left out, `old_replicas` kept the first alert's count (5) as the plan of every
 * later one, whatever the cluster then had.
 */
export function renderReads(rb: Pick<Runbook, 'actions' | 'rollback' | 'params'>): readonly string[] {
  const extra: string[] = [];
  // A scale to a filled count, in an action or a rollback, is refused above the cap only
  // when it is above the cluster's count: both are read.
  if (rb.actions.some(scalesToFilledCount) || rb.rollback?.some(scalesToFilledCount)) extra.push(PLANNED_FROM_VALUE, MAX_REPLICAS_VALUE);
  const more = extra.filter((n) => !rb.params.includes(n));
  return more.length === 0 ? rb.params : [...rb.params, ...more];
}

/** Whether `name` is a value the Kubernetes enricher reads from the cluster (see `KUBERNETES_ENRICHMENT.facts`). */
export function isClusterFact(name: string): boolean {
  return (KUBERNETES_ENRICHMENT.facts as readonly string[]).includes(name);
}

/** Whether the values give what the Kubernetes enricher needs to start (a namespace, and a pod, a deployment or a statefulset). */
export function canEnrich(values: Readonly<Record<string, string>>): boolean {
  return KUBERNETES_ENRICHMENT.requires.every((k) => values[k] !== undefined) && KUBERNETES_ENRICHMENT.requiresOneOf.some((k) => values[k] !== undefined);
}

/**
 * Whether a runbook with these placeholders acts on the pod its alert names (`{pod}` or
 * `{pod_name}`): an owner name given beside the pod must then be the pod's own, which
 * only the cluster can confirm. A runbook acting on `{deployment}` acts on the deployment
 * the alert names, and its matchers read that one (kube-state-metrics' alerts name the
 * exporter's pod beside it).
 */
export const actsOnPod = (params: readonly string[]): boolean => params.includes('pod') || params.includes('pod_name');

/** The names an alert may give for the workload owning a pod; enrichment reads the pod's own. */
export const POD_OWNER_NAMES = Object.freeze(['deployment', 'statefulset', 'workload'] as const);

/**
 * What an alert may say of the workload owning a pod: its names, its kind and its
 * replica count. For a runbook acting on the pod, enrichment reads the pod's own, and
 * one the alert gives must be it.
 */
export const POD_OWNER_VALUES = Object.freeze([...POD_OWNER_NAMES, 'workload_kind', 'replicas'] as const);

const ENRICHED_NAMES: ReadonlySet<string> = new Set(KUBERNETES_ENRICHMENT.adds);
const OWNER_NAMES: ReadonlySet<string> = new Set(POD_OWNER_VALUES);

/**
 * Whether a `match:` matcher needs the cluster read to be judged for this alert: it
 * reads a value only enrichment gives that the alert lacks, or a value the alert
 * gives of the workload owning the pod a runbook acts on (`actsOnPod`: its name, kind
 * or replicas, see `POD_OWNER_VALUES`), which the pod's own owner must confirm.
 */
export function matchersNeedCluster(matchers: readonly Matcher[], value: (name: string) => string | undefined, actsOnPod: boolean): boolean {
  for (const m of matchers) {
    if (!ENRICHED_NAMES.has(m.name)) continue;
    if (value(m.name) === undefined || (actsOnPod && OWNER_NAMES.has(m.name))) return true;
  }
  return false;
}
const isNegative = (m: Matcher): boolean => m.op === '!=' || m.op === '!~';

/** Whether `name` is a value Kubernetes enrichment may give (see `KUBERNETES_ENRICHMENT.adds`). */
export function isEnrichedName(name: string): boolean {
  return ENRICHED_NAMES.has(name);
}

/**
 * Whether a `match:` matcher reads a value only the cluster can say about the pod or
 * workload an alert names (its owning `deployment`, `workload`, `workload_kind`, its
 * `replicas`…): every value enrichment gives but `pod_name`, which names the pod itself.
 */
export function matchersReadCluster(matchers: readonly Matcher[]): boolean {
  return matchers.some((m) => m.name !== 'pod_name' && ENRICHED_NAMES.has(m.name));
}

/**
 * The first `match:` matcher of a runbook acting on the pod that reads a value the
 * values give of the workload owning it (`deployment`, `statefulset`, `workload`,
 * `workload_kind`, `replicas`): it holds only once the pod's owner, read from the
 * cluster, confirms it. `negativeOnly` as for `unjudgedMatcher`.
 */
export function unconfirmedMatcher(matchers: readonly Matcher[], value: (name: string) => string | undefined, negativeOnly: boolean): Matcher | undefined {
  for (const m of matchers) {
    if (negativeOnly && !isNegative(m)) continue;
    if (OWNER_NAMES.has(m.name) && value(m.name) !== undefined) return m;
  }
  return undefined;
}

/**
 * The refusal for `unconfirmedMatcher`'s matcher `m` of runbook `id`, the values' `given`
 * value left unconfirmed: reading the cluster went wrong (`unread`), or, absent, nothing
 * read it (no Kubernetes access, or no namespace to read the pod in).
 */
export function unconfirmedReason(id: string, m: Matcher, who: 'alert' | 'run', given: string, unread?: string): string {
  const head =
    `runbook ${id}'s match: ${formatMatcher(m)} could not be judged: the ${who}'s ${m.name} ${quoteUntrusted(given)} describes the workload owning the pod the runbook acts on, ` +
    'which only the cluster can confirm, and ';
  if (unread === undefined) {
    return (
      head +
      `nothing read the pod's owner from the cluster (rectify reads it only with Kubernetes access, --kubernetes, given a namespace and the pod); a value nobody read is not taken for the pod's owner's: nothing was run: ` +
      `give the ${who} a namespace${who === 'alert' ? ' label' : ' param'} and rectify Kubernetes access, or act by hand`
    );
  }
  return (
    head +
    `reading the pod's owner from the cluster ${unread}; a value nobody read is not taken for the pod's owner's: nothing was run: ` +
    'check that the Kubernetes API answers, then send the alert again or run the runbook by hand'
  );
}

/**
 * The first `match:` matcher that reads a value only enrichment could have known
 * (`deployment`, `statefulset`, the owning `workload`…) when nobody knows it: the
 * values lack it (`known` says no), and the cluster was not read for it. The alert was
 * matched with the missing value taken as the empty string, on which an exclusion
 * (`deployment!~"payments-.*"`) holds: left there, a pod of payments-api is acted on
 * whenever its owner goes unread. `negativeOnly`: only exclusions (`!=`, `!~`) count
 * (a manual run, which positive matchers never select; values enrichment was never
 * to read, where a positive matcher holding on the empty string was written to).
 */
export function unjudgedMatcher(matchers: readonly Matcher[], known: (name: string) => boolean, negativeOnly: boolean): Matcher | undefined {
  for (const m of matchers) {
    if (negativeOnly && !isNegative(m)) continue;
    if (ENRICHED_NAMES.has(m.name) && !known(m.name)) return m;
  }
  return undefined;
}

/**
 * The refusal for `unjudgedMatcher`'s matcher `m` of runbook `id`. `unread`: how reading
 * the cluster went wrong ("timed out after 5s", "failed: …"); absent, nothing read it
 * (no Kubernetes access, or no namespace and pod, deployment or statefulset to start from).
 */
export function unjudgedReason(id: string, m: Matcher, who: 'alert' | 'run', unread?: string): string {
  const lacks = `the ${who} gives no ${m.name}`;
  if (unread !== undefined) {
    return (
      `runbook ${id}'s match: ${formatMatcher(m)} could not be judged: ${lacks}, and reading it from the cluster ${unread}; ` +
      `a matcher is not taken to hold on a value nobody knows: nothing was run: check that the Kubernetes API answers, then send the alert again or run the runbook by hand`
    );
  }
  return (
    `runbook ${id}'s match: ${formatMatcher(m)} could not be judged: ${lacks}, and nothing read it from the cluster (rectify reads it only with Kubernetes access, --kubernetes, ` +
    `given a namespace and a pod, deployment or statefulset); an exclusion is not taken to hold on a value nobody knows: nothing was run: give the ${who === 'alert' ? `alert a ${m.name} label` : `run the param ${m.name}`}, or act by hand`
  );
}

/** Values every incident has, whatever its source: placeholders may always use them. */
export const ALWAYS_PRESENT_VALUES = Object.freeze(['service', 'incident_id'] as const);

/**
 * The enricher's answer when what the alert names cannot be acted on as given (a
 * name no Kubernetes object can have, a pod that is not there): a value, not a
 * fault, so the decision is refused with this reason (PARAM_REFUSED) and a person
 * decides, where missing values would refuse it with a reason that hides why.
 */
export class EnrichmentRefused {
  constructor(readonly reason: string) {}
}

/** The workload kinds an alert may name directly, each by the value of its name. */
const NAMED_WORKLOAD_KINDS = Object.freeze([
  { key: 'deployment', kind: 'Deployment' },
  { key: 'statefulset', kind: 'StatefulSet' },
] as const);

/** A workload the values name directly: `key` is the value naming it. */
export interface NamedWorkload {
  key: (typeof NAMED_WORKLOAD_KINDS)[number]['key'];
  kind: (typeof NAMED_WORKLOAD_KINDS)[number]['kind'];
  name: string;
}

/**
 * The workload the values name directly (`deployment`, `statefulset`): the one a runbook
 * acting on `{deployment}` or `{statefulset}` acts on, whose own counts its plan and
 * rollback must carry; undefined when they name neither. Refused when they name two
 * workloads (a deployment and a statefulset, or a `workload` beside one that is not it):
 * whose counts the plan would carry cannot be told. Shared by the Kubernetes enricher
 * and replay's simulated one.
 */
export function namedWorkload(values: Readonly<Record<string, string>>): NamedWorkload | EnrichmentRefused | undefined {
  const named = NAMED_WORKLOAD_KINDS.filter((w) => values[w.key] !== undefined);
  const [first, second] = named;
  if (!first) return undefined;
  if (second) {
    return new EnrichmentRefused(
      `the alert names a ${first.key} ${quoteUntrusted(values[first.key]!)} and a ${second.key} ${quoteUntrusted(values[second.key]!)}: ` +
        `which workload's replica counts the plan and its rollback carry cannot be told; nothing was acted on`,
    );
  }
  const name = values[first.key]!;
  const workload = values.workload;
  if (workload !== undefined && workload !== name) {
    return new EnrichmentRefused(
      `the alert's workload ${quoteUntrusted(workload)} is not the ${first.key} ${quoteUntrusted(name)} it names: ` +
        `which workload's replica counts the plan and its rollback carry cannot be told; nothing was acted on`,
    );
  }
  return { key: first.key, kind: first.kind, name };
}

/**
 * The refusal when the values' `pod` and `pod_name` name different pods, for a runbook
 * acting on the pod (`actsOnPod`): it acts on one or the other, and which one its
 * values (its match:, its guardrails) describe cannot be told. Shared by the Kubernetes
 * enricher and replay's simulated one.
 */
export function differentPods(values: Readonly<Record<string, string>>, actsOnPod: boolean): EnrichmentRefused | undefined {
  const { pod, pod_name: podName } = values;
  if (!actsOnPod || pod === undefined || podName === undefined || pod === podName) return undefined;
  return new EnrichmentRefused(
    `the alert's pod ${quoteUntrusted(pod)} and pod_name ${quoteUntrusted(podName)} name different pods: the runbook acts on the pod, ` +
      `and which one its values (which its match: and guardrails read) describe cannot be told; nothing was acted on`,
  );
}

/**
 * The refusal for an alert's `key` (namespace, pod, deployment) whose value cannot
 * name anything in Kubernetes; undefined when it can. Shared by the Kubernetes
 * enricher and replay's simulated one, so a replay predicts the same reason.
 */
export function invalidKubernetesName(key: string, value: string, kind: 'k8s_name' | 'k8s_label'): EnrichmentRefused | undefined {
  const c = checkParam(kind, value);
  if (c.ok) return undefined;
  const what = kind === 'k8s_label' ? 'Kubernetes namespace name' : 'Kubernetes name';
  const why = c.reason.startsWith('expected') ? c.reason : `it ${c.reason}`;
  return new EnrichmentRefused(`the alert's ${key} ${quoteUntrusted(value)} is not a valid ${what}: ${why}; nothing was read from the cluster or acted on`);
}

/**
 * The runbook acts on the pod the values name (`checkPodOwner`), and they give an owner
 * name, kind or count beside it: the enricher checks those against the pod's owner.
 */
export function podOwnerGiven(values: Readonly<Record<string, string>>, checkPodOwner: boolean): boolean {
  const podName = values['pod'] ?? values['pod_name'];
  return podName !== undefined && checkPodOwner && POD_OWNER_VALUES.some((k) => values[k] !== undefined);
}

/** The workload owning a pod, as read from the cluster: its kind (`Deployment`, `StatefulSet`…) and name. */
export interface PodOwner {
  kind: string;
  name: string;
}

/**
 * What the Kubernetes enricher refuses once it has read the pod the values name and
 * found its owner (`owner`; undefined: the pod has no workload owning it). For a runbook
 * acting on the pod (`checkPodOwner`), an owner name the values give beside it
 * (`deployment`, `statefulset`, `workload`) or its `workload_kind` must be the owner's
 * (and a `replicas` given for a pod with no owner is refused: it describes nothing);
 * otherwise a `workload` named beside a pod followed to its owner must be that owner,
 * whose counts are read. The one judgement of the service's enricher and `rectify test`'s,
 * which reads the owner from the test's `enrichment:`: left to the service alone, a
 * test whose alert carries `deployment: web` beside a pod of payments-api decided
 * `executed` on a `deployment!~"payments-.*"` exclusion the service refuses.
 */
export function refusedByPodOwner(values: Readonly<Record<string, string>>, checkPodOwner: boolean, owner: PodOwner | undefined): EnrichmentRefused | undefined {
  const { podKey, ns } = podAndNamespace(values);
  if (podOwnerGiven(values, checkPodOwner)) return notPodOwner(values, podKey, ns, owner);
  if (values['workload'] !== undefined && values['workload'] !== owner?.name) return notNamedOwner(values, podKey, ns, owner);
  return undefined;
}

/**
 * For a runbook acting on the pod (`checkPodOwner`), a `replicas` the values give beside
 * it must be the replica count of its owner (`owner.replicas`, read from the cluster once
 * the owner is, see refusedByPodOwner; undefined: no count was read, and any given is
 * refused). Shared by the service's enricher and `rectify test`'s.
 */
export function refusedByOwnersReplicas(values: Readonly<Record<string, string>>, checkPodOwner: boolean, owner: PodOwner & { replicas: string | undefined }): EnrichmentRefused | undefined {
  const given = values['replicas'];
  if (!podOwnerGiven(values, checkPodOwner) || given === undefined || given === owner.replicas) return undefined;
  const { podKey, ns } = podAndNamespace(values);
  return notOwnersValue(values, podKey, ns, 'replicas', `${owner.replicas ?? 'no replica count'}, of ${owner.kind} ${quoteUntrusted(owner.name)}`);
}

/** The value naming the pod (`pod`, else `pod_name`) and the namespace, which every refusal of the pod's owner quotes. */
function podAndNamespace(values: Readonly<Record<string, string>>): { podKey: 'pod' | 'pod_name'; ns: string } {
  return { podKey: values['pod'] !== undefined ? 'pod' : 'pod_name', ns: values['namespace'] ?? '' };
}

/** The refusal when an owner name (or `workload_kind`) `values` give is not the pod's owner `ref`'s (none: the pod has no workload owning it). */
function notPodOwner(values: Readonly<Record<string, string>>, podKey: string, ns: string, ref: PodOwner | undefined): EnrichmentRefused | undefined {
  const real: Record<(typeof POD_OWNER_NAMES)[number], string | undefined> = {
    deployment: ref?.kind === 'Deployment' ? ref.name : undefined,
    statefulset: ref?.kind === 'StatefulSet' ? ref.name : undefined,
    workload: ref?.name,
  };
  for (const k of POD_OWNER_NAMES) {
    const given = values[k];
    if (given === undefined || given === real[k]) continue;
    const owner = ref ? `its owner, read from the cluster, is ${ref.kind === 'Deployment' ? 'deployment' : ref.kind === 'StatefulSet' ? 'statefulset' : ref.kind} ${quoteUntrusted(ref.name)}` : 'it has no owning workload';
    return new EnrichmentRefused(
      `the alert's ${k} ${quoteUntrusted(given)} does not own its ${podKey} ${quoteUntrusted(values[podKey]!)} in namespace ${quoteUntrusted(ns)} (${owner}): ` +
        `the runbook acts on the pod, so the owner its values name (which its match: and guardrails read) must be the pod's; nothing was acted on`,
    );
  }
  const kind = values['workload_kind'];
  if (kind !== undefined && kind !== ref?.kind) {
    return notOwnersValue(values, podKey, ns, 'workload_kind', ref ? `${ref.kind} ${quoteUntrusted(ref.name)}` : 'it has no owning workload');
  }
  // With an owner, its replica count is compared once its workload is read (refusedByOwnersReplicas).
  if (!ref && values['replicas'] !== undefined) return notOwnersValue(values, podKey, ns, 'replicas', 'it has no owning workload');
  return undefined;
}

/**
 * The refusal when the values name a `workload` beside a pod (and no deployment or
 * statefulset) whose owner `ref`, read from the cluster, is another workload (none: the
 * pod has none): the pod's owner's counts are not the named workload's to plan with.
 */
function notNamedOwner(values: Readonly<Record<string, string>>, podKey: string, ns: string, ref: PodOwner | undefined): EnrichmentRefused {
  const owner = ref ? `its owner, read from the cluster, is ${ref.kind} ${quoteUntrusted(ref.name)}` : 'it has no owning workload';
  return new EnrichmentRefused(
    `the alert's workload ${quoteUntrusted(values['workload']!)} does not own its ${podKey} ${quoteUntrusted(values[podKey]!)} in namespace ${quoteUntrusted(ns)} (${owner}): ` +
      `the plan and its rollback carry the counts of the workload the alert names, never another's; nothing was acted on`,
  );
}

/** The refusal when the values' `k` (`workload_kind`, `replicas`) is not that of the workload owning the pod, `real` as read from the cluster. */
function notOwnersValue(values: Readonly<Record<string, string>>, podKey: string, ns: string, k: string, real: string): EnrichmentRefused {
  return new EnrichmentRefused(
    `the alert's ${k} ${quoteUntrusted(values[k]!)} is not that of the workload owning its ${podKey} ${quoteUntrusted(values[podKey]!)} in namespace ${quoteUntrusted(ns)} ` +
      `(read from the cluster: ${real}): the runbook acts on the pod, so the values describing its owner (which its match: and guardrails read) must be the cluster's; nothing was acted on`,
  );
}

/**
 * What the Kubernetes enricher refuses before reading the cluster: two workloads named
 * (see namedWorkload), a `pod` and a `pod_name` naming different pods (see
 * differentPods), and a namespace, workload or pod it would start from that cannot be a
 * Kubernetes name (see invalidKubernetesName). Undefined when none applies, or when the
 * values give nothing to start a read from (a namespace, and a pod or a deployment or
 * statefulset). The one judgement of the service's enricher, replay's simulated one and
 * `rectify test`'s, so each refuses the same alerts alike.
 */
export function refusedBeforeClusterRead(values: Readonly<Record<string, string>>, checkPodOwner: boolean): EnrichmentRefused | undefined {
  const ns = values['namespace'];
  const podKey = values['pod'] !== undefined ? 'pod' : 'pod_name';
  const podName = values[podKey];
  const named = namedWorkload(values);
  if (ns === undefined || (podName === undefined && named === undefined)) return undefined;
  if (named instanceof EnrichmentRefused) return named;
  const twoPods = differentPods(values, checkPodOwner);
  if (twoPods) return twoPods;
  // The workload the alert names is the one its runbook acts on: the pod beside it is
  // not read (kube-state-metrics' alerts name the exporter's pod), unless its owner is
  // to be checked. Only a pod alone is followed to its owner.
  const ownerGiven = podOwnerGiven(values, checkPodOwner);
  return (
    invalidKubernetesName('namespace', ns, 'k8s_label') ??
    (named !== undefined ? invalidKubernetesName(named.key, named.name, 'k8s_name') : undefined) ??
    (podName !== undefined && (named === undefined || ownerGiven) ? invalidKubernetesName(podKey, podName, 'k8s_name') : undefined)
  );
}

/**
 * Why a `match:` matcher of `rb` cannot be judged on `values` that nothing read from
 * the cluster (no Kubernetes access, or nothing to start a read from): an exclusion on
 * a value only the cluster can say that they lack (see unjudgedMatcher), or a matcher
 * on an owner name they give beside the pod the runbook acts on, which only the pod's
 * own could confirm (see unconfirmedMatcher: a `deployment=web` label beside a
 * payments pod). Undefined when every matcher can be judged on them. `manual`: a run by
 * hand, which only exclusions (`!=`, `!~`) hold.
 */
export function unreadRefusal(rb: Pick<Runbook, 'id' | 'matchers' | 'params'>, values: Readonly<Record<string, string>>, manual: boolean): string | undefined {
  const who = manual ? 'run' : 'alert';
  const m = unjudgedMatcher(rb.matchers, (name) => Object.hasOwn(values, name), true);
  if (m) return unjudgedReason(rb.id, m, who);
  const u = actsOnPod(rb.params) ? unconfirmedMatcher(rb.matchers, (name) => values[name], manual) : undefined;
  return u && unconfirmedReason(rb.id, u, who, values[u.name]!);
}

import { checkParam, quoteUntrusted } from './params.js';
/**
 * What enrichment may add to an incident's values, and what it needs to start.
 * The contract between the Kubernetes enricher (checks/kubernetes.ts) and the
 * runbook linter (runbooks/references.ts), which counts enrichment as a source
 * for a placeholder only when a runbook can actually be enriched.
 */
export const KUBERNETES_ENRICHMENT = Object.freeze({
  /** Every one of these values must be known… */
  requires: Object.freeze(['namespace'] as const),
  /** …and at least one of these (a pod leads to its owning workload). */
  requiresOneOf: Object.freeze(['pod', 'pod_name', 'deployment'] as const),
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

/** Whether `name` is a value the Kubernetes enricher reads from the cluster (see `KUBERNETES_ENRICHMENT.facts`). */
export function isClusterFact(name: string): boolean {
  return (KUBERNETES_ENRICHMENT.facts as readonly string[]).includes(name);
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

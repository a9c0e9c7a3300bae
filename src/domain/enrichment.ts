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
  /** The values it adds when the incident did not give them. */
  adds: Object.freeze(['pod_name', 'workload_kind', 'workload', 'deployment', 'statefulset', 'replicas', 'ready_replicas', 'old_replicas', 'new_replicas'] as const),
});

/** Values every incident has, whatever its source: placeholders may always use them. */
export const ALWAYS_PRESENT_VALUES = Object.freeze(['service', 'incident_id'] as const);

import type { ActionExecutor, CheckRunner, Enricher } from '../execute/ports.js';
import { checkParam, DEFAULT_MAX_REPLICAS, enrichedNewReplicas, EnrichmentRefused, MAX_REPLICAS_VALUE, namedWorkload, refusedBeforeClusterRead } from '../domain/index.js';

/**
 * The outside world during a replay: nothing is touched. Executors answer at once
 * with an assumed outcome, so the real runner records the run as it would record a
 * real one (steps, outcome, breaker, blast-radius release) — only nothing happens.
 */
export type AssumedOutcome = 'success' | 'failure';

const ACTION_TYPES = ['kubernetes', 'http', 'command'] as const;
const CHECK_TYPES = ['named', 'promql', 'http', 'kubernetes'] as const;
const FAILED = 'replay.failed';

/**
 * With `failure`, the first action of each execution fails, and everything after it
 * (the rollback) succeeds: the run ends ROLLED_BACK or FAILED and counts against the
 * runbook's circuit breaker, as a fix that did not work would.
 */
export function simulatedActions(outcome: AssumedOutcome): ActionExecutor[] {
  return ACTION_TYPES.map((type) => ({
    type,
    async run(_action: unknown, ctx) {
      if (outcome === 'failure' && !ctx.memo.has(FAILED)) {
        ctx.memo.set(FAILED, true);
        return { ok: false, detail: 'replay: assumed to fail (--outcome failure); nothing was executed' };
      }
      return { ok: true, detail: 'replay: assumed to succeed; nothing was executed' };
    },
  })) as ActionExecutor[];
}

export function simulatedChecks(pass: boolean): CheckRunner[] {
  return CHECK_TYPES.map((type) => ({
    type,
    async run() {
      return { ok: pass, detail: pass ? 'replay: assumed to pass' : 'replay: assumed to fail', attempts: 1 };
    },
  })) as CheckRunner[];
}

/**
 * What the Kubernetes enricher would read from the cluster (the owning deployment,
 * its replica counts), made up: the deployment is the alert's `deployment` label,
 * else its service (a `statefulset` the alert names is that StatefulSet); 2 replicas, scaling to 3 (2 when the cap, which the incident's
 * `max_replicas` may lower, is 2 or less, as the real enricher works it out). Like the real enricher it returns the
 * counts before the run (`old_replicas`, `ready_replicas`) whatever the alert says
 * (the engine uses them over the alert's), adds the rest only where the alert gave none, and adds nothing
 * without a valid namespace and a pod, deployment or statefulset to start from.
 */
/** The made-up cluster values, as `replay --json` reports them among its assumptions. */
export const SIMULATED_CLUSTER = Object.freeze({ deployment: "the alert's deployment label, else its service", replicas: 2, new_replicas: 3 });

export const simulatedEnricher: Enricher = {
  async enrich(values, _signal, opts = {}) {
    const out: Record<string, string> = {};
    const add = (k: string, v: string) => {
      if (values[k] === undefined) out[k] = v;
    };
    const ns = values['namespace'];
    const podKey = values['pod'] !== undefined ? 'pod' : 'pod_name';
    const pod = values[podKey];
    const named = namedWorkload(values);
    if (ns === undefined || (pod === undefined && named === undefined)) return out;
    // The same refusals as the real enricher makes before reading the cluster (values
    // that cannot name anything, or name two pods or two workloads); what only the
    // cluster knows (a pod gone, a pod of another deployment) a replay cannot tell.
    const refused = refusedBeforeClusterRead(values, opts.checkPodOwner === true);
    if (refused) return refused;
    if (named instanceof EnrichmentRefused) return named;
    // A statefulset the alert names is read itself, as the real enricher reads it.
    const workload = named?.kind === 'StatefulSet' ? named : { kind: 'Deployment', key: 'deployment', name: values['deployment'] ?? values['service'] };
    if (workload.name === undefined || !checkParam('k8s_name', workload.name).ok) return out;
    if (pod !== undefined) add('pod_name', pod);
    add('workload_kind', workload.kind);
    add('workload', workload.name);
    add(workload.key, workload.name);
    const replicas = String(SIMULATED_CLUSTER.replicas);
    add('replicas', replicas);
    out['ready_replicas'] = replicas;
    out['old_replicas'] = replicas;
    // As the real enricher works it out (max_replicas=2 keeps the 2).
    add('new_replicas', String(enrichedNewReplicas(SIMULATED_CLUSTER.replicas, opts.maxReplicas ?? DEFAULT_MAX_REPLICAS, values[MAX_REPLICAS_VALUE])));
    return out;
  },
};

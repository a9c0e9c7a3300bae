import type { ParamKind } from '../domain/runbook.js';
import { DEFAULT_MAX_REPLICAS } from '../domain/enrichment.js';
import { NAMED_QUERY_WINDOW, NAMED_QUERY_WINDOW_MARGIN_MS } from '../domain/runbook.js';

/**
 * The seed's named checks, built in. The registry is the contract between a
 * runbook (which names a check) and the check runners (which implement it):
 * `params` are what a runbook may set (with defaults filled in at load),
 * `reads` are the incident values the check looks at, each validated against a
 * safe pattern at render time like any placeholder, because they come from alerts.
 */
export interface NamedCheckParam {
  /** `fraction`: strictly between 0 and 1, as a number (`0.1`) or a percentage (`"10%"`); loaded as the number. */
  type: 'integer' | 'number' | 'fraction' | 'string';
  default?: number | string;
  description: string;
}

export interface NamedCheckDef {
  needs: 'kubernetes' | 'prometheus';
  /**
   * `snapshot`: reads a state that waiting does not change, asked once (its
   * `interval_seconds` is not used); `converge`: polled until it passes or its
   * timeout is used up. The implementation's own table (checks/named.ts) agrees.
   */
  mode: 'snapshot' | 'converge';
  description: string;
  params: Readonly<Record<string, NamedCheckParam>>;
  reads: Readonly<Record<string, ParamKind>>;
  /** Incident values it also looks at, checked by the implementation itself: the `pod` label a pod name may come as, the replica bounds enrichment adds. */
  alsoReads?: readonly string[];
  /**
   * The incident values it cannot do without: each group needs one of its names
   * (`[['namespace'], ['pod_name', 'pod', 'deployment']]`). Lint warns when no
   * source can give a group. Not needed when the runbook sets `unlessParam`.
   */
  requires: readonly (readonly string[])[];
  unlessParam?: string;
  /**
   * Its default query (no `query` parameter) reads a rate over the last
   * NAMED_QUERY_WINDOW: written without `timeout_seconds`, it polls for that window plus
   * NAMED_QUERY_WINDOW_MARGIN_MS (namedDefaultTimeoutMs), and lint warns about a post-check's
   * written timeout shorter than the window. `reads`: what the window holds; `leaves`: what
   * must leave it before a fix that worked can pass.
   */
  window?: { reads: string; leaves: string };
}

const K8S_WORKLOAD_READS = { deployment: 'k8s_name', pod_name: 'k8s_name', namespace: 'k8s_label' } as const;
const METRIC_READS = { service: 'label_value', deployment: 'k8s_name', namespace: 'k8s_label' } as const;

export const NAMED_CHECKS: Readonly<Record<string, NamedCheckDef>> = Object.freeze({
  replicas_greater_than_one: {
    needs: 'kubernetes',
    mode: 'snapshot',
    description: 'the deployment or statefulset the incident names (else the workload that owns its pod) has more than one replica (the pod is not the only one serving)',
    params: {},
    reads: K8S_WORKLOAD_READS,
    alsoReads: ['pod', 'statefulset'],
    requires: [['namespace'], ['pod_name', 'pod', 'deployment', 'statefulset']],
  },
  recent_restarts_less_than_three: {
    needs: 'kubernetes',
    mode: 'snapshot',
    description: 'the pod restarted fewer than `limit` times in the last `window_minutes` (it is not already flapping)',
    params: {
      limit: { type: 'integer', default: 3, description: 'restarts allowed in the window' },
      window_minutes: { type: 'integer', default: 60, description: 'how far back to count' },
    },
    reads: K8S_WORKLOAD_READS,
    alsoReads: ['pod'],
    requires: [['namespace'], ['pod_name', 'pod']],
  },
  pod_becomes_ready: {
    needs: 'kubernetes',
    mode: 'converge',
    description: 'the deployment or statefulset the incident names (else the workload that owns its pod) has a Ready replacement pod',
    params: {},
    reads: K8S_WORKLOAD_READS,
    alsoReads: ['pod', 'statefulset'],
    requires: [['namespace'], ['pod_name', 'pod', 'deployment', 'statefulset']],
  },
  current_replicas_below_max: {
    needs: 'kubernetes',
    mode: 'snapshot',
    description: 'the deployment runs fewer than `max_replicas` replicas, so scaling up stays bounded; `new_replicas`, when given, is above the current count and at most `max_replicas`',
    params: { max_replicas: { type: 'integer', default: DEFAULT_MAX_REPLICAS, description: 'upper bound on replicas' } },
    reads: { deployment: 'k8s_name', namespace: 'k8s_label' },
    alsoReads: ['max_replicas', 'new_replicas'],
    requires: [['namespace'], ['deployment']],
  },
  deployment_exists: {
    needs: 'kubernetes',
    mode: 'snapshot',
    description: 'the deployment exists',
    params: {},
    reads: { deployment: 'k8s_name', namespace: 'k8s_label' },
    requires: [['namespace'], ['deployment']],
  },
  previous_revision_available: {
    needs: 'kubernetes',
    mode: 'snapshot',
    description: 'the deployment has an earlier ReplicaSet revision to roll back to',
    params: {},
    reads: { deployment: 'k8s_name', namespace: 'k8s_label' },
    requires: [['namespace'], ['deployment']],
  },
  metrics_improved: {
    needs: 'prometheus',
    mode: 'converge',
    description: 'the service’s CPU/latency signal is at least `margin` lower after the action than before it',
    params: {
      query: { type: 'string', description: 'PromQL giving the signal (default: the CPU usage of the busiest pod of the deployment)' },
      margin: { type: 'fraction', default: 0.1, description: 'how much lower than before the signal must be, as a fraction of it (0.1 or "10%": at most 90% of it)' },
    },
    reads: METRIC_READS,
    requires: [['namespace'], ['deployment']],
    unlessParam: 'query',
    window: { reads: 'the busiest pod’s CPU usage', leaves: 'the usage from before the fix leaves it' },
  },
  error_rate_normalized: {
    needs: 'prometheus',
    mode: 'converge',
    description: 'the service’s error ratio is back below `threshold`',
    params: {
      query: { type: 'string', description: 'PromQL giving the error ratio' },
      threshold: { type: 'fraction', default: 0.05, description: 'the error ratio it must be below, a fraction between 0 and 1 (0.05 or "5%")' },
    },
    reads: METRIC_READS,
    requires: [['namespace'], ['deployment']],
    unlessParam: 'query',
    window: { reads: 'the error ratio', leaves: 'the errors from before the fix leave it' },
  },
} satisfies Record<string, NamedCheckDef>);

export const NAMED_CHECK_NAMES: readonly string[] = Object.freeze(Object.keys(NAMED_CHECKS));

/**
 * The incident values a named check's implementation (checks/named.ts) reads: its
 * `reads` and `alsoReads`. A rendered named check carries only these, so two alerts
 * whose checks would look at the same things render the same plan (an approval
 * storm joins one request), whatever else their labels say.
 */
export function namedCheckValueKeys(name: string): readonly string[] {
  const def = namedCheck(name);
  return def ? [...Object.keys(def.reads), ...(def.alsoReads ?? [])] : [];
}

export function namedCheck(name: string): NamedCheckDef | undefined {
  return Object.prototype.hasOwnProperty.call(NAMED_CHECKS, name) ? NAMED_CHECKS[name] : undefined;
}

/** A named check's timeout when none is written. */
export const NAMED_DEFAULT_TIMEOUT_MS = 120_000;

/**
 * The range window a named check reads its signal over, in ms: its default query's
 * (NAMED_QUERY_WINDOW); none with a `query` of the runbook's own (its window is not read).
 */
export function namedCheckWindowMs(def: NamedCheckDef, params: Readonly<Record<string, unknown>>): number | undefined {
  return def.window && params.query === undefined ? NAMED_QUERY_WINDOW.seconds * 1000 : undefined;
}

/**
 * The timeout of a named check written without `timeout_seconds`: 120 s, or for one
 * reading a rate over a window, the window plus NAMED_QUERY_WINDOW_MARGIN_MS. With 120 s,
 * a 5-minute error ratio still held the removed pod's errors when the check gave up, and
 * the run rolled back a fix that worked.
 */
export function namedDefaultTimeoutMs(def: NamedCheckDef, params: Readonly<Record<string, unknown>>): number {
  const windowMs = namedCheckWindowMs(def, params);
  return windowMs === undefined ? NAMED_DEFAULT_TIMEOUT_MS : windowMs + NAMED_QUERY_WINDOW_MARGIN_MS;
}

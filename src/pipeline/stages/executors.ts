import type { Stage } from '../types.js';

const HOW: Record<string, string> = {
  kubernetes: 'the Kubernetes executor, which is not configured (run in a cluster or set --kubeconfig)',
  prometheus: 'a Prometheus to query, which is not configured (set --prometheus-url)',
  http: 'the HTTP executor',
  command: 'the command executor',
};

/** A runbook whose executor is missing loads, but a run of it is refused with the reason. */
export const executorsStage: Stage = {
  name: 'executors',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const available = ctx.settings.available;
    // Checked without building the list first: every alert of a storm passes.
    if (rb.needs.every((n) => available.has(n))) return undefined;
    const missing = rb.needs.filter((n) => !available.has(n));
    return {
      kind: 'blocked',
      event: 'EXECUTOR_UNAVAILABLE',
      reason: `runbook ${rb.id} needs ${missing.map((m) => ctx.settings.unavailable?.get(m) ?? HOW[m] ?? m).join(' and ')}`,
      runbook: rb,
    };
  },
};

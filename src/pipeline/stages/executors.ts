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
    const missing = rb.needs.filter((n) => !ctx.settings.available.has(n));
    if (missing.length === 0) return undefined;
    return {
      kind: 'blocked',
      event: 'EXECUTOR_UNAVAILABLE',
      reason: `runbook ${rb.id} needs ${missing.map((m) => HOW[m] ?? m).join(' and ')}`,
      runbook: rb,
    };
  },
};

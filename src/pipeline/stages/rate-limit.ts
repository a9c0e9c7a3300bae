import { kubernetesTargets, targetRunbookKey } from '../targets.js';
import type { Stage } from '../types.js';

const HOUR_MS = 3_600_000;

/**
 * At most `max_per_hour` executions per runbook and service in any sliding hour, and
 * per runbook and Kubernetes object its actions act on (see targets.ts): alerts naming
 * one deployment under several services share its limit.
 */
export const rateLimitStage: Stage = {
  name: 'rate-limit',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const since = ctx.now - HOUR_MS;
    const n = ctx.state.executionsSince(rb.id, ctx.input.incident.service, since);
    if (n >= rb.maxPerHour) return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Rate limit exceeded (${rb.maxPerHour}/hour)`, runbook: rb };
    if (!ctx.plan) return undefined;
    for (const target of kubernetesTargets(ctx.plan)) {
      if (ctx.state.executionsSince(targetRunbookKey(rb.id), target, since) < rb.maxPerHour) continue;
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Rate limit exceeded (${rb.maxPerHour}/hour) on ${target}, counting the runs for every service`, runbook: rb };
    }
    return undefined;
  },
};

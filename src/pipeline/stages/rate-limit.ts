import { kubernetesTargets, targetRunbookKey } from '../targets.js';
import type { Stage } from '../types.js';
import { clockAheadNote } from './clock-ahead.js';

const HOUR_MS = 3_600_000;

/**
 * At most `max_per_hour` executions per runbook and service in any sliding hour, and
 * per runbook and Kubernetes object its actions act on (see targets.ts): alerts naming
 * one deployment under several services share its limit. The hour is judged by
 * `guardNow`: a forward step of the wall clock does not age the runs before it, and a run
 * recorded after it (stamped after `guardNow`) counts.
 */
export const rateLimitStage: Stage = {
  name: 'rate-limit',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const since = ctx.guardNow - HOUR_MS;
    const n = ctx.state.executionsSince(rb.id, ctx.input.incident.service, since);
    if (n >= rb.maxPerHour) return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Rate limit exceeded (${rb.maxPerHour}/hour)${clockAheadNote(ctx)}`, runbook: rb };
    if (!ctx.plan) return undefined;
    for (const target of kubernetesTargets(ctx.plan)) {
      if (ctx.state.executionsSince(targetRunbookKey(rb.id), target, since) < rb.maxPerHour) continue;
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Rate limit exceeded (${rb.maxPerHour}/hour) on ${target}, counting the runs for every service${clockAheadNote(ctx)}`, runbook: rb };
    }
    return undefined;
  },
};

import type { Stage } from '../types.js';

/**
 * No new execution of a runbook for a service until its cooldown has passed since
 * the last one started (its decision), nor while that one still runs: a run that
 * outlasts its cooldown (slow checks, a rollback) is not overlapped by the next on
 * the same service. Recorded as RATE_LIMITED, as the seed does, with the reason
 * telling which. A runbook with no cooldown (0) may run again at once; `max_per_hour`
 * and the blast radius bound how many.
 */
export const cooldownStage: Stage = {
  name: 'cooldown',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    if (rb.cooldownMs <= 0) return undefined;
    const service = ctx.input.incident.service;
    const last = ctx.state.lastExecutionAt(rb.id, service);
    if (last === null) return undefined;
    const end = last + rb.cooldownMs;
    if (ctx.now < end) {
      const left = Math.ceil((end - ctx.now) / 1000);
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Cooldown active (${left}s remaining)`, runbook: rb };
    }
    if (ctx.state.activeServices(rb.id).has(service)) {
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Cooldown active (the last run of ${rb.id} on ${service} is still running)`, runbook: rb };
    }
    return undefined;
  },
};

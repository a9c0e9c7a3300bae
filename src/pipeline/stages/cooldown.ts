import type { Stage } from '../types.js';

/**
 * No new execution of a runbook for a service until its cooldown has passed since
 * the last one started (its decision). Recorded as RATE_LIMITED, as the seed does,
 * with the reason telling which. A run that lasts longer than the cooldown can
 * overlap the next one; `max_per_hour` and the blast radius bound how many.
 */
export const cooldownStage: Stage = {
  name: 'cooldown',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    if (rb.cooldownMs <= 0) return undefined;
    const last = ctx.state.lastExecutionAt(rb.id, ctx.input.incident.service);
    if (last === null) return undefined;
    const end = last + rb.cooldownMs;
    if (ctx.now >= end) return undefined;
    const left = Math.ceil((end - ctx.now) / 1000);
    return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Cooldown active (${left}s remaining)`, runbook: rb };
  },
};

import type { Stage } from '../types.js';

const HOUR_MS = 3_600_000;

/** At most `max_per_hour` executions per runbook and service in any sliding hour. */
export const rateLimitStage: Stage = {
  name: 'rate-limit',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const n = ctx.state.executionsSince(rb.id, ctx.input.incident.service, ctx.now - HOUR_MS);
    if (n < rb.maxPerHour) return undefined;
    return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Rate limit exceeded (${rb.maxPerHour}/hour)`, runbook: rb };
  },
};

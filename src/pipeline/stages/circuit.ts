import type { Stage } from '../types.js';
import { clockAheadNote, secondsLeft } from './clock-ahead.js';

/**
 * Circuit breaker per runbook. OPEN blocks; after the recovery timeout one trial run
 * is let through (HALF_OPEN) while others stay blocked until it ends. The wait is
 * judged by `guardNow`: a forward step of the wall clock does not end it early. The time
 * left it states is the wall-clock time until the trial is really allowed (`guardEnd`).
 */
export const circuitStage: Stage = {
  name: 'circuit',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const c = ctx.state.circuit(rb.id);
    if (c.state === 'closed') return undefined;
    if (c.state === 'half_open') {
      return { kind: 'blocked', event: 'CIRCUIT_OPEN', reason: 'Circuit HALF_OPEN: a trial run is in progress', runbook: rb };
    }
    const since = ctx.guardNow - (c.openedAt ?? 0);
    if (since >= ctx.settings.circuitRecoveryMs) {
      ctx.circuitTrial = true;
      return undefined;
    }
    const left = secondsLeft(ctx, (c.openedAt ?? 0) + ctx.settings.circuitRecoveryMs);
    // Opened after now: the host's clock was set back since, and the wait is longer by the step.
    const ahead =
      (c.openedAt ?? 0) > ctx.now
        ? ` (its wait began at ${new Date(c.openedAt ?? 0).toISOString()}, after now: was the clock set back?)`
        : ctx.guardNow < ctx.now
          ? ` (${clockAheadNote(ctx).slice(2)})`
          : '';
    return { kind: 'blocked', event: 'CIRCUIT_OPEN', reason: `Circuit OPEN (too many failures); trial allowed in ${left}s${ahead}`, runbook: rb };
  },
};

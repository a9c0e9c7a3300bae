import { kubernetesTargets, targetRunbookKey } from '../targets.js';
import type { Stage, StageContext } from '../types.js';
import { clockAheadNote, secondsLeft } from './clock-ahead.js';
import { decidedAgainClause } from './decided-again.js';

const HOUR_MS = 3_600_000;

/**
 * At most `max_per_hour` executions per runbook and service in any sliding hour, and
 * per runbook and Kubernetes object its actions act on (see targets.ts): alerts naming
 * one deployment under several services share its limit. The hour is judged by
 * `guardNow`: a forward step of the wall clock does not age the runs before it, and a run
 * recorded after it (stamped after `guardNow`) counts. So does a run stamped after the
 * wall clock (it was set back since): not counting it would let `max_per_hour` more runs
 * through in the hour that really passed. The reason then says so and when the limit frees.
 * It ends saying when the alert is decided again (decidedAgainClause): at its first
 * re-delivery once the limit lets it through.
 */
export const rateLimitStage: Stage = {
  name: 'rate-limit',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const since = ctx.guardNow - HOUR_MS;
    const service = ctx.input.incident.service;
    const again = decidedAgainClause(ctx.input.incident, ctx.input.trigger, 'limit');
    const n = ctx.state.executionsSince(rb.id, service, since);
    if (n >= rb.maxPerHour) {
      const note = stepNote(ctx, ctx.state.executionTimesSince(rb.id, service, since), rb.maxPerHour);
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Rate limit exceeded (${rb.maxPerHour}/hour)${note}${again}`, runbook: rb };
    }
    if (!ctx.plan) return undefined;
    for (const target of kubernetesTargets(ctx.plan)) {
      const key = targetRunbookKey(rb.id);
      if (ctx.state.executionsSince(key, target, since) < rb.maxPerHour) continue;
      const note = stepNote(ctx, ctx.state.executionTimesSince(key, target, since), rb.maxPerHour);
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Rate limit exceeded (${rb.maxPerHour}/hour) on ${target}, counting the runs for every service${note}${again}`, runbook: rb };
    }
    return undefined;
  },
};

/**
 * Why the limit holds longer than an hour, if the clock was stepped. Runs recorded as
 * started after the wall clock (it was set back since) count until an hour after their
 * recorded start: how many, and when the limit frees (the wall-clock time until the oldest
 * runs that hold it leave the hour), so nobody takes a day's wait for a bug. Nothing ends
 * it by hand. A wall clock ahead of the time passed: see clockAheadNote.
 */
function stepNote(ctx: StageContext, times: readonly number[], max: number): string {
  const ahead = times.filter((at) => at > ctx.now);
  if (ahead.length === 0) return clockAheadNote(ctx);
  const latest = new Date(ahead[ahead.length - 1]!).toISOString();
  // The limit frees when all but max - 1 of the counted runs have left the hour: the
  // (n - max + 1)th oldest is the last of them to leave.
  const holding = times[times.length - max];
  const frees = holding === undefined ? '' : `, so the limit frees in ${secondsLeft(ctx, holding + HOUR_MS)}s`;
  const runs = ahead.length === 1 ? '1 run it counts is' : `${ahead.length} runs it counts are`;
  return `; ${runs} recorded as started after now (the latest at ${latest}): was the clock set back? A run counts until an hour after its recorded start${frees}`;
}

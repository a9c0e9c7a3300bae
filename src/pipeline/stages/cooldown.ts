import { kubernetesTargets, targetRunbookKey } from '../targets.js';
import type { GuardStateView, RunOnObject } from '../../store/ports.js';
import type { Stage, StageContext } from '../types.js';
import { clockAheadNote, secondsLeft } from './clock-ahead.js';
import { decidedAgainClause } from './decided-again.js';

/**
 * A person ended this cooldown by hand (COOLDOWN_CLEARED) after the last run started: its
 * time is over. The stage, the runbook view and a clearing itself all judge it so.
 */
export const clearedByHand = (state: GuardStateView, runbook: string, subject: string, last: number): boolean => {
  const through = state.cooldownClearedThrough(runbook, subject);
  return through !== null && through >= last;
};

/**
 * The wait since the last start on `subject` (a service, or a Kubernetes object under
 * the runbook's object key), as the cooldown stage judges it: its end by the guard time
 * while it holds, or null (no cooldown, no run recorded, its time over by `guardNow`, or
 * ended by hand). The stage, the runbook view and a clearing all read it here.
 */
export function cooldownWaitEnd(state: GuardStateView, key: string, subject: string, last: number | null, cooldownMs: number, guardNow: number): number | null {
  if (cooldownMs <= 0 || last === null) return null;
  const end = last + cooldownMs;
  return guardNow < end && !clearedByHand(state, key, subject, last) ? end : null;
}

/**
 * Whether a run of the runbook still under way on the service holds off the next there,
 * past its cooldown's time and whether or not a person ended that by hand: read from the
 * runs under way, not from the last start (housekeeping prunes a start's rate-limit row
 * after the hour, or the longest cooldown, and a minute, and a run may last longer: a
 * long post-check). A run a crash cut off is INTERRUPTED at the next start, its claim
 * released: it holds nothing off. A runbook with no cooldown (0) holds nothing. The
 * runbook view lists the same claims, read once for the runbook (runsUnderWay), so it
 * lists what the stage blocks on.
 */
export const heldByRun = (state: GuardStateView, runbook: { id: string; cooldownMs: number }, service: string): boolean =>
  runbook.cooldownMs > 0 && state.activeServices(runbook.id).has(service);

/**
 * The run of the runbook still under way on a Kubernetes object, whichever service it runs
 * for, which holds off the next run of the runbook on that object as heldByRun holds off
 * the next on its service: past its cooldown's time and past a clearing by hand, until it
 * ends (its objects are recorded with its blast-radius claim and released with it; a run a
 * crash cut off holds nothing). Null when none is, or the runbook has no cooldown (0).
 */
export const objectHeldByRun = (state: GuardStateView, runbook: { id: string; cooldownMs: number }, object: string): RunOnObject | null =>
  runbook.cooldownMs > 0 ? state.runUnderWayOn(runbook.id, object) : null;

/**
 * No new execution of a runbook for a service until its cooldown has passed since
 * the last one started (its decision), nor while that one still runs: a run that
 * outlasts its cooldown (slow checks, a rollback) is not overlapped by the next on
 * the same service, however long it lasts. Recorded as RATE_LIMITED, as the seed does, with the reason
 * telling which. A runbook with no cooldown (0) may run again at once; `max_per_hour`
 * and the blast radius bound how many. The Kubernetes objects a run acts on have the
 * cooldown too, whichever service the last run on them was for (see targets.ts), and a
 * run still under way on an object holds off the next there for every service, so two
 * runs never verify (or roll back) one object at once (objectHeldByRun). A
 * cooldown a person ended by hand (COOLDOWN_CLEARED) holds no more, but for a run
 * still under way: that one still holds off the next on its service. The wait is judged
 * by `guardNow`: a forward step of the wall clock does not end it early. The time left it
 * states is the wall-clock time until it really ends (`guardEnd`). The reason ends saying
 * when the alert is decided again (decidedAgainClause): at its first re-delivery once
 * the cooldown is over.
 */
export const cooldownStage: Stage = {
  name: 'cooldown',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    if (rb.cooldownMs <= 0) return undefined;
    const service = ctx.input.incident.service;
    const again = decidedAgainClause(ctx.input.incident, ctx.input.trigger, 'cooldown');
    const last = ctx.state.lastExecutionAt(rb.id, service);
    const end = cooldownWaitEnd(ctx.state, rb.id, service, last, rb.cooldownMs, ctx.guardNow);
    if (end !== null) {
      const left = secondsLeft(ctx, end);
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Cooldown active (${left}s remaining${stepNote(ctx, last!)})${again}`, runbook: rb };
    }
    if (heldByRun(ctx.state, rb, service)) {
      return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Cooldown active (the last run of ${rb.id} on ${service} is still running)${again}`, runbook: rb };
    }
    // The Kubernetes objects the run acts on have the same cooldown, whichever service an earlier run was for.
    if (!ctx.plan) return undefined;
    for (const target of kubernetesTargets(ctx.plan)) {
      const key = targetRunbookKey(rb.id);
      const at = ctx.state.lastExecutionAt(key, target);
      const until = cooldownWaitEnd(ctx.state, key, target, at, rb.cooldownMs, ctx.guardNow);
      if (until !== null) {
        const left = secondsLeft(ctx, until);
        return { kind: 'blocked', event: 'RATE_LIMITED', reason: `Cooldown active on ${target} (${left}s remaining; it counts the runs for every service${stepNote(ctx, at!)})${again}`, runbook: rb };
      }
      const run = objectHeldByRun(ctx.state, rb, target);
      if (run !== null) {
        return {
          kind: 'blocked',
          event: 'RATE_LIMITED',
          reason: `Cooldown active on ${target} (the last run of ${rb.id} on it, ${run.executionId}, is still running for ${run.service}; it counts the runs for every service)${again}`,
          runbook: rb,
        };
      }
    }
    return undefined;
  },
};

/**
 * Why a wait is longer than the cooldown, if the clock was stepped. A start recorded
 * after the wall clock: the clock was set back since, and the wait is longer by the
 * step (so nobody takes a 10-minute cooldown's 4200s for a bug). A wall clock ahead of
 * the time passed: the time passed is what counts (see clockAheadNote).
 */
function stepNote(ctx: StageContext, last: number): string {
  if (last > ctx.now) return `; the last run is recorded as started at ${new Date(last).toISOString()}, after now: was the clock set back?`;
  return clockAheadNote(ctx);
}

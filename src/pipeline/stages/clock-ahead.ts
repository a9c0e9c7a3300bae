import type { StageContext } from '../types.js';

/**
 * Said at the end of a guardrail's reason while the wall clock is ahead of the time
 * passed (a forward step not yet taken as the time, see StageContext.guardNow): the
 * window is judged by the time passed until the step is taken as the time (in how long,
 * when known), and a run recorded on the stepped clock counts as recent until then.
 * Said, so nobody takes the longer wait for a bug.
 */
export function clockAheadNote(ctx: StageContext): string {
  const ahead = ctx.now - ctx.guardNow;
  if (ahead <= 0) return '';
  const until = ctx.guardSettlesAt === undefined ? '' : ` until the step is taken as the time in ${Math.ceil(Math.max(0, ctx.guardSettlesAt - ctx.now) / 1000)}s`;
  return `; the clock reads ${Math.ceil(ahead / 1000)}s ahead of the time passed, so the time passed is what counts${until}: was it stepped forward?`;
}

/**
 * Whole seconds of wall-clock time (rounded up) until a window judged by the guard time
 * that ends at `end` really ends (StageContext.guardEnd): while the wall clock is ahead of
 * the time passed, that is the end reached by the time passed, or the moment the step is
 * taken as the time, whichever comes first; not `end` less the guard time, which after a
 * forward step may be a day more than the wait.
 */
export function secondsLeft(ctx: StageContext, end: number): number {
  return Math.ceil((ctx.guardEnd(end) - ctx.now) / 1000);
}

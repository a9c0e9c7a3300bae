import type { StageContext } from '../types.js';

/**
 * Said at the end of a guardrail's reason while the wall clock is ahead of the time
 * passed (a forward step not yet taken as the time, see StageContext.guardNow): the
 * window is judged by the time passed, and a run recorded on the stepped clock counts
 * as recent until then. Said, so nobody takes the longer wait for a bug.
 */
export function clockAheadNote(ctx: StageContext): string {
  const ahead = ctx.now - ctx.guardNow;
  return ahead > 0 ? `; the clock reads ${Math.ceil(ahead / 1000)}s ahead of the time passed, so the time passed is what counts: was it stepped forward?` : '';
}

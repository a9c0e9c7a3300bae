import { executionNeedsHuman, INTERRUPTED_BEFORE_FIRST_STEP, type Tx } from '../store/ports.js';
import { endTrialWithoutVerdict, TRIAL_ENDED_WITHOUT_VERDICT } from './breaker.js';

/**
 * The reason given (its INTERRUPTED row, its notification) for a run rectify stopped
 * before it started its first step, by a stop or a crash: the runner records each step
 * (a pre-check's too) durably before it starts it, and nothing the run does before its
 * first step touches its target (its blast-radius slot, rate and circuit were taken with
 * its claim, in the store), so none ran and nothing was changed. Not said of a copy of the
 * database (a restored backup, a file copied while in use): the service it was copied from
 * went on with the run (engine recover, INTERRUPTED_IN_COPY).
 */
export const BEFORE_FIRST_STEP_REASON =
  'rectify stopped before this execution started its first step (each step is recorded before it starts), so nothing was changed; it will not be re-run';

/** What the caller writes and tells of a run ended before its first step (see endBeforeFirstStep). */
export interface BeforeFirstStepEnd {
  /** It was the half-open circuit's trial: the circuit is open again, with the wait it had served. */
  trialEnded: boolean;
  /** The INTERRUPTED row's details, without the record of its notification. */
  row: { reason: string; last_step: null; nothing_changed: true; circuit_trial?: string };
  /** What the notifiers are told of it: left to no one (`needs_human` false, as the execution view says). */
  told: { event: 'INTERRUPTED'; outcome: 'interrupted'; reason: string; needs_human: boolean };
}

/**
 * The one end of a run that rectify stopped before its first step, inside the caller's
 * transaction: the runner's, when a stop aborts a run that had started no step (one that
 * began after the shutdown grace was over), and startup recovery's, for a run a crash cut
 * off there. It changed nothing, so it is left to no one: INTERRUPTED with the outcome
 * INTERRUPTED_BEFORE_FIRST_STEP (the execution view's `needs_human` is false for it), its
 * blast-radius slot released, no breaker failure; a half-open circuit's trial goes back
 * to open without a new recovery wait (endTrialWithoutVerdict), as nothing about its
 * target is unknown. Answers the row and the notification for the caller to write and
 * announce, each in its own way (the row's notification record); `said` is appended to
 * both reasons (what else the caller found, e.g. recovery's processes left running).
 */
export function endBeforeFirstStep(tx: Tx, run: { runbook: string; executionId: string; now: number }, said = ''): BeforeFirstStepEnd {
  const trialEnded = endTrialWithoutVerdict(tx, run);
  tx.updateExecution(run.executionId, { state: 'interrupted', finished_at: run.now, success: false, rolled_back: false, outcome: INTERRUPTED_BEFORE_FIRST_STEP });
  tx.releaseBlastRadius(run.executionId);
  return {
    trialEnded,
    row: {
      reason: `${BEFORE_FIRST_STEP_REASON}${said}`,
      last_step: null,
      nothing_changed: true,
      ...(trialEnded ? { circuit_trial: TRIAL_ENDED_WITHOUT_VERDICT } : {}),
    },
    told: {
      event: 'INTERRUPTED',
      outcome: 'interrupted',
      reason: `${BEFORE_FIRST_STEP_REASON}${trialEnded ? `; ${TRIAL_ENDED_WITHOUT_VERDICT}` : ''}${said}`,
      needs_human: executionNeedsHuman({ state: 'interrupted', outcome: INTERRUPTED_BEFORE_FIRST_STEP, steps: [] }, false),
    },
  };
}

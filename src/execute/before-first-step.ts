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
  row: { reason: string; last_step: null; nothing_changed: true; needs_human?: true; circuit_trial?: string };
  /** What the notifiers are told of it: `needs_human` as the execution view says (false for a stopped run, true for one a store fault kept from starting). */
  told: { event: 'INTERRUPTED'; outcome: 'interrupted'; reason: string; needs_human: boolean };
}

/**
 * The outcome of a run whose first step's start the database could not record (a store
 * fault: a full disk, a lock held elsewhere, a read-only file; `fault` names it as the
 * runner's record fault does): it started no step, as each starts only once its start is
 * recorded, so nothing was changed; but rectify did not stop it, and the remediation it
 * decided on did not happen. Not INTERRUPTED_BEFORE_FIRST_STEP: the execution view
 * leaves it to a person (needs_human true).
 */
export function firstStepUnrecordedOutcome(fault: string): string {
  return `interrupted before its first step: its start could not be recorded (${fault}); nothing was run`;
}

/**
 * Its reason (its INTERRUPTED row, its notification): the fault, that nothing was run or
 * changed, that the run still counts against the runbook's rate limit and cooldown (kept
 * so on purpose: a store that fails should not let more runs start), and, last, that a
 * person must act (the alert is still unremedied).
 */
export function firstStepUnrecordedReason(fault: string): string {
  return `its first step could not be recorded (${fault}), so it was not started and nothing was changed; the run still counts against the runbook's max_per_hour and cooldown; the remediation rectify decided on did not happen: a person must act on the alert`;
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
  return endWithoutStep(tx, run, INTERRUPTED_BEFORE_FIRST_STEP, BEFORE_FIRST_STEP_REASON, said);
}

/**
 * The end of a run whose first step's start a store fault kept from being recorded (the
 * runner's, once the store takes the end): as endBeforeFirstStep ends a stopped one (no
 * step ran, its blast-radius slot released, no breaker failure, a trial back to open
 * without a new wait), but its outcome and reason name the fault, and it is left to a
 * person (needs_human true): rectify never stopped, and the remediation did not happen.
 */
export function endFirstStepUnrecorded(tx: Tx, run: { runbook: string; executionId: string; now: number }, fault: string): BeforeFirstStepEnd {
  return endWithoutStep(tx, run, firstStepUnrecordedOutcome(fault), firstStepUnrecordedReason(fault), '');
}

function endWithoutStep(tx: Tx, run: { runbook: string; executionId: string; now: number }, outcome: string, reason: string, said: string): BeforeFirstStepEnd {
  const trialEnded = endTrialWithoutVerdict(tx, run);
  tx.updateExecution(run.executionId, { state: 'interrupted', finished_at: run.now, success: false, rolled_back: false, outcome });
  tx.releaseBlastRadius(run.executionId);
  const needsHuman = executionNeedsHuman({ state: 'interrupted', outcome, steps: [] }, false);
  return {
    trialEnded,
    row: {
      reason: `${reason}${said}`,
      last_step: null,
      nothing_changed: true,
      ...(needsHuman ? { needs_human: true as const } : {}),
      ...(trialEnded ? { circuit_trial: TRIAL_ENDED_WITHOUT_VERDICT } : {}),
    },
    told: {
      event: 'INTERRUPTED',
      outcome: 'interrupted',
      reason: `${reason}${trialEnded ? `; ${TRIAL_ENDED_WITHOUT_VERDICT}` : ''}${said}`,
      needs_human: needsHuman,
    },
  };
}

import type { AuditEventName } from '../domain/index.js';
import type { StepRecord, Tx } from '../store/ports.js';

/** Appends one audit row about the run, in the caller's transaction. */
export type RunAudit = (event: AuditEventName, details: Record<string, unknown>) => void;

/** What the notifiers are told when a run trips its runbook's breaker. */
export const trippedReason = (runbook: string): string => `runbook ${runbook} stopped acting on its own after repeated failures`;

/** Why a failure of a run other than the trial restarts the recovery wait (CIRCUIT_WAIT_RESTARTED). */
const WAIT_RESTARTED_OPEN = 'a run that started before the circuit opened failed while it is open: the recovery wait starts again from this failure';
const WAIT_RESTARTED_HALF_OPEN =
  'a run that started before the circuit opened failed while its trial runs: the trial alone decides (its success closes the circuit, its failure opens it again); should the trial end without a verdict, the next trial waits the recovery time from this failure';

/** What the row ending a failed run says of the breaker when the run started before its circuit last closed (see startedBeforeClose). */
export const NOT_COUNTED_BEFORE_CLOSE =
  'not counted: the run started before the circuit last closed (its trial succeeded, or a person closed it), so its failure says nothing of the runbook since';
/** What the row ending a successful run says of the breaker when the run started before its circuit last closed (see startedBeforeClose). */
export const SUCCESS_NOT_COUNTED_BEFORE_CLOSE =
  'not counted: the run started before the circuit last closed (its trial succeeded, or a person closed it), so its success says nothing of the runbook since: the failures in a row stay as they were';

/**
 * Whether a run that ended failed or succeeded is left out of its runbook's closed
 * circuit's count: it started before the circuit last closed (a trial's success, or a
 * person's close), as the audit log's order shows it (not the clock). Its end tells of
 * the target before the close, which the trial, or the person, has answered since.
 * Counted, a failure would let the runs in flight when the circuit tripped trip it again
 * the moment they fail after the close, on no new evidence; and a success would wipe
 * the failures of the runs started since (the only ones that speak of the runbook since
 * the close), so the next failures in a row would have to start again from 0. Either
 * way the failures in a row stay as they were. Not the trial a person closed the circuit
 * under: its end is the verdict the circuit waited for, so its failure opens it again
 * and its success ends the failures in a row, as any run's does. Open or half-open, the
 * rules of countFailure (and of the runner's end of a success) hold for every run.
 */
export function startedBeforeClose(tx: Tx, run: { runbook: string; executionId: string }): boolean {
  if (tx.circuit(run.runbook).state !== 'closed') return false;
  const close = tx.circuitClosedSinceStart(run.runbook, run.executionId);
  return close !== undefined && close.trialExecutionId !== run.executionId;
}

/**
 * A failed run, counted by its runbook's breaker inside the caller's transaction.
 * Closed: the threshold-th failure in a row opens it (CIRCUIT_TRIPPED, audited here), as
 * does the failure of a trial whose circuit was closed by hand while it ran; the failure
 * of a run that started before the circuit last closed is not counted (startedBeforeClose:
 * the row ending the run says NOT_COUNTED_BEFORE_CLOSE, the caller writes it). Half-open:
 * only the trial's own failure opens it again (CIRCUIT_TRIPPED); the failure of any other
 * run (one that started before the trip) is counted and restarts the recovery wait from
 * that failure (CIRCUIT_WAIT_RESTARTED, audited here) but leaves the trial to decide.
 * Open: any failure (a run that started before the trip, or a former trial) restarts the
 * wait (CIRCUIT_WAIT_RESTARTED), as the seed times the wait from the last failure: the
 * trial must not come while the runs that tripped it are still failing; it is never
 * tripped again. Answers whether it tripped; the caller tells the notifiers after
 * commit. The one rule for every way a run ends failed: finished, cut off by a stop
 * during its rollback, or found so after a crash.
 */
export function countFailure(
  tx: Tx,
  run: { runbook: string; executionId: string; circuitTrial: boolean; threshold: number; now: number; audit: RunAudit },
): boolean {
  if (startedBeforeClose(tx, run)) return false;
  const c = tx.circuit(run.runbook);
  const failures = c.failures + 1;
  if (c.state === 'open' || (c.state === 'half_open' && c.trialExecutionId !== run.executionId)) {
    tx.setCircuit(run.runbook, { ...c, failures, openedAt: run.now }, run.now);
    run.audit('CIRCUIT_WAIT_RESTARTED', { reason: c.state === 'open' ? WAIT_RESTARTED_OPEN : WAIT_RESTARTED_HALF_OPEN, failures });
    return false;
  }
  const trial = c.state === 'half_open' || run.circuitTrial;
  if (!trial && failures < run.threshold) {
    tx.setCircuit(run.runbook, { ...c, failures }, run.now);
    return false;
  }
  tx.setCircuit(run.runbook, { state: 'open', failures, openedAt: run.now, trialExecutionId: null }, run.now);
  run.audit('CIRCUIT_TRIPPED', {
    reason: trial ? 'the trial run failed: the circuit opens again' : `${failures} consecutive failures (threshold ${run.threshold})`,
    failures,
  });
  return true;
}

/**
 * What a run's recorded steps say about a run cut off by a crash: the failure that
 * had ended it, or undefined when nothing shows it had failed. A rollback starts only
 * after an action or a verification failed (each step is recorded before it starts);
 * an action or a post-check recorded as finished failed ended the run as failed, even
 * when the crash came before the rollback's first step. A failed pre-check is not a
 * failure: the run was aborted before it changed anything. Nor is an action refused
 * before any action of the run changed anything (see withoutVerdictInSteps): the run would
 * have ended without a breaker failure had it lived to record its end.
 */
export function failureInSteps(recorded: readonly StepRecord[]): string | undefined {
  const steps = stoppedAsCutOff(recorded);
  const action = steps.find((s) => s.phase === 'action' && s.finished_at !== null && s.ok === false);
  if (action && withoutVerdictInSteps(steps) === undefined) return `action ${action.index + 1} failed: ${action.detail ?? 'no detail recorded'}`;
  const check = steps.find((s) => s.phase === 'post_check' && s.finished_at !== null && s.ok === false);
  if (check) return `verification ${check.index + 1} failed: ${check.detail ?? 'no detail recorded'}`;
  if (steps.some((s) => s.phase === 'rollback')) return 'the rollback had started: an action or a verification had failed';
  return undefined;
}

/** What the breaker records of a run refused by rectify's own rule before anything changed (the runner's FAILED row says the same). */
export const NOT_COUNTED_REFUSED = 'not counted: rectify refused the step by its own rule, before anything changed';
/** What the breaker records of a run whose target said "not now" before anything changed (blocked, not failed). */
export const NOT_COUNTED_NOT_NOW = 'not counted: the target refused the step ("not now") before anything changed';

/**
 * The step that ended a run without a verdict on its runbook, having changed nothing,
 * as its recorded steps show it; `why` says how:
 * - `pre_check`: a pre-check finished failed, every pre-check before it passed, and no
 *   action started. The runner runs nothing after a failed pre-check: it only records
 *   its end (PRE_CHECK_FAILED).
 * - `rule` or `not_now`: the run's first failed action was refused (by rectify's own
 *   rule, or the target's "not now"), and every action recorded before it changed
 *   nothing. The runner ends such a run by this reading (FAILED, or DISRUPTION_BLOCKED
 *   for "not now"), and runs no check or rollback after it.
 * Such a run said nothing about its target, so it is no breaker failure, and a
 * half-open circuit's trial so ended goes back to open without a new wait (see
 * endTrialWithoutVerdict). The one reading of that rule: crash recovery reads the same
 * steps when the run was cut off before it recorded its end. Undefined for any other
 * run: one that may have acted, or one cut off in a step. A pre-check cut off before it
 * finished (started, never finished) is not read as ended: its verdict was never given,
 * and a run that crashes rectify in a check must not be tried again the moment rectify
 * is back, so a trial cut off there re-opens with a new wait, as a stop there does.
 */
export function withoutVerdictInSteps(recorded: readonly StepRecord[]): (Omit<StepRecord, 'refused'> & { why: 'pre_check' | 'rule' | 'not_now' }) | undefined {
  const steps = stoppedAsCutOff(recorded);
  const last = steps[steps.length - 1];
  if (last?.phase === 'pre_check') {
    const failedLast = last.finished_at !== null && last.ok === false;
    const passedBefore = steps.slice(0, -1).every((s) => s.phase === 'pre_check' && s.finished_at !== null && s.ok === true);
    return failedLast && passedBefore ? { ...last, why: 'pre_check' } : undefined;
  }
  const actions = steps.filter((s) => s.phase === 'action');
  const failed = actions.findIndex((s) => s.finished_at !== null && s.ok === false);
  const step = actions[failed];
  if (!step || step.refused === undefined) return undefined;
  if (!actions.slice(0, failed).every((s) => s.unchanged === true)) return undefined;
  if (steps.some((s) => s.phase === 'post_check' || s.phase === 'rollback')) return undefined;
  return { ...step, why: step.refused };
}

/**
 * What the breaker makes of a run cut off before it recorded its end, as its recorded
 * steps show it: the one reading for a stop (the runner's INTERRUPTED end) and a crash
 * (startup recovery), so that a run cut off at one point counts the same either way.
 * - `failure`: an action or a post-check had finished failed, or the rollback had started
 *   (failureInSteps): the run had failed, and counts against the breaker (countFailure),
 *   its INTERRUPTED row carrying `failure`; a trial's failure opens its circuit again.
 * - `without_verdict`: it had ended having changed nothing (withoutVerdictInSteps): no
 *   breaker failure, and a trial's circuit goes back to open without a new wait
 *   (endTrialWithoutVerdict).
 * - `cut_off`: nothing shows how it went: no failure, and a trial's circuit opens again
 *   with a new wait (reopenAfterCutOffTrial).
 * A step the cut-off found in progress has no verdict: a crash leaves it recorded as
 * started and never finished, and a stop reads it the same way (stepsAsCutOff), whatever
 * its abort made it answer; recorded with the step's end (`stopped`), that reading holds
 * when crash recovery reads the steps of a run whose stop could not record its end.
 */
export type CutOffVerdict =
  | { count: 'failure'; failure: string }
  | { count: 'without_verdict'; ended: NonNullable<ReturnType<typeof withoutVerdictInSteps>> }
  | { count: 'cut_off' };

export function cutOffVerdict(steps: readonly StepRecord[]): CutOffVerdict {
  const failure = failureInSteps(steps);
  if (failure !== undefined) return { count: 'failure', failure };
  const ended = withoutVerdictInSteps(steps);
  return ended ? { count: 'without_verdict', ended } : { count: 'cut_off' };
}

/**
 * The steps as a crash at the same point would have left them: the last one, which a
 * stop found in progress and aborted, started and never finished (see cutOffVerdict).
 */
export function stepsAsCutOff(steps: readonly StepRecord[]): StepRecord[] {
  const last = steps[steps.length - 1];
  if (!last) return [];
  return [...steps.slice(0, -1), { phase: last.phase, index: last.index, summary: last.summary, started_at: last.started_at, finished_at: null, ok: null, detail: null }];
}

/**
 * The steps as recorded, a step the stop's abort ended (`stopped`, recorded with its end)
 * read as cut off (stepsAsCutOff): its failure is the abort's, no verdict on the runbook,
 * whether the stop recorded the run's end or crash recovery reads the steps after a stop
 * that could not (the database locked throughout it, a SIGKILL after the step's end). The
 * runner takes no step after it, so it is the last.
 */
function stoppedAsCutOff(steps: readonly StepRecord[]): readonly StepRecord[] {
  return steps.at(-1)?.stopped === true ? stepsAsCutOff(steps) : steps;
}

/** What the notifiers are told when a trial run cut off by a stop or a crash re-opens the circuit. */
export const reopenedReason = (runbook: string): string =>
  `the trial run of runbook ${runbook} was cut off (rectify stopped) before it ended: the circuit is open again, and the next trial waits the circuit recovery time again`;

/**
 * The half-open circuit's trial run cut off before it ended (a stop, a crash, a
 * store fault), inside the caller's transaction: the circuit opens again with a new
 * recovery wait (CIRCUIT_TRIPPED, audited here; failures unchanged). A trial that
 * never finished proved nothing, and its target is in a state nobody knows yet: the
 * next trial must not run the moment rectify is back. Answers whether it re-opened;
 * the caller tells the notifiers after commit.
 */
export function reopenAfterCutOffTrial(tx: Tx, run: { runbook: string; executionId: string; now: number; audit: RunAudit }): boolean {
  const c = tx.circuit(run.runbook);
  if (c.state !== 'half_open' || c.trialExecutionId !== run.executionId) return false;
  tx.setCircuit(run.runbook, { ...c, state: 'open', openedAt: run.now, trialExecutionId: null }, run.now);
  run.audit('CIRCUIT_TRIPPED', {
    reason: 'the trial run was cut off before it ended, which proves nothing: the circuit opens again and the next trial waits the recovery time again',
    failures: c.failures,
  });
  return true;
}

/**
 * What the row ending a half-open circuit's trial without a verdict says of the circuit
 * (circuit_trial): the runner's PRE_CHECK_FAILED, DISRUPTION_BLOCKED or FAILED row, and
 * crash recovery's INTERRUPTED row (and its notification) for one cut off before it
 * recorded that end. Without it the log shows CIRCUIT_HALF_OPEN and nothing after.
 */
export const TRIAL_ENDED_WITHOUT_VERDICT =
  'it was the circuit\'s trial run, and it changed nothing, which says nothing about the runbook: the circuit is open again without a new recovery wait, and the next incident may be its trial';

/**
 * A run that ended without a verdict on its runbook, having changed nothing (a
 * pre-check failed, the target said "not now", rectify refused a step by its own
 * rule), inside the caller's transaction: no breaker failure. When it was the
 * half-open circuit's trial, the circuit goes back to open with the wait it had
 * already served (openedAt kept), so the next incident may try again: unlike a trial
 * cut off mid-step (reopenAfterCutOffTrial), nothing about its target is left
 * unknown. The one rule for the runner's end of such a run and for crash recovery's
 * reading of one cut off before that end was recorded. Answers whether it re-opened.
 */
export function endTrialWithoutVerdict(tx: Tx, run: { runbook: string; executionId: string; now: number }): boolean {
  const c = tx.circuit(run.runbook);
  if (c.state !== 'half_open' || c.trialExecutionId !== run.executionId) return false;
  tx.setCircuit(run.runbook, { ...c, state: 'open', trialExecutionId: null }, run.now);
  return true;
}

import type { Logger } from 'pino';
import type { AuditEventName, RenderedAction, RenderedCheck, RenderedStep } from '../domain/index.js';
import { isOutcomeUnknown, isRectifyError, preCheckTimeoutMs, TOLD_EVENTS } from '../domain/index.js';
import { errorMessage, sleep } from '../lib/index.js';
import { executionNeedsHuman, INTERRUPTED_BEFORE_FIRST_STEP, type CircuitRecord, type ExecutionState, type ExecutionTrigger, type StepRecord, type Store, type TransactOptions, type Tx } from '../store/ports.js';
import type { ActionExecutor, ActionOutcome, CheckOutcome, CheckRunner, StepContext } from './ports.js';
import { stepMarker } from './markers.js';
import { endBeforeFirstStep, endFirstStepUnrecorded, firstStepUnrecordedOutcome } from './before-first-step.js';
import type { NotificationEvent, Notify } from '../notify/types.js';
import type { Outbox } from '../notify/outbox.js';
import { killSwitchReason } from '../pipeline/stages/pause.js';
import {
  countFailure,
  cutOffVerdict,
  endTrialWithoutVerdict,
  failureInSteps,
  NOT_COUNTED_BEFORE_CLOSE,
  SUCCESS_NOT_COUNTED_BEFORE_CLOSE,
  NOT_COUNTED_REFUSED,
  reopenAfterCutOffTrial,
  reopenedReason,
  startedBeforeClose,
  TRIAL_ENDED_WITHOUT_VERDICT,
  trippedReason,
  withoutVerdictInSteps,
} from './breaker.js';

/** What the runner needs to know about one claimed execution. */
export interface RunRequest {
  id: string;
  incidentId: string | null;
  runbookId: string;
  service: string;
  plan: {
    actions: RenderedStep[];
    rollback: RenderedStep[] | null;
    preChecks: RenderedCheck[];
    postChecks: RenderedCheck[];
  };
  actor: string;
  /**
   * How it was decided. An automatic run (`auto`) stops at a kill switch turned on since
   * (see `killSwitchReason`); an approved or manual run goes on, as a person chose it.
   */
  trigger: ExecutionTrigger;
  /**
   * The alert an automatic run acts for (its incident's `alert_key`; an automatic run
   * acts for one alert: only approval requests are joined by a storm's alerts). Resolved
   * since it was decided, the run stops before its next action until one changed
   * something (see `resolvedReason`), as at a kill switch.
   */
  alertKey?: string | null;
  circuitTrial: boolean;
  startedAt: number;
  /**
   * When the incident the run acts for was received (its `received_at`; for a run an
   * approval carried out, the incident that opened the request): the time the run knows
   * the alert began by. Alertmanager's `startsAt` is not kept as a time. A relative
   * rollout undo refuses to undo a rollout made since (see StepContext.alertReceivedAt).
   */
  alertReceivedAt: number;
  /**
   * The approval request the run carries out: the notification of its end names it
   * (`approval_id`), as the request's APPROVED named the run. Absent or null: none.
   */
  approvalId?: string | null;
}

export interface RunOutcome {
  executionId: string;
  state: Exclude<ExecutionState, 'running'>;
  success: boolean;
  rolledBack: boolean;
  outcome: string;
  /** The event that ended it (SUCCESS, FAILED, PRE_CHECK_FAILED, DISRUPTION_BLOCKED, PAUSED, RESOLVED_BEFORE_ACTION, INTERRUPTED…). */
  event: AuditEventName;
  /**
   * Its end could not be recorded before a stop ran out of time for it (the store's write
   * lock held elsewhere, a full disk): the database still shows it running, and the next
   * start records it INTERRUPTED. Nothing was told of its end.
   */
  unrecorded?: true;
  /** With `unrecorded`: what the store refused its end with, as the log tells it (the database locked, full, read-only; the audit key not the log's). */
  cause?: string;
}

/** How long, after a stop's abort, a run keeps trying to record an end the store cannot take yet (see RunnerDeps.stopRecordMs). */
export const STOP_RECORD_MS = 5_000;

export interface RunnerDeps {
  /** faultKind: a run whose end the store refuses with a fault only a restart clears is not retried (see RunOutcome.unrecorded). */
  store: Pick<Store, 'transact' | 'faultKind'>;
  /**
   * After a stop's abort, how long a run whose end the store cannot take yet (a lock held
   * elsewhere, a full disk) keeps trying to record it, each attempt's wait for the lock
   * within it (default STOP_RECORD_MS); past it the run is left unrecorded for the next
   * start (RunOutcome.unrecorded).
   */
  stopRecordMs?: number;
  actions: ReadonlyMap<string, ActionExecutor>;
  checks: ReadonlyMap<string, CheckRunner>;
  clock: { now(): number };
  log: Logger;
  circuitFailureThreshold: number;
  onFinished?: (outcome: RunOutcome, runbookId: string, seconds: number) => void;
  onCircuit?: (runbookId: string, state: CircuitRecord['state']) => void;
  /** Fire-and-forget: every outcome and every breaker trip is told to the notifiers. */
  notify?: Notify;
  /** With notify: the outcome's and the trip's audit rows record their notification, told again after a restart if never delivered. */
  outbox?: Pick<Outbox, 'announce'>;
}

/** How a run's rollback went: not run (none in the plan, nothing to undo, or cut off), done, or failed. */
type RollbackResult = 'not_run' | 'done' | 'failed';

const toldOneByOne: ReadonlySet<string> = new Set(TOLD_EVENTS);

const MUST_CHECK = 'a person must check';

/**
 * The reason a run's end left to a person is told with: its outcome, then why a person
 * must check and that one must, plainly, so a receiver reading the reason alone (a pager,
 * a Slack channel) tells it from an ordinary failure. An outcome that says so already (a
 * rollback held on a verification that could not measure, or such a verification with
 * no rollback in the runbook) is told as it is.
 */
function mustCheck(outcome: string, state: RunOutcome['state'], rollback: RollbackResult, unknown: UnconfirmedBy): string {
  if (outcome.endsWith(MUST_CHECK)) return outcome;
  const why =
    state === 'interrupted'
      ? 'its outcome is unknown'
      : rollback === 'failed'
        ? 'the rollback did not undo what the run changed'
        : // The one other failure left to a person: an action unconfirmed and no rollback after it.
          UNCONFIRMED_WHY[unknown];
  return `${outcome}; ${why}: ${MUST_CHECK}`;
}

/**
 * What left a failed action unconfirmed: a write that got no answer, or a program
 * (`command:`) killed at its deadline or that left a process running.
 */
type UnconfirmedBy = 'unanswered' | NonNullable<ActionOutcome['unconfirmedBy']>;
const UNCONFIRMED_WHY: Record<UnconfirmedBy, string> = {
  unanswered: 'a write got no answer saying whether it was applied, and no rollback ran after it to read the target back',
  deadline: 'a program was killed at its deadline and may have done part of its work, and no rollback ran after it',
  left_running: 'a process the program left running was killed, or may still run, and no rollback ran after it',
};

/** Why an automatic run stops before an action: the event that ends it, the word its reason starts with, and why. */
interface Stop {
  event: 'PAUSED' | 'RESOLVED_BEFORE_ACTION';
  word: 'paused' | 'resolved';
  why: string;
}

/** How an action or rollback step went. */
interface StepOutcome {
  ok: boolean;
  detail: string;
  unchanged: boolean;
  unconfirmed: boolean;
  /** Unconfirmed: by what, when a program's (ActionOutcome.unconfirmedBy). */
  unconfirmedBy?: ActionOutcome['unconfirmedBy'];
  /** Unconfirmed, and the rollback must wait for a person: why (ActionOutcome.holdRollback). */
  holdRollback?: string;
  /** The detail without what the step left in place (ActionOutcome.standing), when it says so. */
  undone?: string;
}

/**
 * A pre-check is a gate on the present: its timeout is cut (`preCheckTimeoutMs`), and it
 * is polled within that like any check, its last attempt at that timeout.
 */
function asGate(check: RenderedCheck): RenderedCheck {
  return { ...check, timeoutMs: preCheckTimeoutMs(check) };
}

/**
 * Why an automatic run stops before an action because its alert has resolved since it
 * was decided (its resolve recorded under `<alert_key>:resolved`, as applyResolved
 * writes it): the problem went away, and acting now would be a change nobody asked
 * for. Undefined while the alert still fires.
 */
export function resolvedReason(tx: Pick<Tx, 'decisionByDedup' | 'getIncident'>, alertKey: string): string | undefined {
  const resolve = tx.decisionByDedup(`${alertKey}:resolved`);
  if (!resolve) return undefined;
  const at = tx.getIncident(resolve.incident_id)?.incident.received_at;
  return `the alert was resolved${at === undefined ? '' : ` at ${new Date(at).toISOString()}`} (${resolve.incident_id})`;
}

function describeCheck(c: RenderedCheck): string {
  switch (c.type) {
    case 'named':
      return c.name;
    case 'promql':
      return `promql ${c.query} ${c.expect.op} ${c.expect.value}`;
    case 'http':
      return `http ${c.method} ${c.url}`;
    case 'kubernetes':
      return `kubernetes ${c.condition} ${c.kind}/${c.name}`;
  }
}

/**
 * Carries out one execution: pre-checks → actions → post-checks → rollback on
 * failure, when an action may have changed something. Every step, checks included,
 * is recorded and audited before it starts and after it ends, so a crash leaves a
 * record of exactly how far it got. An aborted signal (shutdown) ends the run as INTERRUPTED: it will not be
 * resumed by itself. Between the pre-checks and the first action, the post-checks read what
 * they must know of the target before it changes (readBeforeActions): reads, logged, no steps.
 */
export function createExecutionRunner(deps: RunnerDeps) {
  const { store, clock } = deps;

  async function record(work: (tx: Tx) => void): Promise<void> {
    await store.transact(work);
  }

  return async function run(req: RunRequest, signal: AbortSignal): Promise<RunOutcome> {
    const log = deps.log.child({ execution_id: req.id, runbook: req.runbookId, incident_id: req.incidentId });
    const steps: StepRecord[] = [];
    // What left the failing action unconfirmed, for the reason a person is told.
    let unconfirmedBy: UnconfirmedBy = 'unanswered';
    const ctx: StepContext = { signal, log, startedAt: req.startedAt, alertReceivedAt: req.alertReceivedAt, memo: new Map() };
    /** When the stop's abort came (performance.now()): the record of the run's end is tried until stopRecordMs after it. */
    let abortedAt: number | undefined = signal.aborted ? performance.now() : undefined;
    if (abortedAt === undefined) signal.addEventListener('abort', () => (abortedAt = performance.now()), { once: true });
    /**
     * Whether the database may hold a step of this run: a step's start was recorded, or
     * the commit recording it could not be confirmed. Until then no step was started (each
     * starts only once its start is recorded) and the database shows none.
     */
    let stepMayBeRecorded = false;
    /**
     * The store fault that kept the run's first step's start from being recorded, as its
     * end names it: the run started nothing, and rectify did not stop it (see
     * firstStepUnrecorded). Unset for a run a stop ended before its first step.
     */
    let firstStepFault: string | undefined;
    /** Records a step's start (`work` answers whether it recorded one): only then may the step start. */
    async function recordStart(work: (tx: Tx) => boolean): Promise<void> {
      let wrote = false;
      try {
        await record((tx) => {
          wrote = work(tx);
        });
      } catch (err) {
        if (isRectifyError(err) && isOutcomeUnknown(err.details)) stepMayBeRecorded = true;
        else if (!stepMayBeRecorded) firstStepFault = recordFault(err);
        throw err;
      }
      if (wrote) stepMayBeRecorded = true;
    }
    const audit = (tx: Tx, event: AuditEventName, details: Record<string, unknown>, at = clock.now()) =>
      tx.appendAudit({ at, event, incident_id: req.incidentId, runbook: req.runbookId, execution_id: req.id, actor: 'rectify', details });

    /**
     * A check is a step like an action: recorded and audited (STEP_STARTED, STEP_FINISHED
     * with its phase) before it starts and when it ends. Executions are pruned after the
     * history retention; the audit log keeps what each check found, and a crash during
     * one leaves the record of where the run was.
     */
    async function runCheck(phase: 'pre_check' | 'post_check', index: number, check: RenderedCheck): Promise<CheckOutcome> {
      const summary = describeCheck(check);
      const step: StepRecord = { phase, index, summary, started_at: clock.now(), finished_at: null, ok: null, detail: null };
      steps.push(step);
      await recordStart((tx) => {
        tx.updateExecution(req.id, { steps });
        audit(tx, 'STEP_STARTED', { phase, index, summary });
        return true;
      });
      const runner = deps.checks.get(check.type);
      let out: CheckOutcome;
      if (!runner) out = { ok: false, detail: `no runner for ${check.type} checks is configured`, attempts: 0, inconclusive: true };
      else {
        try {
          out = await runner.run(phase === 'pre_check' ? asGate(check) : check, ctx);
        } catch (err) {
          // A check that errors is a failed check, never a pass.
          out = { ok: false, detail: `check error: ${errorMessage(err)}`, attempts: 1 };
        }
      }
      step.finished_at = clock.now();
      step.ok = out.ok;
      step.detail = out.detail;
      if (!out.ok && out.inconclusive) step.inconclusive = true;
      // Ended failed while the stop's abort was in force: the abort may have ended it, so
      // its failure is no verdict (see StepRecord.stopped); the run ends as cut off there.
      if (!out.ok && signal.aborted) step.stopped = true;
      await record((tx) => {
        tx.updateExecution(req.id, { steps });
        audit(tx, 'STEP_FINISHED', {
          phase,
          index,
          summary,
          ok: out.ok,
          detail: out.detail,
          attempts: out.attempts,
          ...(!out.ok && out.inconclusive ? { inconclusive: true } : {}),
          ...(step.stopped ? { stopped: true } : {}),
        });
      });
      return out;
    }

    /**
     * Lets each post-check read what it must know of its target as it was before the actions
     * (CheckRunner.beforeActions): `pod_becomes_ready` keeps the uid of the pod it names, so
     * that a successor under its name (a StatefulSet recreates its ordinal) is told from it
     * whatever deleted it. A read changes nothing and decides nothing, so it is no step: it
     * is logged. One that fails (the pod absent, an API error, a timeout, the stop's abort)
     * keeps nothing, and the check judges as it would without it; the run goes on (the loop
     * of the actions ends it at an abort).
     */
    async function readBeforeActions(): Promise<void> {
      for (const check of req.plan.postChecks) {
        if (signal.aborted) return;
        const runner = deps.checks.get(check.type);
        if (!runner?.beforeActions) continue;
        try {
          const read = await runner.beforeActions(check, ctx);
          if (read?.kept) log.info({ check: describeCheck(check), detail: read.detail }, 'read before the actions for a post-check');
          else if (read) log.warn({ check: describeCheck(check), detail: read.detail }, 'a post-check could not read its target before the actions: it judges without it');
        } catch (err) {
          log.warn({ check: describeCheck(check), detail: errorMessage(err) }, 'a post-check could not read its target before the actions: it judges without it');
        }
      }
    }

    /**
     * Runs one action or rollback step. With `gate`, the kill switches, then whether the
     * run's alert has resolved, are read in the transaction that records the step's start:
     * a pause or a resolve committed before it stops the run there (`stop`, nothing
     * recorded of the step), one committed after finds it started.
     */
    async function runStep(step: RenderedStep): Promise<StepOutcome>;
    async function runStep(step: RenderedStep, gate: boolean): Promise<{ stop: Stop } | StepOutcome>;
    async function runStep(step: RenderedStep, gate = false): Promise<{ stop: Stop } | StepOutcome> {
      const rec: StepRecord = { phase: step.phase, index: step.index, summary: step.summary, started_at: clock.now(), finished_at: null, ok: null, detail: null };
      let stop: Stop | undefined;
      // Durable before the action starts: after a crash the log shows it may have run.
      await recordStart((tx) => {
        stop = gate ? gateStop(tx) : undefined;
        if (stop !== undefined) return false;
        if (!steps.includes(rec)) steps.push(rec);
        tx.updateExecution(req.id, { steps });
        audit(tx, 'STEP_STARTED', { phase: step.phase, index: step.index, summary: step.summary });
        return true;
      });
      if (stop !== undefined) return { stop };
      const executor = deps.actions.get(step.type);
      let ok = false;
      let notNow = false;
      let refused = false;
      let unconfirmed = false;
      let holdRollback: string | undefined;
      let unconfirmedBy: ActionOutcome['unconfirmedBy'];
      let undone: string | undefined;
      // Until an executor has been handed the step, nothing happened.
      let unchanged = true;
      let detail: string;
      let facts: Record<string, string> | undefined;
      if (signal.aborted) detail = 'not started: shutting down';
      else if (!executor) detail = `no executor for ${step.type} actions is configured`;
      else {
        try {
          const out = await executor.run(step.spec as RenderedAction, { ...ctx, phase: step.phase, stepMarker: stepMarker(req.id, step.phase, step.index) });
          ok = out.ok;
          notNow = !out.ok && out.notNow === true;
          // "Not now" is the target's refusal, and a refusal by rectify's own rule is
          // rectify's: either way nothing was changed.
          refused = !out.ok && !notNow && out.refused === true;
          unchanged = out.unchanged === true || notNow || refused;
          unconfirmed = !out.ok && !unchanged && out.unconfirmed === true;
          if (unconfirmed && out.holdRollback !== undefined) holdRollback = out.holdRollback;
          if (unconfirmed && out.unconfirmedBy !== undefined) unconfirmedBy = out.unconfirmedBy;
          if (!out.ok && out.standing !== undefined && out.detail.endsWith(`; ${out.standing}`)) undone = out.detail.slice(0, -`; ${out.standing}`.length);
          detail = out.detail;
          if (out.facts && Object.keys(out.facts).length > 0) facts = out.facts;
        } catch (err) {
          // An executor that throws may have got as far as a write.
          unchanged = false;
          detail = `action error: ${errorMessage(err)}`;
        }
      }
      rec.finished_at = clock.now();
      rec.ok = ok;
      rec.detail = detail;
      if (facts) rec.facts = facts;
      if (unconfirmed) rec.unconfirmed = true;
      // Recorded with the step, so crash recovery reads what the run would have made of it
      // had it lived to record its end: a refusal before anything changed is no failure.
      if (unchanged) rec.unchanged = true;
      if (refused) rec.refused = 'rule';
      else if (notNow) rec.refused = 'not_now';
      // Ended failed while the stop's abort was in force (not started because of it, a
      // request cut, a program killed): no verdict on the runbook (see StepRecord.stopped),
      // and the run ends as cut off there. Not a refusal the run ends as such, stop or not.
      if (!ok && signal.aborted && withoutVerdictInSteps(steps) === undefined) rec.stopped = true;
      await record((tx) => {
        tx.updateExecution(req.id, { steps });
        audit(tx, 'STEP_FINISHED', {
          phase: step.phase,
          index: step.index,
          summary: step.summary,
          ok,
          detail,
          ...(facts ? { facts } : {}),
          ...(unconfirmed ? { unconfirmed: true } : {}),
          ...(rec.refused ? { refused: rec.refused } : {}),
          ...(rec.stopped ? { stopped: true } : {}),
        });
      });
      return { ok, detail, unchanged, unconfirmed, ...(unconfirmedBy !== undefined ? { unconfirmedBy } : {}), ...(holdRollback !== undefined ? { holdRollback } : {}), ...(undone !== undefined ? { undone } : {}) };
    }

    /** What stops an automatic run before an action that would be its first change: a kill switch, or its alert resolved. */
    function gateStop(tx: Tx): Stop | undefined {
      const paused = killSwitchReason(tx, req.runbookId);
      if (paused !== undefined) return { event: 'PAUSED', word: 'paused', why: paused };
      const resolved = req.alertKey ? resolvedReason(tx, req.alertKey) : undefined;
      return resolved === undefined ? undefined : { event: 'RESOLVED_BEFORE_ACTION', word: 'resolved', why: resolved };
    }

    /**
     * Announces a notification of this run's end, in the transaction that writes its row
     * (the row records it: see notify/outbox.ts), into `notices`, sent after the commit.
     * Answers what the row records of it.
     */
    function announcer(now: number, notices: NotificationEvent[]) {
      return (n: Omit<NotificationEvent, 'incident_id' | 'runbook' | 'service' | 'execution_id' | 'approval_id' | 'at'>): Record<string, unknown> => {
        if (!deps.notify) return {};
        const given: NotificationEvent = { incident_id: req.incidentId, runbook: req.runbookId, service: req.service, execution_id: req.id, approval_id: req.approvalId ?? null, at: now, ...n };
        // Only a row of an event told one by one records its notification (the outbox reads
        // back no other). A run stopped by a kill switch or a resolve (PAUSED,
        // RESOLVED_BEFORE_ACTION) is one: its PAUSED row records it, unlike the PAUSED
        // decision of an alert held off by a pause (migration 015 indexes only the former).
        const a = toldOneByOne.has(given.event) ? deps.outbox?.announce(given) : undefined;
        notices.push(a?.event ?? given);
        return a ? { ...a.details } : {};
      };
    }

    /** After the end's commit: the circuit's change, the notifications, the metrics and the log. */
    function ended(result: RunOutcome, notices: readonly NotificationEvent[], circuitChange: CircuitRecord['state'] | undefined): RunOutcome {
      if (circuitChange) deps.onCircuit?.(req.runbookId, circuitChange);
      for (const n of notices) deps.notify?.(n);
      deps.onFinished?.(result, req.runbookId, (clock.now() - req.startedAt) / 1000);
      log.info({ state: result.state, outcome: result.outcome }, 'execution finished');
      return result;
    }

    /**
     * A stop (the shutdown's abort) that finds the run before its first step: it had
     * started none (each is recorded before it starts), so nothing was changed. It ends as
     * startup recovery ends a run a crash cut off there (endBeforeFirstStep): no person is
     * needed, no breaker failure, and a trial goes back to open without a new wait.
     */
    async function stoppedBeforeFirstStep(opts?: TransactOptions): Promise<RunOutcome> {
      const notices: NotificationEvent[] = [];
      let trialEnded = false;
      await store.transact((tx) => {
        notices.length = 0;
        const now = clock.now();
        const end = endBeforeFirstStep(tx, { runbook: req.runbookId, executionId: req.id, now });
        trialEnded = end.trialEnded;
        audit(tx, 'INTERRUPTED', { ...end.row, ...announcer(now, notices)(end.told) }, now);
      }, opts);
      const result: RunOutcome = { executionId: req.id, state: 'interrupted', success: false, rolledBack: false, outcome: INTERRUPTED_BEFORE_FIRST_STEP, event: 'INTERRUPTED' };
      return ended(result, notices, trialEnded ? 'open' : undefined);
    }

    /**
     * A run whose first step's start the store could not record (a full disk, a lock held
     * elsewhere): it started no step, so nothing was changed, as after a stop there; but
     * rectify did not stop, and the remediation it decided on did not happen. Its end says
     * so, naming the fault, and leaves it to a person (needs_human true); otherwise it ends
     * as a stop there does (no breaker failure, a trial back to open without a new wait),
     * and it still counts against the rate limit and the cooldown.
     */
    async function firstStepUnrecorded(fault: string, opts?: TransactOptions): Promise<RunOutcome> {
      const notices: NotificationEvent[] = [];
      let trialEnded = false;
      await store.transact((tx) => {
        notices.length = 0;
        const now = clock.now();
        const end = endFirstStepUnrecorded(tx, { runbook: req.runbookId, executionId: req.id, now }, fault);
        trialEnded = end.trialEnded;
        audit(tx, 'INTERRUPTED', { ...end.row, ...announcer(now, notices)(end.told) }, now);
      }, opts);
      const result: RunOutcome = { executionId: req.id, state: 'interrupted', success: false, rolledBack: false, outcome: firstStepUnrecordedOutcome(fault), event: 'INTERRUPTED' };
      return ended(result, notices, trialEnded ? 'open' : undefined);
    }

    /** The final transaction: outcome, audit, breaker and the blast-radius release together. */
    async function finish(
      state: RunOutcome['state'],
      outcome: string,
      events: Array<{ event: AuditEventName; details: Record<string, unknown> }>,
      /** `interrupted`: cut off, no verdict on the runbook; a trial's circuit re-opens with a new wait. */
      breaker: 'success' | 'failure' | 'interrupted' | 'none',
      rollback: RollbackResult,
      opts?: TransactOptions,
    ): Promise<RunOutcome> {
      const success = state === 'succeeded';
      const rolledBack = rollback === 'done';
      let circuitChange: CircuitRecord['state'] | undefined;
      let tripped = false;
      let reopened = false;
      const event = events[events.length - 1]?.event ?? 'FAILED';
      // A failed rollback is told as such: the run left things half undone and a person must look.
      const told: { event: AuditEventName; outcome: string } =
        rollback === 'done'
          ? { event: 'ROLLED_BACK', outcome: `${state}, rolled back` }
          : rollback === 'failed'
            ? { event: 'ROLLBACK_FAILED', outcome: `${state}, rollback failed` }
            : { event, outcome: state };
      // Whether a person must check what the run left: the verdict the execution view gives
      // (executionNeedsHuman), from what this end records (the FAILED row's needs_human).
      const human = executionNeedsHuman({ state, outcome, steps }, events.some((e) => e.event === 'FAILED' && e.details.needs_human === true));
      /** The notifications of this end, announced as their rows are written (they record them: see notify/outbox.ts), sent after the commit. */
      const notices: NotificationEvent[] = [];
      await store.transact((tx) => {
        notices.length = 0;
        const now = clock.now();
        const announce = announcer(now, notices);
        /** The breaker's CIRCUIT_TRIPPED row, recording its notification. */
        const breakerAudit = (reason: string) => (e: AuditEventName, d: Record<string, unknown>) =>
          audit(tx, e, e === 'CIRCUIT_TRIPPED' ? { ...d, ...announce({ event: e, outcome: 'circuit open', reason }) } : d, now);
        tx.updateExecution(req.id, { state, steps, finished_at: now, success, rolled_back: rolledBack, outcome });
        // The trial ended without a verdict on the runbook, having changed nothing (a pre-check
        // failed, the cluster said "not now", rectify refused a step by its own rule): back to
        // OPEN, so the next incident may try again. The row ending the run says so: nothing
        // else in the log tells what became of the circuit after its CIRCUIT_HALF_OPEN.
        const trialEnded = breaker === 'none' && endTrialWithoutVerdict(tx, { runbook: req.runbookId, executionId: req.id, now });
        if (trialEnded) circuitChange = 'open';
        // A failure or a success of a run that started before the circuit last closed is not
        // counted (countFailure, and the success below): the row ending the run says so.
        const beforeClose = (breaker === 'failure' || breaker === 'success') && startedBeforeClose(tx, { runbook: req.runbookId, executionId: req.id });
        const endAt = events.length - 1;
        // The outcome is recorded with the row of the event it is told as (ROLLED_BACK, not the FAILED after it).
        const toldAt = events.findIndex((e) => e.event === told.event);
        events.forEach((e, i) =>
          audit(
            tx,
            e.event,
            {
              ...e.details,
              ...(i === endAt && trialEnded ? { circuit_trial: TRIAL_ENDED_WITHOUT_VERDICT } : {}),
              ...(i === endAt && beforeClose ? { circuit: breaker === 'success' ? SUCCESS_NOT_COUNTED_BEFORE_CLOSE : NOT_COUNTED_BEFORE_CLOSE } : {}),
              ...(i === toldAt ? announce({ ...told, reason: human ? mustCheck(outcome, state, rollback, unconfirmedBy) : outcome, needs_human: human }) : {}),
            },
            now,
          ),
        );
        tx.releaseBlastRadius(req.id);
        const c = tx.circuit(req.runbookId);
        if (breaker === 'success') {
          // Closed: the failures in a row end, unless the run started before the circuit last
          // closed (startedBeforeClose): its success tells of the target before the close and
          // would wipe the failures of the runs started since. The trial a person closed the
          // circuit under is counted, as its failure is. Open or half-open, only the trial run
          // closes it: a run that started before the trip and succeeds after it says nothing
          // about the runs that failed since.
          if (c.state === 'closed' && c.failures > 0 && !beforeClose) {
            tx.setCircuit(req.runbookId, { ...c, failures: 0 }, now);
          } else if (c.state === 'half_open' && c.trialExecutionId === req.id) {
            tx.setCircuit(req.runbookId, { state: 'closed', failures: 0, openedAt: null, trialExecutionId: null }, now);
            audit(tx, 'CIRCUIT_CLOSED', { reason: 'the trial run succeeded: the circuit is closed again', held_while_open: tx.heldByCircuit(req.runbookId) });
            circuitChange = 'closed';
          }
        } else if (breaker === 'failure') {
          tripped = countFailure(tx, { runbook: req.runbookId, executionId: req.id, circuitTrial: req.circuitTrial, threshold: deps.circuitFailureThreshold, now, audit: breakerAudit(trippedReason(req.runbookId)) });
          if (tripped) circuitChange = 'open';
        } else if (breaker === 'interrupted') {
          // Cut off: its state is unknown, so the trial proved nothing (see reopenAfterCutOffTrial).
          reopened = reopenAfterCutOffTrial(tx, { runbook: req.runbookId, executionId: req.id, now, audit: breakerAudit(reopenedReason(req.runbookId)) });
          if (reopened) circuitChange = 'open';
        }
      }, opts);
      return ended({ executionId: req.id, state, success, rolledBack, outcome, event }, notices, circuitChange);
    }

    /**
     * The stop's end of the run, wherever it finds it: the one place a stop ends a run
     * before its rollback. Before its first step (a run that began after the shutdown grace
     * was over: an approval or a decision committed as rectify stopped) it ran nothing.
     * Otherwise its recorded steps are read as crash recovery reads them (cutOffVerdict),
     * so a stop and a crash at one point count the same: a run that had failed (a
     * post-check held by `on_no_data: needs_human` while a later one still polled) counts
     * against the breaker, and its row says what failed. A step the stop's abort ended is
     * marked so with its end (`stopped`) and read as cut off, no verdict, as after a crash
     * there; one that ended failed on its own, the abort coming only after (while its end
     * was being recorded), is read as the failure it is: the stop reads the recorded steps
     * exactly as the next start reads them when the run's end could not be recorded.
     */
    const interrupted = (where: string) => {
      if (steps.length === 0) return stoppedBeforeFirstStep();
      const reason = `rectify was shutting down ${where}; a human must check the state`;
      const verdict = cutOffVerdict(steps);
      if (verdict.count === 'failure') {
        const { failure } = verdict;
        return finish('interrupted', `interrupted ${where}, after: ${failure}`, [{ event: 'INTERRUPTED', details: { reason, failure, steps: steps.length } }], 'failure', 'not_run');
      }
      // A run that ended having changed nothing is ended as such before a stop is looked at: not seen here.
      const breaker = verdict.count === 'without_verdict' ? 'none' : 'interrupted';
      return finish('interrupted', `interrupted ${where}`, [{ event: 'INTERRUPTED', details: { reason, steps: steps.length } }], breaker, 'not_run');
    };
    // The run had failed (that counts against the breaker); how far its rollback got is unknown.
    const interruptedRollback = (failure: string) =>
      finish(
        'interrupted',
        `interrupted during the rollback, after: ${failure}`,
        [{ event: 'INTERRUPTED', details: { reason: 'rectify was shutting down during the rollback; it did not finish: a human must check the state', failure, steps: steps.length } }],
        'failure',
        'not_run',
      );

    try {
      // 1. Pre-checks: a failure aborts before anything is touched.
      for (const [i, check] of req.plan.preChecks.entries()) {
        if (signal.aborted) return await interrupted('before the pre-checks ended');
        const out = await runCheck('pre_check', i, check);
        if (!out.ok) {
          if (signal.aborted) return await interrupted('during a pre-check');
          // The cause in the outcome, as a failed post-check's: the row, the notification and
          // the log line name why (Prometheus unreachable, the count not above the current),
          // not only which check, which would send the on-call engineer to the steps to learn it.
          return await finish('aborted', `pre-check failed: ${describeCheck(check)}: ${out.detail}`, [{ event: 'PRE_CHECK_FAILED', details: { check: describeCheck(check), detail: out.detail } }], 'none', 'not_run');
        }
      }

      // 2. What a post-check must know of its target before the actions change it: read now
      // (a pod's uid, for pod_becomes_ready), after the pre-checks (one may have read it).
      if (req.plan.actions.length > 0) await readBeforeActions();

      // 3. Actions, in order; the first failure stops them.
      let failure: string | undefined;
      // Whether any action so far may have changed something: unless one did, there is nothing to roll back.
      let changed = false;
      // The failing action was refused by rectify's own rule before anything changed: not the target's failure.
      let refusedByRule = false;
      // The failing action sent a write whose answer never said whether it was applied.
      let unconfirmed = false;
      // Why the failing action's rollback waits for a person (see ActionOutcome.holdRollback).
      let actionHold: string | undefined;
      // The failure without what the failing action left in place, for a run whose rollback undid it.
      let failureUndone: string | undefined;
      for (const step of req.plan.actions) {
        if (signal.aborted) return await interrupted('before an action');
        // A kill switch turned on since an automatic run was decided (during its pre-checks,
        // say), or its alert resolved since, stops it before its next action, until one has
        // changed something: from then on it runs to its end (its actions, verification,
        // rollback), as a plan stopped half applied is one its rollback was not written for.
        const out = await runStep(step, req.trigger === 'auto' && !changed);
        if ('stop' in out) {
          const reason = `${out.stop.word} before action ${step.index + 1}: ${out.stop.why}; nothing was changed`;
          return await finish('aborted', reason, [{ event: out.stop.event, details: { reason, action: step.summary, steps: steps.length } }], 'none', 'not_run');
        }
        if (!out.unchanged) changed = true;
        if (!out.ok) {
          // Read from the recorded steps, as crash recovery reads them: one rule for both.
          const refusal = withoutVerdictInSteps(steps)?.why;
          // A refusal recorded before anything changed ends the run as refused even while
          // rectify stops: nothing about the target is unknown, and crash recovery would end
          // it the same way (a trial's circuit open again without a new wait). Otherwise the
          // stop ends it as cut off there when its abort ended the step (`stopped`), and as
          // failed when the step failed on its own and the abort came as its end was recorded.
          if (signal.aborted && refusal === undefined) return await interrupted('during an action');
          if (refusal === 'not_now') {
            // Nothing was touched and the cluster said "not now": blocked, not failed.
            const reason = `blocked: ${out.detail}`;
            return await finish('aborted', reason, [{ event: 'DISRUPTION_BLOCKED', details: { reason: out.detail, action: step.summary } }], 'none', 'not_run');
          }
          failure = `action ${step.index + 1} failed: ${out.detail}`;
          refusedByRule = refusal === 'rule';
          unconfirmed = out.unconfirmed;
          if (unconfirmed) unconfirmedBy = out.unconfirmedBy ?? 'unanswered';
          actionHold = out.holdRollback;
          if (out.undone !== undefined) failureUndone = `action ${step.index + 1} failed: ${out.undone}`;
          break;
        }
      }

      // 4. Verification: every post-check polled until it passes or times out.
      /** The failed post-check could not measure and says so (`on_no_data: needs_human`): its rollback is held for a person. */
      let holdRollback = false;
      if (!failure) {
        for (const [i, check] of req.plan.postChecks.entries()) {
          if (signal.aborted) return await interrupted('during verification');
          const out = await runCheck('post_check', i, check);
          if (out.ok) continue;
          if (signal.aborted) return await interrupted('during verification');
          const held = out.inconclusive === true && check.type !== 'http' && check.onNoData === 'needs_human';
          if (held) {
            // A check that could not measure holds the rollback only if no other check
            // measured a failure: the checks after it still run (each within its own
            // timeout), so the order they are written in does not decide whether a
            // failure that was seen rolls back. The first such check is the one reported.
            if (failure === undefined) {
              failure = `verification failed: ${describeCheck(check)}: ${out.detail}`;
              holdRollback = true;
            }
            continue;
          }
          failure = `verification failed: ${describeCheck(check)}: ${out.detail}`;
          holdRollback = false;
          break;
        }
      }

      if (!failure) {
        return await finish('succeeded', 'success', [{ event: 'SUCCESS', details: { steps: steps.length } }], 'success', 'not_run');
      }

      // 5. Rollback, when the runbook has one and an action may have changed something.
      const hasRollback = req.plan.rollback !== null && req.plan.rollback.length > 0;
      if (refusedByRule) {
        // rectify refused by its own rule and nothing changed: the target was never asked,
        // so this says nothing about it, and the breaker does not count it. Counted, a rule
        // that refuses what an alert asks for (a scale to 0) would let whoever sends the
        // alerts switch the runbook off.
        const why = 'nothing was changed: no rollback';
        const circuit = NOT_COUNTED_REFUSED;
        return await finish(
          'failed',
          hasRollback ? `${failure}; ${why}` : failure,
          [{ event: 'FAILED', details: { reason: failure, rolled_back: false, ...(hasRollback ? { rollback: why } : {}), circuit } }],
          'none',
          'not_run',
        );
      }
      if (hasRollback && changed && holdRollback) {
        // The check could not tell whether the action worked (no data, a query error). Its
        // rollback may re-apply the very fault the action removed (rollback-deployment's undo
        // of its undo brings the bad deploy back): on no evidence, nothing more is changed.
        const why = 'the rollback was not run: the verification could not measure (on_no_data: needs_human); a person must check';
        return await finish('failed', `${failure}; ${why}`, [{ event: 'FAILED', details: { reason: failure, rolled_back: false, rollback: why, needs_human: true } }], 'failure', 'not_run');
      }
      if (!hasRollback && changed && holdRollback) {
        // No rollback to hold, but the same unknown: what the action changed was never
        // measured, so whether it worked is left to a person as when a rollback is held.
        const why = 'the runbook has no rollback and the verification could not measure (on_no_data: needs_human); a person must check';
        return await finish('failed', `${failure}; ${why}`, [{ event: 'FAILED', details: { reason: failure, rolled_back: false, needs_human: true } }], 'failure', 'not_run');
      }
      if (hasRollback && changed && actionHold !== undefined) {
        // What the action did is unknown, and its rollback would undo it as if it had landed:
        // held the way a verification that could not measure holds it.
        const why = `the rollback was not run: ${actionHold}; a person must check`;
        return await finish('failed', `${failure}; ${why}`, [{ event: 'FAILED', details: { reason: failure, rolled_back: false, rollback: why, needs_human: true } }], 'failure', 'not_run');
      }
      if (hasRollback && !changed) {
        // Undoing what never happened is a change of its own: a second "undo" that rolls a
        // deployment back, an uncordon of a node someone else cordoned.
        const why = 'nothing was changed: no rollback';
        return await finish('failed', `${failure}; ${why}`, [{ event: 'FAILED', details: { reason: failure, rolled_back: false, rollback: why } }], 'failure', 'not_run');
      }
      const events: Array<{ event: AuditEventName; details: Record<string, unknown> }> = [];
      let rollback: RollbackResult = 'not_run';
      let outcome = failure;
      if (hasRollback) {
        let rollbackDetail: string | undefined;
        /** Which rollback step failed (1-based), when one did. */
        let rollbackFailedAt = 0;
        const rollbackSteps = req.plan.rollback ?? [];
        // Whether a rollback step may have changed something, and what the steps said.
        let rollbackChanged = false;
        const rollbackSaid: string[] = [];
        for (const [i, step] of rollbackSteps.entries()) {
          if (signal.aborted) return await interruptedRollback(failure);
          const out = await runStep(step);
          if (!out.unchanged) rollbackChanged = true;
          if (!out.ok) {
            if (signal.aborted) return await interruptedRollback(failure);
            rollbackDetail = out.detail;
            rollbackFailedAt = i + 1;
            break;
          }
          rollbackSaid.push(out.detail);
        }
        if (rollbackDetail === undefined && !rollbackChanged) {
          // Every rollback step found nothing of this run's to undo (a deployment still on
          // the template it had, a node the run never cordoned): nothing was restored, so the
          // run is not reported as rolled back. Saying so would tell a person the cluster
          // had been put back when it was never touched, or was changed some other way.
          const why = `the rollback changed nothing: ${rollbackSaid.join('; ')}`;
          return await finish('failed', `${failure}; ${why}`, [{ event: 'FAILED', details: { reason: failure, rolled_back: false, rollback: why } }], 'failure', 'not_run');
        }
        if (rollbackDetail === undefined) {
          rollback = 'done';
          // What the action said it left in place (a cordoned node) the rollback has undone.
          if (failureUndone !== undefined) outcome = failure = failureUndone;
          events.push({ event: 'ROLLED_BACK', details: { reason: failure } });
        } else {
          rollback = 'failed';
          // Which step failed and which never ran: a person finishing the rollback by hand starts there.
          const of = rollbackSteps.length;
          const notRun = Array.from({ length: of - rollbackFailedAt }, (_, k) => rollbackFailedAt + 1 + k);
          const which = of === 1 ? 'rollback failed' : `rollback step ${rollbackFailedAt} of ${of} failed`;
          const skipped = notRun.length === 0 ? '' : `, ${notRun.length === 1 ? 'step' : 'steps'} ${notRun.join(', ')} not run`;
          outcome = `${failure}; ${which}${skipped}: ${rollbackDetail}`;
          events.push({ event: 'ROLLBACK_FAILED', details: { reason: failure, detail: rollbackDetail, step: rollbackFailedAt, of, not_run: notRun } });
        }
      }
      // With no rollback to read the target again, what the unanswered write did is left unknown: a person must check.
      const unknown = unconfirmed && !hasRollback ? { needs_human: true } : {};
      events.push({ event: 'FAILED', details: { reason: failure, rolled_back: rollback === 'done', ...(rollback === 'failed' ? { rollback: 'failed' } : {}), ...unknown } });
      return await finish('failed', outcome, events, 'failure', rollback);
    } catch (err) {
      // The store failed under us: the run's state is unknown. Record what we can;
      // if even that fails, startup recovery marks it INTERRUPTED for a human.
      // No further step runs: acting without a record of it would be acting blind.
      log.error({ err }, 'execution could not record its progress');
      const fault = recordFault(err);
      const reason = `progress could not be recorded: ${fault}`;
      // A failure the run already knew of (an action or a verification that failed) is
      // counted by the breaker and kept in the row, as crash recovery reads the same steps:
      // a store fault must not hide a failing target from the breaker. A step the stop's
      // abort ended (`stopped`) is read as cut off, as the stop's own end reads it
      // (interrupted): a stop is no evidence against the runbook, whether or not the store
      // could take its records.
      const failure = failureInSteps(steps);
      // No step was started, and the database holds none: nothing was changed. When the
      // record of the first one's start failed, its end names that fault and leaves it to a
      // person (the remediation did not happen); when a stop ended it there, or a pause or
      // a resolve whose end failed, it ends as a stop or a crash there ends it.
      const end = (opts?: TransactOptions) =>
        !stepMayBeRecorded
          ? firstStepFault !== undefined
            ? firstStepUnrecorded(firstStepFault, opts)
            : stoppedBeforeFirstStep(opts)
          : finish(
              'interrupted',
              failure === undefined ? `recording failed: ${fault}` : `recording failed after: ${failure}; ${fault}`,
              [{ event: 'INTERRUPTED', details: { reason, ...(failure !== undefined ? { failure } : {}), steps: steps.length } }],
              failure === undefined ? 'interrupted' : 'failure',
              'not_run',
              opts,
            );
      // Until the end is recorded the run keeps its blast-radius claim and shows as
      // running, so keep trying while the store is down (a lock, a full disk clears by
      // itself). Once a stop has aborted the run, it keeps trying for stopRecordMs after
      // the abort, each attempt's wait for the lock within it, and is then left to startup
      // recovery: the stop is bounded, and says the run was not recorded.
      const budget = deps.stopRecordMs ?? STOP_RECORD_MS;
      const left = (): number => (abortedAt === undefined ? Infinity : abortedAt + budget - performance.now());
      for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
        try {
          const wait = left();
          return await end(Number.isFinite(wait) ? { lockWaitMs: Math.max(0, wait) } : undefined);
        } catch (again) {
          const cause = recordFault(again);
          const unrecorded: RunOutcome = { executionId: req.id, state: 'interrupted', success: false, rolledBack: false, outcome: 'unrecorded', event: 'INTERRUPTED', unrecorded: true, cause };
          // A closed store takes nothing more: the next start records the run.
          const closed = isRectifyError(again) && again.code === 'SHUTTING_DOWN';
          if (closed || left() <= 0) {
            log.error({ err: cause }, 'the interruption could not be recorded before the stop: the next start records it INTERRUPTED; a person must check');
            return unrecorded;
          }
          // Nor does a store whose fault only a restart clears (a commit whose outcome is not
          // known, the database file lost, the audit log keyed otherwise by another rectify):
          // retrying would keep the run (and a `run --local`) waiting for ever.
          if (deps.store.faultKind() === 'lasting') {
            log.error({ err: cause }, 'the interruption cannot be recorded until rectify restarts: the next start records it INTERRUPTED; a person must check');
            return unrecorded;
          }
          log.warn({ err: cause }, 'the interruption could not be recorded yet; retrying');
          // A stop's abort during the wait ends it: the next attempt is then bounded by the stop.
          await sleep(Math.min(delay, left()), abortedAt === undefined ? signal : undefined).catch(() => undefined);
        }
      }
    }
  };
}

/**
 * A store fault, as a run's outcome tells it: a commit that failed recorded nothing of that
 * write only (the steps before it were), and re-sending the alert changes nothing (it is a
 * duplicate), so the store's "nothing was recorded, retry later", meant for a request's
 * sender, is not said.
 */
function recordFault(err: unknown): string {
  if (isRectifyError(err) && err.code === 'STORE_UNAVAILABLE' && !isOutcomeUnknown(err.details)) {
    const c = err.cause as { code?: unknown; message?: unknown } | undefined;
    const code = typeof c?.code === 'string' ? `${c.code}: ` : '';
    return typeof c?.message === 'string' ? `the database could not commit (${code}${c.message})` : 'the database could not commit';
  }
  return errorMessage(err);
}

export type ExecutionRunner = ReturnType<typeof createExecutionRunner>;

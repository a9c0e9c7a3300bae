import type { AuditEventName, DecisionAction, Incident } from '../domain/index.js';
import type { AuditRecord } from './audit-verify.js';

export type { AuditRecord } from './audit-verify.js';

/**
 * The store speaks the domain. Decisions are taken inside `transact`: the guard
 * state read there and the changes written there commit together, so concurrent
 * requests cannot both consume the last unit of a rate limit.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitRecord {
  state: CircuitState;
  failures: number;
  openedAt: number | null;
  trialExecutionId: string | null;
}

/** Who paused one runbook, and why (`POST /api/v1/runbooks/{id}/pause`). */
export interface RunbookPause {
  by: string;
  reason: string | null;
  at: number;
}

/** What the guardrail stages may read: consistent within one transaction. */
export interface GuardStateView {
  paused(): boolean;
  /** The runbook's own kill switch, or null when it is not paused. */
  runbookPaused(runbook: string): RunbookPause | null;
  /** The global kill switch: who turned it on, when and why (reason null when none was given); null when not paused. */
  servicePause(): RunbookPause | null;
  circuit(runbook: string): CircuitRecord;
  executionsSince(runbook: string, service: string, sinceMs: number): number;
  /** The start times executionsSince counts, oldest first: when a limit frees, and which are stamped after now. */
  executionTimesSince(runbook: string, service: string, sinceMs: number): readonly number[];
  /**
   * The start of the last run recorded for the runbook and service (what a cooldown runs
   * from), or null: the one recorded last, not the latest time, so that after a clock set
   * back a run recorded since is the last one (not a run before the step, stamped later).
   * Kept for the longest cooldown a runbook may have (a year), not only as long as the
   * rate-limit rows: a cooldown lengthened since the run holds from it all the same.
   */
  lastExecutionAt(runbook: string, service: string): number | null;
  /**
   * The start of the last run whose cooldown a person ended by hand (COOLDOWN_CLEARED)
   * for the runbook (or its Kubernetes-object key) and service (or object), or null:
   * a cooldown from a start at or before it is over. A run started since (consumeRate)
   * takes the clearing away.
   */
  cooldownClearedThrough(runbook: string, subject: string): number | null;
  activeExecutions(): number;
  /** The services the runbook's in-flight executions act on (its blast radius now), each with how many act on it. */
  activeServices(runbook: string): ReadonlyMap<string, number>;
  /**
   * The run of the runbook under way on a Kubernetes object (one of its plan's
   * kubernetesTargets, recorded with its blast-radius claim and released with it), the one
   * claimed last, with the service it runs for; null when none is.
   */
  runUnderWayOn(runbook: string, object: string): RunOnObject | null;
}

/** A run under way on a Kubernetes object (see runUnderWayOn). */
export interface RunOnObject {
  executionId: string;
  service: string;
}

export interface AuditInput {
  at: number;
  event: AuditEventName;
  incident_id?: string | null;
  runbook?: string | null;
  execution_id?: string | null;
  actor: string;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  seq: number;
  at: string;
  event: AuditEventName;
  incident_id: string | null;
  runbook: string | null;
  execution_id: string | null;
  actor: string;
  /** The JSON object rectify wrote; the stored text when it is not one (`details_unreadable`). */
  details: Record<string, unknown> | string;
  /** Present (true) when the stored details are not a JSON object: the row was changed behind rectify's back. */
  details_unreadable?: true;
}

/** One record of a notification's delivery to one receiver: a NOTIFIED or NOTIFY_FAILED row. */
export interface DeliveryRecord {
  ok: boolean;
  /** The receiver (the notifier's name). */
  notifier: string;
  detail: string;
  /** When the row was written (epoch ms). */
  at: number;
  /** The row's place in the audit log: the order the records were written in, whatever the clock read. */
  seq?: number;
  /** The attempts the delivery made (0: none was made: dropped, held back, passed over, not sent at a stop). */
  attempts?: number;
}

/**
 * The audit row of an event told one by one that recorded its notification (its
 * `notification_id` and what was told, see notify/outbox.ts), with every record of
 * that notification's delivery, whenever written.
 */
export interface ToldRow {
  seq: number;
  /** Epoch ms. */
  at: number;
  event: AuditEventName;
  incident_id: string | null;
  runbook: string | null;
  execution_id: string | null;
  details: Record<string, unknown>;
  deliveries: DeliveryRecord[];
}

/**
 * A decision the repeat filter counts (notify/repeats.ts), read back from the audit log:
 * an alert's or a manual run's `blocked` or `manual` decision (its row, and the outcome and
 * service of its incident), or an ALERTS_TRUNCATED notice past the bound of those told one
 * by one (a row that records no notification; outcome `manual`).
 */
export interface RepeatableRow {
  seq: number;
  /** Epoch ms. */
  at: number;
  event: AuditEventName;
  incident_id: string | null;
  runbook: string | null;
  service: string | null;
  outcome: 'blocked' | 'manual';
  details: Record<string, unknown>;
}

/** The repeat filter's state as of the audit row `through` (see engine/repeats-readback.ts). */
export interface RepeatsCheckpoint {
  through: number;
  state: unknown;
}

export interface IncidentRow {
  incident: Incident;
  action: DecisionAction;
  event: AuditEventName;
  runbook: string | null;
  reason: string;
  approval_id: string | null;
  execution_id: string | null;
}

/**
 * What was decided for one stored occurrence, without the incident itself: all a
 * re-delivery (answered with the first decision) or a resolve (which names the
 * firing incident) needs. Most of a long storm's deliveries are re-deliveries.
 */
export type StoredDecision = Pick<IncidentRow, 'action' | 'event' | 'runbook' | 'approval_id' | 'execution_id'> & { incident_id: string };

export type ExecutionState = 'running' | 'succeeded' | 'failed' | 'aborted' | 'interrupted';
/**
 * The outcome of a run rectify stopped before its first step, by a stop (the runner's
 * end of it) or a crash (startup recovery's), both through execute/before-first-step.ts:
 * the runner records every step durably before it starts it, so such a run changed
 * nothing, and the execution view does not leave it to a person (needs_human false).
 * Not a run whose first step's start a store fault kept from being recorded: rectify did
 * not stop it, its remediation did not happen, and its own outcome names the fault
 * (firstStepUnrecordedOutcome), left to a person.
 */
export const INTERRUPTED_BEFORE_FIRST_STEP = 'interrupted before its first step: nothing was changed';
/**
 * The settings key of the mark a copied database carries until its first start's recovery
 * (Tx.databaseCopy): the value says where the copy came from (`restored by rectify restore
 * from <backup> at <time>`, `copied while <holder> had it open, or after it stopped without closing it …`).
 */
export const DATABASE_COPY_KEY = 'recovery:database-copy';
/**
 * The outcome of a run startup recovery found under way, before its first step, in a
 * database that is a copy (a restored backup, a file copied while in use): what the
 * service it was copied from did with it afterwards is not known, so a person checks it
 * (needs_human true).
 */
export const INTERRUPTED_IN_COPY = 'interrupted: under way when this database was copied; what happened to it after is not known';
export type ExecutionTrigger = 'auto' | 'approval' | 'manual';

export interface StepRecord {
  phase: 'pre_check' | 'action' | 'post_check' | 'rollback';
  index: number;
  summary: string;
  started_at: number;
  finished_at: number | null;
  ok: boolean | null;
  detail: string | null;
  /** What an action found and changed (the replicas before a scale, whether a node was cordoned already): what a person undoing it by hand needs. */
  facts?: Record<string, string>;
  /** A failed check whose last try could not measure (no data, NaN, an error, no answer). */
  inconclusive?: true;
  /**
   * A failed action whose write got no answer saying whether it was applied, or whose
   * program was killed at its deadline or left a process running: what it changed is not known.
   */
  unconfirmed?: true;
  /**
   * An action that changed nothing: done without effect, refused by rectify's own rule,
   * or answered "not now" by the target. Read by crash recovery: a run whose failing
   * action was refused before any action of it changed anything had not failed.
   */
  unchanged?: true;
  /** A failed action refused before it changed anything: by rectify's own rule (`rule`), or by the target's "not now" (`not_now`). */
  refused?: 'rule' | 'not_now';
  /**
   * A step that ended failed while a stop's abort was in force: the abort may have ended
   * it (a request cut, a program killed), so its failure is no verdict on the runbook.
   * Recorded with the step's end, so crash recovery, finding the run's end unrecorded,
   * reads it as the stop did: cut off, as if never finished (see cutOffVerdict). Not set
   * on a refusal the run ends as such (withoutVerdictInSteps), which a stop leaves as it is.
   */
  stopped?: true;
}

export interface ExecutionRow {
  id: string;
  incident_id: string | null;
  runbook: string;
  service: string;
  state: ExecutionState;
  trigger: ExecutionTrigger;
  actor: string;
  plan: unknown;
  steps: StepRecord[];
  started_at: number;
  finished_at: number | null;
  success: boolean | null;
  rolled_back: boolean | null;
  outcome: string | null;
  circuit_trial: boolean;
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

/** One approver's vote on a request that needs more than one. */
export interface ApprovalVote {
  /**
   * The actor, as recorded in the audit log: a token name, the stated `by`, the rectify
   * name `--slack-approvers` gives a Slack user, or `slack:<Slack user id>` for one given none.
   */
  by: string;
  /** What makes two votes the same person's: the actor, or a stable id (`slack-id:<Slack user id>`) for a Slack user given no name. */
  identity: string;
  at: number;
  comment: string | null;
  /**
   * The Slack account that cast it from a button, if one did (absent in votes recorded
   * before it was kept). A later click by the same account is the same person's, whatever
   * name `--slack-approvers` gives it by then.
   */
  slack_user_id?: string;
}

/**
 * The one verdict on whether a person must check what a run left (the execution view's
 * `needs_human`, and the notification of the run's end): its outcome is unknown
 * (interrupted, unless a stop or a crash cut it off before its first step: it changed
 * nothing; one a store fault kept from recording its first step is a person's too, as
 * the remediation did not happen), it failed and so did the rollback meant to undo what it changed, or the run
 * said so as it ended (`endNeedsHuman`: its FAILED row's `needs_human`, Tx.executionEndNeedsHuman):
 * its rollback was held because the verification could not measure (`on_no_data:
 * needs_human`, after an action that may have changed something; with no rollback in the
 * runbook there is none to hold, and it is the person's all the same), or an action sent a
 * write whose answer never said whether it was applied and no rollback ran after it to
 * find out and undo it. The runner's verdict is read, not guessed again from the steps: a
 * run whose actions changed nothing ran no rollback and held none.
 */
export function executionNeedsHuman(e: Pick<ExecutionRow, 'state' | 'outcome' | 'steps'>, endNeedsHuman: boolean): boolean {
  if (e.state === 'interrupted') return !(e.outcome === INTERRUPTED_BEFORE_FIRST_STEP && e.steps.length === 0);
  if (e.state !== 'failed') return false;
  if (e.steps.some((s) => s.phase === 'rollback' && s.ok === false)) return true;
  return endNeedsHuman;
}

/**
 * The Slack account that cast a stored vote, if one did: its `slack_user_id`, else the id
 * in an identity `slack-id:<id>` (a Slack user given no name, in votes recorded before
 * `slack_user_id` was kept). A vote recorded before then under a name carries no id.
 */
export function voteSlackUserId(v: Pick<ApprovalVote, 'identity' | 'slack_user_id'>): string | undefined {
  if (v.slack_user_id !== undefined) return v.slack_user_id;
  return v.identity.startsWith('slack-id:') ? v.identity.slice('slack-id:'.length) : undefined;
}

export interface ApprovalRow {
  id: string;
  incident_id: string;
  alert_key: string | null;
  runbook: string;
  service: string;
  status: ApprovalStatus;
  reason: string;
  plan: unknown;
  requested_at: number;
  requested_by: string;
  expires_at: number;
  approvals_required: number;
  /** Approvals cast so far, oldest first; the request is approved when there are approvals_required of them. */
  votes: ApprovalVote[];
  decided_at: number | null;
  decided_by: string | null;
  comment: string | null;
  execution_id: string | null;
  /**
   * The people who asked for it, decided when each asked: the author of a manual run, and
   * the API tokens that may do more than send alerts (a person's) whose alert opened or
   * joined it; an alert sent with an ingest-only token (Alertmanager's) or without tokens
   * adds no one. None of them may approve it, nor may a Slack user given no name, who
   * cannot be told apart from them. Null for a request recorded before it was kept.
   */
  asked_by: string[] | null;
  /**
   * What later alerts asking for the same plan join the request by (a digest of the
   * runbook, the service and the rendered plan), or null when nobody may join it.
   */
  plan_key: string | null;
  /** How many alerts asked for it: the one that opened it and those that joined it, resolved or not (0 for a manual run's). */
  alerts: number;
  /**
   * Of those, how many are not resolved yet, whether the request is pending or decided:
   * the last resolve cancels a pending request; a decision resolves no alert.
   */
  alerts_open: number;
}

/** Synchronous on purpose: one transaction never awaits, so it cannot interleave. */
export interface Tx extends GuardStateView {
  decisionByDedup(dedupKey: string): StoredDecision | undefined;
  /** The occurrence of this incident row was delivered again at `at`: its dedup key is kept the dedup retention from then. */
  incidentSeen(incidentId: string, at: number): void;
  insertIncident(row: IncidentRow): void;
  /**
   * The incident row's decision replaced by a new one, taken on a re-delivery of its
   * occurrence (see decidedAgainOnRedelivery, engine/apply.ts); its report stays as first stored.
   */
  redecideIncident(incidentId: string, decision: Omit<IncidentRow, 'incident'>): void;
  getIncident(id: string): IncidentRow | undefined;
  appendAudit(input: AuditInput): number;

  insertExecution(row: ExecutionRow): void;
  getExecution(id: string): ExecutionRow | undefined;
  updateExecution(id: string, patch: Partial<Pick<ExecutionRow, 'state' | 'steps' | 'finished_at' | 'success' | 'rolled_back' | 'outcome'>>): void;
  runningExecutions(): ExecutionRow[];
  /**
   * Whether the run's end was recorded as left to a person: its FAILED row says
   * `needs_human: true` (its rollback held on a verification that could not measure, or a
   * write whose answer never said whether it was applied with no rollback after it). Read
   * through the audit log's execution index (a run has a handful of rows).
   */
  executionEndNeedsHuman(executionId: string): boolean;
  /**
   * The runbook's last CIRCUIT_CLOSED row (a trial's success, or a person's close) when it
   * was written after the run started (its first audit row: its decision, written with its
   * execution row), read by the log's order, not the clock; `trialExecutionId` is the trial
   * a close by hand found under way (the row's `trial_execution_id`), or null. Undefined
   * when the circuit has not closed since the run started, or no row of the run is recorded.
   */
  circuitClosedSinceStart(runbook: string, executionId: string): { trialExecutionId: string | null } | undefined;

  consumeRate(runbook: string, service: string, at: number, executionId: string): void;
  /**
   * Claims a slot of the blast radius for a run starting, and records the Kubernetes
   * objects it acts on (`objects`: its plan's kubernetesTargets) as under way, which the
   * blast radius does not count (see runUnderWayOn).
   */
  claimBlastRadius(executionId: string, runbook: string, service: string, at: number, objects?: readonly string[]): void;
  /** Releases a run's claim, and its objects with it. */
  releaseBlastRadius(executionId: string): void;
  /**
   * Releases the blast-radius claims whose execution is not running (none should be:
   * a claim is taken with its run and released with its end), and the objects of every
   * run whose claim is gone. Startup recovery calls it after the runs a crash cut off are
   * released, so a claim left behind cannot hold its runbook's slots, and its service's
   * and objects' cooldown ("still running"), for ever. The claims released.
   */
  releaseOrphanedClaims(): Array<{ execution_id: string; runbook: string; service: string }>;
  /**
   * The runs of the runbook under way (its blast-radius claims, what activeServices counts),
   * per service: the execution claimed last there. What the runbook view names as holding a
   * service's cooldown ("while exe_… runs").
   */
  runsUnderWay(runbook: string): ReadonlyMap<string, string>;
  /**
   * The Kubernetes objects the runbook's runs under way act on (recorded with their
   * blast-radius claims, see runUnderWayOn), per object: the run claimed last there, the
   * one runUnderWayOn answers. What the runbook view names as holding an object's cooldown.
   */
  objectsUnderWay(runbook: string): ReadonlyMap<string, RunOnObject>;
  setCircuit(runbook: string, record: CircuitRecord, at: number): void;
  /** The last start recorded per service (or object, for a runbook's Kubernetes-object key), as the cooldown reads them (see lastExecutionAt); by service. */
  lastExecutionPerService(runbook: string): Array<{ service: string; at: number }>;
  /** Ends the cooldown of the runs started up to `through` (see cooldownClearedThrough). */
  clearCooldown(runbook: string, subject: string, through: number): void;

  insertApproval(row: ApprovalRow): void;
  getApproval(id: string): ApprovalRow | undefined;
  updateApproval(id: string, patch: Partial<Pick<ApprovalRow, 'status' | 'decided_at' | 'decided_by' | 'comment' | 'execution_id' | 'votes' | 'asked_by'>>): void;
  /** Pending requests the alert opened or joined. */
  pendingApprovalsForAlert(alertKey: string): ApprovalRow[];
  /** The pending, unexpired request for a plan key, if any. */
  pendingApprovalForPlan(planKey: string, now: number): ApprovalRow | undefined;
  /** How many requests of a runbook are pending and unexpired at `now` (alerts' and manual runs' alike). */
  pendingApprovalsOf(runbook: string, now: number): number;
  /** Adds an alert to a pending request (the one that opens it is added by insertApproval); answers how many it stands for now. */
  joinApproval(approvalId: string, alertKey: string, incidentId: string): number;
  /** Takes a resolved alert out of a pending request; answers how many alerts are left in it. */
  leaveApproval(approvalId: string, alertKey: string): number;
  /** A resolved alert no longer counts as open in any request it asked in, decided ones included (their alerts_open). */
  alertResolved(alertKey: string): void;
  expiredApprovals(now: number): ApprovalRow[];
  /** Pending requests not yet expired at `now`, oldest first. */
  pendingApprovals(now: number): ApprovalRow[];
  /**
   * The receivers (notifier names) a notification of `about` (APPROVAL_REQUIRED, say) for
   * the incident reached: those its NOTIFIED audit rows name. Read through the audit
   * log's incident index (an incident has a handful of rows), never a scan of the log.
   * With `notificationId`, only the rows of that notification, and those recording none
   * (written before rows recorded it): an incident may have asked more than once (its
   * alert decided again after its request expired), each request its own notification.
   */
  notifiedReceivers(incidentId: string, about: AuditEventName, notificationId?: string): string[];
  /** Every record (NOTIFIED, NOTIFY_FAILED) of one notification's delivery, oldest first: read through their index by notification_id. */
  deliveries(notificationId: string): DeliveryRecord[];
  /**
   * The audit rows of events told one by one (TOLD_EVENTS) written at or after `since`
   * that recorded their notification, newest first, at most `limit`, each with its
   * delivery records. Read through indexes over those rare rows only: an alert storm's
   * millions of rows are never walked.
   */
  toldSince(since: number, limit: number): ToldRow[];
  /**
   * The same rows, oldest first, from the one after `after` (by time, then seq), at most
   * `limit`: the notifications a full queue held back are read back from them (notify/queue.ts).
   */
  toldAfter(after: { at: number; seq: number }, limit: number): ToldRow[];

  /** The seq of the newest audit row (0: none). */
  auditHead(): number;
  /** The newest audit row's seq and time (epoch ms), if the log has a row. */
  auditNewest(): { seq: number; at: number } | undefined;
  /**
   * The lowest seq of a row written at or after `at` (epoch ms), null when none: read
   * from the index on `at` (migration 010), so it costs the rows since `at`, not the log.
   */
  firstAuditSince(at: number): number | null;
  /**
   * The decisions the repeat filter counts (RepeatableRow) recorded after the audit row
   * `after`, oldest first, at most `limit`: a walk of the log from that row on (the rows
   * since the filter's last checkpoint, a few seconds' worth).
   */
  repeatableAfter(after: number, limit: number): RepeatableRow[];
  /** The repeat filter's last checkpoint, if one was written. */
  repeatsCheckpoint(): RepeatsCheckpoint | undefined;
  /** Writes the checkpoint, given as its JSON (a RepeatsCheckpoint), made before the transaction. */
  setRepeatsCheckpoint(json: string, at: number): void;

  /**
   * The key notification receivers' names hash their URL with (notify/receiver.ts):
   * random, made the first time it is asked for (at `at`) and kept in the database, so
   * a receiver keeps its name across restarts. Never shown anywhere.
   */
  receiverKey(at: number): string;

  /**
   * The guard and prune horizons the last process saved (lib/clock.ts saveGuardClock), as
   * written; null when none was. A start on the same boot goes on from them.
   */
  guardClock(): string | null;
  setGuardClock(value: string, at: number): void;

  /**
   * What marks this database as a copy of another (DATABASE_COPY_KEY): put in place by
   * `rectify restore`, or a copy taken while a rectify had the database open (a holder
   * record naming another file, found by the serve's open); null when it is no copy, or the
   * mark was consumed. Startup recovery reads it: what a run under way in the copy did
   * after the copy was taken is not known. Its recovery removes it (clearDatabaseCopy).
   */
  databaseCopy(): string | null;
  clearDatabaseCopy(): void;

  /** `reason` is kept while paused (servicePause), forgotten on resume. */
  setPaused(paused: boolean, by: string, at: number, reason?: string | null): void;
  /**
   * How many alerts a kill switch held off since it was last turned on (its latest
   * SERVICE_PAUSED row, or with `runbook` that runbook's latest RUNBOOK_PAUSED row), per
   * runbook, by the audit's PAUSED rows written after it: alerts decided `blocked` /
   * `PAUSED`, and automatic runs stopped by a pause before they acted. With `runbook`, of
   * that runbook only (held off by either switch). Read by the log's order, not the clock.
   */
  heldByPause(runbook?: string): Array<{ runbook: string; alerts: number }>;
  /**
   * How many alerts a runbook's breaker held off since its circuit last closed (its latest
   * CIRCUIT_CLOSED row, or the start of the log), by the audit's CIRCUIT_OPEN rows written
   * after it: alerts decided `blocked` / `CIRCUIT_OPEN`, manual runs left out. Read by the
   * log's order, not the clock.
   */
  heldByCircuit(runbook: string): number;
  /** Pauses one runbook (`pause` given) or lifts its pause (null). */
  setRunbookPaused(runbook: string, pause: RunbookPause | null): void;
  /** Every paused runbook, by id. */
  pausedRunbooks(): Map<string, RunbookPause>;
}

export interface AuditQuery {
  incident_id?: string;
  runbook?: string;
  execution_id?: string;
  event?: string;
  since?: number;
  /** Rows with seq below this (the cursor of the previous page). */
  before?: number;
  limit: number;
}

/** Where a page of approval requests ends: the next page holds the requests listed after this one. */
export interface ApprovalCursor {
  requested_at: number;
  id: string;
}

export interface ApprovalQuery {
  status?: ApprovalStatus;
  limit: number;
  /** Requests listed after this one (the `next` of the previous page): older, or as old with a lower id. */
  after?: ApprovalCursor;
}

export interface ApprovalPage {
  approvals: ApprovalRow[];
  /** Where the next (older) page starts, or null when no request is listed after this page. */
  next: ApprovalCursor | null;
  /** How many requests of `status` (every one without it) there are now, on every page together. */
  total: number;
}

/** Audit rows as stored, with their chain hashes, oldest first (export and verification page through these). */
export interface AuditRecordQuery {
  /** Rows with seq above this (`-Infinity`: every row, also one at seq 0 or below). */
  afterSeq: number;
  /** Rows written at or after this time (epoch ms). */
  since?: number;
  limit: number;
}

export interface StoreHealth {
  ok: boolean;
  /** Why not, when not ok (the last write fault, still present). */
  detail: string | null;
}

export interface RunbookStats {
  /** Executions started in the last hour, every service together. */
  executionsLastHour: number;
  /**
   * The service with the most executions in the last hour as max_per_hour counts them
   * (that limit is per service), and how many; null when none. Ties go to the first name.
   */
  busiestServiceLastHour: { service: string; executions: number } | null;
  succeeded: number;
  failed: number;
  lastExecutionAt: number | null;
}

export interface PruneRetention {
  dedupMs: number;
  historyMs: number;
  /**
   * The longest `cooldown_minutes` of the loaded runbooks: the rate-limit rows are kept
   * that long when it is longer than the hour `max_per_hour` looks back. The last start
   * of each runbook and service, which the cooldown reads, is kept for the longest
   * cooldown a runbook may have (MAX_COOLDOWN_MS), whatever is loaded.
   */
  cooldownMs?: number;
}

export interface PruneResult {
  rateEvents: number;
  incidents: number;
  executions: number;
  approvals: number;
  /** A table hit the limit: there is more to prune. */
  more: boolean;
}

export interface TransactOptions {
  /** New intake, which the sender retries: refused past --max-pending. */
  refusable?: boolean;
  /**
   * The longest this unit waits for a write lock another connection holds, when its caller
   * must answer sooner than --db-busy-timeout (a Slack click, answered within Slack's 3 s):
   * past it the unit is refused STORE_UNAVAILABLE, nothing of it recorded, as one that waited
   * out --db-busy-timeout is. Longer than --db-busy-timeout changes nothing.
   */
  lockWaitMs?: number;
}

export interface Store {
  /**
   * Runs `work` in a transaction shared with other requests arriving together (group
   * commit). `refusable` work (intake) is refused with OVERLOADED while more than
   * --max-pending units wait; everything else (an execution's own records, a
   * person's action) always waits its turn: refusing it would lose what is done.
   */
  transact<T>(work: (tx: Tx) => T, opts?: TransactOptions): Promise<T>;
  /** Reads outside any write transaction (a consistent snapshot of committed state). */
  read<T>(work: (tx: Tx) => T): T;
  /** The events of one `auditPage` (a filter no index serves may give fewer than `limit` on a long log). */
  queryAudit(q: AuditQuery): AuditRow[];
  /**
   * One page of the audit log, newest first, and where the next (older) page starts
   * (`before` for it), or null when no older row matches. A filter no index serves (event, since)
   * scans a bounded number of rows per page, so a page can hold fewer than `limit`
   * rows and still have a next one: paging never stalls the service on a long log.
   */
  auditPage(q: AuditQuery): { events: AuditRow[]; nextBefore: number | null };
  /**
   * One page of approval requests, newest first (requested_at, then id, both never
   * changed), and the cursor of the next one. The cursor is the last row's sort key,
   * not an offset: a request opened meanwhile sorts before it and one decided meanwhile
   * leaves the status without moving the others, so paging on neither repeats nor skips
   * a request that stays listed.
   */
  approvalPage(q: ApprovalQuery): ApprovalPage;
  runbookStats(runbook: string, now: number): RunbookStats;
  /**
   * Removes what no guardrail reads any more: rate-limit rows older than the longest
   * window, dedup keys (incident rows) not delivered again for the dedup retention, and finished
   * executions and decided approvals older than the history retention (a decided approval
   * not while an incident it stands for is stored: its alert's re-delivery reads it). At most
   * `limit` rows per table per call, so a large backlog never stalls intake: call
   * again while `more` is true. The audit log is never pruned.
   */
  prune(now: number, retention: PruneRetention, limit?: number): PruneResult;
  ping(): boolean;
  /** Whether the store takes writes: after a write fault it probes until one succeeds. */
  health(): StoreHealth;
  /**
   * The write fault standing now, read without touching the database (for a metrics
   * scrape): `lasting` (only a restart clears it), `transient` (the last write failed:
   * a lock held elsewhere past the busy timeout, a full disk, a read-only file; until a
   * write succeeds, or `health()` finds it cleared), or null.
   */
  faultKind(): 'lasting' | 'transient' | null;
  auditRecords(q: AuditRecordQuery): AuditRecord[];
  /** The highest audit seq ever assigned (rows deleted at the end of the log leave it above the newest row). */
  auditHighWater(): number;
  /**
   * With an audit key, the row the service writes first: AUDIT_KEY_SET when the newest
   * audit row is not keyed, AUDIT_KEY_ROTATED when it is under a previous key; else null.
   */
  auditKeyRowNeeded(): 'AUDIT_KEY_SET' | 'AUDIT_KEY_ROTATED' | null;
  /** Units waiting for the next commit: the overload signal. */
  pending(): number;
  close(): void;
}

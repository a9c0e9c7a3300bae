import type { Runbook } from './runbook.js';

/** The seed's outcome words plus ours (spec §2, "Decision result"). */
export const DECISION_ACTIONS = [
  'executed',
  'approval_required',
  'manual',
  'blocked',
  'aborted',
  'duplicate',
  'dry_run',
  'resolved',
] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];

/** The audit vocabulary: the seed's events, then ours. */
export const AUDIT_EVENTS = [
  'NO_RUNBOOK',
  'LOW_CONFIDENCE',
  'CIRCUIT_OPEN',
  'RATE_LIMITED',
  'BLAST_LIMITED',
  'APPROVAL_REQUIRED',
  'PRE_CHECK_FAILED',
  'EXECUTING',
  'SUCCESS',
  'ROLLED_BACK',
  'FAILED',
  'DUPLICATE',
  'PAUSED',
  'OUTSIDE_WINDOW',
  'COOLDOWN',
  'DRY_RUN',
  'APPROVED',
  'APPROVAL_VOTE',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
  'RESOLVED',
  'INTERRUPTED',
  'CIRCUIT_TRIPPED',
  'CIRCUIT_HALF_OPEN',
  'CIRCUIT_CLOSED',
  'CIRCUIT_WAIT_RESTARTED',
  'PARAM_REFUSED',
  'EXECUTOR_UNAVAILABLE',
  'GUARDRAIL_FAILED',
  'STEP_STARTED',
  'STEP_FINISHED',
  'ROLLBACK_FAILED',
  'DISRUPTION_BLOCKED',
  'MANUAL_RUN',
  'SERVICE_PAUSED',
  'SERVICE_RESUMED',
  'RUNBOOK_PAUSED',
  'RUNBOOK_RESUMED',
  'DECISION_ERROR',
  'NOTIFIED',
  'NOTIFY_FAILED',
  'AUDIT_KEY_SET',
  'AUDIT_KEY_ROTATED',
  'ALERTS_TRUNCATED',
  'INTAKE_REFUSED',
  'RUNBOOKS_RELOADED',
  'RUNBOOKS_RELOAD_REFUSED',
  'COOLDOWN_CLEARED',
  'RESOLVED_BEFORE_ACTION',
] as const;
export type AuditEventName = (typeof AUDIT_EVENTS)[number];

/**
 * The events told one by one whose audit rows record their notification (see
 * notify/outbox.ts): told again after a restart to a receiver that has no record of
 * it. Rare rows, never an alert storm's decisions: an approval request leaves the
 * pending state once (APPROVED, REJECTED, EXPIRED, CANCELLED), however many alerts
 * joined it, and takes at most approvals_required - 1 votes before (APPROVAL_VOTE); an
 * intake request refused as a whole (INTAKE_REFUSED) is told at most once per route and
 * reason a minute; a circuit closed or a cooldown ended by hand (CIRCUIT_CLOSED,
 * COOLDOWN_CLEARED) is a person's act (a trial run's CIRCUIT_CLOSED records no
 * notification); an Alertmanager notification cut short (ALERTS_TRUNCATED) is told one
 * by one once per group a minute, and for ten groups a minute at most
 * (engine/truncations.ts): the others are told as `manual` notifications, which the
 * repeat filter sums up in a storm, and their rows record none; an automatic run stopped
 * before its next action by a kill switch or its alert's resolve (PAUSED,
 * RESOLVED_BEFORE_ACTION) is one run's end, while PAUSED is also the event of a decision
 * (an alert held off by a pause: a storm's `blocked` notifications, summed up by the
 * repeat filter), whose row records none. The latest migration that builds the
 * `audit_told` index (015) indexes exactly these rows (an ALERTS_TRUNCATED or PAUSED row
 * only when it records its notification: see NOTIFIED_ONLY), with its predicate written
 * in this order (the store's query repeats it, and SQLite uses a partial index only for
 * a query that repeats its predicate).
 */
export const TOLD_EVENTS = [
  'SUCCESS',
  'FAILED',
  'ROLLED_BACK',
  'ROLLBACK_FAILED',
  'PRE_CHECK_FAILED',
  'DISRUPTION_BLOCKED',
  'INTERRUPTED',
  'CIRCUIT_TRIPPED',
  'EXPIRED',
  'SERVICE_PAUSED',
  'SERVICE_RESUMED',
  'RUNBOOK_PAUSED',
  'RUNBOOK_RESUMED',
  'RUNBOOKS_RELOAD_REFUSED',
  'APPROVED',
  'REJECTED',
  'CANCELLED',
  'INTAKE_REFUSED',
  'APPROVAL_VOTE',
  'CIRCUIT_CLOSED',
  'COOLDOWN_CLEARED',
  'ALERTS_TRUNCATED',
  'PAUSED',
  'RESOLVED_BEFORE_ACTION',
] as const satisfies readonly AuditEventName[];

/**
 * The events of TOLD_EVENTS whose rows are told again only when they record their
 * notification: the event is also written, in numbers, by what is not told one by one
 * (an ALERTS_TRUNCATED notice past its bound, a PAUSED decision). The `audit_told`
 * index's predicate (migration 015) reads the row's details for these only.
 */
export const NOTIFIED_ONLY: ReadonlySet<(typeof TOLD_EVENTS)[number]> = new Set(['ALERTS_TRUNCATED', 'PAUSED']);

/** Filled-in action, ready for an executor: no placeholder left. */
export interface RenderedStep {
  index: number;
  phase: 'action' | 'rollback';
  type: 'kubernetes' | 'http' | 'command';
  /** Human-readable form for the audit log and approvers (secrets are never in it). */
  summary: string;
  spec: unknown;
}

export interface Plan {
  params: Record<string, string>;
  actions: RenderedStep[];
  rollback: RenderedStep[] | null;
}

/** What the pipeline says about one incident. A block is a value, not an exception. */
export type Verdict =
  | { kind: 'manual'; event: AuditEventName; reason: string; runbook?: Runbook }
  | { kind: 'blocked'; event: AuditEventName; reason: string; runbook: Runbook }
  | { kind: 'approval'; event: 'APPROVAL_REQUIRED'; reason: string; runbook: Runbook; plan: Plan }
  | { kind: 'execute'; event: 'EXECUTING'; reason: string; runbook: Runbook; plan: Plan; circuitTrial: boolean }
  | { kind: 'dry_run'; event: 'DRY_RUN'; reason: string; runbook: Runbook; plan: Plan };

/** The decision result, as the API answers it (spec §2). */
export interface DecisionResult {
  incident_id: string;
  action: DecisionAction;
  runbook: string | null;
  reason: string;
  event: AuditEventName;
  approval_id: string | null;
  execution_id: string | null;
  /** With `?wait=true`, once the execution ended. */
  success?: boolean;
  rolled_back?: boolean;
}

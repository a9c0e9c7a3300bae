import type { AuditEventName } from '../domain/index.js';

/**
 * The plan an approval request asks to run, as the approver reads it: each action's
 * one-line summary, and the rollback's (null: none). The summaries leave headers and
 * bodies out, where secrets live (and secret references stay unresolved).
 */
export interface NotificationPlan {
  actions: string[];
  rollback: string[] | null;
}

/** What a person is told: a decision that needs them, an execution outcome, a breaker trip. */
export interface NotificationEvent {
  event: AuditEventName;
  incident_id: string | null;
  runbook: string | null;
  service: string | null;
  execution_id: string | null;
  approval_id: string | null;
  /** The decision result word or the execution state. */
  outcome: string;
  reason: string;
  /**
   * Set on every notification of a run's end (its outcome: succeeded, failed, rolled
   * back, rollback failed, aborted, interrupted): whether a person must check what the
   * run left, the execution view's `needs_human` (store executionNeedsHuman). When true,
   * the reason says so.
   */
  needs_human?: boolean;
  at: number;
  /**
   * One notification's id (`ntf_…`), set by the queue when it is queued unless it has
   * one (an event told one by one, an approval request: told again with it after a restart): the same on
   * every attempt to deliver it, so a receiver that got it already (a retry after a
   * timed-out attempt it did answer) can tell. The webhook sends it as `Idempotency-Key` too.
   */
  notification_id?: string;
  /** The runbook's owner: who is asked to approve it (set for approval requests). */
  owner?: string;
  /** What Approve would run (set for approval requests). */
  plan?: NotificationPlan;
  /**
   * Set on a summary: how many more decisions like this one (same event, runbook and
   * service) were taken within --notify-repeat-window and not told one by one.
   */
  repeated?: number;
  /** Set on a summary for a runbook over many services: how many services it covers (`service` is then null). */
  repeated_services?: number;
  /**
   * Set (true) on what a receiver is sent when the delivery is made in a round after its
   * first (the receiver failed, or was failing, when it was first due): it comes late,
   * maybe after notifications of later events, and its reason ends saying when it happened
   * (notify/queue.ts delayedNote). Never recorded: the audit log has the notification as told.
   */
  delayed?: boolean;
  /**
   * Set on an approval request's settlement decided by a Slack button click whose answer
   * replaces the request's own message with the outcome, and on a vote cast by such a
   * click on a request that needs another approver (its message replaced with the request
   * as it stands: who approved, the buttons still there): Slack shows it there, so the
   * Slack receiver is not told it again as a message of its own (Notifier.tells). Never
   * sent to a receiver.
   */
  shown_in_slack?: boolean;
}

/** One destination. `send` throws (or rejects) on failure; retries are the queue's job. */
export interface Notifier {
  /** For the audit log and logs: never a secret (a webhook's path can be one). */
  readonly name: string;
  send(event: NotificationEvent, signal: AbortSignal): Promise<void>;
  /** Whether this receiver is told the notification at all (absent: every one). */
  tells?(event: NotificationEvent): boolean;
}

/** Whether a notifier is told a notification: see Notifier.tells. */
export function tellsTo(n: Pick<Notifier, 'tells'>, event: NotificationEvent): boolean {
  return n.tells?.(event) ?? true;
}

/** The port the engine and runner call: fire and forget, never throws, never waits. */
export type Notify = (event: NotificationEvent) => void;

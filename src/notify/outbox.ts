import { TOLD_EVENTS } from '../domain/index.js';
import { newId } from '../lib/index.js';
import type { RoundsSpent } from './queue.js';
import type { NotificationEvent } from './types.js';

/**
 * The audit log is the outbox. Notifications wait to be sent in memory (queue.ts):
 * a crash loses those not delivered yet, and a stop records those still waiting as
 * not sent. So the audit row of an event told one by one (an execution outcome, a
 * breaker trip, an approval request approved, rejected, expired or cancelled, a vote on
 * one that needs another approver, a kill switch, a refused runbook reload, an intake
 * request refused as a whole, an Alertmanager notification cut short within the bound
 * told one by one, an automatic run stopped by a pause or a resolve before its next
 * action: TOLD_EVENTS) records its notification when it is written, in the
 * same transaction: the id the
 * receivers get (the NOTIFIED and NOTIFY_FAILED rows name it too) and what they were
 * told, and whom. At startup, one not delivered to a receiver is told to it again
 * from that row (see engine/resend.ts), with the same id, so a receiver that had it
 * after all drops the repeat by its Idempotency-Key. A record of giving it up (rounds
 * spent, refused) settles it as a delivery does: such a record must name its
 * notification_id (see recordsItsNotification). A full queue holds such a notification
 * back rather than drop it: it is read back from this row when there is room.
 *
 * Only these rare rows carry it. What the repeat filter may sum up in an alert storm
 * (blocked and manual decisions, a PAUSED decision among them, the ALERTS_TRUNCATED
 * notices past the bound of those told one by one: engine/truncations.ts) is not told again: a notification counted
 * into a summary has no delivery record of its own, and such a row records none.
 */

/** What an event's own audit row records of its notification, merged into its details. */
export interface ToldDetails {
  notification_id: string;
  told: {
    /** The receivers it was told to (notifier names): a receiver added later is not sent old news. */
    to: string[];
    outcome: string;
    reason: string;
    service: string | null;
    approval_id: string | null;
    /** A run's end: whether a person must check what it left (NotificationEvent.needs_human). */
    needs_human?: boolean;
  };
}

/** A notification given its id before its event is audited, and what the audit row records of it. */
export interface Announced {
  event: NotificationEvent & { notification_id: string };
  details: ToldDetails;
}

export interface Outbox {
  /** The notifiers' names, in order. */
  readonly receivers: readonly string[];
  /** Gives the notification its id now, so the event's audit row can record it (merge `details` into the row's). */
  announce(event: NotificationEvent): Announced;
  /**
   * Tells a notification again to the named receivers only, with its own id (after a
   * restart); `rounds`: the later rounds it already spent on each, by its delivery records
   * (the bound of rounds counts them: the count goes on, it does not start again).
   */
  resend(event: NotificationEvent & { notification_id: string }, receivers: readonly string[], rounds?: ReadonlyMap<string, RoundsSpent>): void;
}

export function createOutbox(opts: {
  receivers: readonly string[];
  /** Whether the named receiver is told a notification (see Notifier.tells): the row's `to` names only those (and Slack for a settlement shown by a click's answer). */
  tells?: (receiver: string, event: NotificationEvent) => boolean;
  resend: Outbox['resend'];
}): Outbox {
  const receivers = Object.freeze([...opts.receivers]);
  return {
    receivers,
    announce(given) {
      const event = { ...given, notification_id: given.notification_id ?? newId('ntf') };
      // A settlement a Slack click's answer is to show in the channel (shown_in_slack) is owed
      // to the Slack receiver all the same, though not sent to it as a message of its own:
      // the answer delivered is recorded as its delivery; failed, or cut off by a crash
      // before either, the Slack receiver lacks it, and is told it after all.
      const owed = event.shown_in_slack ? { ...event, shown_in_slack: false } : event;
      return {
        event,
        details: {
          notification_id: event.notification_id,
          told: {
            to: receivers.filter((r) => opts.tells?.(r, owed) ?? true),
            outcome: event.outcome,
            reason: event.reason,
            service: event.service,
            approval_id: event.approval_id,
            ...(event.needs_human !== undefined ? { needs_human: event.needs_human } : {}),
          },
        },
      };
    },
    resend: opts.resend,
  };
}

/**
 * The notification_id of an approval request's notification, made from the request's
 * id: the same on the first telling and on each telling again after a restart
 * (engine tellAgain), so a receiver that had it after all (delivered, but rectify died
 * before recording it) drops the repeat by its Idempotency-Key. A request is told once
 * (an alert that joins it is not told), so its id names one notification. Its own audit
 * row records no notification: its deliveries are found by the incident and this id (notifiedReceivers).
 */
export function approvalRequestNotificationId(approvalId: string): string {
  return `ntf_${approvalId}`;
}

/**
 * The notification_id of one vote on an approval request that needs more than one
 * approver (`vote`: 1 for the first): one notification per vote, its id made from the
 * request's and the vote's number, so the same vote told again after a restart carries
 * the same id, and two votes never share one. A vote cast where an earlier one no longer
 * counts (its voter asked for the run after voting) takes that vote's number again: the
 * identities of the votes it replaces tell the two apart.
 */
export function approvalVoteNotificationId(approvalId: string, vote: number, replacing: readonly string[] = []): string {
  return `ntf_${approvalId}_vote${vote}${replacing.map((r) => `_replacing_${r}`).join('')}`;
}

const toldEvents: ReadonlySet<string> = new Set(TOLD_EVENTS);

/**
 * Whether a notification is one whose event's own audit row records it (an event told
 * one by one, with its id): a record of its delivery, or of giving it up, must name that
 * id, or startup would take it for never delivered and tell it again. The queue gives
 * every notification an id, so the id alone does not say so: an ALERTS_TRUNCATED notice
 * past the bound of those told one by one (outcome `manual`, engine/truncations.ts) is
 * not announced and its row records nothing, nor is a PAUSED decision, an alert held off
 * by a pause (outcome `blocked`; the run a pause stops before its next action is told
 * `aborted`). Such a notice is summed up like any manual or blocked one: a full queue
 * counts it in its drop burst (there is no row to read it back from), and it gets no
 * later rounds.
 */
export function recordsItsNotification(e: NotificationEvent): boolean {
  if (e.notification_id === undefined || !toldEvents.has(e.event)) return false;
  if (e.event === 'ALERTS_TRUNCATED') return e.outcome !== 'manual';
  if (e.event === 'PAUSED') return e.outcome !== 'blocked';
  return true;
}

/** Reads back what an audit row recorded of its notification; undefined for a row that recorded none (one written before rectify did). */
export function toldDetails(details: Record<string, unknown>): ToldDetails | undefined {
  const id = details.notification_id;
  const told = details.told as Partial<ToldDetails['told']> | undefined;
  if (typeof id !== 'string' || !told || typeof told !== 'object' || !Array.isArray(told.to)) return undefined;
  if (typeof told.outcome !== 'string' || typeof told.reason !== 'string') return undefined;
  return {
    notification_id: id,
    told: {
      to: told.to.filter((t): t is string => typeof t === 'string'),
      outcome: told.outcome,
      reason: told.reason,
      service: typeof told.service === 'string' ? told.service : null,
      approval_id: typeof told.approval_id === 'string' ? told.approval_id : null,
      ...(typeof told.needs_human === 'boolean' ? { needs_human: told.needs_human } : {}),
    },
  };
}

import type { DeliveryRecord, ToldRow } from '../store/ports.js';
import type { Cursor, RoundsSpent, UnsettledPage } from '../notify/queue.js';
import { CUT_OFF_AT_SHUTDOWN, deliverySettled, TRIED_AGAIN_LATER } from '../notify/queue.js';
import { toldDetails, type ToldDetails } from '../notify/outbox.js';
import { hostOnlyName } from '../notify/receiver.js';
import type { NotificationEvent } from '../notify/types.js';

/** How far back startup looks for notifications never delivered: older news is left to the audit log. */
export const RESEND_WINDOW_MS = 24 * 3_600_000;
/** Notifications told again at one start, at most (the newest): a long outage of a receiver must not become a flood. */
export const RESEND_MAX = 200;
/** Rows of the window examined at most, newest first (each is one indexed read of its delivery records). */
export const RESEND_EXAMINED = 10_000;

/** What the reason of a notification told again after a restart ends with. */
export const RESENT_NOTE = ' (sent again after a restart: rectify stopped before its delivery to this receiver was recorded)';

export interface Resend {
  event: NotificationEvent & { notification_id: string };
  /** The receivers that lack it. */
  to: string[];
  /** The rounds it already spent on each of them (see roundsSpent): the count goes on from there. */
  rounds: Map<string, RoundsSpent>;
}

/**
 * The rounds a notification spent on the receiver `r` by its delivery records: each
 * failed round that left it for a later one. A restart, or a read back from the audit
 * log, goes on counting from them, so the bound of rounds (notify/queue.ts
 * approvalRounds) holds however many times rectify stopped meanwhile.
 */
export function roundsSpent(deliveries: readonly DeliveryRecord[], r: string): RoundsSpent {
  let rounds = 0;
  let lastRoundAt: number | null = null;
  let givenUp = false;
  for (const d of deliveries) {
    if (!names(new Set([d.notifier]), r)) continue;
    if (d.detail.endsWith(TRIED_AGAIN_LATER)) {
      rounds++;
      givenUp = false;
      if (lastRoundAt === null || d.at > lastRoundAt) lastRoundAt = d.at;
    } else if (!d.ok && deliverySettled(d)) givenUp = true;
  }
  return { rounds, lastRoundAt, givenUp };
}

/** The NOTIFY_FAILED detail recording, for one receiver, a notification given up at a start: one of more than RESEND_MAX it lacked. */
export const NOT_SENT_AGAIN = `not sent again: more than ${RESEND_MAX} never delivered before a restart, only the newest ${RESEND_MAX} were`;

/** A notification past RESEND_MAX: given up for the receivers that lack it. */
export interface GivenUp {
  notification_id: string;
  event: ToldRow['event'];
  incident_id: string | null;
  runbook: string | null;
  execution_id: string | null;
  /** The receivers that lack it. */
  to: string[];
}

export interface ResendPlan {
  /** Oldest first: told in the order they happened. */
  resend: Resend[];
  /**
   * Oldest first: those past RESEND_MAX, not told again. The summary tells each receiver
   * they are not sent again, so each is recorded as given up for them (NOT_SENT_AGAIN):
   * otherwise the next start would find them never delivered and tell them after all.
   */
  givenUp: GivenUp[];
  /** Per receiver, how many more it lacks than were told again (past RESEND_MAX). */
  left: Map<string, number>;
  /** The oldest of those left out, when any (epoch ms). */
  leftSince: number | null;
  /** Whether RESEND_EXAMINED rows were examined and older rows of the window were not. */
  truncated: boolean;
  /**
   * Votes (APPROVAL_VOTE) a receiver lacks whose approval is settled now: not told again
   * (they would say another approver is needed after the request was approved, rejected,
   * expired or cancelled), as the queue does not send one after its approval's settlement.
   */
  settledVotes: Array<{ notification_id: string; approval_id: string; to: string[] }>;
}

/**
 * Which notifications recorded in `rows` (newest first, as `toldSince` gives them) to
 * tell again, and to whom: each receiver it was told to that is still configured and
 * has no record settling its delivery (delivered, or given up: see deliverySettled).
 * A receiver is known by its name, which hashes its whole URL (notify/receiver.ts): one
 * re-pointed to a new URL is a new receiver, not told what the old one lacked.
 * Rows about the executions in `skipExecutions` are left out: startup recovery tells
 * those itself (INTERRUPTED). The newest RESEND_MAX are told again, as first told, with
 * the same notification_id, the reason saying so; the older ones are given up (givenUp).
 * A vote whose approval `settledApproval` says is settled now is left out (settledVotes).
 */
export function planResends(
  rows: readonly ToldRow[],
  receivers: readonly string[],
  skipExecutions: ReadonlySet<string>,
  { examined = RESEND_EXAMINED, settledApproval }: { examined?: number; settledApproval?: (approvalId: string) => boolean } = {},
): ResendPlan {
  const resend: Resend[] = [];
  const givenUp: GivenUp[] = [];
  const settledVotes: ResendPlan['settledVotes'] = [];
  const left = new Map<string, number>();
  let leftSince: number | null = null;
  for (const row of rows) {
    if (row.execution_id !== null && skipExecutions.has(row.execution_id)) continue;
    const told = toldDetails(row.details);
    if (!told) continue;
    const settled = new Set(row.deliveries.filter(deliverySettled).map((d) => d.notifier));
    const toldTo = new Set(told.told.to);
    const to = receivers.filter((r) => names(toldTo, r) && !names(settled, r));
    if (to.length === 0) continue;
    const approvalId = told.told.approval_id;
    if (row.event === 'APPROVAL_VOTE' && approvalId !== null && settledApproval?.(approvalId)) {
      settledVotes.push({ notification_id: told.notification_id, approval_id: approvalId, to });
      continue;
    }
    if (resend.length >= RESEND_MAX) {
      for (const r of to) left.set(r, (left.get(r) ?? 0) + 1);
      leftSince = row.at;
      givenUp.push({ notification_id: told.notification_id, event: row.event, incident_id: row.incident_id, runbook: row.runbook, execution_id: row.execution_id, to });
      continue;
    }
    resend.push({
      to,
      event: toldEvent(row, told, `${told.told.reason}${RESENT_NOTE}`),
      rounds: new Map(to.map((r) => [r, roundsSpent(row.deliveries, r)])),
    });
  }
  return { resend: resend.reverse(), givenUp: givenUp.reverse(), left, leftSince, truncated: rows.length >= examined, settledVotes: settledVotes.reverse() };
}

/** The notification an audit row records, as first told but for its reason: with the same notification_id. */
function toldEvent(row: ToldRow, told: ToldDetails, reason: string): NotificationEvent & { notification_id: string } {
  return {
    event: row.event,
    incident_id: row.incident_id,
    runbook: row.runbook,
    service: told.told.service,
    // An APPROVED row names the run it started in its details (its own execution_id is null).
    execution_id: row.execution_id ?? (typeof row.details.execution_id === 'string' ? row.details.execution_id : null),
    approval_id: told.told.approval_id,
    outcome: told.told.outcome,
    reason,
    ...(told.told.needs_human !== undefined ? { needs_human: told.told.needs_human } : {}),
    at: row.at,
    notification_id: told.notification_id,
  };
}

/**
 * The receivers failing when rectify stopped, as the outbox keeps it, for
 * rectify_notify_receiver_failing at a start (which would read 0 otherwise, so an alert on
 * it resolved at every restart while the receiver was still down). A receiver is failing
 * when a notification it was told still waits for it (`pending`: told to it again at this
 * start, or given up here past the bound of those told again) and the last attempt
 * recorded of a delivery to it (`records`: the delivery records of the notifications the
 * start read, by their order in the log) failed: refused, or its attempts spent on a
 * passing failure. A record of no attempt (a drop, a hold-back, one passed over behind a
 * failing delivery, one not sent at a stop) or of an attempt a stop cut off says nothing
 * of the receiver and is passed over. A receiver with nothing waiting starts at 0, and
 * the next delivery to it sets the gauge as usual.
 */
export function failingAtStart(records: Iterable<readonly DeliveryRecord[]>, pending: ReadonlySet<string>, receivers: readonly string[]): string[] {
  const last = new Map<string, DeliveryRecord>();
  for (const list of records)
    for (const d of list) {
      if ((d.attempts ?? 0) <= 0 || d.detail === CUT_OFF_AT_SHUTDOWN) continue;
      for (const r of receivers) {
        if (!pending.has(r) || !names(new Set([d.notifier]), r)) continue;
        const known = last.get(r);
        if (known === undefined || (d.seq ?? 0) > (known.seq ?? 0)) last.set(r, d);
      }
    }
  return receivers.filter((r) => last.get(r)?.ok === false);
}

/**
 * Whether recorded names name the receiver `r`: by its name, or by the name a row
 * written before names carried the hash of the URL gave it (kind and host only). Such a
 * row counts for today's receiver of that kind and host, as it counted then: an upgrade
 * (a stop and a start) still tells what the stop cut off.
 */
export function names(recorded: ReadonlySet<string>, r: string): boolean {
  const hostOnly = hostOnlyName(r);
  return recorded.has(r) || (hostOnly !== undefined && recorded.has(hostOnly));
}

/** A notification read back from its audit row for one receiver that has no record settling it (see unsettledFor). */
export interface Unsettled {
  event: NotificationEvent & { notification_id: string };
  /** Its rounds already spent on this receiver (records ending "(tried again later)"). */
  rounds: number;
  /** When the last of those was recorded (epoch ms; null: none): its next round is reckoned from it. */
  lastRoundAt: number | null;
}

/**
 * Of `rows` (oldest first, as `toldAfter` gives them), the notifications told to the
 * receiver `r` that it has no record settling (see deliverySettled), as first told, with
 * the same notification_id: what a full queue held back is told from them when the
 * receiver's queue has room again and, for one that spent rounds, its next round is due
 * (notify/queue.ts).
 */
export function unsettledFor(rows: readonly ToldRow[], r: string): Unsettled[] {
  const out: Unsettled[] = [];
  for (const row of rows) {
    const told = toldDetails(row.details);
    if (!told || !names(new Set(told.told.to), r)) continue;
    const mine = row.deliveries.filter((d) => names(new Set([d.notifier]), r));
    if (mine.some(deliverySettled)) continue;
    const { rounds, lastRoundAt } = roundsSpent(mine, r);
    out.push({ rounds, lastRoundAt, event: toldEvent(row, told, told.told.reason) });
  }
  return out;
}

/** One read back of held-back notifications for the receiver `r`: `rows` as `toldAfter(after, limit)` gave them. */
export function unsettledPage(rows: readonly ToldRow[], r: string, after: Cursor, limit: number): UnsettledPage {
  const last = rows[rows.length - 1];
  return { events: unsettledFor(rows, r), next: last ? { at: last.at, seq: last.seq } : after, done: rows.length < limit };
}

/**
 * A read back for the receiver `r` without the settlements a Slack click's answer is
 * showing in the channel (`showing`: by notification_id, the receivers that answer stands
 * for): owed to those receivers, they are recorded once the answer is delivered, or sent
 * after all if it fails, and read back for them meanwhile would be told twice. Every other
 * receiver is read back the notification as ever: the answer in the channel tells it nothing.
 */
export function withoutShowing(page: UnsettledPage, r: string, showing: ReadonlyMap<string, ReadonlySet<string>>): UnsettledPage {
  if (showing.size === 0) return page;
  return { ...page, events: page.events.filter((u) => showing.get(u.event.notification_id)?.has(r) !== true) };
}

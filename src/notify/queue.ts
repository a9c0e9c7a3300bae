import type { Logger } from 'pino';
import { errorMessage, newId, sleep, withTimeout } from '../lib/index.js';
import type { Metrics } from '../observability/metrics.js';
import { recordsItsNotification } from './outbox.js';
import { isRepeatable } from './repeats.js';
import { asksAPerson, createWaiting, type Waiting } from './waiting.js';
import { RetryLaterError, retryLaterDetail } from './webhook.js';
import { tellsTo, type NotificationEvent, type Notifier, type Notify } from './types.js';

/** Incident ids named in the record of one drop burst, at most: the count covers them all. */
export const DROPPED_IDS_LISTED = 20;

/** The NOTIFY_FAILED detail of what a full queue dropped (given up: never told again). */
export const DROPPED = 'dropped: queue full';
/**
 * The NOTIFY_FAILED detail of what a full queue held back: notifications of events told
 * one by one, read back from their audit rows and told when the receiver's queue has
 * room again (not settled: see deliverySettled; such a row names no notification_id).
 */
export const HELD_BACK = 'held back: queue full (told from its audit row when there is room)';
/** The NOTIFY_FAILED detail of a notification still waiting when the stop's 2 s were up. */
export const NOT_SENT_AT_SHUTDOWN = 'not sent: rectify shut down first';
/** The NOTIFY_FAILED detail of a delivery the stop cut off (an attempt under way, or a retry that never came). */
export const CUT_OFF_AT_SHUTDOWN = 'cut off: rectify shut down during delivery';

/**
 * Whether a record of a delivery settles it for its receiver: delivered, or given up
 * (retries and rounds spent, refused, dropped from a full queue). One a stop cut off is
 * not settled: like one a crash lost, it is told again at the next start (see
 * outbox.ts); nor one held back from a full queue, or waiting for a later round.
 */
export function deliverySettled(r: { ok: boolean; detail: string }): boolean {
  return r.ok || (r.detail !== NOT_SENT_AT_SHUTDOWN && r.detail !== CUT_OFF_AT_SHUTDOWN && r.detail !== HELD_BACK && !r.detail.endsWith(TRIED_AGAIN_LATER));
}

/**
 * What the NOTIFY_FAILED detail of a round that failed on a passing failure ends with:
 * the notification is queued again later (see approvalRetryMs). Not settled: one a
 * stop or a crash left waiting for its next round is told again at the next start.
 */
export const TRIED_AGAIN_LATER = ' (tried again later)';

/**
 * What the NOTIFY_FAILED detail of an approval request's delivery that failed ends with when
 * its settlement was told meanwhile: it is not tried again (nor given another round).
 */
export const SETTLED_MEANWHILE = ' (not tried again: its approval was settled meanwhile)';

/**
 * What the NOTIFY_FAILED detail of a notification passed over begins with: it was
 * waiting while a delivery to the same receiver failed on a passing failure, so it spends
 * a round without being tried (see NotifyQueueOptions.approvalRetryMs), or is given up
 * when it has no later rounds. The failure that receiver last gave follows in brackets.
 */
export const NOT_TRIED = 'not tried: the delivery before it to this receiver failed';

/**
 * What the reason of a notification delivered in a round after its first ends with (the
 * queue adds it to what it sends, not to what is recorded): it comes late, maybe after
 * notifications of events that happened since (a circuit closed after the trip it follows),
 * so it says when it happened and how long before this message. `delayed` is set on it too.
 */
export function delayedNote(at: number, now: number): string {
  const ms = Math.max(0, now - at);
  const ago = ms < 60_000 ? `${Math.round(ms / 1_000)} s` : `${Math.round(ms / 60_000)} min`;
  return ` (delayed: happened at ${new Date(at).toISOString()}, ${ago} before this message)`;
}

/** The longest wait before a later round (5 minutes). */
const MAX_ROUND_WAIT_MS = 300_000;

/** The notifications one receiver's full queue dropped within one burst, recorded together. */
export interface DropBurst {
  /** How many were dropped. */
  count: number;
  /** Their events, each named once, in the order first dropped. */
  about: string[];
  /** Their incidents, each named once, in the order dropped: the first DROPPED_IDS_LISTED. */
  incident_ids: string[];
}

export interface NotifyOutcome {
  ok: boolean;
  notifier: string;
  attempts: number;
  detail: string;
  /**
   * The notification. For a drop burst of several, the latest, without its
   * notification_id, with the incident, the execution and the approval set to null, and
   * the runbook and the service too unless every one dropped shares them.
   */
  event: NotificationEvent;
  /**
   * Set on a record of what a full queue dropped (`detail` "dropped: queue full"): a
   * burst's storm decisions summed up, or one notification of an event told one by one;
   * or held back (`detail` HELD_BACK): a burst's notifications of events told one by one.
   */
  dropped?: DropBurst;
}

/** The later rounds a notification already spent on one receiver, by its records ending "(tried again later)". */
export interface RoundsSpent {
  rounds: number;
  /** When the last of them was recorded (epoch ms; null: none): its next round is reckoned from it. */
  lastRoundAt: number | null;
  /**
   * Whether a record after the last of them gives it up (its last round failed, or was
   * refused). A pending approval request's is told again after a restart all the same
   * (see engine tellAgain), unless its rounds were all spent.
   */
  givenUp?: boolean;
}

/** Where reading held-back notifications back from the audit log goes on from: after this row. */
export interface Cursor {
  at: number;
  seq: number;
}

/** Notifications of events told one by one read back from their audit rows for one receiver. */
export interface UnsettledPage {
  /**
   * Oldest first: those the receiver has no record settling, each with the rounds it
   * already spent on it and when the last of them was recorded (epoch ms; null: none).
   */
  events: Array<{ event: NotificationEvent & { notification_id: string }; rounds: number; lastRoundAt: number | null }>;
  /** The last row examined. */
  next: Cursor;
  /** Whether the rows ran out (every row after `after` was examined). */
  done: boolean;
}

export interface NotifyQueueOptions {
  notifiers: Notifier[];
  log: Logger;
  /** Records NOTIFIED / NOTIFY_FAILED; a failure to record is logged, never thrown. */
  record(outcome: NotifyOutcome): Promise<void>;
  attempts?: number;
  /** How long one attempt may wait for the receiver's answer (--notify-timeout, 5 s). */
  attemptTimeoutMs?: number;
  backoffMs?: number;
  /**
   * The longest wait before a retry that a receiver's `Retry-After` (on a 429 or 503) is
   * granted (60 s): it is waited for instead of the backoff when longer, and holds up
   * only that receiver's lane.
   */
  maxRetryAfterMs?: number;
  /**
   * An approval request whose attempts are all spent on a passing failure (the receiver
   * down, hanging, answering 5xx or 429) is not given up: nobody could approve it
   * unseen. It is queued again this long after (30 s), doubling each round up to 5
   * minutes, `approvalRounds` times at most (12: about 45 minutes, within the default
   * approval TTL); each round's failure is recorded, its detail ending "(tried again
   * later)", and the last round's gives it up. A notification of an event told one by
   * one (an execution outcome, a breaker trip, …: see recordsItsNotification) gets the
   * same rounds: nobody learns of the failed run otherwise. At most `maxQueued` of
   * these wait for their next round per receiver (approval requests are not counted:
   * they are as many as the approvals pending); past that, one is held back (see
   * `unsettled`), or without it, its round is its last. The count holds across restarts:
   * one told again at a start goes on from the rounds its records show (see resend).
   */
  approvalRetryMs?: number;
  approvalRounds?: number;
  /**
   * Beyond this many waiting for one notifier, one is dropped (counted, and recorded with
   * the others of its burst: see dropReportMs): remediation never waits on chat. The
   * oldest blocked or manual decision goes first (a storm's),
   * then the oldest outcome (held back, not lost, with `unsettled`). An approval request is never dropped: unseen, nobody
   * approves it and it expires; they are as many as the approvals rectify holds pending.
   */
  maxQueued?: number;
  /**
   * Drops are recorded (and logged) once per burst: the first drop from a lane starts
   * one, and this long after, one NOTIFY_FAILED row and one warning sum up all it
   * dropped. A storm writes a row per receiver every few seconds, not one per message.
   * A notification of an event told one by one is the exception: it gets a row of its
   * own, with its notification_id (see recordsItsNotification).
   */
  dropReportMs?: number;
  /**
   * Reads back, oldest first, at most `limit` audit rows of events told one by one after
   * `after`, and returns those whose notification the receiver has no record settling
   * (engine/resend.ts unsettledFor). With it, a notification of such an event is never
   * dropped for good from a full queue: it is held back (counted and recorded once per
   * burst, HELD_BACK), nothing of it kept in memory, and told from its audit row when the
   * queue has room again (half of maxQueued free); so is one past the bound of later
   * rounds. Without it, such a notification is dropped and given up as the others.
   * One read back that spent rounds already comes back on its round's schedule (its last
   * round's record's time, plus the wait after that round), not as soon as there is room.
   */
  unsettled?(receiver: string, after: Cursor, limit: number): UnsettledPage;
  /** The time the audit rows are written at (epoch ms): a read-back round's schedule is reckoned with it. */
  now?(): number;
  /**
   * Told what came of each round of a notification to each receiver, and whether the
   * receiver's last delivery was not delivered: a receiver that refuses everything (a
   * revoked webhook URL) would otherwise show only as warnings in the log.
   */
  metrics?: Pick<Metrics, 'notification' | 'notifyReceiverFailing'>;
}

/** Deliveries whose row waits for its commit, per receiver, before the next delivery waits for one. */
const RECORDING_AHEAD = 256;
/** The longest a delivered row waits for the next commit to start. */
const MAX_RECORD_WAIT_MS = 50;
/** Rows examined at most per read back from the audit log. */
const BACKLOG_PAGE = 500;
/** A read back that failed (the store unavailable) is tried again this long after. */
const BACKLOG_RETRY_MS = 5_000;

/**
 * Whether a notification tells that an approval request is settled (approved, rejected,
 * expired, cancelled, or a run it started): the request is not told after it. A vote
 * settles nothing: the request still asks for another approver.
 */
const settles = (e: NotificationEvent): e is NotificationEvent & { approval_id: string } => !endsWithSettlement(e) && e.approval_id !== null;

/** A vote on an approval request that needs another approver: it says another approver is needed. */
const isVote = (e: NotificationEvent): boolean => e.event === 'APPROVAL_VOTE';

/**
 * Whether a notification is not sent once its approval's settlement is told: a request
 * (its buttons would ask for what is settled), and a vote (it would say another approver is
 * needed after the request is approved, rejected, expired or cancelled).
 */
const endsWithSettlement = (e: NotificationEvent): boolean => asksAPerson(e) || isVote(e);

/** Settled approvals remembered per lane, at most (the oldest forgotten first). */
const SETTLED_KEPT = 10_000;
/**
 * How long a settled approval is remembered (1 hour): longer than a request's every
 * round (about 48 minutes), and far longer than a delivery or a record in flight when
 * its settlement came, which is what the memory is for (waiting rounds are cancelled).
 */
const SETTLED_KEPT_MS = 3_600_000;

/**
 * Notifications go through in-memory queues drained in the background, so a slow or
 * failing receiver can never delay or block a decision or an execution. Each
 * notifier has a lane of its own: one that hangs (a chat service accepting
 * connections and answering nothing) holds up only itself. In each lane approval
 * requests go before everything else waiting (they expire if nobody sees them).
 * Each delivery is retried with exponential backoff, unless the receiver refused it
 * for good (a 4xx), then given up and audited. What a full queue drops is audited
 * too, once per burst, and at close whatever is still waiting is recorded as not
 * delivered, so nothing vanishes without a trace (an event told one by one is told
 * again at the next start: see outbox.ts).
 */
export function createNotifyQueue(opts: NotifyQueueOptions): {
  notify: Notify;
  resend(event: NotificationEvent & { notification_id: string }, receivers: readonly string[], rounds?: ReadonlyMap<string, RoundsSpent>): void;
  drain(): Promise<void>;
  dropped(): number;
  close(): Promise<void>;
} {
  const attempts = opts.attempts ?? 3;
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 5_000;
  const backoffMs = opts.backoffMs ?? 500;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
  const approvalRetryMs = opts.approvalRetryMs ?? 30_000;
  const approvalRounds = opts.approvalRounds ?? 12;
  const now = opts.now ?? Date.now;
  /** The wait after a notification's `round`th round before its next one. */
  const roundWait = (round: number): number => Math.min(approvalRetryMs * 2 ** (round - 1), MAX_ROUND_WAIT_MS);
  /**
   * Notifications waiting for their next round (approval requests, and events told one by
   * one), per receiver and notification id: how many rounds spent, and the timer. For a
   * request or a vote, its approval (its settlement told, it is not told again); whether it
   * is counted among the lane's laterOutcomes (all but requests).
   */
  const laterRounds = new Map<string, { round: number; lane: Lane; id: string; approvalId: string | null; counted: boolean; timer?: NodeJS.Timeout }>();
  /** A notification's key in laterRounds: its receiver's, and its own id. */
  const roundKey = (lane: Lane, id: string | undefined): string => `${lane.notifier.name}\u0000${id}`;
  const maxQueued = opts.maxQueued ?? 1_000;
  const dropReportMs = opts.dropReportMs ?? 5_000;
  const stop = new AbortController();
  let dropped = 0;

  /** Drops summed up in one record: how many, their events, their incidents, what they share. */
  interface Tally {
    count: number;
    about: Set<string>;
    incidentIds: Set<string>;
    latest?: NotificationEvent;
    sameRunbook: boolean;
    sameService: boolean;
  }
  interface Drops {
    /** Everything the burst dropped: for the warning. */
    all: Tally;
    /** What the burst's one record sums up: the storm's decisions, every drop but `own` and `held`. */
    summed: Tally;
    /** Notifications of events told one by one held back (told later from their audit rows): one record. */
    held: Tally;
    /**
     * Notifications whose event's own audit row records them (outcomes, breaker trips,
     * …): each recorded apart, under its notification_id, so that startup finds it given
     * up for this receiver and does not tell it again. Few: the storm's decisions are
     * dropped first.
     */
    own: NotificationEvent[];
    timer: NodeJS.Timeout;
  }
  interface Lane {
    notifier: Notifier;
    /** What waits, approval requests first (see waiting.ts). */
    queue: Waiting;
    running?: Promise<void>;
    /** The drop burst under way, if any. */
    drops?: Drops;
    /** Notifications of events told one by one waiting for a later round (at most maxQueued). */
    laterOutcomes: number;
    /** The notification being delivered. */
    current?: NotificationEvent;
    /**
     * Set while notifications of events told one by one were held back: they are read back
     * from their audit rows after `after` when the queue has room again.
     */
    backlog?: Backlog;
    /**
     * Set while the receiver has not answered since a delivery spent its attempts on a
     * passing failure (the failure's detail): each delivery is then one attempt, a probe,
     * and whatever waited behind a probe that failed is passed over (see passOver).
     */
    failing?: string;
    /**
     * Set while a receiver that failed asked, with `Retry-After` (a 429 or 503), to be left
     * alone until then (capped at maxRetryAfterMs): the monotonic time (performance.now())
     * before which its next delivery, a probe, is not tried. A probe per new notification
     * would only be refused again, and pass over what waited behind it each time.
     */
    notBefore?: number;
    /**
     * Set when the delivery just made was no delivery: a request dropped before its first
     * attempt because its settlement was told meanwhile. It was no probe, so what waits
     * behind it is not passed over (see loop): the next one is the probe.
     */
    untried?: boolean;
    /** Rounds already spent on notifications read back from the audit log, by notification id (while queued). */
    priorRounds: Map<string, number>;
    /** Deliveries whose NOTIFIED row is not committed yet: not settled, and not read back from the audit log. */
    recording: Map<string, Promise<void>>;
    /** Passed over, the record of it not written yet (see passOver), by notification id: not read back from the audit log meanwhile. */
    passing: Set<string>;
    /**
     * Approvals whose settlement was told (to any receiver: one a Slack click's answer
     * shows is never queued to Slack), with when (performance.now()), oldest first: a
     * request of one is not delivered, nor given another round, after it, though it was
     * being delivered, or its record written, when the settlement came. Bounded
     * (SETTLED_KEPT, SETTLED_KEPT_MS).
     */
    settled: Map<string, number>;
  }
  interface Backlog {
    /** Where the next read back begins: after this row. */
    after: Cursor;
    /** Where the read back under way goes on from (undefined: none under way). */
    scan?: Cursor;
    /** Held back while a read back was under way, maybe behind it: the next begins here at the latest. */
    again?: Cursor;
    /** The first row of the read back under way whose round is not due yet, and when the first of those is. */
    notDue?: { after: Cursor; at: number };
    /** Waiting for that time. */
    wake?: NodeJS.Timeout;
    /** A read back that failed, tried again. */
    retry?: NodeJS.Timeout;
  }
  const lanes: Lane[] = opts.notifiers.map((notifier) => ({ notifier, queue: createWaiting(), laterOutcomes: 0, priorRounds: new Map(), recording: new Map(), passing: new Set(), settled: new Map() }));
  let idle: Array<() => void> = [];
  /** Drop records being written (drain and close wait for them). */
  const writing = new Set<Promise<void>>();

  const newTally = (): Tally => ({ count: 0, about: new Set(), incidentIds: new Set(), sameRunbook: true, sameService: true });
  function count(t: Tally, event: NotificationEvent): void {
    t.count++;
    t.about.add(event.event);
    if (event.incident_id !== null && t.incidentIds.size < DROPPED_IDS_LISTED) t.incidentIds.add(event.incident_id);
    // Each the same as the one before: all the same.
    if (t.latest) {
      t.sameRunbook &&= event.runbook === t.latest.runbook;
      t.sameService &&= event.service === t.latest.service;
    }
    t.latest = event;
  }
  const burstOf = (t: Tally): DropBurst => ({ count: t.count, about: [...t.about], incident_ids: [...t.incidentIds] });

  /** Counts a notification a full queue let go, into the lane's drop burst (started here if none is under way). */
  function drop(lane: Lane, event: NotificationEvent): void {
    dropped++;
    // One queued again for its next round: its rounds end here.
    if (!asksAPerson(event) && laterRounds.delete(roundKey(lane, event.notification_id))) lane.laterOutcomes--;
    let d = lane.drops;
    if (!d) {
      const timer = setTimeout(() => reportDrops(lane), dropReportMs);
      timer.unref();
      d = lane.drops = { all: newTally(), summed: newTally(), held: newTally(), own: [], timer };
    }
    count(d.all, event);
    if (!recordsItsNotification(event)) count(d.summed, event);
    else if (opts.unsettled) {
      count(d.held, event);
      holdBack(lane, event);
    } else d.own.push(event);
  }

  /**
   * Lets a notification of an event told one by one go from memory: it is read back from
   * its audit row (from a little before its time on) once the lane has room.
   */
  function holdBack(lane: Lane, event: NotificationEvent): void {
    if (event.notification_id !== undefined) lane.priorRounds.delete(event.notification_id);
    const from = before(event);
    const b = lane.backlog;
    if (!b) lane.backlog = { after: from };
    else if (b.scan) b.again = earlier(b.again, from);
    else {
      b.after = earlier(b.after, from)!;
      // Waiting for a round that is due later: this one may be due sooner (the read back tells).
      clearTimeout(b.wake);
      b.wake = undefined;
    }
    if (!stop.signal.aborted) run(lane);
  }

  /** Where a read back from the audit log begins so that it reads the event's row (and a few of the same millisecond before it). */
  const before = (event: NotificationEvent): Cursor => ({ at: event.at - 1, seq: Number.MAX_SAFE_INTEGER });
  const earlier = (a: Cursor | undefined, b: Cursor): Cursor => (a && (a.at < b.at || (a.at === b.at && a.seq <= b.seq)) ? a : b);

  /** The notification ids the lane holds in memory: queued, being delivered, waiting for a later round. */
  function inMemory(lane: Lane): Set<string> {
    const ids = new Set<string>();
    for (const e of lane.queue) if (e.notification_id !== undefined) ids.add(e.notification_id);
    if (lane.current?.notification_id !== undefined) ids.add(lane.current.notification_id);
    for (const id of lane.recording.keys()) ids.add(id);
    for (const id of lane.passing) ids.add(id);
    for (const r of laterRounds.values()) if (r.lane === lane) ids.add(r.id);
    return ids;
  }

  /**
   * Reads held-back notifications back from their audit rows into the lane, oldest first,
   * up to maxQueued waiting; the backlog ends when the rows run out. A read that fails is
   * tried again later (the rows stay: a restart tells them too).
   */
  function refill(lane: Lane): void {
    const b = lane.backlog!;
    const known = inMemory(lane);
    const at = now();
    let examined = 0;
    while (lane.queue.length < maxQueued && examined < BACKLOG_PAGE) {
      const limit = Math.min(BACKLOG_PAGE, maxQueued - lane.queue.length);
      let page: UnsettledPage;
      try {
        page = opts.unsettled!(lane.notifier.name, b.scan ?? b.after, limit);
      } catch (err) {
        opts.log.warn({ err, notifier: lane.notifier.name }, 'could not read held-back notifications from the audit log; trying again shortly');
        b.retry ??= setTimeout(() => {
          b.retry = undefined;
          if (!stop.signal.aborted && lane.backlog === b) run(lane);
        }, BACKLOG_RETRY_MS);
        b.retry.unref();
        return;
      }
      examined += limit;
      b.scan = page.next;
      for (const { event, rounds, lastRoundAt } of page.events) {
        if (known.has(event.notification_id)) continue;
        // One that spent a round comes back on that round's schedule, as one kept in memory
        // does (a row written after now: the clock was set back, and it is due).
        const due = rounds > 0 && lastRoundAt !== null && lastRoundAt <= at ? lastRoundAt + roundWait(rounds) : at;
        if (due > at) {
          b.notDue ??= { after: before(event), at: due };
          b.notDue.at = Math.min(b.notDue.at, due);
          continue;
        }
        if (rounds > 0) lane.priorRounds.set(event.notification_id, rounds);
        lane.queue.push(event);
      }
      if (page.done) {
        endReadBack(lane, b);
        return;
      }
    }
  }

  /**
   * The rows ran out. Ends the backlog, unless rows read were not due yet (the next read
   * back begins at the first of them, when the first is due) or more were held back
   * meanwhile (it begins at the first of those, when there is room).
   */
  function endReadBack(lane: Lane, b: Backlog): void {
    b.scan = undefined;
    const { notDue, again } = b;
    b.notDue = b.again = undefined;
    if (!notDue && !again) {
      lane.backlog = undefined;
      return;
    }
    b.after = again ? earlier(notDue?.after, again) : notDue!.after;
    if (again) return;
    b.wake = setTimeout(
      () => {
        b.wake = undefined;
        if (!stop.signal.aborted && lane.backlog === b) run(lane);
      },
      Math.min(notDue!.at - now(), MAX_ROUND_WAIT_MS),
    );
    b.wake.unref();
  }

  /** Writes one drop record, and has drain and close wait for it. */
  function recordDrop(lane: Lane, event: NotificationEvent, burst: DropBurst, detail = DROPPED): void {
    const p = opts
      .record({ ok: false, notifier: lane.notifier.name, attempts: 0, detail, event, dropped: burst })
      .catch((err: unknown) => opts.log.error({ err }, 'notification failed'));
    writing.add(p);
    void p.finally(() => writing.delete(p));
  }

  /**
   * Ends a lane's drop burst: one warning for all it dropped, one NOTIFY_FAILED record
   * summing up the storm's decisions, and one per notification of an event told one by
   * one (a burst of one each, with its notification_id).
   */
  function reportDrops(lane: Lane): void {
    const d = lane.drops;
    if (!d) return;
    clearTimeout(d.timer);
    lane.drops = undefined;
    opts.log.warn(
      {
        notifier: lane.notifier.name,
        ...burstOf(d.all),
        ...(d.own.length > 0 ? { recorded_apart: d.own.length } : {}),
        ...(d.held.count > 0 ? { held_back: d.held.count } : {}),
      },
      d.held.count === d.all.count
        ? `notification queue full (${maxQueued} waiting): ${d.all.count} notification(s) held back, told from their audit rows when there is room`
        : `notification queue full (${maxQueued} waiting): ${d.all.count} notification(s) dropped, ${d.held.count > 0 ? `${d.held.count} of them held back (told from their audit rows when there is room), the rest ` : ''}not sent`,
    );
    if (d.held.latest) recordDrop(lane, summedUp(d.held), burstOf(d.held), HELD_BACK);
    for (const event of d.own) recordDrop(lane, event, { count: 1, about: [event.event], incident_ids: event.incident_id !== null ? [event.incident_id] : [] });
    if (d.summed.latest) recordDrop(lane, summedUp(d.summed), burstOf(d.summed));
  }

  /** The notification a burst's record is about: the one, or the latest without the ids that name one. */
  function summedUp(t: Tally): NotificationEvent {
    if (t.count === 1) return t.latest!;
    // Several: none of their own ids (incident, notification, …) stands for the burst.
    const { notification_id: _latestId, ...latest } = t.latest!;
    return {
      ...latest,
      incident_id: null,
      execution_id: null,
      approval_id: null,
      runbook: t.sameRunbook ? latest.runbook : null,
      service: t.sameService ? latest.service : null,
    };
  }

  /** Records every drop burst under way now, and waits until every drop record and delivered row is written. */
  async function settleDrops(): Promise<void> {
    for (const lane of lanes) reportDrops(lane);
    // Delivered rows waiting for their commit: committed now (after the one running, if any).
    for (;;) {
      if (committing) await committing;
      else if (unrecorded.length > 0) {
        clearTimeout(recordTimer);
        commitDelivered();
      } else break;
    }
    while (writing.size > 0) await Promise.all([...writing]);
  }

  /** Delivered, their rows waiting for the next commit. */
  let unrecorded: Array<{ outcome: NotifyOutcome; done: () => void }> = [];
  let recordTimer: NodeJS.Timeout | undefined;
  /** Set while a commit of delivered rows runs: the rows finished meanwhile wait for the next. */
  let committing: Promise<void> | undefined;
  /** How long the last commit of delivered rows took (ms). */
  let lastCommitMs = 0;

  /**
   * Records the rows of the deliveries finished since the last commit, together: the
   * store commits what is queued in one turn in one transaction, with one fsync.
   */
  function commitDelivered(): void {
    recordTimer = undefined;
    const rows = unrecorded;
    unrecorded = [];
    const t0 = performance.now();
    const all = rows.map(({ outcome, done }) =>
      opts
        .record(outcome)
        .catch((err: unknown) => opts.log.error({ err }, 'notification failed'))
        .finally(done),
    );
    committing = Promise.all(all).then(() => {
      committing = undefined;
      lastCommitMs = performance.now() - t0;
      if (unrecorded.length > 0) scheduleCommit();
    });
  }

  /**
   * The next commit of delivered rows comes after the one running ends, three times as
   * long after it as it took (at most MAX_RECORD_WAIT_MS): the rows of the deliveries
   * finished meanwhile go in it together, so a fast receiver is not held to one commit
   * and fsync per message, and commits take at most about a quarter of the event loop.
   */
  function scheduleCommit(): void {
    if (recordTimer || committing) return;
    recordTimer = setTimeout(commitDelivered, Math.min(3 * lastCommitMs, MAX_RECORD_WAIT_MS));
  }

  /**
   * Records a delivery without holding up the lane: the next delivery starts while the
   * row waits for its commit, shared with the rows of the deliveries finished meanwhile
   * (see scheduleCommit). Until its row is committed the delivery is not settled: drain
   * and close wait for it, and the lane does not read it back from the audit log. At most
   * RECORDING_AHEAD wait per lane; past that the lane waits for the commit.
   */
  async function recordDelivered(lane: Lane, outcome: NotifyOutcome): Promise<void> {
    const id = outcome.event.notification_id ?? newId('ntf');
    const p = new Promise<void>((done) => unrecorded.push({ outcome, done }));
    scheduleCommit();
    lane.recording.set(id, p);
    writing.add(p);
    void p.finally(() => {
      writing.delete(p);
      if (lane.recording.get(id) === p) lane.recording.delete(id);
    });
    if (lane.recording.size >= RECORDING_AHEAD) await p;
  }

  /**
   * Delivers with retries and records the outcome; resolves true when it was given up on a
   * passing failure (worth another round). To a receiver that has not answered since its
   * last failure (lane.failing), one attempt: a probe, so that a receiver that hangs costs
   * one timeout per round of the queue, not its attempts and backoffs per notification;
   * one that asked with `Retry-After` to be left alone is not probed before then (lane.notBefore).
   */
  async function deliver(lane: Lane, event: NotificationEvent, lastRound = true, late = false): Promise<boolean> {
    const n = lane.notifier;
    const tries = lane.failing === undefined ? attempts : 1;
    let detail = '';
    let tried = 0;
    let permanent = false;
    // The receiver asked to be left alone for a while when it last failed: its probe waits.
    const notBefore = lane.notBefore;
    const wait = notBefore === undefined ? 0 : notBefore - performance.now();
    lane.notBefore = undefined;
    lane.untried = false;
    if (wait > 0) await sleep(wait, stop.signal).catch(() => undefined);
    let asked = 0;
    let settledMeanwhile = false;
    for (let i = 1; i <= tries; i++) {
      // A request (or a vote) whose settlement was told meanwhile (while its probe waited,
      // or its attempt before this one failed) is not sent after it: no further attempt.
      if (settledIn(lane, event)) {
        if (i === 1) {
          // No attempt: no probe. The receiver's wish to be left alone still holds for the
          // next one, and what waits behind is not passed over (see loop).
          if (lane.failing !== undefined && lane.notBefore === undefined) lane.notBefore = notBefore;
          lane.untried = true;
          forgetSettled(lane, event, true);
          return false;
        }
        settledMeanwhile = true;
        break;
      }
      tried = i;
      const signal = withTimeout(stop.signal, attemptTimeoutMs);
      try {
        // Late (a round after its first): it says so, and when it happened (see delayedNote).
        await n.send(late ? { ...event, reason: `${event.reason}${delayedNote(event.at, now())}`, delayed: true } : event, signal);
        lane.failing = undefined;
        opts.metrics?.notification(n.name, 'delivered');
        opts.metrics?.notifyReceiverFailing(n.name, false);
        await recordDelivered(lane, { ok: true, notifier: n.name, attempts: i, detail: 'delivered', event });
        return false;
      } catch (err) {
        // Timed out waiting for the answer: the receiver may well have it (and a retry
        // carries the same notification_id, so it can tell). Cut off by the stop: told
        // again at the next start, so the record must say so (see deliverySettled).
        detail = stop.signal.aborted ? CUT_OFF_AT_SHUTDOWN : signal.aborted ? 'delivery unknown (timed out)' : errorMessage(err);
        permanent = (err as { permanent?: boolean }).permanent === true;
        if (stop.signal.aborted || permanent) break;
        // A receiver that says when to come back (429 or 503 with Retry-After) is given that
        // long, capped: retrying sooner would only spend the attempts while it still refuses.
        asked = Math.min((err as { retryAfterMs?: number }).retryAfterMs ?? 0, maxRetryAfterMs);
        // The detail names the wait kept, not a longer one the receiver asked for.
        if (err instanceof RetryLaterError) detail = retryLaterDetail(err.answer, asked, err.retryAfterMs);
        if (i < tries) await sleep(Math.max(backoffMs * 2 ** (i - 1), asked), stop.signal).catch(() => undefined);
      }
    }
    // A refusal is an answer: the receiver is there. A passing failure after every attempt:
    // it is not, for now, and what waits behind this one is passed over (see loop). (Attempts
    // left unspent, the request settled meanwhile, say nothing of it yet.)
    if (permanent) lane.failing = undefined;
    else if (!stop.signal.aborted && !settledMeanwhile) {
      lane.failing = detail;
      // What its last answer asked for is waited for before the next probe.
      if (asked > 0) lane.notBefore = performance.now() + asked;
    }
    // A request (or a vote) whose settlement was told while it was being delivered gets no later round.
    const passing = !permanent && !stop.signal.aborted;
    const settled = settledIn(lane, event);
    const again = passing && !lastRound && !settled;
    if (again) detail = `${detail}${TRIED_AGAIN_LATER}`;
    else if (passing && settled) detail = `${detail}${SETTLED_MEANWHILE}`;
    // Cut off by the stop, it is told again at the next start: counted then.
    if (!stop.signal.aborted) {
      opts.metrics?.notification(n.name, again ? 'deferred' : 'failed');
      opts.metrics?.notifyReceiverFailing(n.name, true);
    }
    opts.log.warn({ notifier: n.name, event: event.event, detail }, 'notification not delivered');
    await opts.record({ ok: false, notifier: n.name, attempts: tried, detail, event });
    return again;
  }

  /**
   * An approval request, or a notification of an event told one by one, not delivered in
   * a round is queued again later (see approvalRetryMs), a request ahead of everything
   * else waiting as before; it is given up after the last round. Rounds are counted per
   * lane and notification.
   */
  function deliverRound(lane: Lane, event: NotificationEvent): Promise<void> {
    const r = roundOf(lane, event);
    if (!r) return deliver(lane, event).then(() => undefined);
    return deliver(lane, event, r.last, r.round > 1).then((again) => afterRound(lane, event, r, again));
  }

  /** A notification's round about to be spent: undefined for one that has no later rounds. */
  interface Round {
    key: string;
    id: string;
    asks: boolean;
    /** Whether it is counted among the outcomes waiting for a later round (laterOutcomes) already. */
    held: boolean;
    round: number;
    /** Whether it may wait for its next round in memory. */
    room: boolean;
    /** Whether this round is its last. */
    last: boolean;
  }
  function roundOf(lane: Lane, event: NotificationEvent): Round | undefined {
    const asks = asksAPerson(event);
    if ((!asks && !recordsItsNotification(event)) || event.notification_id === undefined) return undefined;
    const id = event.notification_id;
    const key = roundKey(lane, id);
    const held = laterRounds.has(key);
    const round = (laterRounds.get(key)?.round ?? lane.priorRounds.get(id) ?? 0) + 1;
    lane.priorRounds.delete(id);
    // Bounded: past maxQueued outcomes waiting for a later round on this lane, this one is
    // held back (read back from its audit row when there is room), or without the audit
    // log to read it from, its round is its last.
    const room = asks || held || lane.laterOutcomes < maxQueued;
    return { key, id, asks, held, round, room, last: round > approvalRounds || (!room && !opts.unsettled) };
  }

  /** After a round that failed (`again`: worth another) or ended it: its next round, held back, or no more. */
  function afterRound(lane: Lane, event: NotificationEvent, r: Round, again: boolean): void {
    const { key, asks, held, round, room } = r;
    // A request (or a vote) whose settlement was told while this round was under way: no more rounds.
    if (settledIn(lane, event)) again = false;
    if (!again) {
      if (held && !asks) lane.laterOutcomes--;
      laterRounds.delete(key);
      return;
    }
    if (!room) {
      holdBack(lane, event);
      return;
    }
    if (!held && !asks) lane.laterOutcomes++;
    waitForRound(lane, event, key, round, r.id, roundWait(round));
  }

  /** Queues `event` again in `ms`, waiting meanwhile in laterRounds (a settlement or a close cancels it there). */
  function waitForRound(lane: Lane, event: NotificationEvent, key: string, round: number, id: string, ms: number): void {
    const timer = setTimeout(() => {
      const later = laterRounds.get(key);
      if (later) later.timer = undefined;
      if (!stop.signal.aborted) enqueue(lane, event);
    }, ms);
    timer.unref();
    laterRounds.set(key, { round, lane, id, approvalId: endsWithSettlement(event) ? event.approval_id : null, counted: !asksAPerson(event), timer });
  }

  /**
   * Tells again, after a restart, a notification that spent `spent.rounds` later rounds on
   * this receiver before: told when its next round is due (at once when it is), its count going on from them, so
   * the bound of rounds holds however many times rectify stopped meanwhile; one whose every
   * round was spent and given up before is given up for good (its records say so).
   */
  function resume(lane: Lane, event: NotificationEvent & { notification_id: string }, spent: RoundsSpent): void {
    if (spent.givenUp && spent.rounds >= approvalRounds) {
      opts.log.info({ notifier: lane.notifier.name, event: event.event, notification_id: event.notification_id, rounds: spent.rounds }, 'not told again: its rounds were all spent before the restart');
      return;
    }
    // Its round comes when it is due, reckoned from the last it spent, as a read back from
    // the audit log does (see refill); one due already (or a row written after now: the
    // clock was set back) goes at once. Queued at once, a restart would spend a round each
    // time: with the receiver down at each start, a request would be given up after as many
    // starts as it has rounds, untried each time.
    const at = now();
    const due = spent.lastRoundAt !== null && spent.lastRoundAt <= at ? spent.lastRoundAt + roundWait(spent.rounds) : at;
    const asks = asksAPerson(event);
    const key = roundKey(lane, event.notification_id);
    if (laterRounds.has(key)) return;
    if (due <= at || settledIn(lane, event) || (!asks && lane.laterOutcomes >= maxQueued)) {
      lane.priorRounds.set(event.notification_id, spent.rounds);
      enqueue(lane, event);
      return;
    }
    if (!asks) lane.laterOutcomes++;
    waitForRound(lane, event, key, spent.rounds, event.notification_id, due - at);
  }

  /**
   * Passes over everything waiting for a receiver whose delivery (or probe) just failed on
   * a passing failure, rather than try each in full in turn behind it: one with later
   * rounds spends this one without being tried (recorded, its detail ending "(tried again
   * later)"; the last gives it up, as a round that failed would), one without (a storm's
   * decision) is given up. Each record names what the receiver last failed with. The
   * next to come (a later round, a new notification) is the next probe.
   */
  function passOver(lane: Lane): void {
    const why = lane.failing!;
    const waiting = lane.queue.takeAll();
    if (waiting.length === 0) return;
    opts.log.warn({ notifier: lane.notifier.name, passed_over: waiting.length, detail: why }, 'notification receiver failing: what waited for it moved to its later rounds, or given up');
    for (const event of waiting) {
      const r = roundOf(lane, event);
      const again = r !== undefined && !r.last;
      if (r) lane.passing.add(r.id);
      // Its place among the outcomes waiting for a later round taken now, not once its
      // record is written: the next one passed over finds the bound as it will be.
      if (r && again && r.room && !r.held && !r.asks) {
        lane.laterOutcomes++;
        r.held = true;
      }
      opts.metrics?.notification(lane.notifier.name, again ? 'deferred' : 'failed');
      const p = opts
        .record({ ok: false, notifier: lane.notifier.name, attempts: 0, detail: `${NOT_TRIED} (${why})${again ? TRIED_AGAIN_LATER : ''}`, event })
        .catch((err: unknown) => opts.log.error({ err }, 'notification failed'))
        // Its next round is set once the record of this one is written: a read back from
        // the audit log (held back) counts this round and reckons its schedule from it.
        .then(() => {
          if (!r) return;
          lane.passing.delete(r.id);
          // At a stop it is told again at the next start (its record does not settle it).
          if (!stop.signal.aborted) afterRound(lane, event, r, again);
        });
      writing.add(p);
      void p.finally(() => writing.delete(p));
    }
  }

  /**
   * Starts the lane's loop unless it runs. A loop can end before its first await (a read
   * back with nothing due yet): it clears lane.running then, before `lane.running = loop()`
   * would set it to the finished loop, and nothing would start the lane again.
   */
  function run(lane: Lane): void {
    if (lane.running) return;
    const starting = Promise.resolve();
    lane.running = starting;
    const running = loop(lane);
    if (lane.running === starting) lane.running = running;
  }

  async function loop(lane: Lane): Promise<void> {
    while (!stop.signal.aborted) {
      // What was held back comes back once half the queue is free.
      if (lane.backlog && !lane.backlog.retry && !lane.backlog.wake && lane.queue.length <= maxQueued / 2) refill(lane);
      const event = lane.queue.shift();
      if (!event) {
        if (!lane.backlog || lane.backlog.retry || lane.backlog.wake) break;
        // Rows examined, none to tell yet: the next ones after a turn of the event loop.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      // A request (or a vote) settled since it was queued (its settlement told meanwhile) is not sent.
      if (settledIn(lane, event)) {
        forgetSettled(lane, event);
        continue;
      }
      lane.current = event;
      await deliverRound(lane, event).catch((err: unknown) => opts.log.error({ err }, 'notification failed'));
      lane.current = undefined;
      if (lane.failing !== undefined && !lane.untried && !stop.signal.aborted) passOver(lane);
      lane.untried = false;
    }
    lane.running = undefined;
    if (lanes.every((l) => !l.running)) {
      const waiters = idle;
      idle = [];
      for (const w of waiters) w();
    }
  }

  /** Whether an approval request or a vote on one is about an approval settled in the lane (its settlement told). */
  function settledIn(lane: Lane, event: NotificationEvent): boolean {
    return endsWithSettlement(event) && event.approval_id !== null && lane.settled.has(event.approval_id);
  }

  /**
   * A request (or a vote) not sent after its settlement: its rounds end (none was spent on
   * it in vain). `current`: the one being delivered, whose round's end (afterRound) lets its
   * rounds go.
   */
  function forgetSettled(lane: Lane, event: NotificationEvent, current = false): void {
    if (!current && laterRounds.delete(roundKey(lane, event.notification_id)) && !asksAPerson(event)) lane.laterOutcomes--;
    if (event.notification_id !== undefined) lane.priorRounds.delete(event.notification_id);
    opts.log.info(
      { notifier: lane.notifier.name, approval_id: event.approval_id, ...(isVote(event) ? { notification_id: event.notification_id } : {}) },
      isVote(event) ? 'approval vote not sent: its approval’s settlement was told first' : 'approval request not sent: its settlement was told first',
    );
  }

  /**
   * An approval's settlement (approved, rejected, expired, cancelled) told: its request is
   * not told after it, with buttons for what is already settled, nor a vote on it, saying
   * another approver is needed. Their waiting rounds are cancelled and a request queued is
   * taken out; one being delivered, or passed over with its record being written, gets no
   * later round (afterRound), and one queued (a vote, a round that was due, a telling
   * again) is not sent (loop, enqueue).
   */
  function settle(lane: Lane, approvalId: string): void {
    const at = performance.now();
    lane.settled.delete(approvalId);
    lane.settled.set(approvalId, at);
    for (const [id, since] of lane.settled) {
      if (lane.settled.size <= SETTLED_KEPT && at - since <= SETTLED_KEPT_MS) break;
      lane.settled.delete(id);
    }
    for (const [key, r] of laterRounds) {
      if (r.lane !== lane || r.approvalId !== approvalId) continue;
      // A vote whose round is under way (queued, being delivered, its record being written)
      // is let go where that round goes on (loop, afterRound), which counts it out.
      if (r.counted && r.timer === undefined) continue;
      clearTimeout(r.timer);
      laterRounds.delete(key);
      if (r.counted) lane.laterOutcomes--;
    }
    for (const e of lane.queue.takeRequests(approvalId)) forgetSettled(lane, e);
  }

  function enqueue(lane: Lane, event: NotificationEvent): void {
    const q = lane.queue;
    const asks = asksAPerson(event);
    // A request (or a vote) whose settlement was told already (a round come due, a telling again).
    if (settledIn(lane, event)) {
      forgetSettled(lane, event);
      return;
    }
    // Each step costs the same however many wait (see waiting.ts): approval requests are
    // kept past the bound, and this runs on the event loop for every receiver.
    if (q.length >= maxQueued) {
      // The oldest blocked or manual decision goes first; the newcomer, when it is one and none waits.
      let out = q.takeOldestRepeatable();
      if (!out && !asks && isRepeatable(event)) {
        drop(lane, event);
        return; // the newcomer matters least
      }
      // Then the oldest outcome.
      out ??= q.takeOldestOther();
      if (out) drop(lane, out);
      else if (!asks) {
        drop(lane, event);
        return;
      }
      // Only approval requests are waiting, and this is one too: kept past the bound.
    }
    // A request ahead of everything else waiting, behind the approval requests before it.
    q.push(event);
    run(lane);
  }

  return {
    notify(given) {
      if (lanes.length === 0) return;
      if (stop.signal.aborted) {
        opts.log.warn({ event: given.event, incident_id: given.incident_id }, 'notification after shutdown began: not sent');
        return;
      }
      // One id for the notification, kept by each receiver's every attempt.
      const event = given.notification_id ? given : { ...given, notification_id: newId('ntf') };
      // Settled for every receiver, also one not sent the settlement as a message of its
      // own (Slack, when a click's answer shows it by replacing the request's message).
      if (settles(event)) for (const lane of lanes) settle(lane, event.approval_id);
      for (const lane of lanes) if (tellsTo(lane.notifier, event)) enqueue(lane, event);
    },
    /**
     * Queues a notification, with the id it has, for the named receivers only (one told
     * again after a restart); `rounds`: the later rounds it spent on each before (see resume).
     */
    resend(event, receivers, rounds) {
      if (stop.signal.aborted) {
        opts.log.warn({ event: event.event, incident_id: event.incident_id }, 'notification after shutdown began: not sent');
        return;
      }
      if (settles(event)) for (const lane of lanes) settle(lane, event.approval_id);
      for (const lane of lanes) {
        if (!receivers.includes(lane.notifier.name)) continue;
        const spent = rounds?.get(lane.notifier.name);
        if (spent && spent.rounds > 0 && (asksAPerson(event) || recordsItsNotification(event))) resume(lane, event, spent);
        else enqueue(lane, event);
      }
    },
    /** Resolves once every lane is empty and what was dropped is recorded (for tests and shutdown). */
    async drain() {
      // A record written meanwhile can start a lane again (one passed over, held back: see passOver).
      do {
        if (!lanes.every((l) => !l.running)) await new Promise<void>((r) => idle.push(r));
        await settleDrops();
      } while (!lanes.every((l) => !l.running));
    },
    dropped: () => dropped,
    /** Stops retrying and sending; what was still waiting is recorded as not delivered. */
    async close() {
      stop.abort();
      // An approval request waiting for its next round is told again at the next start
      // (it has no NOTIFIED row): see engine tellAgain.
      for (const r of laterRounds.values()) clearTimeout(r.timer);
      laterRounds.clear();
      // What was held back is told at the next start from its audit row (it has no record settling it).
      for (const lane of lanes) {
        lane.laterOutcomes = 0;
        clearTimeout(lane.backlog?.retry);
        clearTimeout(lane.backlog?.wake);
        lane.backlog = undefined;
        lane.priorRounds.clear();
      }
      await Promise.all(lanes.map((l) => l.running));
      await settleDrops();
      // Every row started in this one turn: the store commits them together, one
      // transaction and one fsync, not one each (thousands of approval requests can be
      // waiting, kept past maxQueued, and the stop must end within its bound).
      const rows: Array<Promise<void>> = [];
      for (const lane of lanes) {
        const left = lane.queue.takeAll();
        if (left.length > 0) opts.log.warn({ notifier: lane.notifier.name, left: left.length }, 'shutting down: notifications still waiting were not sent');
        for (const event of left) {
          rows.push(
            opts
              .record({ ok: false, notifier: lane.notifier.name, attempts: 0, detail: NOT_SENT_AT_SHUTDOWN, event })
              .catch((err: unknown) => opts.log.error({ err }, 'notification failed')),
          );
        }
      }
      await Promise.all(rows);
    },
  };
}

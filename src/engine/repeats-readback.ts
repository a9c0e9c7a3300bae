import type { Logger } from 'pino';
import type { RepeatFilter, RepeatState } from '../notify/repeats.js';
import type { NotificationEvent } from '../notify/types.js';
import type { RepeatableRow, RepeatsCheckpoint, Store } from '../store/ports.js';
import { truncatedReason } from './truncations.js';

/** What the reason of a summary told at a start ends with. */
export const REPEATS_RESTART_NOTE = ' (told at a restart: rectify stopped before this summary was due)';
/** How often the housekeeping pass writes the checkpoint (src/service.ts). */
export const REPEATS_CHECKPOINT_EVERY_MS = 5_000;
/** A checkpoint with nothing counted since the last is still written this often while the log grows, so a start walks few rows. */
export const REPEATS_CHECKPOINT_IDLE_MS = 60_000;
const PAGE = 10_000;

/**
 * The repeat filter's counts survive a crash. The filter counts a storm's repeated
 * decisions in memory and tells them as one summary when their window ends
 * (notify/repeats.ts): a crash (SIGKILL) would lose them, and the people would never
 * hear of the alerts counted since the first was told. The intake path writes nothing
 * more for it: every decision has its audit row already. The filter's state is written
 * as a checkpoint (a settings row) as of an audit row, by the housekeeping pass (every
 * 5 s) when it changed, and at a stop once it is told; a start takes the checkpoint and
 * counts again the decisions recorded after that row, in order and at the times they
 * were decided, telling none of them (they were told, or counted, then). What the filter
 * holds after is what it held at the crash: every summary still owed is told then, its
 * reason ending REPEATS_RESTART_NOTE, once a checkpoint with nothing owed is written.
 * A summary is told only once the checkpoint recording its window closed is written
 * (holdSummaries), at a housekeeping pass, a stop or a start alike: a crash before that
 * write leaves it owed in the checkpoint before, told at the next start, once; after it,
 * it is not told again (one queued and not yet delivered then is lost, as any queued
 * notification is). A window a decision after the checkpoint closed (a repeat after the
 * window's end) waited for a later checkpoint that was never written: its summary is owed
 * too. Only a checkpoint whose write failed lets its summaries be told before it (held
 * back, they would wait for as long as writes fail): a crash then tells them again at
 * the next start (twice, never lost).
 *
 * Bounded by time: a window that started before the newest row's time less the window
 * and two housekeeping passes had ended while rectify still ran (its summary told then,
 * or due by the next pass), so the walk starts at the first row of that horizon when the
 * checkpoint is older (a long gap: a version that wrote no checkpoint, a restored backup,
 * checkpoint writes failing for days). Such a checkpoint is stale: its state is dropped,
 * not told (logged), and the rows within the horizon are counted from nothing (a window
 * open across the horizon may be counted short; one wholly within it is exact; one that
 * ended before the stop with its summary told by a housekeeping pass then is told again:
 * twice, never lost). The rows are read a page at a time, so memory does not grow with
 * the log.
 *
 * Read back: an alert's or a manual run's blocked or manual decision (its incident's own
 * decision row) and an ALERTS_TRUNCATED notice past the bound of those told one by one.
 * An approval's decision taken again when it is approved is not (its incident records the
 * request): a blocked one is told at once, and a crash before its window ends loses it.
 */
export function readBackRepeats(
  store: Pick<Store, 'read'>,
  filter: RepeatFilter,
  windowMs: number,
  log: Logger,
  pageSize = PAGE,
  /**
   * The newest audit row as the last process left it, read before this start wrote any
   * (crash recovery's INTERRUPTED and EXPIRED rows, an audit key's row): the horizon is
   * reckoned from it. From a row this start wrote after a downtime longer than the window,
   * a crash's checkpoint looked stale and the summaries it held were dropped.
   */
  lastBeforeStart: { seq: number; at: number } | null | undefined = store.read((tx) => tx.auditNewest()),
): { rows: number; owed: number; stale: boolean } {
  let checkpoint: RepeatsCheckpoint | undefined;
  try {
    checkpoint = store.read((tx) => tx.repeatsCheckpoint());
    if (checkpoint && !Number.isSafeInteger(checkpoint.through)) throw new Error(`its audit row is ${JSON.stringify(checkpoint.through)}, not a seq`);
  } catch (err) {
    // Damaged (changed by hand, a torn write): nothing is known owed, and the start goes on.
    log.warn({ err }, 'the checkpoint of the repeated decisions counted cannot be read: taken as none, nothing is told as owed');
    return { rows: 0, owed: 0, stale: false };
  }
  // None written (a first start, or a database from before checkpoints): nothing is known owed.
  if (!checkpoint) return { rows: 0, owed: 0, stale: false };
  const newest = lastBeforeStart;
  const horizon = (newest?.at ?? 0) - windowMs - 2 * REPEATS_CHECKPOINT_EVERY_MS;
  const first = newest ? store.read((tx) => tx.firstAuditSince(horizon)) : null;
  // Rows after the checkpoint's and before the horizon: it is older than any window still open.
  const stale = first !== null && checkpoint.through < first - 1;
  if (stale) {
    log.warn(
      { checkpoint_through: checkpoint.through, from: first },
      'the checkpoint of the repeated decisions counted is older than the repeat window: its counts are dropped, not told; those of the rows within the window are counted again',
    );
  }
  const after = stale ? first - 1 : checkpoint.through;
  let rows = 0;
  function* decisions(): Generator<NotificationEvent> {
    let from = after;
    for (;;) {
      const page = store.read((tx) => tx.repeatableAfter(from, pageSize));
      for (const r of page) {
        rows++;
        yield repeatableEvent(r);
      }
      const last = page[page.length - 1];
      if (!last || page.length < pageSize) return;
      from = last.seq;
    }
  }
  filter.restore(stale ? undefined : stateOf(checkpoint.state), decisions());
  const owed = filter.owed();
  filter.flush(true, REPEATS_RESTART_NOTE);
  if (owed > 0) log.info({ rows, windows: owed }, 'repeated decisions counted before the stop: their summaries are told now');
  return { rows, owed, stale };
}

/** The notification a read-back row stood for when it was first told or counted. */
export function repeatableEvent(r: RepeatableRow): NotificationEvent {
  const d = r.details;
  const reason =
    r.event === 'ALERTS_TRUNCATED' ? truncatedReason(Number(d.truncated_alerts ?? 0), Number(d.delivered_alerts ?? 0)) : typeof d.reason === 'string' ? d.reason : '';
  return { event: r.event, incident_id: r.incident_id, runbook: r.runbook, service: r.service, execution_id: null, approval_id: null, outcome: r.outcome, reason, at: r.at };
}

/** A checkpoint's state, when it has the shape the filter writes (another shape is taken as nothing counted). */
function stateOf(state: unknown): RepeatState | undefined {
  const s = state as Partial<RepeatState> | null;
  return s && Array.isArray(s.windows) && Array.isArray(s.runbooks) ? (s as RepeatState) : undefined;
}

/**
 * Writes the filter's checkpoint, then tells the summaries it held back for it: when it counted or told anything since the last one,
 * or (`force`) at a stop, once everything was told; and, with nothing counted, once a
 * minute while the log grows. Its state and the audit row it stands as of are read in
 * one synchronous step: every decision committed by then has been through the filter
 * (each is handed to it in the continuation of its commit, before any timer runs).
 * Nothing is copied when nothing is written, and the state is made JSON before the
 * write's transaction, which then holds the write lock for the row alone.
 */
export function createRepeatsCheckpointer(store: Pick<Store, 'read' | 'transact'>, filter: RepeatFilter, now: () => number) {
  let written: { changes: number; through: number; at: number } | undefined;
  return async function checkpoint(force = false): Promise<void> {
    const changes = filter.changes();
    const through = store.read((tx) => tx.auditHead());
    const at = now();
    if (!force && written && written.changes === changes && (written.through === through || at - written.at < REPEATS_CHECKPOINT_IDLE_MS)) return;
    // The summaries of the windows this checkpoint records closed (held back: see
    // holdSummaries) are told once it is written. Told before, a crash would leave those
    // windows open in the last checkpoint written, and the next start would tell them again.
    const held = filter.takeHeld();
    const value = JSON.stringify({ through, state: filter.snapshot().state } satisfies RepeatsCheckpoint);
    try {
      await store.transact((tx) => tx.setRepeatsCheckpoint(value, at));
    } finally {
      // Not written, they are told all the same: held back, they would wait for as long as the
      // writes fail. The next start may then tell them again (twice, never lost).
      filter.release(held);
    }
    written = { changes, through, at };
  };
}

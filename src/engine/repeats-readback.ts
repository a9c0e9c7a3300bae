import type { Logger } from 'pino';
import type { RepeatFilter, RepeatState } from '../notify/repeats.js';
import type { NotificationEvent } from '../notify/types.js';
import type { RepeatableRow, RepeatsCheckpoint, Store } from '../store/ports.js';
import { truncatedReason } from './truncations.js';

/** What the reason of a summary told at a start ends with. */
export const REPEATS_RESTART_NOTE = ' (told at a restart: rectify stopped before this summary was due)';
/** Rows read back at one start, at most: the rows since the last checkpoint, a few seconds' worth unless checkpoints failed. */
export const REPEATS_READ_BACK_MAX = 1_000_000;
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
 * reason ending REPEATS_RESTART_NOTE, and a checkpoint with nothing owed is written.
 * A crash between the telling and that checkpoint tells them again at the next start
 * (told twice, never lost); one queued and not yet delivered is lost as any queued
 * notification is.
 *
 * Read back: an alert's or a manual run's blocked or manual decision (its incident's own
 * decision row) and an ALERTS_TRUNCATED notice past the bound of those told one by one.
 * An approval's decision taken again when it is approved is not (its incident records the
 * request): a blocked one is told at once, and a crash before its window ends loses it.
 */
export function readBackRepeats(store: Pick<Store, 'read'>, filter: RepeatFilter, log: Logger): { rows: number; owed: number } {
  const checkpoint = store.read((tx) => tx.repeatsCheckpoint());
  // None written (a first start, or a database from before checkpoints): nothing is known owed.
  if (!checkpoint) return { rows: 0, owed: 0 };
  const decisions: NotificationEvent[] = [];
  let after = checkpoint.through;
  for (;;) {
    const rows = store.read((tx) => tx.repeatableAfter(after, PAGE));
    for (const r of rows) decisions.push(repeatableEvent(r));
    const last = rows[rows.length - 1];
    if (!last || rows.length < PAGE) break;
    after = last.seq;
    if (decisions.length >= REPEATS_READ_BACK_MAX) {
      log.warn({ rows: decisions.length, after }, 'repeated decisions read back at start: stopped at the bound; those recorded after are not summed up');
      break;
    }
  }
  filter.restore(stateOf(checkpoint.state), decisions);
  const { state } = filter.snapshot();
  const owed = [...state.windows, ...state.runbooks].filter(([, w]) => w.repeats > 0).length;
  filter.flush(true, REPEATS_RESTART_NOTE);
  if (owed > 0) log.info({ rows: decisions.length, windows: owed }, 'repeated decisions counted before the stop: their summaries are told now');
  return { rows: decisions.length, owed };
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
 * Writes the filter's checkpoint: when it counted or told anything since the last one,
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
    const value = JSON.stringify({ through, state: filter.snapshot().state } satisfies RepeatsCheckpoint);
    await store.transact((tx) => tx.setRepeatsCheckpoint(value, at));
    written = { changes, through, at };
  };
}

import type { Logger } from 'pino';
import { errorMessage, sleep, withTimeout } from '../lib/index.js';
import { isRepeatable } from './repeats.js';
import type { NotificationEvent, Notifier, Notify } from './types.js';

export interface NotifyQueueOptions {
  notifiers: Notifier[];
  log: Logger;
  /** Records NOTIFIED / NOTIFY_FAILED; a failure to record is logged, never thrown. */
  record(outcome: { ok: boolean; notifier: string; attempts: number; detail: string; event: NotificationEvent }): Promise<void>;
  attempts?: number;
  attemptTimeoutMs?: number;
  backoffMs?: number;
  /**
   * Beyond this many waiting for one notifier, one is dropped (and counted): remediation
   * never waits on chat. The oldest blocked or manual decision goes first (a storm's),
   * then the oldest outcome. An approval request is never dropped: unseen, nobody
   * approves it and it expires; they are as many as the approvals rectify holds pending.
   */
  maxQueued?: number;
}

/** An approval request: someone must answer it, so it goes first and is never dropped. */
const asksAPerson = (e: NotificationEvent): boolean => e.event === 'APPROVAL_REQUIRED';

/**
 * Notifications go through in-memory queues drained in the background, so a slow or
 * failing receiver can never delay or block a decision or an execution. Each
 * notifier has a lane of its own: one that hangs (a chat service accepting
 * connections and answering nothing) holds up only itself. In each lane approval
 * requests go before everything else waiting (they expire if nobody sees them).
 * Each delivery is retried with exponential backoff, unless the receiver refused it
 * for good (a 4xx), then given up and audited. At close, whatever is still waiting
 * is recorded as not delivered, so nothing vanishes without a trace.
 */
export function createNotifyQueue(opts: NotifyQueueOptions): { notify: Notify; drain(): Promise<void>; dropped(): number; close(): Promise<void> } {
  const attempts = opts.attempts ?? 3;
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 5_000;
  const backoffMs = opts.backoffMs ?? 500;
  const maxQueued = opts.maxQueued ?? 1_000;
  const stop = new AbortController();
  let dropped = 0;

  interface Lane {
    notifier: Notifier;
    queue: NotificationEvent[];
    running?: Promise<void>;
  }
  const lanes: Lane[] = opts.notifiers.map((notifier) => ({ notifier, queue: [] }));
  let idle: Array<() => void> = [];

  async function deliver(n: Notifier, event: NotificationEvent): Promise<void> {
    let detail = '';
    let tried = 0;
    for (let i = 1; i <= attempts; i++) {
      tried = i;
      try {
        await n.send(event, withTimeout(stop.signal, attemptTimeoutMs));
        await opts.record({ ok: true, notifier: n.name, attempts: i, detail: 'delivered', event });
        return;
      } catch (err) {
        detail = errorMessage(err);
        if (stop.signal.aborted || (err as { permanent?: boolean }).permanent === true) break;
        if (i < attempts) await sleep(backoffMs * 2 ** (i - 1), stop.signal).catch(() => undefined);
      }
    }
    opts.log.warn({ notifier: n.name, event: event.event, detail }, 'notification not delivered');
    await opts.record({ ok: false, notifier: n.name, attempts: tried, detail, event });
  }

  async function loop(lane: Lane): Promise<void> {
    while (lane.queue.length > 0 && !stop.signal.aborted) {
      const event = lane.queue.shift()!;
      await deliver(lane.notifier, event).catch((err: unknown) => opts.log.error({ err }, 'notification failed'));
    }
    lane.running = undefined;
    if (lanes.every((l) => !l.running)) {
      const waiters = idle;
      idle = [];
      for (const w of waiters) w();
    }
  }

  function enqueue(lane: Lane, event: NotificationEvent): void {
    const q = lane.queue;
    if (q.length >= maxQueued) {
      let i = q.findIndex(isRepeatable);
      if (i < 0 && isRepeatable(event)) {
        dropped++;
        return; // the newcomer matters least
      }
      if (i < 0) i = q.findIndex((e) => !asksAPerson(e));
      if (i >= 0) {
        dropped++;
        q.splice(i, 1);
      } else if (!asksAPerson(event)) {
        dropped++;
        return;
      }
      // Only approval requests are waiting, and this is one too: kept past the bound.
    }
    if (asksAPerson(event)) {
      // Ahead of everything else waiting, behind the approval requests before it.
      const at = q.findIndex((e) => !asksAPerson(e));
      if (at < 0) q.push(event);
      else q.splice(at, 0, event);
    } else q.push(event);
    lane.running ??= loop(lane);
  }

  return {
    notify(event) {
      if (lanes.length === 0) return;
      if (stop.signal.aborted) {
        opts.log.warn({ event: event.event, incident_id: event.incident_id }, 'notification after shutdown began: not sent');
        return;
      }
      for (const lane of lanes) enqueue(lane, event);
    },
    /** Resolves once every lane is empty (for tests and shutdown). */
    drain() {
      if (lanes.every((l) => !l.running)) return Promise.resolve();
      return new Promise<void>((r) => idle.push(r));
    },
    dropped: () => dropped,
    /** Stops retrying and sending; what was still waiting is recorded as not delivered. */
    async close() {
      stop.abort();
      await Promise.all(lanes.map((l) => l.running));
      for (const lane of lanes) {
        const left = lane.queue.splice(0);
        if (left.length > 0) opts.log.warn({ notifier: lane.notifier.name, left: left.length }, 'shutting down: notifications still waiting were not sent');
        for (const event of left) {
          await opts
            .record({ ok: false, notifier: lane.notifier.name, attempts: 0, detail: 'not sent: rectify shut down first', event })
            .catch((err: unknown) => opts.log.error({ err }, 'notification failed'));
        }
      }
    },
  };
}

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
   * Beyond this many waiting, one is dropped (and counted): remediation never waits
   * on chat. The oldest blocked or manual decision goes first (a storm's), then the
   * oldest outcome. An approval request is never dropped: unseen, nobody approves it
   * and it expires; they are as many as the approvals rectify holds pending.
   */
  maxQueued?: number;
}

/** An approval request: someone must answer it, so a full queue never drops it. */
const asksAPerson = (e: NotificationEvent): boolean => e.event === 'APPROVAL_REQUIRED';

/**
 * Notifications go through an in-memory queue drained by one background loop, so
 * a slow or failing receiver can never delay or block a decision or an execution.
 * Each delivery is retried with exponential backoff, then given up and audited.
 */
export function createNotifyQueue(opts: NotifyQueueOptions): { notify: Notify; drain(): Promise<void>; dropped(): number; close(): Promise<void> } {
  const attempts = opts.attempts ?? 3;
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 5_000;
  const backoffMs = opts.backoffMs ?? 500;
  const maxQueued = opts.maxQueued ?? 1_000;
  const queue: NotificationEvent[] = [];
  const stop = new AbortController();
  let dropped = 0;
  let running: Promise<void> | undefined;
  let idle: Array<() => void> = [];

  async function deliver(n: Notifier, event: NotificationEvent): Promise<void> {
    let detail = '';
    for (let i = 1; i <= attempts; i++) {
      try {
        await n.send(event, withTimeout(stop.signal, attemptTimeoutMs));
        await opts.record({ ok: true, notifier: n.name, attempts: i, detail: 'delivered', event });
        return;
      } catch (err) {
        detail = errorMessage(err);
        if (stop.signal.aborted) break;
        if (i < attempts) await sleep(backoffMs * 2 ** (i - 1), stop.signal).catch(() => undefined);
      }
    }
    opts.log.warn({ notifier: n.name, event: event.event, detail }, 'notification not delivered');
    await opts.record({ ok: false, notifier: n.name, attempts, detail, event });
  }

  async function loop(): Promise<void> {
    while (queue.length > 0 && !stop.signal.aborted) {
      const event = queue.shift()!;
      await Promise.all(opts.notifiers.map((n) => deliver(n, event).catch((err: unknown) => opts.log.error({ err }, 'notification failed'))));
    }
    running = undefined;
    const waiters = idle;
    idle = [];
    for (const w of waiters) w();
  }

  return {
    notify(event) {
      if (opts.notifiers.length === 0 || stop.signal.aborted) return;
      if (queue.length >= maxQueued) {
        let i = queue.findIndex(isRepeatable);
        if (i < 0 && isRepeatable(event)) {
          dropped++;
          return; // the newcomer matters least
        }
        if (i < 0) i = queue.findIndex((e) => !asksAPerson(e));
        if (i >= 0) {
          dropped++;
          queue.splice(i, 1);
        } else if (!asksAPerson(event)) {
          dropped++;
          return;
        }
        // Only approval requests are waiting, and this is one too: kept past the bound.
      }
      queue.push(event);
      running ??= loop();
    },
    /** Resolves once the queue is empty (for tests and shutdown). */
    drain() {
      if (!running) return Promise.resolve();
      return new Promise<void>((r) => idle.push(r));
    },
    dropped: () => dropped,
    async close() {
      stop.abort();
      await running;
    },
  };
}

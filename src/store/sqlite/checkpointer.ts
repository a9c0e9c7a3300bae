import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Moves the WAL checkpoint off the event loop.
 *
 * In WAL mode every commit appends pages to the `-wal` file; a checkpoint copies
 * them back into the database file and fsyncs it. SQLite's automatic checkpoint
 * runs inside the commit that crosses the threshold, on the thread that commits:
 * under an alert storm that is a stall of tens of milliseconds every few commits,
 * during which no request is read.
 *
 * Here a worker thread with its own connection runs PASSIVE checkpoints (they
 * never block the writer) every `intervalMs`. The writer keeps an automatic
 * checkpoint only as a backstop (the store sets its threshold): by the time it fires, the
 * worker has copied almost every page, so it finishes quickly and lets the WAL
 * start over. Durability is unchanged: commits are still fsync'd in the WAL by
 * the writer (synchronous=FULL) before anyone is answered; a checkpoint only
 * moves committed pages.
 *
 * The worker needs no event loop: it sleeps on a shared word, which `stop()`
 * sets, so closing the store waits for the worker to close its connection
 * without returning to the event loop.
 */
export interface Checkpointer {
  stop(): void;
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const flags = new Int32Array(workerData.flags);
let db;
try {
  try {
    db = new Database(workerData.path, { fileMustExist: true });
  } catch (err) {
    // A plain Error: the driver's own error class does not survive the trip to the main thread.
    throw new Error('WAL checkpointer cannot open ' + workerData.path + ': ' + (err && err.message));
  }
  db.pragma('busy_timeout = 1000');
  while (Atomics.load(flags, 0) === 0) {
    try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or faulted: the writer's backstop still checkpoints */ }
    Atomics.wait(flags, 0, 0, workerData.intervalMs);
  }
} finally {
  try { if (db) db.close(); } catch {}
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
}
`;

export interface CheckpointerOptions {
  path: string;
  intervalMs?: number;
  /** Called when the worker stops on its own (it could not open the file): the writer checkpoints again. */
  onExit?: (err: unknown) => void;
}

export function startCheckpointer(opts: CheckpointerOptions): Checkpointer {
  // [0]: stop requested; [1]: the worker's connection is closed.
  const flags = new SharedArrayBuffer(8);
  const words = new Int32Array(flags);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      module: createRequire(import.meta.url).resolve('better-sqlite3'),
      path: opts.path,
      flags,
      intervalMs: opts.intervalMs ?? 100,
    },
  });
  worker.unref();
  let stopped = false;
  // A worker that throws emits 'error' and then exits non-zero: report it once.
  const failed = (err: unknown): void => {
    if (stopped) return;
    stopped = true;
    opts.onExit?.(err);
  };
  worker.once('error', failed);
  worker.once('exit', (code) => {
    if (code !== 0) failed(new Error(`checkpointer exited with ${code}`));
  });
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      Atomics.store(words, 0, 1);
      Atomics.notify(words, 0);
      // A checkpoint in progress finishes first; it is bounded by the WAL's size.
      Atomics.wait(words, 1, 0, 5_000);
      void worker.terminate();
    },
  };
}

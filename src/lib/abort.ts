/**
 * Every I/O takes an AbortSignal and has a deadline. These helpers combine a
 * caller's signal with a timeout and turn an abort into a value, so a check that
 * times out is a failed check, never a hang and never a pass.
 */
export function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = timeoutSignal(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** The longest delay a Node timer takes (about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * A delay as a timer takes it: whole, non-negative milliseconds (a deadline computed
 * from a clock is often neither), at most MAX_TIMER_MS. Past that, Node fires the
 * timer after 1 ms: a 30-day grace or step timeout would end at once.
 */
export function timerMs(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(ms)));
}

/**
 * Aborts with a TimeoutError after `ms`, like AbortSignal.timeout(), but held by its
 * own timer until then. Node's AbortSignal.timeout() is held only weakly by its
 * timer, and AbortSignal.any() holds its sources weakly too: a deadline combined
 * with a caller's signal could be collected before it fired (nodejs/node#57736),
 * and the request it bounded then waited for as long as the other side liked, which
 * under a storm's garbage collection is exactly when it matters. The timer is
 * unref'd: a pending deadline does not keep the process alive, as before.
 */
export function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timerMs(ms));
  timer.unref();
  return controller.signal;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, timerMs(ms));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `pending`, or a rejection with the signal's reason as soon as the signal aborts, for a
 * call that may not honour its signal: the caller stops waiting whatever the call does.
 * `letRun()`, asked at the abort, may keep waiting instead (the call will end on its
 * own). A rejection of `pending` after the abort is nobody's to report.
 */
export function untilAborted<T>(pending: Promise<T>, signal: AbortSignal, letRun: () => boolean = () => false): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      if (letRun()) return;
      pending.catch(() => undefined);
      reject(signal.reason ?? new Error('aborted'));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timed out';
    if (err.name === 'AbortError') return 'aborted';
    return err.message;
  }
  return String(err);
}

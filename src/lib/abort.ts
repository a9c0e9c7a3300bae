/**
 * Every I/O takes an AbortSignal and has a deadline. These helpers combine a
 * caller's signal with a timeout and turn an abort into a value, so a check that
 * times out is a failed check, never a hang and never a pass.
 */
export function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  // AbortSignal.timeout() throws on a fractional or negative delay; a deadline
  // computed from a clock is often both.
  const timeout = AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
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
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
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

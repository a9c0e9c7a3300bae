/** Where a command writes: injected so tests read exactly what a person would see. */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Ends a long-running command (`audit --follow`) as Ctrl-C would; SIGINT is also honoured. */
  signal?: AbortSignal;
  /**
   * Resolves once the output takes more: at once, unless what was written fills the pipe
   * (a reader slower than the command), then when it drains or its reader is gone. A
   * command writing much (`audit export`) waits on it between pages, so its memory
   * stays bounded by a page, not by the log.
   */
  drained?(): Promise<void>;
  /**
   * Asks, writing nothing, whether the reader of `out` is still there; one gone ends
   * `signal` soon after, as a write that failed does. A long-running command that may
   * write nothing for a while (`audit --follow` on a quiet log) asks each time it polls.
   * Only a socket tells (the reader a program that started rectify, as Node's spawn
   * makes them): a shell's pipe (`| head`) tells only on a write of a byte at least.
   */
  checkOut?(): void;
}

/**
 * Lines to two streams (the process's stdout and stderr). The reader of `out` may go first
 * (`rectify audit export | head -1`): the next write fails with EPIPE, which unhandled is
 * a stack trace and exit 1. Instead the command stops writing, and a long-running one
 * (`audit --follow`, also on a quiet log where the output can tell: `checkOut`) ends as on
 * Ctrl-C (`signal`), so the process exits quietly with the
 * command's own code: 0 for a listing. Not 141 (SIGPIPE) as `git log | head` does: under
 * `set -o pipefail` a reader that had enough is no failure, and a failure (a test that
 * failed) keeps its code. The same for `err` (`2>&1 | head`).
 */
export function streamIO(out: NodeJS.WritableStream & { writableNeedDrain: boolean }, err: NodeJS.WritableStream): Pick<CliIO, 'out' | 'err' | 'signal' | 'drained' | 'checkOut'> {
  const outGone = new AbortController();
  let errGone = false;
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    outGone.abort();
  });
  err.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    errGone = true;
  });
  return {
    out: (l) => void (outGone.signal.aborted || out.write(`${l}\n`)),
    err: (l) => void (errGone || err.write(`${l}\n`)),
    signal: outGone.signal,
    // Writing nothing: on a socket whose reader closed it, the system still answers EPIPE
    // (the 'error' above); on a pipe, a file or a terminal it is nothing at all.
    checkOut: () => void (outGone.signal.aborted || out.write('')),
    drained: () =>
      outGone.signal.aborted || !out.writableNeedDrain
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const done = (): void => {
              out.off('drain', done);
              out.off('close', done);
              outGone.signal.removeEventListener('abort', done);
              resolve();
            };
            out.on('drain', done);
            out.on('close', done);
            outGone.signal.addEventListener('abort', done);
          }),
  };
}

/**
 * Exit codes scripts can rely on (documented in README.md and each command's --help):
 * OK done; FAILED the server or a guardrail said no, or the run failed; USAGE the
 * command line or its input is wrong, nothing was done; UNREACHABLE no answer from
 * the service (try again later); AUTH the token was missing or not allowed;
 * PENDING accepted but waiting on a person (an approval) or still running;
 * UNCONFIRMED a request that may act was sent, or accepted, and how it went is not
 * known (its answer was lost, or watching the run failed): check, do not retry blindly.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNREACHABLE: 3, AUTH: 4, PENDING: 5, UNCONFIRMED: 6 } as const;

/** Where a command writes: injected so tests read exactly what a person would see. */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Ends a long-running command (`audit --follow`) as Ctrl-C would; SIGINT is also honoured. */
  signal?: AbortSignal;
}

/**
 * Exit codes scripts can rely on (documented in README.md and each command's --help):
 * OK done; FAILED the server or a guardrail said no, or the run failed; USAGE the
 * command line or its input is wrong, nothing was done; UNREACHABLE no answer from
 * the service (try again later); AUTH the token was missing or not allowed;
 * PENDING accepted but waiting on a person (an approval) or still running.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNREACHABLE: 3, AUTH: 4, PENDING: 5 } as const;

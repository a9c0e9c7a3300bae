/** Where a command writes: injected so tests read exactly what a person would see. */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

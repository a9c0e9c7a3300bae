import { runCli, type CliIO } from '../../src/cli/index.js';

/** Runs the CLI as a person would, capturing what it prints and its exit code. */
export interface CliRun {
  code: number;
  out: string[];
  err: string[];
  /** stdout parsed as one JSON document. */
  json(): any;
}

export async function cli(argv: string[], opts: { env?: Record<string, string>; cwd?: string; signal?: AbortSignal; out?: string[] } = {}): Promise<CliRun> {
  const out = opts.out ?? [];
  const err: string[] = [];
  const io: CliIO = {
    out: (l) => void out.push(...l.split('\n')),
    err: (l) => void err.push(...l.split('\n')),
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const code = await runCli(argv, io);
  return { code, out, err, json: () => JSON.parse(out.join('\n')) };
}

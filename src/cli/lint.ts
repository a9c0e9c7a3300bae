import { resolve } from 'node:path';
import { formatProblem } from '../domain/index.js';
import { loadRunbooks } from '../runbooks/index.js';
import { EXIT, type CliIO } from './io.js';

/** `rectify lint [dir]`: every problem in every runbook file, one per line; exit 1 on any. */
export async function lintCommand(argv: string[], io: CliIO): Promise<number> {
  const dir = resolve(io.cwd, argv.find((a) => !a.startsWith('-')) ?? 'runbooks');
  const { runbooks, problems } = loadRunbooks(dir);
  for (const p of problems) io.err(formatProblem(p));
  if (problems.length) {
    io.err(`${problems.length} problem(s) in ${dir}`);
    return EXIT.FAILED;
  }
  io.out(`${runbooks.length} runbook(s) OK in ${dir}`);
  return EXIT.OK;
}

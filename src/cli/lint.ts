import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatProblem, type LoadProblem } from '../domain/index.js';
import { loadRunbookFile, loadRunbooks } from '../runbooks/index.js';
import { EXIT, type CliIO } from './io.js';

/** `file: path: warning: message`, the form of every lint warning. */
export function formatWarning(p: LoadProblem): string {
  return formatProblem({ ...p, message: `warning: ${p.message}` });
}

/**
 * `rectify lint [dir|file]`: every problem in every runbook file, one per line,
 * then every warning (reference checks); exit 1 on any. Errors stop startup;
 * warnings only show in its log, so lint is where they fail a build.
 */
export async function lintCommand(argv: string[], io: CliIO): Promise<number> {
  const dir = resolve(io.cwd, argv.find((a) => !a.startsWith('-')) ?? 'runbooks');
  const { runbooks, problems, warnings } = isFile(dir) ? loadRunbookFile(dir) : loadRunbooks(dir);
  for (const p of problems) io.err(formatProblem(p));
  for (const w of warnings) io.err(formatWarning(w));
  if (problems.length || warnings.length) {
    io.err(`${problems.length} problem(s) and ${warnings.length} warning(s) in ${dir}`);
    return EXIT.FAILED;
  }
  io.out(`${runbooks.length} runbook(s) OK in ${dir}`);
  return EXIT.OK;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

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
 * `rectify lint [dir|file | --runbooks dir]`: every problem in every runbook file, one per line,
 * then every warning (reference checks); exit 1 on any. Errors stop startup;
 * warnings only show in its log, so lint is where they fail a build.
 */
export async function lintCommand(argv: string[], io: CliIO): Promise<number> {
  // The folder or file: an argument, or --runbooks as `rectify serve` takes it, or
  // RECTIFY_RUNBOOKS; anything else is refused (a name never read would lint the
  // default folder and say OK about files it never saw).
  const named: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--runbooks' && argv[i + 1] !== undefined) named.push(argv[++i]!);
    else if (a.startsWith('--runbooks=')) named.push(a.slice('--runbooks='.length));
    else if (a.startsWith('-')) {
      io.err(`rectify lint: unknown option ${a} (usage: rectify lint [dir|file], or --runbooks <dir>)`);
      return EXIT.USAGE;
    } else named.push(a);
  }
  if (named.length > 1) {
    io.err(`rectify lint: name one folder or file (got ${named.map((n) => JSON.stringify(n)).join(', ')})`);
    return EXIT.USAGE;
  }
  const dir = resolve(io.cwd, named[0] ?? (io.env.RECTIFY_RUNBOOKS || 'runbooks'));
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

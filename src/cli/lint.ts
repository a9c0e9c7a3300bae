import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, parseCommandArgs, type ConfigSource } from '../config/index.js';
import { formatProblem, type LoadProblem } from '../domain/index.js';
import { loadRunbookFile, loadRunbooks } from '../runbooks/index.js';
import { EXIT, type CliIO } from './io.js';

/** `file: path: warning: message`, the form of every lint warning. */
export function formatWarning(p: LoadProblem): string {
  return formatProblem({ ...p, message: `warning: ${p.message}` });
}

const LINT_USAGE = 'rectify lint [dir|file] [--runbooks dir] [--config file]';

/**
 * `rectify lint [dir|file | --runbooks dir | --config file]`: every problem in every runbook file, one per line,
 * then every warning (reference checks); exit 1 on any. Errors stop startup;
 * warnings only show in its log, so lint is where they fail a build.
 */
export async function lintCommand(argv: string[], io: CliIO): Promise<number> {
  // The folder or file: an argument, else the folder `rectify serve` would read (--runbooks,
  // RECTIFY_RUNBOOKS, runbooks in --config or ./rectify.yaml, ./runbooks). Anything else is
  // refused: a name never read would lint another folder and say OK about files it never saw.
  const parsed = parseCommandArgs(argv, { runbooks: 'string', config: 'string' });
  const refusals = parsed.problems.map(formatProblem);
  const list = (names: readonly string[]): string => names.map((n) => JSON.stringify(n)).join(', ');
  const runbooksFlags = (parsed.flags['runbooks'] as string[] | undefined) ?? [];
  const configFlags = (parsed.flags['config'] as string[] | undefined) ?? [];
  const named = [...parsed.args, ...runbooksFlags];
  if (named.length > 1) refusals.push(`name one folder or file (got ${list(named)})`);
  if (configFlags.length > 1) refusals.push(`name one config file (got ${list(configFlags)})`);
  if (parsed.args.length === 1 && configFlags.length) refusals.push(`name the runbooks either as an argument or through --config, not both (got ${list(parsed.args)} and --config ${list(configFlags)})`);
  if (refusals.length) {
    for (const r of refusals) io.err(`rectify lint: ${r}; usage: ${LINT_USAGE}`);
    return EXIT.USAGE;
  }

  let dir: string;
  let from = '';
  if (parsed.args.length === 1) dir = resolve(io.cwd, parsed.args[0]!);
  else {
    const loaded = loadConfig(argv, io.env, { cwd: io.cwd });
    if ('problems' in loaded) {
      for (const p of loaded.problems) io.err(formatProblem(p));
      io.err(`rectify lint: the configuration that names the runbooks folder has ${loaded.problems.length} problem(s) (rectify serve would refuse it too); fix them, or name the folder: rectify lint <dir>`);
      return EXIT.USAGE;
    }
    dir = loaded.config.runbooks;
    from = ` (${describeSource(loaded.config.sources.runbooks)})`;
  }
  const { runbooks, problems, warnings } = isFile(dir) ? loadRunbookFile(dir) : loadRunbooks(dir);
  for (const p of problems) io.err(formatProblem(p));
  for (const w of warnings) io.err(formatWarning(w));
  if (problems.length || warnings.length) {
    io.err(`${problems.length} problem(s) and ${warnings.length} warning(s) in ${dir}${from}`);
    return EXIT.FAILED;
  }
  io.out(`${runbooks.length} runbook(s) OK in ${dir}${from}`);
  return EXIT.OK;
}

/** Where the folder's name came from, as a person would look for it. */
function describeSource(s: ConfigSource): string {
  switch (s.kind) {
    case 'flag':
    case 'env':
      return `set by ${s.file}`;
    case 'file':
      return `set by ${s.path} in ${s.file}`;
    case 'default':
      return 'the default';
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

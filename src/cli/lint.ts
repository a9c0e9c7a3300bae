import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { CLIENT_ENV, describeSource, loadConfig, parseCommandArgs } from '../config/index.js';
import { formatProblem, type LoadProblem } from '../domain/index.js';
import { isRunbookFileName, loadRunbookFile, loadRunbooks, noRunbookWarning } from '../runbooks/index.js';
import { commandHelp } from './help.js';
import { EXIT, type CliIO } from './io.js';

/** `file: path: warning: message`, the form of every lint warning. */
export function formatWarning(p: LoadProblem): string {
  return formatProblem({ ...p, message: `warning: ${p.message}` });
}

const LINT_USAGE = 'rectify lint [dir|file] [--runbooks dir] [--config file]';

export const lintHelp = commandHelp({
  usage: LINT_USAGE,
  about: [
    'Checks runbook files without starting anything: every problem (what stops startup and a SIGHUP',
    'reload), then every warning (the reference checks: a placeholder nothing fills, no rollback, no',
    'post_checks, a HIGH-risk runbook with no owner, one never chosen as an earlier one with no match:',
    'takes all its alerts, …), one line each: file: YAML path: message.',
    'Run it on the folder before sending SIGHUP.',
    '',
    'Without an argument it checks the folder rectify serve would load, found the same way: --runbooks,',
    'RECTIFY_RUNBOOKS, runbooks in the config file (--config, RECTIFY_CONFIG, ./rectify.yaml if present),',
    'then ./runbooks. The last line names the folder and where it came from. It then also prints the',
    'configuration\'s warnings rectify serve logs at startup (`dry_run:` set but empty, an unknown',
    'RECTIFY_* variable), as warnings. With a dir or file argument no configuration is read: only',
    'the runbooks are checked.',
  ].join('\n'),
  args: ['dir|file          the folder, or one runbook file, to check (not with --runbooks or --config)'],
  flags: [
    '--runbooks <dir>  the runbooks folder, as rectify serve takes it (RECTIFY_RUNBOOKS)',
    '--config <file>   the config file whose runbooks setting names the folder (RECTIFY_CONFIG; default ./rectify.yaml if present)',
  ],
  exits: [
    [0, 'every runbook loads, with no problem and no warning'],
    [1, 'a problem or a warning (each printed); a folder or file holding no runbook is a warning'],
    [2, 'usage: a wrong flag or argument, no folder or file at that path, a file that is not .yaml/.yml, one that is not a regular file (a FIFO, a device), or a setting or config file with a problem; nothing was checked'],
  ],
});

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
  // The folder named as an argument is held to the default limit; one found as serve finds it, to serve's.
  let maxFiles: number | undefined;
  // The configuration's own warnings (`dry_run:` set but empty, an unknown RECTIFY_* variable),
  // the lines rectify serve logs at startup: lint read that configuration, so it says them too.
  const configWarnings: LoadProblem[] = [];
  if (parsed.args.length === 1) dir = resolve(io.cwd, parsed.args[0]!);
  else {
    const loaded = loadConfig(argv, io.env, { cwd: io.cwd });
    if ('problems' in loaded) {
      for (const p of loaded.problems) io.err(formatProblem(p));
      io.err(`rectify lint: the configuration that names the runbooks folder has ${loaded.problems.length} problem(s) (rectify serve would refuse it too); fix them, or name the folder: rectify lint <dir>`);
      return EXIT.USAGE;
    }
    dir = loaded.config.runbooks;
    maxFiles = loaded.config.maxRunbookFiles;
    from = ` (${describeSource(loaded.config.sources.runbooks)})`;
    // Not the client commands' variables (RECTIFY_SERVER, RECTIFY_TOKEN): serve warns about
    // them as its own settings misnamed, but lint runs in the shell an operator also runs
    // rectify approvals or run from, where they are set on purpose.
    const clientEnv = new Set<string>(Object.values(CLIENT_ENV));
    // Nor the config file's runbooks: overridden (lint's own --runbooks names the folder to lint on
    // purpose): the last line names the folder linted and where that came from.
    configWarnings.push(
      ...loaded.config.warnings.filter((w) => !(w.path === '' && clientEnv.has(w.file)) && !(w.path === 'runbooks' && w.message.startsWith('overridden by '))),
    );
  }
  // What is not there, or not a runbook file, is a wrong name (exit 2), not a finding (exit 1):
  // a log file would otherwise be parsed as YAML and print an error for every line.
  if (!existsSync(dir)) {
    io.err(`rectify lint: no folder or file at ${dir}${from}; name a runbooks folder or a .yaml/.yml runbook file`);
    return EXIT.USAGE;
  }
  const kind = kindOf(dir);
  // A FIFO or a device named as the argument was read as a folder ("cannot read the runbooks
  // folder: ENOTDIR"); it is neither, and is never opened (a FIFO would wait for a writer).
  if (kind === 'other') {
    io.err(`rectify lint: ${dir}${from} is not a regular file nor a folder (a FIFO, a device, a socket); name a runbooks folder or a .yaml/.yml runbook file`);
    return EXIT.USAGE;
  }
  const file = kind === 'file';
  const notRunbook = file ? whyNotRunbookFile(dir) : undefined;
  if (notRunbook) {
    io.err(`rectify lint: ${dir} ${notRunbook}`);
    return EXIT.USAGE;
  }
  const loaded = file ? loadRunbookFile(dir) : loadRunbooks(dir, maxFiles === undefined ? {} : { maxFiles });
  const { runbooks, problems } = loaded;
  const warnings = [...configWarnings, ...loaded.warnings];
  // No runbook at all (templates not rendered, a ConfigMap not mounted) is no "0 runbook(s)
  // OK": rectify serve warns that it remediates nothing, and refuses a reload onto it.
  if (runbooks.length === 0 && problems.length === 0) {
    warnings.push(noRunbookWarning(dir, file ? 'file' : 'folder'));
  }
  for (const p of problems) io.err(formatProblem(p));
  for (const w of warnings) io.err(formatWarning(w));
  if (problems.length || warnings.length) {
    io.err(`${problems.length} problem(s) and ${warnings.length} warning(s) in ${dir}${from}`);
    return EXIT.FAILED;
  }
  io.out(`${runbooks.length} runbook(s) OK in ${dir}${from}`);
  return EXIT.OK;
}

/** Why rectify serve would not load this file from a runbooks folder, or undefined when it would. */
function whyNotRunbookFile(path: string): string | undefined {
  const name = basename(path);
  if (isRunbookFileName(name)) return undefined;
  if (!/\.ya?ml$/.test(name)) return 'is not a runbook file: lint reads .yaml and .yml files, the ones rectify serve loads from a runbooks folder';
  if (name.startsWith('.')) return 'is a hidden file, which rectify serve does not load from a runbooks folder; rename it without the leading dot';
  return `is a runbook test file, which rectify serve does not load; run it with: rectify test ${path}`;
}

/** What is at `path`: a regular file, a folder, or something else (a FIFO, a device, a socket). */
function kindOf(path: string): 'file' | 'dir' | 'other' {
  try {
    const st = statSync(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    // Gone since existsSync, or not readable: the loader says which.
    return 'dir';
  }
}

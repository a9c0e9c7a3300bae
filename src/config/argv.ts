import type { LoadProblem } from '../domain/errors.js';
import { nearest } from '../lib/suggest.js';

/**
 * Splits the arguments after the subcommand into flags and positionals. Values
 * are not validated here: the value parsers do that, so a flag and its env var
 * get the same message.
 */
export type FlagKind = 'string' | 'boolean';

export interface RawFlag {
  name: string;
  /** `true` for a bare boolean flag; otherwise the text after `=` or the next argument. */
  value: string | true;
}

export interface ParsedArgv {
  flags: RawFlag[];
  args: string[];
  help: boolean;
  problems: LoadProblem[];
}

/** An argument up to its `=`: what a message may show of an unknown flag, whose value may be a secret. */
export function flagName(arg: string): string {
  const eq = arg.indexOf('=');
  return eq === -1 ? arg : arg.slice(0, eq);
}

/**
 * A dash that is not `-`: the figure dash, en dash, em dash, horizontal bar (U+2012–U+2015)
 * and minus sign (U+2212). A `--flag` copied from a document whose typesetting joined the
 * two hyphens into one of these: a mistyped flag, never an argument.
 */
const DASHES = /^[\u2012-\u2015\u2212]+/;

/** The typographic dash an argument starts with (`—` in `—token=…`), or undefined. */
export function typographicDash(arg: string): string | undefined {
  return DASHES.exec(arg)?.[0];
}

/** What a message says of such a dash. */
export function dashWords(dash: string): string {
  return `${dash} is not -- (a dash copied from a document?)`;
}

/**
 * An argument as an "unexpected argument" message shows it: up to its `=` (what follows
 * may be a secret: `token=…`), the rest left out.
 */
export function shownArg(arg: string): string {
  const name = flagName(arg);
  return name === arg ? JSON.stringify(arg) : JSON.stringify(`${name}=…`);
}

function flagProblem(name: string, message: string): LoadProblem {
  return { file: `--${name}`, path: '', message };
}

export function parseArgv(argv: readonly string[], known: ReadonlyMap<string, FlagKind>): ParsedArgv {
  const flags: RawFlag[] = [];
  const args: string[] = [];
  const problems: LoadProblem[] = [];
  let help = false;
  const knownNames = [...known.keys(), 'help'].map((n) => `--${n}`);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const dash = typographicDash(arg);
    if (dash !== undefined) {
      const name = flagName(arg).slice(dash.length).replace(/^-+/, '');
      const guess = known.has(name) || name === 'help' ? `--${name}` : nearest(`--${name}`, knownNames);
      problems.push({ file: flagName(arg), path: '', message: `unknown flag: ${dashWords(dash)}${guess ? `; did you mean "${guess}"?` : ''}` });
      continue;
    }
    // "-" alone is the conventional name for stdin, so it is a positional.
    if (!arg.startsWith('-') || arg === '-') {
      args.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      // The name only: in `-slack-signing-secret=…` what follows `=` is a secret.
      problems.push({ file: flagName(arg), path: '', message: 'unknown flag (flags are spelled --name)' });
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const kind = known.get(name);
    if (kind === undefined) {
      const guess = nearest(`--${name}`, knownNames);
      problems.push(flagProblem(name, `unknown flag${guess ? ` (did you mean "${guess}"?)` : ''}`));
      continue;
    }
    if (eq !== -1) {
      flags.push({ name, value: arg.slice(eq + 1) });
      continue;
    }
    if (kind === 'boolean') {
      // A boolean never takes the next argument: in `run --dry-run restart-pod` the
      // runbook id must stay a positional. `--dry-run=false` is the way to say no.
      flags.push({ name, value: true });
      continue;
    }
    const next = argv[i + 1];
    // "--listen --db x" is a forgotten value, not a listen address called "--db".
    if (next === undefined || next.startsWith('--')) {
      problems.push(flagProblem(name, 'expected a value'));
      continue;
    }
    flags.push({ name, value: next });
    i++;
  }
  return { flags, args, help, problems };
}

export interface CommandArgs {
  /** String flags in the order given (they may repeat); booleans as true or false. */
  flags: Record<string, string[] | boolean>;
  args: string[];
  problems: LoadProblem[];
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/**
 * A command's own flags and nothing else, for the commands that take no service
 * settings (`rectify openapi`, `rectify lint`): an unknown flag is a problem, never
 * skipped, and `--check=false` means false.
 */
export function parseCommandArgs(argv: readonly string[], known: Readonly<Record<string, FlagKind>>): CommandArgs {
  const parsed = parseArgv(argv, new Map(Object.entries(known)));
  const problems = [...parsed.problems];
  const flags: Record<string, string[] | boolean> = {};
  for (const f of parsed.flags) {
    if (known[f.name] === 'boolean') {
      const v = f.value === true ? 'true' : f.value.trim().toLowerCase();
      if (TRUE_WORDS.includes(v) || FALSE_WORDS.includes(v)) flags[f.name] = TRUE_WORDS.includes(v);
      else problems.push(flagProblem(f.name, `expected true or false, got ${JSON.stringify(f.value)}`));
      continue;
    }
    const prior = flags[f.name];
    flags[f.name] = [...(Array.isArray(prior) ? prior : []), String(f.value)];
  }
  return { flags, args: parsed.args, problems };
}

import { delimiter, dirname, resolve } from 'node:path';
import type { LoadProblem } from '../domain/errors.js';
import { didYouMean, editDistance, keyLetters, sameLetters } from '../lib/suggest.js';
import { parseArgv, type FlagKind } from './argv.js';
import { CLIENT_ENV } from './client.js';
import { readConfigFile } from './file.js';
import { deepFreeze } from '../lib/index.js';
import {
  envName,
  FILE_KEYS,
  fileKeyName,
  SETTING_NAMES,
  SETTINGS,
  type SettingName,
} from './settings.js';
import type { Config, ConfigSource } from './types.js';
import { boolean, type ValueContext } from './values.js';

export interface LoadOptions {
  /**
   * Directory for relative paths given by flags and environment variables, for the
   * defaults and for the default ./rectify.yaml; defaults to process.cwd(). A relative
   * path written in the config file resolves against the file's own folder.
   */
  cwd?: string;
  /**
   * Flags owned by a subcommand (e.g. `run --param k=v`), so they are not reported
   * as unknown. String flags may repeat and are collected in order.
   */
  extraFlags?: Readonly<Record<string, FlagKind>>;
}

export type LoadResult = { config: Config } | { problems: LoadProblem[] };

const DEFAULT_CONFIG_FILE = 'rectify.yaml';
const DEFAULT_SOURCE: ConfigSource = { kind: 'default', file: 'default', path: '' };

/** One accepted value and where it came from. */
interface Candidate {
  value: unknown;
  /** As written, so messages about it echo the user's own words. */
  raw: unknown;
  source: ConfigSource;
  /** The line of its key, when it comes from the config file. */
  line?: number;
}

/**
 * Loads configuration from flags, env and rectify.yaml, in that order of
 * precedence over the defaults. It never throws for a user's mistake: it checks
 * every source completely, including values a higher source overrides (a broken
 * line in the file should not wait for the day someone drops the flag), and
 * returns all problems at once.
 */
export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  opts: LoadOptions = {},
): LoadResult {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const ctx: ValueContext = { cwd };
  const problems: LoadProblem[] = [];

  // Per source, the accepted value of each setting; precedence is applied at the end.
  const fromFlags = new Map<SettingName, Candidate>();
  const fromEnv = new Map<SettingName, Candidate>();
  const fromFile = new Map<SettingName, Candidate>();

  const accept = (
    into: Map<SettingName, Candidate>,
    name: SettingName,
    raw: unknown,
    source: ConfigSource,
    line?: number,
    at: ValueContext = ctx,
  ): void => {
    const r = SETTINGS[name].parser.parse(raw, at);
    if (r.ok) into.set(name, { value: r.value, raw, source, ...(line ? { line } : {}) });
    else problems.push({ file: source.file, path: source.path, message: r.message, ...(line ? { line } : {}) });
  };

  // 1. Flags.
  const settingByFlag = new Map<string, SettingName>(SETTING_NAMES.map((n) => [SETTINGS[n].flag, n]));
  const flagKinds = new Map<string, FlagKind>(Object.entries(opts.extraFlags ?? {}));
  for (const n of SETTING_NAMES) flagKinds.set(SETTINGS[n].flag, n === 'dryRun' ? 'boolean' : 'string');
  const parsed = parseArgv(argv, flagKinds);
  problems.push(...parsed.problems);
  const extraFlags: Record<string, string[] | boolean> = {};
  for (const f of parsed.flags) {
    const name = settingByFlag.get(f.name);
    const source: ConfigSource = { kind: 'flag', file: `--${f.name}`, path: '' };
    if (name !== undefined) {
      const first = fromFlags.get(name);
      if (first === undefined) {
        accept(fromFlags, name, f.value, source);
        continue;
      }
      // Given again: the same value is harmless; another one is refused, never silently
      // the last (`--dry-run --dry-run=false` ran live). Values are not shown: some are secrets.
      const again = SETTINGS[name].parser.parse(f.value, ctx);
      if (!again.ok) problems.push({ file: source.file, path: '', message: again.message });
      else if (!sameValue(first.value, again.value))
        problems.push({ file: source.file, path: '', message: `given twice, with different values: give it once (no value is taken over the other)` });
    } else if (opts.extraFlags?.[f.name] === 'boolean') {
      const r = boolean.parse(f.value, ctx);
      if (r.ok) extraFlags[f.name] = r.value;
      else problems.push({ file: source.file, path: '', message: r.message });
    } else {
      const prior = extraFlags[f.name];
      extraFlags[f.name] = [...(Array.isArray(prior) ? prior : []), String(f.value)];
    }
  }

  // Safety settings given empty (unset, as any empty value): told, if no other source sets them.
  const givenEmpty: Array<{ name: SettingName; at: Omit<LoadProblem, 'message'> }> = [];
  /** A setting given empty: refused where it must not be (emptyRefused), else unset, and kept for the warning. */
  const empty = (name: SettingName, at: Omit<LoadProblem, 'message'>): void => {
    const refused = SETTINGS[name].emptyRefused;
    if (refused !== undefined) problems.push({ ...at, message: `set but empty: ${refused}` });
    else givenEmpty.push({ name, at });
  };

  // 2. Environment. An empty variable counts as unset: compose files often
  // write `RECTIFY_TOKENS=${TOKENS:-}` to mean "not given". A list whose '' means none
  // (RECTIFY_EXPORTER_JOBS, RECTIFY_COMMAND_ENV) is the exception: '' is that, as with its
  // flag and key; so is
  // the database (RECTIFY_DB=), refused: the default would be a database nobody named.
  for (const n of SETTING_NAMES) {
    const key = envName(SETTINGS[n].flag);
    const raw = env[key];
    if (raw !== undefined && (raw !== '' || SETTINGS[n].emptyIsValue === true)) accept(fromEnv, n, raw, { kind: 'env', file: key, path: '' });
    else if (raw === '') empty(n, { file: key, path: '' });
  }
  problems.push(...misspeltEnvProblems(env));

  // 3. The config file: named explicitly (then it must exist) or ./rectify.yaml if present.
  const explicit = fromFlags.get('configFile') ?? fromEnv.get('configFile');
  const fileLabel = explicit ? String(explicit.raw) : DEFAULT_CONFIG_FILE;
  const filePath = explicit ? String(explicit.value) : resolve(cwd, DEFAULT_CONFIG_FILE);
  const explicitlyBroken = problems.some((p) => p.file === '--config' || p.file === envName('config'));
  let configFile: string | undefined;
  if (!explicitlyBroken) {
    const read = readConfigFile(filePath, fileLabel);
    if (read.kind === 'missing' && explicit) {
      problems.push({ file: explicit.source.file, path: '', message: read.problem });
    } else if (read.kind === 'unreadable') {
      const at = explicit?.source.file ?? fileLabel;
      problems.push({ file: at, path: '', message: read.problem });
    } else if (read.kind === 'read') {
      configFile = filePath;
      problems.push(...read.problems);
      // A path in the file means the same wherever rectify is started from (a systemd
      // unit's WorkingDirectory, a shell elsewhere): it is relative to the file's folder.
      const fileCtx: ValueContext = { cwd: dirname(filePath) };
      const settingByKey = new Map<string, SettingName>(
        SETTING_NAMES.filter((n) => SETTINGS[n].fileKey).map((n) => [fileKeyName(SETTINGS[n].flag), n]),
      );
      for (const entry of read.entries) {
        const name = settingByKey.get(entry.key);
        if (name === undefined) {
          problems.push({
            file: fileLabel,
            path: entry.key,
            message: `unknown key${suggestFileKey(entry.key)}`,
            ...(entry.line ? { line: entry.line } : {}),
          });
          continue;
        }
        // `tokens:` with nothing after it reads as "not set", as YAML readers expect.
        if (entry.value === null) {
          empty(name, { file: fileLabel, path: entry.key, ...(entry.line ? { line: entry.line } : {}) });
          continue;
        }
        accept(fromFile, name, entry.value, { kind: 'file', file: fileLabel, path: entry.key }, entry.line, fileCtx);
      }
    }
  }

  // $KUBECONFIG is kubectl's variable, not ours: it ranks below an explicit
  // kubeconfig in rectify.yaml, which was written for rectify on purpose.
  const fromKubeEnv = new Map<SettingName, Candidate>();
  const kubeEnv = env['KUBECONFIG'];
  if (kubeEnv !== undefined && kubeEnv !== '') {
    const list = kubeEnv
      .split(delimiter)
      .filter((p) => p !== '')
      .map((p) => resolve(cwd, p))
      .join(delimiter);
    fromKubeEnv.set('kubeconfig', { value: list, raw: kubeEnv, source: { kind: 'env', file: 'KUBECONFIG', path: '' } });
  }

  // 4. Precedence, then defaults.
  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  /** Keys of the config file a flag or a variable overrides with another value: said, as the file reads as in force. */
  const overridden: LoadProblem[] = [];
  for (const n of SETTING_NAMES) {
    const chosen = fromFlags.get(n) ?? fromEnv.get(n) ?? fromFile.get(n) ?? fromKubeEnv.get(n);
    const inFile = fromFile.get(n);
    if (chosen && inFile && chosen !== inFile && !sameValue(chosen.value, inFile.value)) overridden.push(overriddenKey(inFile, chosen.source));
    if (chosen) {
      values[n] = chosen.value;
      sources[n] = chosen.line !== undefined ? { ...chosen.source, line: chosen.line } : chosen.source;
      continue;
    }
    const def = SETTINGS[n].default;
    if (def !== undefined) {
      const r = SETTINGS[n].parser.parse(def, ctx);
      // A default that does not parse is our bug, not the user's: fail loudly.
      if (!r.ok) throw new Error(`default of ${n} is invalid: ${r.message}`);
      values[n] = r.value;
    } else {
      // Present-but-undefined keeps the object's shape the same whatever was set.
      values[n] = undefined;
    }
    sources[n] = DEFAULT_SOURCE;
  }

  // 5. Settings that only make sense together.
  if ((values['tlsCert'] === undefined) !== (values['tlsKey'] === undefined)) {
    const given = values['tlsCert'] !== undefined ? 'tlsCert' : 'tlsKey';
    const missing = given === 'tlsCert' ? 'tlsKey' : 'tlsCert';
    const src = sources[given]!;
    const flag = SETTINGS[missing].flag;
    problems.push({
      file: src.file,
      path: src.path,
      message: `set both or neither of TLS certificate and key; ${missing === 'tlsKey' ? 'the key' : 'the certificate'} is missing (--${flag}, ${envName(flag)}, ${fileKeyName(flag)})`,
    });
  }

  if (problems.length > 0) return { problems };

  const config: Config = {
    ...(values as Omit<Config, 'configFile' | 'args' | 'help' | 'extraFlags' | 'cwd' | 'sources' | 'warnings'>),
    configFile,
    args: parsed.args,
    help: parsed.help,
    extraFlags,
    cwd,
    sources: sources as Record<SettingName, ConfigSource>,
    warnings: [
      // `dry_run:` with nothing after it is no dry run: said, since it reads like one.
      ...givenEmpty
        .filter((e) => SETTINGS[e.name].whenEmpty !== undefined && sources[e.name]!.kind === 'default')
        .map((e) => ({ ...e.at, message: `set but empty: ${SETTINGS[e.name].whenEmpty!}` })),
      ...overridden,
      ...unknownEnvWarnings(env),
    ],
  };
  return { config: deepFreeze(config) };
}

/**
 * The warning for a key of the config file that a flag or an environment variable sets to
 * another value (a container image's ENV, a unit's Environment=, a flag left in a script):
 * the file reads as in force and is not. Values are not shown: some are secrets.
 */
function overriddenKey(inFile: Candidate, winner: ConfigSource): LoadProblem {
  return {
    file: inFile.source.file,
    path: inFile.source.path,
    message: `overridden by ${winner.file}, which sets another value: the file's value is not in force`,
    ...(inFile.line ? { line: inFile.line } : {}),
  };
}

/**
 * " (did you mean …?)" for an unknown key of the config file: a near spelling
 * (`listn`, `dryRun`, `dry-run`), or the one key it extends or shortens at a `_`
 * (`listen_addr`, `runbooks_dir`, `max_concurrent`); nothing when several fit (`tls`).
 */
function suggestFileKey(key: string): string {
  const same = sameLetters(key, FILE_KEYS);
  if (same !== undefined) return ` (did you mean "${same}"?)`;
  const near = didYouMean(key, FILE_KEYS);
  if (near !== '') return near;
  const snake = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replaceAll('-', '_');
  const related = FILE_KEYS.filter((k) => snake.startsWith(`${k}_`) || k.startsWith(`${snake}_`));
  return related.length === 1 ? ` (did you mean "${related[0]}"?)` : '';
}

/** Every RECTIFY_* variable rectify reads; the client commands' variables share the prefix and are known too. */
function knownEnvNames(): string[] {
  return [...SETTING_NAMES.map((n) => envName(SETTINGS[n].flag)), ...Object.values(CLIENT_ENV)];
}

const PREFIX_RE = /^RECTIFY[_-]?/i;
/** The part of a variable's name after RECTIFY_, without case or separators. */
const letters = (key: string): string => keyLetters(key.replace(PREFIX_RE, ''));

/**
 * The known variable `key` was surely meant to be, if any: the same letters once case
 * and `_` are ignored (`RECTIFY_DRYRUN`, `rectify_dry_run`), or at most two letters
 * off (`RECTIFY_DRY_RUM`) and less than half of the name, so that a short setting
 * does not claim every short name (`RECTIFY_ID` is not `RECTIFY_DB`).
 */
function nearMissOf(key: string, known: readonly string[]): string | undefined {
  if (!PREFIX_RE.test(key) || known.includes(key)) return undefined;
  const mine = letters(key);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const theirs = letters(k);
    const d = editDistance(mine, theirs);
    if (d < bestD && d <= 2 && d < theirs.length / 2) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/** The name after RECTIFY_ as words: in upper case, `-` read as `_`. */
const words = (key: string): string => key.replace(PREFIX_RE, '').toUpperCase().replaceAll('-', '_');

/**
 * The one setting's variable `key` extends or shortens by words at a `_`, as suggestFileKey
 * reads a file key: a word added (`RECTIFY_DRY_RUN_MODE`, `RECTIFY_RUNBOOKS_DIR`,
 * `RECTIFY_DB_PATH`) or left off (`RECTIFY_MAX_CONCURRENT`); nothing when several fit
 * (`RECTIFY_TLS`). Too many letters apart for nearMissOf, yet as surely meant. Only the
 * service's settings (a client command's variable is nothing it would run without), and
 * not a word put before a name: `RECTIFY_TEST_KUBECONFIG` is a variable of rectify's own tests.
 */
function extendedSettingOf(key: string): { meant: string; added: boolean } | undefined {
  if (!PREFIX_RE.test(key)) return undefined;
  const mine = words(key);
  if (mine === '') return undefined;
  const settings = SETTING_NAMES.map((n) => envName(SETTINGS[n].flag));
  const related = settings.filter((k) => mine.startsWith(`${words(k)}_`) || words(k).startsWith(`${mine}_`));
  return related.length === 1 ? { meant: related[0]!, added: mine.length > words(related[0]!).length } : undefined;
}

/**
 * A variable that is a near miss of a known one, or a setting's with a word added or left
 * off, is refused: ignored, a misspelt
 * RECTIFY_DRY_RUN would let rectify act for real. Such a name is a typo far more
 * often than another tool's own variable, and the fix (rename or unset it) is one line.
 */
function misspeltEnvProblems(env: Readonly<Record<string, string | undefined>>): LoadProblem[] {
  const known = knownEnvNames();
  const problems: LoadProblem[] = [];
  for (const key of Object.keys(env).sort()) {
    // Empty counts as unset, as for the settings themselves: it is left to the warning.
    if (env[key] === undefined || env[key] === '') continue;
    if (known.includes(key)) continue;
    const meant = nearMissOf(key, known);
    if (meant !== undefined) {
      problems.push({
        file: key,
        path: '',
        message: `not a rectify setting, but so close to ${meant} that it was surely meant for it (rectify would run without it): rename it ${meant}, or unset it`,
      });
      continue;
    }
    const extended = extendedSettingOf(key);
    if (extended === undefined) continue;
    problems.push({
      file: key,
      path: '',
      message: `not a rectify setting, but ${extended.meant} with a word ${extended.added ? 'added' : 'left off'}, surely meant for it (rectify would run without it): rename it ${extended.meant}, or unset it`,
    });
  }
  return problems;
}

/**
 * A misspelt RECTIFY_* variable would otherwise be ignored in silence. Other unknown
 * ones are warnings, not problems: other tools (a CLI client, a wrapper script) may
 * share the prefix for their own variables. Near misses of a known variable are
 * refused before this (misspeltEnvProblems).
 */
function unknownEnvWarnings(env: Readonly<Record<string, string | undefined>>): LoadProblem[] {
  const known = knownEnvNames();
  const warnings: LoadProblem[] = [];
  for (const key of Object.keys(env).sort()) {
    const clientOnly = CLIENT_ONLY_ENV[key];
    if (clientOnly !== undefined && env[key] !== undefined && env[key] !== '') {
      warnings.push({ file: key, path: '', message: `read by the client commands only (rectify approvals, approve, run…), not by the service; ${clientOnly}` });
      continue;
    }
    if (!key.startsWith('RECTIFY_') || known.includes(key)) continue;
    warnings.push({ file: key, path: '', message: `not a rectify setting${suggestEnv(key, known)}` });
  }
  return warnings;
}

/**
 * " (did you mean …?)" for an unknown variable: the settings whose names it begins at a
 * `_` when there are several (`RECTIFY_TLS`: RECTIFY_TLS_CERT and RECTIFY_TLS_KEY, not
 * the nearest spelling, RECTIFY_DB), else the nearest spelling, if one is near.
 */
function suggestEnv(key: string, known: readonly string[]): string {
  const mine = words(key);
  const begun = known.filter((k) => words(k).startsWith(`${mine}_`));
  if (begun.length > 1) return ` (did you mean one of ${begun.map((k) => `"${k}"`).join(', ')}?)`;
  return didYouMean(key, known);
}

/**
 * The client commands' variables, which the service would ignore in silence: set in its
 * environment, they are most likely its own setting misnamed (RECTIFY_TOKEN for RECTIFY_TOKENS,
 * which then listened without tokens). What to say after "not by the service".
 */
const CLIENT_ONLY_ENV: Readonly<Record<string, string>> = Object.freeze({
  [CLIENT_ENV.token]: `did you mean ${envName(SETTINGS.tokens.flag)} (the API tokens file)?`,
  [CLIENT_ENV.server]: `the service listens where ${envName(SETTINGS.listen.flag)} says`,
});

/** Whether two parsed values of a setting are the same (lists and mappings by content). */
function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

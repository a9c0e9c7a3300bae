import type { LoadProblem } from '../domain/errors.js';
import { loadConfig, type LoadOptions } from './load.js';
import { fileKeyName, SETTING_NAMES, SETTINGS } from './settings.js';
import type { Config, ConfigSource } from './types.js';

/**
 * What a SIGHUP finds in the configuration, which it does not apply: the service runs on
 * the settings it started with (a reload re-reads the runbooks, the tokens file, the TLS
 * pair and a `${file:}` Slack signing secret, nothing else). `changed`: each setting the
 * configuration read again (the config file, with the same flags and environment) gives
 * another value than the one in force, named by its key in the file, values not shown
 * (some are secrets); `problems`: the configuration no longer loads (a broken edit of the
 * file), which the next start would refuse.
 */
export function configOnReload(
  inForce: Config,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  opts: LoadOptions = {},
): { changed: LoadProblem[]; problems: LoadProblem[] } {
  const loaded = loadConfig(argv, env, { cwd: inForce.cwd, ...opts });
  if ('problems' in loaded) return { changed: [], problems: loaded.problems };
  const next = loaded.config;
  const changed: LoadProblem[] = [];
  // The ./rectify.yaml read when present, gone or come since the start (one named by --config must be there: a problem above).
  if (inForce.configFile !== next.configFile) {
    changed.push(
      next.configFile === undefined
        ? { file: inForce.configFile!, path: '', message: `no longer there: the settings read from it stay in force until a restart` }
        : { file: next.configFile, path: '', message: `there now, and read by a start only: its settings take effect at a restart` },
    );
  }
  for (const n of SETTING_NAMES) {
    // The file that was read is compared above; the setting itself (--config, RECTIFY_CONFIG) is not in the file.
    if (n === 'configFile' || same(inForce[n], next[n])) continue;
    changed.push(settingChanged(fileKeyName(SETTINGS[n].flag), inForce.sources[n], next.sources[n]));
  }
  return { changed, problems: [] };
}

const AT_RESTART = 'it takes effect only at a restart (a reload does not apply the config file\'s settings; the value in force stays)';

/** The line for a setting whose value is not the one in force any more, at the source that changed. */
function settingChanged(key: string, before: ConfigSource, after: ConfigSource): LoadProblem {
  if (after.kind === 'file') return { file: after.file, path: key, message: `${before.kind === 'file' ? 'changed in' : 'set in'} the file: ${AT_RESTART}` };
  if (before.kind === 'file') return { file: before.file, path: key, message: `no longer set in the file: ${AT_RESTART}` };
  // Neither read from the file (a path resolved again, $KUBECONFIG's file list): named by where it is set.
  return { file: after.kind === 'default' ? before.file : after.file, path: '', message: `${key} is no longer the value in force: ${AT_RESTART}` };
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

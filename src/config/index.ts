/**
 * Configuration: the one place that knows about flags, environment variables
 * and rectify.yaml. Everything else receives a frozen Config.
 */
export { loadConfig, type LoadOptions, type LoadResult } from './load.js';
export { configOnReload } from './reload.js';
export { configSummary, describeSource, formatListen } from './summary.js';
export { HELP } from './help.js';
export { loadClientArgs, CLIENT_ENV, CLIENT_FLAGS, DEFAULT_SERVER, type ClientArgs, type ClientArgsResult, type ClientSettings } from './client.js';
export { serveConfigProblems, isLoopbackHost, unsupportedDatabase } from './serve.js';
export { resolveSecret, resolveAuditKey, resolveAuditPreviousKeys, settingFileProblem, AUDIT_KEY_MIN_LENGTH, type SecretSetting } from './secrets.js';
export type { Config, ConfigSource } from './types.js';
export { parseSlackApprover, type DbTarget, type ListenAddress } from './values.js';
export { LOG_LEVELS, KUBERNETES_MODES, type LogLevel, type KubernetesMode, type SettingName } from './settings.js';
export { dashWords, flagName, parseCommandArgs, shownArg, typographicDash, type CommandArgs, type FlagKind } from './argv.js';

/**
 * The composition root's only way to the real environment. loadConfig itself
 * takes env as a parameter so tests never mutate process.env.
 */
export function readProcessEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

import type { LoadProblem } from '../domain/errors.js';
import type { KubernetesMode, LogLevel, SettingName } from './settings.js';
import type { DbTarget, ListenAddress } from './values.js';

/** Where a setting's value came from, for messages such as "listen (from RECTIFY_LISTEN) is not loopback". */
export interface ConfigSource {
  readonly kind: 'flag' | 'env' | 'file' | 'default';
  /** `--listen`, `RECTIFY_LISTEN`, the config file as given, or `default`. */
  readonly file: string;
  /** The YAML key when kind is `file`; empty otherwise. */
  readonly path: string;
  /** The line of the YAML key when kind is `file` (when known). */
  readonly line?: number;
}

/**
 * The whole configuration, parsed once and deep-frozen. Paths are absolute
 * (from flags, environment variables and defaults resolved against `cwd`, from
 * the config file against the file's folder) so nothing later depends on the
 * process's directory.
 */
export interface Config {
  readonly listen: Readonly<ListenAddress>;
  readonly db: Readonly<DbTarget>;
  readonly runbooks: string;
  /** A runbooks folder with more runbook files than this is refused before any is read. */
  readonly maxRunbookFiles: number;
  /** The config file that was read, if any (absolute). */
  readonly configFile: string | undefined;
  readonly prometheusUrl: string | undefined;
  /** Path of the API tokens file; undefined means only a loopback listen address is allowed. */
  readonly tokens: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly maxConcurrentExecutions: number;
  readonly dryRun: boolean;
  readonly approvalTtlMs: number;
  readonly circuitFailureThreshold: number;
  readonly circuitRecoveryMs: number;
  readonly bodyLimitBytes: number;
  readonly shutdownGraceMs: number;
  readonly maxPendingDecisions: number;
  /** Approval requests one runbook may have pending; past it an alert that would open another is blocked. */
  readonly maxPendingApprovals: number;
  readonly dbBusyTimeoutMs: number;
  readonly dedupRetentionMs: number;
  readonly historyRetentionMs: number;
  readonly logLevel: LogLevel;
  /**
   * A kubeconfig path. When it comes from $KUBECONFIG it may be a list joined by
   * the platform's path delimiter, as kubectl allows.
   */
  readonly kubeconfig: string | undefined;
  readonly kubernetes: KubernetesMode;
  readonly publicUrl: string | undefined;
  /** Receives every notification as JSON. */
  readonly notifyWebhook: string | undefined;
  /** How long one notification delivery attempt waits for the receiver's answer. */
  readonly notifyTimeoutMs: number;
  /** Repeats of a blocked or manual decision (same event, runbook, service) within this long are summed up, not told one by one; 0 tells each (`0s`). */
  readonly notifyRepeatWindowMs: number;
  /** Services told one by one per event and runbook within a repeat window; more are summed up. */
  readonly notifyRepeatServices: number;
  /** Slack incoming webhook: its path is a secret. */
  readonly slackWebhookUrl: string | undefined;
  /** Slack signing secret, or `${file:/path}` to read it from (at startup). Never logged. */
  readonly slackSigningSecret: string | undefined;
  /** HMAC key of the audit chain, or `${file:/path}` to read it from (at startup). Never logged. */
  readonly auditKey: string | undefined;
  /** Audit keys the log was written with before `auditKey`, each a key or `${file:/path}`. Never logged. */
  readonly auditPreviousKeys: readonly string[] | undefined;
  /** Scrape jobs of exporters whose `service`/`job` label an Alertmanager alert's service is not taken from. */
  readonly exporterJobs: readonly string[];
  /** Slack user ids allowed to use the approval buttons; undefined lets anyone who sees the message. */
  readonly slackApprovers: readonly string[] | undefined;
  /** Names of environment variables passed through to command actions (`--command-env`, `command_env`): names only, never values. */
  readonly commandEnv: readonly string[];
  /** Positional arguments after the subcommand, e.g. the runbook id of `rectify run`. */
  readonly args: readonly string[];
  /** `--help` or `-h` was given. */
  readonly help: boolean;
  /** Values of subcommand flags declared through `opts.extraFlags`: repeatable strings, or a boolean. */
  readonly extraFlags: Readonly<Record<string, readonly string[] | boolean>>;
  /** The directory relative paths of flags, environment variables and defaults were resolved against. */
  readonly cwd: string;
  readonly sources: Readonly<Record<SettingName, ConfigSource>>;
  /** Not fatal, but worth logging at startup (serve logs them): an unknown RECTIFY_* variable, a client command's variable (RECTIFY_TOKEN) set for the service, a safety setting given empty (`dry_run:`), a config-file key a flag or a variable overrides with another value. */
  readonly warnings: readonly LoadProblem[];
}

import {
  boolean,
  byteSizeWithin,
  database,
  duration,
  envVarNames,
  labelValues,
  listenAddress,
  MAX_BUSY_TIMEOUT_MS,
  oneOf,
  path,
  positiveInt,
  positiveIntUpTo,
  secretList,
  secretValue,
  slackUserIds,
  webhookUrl,
  prometheusUrl,
  publicUrl,
  type ValueParser,
} from './values.js';
import { DEFAULT_MAX_RUNBOOK_FILES } from '../runbooks/load.js';

/**
 * The table of settings: one row per setting, naming its flag, environment
 * variable, rectify.yaml key and default. loadConfig, --help and the summary are
 * all driven by this table, so a setting cannot exist in one place and be
 * forgotten in another.
 */
export interface Setting<T> {
  /** Flag name without the leading dashes; the env var and YAML key derive from it. */
  readonly flag: string;
  /** False for settings that make no sense inside the file (where the file itself is). */
  readonly fileKey: boolean;
  readonly parser: ValueParser<T>;
  /** The default in its written form, parsed by the same parser, so --help shows what the user would type. */
  readonly default?: string;
  readonly help: string;
  /**
   * `''` is a value of its own (an empty list: none), from the environment too, where an
   * empty variable otherwise counts as unset.
   */
  readonly emptyIsValue?: boolean;
  /**
   * A safety setting: given empty (`dry_run:` or `dry_run: ~` in the file, `RECTIFY_DRY_RUN=`)
   * it is unset, and startup warns saying what that means (after "set but empty: ").
   */
  readonly whenEmpty?: string;
  /**
   * Given empty (`RECTIFY_DB=`, `db:` with nothing after it) it is refused, from that source
   * whatever else sets it, rather than unset: what unset would mean (after "set but empty: "),
   * and what to do. A template that came out empty would otherwise fall back in silence.
   */
  readonly emptyRefused?: string;
}

function setting<T>(s: Setting<T>): Setting<T> {
  return Object.freeze(s);
}

/**
 * The shortest retention: an interrupted run (needs_human) must still be there when a
 * person looks after a restart, and an alert id must stay decided across Alertmanager's
 * re-deliveries (its repeat_interval, 4h by default, sends a firing alert again).
 */
const RETENTION_MIN = { ms: 60 * 60 * 1000, said: '1h' };

/**
 * Bounds of the counts and sizes: past them a value is a slip (a zero too many), and would
 * show itself only under load. A body past 1 GiB is no alert, and each is held in memory
 * whole (Node cannot hold one past its buffer limit at all); one under 1 KiB refuses any real alert.
 */
const MAX_CONCURRENT_EXECUTIONS = 100_000;
const MAX_PENDING = 1_000_000;
/** The most approval requests one runbook may have pending (--max-pending-approvals). */
const MAX_PENDING_APPROVALS = 100_000;
const MAX_REPEAT_SERVICES = 10_000;
const BODY_LIMIT_MIN = { bytes: 1024, said: '1KiB' };
const BODY_LIMIT_MAX = { bytes: 1024 ** 3, said: '1GiB' };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const KUBERNETES_MODES = ['auto', 'off', 'in-cluster', 'kubeconfig'] as const;
export type KubernetesMode = (typeof KUBERNETES_MODES)[number];

export const SETTINGS = Object.freeze({
  listen: setting({
    flag: 'listen',
    fileKey: true,
    parser: listenAddress,
    default: '127.0.0.1:9095',
    help: 'HTTP listen address; a non-loopback address needs --tokens',
  }),
  db: setting({
    flag: 'db',
    fileKey: true,
    parser: database,
    default: 'sqlite:./data/rectify.db',
    help: 'database file: sqlite:<path> (this build opens SQLite only)',
    emptyRefused:
      'it names no database, and rectify would record its decisions in the default sqlite:./data/rectify.db, which may not be the one meant: name the database (sqlite:<path>), or unset it to use the default',
  }),
  runbooks: setting({
    flag: 'runbooks',
    fileKey: true,
    parser: path,
    default: './runbooks',
    help: 'folder of runbook YAML files',
  }),
  maxRunbookFiles: setting({
    flag: 'max-runbook-files',
    fileKey: true,
    parser: positiveInt,
    default: String(DEFAULT_MAX_RUNBOOK_FILES),
    help: 'most runbook files the runbooks folder may hold: a folder with more is refused before any file is read (at start rectify does not start; a reload keeps the runbooks in force)',
  }),
  configFile: setting({
    flag: 'config',
    fileKey: false,
    parser: path,
    help: 'config file (default ./rectify.yaml if present)',
  }),
  prometheusUrl: setting({
    flag: 'prometheus-url',
    fileKey: true,
    parser: prometheusUrl,
    help: 'Prometheus base URL for promql checks',
  }),
  tokens: setting({
    flag: 'tokens',
    fileKey: true,
    parser: path,
    help: 'API tokens file (YAML, SHA-256 hashes only; re-read on SIGHUP); without it only a loopback listen address is allowed',
  }),
  tlsCert: setting({ flag: 'tls-cert', fileKey: true, parser: path, help: 'TLS certificate (PEM); needs --tls-key' }),
  tlsKey: setting({ flag: 'tls-key', fileKey: true, parser: path, help: 'TLS private key (PEM); needs --tls-cert' }),
  maxConcurrentExecutions: setting({
    flag: 'max-concurrent-executions',
    fileKey: true,
    parser: positiveIntUpTo(MAX_CONCURRENT_EXECUTIONS),
    default: '3',
    help: 'executions running at once (at most 100000)',
  }),
  dryRun: setting({
    flag: 'dry-run',
    fileKey: true,
    parser: boolean,
    default: 'false',
    help: 'record what would run, run nothing',
    whenEmpty: 'rectify runs remediations for real (live mode)',
  }),
  approvalTtlMs: setting({
    flag: 'approval-ttl',
    fileKey: true,
    parser: duration({ allowZero: false, min: { ms: 60_000, said: '1m' } }),
    default: '1h',
    help: 'how long an approval request stays open (at least 1m)',
  }),
  circuitFailureThreshold: setting({
    flag: 'circuit-failure-threshold',
    fileKey: true,
    parser: positiveInt,
    default: '3',
    help: 'consecutive failures that open a runbook circuit',
  }),
  circuitRecoveryMs: setting({
    flag: 'circuit-recovery',
    fileKey: true,
    parser: duration({ allowZero: false, min: { ms: 1_000, said: '1s' } }),
    default: '5m',
    help: 'time an open circuit waits after its last failure before a trial run (half-open; at least 1s)',
  }),
  bodyLimitBytes: setting({
    flag: 'body-limit',
    fileKey: true,
    parser: byteSizeWithin(BODY_LIMIT_MIN, BODY_LIMIT_MAX),
    default: '5MiB',
    help: 'largest accepted request body (1KiB to 1GiB)',
  }),
  shutdownGraceMs: setting({
    flag: 'shutdown-grace',
    fileKey: true,
    parser: duration({ allowZero: true }),
    default: '30s',
    help: 'time to drain running executions on shutdown',
  }),
  maxPendingDecisions: setting({
    flag: 'max-pending',
    fileKey: true,
    parser: positiveIntUpTo(MAX_PENDING),
    default: '20000',
    help: 'decisions waiting to be prepared, or writes waiting to be recorded (an intake request one), beyond which intake answers 503 (at most 1000000)',
  }),
  maxPendingApprovals: setting({
    flag: 'max-pending-approvals',
    fileKey: true,
    parser: positiveIntUpTo(MAX_PENDING_APPROVALS),
    default: '100',
    help: 'approval requests one runbook may have pending; past it an alert that would open another is blocked (BLAST_LIMITED), one joining a pending request of its plan still joins (at most 100000)',
  }),
  dbBusyTimeoutMs: setting({
    flag: 'db-busy-timeout',
    fileKey: true,
    parser: duration({ allowZero: true, max: { ms: MAX_BUSY_TIMEOUT_MS, said: "24d (SQLite's limit)" } }),
    default: '5s',
    help: 'how long a write waits for a database lock held elsewhere before intake answers 503',
  }),
  dedupRetentionMs: setting({
    flag: 'dedup-retention',
    fileKey: true,
    parser: duration({ allowZero: false, min: RETENTION_MIN }),
    default: '24h',
    help: 'how long after its last delivery an alert dedup key is remembered (at least 1h)',
  }),
  historyRetentionMs: setting({
    flag: 'history-retention',
    fileKey: true,
    parser: duration({ allowZero: false, min: RETENTION_MIN }),
    default: '7d',
    help: 'how long finished executions and decided approvals are kept (at least 1h; a decided approval also while the incident of its alert is; the audit log keeps everything)',
  }),
  logLevel: setting({
    flag: 'log-level',
    fileKey: true,
    parser: oneOf('<level>', LOG_LEVELS),
    default: 'info',
    help: LOG_LEVELS.join('|'),
  }),
  kubeconfig: setting({
    flag: 'kubeconfig',
    fileKey: true,
    parser: path,
    help: 'kubeconfig file (falls back to $KUBECONFIG)',
  }),
  kubernetes: setting({
    flag: 'kubernetes',
    fileKey: true,
    parser: oneOf('<mode>', KUBERNETES_MODES),
    default: 'auto',
    help: 'how to reach Kubernetes: ' + KUBERNETES_MODES.join('|'),
  }),
  publicUrl: setting({
    flag: 'public-url',
    fileKey: true,
    parser: publicUrl,
    help: 'external base URL, for links in notifications',
  }),
  notifyWebhook: setting({
    flag: 'notify-webhook',
    fileKey: true,
    parser: webhookUrl,
    help: 'a URL that receives every notification as JSON (POST)',
  }),
  notifyTimeoutMs: setting({
    flag: 'notify-timeout',
    fileKey: true,
    parser: duration({ allowZero: false, min: { ms: 100, said: '100ms' } }),
    default: '5s',
    help: 'how long one attempt to deliver a notification (or the answer to a Slack click) waits for the answer; past it the attempt counts as failed (the receiver may have it: each retry carries the same notification_id / Idempotency-Key; at least 100ms)',
  }),
  notifyRepeatWindowMs: setting({
    flag: 'notify-repeat-window',
    fileKey: true,
    parser: duration({ allowZero: true }),
    default: '5m',
    help: 'a blocked or manual decision repeated for one runbook and service is told once, then its repeats summed up after this long (0s: every one is told)',
  }),
  notifyRepeatServices: setting({
    flag: 'notify-repeat-services',
    fileKey: true,
    parser: positiveIntUpTo(MAX_REPEAT_SERVICES),
    default: '10',
    help: 'within one repeat window, services told one by one per event and runbook; decisions for more services are summed up in one message (at most 10000)',
  }),
  slackWebhookUrl: setting({
    flag: 'slack-webhook-url',
    fileKey: true,
    parser: webhookUrl,
    help: 'a Slack incoming-webhook URL for notifications (a secret: prefer the environment variable)',
  }),
  slackSigningSecret: setting({
    flag: 'slack-signing-secret',
    fileKey: true,
    parser: secretValue,
    help: 'Slack app signing secret (or ${file:/path}, re-read on SIGHUP): enables approve/reject buttons at /api/v1/slack/interactions',
  }),
  auditKey: setting({
    flag: 'audit-key',
    fileKey: true,
    parser: secretValue,
    help: 'HMAC key for the audit hash chain (or ${file:/path}; at least 32 characters): without it a row\'s hash is a plain sha256 that anyone who can write the database can recompute',
  }),
  auditPreviousKeys: setting({
    flag: 'audit-previous-keys',
    fileKey: true,
    parser: secretList,
    help: 'audit keys the log was written with before --audit-key (comma-separated, each a key or ${file:/path}): a log whose newest row is under one of them moves to --audit-key with an AUDIT_KEY_ROTATED row, and verify checks the older rows with them',
  }),
  exporterJobs: setting({
    flag: 'exporter-jobs',
    fileKey: true,
    parser: labelValues,
    default: 'kube-state-metrics,node-exporter,kubelet',
    emptyIsValue: true,
    help: "scrape jobs of exporters that report on other things (comma-separated; replaces the default, '' for none): an Alertmanager alert whose service or job label is one of them is keyed to the labels after it (deployment, container, namespace, node, instance…), not to the exporter",
  }),
  slackApprovers: setting({
    flag: 'slack-approvers',
    fileKey: true,
    parser: slackUserIds,
    whenEmpty: 'anyone who can see an approval message can approve or reject it with the Slack buttons',
    help: 'Slack user ids allowed to approve or reject with the Slack buttons (comma-separated); without it, anyone who can see an approval message can',
  }),
  commandEnv: setting({
    flag: 'command-env',
    fileKey: true,
    parser: envVarNames,
    default: '',
    emptyIsValue: true,
    help: "names of variables of rectify's environment passed to command actions (comma-separated; names only, never values; '' for none); each set at start is passed, beside PATH, LANG and RECTIFY_STEP_ID",
  }),
});

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<K extends SettingName> = (typeof SETTINGS)[K] extends Setting<infer T> ? T : never;

export function envName(flag: string): string {
  return 'RECTIFY_' + flag.toUpperCase().replaceAll('-', '_');
}

export function fileKeyName(flag: string): string {
  return flag.replaceAll('-', '_');
}

export const SETTING_NAMES = Object.freeze(Object.keys(SETTINGS) as SettingName[]);

/** Every key rectify.yaml may contain, for did-you-mean. */
export const FILE_KEYS: readonly string[] = Object.freeze(
  SETTING_NAMES.filter((n) => SETTINGS[n].fileKey).map((n) => fileKeyName(SETTINGS[n].flag)),
);

import type { Config, ConfigSource } from './types.js';
import { describeSecret } from '../lib/index.js';
import { redactUrl } from './values.js';

/**
 * What the service logs at startup: every setting an operator may want to
 * check, and nothing secret. Postgres and Prometheus URLs may carry passwords
 * in their userinfo, so those are redacted; file paths (tokens, TLS key) are
 * not secret, their contents are, and we never read contents here.
 */
export function configSummary(config: Config): Record<string, unknown> {
  return {
    listen: formatListen(config.listen),
    db: config.db.kind === 'sqlite' ? `sqlite:${config.db.path}` : redactUrl(config.db.url),
    runbooks: config.runbooks,
    maxRunbookFiles: config.maxRunbookFiles,
    configFile: config.configFile ?? null,
    prometheusUrl: config.prometheusUrl === undefined ? null : redactUrl(config.prometheusUrl),
    tokens: config.tokens ?? null,
    tls: config.tlsCert !== undefined,
    maxConcurrentExecutions: config.maxConcurrentExecutions,
    dryRun: config.dryRun,
    approvalTtlMs: config.approvalTtlMs,
    circuitFailureThreshold: config.circuitFailureThreshold,
    circuitRecoveryMs: config.circuitRecoveryMs,
    bodyLimitBytes: config.bodyLimitBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    maxPendingDecisions: config.maxPendingDecisions,
    maxPendingApprovals: config.maxPendingApprovals,
    dbBusyTimeoutMs: config.dbBusyTimeoutMs,
    dedupRetentionMs: config.dedupRetentionMs,
    historyRetentionMs: config.historyRetentionMs,
    logLevel: config.logLevel,
    kubernetes: config.kubernetes,
    kubeconfig: config.kubeconfig ?? null,
    publicUrl: config.publicUrl === undefined ? null : redactUrl(config.publicUrl),
    notifyWebhook: config.notifyWebhook === undefined ? null : new URL(config.notifyWebhook).origin,
    notifyTimeoutMs: config.notifyTimeoutMs,
    notifyRepeatWindowMs: config.notifyRepeatWindowMs,
    notifyRepeatServices: config.notifyRepeatServices,
    // A Slack webhook's path is its credential: show only that one is set.
    slackWebhookUrl: config.slackWebhookUrl === undefined ? null : 'set',
    // Under a key the log censors (…Secret): a description it shows, null or "set" like the others.
    slackSigningSecret: describeSecret(config.slackSigningSecret),
    auditKey: config.auditKey === undefined ? null : config.auditKey.startsWith('${file:') ? config.auditKey : 'set',
    auditPreviousKeys: config.auditPreviousKeys === undefined ? null : config.auditPreviousKeys.map((k) => (k.startsWith('${file:') ? k : 'set')),
    exporterJobs: [...config.exporterJobs],
    slackApprovers: config.slackApprovers === undefined ? null : [...config.slackApprovers],
    // Names only: the values of these variables are exactly the kind of thing that is secret.
    commandEnv: [...config.commandEnv],
  };
}

/** `host:port`, bracketing IPv6 so the result parses back. */
export function formatListen(l: { host: string; port: number }): string {
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

/** Where a setting's value came from, as a person would look for it: `set by RECTIFY_RUNBOOKS`. */
export function describeSource(s: ConfigSource): string {
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

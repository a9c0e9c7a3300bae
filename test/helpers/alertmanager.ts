import { join } from 'node:path';
import { requireBinary, startDaemon, type RunningDaemon } from './prometheus.js';

/**
 * A real Alertmanager for tests (Debian's /usr/bin/prometheus-alertmanager) that
 * delivers every alert, firing and resolved, to one webhook — rectify's, or an
 * http-target standing in for it:
 *
 *   const hook = await startHttpTarget();
 *   hook.route('POST', '/hook', { status: 200 });
 *   const am = await startAlertmanager({ webhookUrl: `${hook.url}/hook` });
 *   await postAlerts(am.url, [{ labels: { alertname: 'HighErrorRate', service: 'api' } }]);
 *   const req = await hook.waitForRequest('/hook');   // version "4" payload
 *   await am.stop();
 *
 * HA gossip is off (`--cluster.listen-address=`): a lone test instance would
 * otherwise wait to settle its cluster before sending anything.
 */

export interface AlertmanagerOptions {
  webhookUrl: string;
  /** How long to wait to batch a new group's first notification; default 1. */
  groupWaitSeconds?: number;
  /** Between notifications about new alerts in a group; default 1. */
  groupIntervalSeconds?: number;
  /** Before re-sending an unchanged group; default 3600 (tests rarely want repeats). */
  repeatIntervalSeconds?: number;
  /** Sent as `Authorization: Bearer <token>` on every webhook. */
  bearerToken?: string;
  /** Route `group_by`; default ['alertname']. `['...']` makes every alert its own group. */
  groupBy?: string[];
  /** The webhook's `max_alerts`: notifications carry at most this many alerts and count the rest in `truncatedAlerts`. */
  maxAlerts?: number;
  startTimeoutMs?: number;
}

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningDaemon> {
  await requireBinary(ALERTMANAGER_BIN, 'apt-get install prometheus-alertmanager');
  const webhook: Record<string, unknown> = { url: opts.webhookUrl, send_resolved: true, ...(opts.maxAlerts !== undefined ? { max_alerts: opts.maxAlerts } : {}) };
  if (opts.bearerToken !== undefined) {
    webhook.http_config = { authorization: { type: 'Bearer', credentials: opts.bearerToken } };
  }
  const config = {
    route: {
      receiver: 'webhook',
      group_by: opts.groupBy ?? ['alertname'],
      group_wait: `${opts.groupWaitSeconds ?? 1}s`,
      group_interval: `${opts.groupIntervalSeconds ?? 1}s`,
      repeat_interval: `${opts.repeatIntervalSeconds ?? 3600}s`,
    },
    receivers: [{ name: 'webhook', webhook_configs: [webhook] }],
  };
  return startDaemon({
    name: 'alertmanager',
    bin: ALERTMANAGER_BIN,
    files: { 'alertmanager.yml': JSON.stringify(config, null, 2) },
    args: (dir, port) => [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    startTimeoutMs: opts.startTimeoutMs ?? 30_000,
  });
}

/** An alert as the v2 API takes it (`POST /api/v2/alerts`). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  /** ISO 8601; default: now (set by Alertmanager). */
  startsAt?: string;
  /** ISO 8601; a time in the past resolves the alert. */
  endsAt?: string;
  generatorURL?: string;
}

/** Posts alerts through the v2 API; throws with Alertmanager's message unless it answers 200. */
export async function postAlerts(amUrl: string, alerts: PostableAlert[], signal?: AbortSignal): Promise<void> {
  const base = amUrl.endsWith('/') ? amUrl : `${amUrl}/`;
  const res = await fetch(new URL('api/v2/alerts', base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
    signal: signal ?? AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /api/v2/alerts → ${res.status}: ${text.slice(0, 500)}`);
}

import type { Logger } from 'pino';
import type { Clock } from '../lib/index.js';
import type { IntakeRefusalReason, Metrics } from '../observability/metrics.js';
import type { Outbox } from '../notify/outbox.js';
import type { NotificationEvent, Notify } from '../notify/types.js';
import type { Store } from '../store/ports.js';

export { INTAKE_REFUSAL_REASONS, type IntakeRefusalReason } from '../observability/metrics.js';

/** One intake request refused as a whole: nothing in it was decided. */
export interface IntakeRefusal {
  /**
   * The route's path (`/api/v1/webhooks/alertmanager`): one of a handful, never the
   * request's URL. A POST to no route under an intake path is counted under the path
   * it fell under: `/api/v1/webhooks/*` or `/api/v1/incidents/*`.
   */
  route: string;
  /** A POST to no route (`unknown_path`): the path it was sent to (bounded by the caller). */
  path?: string;
  reason: IntakeRefusalReason;
  /** A `malformed` body: what was wrong with it, for the advice; absent when it was not one JSON document. */
  fault?: BodyFault;
  /** The HTTP status answered (413, 415, 400). */
  status: number;
  /** The body's size as its sender declared it (Content-Length), or null when it did not. */
  bytes: number | null;
  /** What the sender was answered (it may quote the sender's text: bounded by the caller). */
  message: string;
  /**
   * The sender is a webhook (Alertmanager, PagerDuty): it drops a delivery answered
   * 4xx without retrying, and no person reads the answer.
   */
  webhook: boolean;
  /** Who sent it (the ingest token's name), when tokens are configured. */
  caller: string | null;
}

/**
 * What made a body `malformed` besides not being one JSON document: a key given twice in
 * one object, a `__proto__` key (or a `constructor` object holding `prototype`), bytes that
 * are not UTF-8. Each is told its own fix; all are counted under `malformed`.
 */
export type BodyFault = 'key_twice' | 'reserved_key' | 'not_utf8';

/** What to fix in a sender whose body was `malformed` by a fault of its own. */
const MALFORMED_ADVICE: Record<BodyFault, string> = {
  key_twice: 'make the sender post each key of an object once (the answer names the key given twice)',
  reserved_key: 'make the sender post no "__proto__" key, nor a "constructor" object holding "prototype"',
  not_utf8: 'make the sender post its body encoded as UTF-8 (the answer names the first byte that is not)',
};

export interface IntakeRefusalsDeps {
  store: Pick<Store, 'transact'>;
  clock: Clock;
  log: Logger;
  metrics: Pick<Metrics, 'intakeRefused'>;
  notify?: Notify;
  /** Gives the notification its id before its row is written, which records it: told again after a restart if never delivered (notify/outbox.ts). */
  outbox?: Pick<Outbox, 'announce'>;
  /** --body-limit, named in what a person is told. */
  bodyLimitBytes: number;
  /** Per route and reason, at most one warning, audit row and notification in this long (default a minute); the rest are counted into the next. */
  windowMs?: number;
}

interface Window {
  /** When the last one was told. */
  toldAt: number;
  /** Refused since then, and only counted. */
  untold: number;
}

/** The intake routes, as a sender is told to post to them. */
export const INTAKE_PATHS = ['POST /api/v1/webhooks/alertmanager', 'POST /api/v1/webhooks/pagerduty', 'POST /api/v1/incidents'] as const;

const MiB = 1024 * 1024;
const size = (bytes: number): string => (bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`);

/**
 * Intake requests refused as a whole are made visible. Alertmanager drops a group
 * answered 4xx and does not send it again, so a group larger than --body-limit (a
 * storm of thousands of alerts in one notification) would otherwise vanish with
 * nothing in rectify's log, audit or metrics: the one trace would be a line in
 * Alertmanager's log.
 *
 * Every refusal is counted (rectify_intake_refused_total{route,reason}). A warning
 * says what to do; a body too large, and any refusal of a webhook's delivery, is also
 * audited (INTAKE_REFUSED) and told to a person (outcome `refused`, never summed up by
 * the repeat filter), its row recording the notification: told again after a restart
 * to a receiver with no record of it (notify/outbox.ts). A flood (a sender retrying, an oversized group every
 * group_interval) is told at most once per route and reason per window: the ones in
 * between are counted, and the next one told says how many there were.
 */
export function createIntakeRefusals(deps: IntakeRefusalsDeps): { refused(r: IntakeRefusal): void; abandoned(route: string): void } {
  const windowMs = deps.windowMs ?? 60_000;
  // Keyed by route and reason: a handful of keys, whatever the senders do.
  const windows = new Map<string, Window>();

  function advice(r: IntakeRefusal): string {
    switch (r.reason) {
      case 'body_too_large':
        return `raise --body-limit (now ${size(deps.bodyLimitBytes)}) above the largest body the sender posts${r.webhook ? ", or set max_alerts on rectify's Alertmanager receiver so a large group is cut down (rectify then reports the alerts it left out as ALERTS_TRUNCATED)" : ''}`;
      case 'unsupported_media_type':
        return 'make the sender post Content-Type: application/json';
      case 'malformed':
        return r.fault ? MALFORMED_ADVICE[r.fault] : 'make the sender post one JSON document with a correct Content-Length';
      case 'invalid':
        return 'fix what the answer names in the sender (its version, a field, a label map larger than 1,000 entries, a query parameter in its URL)';
      case 'unknown_path':
        return `point the sender at one of the intake routes: ${INTAKE_PATHS.join(', ')}`;
    }
  }

  function tell(r: IntakeRefusal, untold: number, since: number | null): void {
    const at = deps.clock.now();
    const fix = advice(r);
    const earlier = untold > 0 && since !== null ? { also_refused: untold, since: new Date(since).toISOString() } : {};
    const fields = { route: r.route, ...(r.path !== undefined ? { path: r.path } : {}), reason: r.reason, status: r.status, bytes: r.bytes, body_limit: deps.bodyLimitBytes, answer: r.message, fix, ...earlier };
    deps.log.warn(fields, 'intake request refused as a whole: nothing in it was decided');
    if (!(r.reason === 'body_too_large' || r.webhook)) return;
    const what =
      r.reason === 'body_too_large'
        ? `a body of ${r.bytes === null ? `more than ${size(deps.bodyLimitBytes)}` : size(r.bytes)}, larger than --body-limit (${size(deps.bodyLimitBytes)})`
        : r.reason === 'unknown_path'
          ? `a body posted to ${r.path ?? r.route}, where no route is (${r.status})`
          : `a body (${r.status}: ${r.message})`;
    const dropped = r.webhook ? ': the sender drops a delivery answered 4xx (Alertmanager does not send it again), so none of its alerts was decided' : ': nothing in it was decided';
    const more = untold > 0 && since !== null ? ` (${untold} more refused the same way since ${new Date(since).toISOString()} were only counted)` : '';
    const reason = `rectify refused ${what}${r.reason === 'unknown_path' ? '' : ` on ${r.route}`}${dropped}; ${fix}${more}`;
    const event: NotificationEvent = { event: 'INTAKE_REFUSED', outcome: 'refused', reason, at, incident_id: null, runbook: null, service: null, execution_id: null, approval_id: null };
    // The row records the notification (its id, what was told, to whom): a crash that
    // loses it before delivery has it told again at the next start.
    const announced = deps.notify ? deps.outbox?.announce(event) : undefined;
    // The row first, then the person: a failed audit (the store down) still tells them.
    const audited = deps.store.transact((tx) => tx.appendAudit({ at, event: 'INTAKE_REFUSED', actor: r.caller ?? 'rectify', details: { ...fields, ...announced?.details } }));
    const told = (): void => deps.notify?.(announced?.event ?? event);
    void audited.then(told, (err: unknown) => {
      deps.log.warn({ err, route: r.route, reason: r.reason }, 'could not audit a refused intake request');
      told();
    });
  }

  return {
    /**
     * Its sender closed the connection before the body arrived whole: nothing was
     * answered, so nothing was refused (the sender sends again). Counted apart
     * (reason `aborted`); no warning, audit row or notification.
     */
    abandoned(route: string): void {
      deps.metrics.intakeRefused(route, 'aborted');
    },
    refused(r: IntakeRefusal): void {
      deps.metrics.intakeRefused(r.route, r.reason);
      const key = `${r.route} ${r.reason}`;
      const now = deps.clock.now();
      const w = windows.get(key);
      // A clock stepped back ends the minute too: timed from the last one told alone,
      // refusals (groups Alertmanager drops for good) would go untold for the whole step.
      if (w && now >= w.toldAt && now - w.toldAt < windowMs) {
        w.untold++;
        return;
      }
      windows.set(key, { toldAt: now, untold: 0 });
      tell(r, w?.untold ?? 0, w?.toldAt ?? null);
    },
  };
}

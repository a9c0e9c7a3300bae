/**
 * The metrics port: what happened, in domain words. Callers never see
 * prom-client, label names or buckets, so tests use `noopMetrics` and the
 * Prometheus mapping can change in one file.
 *
 * Cardinality rule: every argument must come from a bounded set — runbook ids,
 * the decision vocabulary, audit event names, ingest source names. Never pass
 * alert labels, service names or incident ids: each distinct value is a new
 * time series held in memory forever.
 */
export const EXECUTION_OUTCOMES = ['success', 'failed', 'aborted', 'interrupted'] as const;
export type ExecutionOutcome = (typeof EXECUTION_OUTCOMES)[number];

/** Gauge values, in this order, for `rectify_circuit_state`. */
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export type CircuitStateName = (typeof CIRCUIT_STATES)[number];

/** What a person ended by hand, for `rectify_operator_resets_total{kind}`. */
export const OPERATOR_RESET_KINDS = ['circuit_close', 'cooldown_clear'] as const;
export type OperatorResetKind = (typeof OPERATOR_RESET_KINDS)[number];

/** The intake routes (served by api/routes/intake.ts), for `rectify_intake_refused_total{route}`. */
export const INTAKE_ROUTES = ['/api/v1/webhooks/alertmanager', '/api/v1/webhooks/pagerduty', '/api/v1/incidents'] as const;
export type IntakeRoute = (typeof INTAKE_ROUTES)[number];

/**
 * Why an intake request was refused as a whole, before any of it was decided (the `reason`
 * label of rectify_intake_refused_total, beside `aborted`). `unknown_path` is a POST to no
 * route under an intake path, counted under the path it fell under (INTAKE_UNKNOWN_ROUTES).
 */
export const INTAKE_REFUSAL_REASONS = ['body_too_large', 'unsupported_media_type', 'malformed', 'invalid', 'unknown_path'] as const;
export type IntakeRefusalReason = (typeof INTAKE_REFUSAL_REASONS)[number];
/** The `route` label of a POST to no route under an intake path (reason `unknown_path`): the path it fell under, never its URL. */
export const INTAKE_UNKNOWN_ROUTES = ['/api/v1/webhooks/*', '/api/v1/incidents/*'] as const;

/**
 * What came of one round of a notification to one receiver, for
 * `rectify_notifications_total{receiver,result}`: `delivered`; `deferred`, not delivered
 * in this round (its attempts spent on a passing failure, or passed over behind one that
 * was) and queued for a later round; `failed`, given up (refused with a 4xx or a redirect,
 * its last round failed, or passed over with no later round). A full queue's drops are
 * rectify_notifications_dropped_total; what a stop cut off is told again at the next start
 * and counted then.
 */
export const NOTIFICATION_RESULTS = ['delivered', 'deferred', 'failed'] as const;
export type NotificationResult = (typeof NOTIFICATION_RESULTS)[number];
/** The error codes a request is answered 503 with, for `rectify_http_unavailable_total{code}`. */
export const UNAVAILABLE_CODES = ['STORE_UNAVAILABLE', 'OVERLOADED', 'SHUTTING_DOWN'] as const;
export type UnavailableCode = (typeof UNAVAILABLE_CODES)[number];

export interface Metrics {
  /** `count` incidents (default 1) were accepted from `source` (alertmanager, pagerduty, api, manual). */
  incidentReceived(source: string, count?: number): void;
  /**
   * `count` decisions (default 1) were recorded: `action` from the decision vocabulary, `event`
   * the audit event that explains it. One per incident taken in and per manual run, and one
   * per approval that carries its request out (what came of it), never for a vote, a
   * rejection, an expiry or a cancellation.
   */
  decision(action: string, event: string, count?: number): void;
  executionFinished(runbook: string, outcome: ExecutionOutcome, durationSeconds: number): void;
  circuitState(runbook: string, state: CircuitStateName): void;
  paused(isPaused: boolean): void;
  /** A store commit of `size` writes (an intake request with all its decisions is one) took `seconds`. */
  commitBatch(size: number, seconds: number): void;
  /** `n` approval requests are pending now (set at start and after every change, never counted per alert). */
  approvalsPending(n: number): void;
  /** A runbook's own kill switch is on (true) or off. */
  runbookPaused(runbook: string, paused: boolean): void;
  /** Alertmanager left `count` alerts out of a notification (its webhook `max_alerts`): rectify never saw them. */
  alertsTruncated(count: number): void;
  /**
   * An intake request was refused as a whole (nothing in it decided): `route` its path (one
   * of the intake routes), `reason` body_too_large, unsupported_media_type, malformed or invalid;
   * or `aborted`, a request its sender closed before the body arrived (nothing answered, nothing refused).
   */
  intakeRefused(route: string, reason: string): void;
  /**
   * A person ended a guardrail's wait on `runbook` by hand, once it was committed:
   * `circuit_close` (CIRCUIT_CLOSED, by_hand) or `cooldown_clear` (COOLDOWN_CLEARED, one
   * however many cooldowns it ended). A refused request (403, 404, 409) counts nothing.
   */
  operatorReset(runbook: string, kind: OperatorResetKind): void;
  /** The store has a lasting fault: nothing is written until rectify restarts (a commit not confirmed, the database file lost). */
  storeFaultLasting(): void;
  /**
   * A round of a notification to `receiver` ended with `result`. `receiver` is the name the
   * audit log and the logs give it (kind, what of its URL is not secret, a hash): one per
   * receiver configured, a bounded set.
   */
  notification(receiver: string, result: NotificationResult): void;
  /** A delivery to `receiver` was not delivered (true: refused, or its attempts spent), or was delivered (false). */
  notifyReceiverFailing(receiver: string, failing: boolean): void;
  /** A request to `route` (its template, never its URL) was answered 503 with `code`. */
  httpUnavailable(route: string, code: UnavailableCode): void;
}

const noop = (): void => {};

export const noopMetrics: Metrics = Object.freeze({
  incidentReceived: noop,
  decision: noop,
  executionFinished: noop,
  circuitState: noop,
  paused: noop,
  commitBatch: noop,
  approvalsPending: noop,
  runbookPaused: noop,
  alertsTruncated: noop,
  intakeRefused: noop,
  operatorReset: noop,
  storeFaultLasting: noop,
  notification: noop,
  notifyReceiverFailing: noop,
  httpUnavailable: noop,
});

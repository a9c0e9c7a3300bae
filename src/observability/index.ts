/** Logging and metrics: one pino root with central redaction; a metrics port with a Prometheus implementation. */
export {
  createLogger,
  createTestLogger,
  redactSecrets,
  SECRET_KEYS,
  REDACTED,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type TestLogger,
} from './logger.js';
export {
  noopMetrics,
  EXECUTION_OUTCOMES,
  CIRCUIT_STATES,
  OPERATOR_RESET_KINDS,
  INTAKE_ROUTES,
  NOTIFICATION_RESULTS,
  type Metrics,
  type NotificationResult,
  type ExecutionOutcome,
  type CircuitStateName,
  type OperatorResetKind,
  type IntakeRoute,
} from './metrics.js';
export { createPrometheusMetrics, type PrometheusMetrics, type PrometheusMetricsOptions, type ReloadedSetting } from './prometheus.js';

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CIRCUIT_STATES, EXECUTION_OUTCOMES, INTAKE_REFUSAL_REASONS, INTAKE_ROUTES, INTAKE_UNKNOWN_ROUTES, NOTIFICATION_RESULTS, OPERATOR_RESET_KINDS, UNAVAILABLE_CODES, type Metrics } from './metrics.js';

/** Values read at scrape time, never counted on the hot path. */
export interface LiveSources {
  /** Writes waiting for the next commit, an intake request with all its decisions one (intake answers 503 past --max-pending). */
  storePending(): number;
  /** Executions under way in this process: a run waiting for its turn at a Kubernetes workload counts (rectify_executions_running). */
  executionsRunning(): number;
  /** Notifications dropped since start because the queue was full. */
  notificationsDropped(): number;
  /** The store's write fault standing now (the state /readyz reports), read without touching the database. */
  storeFault?(): 'lasting' | 'transient' | null;
}

/** What a reload re-reads besides the runbooks: the tokens file, the TLS pair, a `${file:}` Slack signing secret. */
export type ReloadedSetting = 'tokens' | 'tls' | 'slack_signing_secret';

export interface PrometheusMetrics extends Metrics {
  /** Reads these on every scrape (the service's queue depths). */
  watch(sources: LiveSources): void;
  /** The Content-Type to answer GET /metrics with. */
  readonly contentType: string;
  /** The exposition text for GET /metrics. */
  render(): Promise<string>;
  readonly registry: Registry;
  /** A runbook reload ended: `ok` (in force, or nothing changed) or `refused` (the runbooks in force stay). */
  runbooksReloaded(outcome: 'ok' | 'refused'): void;
  /**
   * The reload of a file a setting names ended (the tokens file, the TLS pair, a `${file:}`
   * Slack signing secret): `ok` (in force) or `refused` (the previous one stays in force).
   */
  settingReloaded(part: ReloadedSetting, outcome: 'ok' | 'refused'): void;
  /** The parts a reload re-reads in this process: their counters start at 0 (see knowRunbooks). */
  knowReloadedSettings(parts: readonly ReloadedSetting[]): void;
  /**
   * The runbooks in force (at start, and those a reload adds): their counters
   * (rectify_executions_total by outcome, rectify_operator_resets_total by kind) are
   * shown at 0 where nothing was counted yet, so `increase()` sees the first count
   * (a series that first appears at 1 reads as no increase). A count already made stays.
   */
  knowRunbooks(runbooks: readonly string[]): void;
  /** A reload removed the runbook: its gauges go, rather than stay at their last value (its counters stay, as counters do). */
  forgetRunbook(runbook: string): void;
  /**
   * The notification receivers configured (by their names): rectify_notifications_total
   * starts at 0 for each result, and rectify_notify_receiver_failing at 0, so an alert on
   * the first failure fires (a series that first appears at 1 reads as no increase).
   * Startup recovery then sets 1 for a receiver still failing when rectify stopped
   * (engine/resend.ts failingAtStart).
   */
  knowReceivers(receivers: readonly string[]): void;
}

export interface PrometheusMetricsOptions {
  /** Node process metrics (CPU, memory, event loop, GC); on by default, off in tests that assert whole outputs. */
  defaultMetrics?: boolean;
}

/**
 * Prometheus behind the port. Each call builds its own Registry: prom-client's
 * global default registry is module state, and two instances in one process
 * (tests, or the CLI next to a server) would throw "metric already registered".
 */
export function createPrometheusMetrics(opts: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = new Registry();
  // Process metrics keep their standard names (process_*, nodejs_*) so stock dashboards work.
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const incidents = new Counter({
    name: 'rectify_incidents_total',
    help: 'Incidents accepted, by ingest source.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'rectify_decisions_total',
    // An approval is a person's decision on an incident already counted (approval_required):
    // counted again with what came of it, so the decisions exceed the incidents by the
    // approvals carried out. Dashboards rely on it: defined here and in the README.
    help: 'Decisions recorded, by action and by the audit event that explains it (reason): one per incident or alert taken in (re-deliveries and resolves included) and per manual run, as rectify_incidents_total counts them, plus one per approval that carries its request out, with what came of it (executed, say).',
    labelNames: ['action', 'reason'] as const,
    registers: [registry],
  });
  const executions = new Counter({
    name: 'rectify_executions_total',
    help: 'Executions finished, by runbook and outcome (success, failed, aborted, interrupted).',
    labelNames: ['runbook', 'outcome'] as const,
    registers: [registry],
  });
  const executionDuration = new Histogram({
    name: 'rectify_execution_duration_seconds',
    help: 'Execution wall time from start to final outcome, by runbook.',
    labelNames: ['runbook'] as const,
    // Remediations run from seconds (a pod delete) to many minutes (a rollout with post-checks).
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const circuit = new Gauge({
    name: 'rectify_circuit_state',
    help: 'Circuit breaker state per runbook: 0 = closed, 1 = open, 2 = half-open.',
    labelNames: ['runbook'] as const,
    registers: [registry],
  });
  const pausedGauge = new Gauge({
    name: 'rectify_paused',
    help: '1 while the global kill switch is on (nothing executes automatically), else 0.',
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'rectify_commit_batch_size',
    help: 'Writes committed together per store commit: an intake request with all its decisions counts one, as do an execution\'s record and a person\'s action (not decisions: see rectify_decisions_total).',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'rectify_commit_duration_seconds',
    help: 'Time per store commit (the writes committed together: see rectify_commit_batch_size).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const approvals = new Gauge({
    name: 'rectify_approvals_pending',
    help: 'Approval requests waiting for a human.',
    registers: [registry],
  });
  const runbookPausedGauge = new Gauge({
    name: 'rectify_runbook_paused',
    help: "1 while a runbook's own kill switch is on (it does not run automatically), else 0.",
    labelNames: ['runbook'] as const,
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'rectify_runbook_reloads_total',
    help: 'Runbook folder reloads (SIGHUP) by outcome: ok, or refused (a problem in a file, or a folder left with no runbook; the runbooks in force stay).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const settingReloads = new Counter({
    name: 'rectify_setting_reloads_total',
    help: 'Reloads (SIGHUP) of the files settings name, by part (tokens, tls, slack_signing_secret) and outcome: ok, or refused (the previous one stays in force).',
    labelNames: ['part', 'outcome'] as const,
    registers: [registry],
  });
  const truncated = new Counter({
    name: 'rectify_alerts_truncated_total',
    help: "Alerts Alertmanager left out of its notifications (the webhook's max_alerts): never seen, never decided.",
    registers: [registry],
  });
  const intakeRefused = new Counter({
    name: 'rectify_intake_refused_total',
    help: 'Intake requests refused as a whole, nothing in them decided, by route and reason (body_too_large: over --body-limit; unsupported_media_type; malformed: not one JSON document; invalid: fails the schema; unknown_path: a POST to no route under an intake path, under route /api/v1/webhooks/* or /api/v1/incidents/*). Alertmanager drops a group answered 4xx. reason=aborted counts requests their sender closed before the body arrived: nothing was answered, and the sender sends again.',
    labelNames: ['route', 'reason'] as const,
    registers: [registry],
  });
  const operatorResets = new Counter({
    name: 'rectify_operator_resets_total',
    help: "Guardrail waits a person ended by hand, by runbook and kind (circuit_close: an open or half-open circuit closed, CIRCUIT_CLOSED; cooldown_clear: a runbook's cooldowns ended, COOLDOWN_CLEARED), counted once committed; refused requests count nothing.",
    labelNames: ['runbook', 'kind'] as const,
    registers: [registry],
  });
  let live: LiveSources | undefined;
  const storeFault = new Gauge({
    name: 'rectify_store_fault',
    help: '1 with kind="lasting" while the store has a fault only a restart clears (a commit the disk could not confirm, the database file removed or replaced): nothing is accepted or written until rectify restarts. 1 with kind="transient" while the last write failed and none has succeeded since (a write lock held elsewhere past --db-busy-timeout, a full disk until 8 MiB are free, a read-only file): intake answers 503 STORE_UNAVAILABLE and /readyz says why. Else 0.',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.set({ kind: 'transient' }, live?.storeFault?.() === 'transient' ? 1 : 0);
    },
  });
  const unavailable = new Counter({
    name: 'rectify_http_unavailable_total',
    help: 'Requests answered 503, by route (its template, never the URL) and code: STORE_UNAVAILABLE (the database cannot commit: see rectify_store_fault), OVERLOADED (more than --max-pending writes waiting), SHUTTING_DOWN (rectify is stopping). Nothing of such a request was recorded (unless its answer says how much was); senders retry. /readyz and /healthz answering 503 are not counted.',
    labelNames: ['route', 'code'] as const,
    registers: [registry],
  });
  const notifications = new Counter({
    name: 'rectify_notifications_total',
    help: 'Notification deliveries to each receiver, by result (one that gets later rounds counts once per round): delivered; deferred (not delivered, its attempts spent on a passing failure such as a timeout, a refused connection, a 5xx or a 429, or passed over behind one that was: tried again in a later round); failed (given up: refused with a 4xx or a redirect, its last round failed, or passed over with no later round). A full queue\'s drops are rectify_notifications_dropped_total.',
    labelNames: ['receiver', 'result'] as const,
    registers: [registry],
  });
  const receiverFailing = new Gauge({
    name: 'rectify_notify_receiver_failing',
    help: '1 while the last delivery to the receiver was not delivered (refused with a 4xx or a redirect, or its attempts spent on a passing failure): nothing reaches it; 0 once one is delivered. At a start, 1 for a receiver that a notification told one by one still waits for when the last attempt recorded of a delivery to it failed.',
    labelNames: ['receiver'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'rectify_store_pending',
    help: 'Writes waiting for the next store commit: an intake request with all its decisions counts one, as do an execution\'s record and a person\'s action; intake answers 503 OVERLOADED while more than --max-pending wait.',
    registers: [registry],
    collect() {
      this.set(live?.storePending() ?? 0);
    },
  });
  new Gauge({
    name: 'rectify_executions_running',
    help: 'Executions under way in this process, from the committed claim until the run ends: pre-checks, steps, verification and rollback, and a step waiting for its turn at a Kubernetes workload another run holds (README: Kubernetes, runs under way together).',
    registers: [registry],
    collect() {
      this.set(live?.executionsRunning() ?? 0);
    },
  });
  let droppedSeen = 0;
  new Counter({
    name: 'rectify_notifications_dropped_total',
    help: 'Notifications dropped because the queue was full (remediation never waits on chat).',
    registers: [registry],
    collect() {
      const now = live?.notificationsDropped() ?? 0;
      if (now > droppedSeen) {
        this.inc(now - droppedSeen);
        droppedSeen = now;
      }
    },
  });
  // Present from the first scrape, so alerts on `rectify_paused == 1` never see "no data".
  pausedGauge.set(0);
  approvals.set(0);
  storeFault.set({ kind: 'lasting' }, 0);
  storeFault.set({ kind: 'transient' }, 0);
  for (const route of INTAKE_ROUTES) for (const code of UNAVAILABLE_CODES) unavailable.inc({ route, code }, 0);
  // Counters with label sets known in advance start at 0: Prometheus' increase() reads a
  // series that first appears at 1 as no increase, so an alert on the first count would
  // never fire. Adding 0 creates the series and leaves a count already made as it is.
  for (const outcome of ['ok', 'refused'] as const) reloads.inc({ outcome }, 0);
  for (const route of INTAKE_ROUTES) for (const reason of [...INTAKE_REFUSAL_REASONS, 'aborted']) if (reason !== 'unknown_path') intakeRefused.inc({ route, reason }, 0);
  for (const route of INTAKE_UNKNOWN_ROUTES) intakeRefused.inc({ route, reason: 'unknown_path' }, 0);

  return {
    watch(sources) {
      live = sources;
    },
    contentType: registry.contentType,
    registry,
    render: () => registry.metrics(),
    incidentReceived: (source, count = 1) => incidents.inc({ source }, count),
    decision: (action, event, count = 1) => decisions.inc({ action, reason: event }, count),
    executionFinished: (runbook, outcome, durationSeconds) => {
      executions.inc({ runbook, outcome });
      executionDuration.observe({ runbook }, durationSeconds);
    },
    circuitState: (runbook, state) => circuit.set({ runbook }, CIRCUIT_STATES.indexOf(state)),
    paused: (isPaused) => pausedGauge.set(isPaused ? 1 : 0),
    commitBatch: (size, seconds) => {
      batchSize.observe(size);
      commitSeconds.observe(seconds);
    },
    approvalsPending: (n) => approvals.set(n),
    runbookPaused: (runbook, isPaused) => runbookPausedGauge.set({ runbook }, isPaused ? 1 : 0),
    alertsTruncated: (count) => truncated.inc(count),
    intakeRefused: (route, reason) => intakeRefused.inc({ route, reason }),
    operatorReset: (runbook, kind) => operatorResets.inc({ runbook, kind }),
    storeFaultLasting: () => storeFault.set({ kind: 'lasting' }, 1),
    notification: (receiver, result) => notifications.inc({ receiver, result }),
    notifyReceiverFailing: (receiver, failing) => receiverFailing.set({ receiver }, failing ? 1 : 0),
    httpUnavailable: (route, code) => unavailable.inc({ route, code }),
    runbooksReloaded: (outcome) => reloads.inc({ outcome }),
    settingReloaded: (part, outcome) => settingReloads.inc({ part, outcome }),
    knowReloadedSettings: (parts) => {
      for (const part of parts) for (const outcome of ['ok', 'refused'] as const) settingReloads.inc({ part, outcome }, 0);
    },
    knowRunbooks: (runbooks) => {
      for (const runbook of runbooks) {
        for (const outcome of EXECUTION_OUTCOMES) executions.inc({ runbook, outcome }, 0);
        for (const kind of OPERATOR_RESET_KINDS) operatorResets.inc({ runbook, kind }, 0);
      }
    },
    forgetRunbook: (runbook) => {
      circuit.remove({ runbook });
      runbookPausedGauge.remove({ runbook });
    },
    knowReceivers: (receivers) => {
      for (const receiver of receivers) {
        for (const result of NOTIFICATION_RESULTS) notifications.inc({ receiver, result }, 0);
        receiverFailing.set({ receiver }, 0);
      }
    },
  };
}

import { isRectifyError, longestCooldown, type DecisionResult, type Incident, type Runbook } from '../domain/index.js';
import { createEngine, type ExecutionTracker } from '../engine/index.js';
import type { RunOutcome, RunRequest } from '../execute/runner.js';
import { createExecutionRunner } from '../execute/runner.js';
import { alertmanagerToIncidents } from '../ingest/index.js';
import { createManualClock, newId } from '../lib/index.js';
import { createLogger, noopMetrics } from '../observability/index.js';
import { createDecide, defaultStages, withoutDecidedAgainClause, type Renderer } from '../pipeline/index.js';
import { createRunbookIndex, renderChecks, renderPlan } from '../runbooks/index.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { ExecutorAvailability } from '../executors.js';
import { SIMULATED_CLUSTER, simulatedActions, simulatedChecks, simulatedEnricher, type AssumedOutcome } from './simulated.js';
import type { StreamEntry } from './stream.js';

export interface ReplaySettings {
  runbooks: readonly Runbook[];
  /**
   * The executor kinds the service would have with the same settings (`expectedExecutors`),
   * and why: a runbook needing one it lacks is blocked EXECUTOR_UNAVAILABLE, as the service
   * blocks it, and without Kubernetes no cluster value is made up (the service reads none).
   */
  executors: Readonly<Record<string, ExecutorAvailability>>;
  /** What EXECUTOR_UNAVAILABLE says of an executor the settings leave out on purpose (`unavailableReasons`), as the service says it. */
  unavailable?: ReadonlyMap<string, string>;
  /** Where the SQL migrations are (the service's own). */
  migrationsDir: string;
  maxConcurrentExecutions: number;
  /**
   * `--max-pending`, given to the engine and store as the service gives it. It refuses a body
   * (503) only while others wait, and a replay decides one body at a time: it never does here.
   */
  maxPendingDecisions: number;
  /** `--max-pending-approvals`: past it an alert that would open another request is blocked, as in the service (absent: its default). */
  maxPendingApprovals?: number;
  circuitRecoveryMs: number;
  circuitFailureThreshold: number;
  approvalTtlMs: number;
  /** `--exporter-jobs`: absent, the default. */
  exporterJobs?: readonly string[];
  dedupRetentionMs: number;
  historyRetentionMs: number;
  globalDryRun: boolean;
  /** Simulated time from an execution's start to its end. */
  executionMs: number;
  outcome: AssumedOutcome;
  /** Whether MEDIUM runbooks' guardrail conditions are assumed to hold. */
  guardrailsPass: boolean;
}

type Counts = Record<string, number>;

export interface RunbookReport {
  executions: number;
  approvals: number;
  dry_runs: number;
  blocked: Counts;
}

/** What would have happened. Count maps have sorted keys, so two reports diff cleanly. */
export interface ReplayReport {
  from: string | null;
  to: string | null;
  lines: number;
  alerts: number;
  /** Alerts decided (everything but duplicates). */
  incidents: number;
  executions: Counts;
  executions_by_service: Counts;
  executions_by_runbook_and_service: Record<string, Counts>;
  blocked: Counts;
  /** Event and reason, with the moving part (seconds left) taken out: cooldown and rate limit are both RATE_LIMITED. */
  blocked_reasons: Counts;
  /** Decisions left to a person without a block: NO_RUNBOOK, LOW_CONFIDENCE. */
  manual: Counts;
  /** Approval requests opened (alerts that joined a pending request for the same plan are not counted again). */
  approvals: number;
  approvals_by_runbook: Counts;
  dry_runs: Counts;
  duplicates: number;
  resolved: number;
  /**
   * Notifications Alertmanager cut short (`truncatedAlerts`, its receiver's max_alerts)
   * and the alerts it left out of them, which no replay (and no service) sees: counted
   * as the service records them (ALERTS_TRUNCATED), a re-delivery of one not again.
   */
  truncated_deliveries: number;
  truncated_alerts: number;
  /**
   * Webhook bodies the service would refuse, nothing of them decided: 400 (not a
   * webhook body), 413 (larger than --body-limit). Each line, its status and why are in
   * `refusals`. Never a 503 of a full queue (--max-pending): bodies are decided one at a time.
   */
  refused: number;
  refusals: Array<{ line: number; status: number; reason: string }>;
  /** How the simulated executions ended: succeeded, failed, aborted. */
  outcomes: Counts;
  circuit_trips: Counts;
  decisions: Counts;
  runbooks: Record<string, RunbookReport>;
  assumptions: {
    execution_time_ms: number;
    outcome: AssumedOutcome;
    guardrails: 'pass' | 'fail';
    executors: 'simulated';
    /** Each executor kind: whether the service would have it with these settings, and why (decided from them alone: nothing is connected to). */
    executor_availability: Record<string, ExecutorAvailability>;
    /** The values the service would read from the cluster, made up; null without the Kubernetes executor (the service reads none). */
    cluster: typeof SIMULATED_CLUSTER | null;
    /** Approval requests are never answered: they expire after `approval_ttl_ms`. */
    approvals: 'never_answered';
    approval_ttl_ms: number;
    /** Nobody pauses the service or a runbook during the replay. */
    pauses: 'none';
  };
}

const bump = (m: Counts, k: string, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

function sorted<T>(m: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]!]));
}

/**
 * "Cooldown active (212s remaining)" and "Cooldown active (12s remaining)" are one
 * reason; so are a Kubernetes target's cooldowns and an open circuit's waits however
 * long they have left ("(Ns remaining; it counts…)", "trial allowed in Ns"). Without the
 * words saying when the alert is decided again ("; decided again at the alert's next
 * delivery"), the same for every alert a replay decides.
 */
export function reasonKey(event: string, reason: string): string {
  const key = withoutDecidedAgainClause(reason)
    .replace(/\s*\(\d+s remaining\)/g, '')
    .replace(/\(\d+s remaining;/g, '(Ns remaining;')
    .replace(/trial allowed in \d+s/g, 'trial allowed in Ns');
  return `${event}: ${key.trim()}`;
}

/**
 * The engine's decisions on one body, or the refusal the service answers for it: the
 * route turns what `accept` throws as a RectifyError into its status (503 when more
 * than --max-pending decisions would wait, which needs deliveries at once: a replay,
 * one body at a time, makes none), nothing of the body recorded. Anything
 * else is a fault of rectify, and is thrown.
 */
export async function acceptOrRefuse<T>(accept: () => Promise<T>): Promise<{ ok: true; results: T } | { ok: false; status: number; reason: string }> {
  try {
    return { ok: true, results: await accept() };
  } catch (err) {
    if (!isRectifyError(err)) throw err;
    return { ok: false, status: err.status, reason: err.message };
  }
}

/**
 * Feeds a recorded stream through the service's own decision path — intake
 * normalisation, runbook matching, the guardrail stages, the engine's transactions
 * and the execution runner — on a simulated clock set to each line's time, against a
 * throw-away in-memory database. Only the executors are simulated (nothing acts on
 * anything), and so is time: an execution ends `executionMs` after it starts.
 */
export async function replayStream(entries: readonly StreamEntry[], s: ReplaySettings): Promise<ReplayReport> {
  const clock = createManualClock(entries[0]?.at ?? 0);
  const log = createLogger({ level: 'silent' });
  const store = openSqliteStore({ path: ':memory:', migrationsDir: s.migrationsDir, maxPending: s.maxPendingDecisions });
  const exporterJobs = s.exporterJobs ? new Set(s.exporterJobs) : undefined;
  const index = createRunbookIndex(s.runbooks);
  const renderer: Renderer = { renderPlan, renderChecks };
  const available = new Set(Object.keys(s.executors).filter((kind) => s.executors[kind]!.available));
  const kubernetes = available.has('kubernetes');
  const decide = createDecide(defaultStages({ index, renderer }), {
    maxConcurrentExecutions: s.maxConcurrentExecutions,
    circuitRecoveryMs: s.circuitRecoveryMs,
    available,
    ...(s.unavailable ? { unavailable: s.unavailable } : {}),
    globalDryRun: s.globalDryRun,
  });
  const outcomes: Counts = {};
  const trips: Counts = {};
  const byType = <T extends { type: string }>(xs: T[]) => new Map(xs.map((x) => [x.type, x]));
  const runner = createExecutionRunner({
    store,
    actions: byType(simulatedActions(s.outcome)),
    // Pre- and post-checks pass: the outcome is decided by the actions (see simulatedActions).
    checks: byType(simulatedChecks(true)),
    clock,
    log,
    circuitFailureThreshold: s.circuitFailureThreshold,
    onFinished: (o) => bump(outcomes, o.state),
    onCircuit: (runbook, state) => {
      if (state === 'open') bump(trips, runbook);
    },
  });

  // Executions start when the engine has committed their claim and end on the
  // simulated clock: the loop below runs each one when time reaches its end.
  const pending: Array<{ due: number; req: RunRequest; done: (o: RunOutcome) => void }> = [];
  const tracker: ExecutionTracker = {
    start(req) {
      return new Promise<RunOutcome>((done) => {
        pending.push({ due: req.startedAt + s.executionMs, req, done });
        pending.sort((a, b) => a.due - b.due);
      });
    },
    get: () => undefined,
    size: () => pending.length,
    unrecordedCause: () => undefined,
    drain: async () => ({ finished: 0, interrupted: 0, unrecorded: [] }),
  };
  const never = new AbortController().signal;
  async function advanceTo(t: number): Promise<void> {
    while (pending.length && pending[0]!.due <= t) {
      const next = pending.shift()!;
      if (next.due > clock.now()) clock.set(next.due);
      next.done(await runner(next.req, never));
    }
    if (t > clock.now() && Number.isFinite(t)) clock.set(t);
  }

  const engine = createEngine({
    store,
    catalog: index,
    renderer,
    decide,
    executions: tracker,
    checks: byType(simulatedChecks(s.guardrailsPass)),
    ...(kubernetes ? { enricher: simulatedEnricher } : {}),
    clock,
    log,
    metrics: noopMetrics,
    approvalTtlMs: s.approvalTtlMs,
    dryRun: s.globalDryRun,
    circuitFailureThreshold: s.circuitFailureThreshold,
    maxPreparing: s.maxPendingDecisions,
    ...(s.maxPendingApprovals !== undefined ? { maxPendingApprovals: s.maxPendingApprovals } : {}),
  });

  const r: ReplayReport = {
    from: entries.length ? new Date(entries[0]!.at).toISOString() : null,
    to: entries.length ? new Date(entries[entries.length - 1]!.at).toISOString() : null,
    lines: entries.length,
    alerts: 0,
    incidents: 0,
    executions: {},
    executions_by_service: {},
    executions_by_runbook_and_service: {},
    blocked: {},
    blocked_reasons: {},
    manual: {},
    approvals: 0,
    approvals_by_runbook: {},
    dry_runs: {},
    duplicates: 0,
    resolved: 0,
    truncated_deliveries: 0,
    truncated_alerts: 0,
    refused: 0,
    refusals: [],
    outcomes,
    circuit_trips: trips,
    decisions: {},
    runbooks: {},
    assumptions: {
      execution_time_ms: s.executionMs,
      outcome: s.outcome,
      guardrails: s.guardrailsPass ? 'pass' : 'fail',
      executors: 'simulated',
      executor_availability: sorted({ ...s.executors }),
      cluster: kubernetes ? SIMULATED_CLUSTER : null,
      approvals: 'never_answered',
      approval_ttl_ms: s.approvalTtlMs,
      pauses: 'none',
    },
  };
  const asked = new Set<string>();
  const perRunbook = (id: string): RunbookReport => (r.runbooks[id] ??= { executions: 0, approvals: 0, dry_runs: 0, blocked: {} });
  for (const rb of s.runbooks) perRunbook(rb.id);

  function refuse(line: number, status: number, reason: string): void {
    r.refused++;
    r.refusals.push({ line, status, reason });
  }

  function tally(result: DecisionResult, incident: Incident): void {
    bump(r.decisions, result.action);
    const rb = result.runbook;
    switch (result.action) {
      case 'executed': {
        bump(r.executions, rb!);
        bump(r.executions_by_service, incident.service);
        bump((r.executions_by_runbook_and_service[rb!] ??= {}), incident.service);
        perRunbook(rb!).executions++;
        break;
      }
      case 'blocked':
        bump(r.blocked, result.event);
        bump(r.blocked_reasons, reasonKey(result.event, result.reason));
        if (rb) bump(perRunbook(rb).blocked, result.event);
        break;
      case 'manual':
        bump(r.manual, result.event);
        break;
      case 'approval_required':
        // Requests asked: an alert that joined a pending request asks nobody again.
        if (result.approval_id !== null && asked.has(result.approval_id)) break;
        if (result.approval_id !== null) asked.add(result.approval_id);
        r.approvals++;
        bump(r.approvals_by_runbook, rb!);
        perRunbook(rb!).approvals++;
        break;
      case 'dry_run':
        bump(r.dry_runs, rb!);
        perRunbook(rb!).dry_runs++;
        break;
      case 'duplicate':
        r.duplicates++;
        break;
      case 'resolved':
        r.resolved++;
        break;
      default:
        break;
    }
  }

  try {
    for (const entry of entries) {
      await advanceTo(entry.at);
      // What the service's housekeeping does every few seconds: expire approvals, forget old
      // dedup keys, in as many chunks as it takes (a pass prunes a chunk at a time).
      await engine.expireApprovals();
      const retention = { dedupMs: s.dedupRetentionMs, historyMs: s.historyRetentionMs, cooldownMs: longestCooldown(s.runbooks) };
      while (store.prune(clock.now(), retention).more) {
        // The next chunk: a line replayed after a long quiet sees every old key gone.
      }
      if (!entry.webhook.ok) {
        refuse(entry.line, entry.webhook.status, entry.webhook.reason);
        continue;
      }
      const ingest = alertmanagerToIncidents(entry.webhook.body, { now: clock.now(), newId: () => newId('inc', clock.now()), exporterJobs });
      if (ingest.problems.length) {
        // The service refuses the whole body (400) for what the ingest names a problem, named by
        // its path from the body as the service names it. An
        // alert with no root cause (no alertname, reason or root_cause) or an unreadable
        // confidence is not refused: it is decided (NO_RUNBOOK, LOW_CONFIDENCE) as the service does.
        const p = ingest.problems[0]!;
        refuse(entry.line, 400, `body.${p.path}: ${p.message}`);
        continue;
      }
      const accepted = await acceptOrRefuse(() => engine.accept(ingest.incidents, { mayRead: true }));
      if (!accepted.ok) {
        refuse(entry.line, accepted.status, accepted.reason);
        continue;
      }
      r.alerts += ingest.incidents.length;
      accepted.results.forEach((res, i) => tally(res, ingest.incidents[i]!));
      // The service records a cut-short notification unless every alert of it was a duplicate (a re-delivery).
      const left = entry.webhook.body.truncatedAlerts ?? 0;
      if (left > 0 && !(accepted.results.length > 0 && accepted.results.every((res) => res.action === 'duplicate'))) {
        r.truncated_deliveries++;
        r.truncated_alerts += left;
      }
    }
    await advanceTo(Number.POSITIVE_INFINITY);
  } finally {
    store.close();
  }
  r.incidents = r.alerts - r.duplicates;

  for (const k of ['executions', 'executions_by_service', 'blocked', 'blocked_reasons', 'manual', 'approvals_by_runbook', 'dry_runs', 'outcomes', 'circuit_trips', 'decisions'] as const) {
    r[k] = sorted(r[k]);
  }
  r.executions_by_runbook_and_service = sorted(Object.fromEntries(Object.entries(r.executions_by_runbook_and_service).map(([k, v]) => [k, sorted(v)])));
  r.runbooks = sorted(Object.fromEntries(Object.entries(r.runbooks).map(([k, v]) => [k, { ...v, blocked: sorted(v.blocked) }])));
  return r;
}

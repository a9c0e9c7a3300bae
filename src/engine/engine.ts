import type { Logger } from 'pino';
import type { DecisionResult, Incident, RenderedCheck, Runbook } from '../domain/index.js';
import { hasPlaceholderValues, placeholderValues, RectifyError } from '../domain/index.js';
import { errorMessage, newId, timeoutSignal, type Clock } from '../lib/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { DecideFn, DecideInput, ExecutionPlan, Renderer } from '../pipeline/index.js';
import type { CheckRunner, Enricher } from '../execute/ports.js';
import type { RunOutcome } from '../execute/runner.js';
import type { ApprovalRow, RunbookPause, Store, Tx } from '../store/ports.js';
import type { NotificationEvent, Notify } from '../notify/types.js';
import { applyDuplicate, applyResolved, applyVerdict, type ExecutionClaim } from './apply.js';
import type { ExecutionTracker } from './executions.js';

export interface RunbookCatalog {
  match(incident: Incident): Runbook | undefined;
  byId(id: string): Runbook | undefined;
  all: readonly Runbook[];
}

export interface EngineDeps {
  store: Store;
  catalog: RunbookCatalog;
  renderer: Renderer;
  decide: DecideFn;
  executions: ExecutionTracker;
  checks: ReadonlyMap<string, CheckRunner>;
  enricher?: Enricher;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  approvalTtlMs: number;
  /** Fire-and-forget: decisions that need a person are told to the notifiers. */
  notify?: Notify;
}

export interface AcceptOptions {
  wait?: boolean;
  actor?: string;
  /** The sender left alerts out of this delivery: recorded with its decisions, and a person is told. */
  truncated?: TruncatedDelivery;
}

/**
 * An Alertmanager notification cut short by its webhook's `max_alerts`: `alerts`
 * more firing or resolved alerts of the group that never reached rectify, so were
 * never decided. Alertmanager does not send them later.
 */
export interface TruncatedDelivery {
  alerts: number;
  /** From the payload: untrusted text, bounded, kept in the audit details and logs only. */
  groupKey: string | null;
  receiver: string | null;
}

const ENRICH_TIMEOUT_MS = 5_000;
const GUARDRAIL_TIMEOUT_MS = 15_000;

/**
 * The use cases: accept incidents, decide, approve or reject, run by hand, pause.
 * Decisions for one request are taken and committed in one store unit; executions
 * start only after that commit returned.
 */
export function createEngine(deps: EngineDeps) {
  const { store, catalog, clock, log, metrics } = deps;
  const id = (prefix: string) => newId(prefix, clock.now());

  /**
   * Whether the runbook needs values the incident lacks (the owning deployment, say).
   * Kubernetes runbooks read more than their placeholders (a pod's owning deployment
   * for the named checks), so they are always enriched; the enricher only adds what is missing.
   */
  const needsEnrichment = (incident: Incident, rb: Runbook): boolean =>
    deps.enricher !== undefined && (rb.needs.includes('kubernetes') || !hasPlaceholderValues(incident, rb.params));

  /** The incident's placeholder values, with what the enricher adds when the runbook needs it. */
  async function enrich(incident: Incident, rb: Runbook): Promise<Record<string, string>> {
    const values = placeholderValues(incident);
    if (!deps.enricher || !needsEnrichment(incident, rb)) return values;
    try {
      const extra = await deps.enricher.enrich(values, timeoutSignal(ENRICH_TIMEOUT_MS));
      return { ...extra, ...values };
    } catch (err) {
      // Unknown is not good news: the missing value makes rendering refuse the run.
      log.warn({ err: errorMessage(err), runbook: rb.id }, 'enrichment failed');
      return values;
    }
  }

  /** A MEDIUM runbook's guardrail conditions: all must pass now, or a human approves. */
  async function evaluateGuardrails(rb: Runbook, values: Record<string, string>): Promise<{ ok: boolean; detail: string }> {
    const rendered = deps.renderer.renderChecks(rb.guardrails, values);
    if (!rendered.ok) return { ok: false, detail: rendered.reason };
    for (const check of rendered.checks as RenderedCheck[]) {
      const runner = deps.checks.get(check.type);
      if (!runner) return { ok: false, detail: `no runner for ${check.type} checks` };
      try {
        const out = await runner.run(
          { ...check, timeoutMs: Math.min(check.timeoutMs, GUARDRAIL_TIMEOUT_MS) },
          { signal: timeoutSignal(GUARDRAIL_TIMEOUT_MS + 1_000), log, startedAt: clock.now(), memo: new Map() },
        );
        if (!out.ok) return { ok: false, detail: `${check.type === 'named' ? check.name : check.type}: ${out.detail}` };
      } catch (err) {
        return { ok: false, detail: `guardrail error: ${errorMessage(err)}` };
      }
    }
    return { ok: true, detail: 'all guardrail conditions hold' };
  }

  /**
   * I/O that must happen before deciding (enrichment, MEDIUM guardrails), only where a
   * runbook needs it. Synchronous otherwise: a storm of alerts that need no I/O
   * costs no promise per alert, and holds no copy of its values while the group
   * commit waits (the params stage reads them from the incident).
   */
  function prepare(incident: Incident): DecideInput | Promise<DecideInput> {
    const input: DecideInput = { incident, trigger: 'auto', dryRun: false };
    if (incident.status !== 'firing') return input;
    const rb = catalog.match(incident);
    if (!rb) return input;
    input.runbook = rb;
    const enrichment = needsEnrichment(incident, rb);
    const guardrails = rb.risk === 'MEDIUM' && rb.guardrails.length > 0 && incident.confidence >= rb.minConfidence;
    if (!enrichment && !guardrails) return input;
    return (async () => {
      input.values = await enrich(incident, rb);
      if (guardrails) input.guardrails = await evaluateGuardrails(rb, input.values);
      return input;
    })();
  }

  async function prepareAll(incidents: Incident[]): Promise<DecideInput[]> {
    const prepared = incidents.map(prepare);
    return prepared.some((p) => p instanceof Promise) ? Promise.all(prepared) : (prepared as DecideInput[]);
  }

  function startClaims(claims: ExecutionClaim[]): Map<string, Promise<RunOutcome>> {
    const started = new Map<string, Promise<RunOutcome>>();
    for (const c of claims) {
      started.set(
        c.id,
        deps.executions.start({
          id: c.id,
          incidentId: c.incidentId,
          runbookId: c.runbookId,
          service: c.service,
          plan: c.plan,
          actor: c.actor,
          circuitTrial: c.circuitTrial,
          startedAt: c.startedAt,
        }),
      );
    }
    return started;
  }

  async function settle(results: DecisionResult[], started: Map<string, Promise<RunOutcome>>): Promise<void> {
    await Promise.all(
      results.map(async (r) => {
        const p = r.execution_id ? started.get(r.execution_id) : undefined;
        if (!p) return;
        const out = await p;
        r.success = out.success;
        r.rolled_back = out.rolledBack;
        if (out.event === 'DISRUPTION_BLOCKED') {
          r.action = 'blocked';
          r.event = out.event;
          r.reason = out.outcome;
        } else if (out.state === 'aborted' || out.state === 'interrupted') {
          r.action = 'aborted';
          r.event = out.event;
          r.reason = out.outcome;
        } else if (out.state === 'failed') {
          r.event = 'FAILED';
          r.reason = out.outcome;
        } else {
          r.event = 'SUCCESS';
        }
      }),
    );
  }

  function recordTruncated(tx: Tx, t: TruncatedDelivery, delivered: number, now: number, actor: string): void {
    tx.appendAudit({
      at: now,
      event: 'ALERTS_TRUNCATED',
      actor,
      details: { truncated_alerts: t.alerts, delivered_alerts: delivered, group_key: t.groupKey, receiver: t.receiver },
    });
  }

  /** After the commit: the count, a warning, and a person told (the receiver's max_alerts is too low for this storm). */
  function tellTruncated(t: TruncatedDelivery, delivered: number): void {
    metrics.alertsTruncated(t.alerts);
    log.warn({ truncated_alerts: t.alerts, delivered_alerts: delivered, group_key: t.groupKey, receiver: t.receiver }, 'Alertmanager left alerts out of a notification');
    deps.notify?.({
      event: 'ALERTS_TRUNCATED',
      incident_id: null,
      runbook: null,
      service: null,
      execution_id: null,
      approval_id: null,
      outcome: 'manual',
      reason: `Alertmanager sent ${delivered} alert${delivered === 1 ? '' : 's'} and left ${t.alerts} out of one notification (its webhook max_alerts): rectify never saw them; raise max_alerts (0 is no limit) and look at the group in Alertmanager`,
      at: clock.now(),
    });
  }

  const NEEDS_A_PERSON = new Set(['approval_required', 'manual', 'blocked']);

  /** Who is asked to approve: the runbook's owner, for approval requests. */
  function approvalOwner(r: DecisionResult): string | undefined {
    return r.action === 'approval_required' && r.runbook ? catalog.byId(r.runbook)?.owner : undefined;
  }

  /** Metrics and notifications, counted once per body rather than once per alert. */
  function record(results: DecisionResult[], incidents: Incident[]): void {
    const bySource = new Map<string, number>();
    for (const i of incidents) bySource.set(i.source, (bySource.get(i.source) ?? 0) + 1);
    for (const [source, n] of bySource) metrics.incidentReceived(source, n);
    const byDecision = new Map<string, { action: string; event: string; n: number }>();
    for (const r of results) {
      const key = `${r.action}\u0000${r.event}`;
      const d = byDecision.get(key);
      if (d) d.n++;
      else byDecision.set(key, { action: r.action, event: r.event, n: 1 });
    }
    for (const d of byDecision.values()) metrics.decision(d.action, d.event, d.n);
    if (!deps.notify) return;
    const services = new Map(incidents.map((i) => [i.id, i.service]));
    for (const r of results) {
      // "Always notify": every decision a person must act on. Duplicates were told already.
      if (NEEDS_A_PERSON.has(r.action)) {
        deps.notify({
          event: r.event,
          incident_id: r.incident_id,
          runbook: r.runbook,
          service: services.get(r.incident_id) ?? null,
          execution_id: r.execution_id,
          approval_id: r.approval_id,
          outcome: r.action,
          reason: r.reason,
          at: clock.now(),
          ...(approvalOwner(r) ? { owner: approvalOwner(r)! } : {}),
        });
      }
    }
  }

  return {
    /** Decide on incidents from any source; answered once every decision is durable. */
    async accept(incidents: Incident[], opts: AcceptOptions = {}): Promise<DecisionResult[]> {
      const actor = opts.actor ?? 'rectify';
      const inputs = await prepareAll(incidents);
      const truncated = opts.truncated;
      const { results, claims } = await store.transact((tx) => {
        const now = clock.now();
        if (truncated) recordTruncated(tx, truncated, incidents.length, now, actor);
        const results: DecisionResult[] = [];
        const claims: ExecutionClaim[] = [];
        const seen = new Map<string, DecisionResult>();
        for (const input of inputs) {
          const incident = input.incident;
          // Two copies of one occurrence inside the same body: the second is a duplicate too.
          const dup = applyDuplicate(tx, incident, now, actor) ?? (seen.has(incident.dedup_key) ? { ...seen.get(incident.dedup_key)!, action: 'duplicate' as const, event: 'DUPLICATE' as const } : undefined);
          if (dup) {
            results.push(dup);
            continue;
          }
          if (incident.status === 'resolved') {
            const r = applyResolved(tx, incident, now, actor);
            seen.set(incident.dedup_key, r);
            results.push(r);
            continue;
          }
          const verdict = deps.decide(input, tx, now);
          const { result, claim } = applyVerdict(tx, incident, verdict, {
            now,
            actor,
            trigger: 'auto',
            approvalTtlMs: deps.approvalTtlMs,
            newId: id,
            recordIncident: true,
          });
          if (claim) claims.push(claim);
          seen.set(incident.dedup_key, result);
          results.push(result);
        }
        return { results, claims };
      });
      record(results, incidents);
      if (truncated) tellTruncated(truncated, incidents.length);
      const started = startClaims(claims);
      if (opts.wait) await settle(results, started);
      return results;
    },

    /** A person's one-click run: the same guardrails, approvals and audit as an automatic one. */
    async runManual(runbookId: string, params: Record<string, string>, opts: { by: string; dryRun: boolean; wait?: boolean; service?: string }): Promise<DecisionResult> {
      const rb = catalog.byId(runbookId);
      if (!rb) throw new RectifyError('NOT_FOUND', `no runbook "${runbookId}" is loaded`);
      const service = opts.service ?? params.service ?? rb.id;
      const now = clock.now();
      const incidentId = id('man');
      const incident: Incident = {
        id: incidentId,
        source: 'manual',
        root_cause: `manual run of ${rb.id}`,
        confidence: 1,
        service,
        services: [service],
        symptoms: [],
        context: { ...params },
        labels: {},
        status: 'firing',
        dedup_key: `manual:${incidentId}`,
        received_at: now,
      };
      const values = await enrich(incident, rb);
      const input: DecideInput = { incident, values, trigger: 'manual', runbook: rb, dryRun: opts.dryRun };
      const { result, claim } = await store.transact((tx) => {
        tx.appendAudit({ at: now, event: 'MANUAL_RUN', incident_id: incidentId, runbook: rb.id, actor: opts.by, details: { params, dry_run: opts.dryRun } });
        const verdict = deps.decide(input, tx, clock.now());
        return applyVerdict(tx, incident, verdict, { now: clock.now(), actor: opts.by, trigger: 'manual', approvalTtlMs: deps.approvalTtlMs, newId: id, recordIncident: true, requestedBy: opts.by });
      });
      record([result], [incident]);
      const started = startClaims(claim ? [claim] : []);
      if (opts.wait) await settle([result], started);
      return result;
    },

    /**
     * Approve: the guardrail stages run again (the world may have changed since the
     * request); the plan that runs is the plan the approver saw.
     *
     * Separation of duties: whoever asked for the run (a manual run, or an approval
     * requested on their behalf) cannot approve it. A runbook with
     * `approvals_required: 2` needs two distinct approvers: the first approval is a
     * vote (APPROVAL_VOTE, `result` null), the second carries the plan out; a second
     * vote by the same person is a conflict.
     */
    async approve(
      approvalId: string,
      by: string,
      comment: string | undefined,
      opts: { wait?: boolean; identity?: string } = {},
    ): Promise<{ approval: ApprovalRow; result: DecisionResult | null }> {
      const identity = opts.identity ?? by;
      const { approval, result, claim } = await store.transact((tx) => {
        const now = clock.now();
        const a = pendingOrThrow(tx, approvalId, now);
        if (a.requested_by === by || a.requested_by === identity) {
          throw new RectifyError(
            'FORBIDDEN',
            `${by} requested this run and cannot approve it (separation of duties): another approver must, or reject it to withdraw the request`,
          );
        }
        const prior = a.votes.find((v) => v.identity === identity || v.by === by);
        if (prior) {
          throw new RectifyError(
            'CONFLICT',
            `${by} already approved request ${a.id} at ${new Date(prior.at).toISOString()}; it needs ${a.approvals_required} distinct approvers, so another person must approve`,
          );
        }
        const votes = [...a.votes, { by, identity, at: now, comment: comment ?? null }];
        if (votes.length < a.approvals_required) {
          tx.updateApproval(a.id, { votes });
          tx.appendAudit({
            at: now,
            event: 'APPROVAL_VOTE',
            incident_id: a.incident_id,
            runbook: a.runbook,
            actor: by,
            details: { approval_id: a.id, comment: comment ?? null, votes: votes.length, approvals_required: a.approvals_required },
          });
          return { approval: tx.getApproval(a.id)!, result: null, claim: undefined };
        }
        const rb = catalog.byId(a.runbook);
        const stored = tx.getIncident(a.incident_id);
        const approvers = votes.map((v) => v.by);
        tx.updateApproval(a.id, { status: 'approved', decided_at: now, decided_by: approvers.join(', '), comment: comment ?? null, votes });
        tx.appendAudit({
          at: now,
          event: 'APPROVED',
          incident_id: a.incident_id,
          runbook: a.runbook,
          actor: by,
          details: { approval_id: a.id, comment: comment ?? null, ...(approvers.length > 1 ? { approvers } : {}) },
        });
        if (!rb || !stored) {
          const reason = !rb ? `runbook ${a.runbook} is no longer loaded` : `incident ${a.incident_id} is no longer stored`;
          tx.appendAudit({ at: now, event: 'FAILED', incident_id: a.incident_id, runbook: a.runbook, actor: by, details: { reason } });
          const r: DecisionResult = { incident_id: a.incident_id, action: 'manual', runbook: a.runbook, reason, event: 'FAILED', approval_id: a.id, execution_id: null };
          return { approval: tx.getApproval(a.id)!, result: r, claim: undefined };
        }
        const verdict = deps.decide(
          { incident: stored.incident, values: placeholderValues(stored.incident), trigger: 'approval', runbook: rb, plan: a.plan as ExecutionPlan, dryRun: false },
          tx,
          now,
        );
        const applied = applyVerdict(tx, stored.incident, verdict, { now, actor: by, trigger: 'approval', approvalTtlMs: deps.approvalTtlMs, newId: id, recordIncident: false });
        applied.result.approval_id = a.id;
        if (applied.claim) tx.updateApproval(a.id, { execution_id: applied.claim.id });
        return { approval: { ...tx.getApproval(a.id)! }, result: applied.result, claim: applied.claim };
      });
      if (!result) return { approval, result: null };
      record([result], []);
      const started = startClaims(claim ? [claim] : []);
      if (opts.wait) await settle([result], started);
      return { approval, result };
    },

    async reject(approvalId: string, by: string, comment: string | undefined): Promise<ApprovalRow> {
      return store.transact((tx) => {
        const now = clock.now();
        const a = pendingOrThrow(tx, approvalId, now);
        tx.updateApproval(a.id, { status: 'rejected', decided_at: now, decided_by: by, comment: comment ?? null });
        tx.appendAudit({ at: now, event: 'REJECTED', incident_id: a.incident_id, runbook: a.runbook, actor: by, details: { approval_id: a.id, comment: comment ?? null } });
        return tx.getApproval(a.id)!;
      });
    },

    /** Pending approvals past their deadline become EXPIRED: nobody approved in time. */
    async expireApprovals(): Promise<number> {
      const expired = await store.transact((tx) => expireDue(tx, clock.now()));
      tellExpired(expired);
      return expired.length;
    },

    async setPaused(paused: boolean, by: string, reason?: string): Promise<boolean> {
      const changed = await store.transact((tx) => {
        const was = tx.paused();
        if (was === paused) return false;
        const now = clock.now();
        tx.setPaused(paused, by, now);
        tx.appendAudit({ at: now, event: paused ? 'SERVICE_PAUSED' : 'SERVICE_RESUMED', actor: by, details: { reason: reason ?? null } });
        return true;
      });
      metrics.paused(paused);
      // The kill switch changes what happens to every alert from now on: the team is told who and why.
      if (changed) {
        tell({
          event: paused ? 'SERVICE_PAUSED' : 'SERVICE_RESUMED',
          outcome: paused ? 'paused' : 'resumed',
          reason: `${paused ? 'automatic remediation paused' : 'automatic remediation resumed'} by ${by}${reason ? `: ${reason}` : ''}`,
        });
      }
      return changed;
    },

    /**
     * One runbook's kill switch: while paused it does not run automatically (PAUSED),
     * the other runbooks go on. Audited, notified, kept across restarts.
     */
    async setRunbookPaused(runbookId: string, paused: boolean, by: string, reason?: string): Promise<{ changed: boolean; pause: RunbookPause | null }> {
      if (!catalog.byId(runbookId)) throw new RectifyError('NOT_FOUND', `no runbook "${runbookId}" is loaded`);
      const out = await store.transact((tx) => {
        const was = tx.runbookPaused(runbookId);
        if ((was !== null) === paused) return { changed: false, pause: was };
        const now = clock.now();
        const pause = paused ? { by, reason: reason ?? null, at: now } : null;
        tx.setRunbookPaused(runbookId, pause);
        tx.appendAudit({ at: now, event: paused ? 'RUNBOOK_PAUSED' : 'RUNBOOK_RESUMED', runbook: runbookId, actor: by, details: { reason: reason ?? null } });
        return { changed: true, pause };
      });
      metrics.runbookPaused(runbookId, out.pause !== null);
      if (out.changed) {
        tell({
          event: paused ? 'RUNBOOK_PAUSED' : 'RUNBOOK_RESUMED',
          runbook: runbookId,
          outcome: paused ? 'paused' : 'resumed',
          reason: `automatic runs of ${runbookId} ${paused ? 'paused' : 'resumed'} by ${by}${reason ? `: ${reason}` : ''}`,
        });
      }
      return out;
    },

    /**
     * At startup: an execution still marked running was cut off by a crash. Its
     * state is unknown, so it becomes INTERRUPTED for a human and is never re-run.
     */
    async recover(): Promise<number> {
      return store.transact((tx) => {
        const now = clock.now();
        const running = tx.runningExecutions();
        for (const e of running) {
          const last = e.steps[e.steps.length - 1];
          tx.updateExecution(e.id, { state: 'interrupted', finished_at: now, success: false, rolled_back: false, outcome: 'interrupted: rectify stopped while it ran' });
          tx.releaseBlastRadius(e.id);
          const c = tx.circuit(e.runbook);
          if (c.state === 'half_open' && c.trialExecutionId === e.id) {
            tx.setCircuit(e.runbook, { ...c, state: 'open', openedAt: now, trialExecutionId: null }, now);
          }
          tx.appendAudit({
            at: now,
            event: 'INTERRUPTED',
            incident_id: e.incident_id,
            runbook: e.runbook,
            execution_id: e.id,
            actor: 'rectify',
            details: {
              reason: 'rectify stopped while this execution ran; its outcome is unknown and it will not be re-run: a human must check',
              last_step: last ? { phase: last.phase, index: last.index, summary: last.summary, finished: last.finished_at !== null } : null,
            },
          });
        }
        return { interrupted: running.length, expired: expireDue(tx, now) };
      }).then(({ interrupted, expired }) => {
        tellExpired(expired);
        return interrupted;
      });
    },
  };

  /** A notification about something other than one decision: the fields it does not concern are null. */
  function tell(e: Pick<NotificationEvent, 'event' | 'outcome' | 'reason'> & Partial<Pick<NotificationEvent, 'incident_id' | 'runbook' | 'service' | 'approval_id'>>): void {
    deps.notify?.({ incident_id: null, runbook: null, service: null, execution_id: null, approval_id: null, ...e, at: clock.now() });
  }

  /** An approval request that nobody answered in time is told like the request was: nothing ran. */
  function tellExpired(expired: ApprovalRow[]): void {
    for (const a of expired) {
      tell({
        event: 'EXPIRED',
        incident_id: a.incident_id,
        runbook: a.runbook,
        service: a.service,
        approval_id: a.id,
        outcome: 'expired',
        reason: `nobody approved before the deadline (${new Date(a.expires_at).toISOString()}): nothing ran; trigger a new run if the fix is still needed`,
      });
    }
  }

  function pendingOrThrow(tx: Tx, approvalId: string, now: number): ApprovalRow {
    const a = tx.getApproval(approvalId);
    if (!a) throw new RectifyError('NOT_FOUND', `no approval request "${approvalId}"`);
    if (a.status === 'pending' && a.expires_at <= now) {
      expireDue(tx, now);
      throw new RectifyError('CONFLICT', `approval request ${a.id} expired at ${new Date(a.expires_at).toISOString()}; trigger a new run if the fix is still needed`);
    }
    if (a.status !== 'pending') {
      throw new RectifyError('CONFLICT', `approval request ${a.id} is already ${a.status}${a.decided_by ? ` by ${a.decided_by}` : ''}`);
    }
    return a;
  }

  function expireDue(tx: Tx, now: number): ApprovalRow[] {
    const due = tx.expiredApprovals(now);
    for (const a of due) {
      tx.updateApproval(a.id, { status: 'expired', decided_at: now, decided_by: 'rectify' });
      tx.appendAudit({ at: now, event: 'EXPIRED', incident_id: a.incident_id, runbook: a.runbook, actor: 'rectify', details: { approval_id: a.id, reason: 'nobody approved before the deadline' } });
    }
    return due;
  }
}

export type Engine = ReturnType<typeof createEngine>;

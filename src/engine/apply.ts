import { createHash } from 'node:crypto';
import { firingDedupKeys, quoteUntrusted, RectifyError, type DecisionResult, type Incident, type RenderedStep, type Verdict } from '../domain/index.js';
import { kubernetesTargets, targetRunbookKey, type ExecutionPlan } from '../pipeline/index.js';
import { executionNeedsHuman, type ApprovalRow, type ExecutionRow, type ExecutionTrigger, type StoredDecision, type Tx } from '../store/ports.js';
import { wellFormed } from '../lib/index.js';

/** An execution claimed durably in the decision transaction, to be started after commit. */
export interface ExecutionClaim {
  id: string;
  incidentId: string | null;
  runbookId: string;
  service: string;
  plan: ExecutionPlan;
  trigger: ExecutionTrigger;
  actor: string;
  /** The alert it acts for (RunRequest.alertKey). */
  alertKey: string | null;
  circuitTrial: boolean;
  startedAt: number;
  /** When its incident was received (RunRequest.alertReceivedAt). */
  alertReceivedAt: number;
  /** The approval request it carries out (RunRequest.approvalId); null for an automatic or manual run. */
  approvalId: string | null;
}

export interface ApplyContext {
  now: number;
  actor: string;
  trigger: ExecutionTrigger;
  approvalTtlMs: number;
  newId: (prefix: string) => string;
  /** False when the incident row exists already (an approval being carried out). */
  recordIncident: boolean;
  /** Who asked, for approvals requested on someone's behalf. */
  requestedBy?: string;
  /**
   * Whether whoever opens or joins an approval request is a person (see
   * ApprovalRow.asked_by), decided now and kept with the request. Absent: everyone is.
   */
  isPerson?: (name: string) => boolean;
  /**
   * The id an execution takes, when the caller had to name it before (an approval
   * carried out: its APPROVED row, written first, tells which run starts).
   */
  executionId?: string;
  /** The approval request an execution carries out: its outcome's notification names it (ExecutionClaim.approvalId). */
  approvalId?: string;
  /**
   * Approval requests one runbook may have pending (`--max-pending-approvals`): an alert
   * that would open another is blocked instead (BLAST_LIMITED). Absent: no bound (a
   * person's manual run, an approval carried out).
   */
  maxPendingApprovals?: number;
  /**
   * The incident row exists already, its decision one a re-delivery takes again (a limit
   * that may have cleared, a request nobody answered), and this is the decision taken again on a re-delivery (see decidedAgainOnRedelivery): it replaces the row's
   * decision, and its audit row says so (`decided_again`). With recordIncident false.
   */
  decidedAgain?: boolean;
}

/** `--max-pending-approvals` when none is given. */
export const DEFAULT_MAX_PENDING_APPROVALS = 100;

const ACTION_OF = {
  manual: 'manual',
  blocked: 'blocked',
  approval: 'approval_required',
  execute: 'executed',
  dry_run: 'dry_run',
} as const;

function summaries(plan: ExecutionPlan): string[] {
  return plan.actions.map((s) => s.summary);
}

/**
 * Writes what a verdict means, inside the caller's transaction: the incident row,
 * the audit row, and for an execution the rate-limit consume, the blast-radius
 * claim and the execution row; for an approval the request, or, when an alert asks
 * for the very plan a pending request asks for, its joining that request (`joined`).
 * All or nothing, with the audit row.
 */
export function applyVerdict(
  tx: Tx,
  incident: Incident,
  verdict: Verdict,
  ctx: ApplyContext,
): { result: DecisionResult; claim?: ExecutionClaim; joined?: boolean } {
  const runbookId = verdict.runbook?.id ?? null;
  const result: DecisionResult = {
    incident_id: incident.id,
    action: ACTION_OF[verdict.kind],
    runbook: runbookId,
    reason: verdict.reason,
    event: verdict.event,
    approval_id: null,
    execution_id: null,
  };
  let claim: ExecutionClaim | undefined;
  let joined = false;
  const isPerson = ctx.isPerson ?? (() => true);
  const details: Record<string, unknown> = { reason: verdict.reason, service: incident.service, root_cause: incident.root_cause };

  switch (verdict.kind) {
    case 'approval': {
      // The runbook's version goes with the plan the approver sees: a request outlives a restart, the runbook may not.
      const plan: ExecutionPlan = { ...(verdict.plan as ExecutionPlan), runbookVersion: verdict.runbook.version, runbookPlanVersion: verdict.runbook.planVersion };
      // An alert asking for exactly what a pending request asks (same runbook, service
      // and rendered plan) joins it: a storm asks a person once, not once per alert.
      // Only alerts join, never a person's manual run. Keyed by what the runbook does
      // (Runbook.planVersion): a reload editing its descriptive keys alone (description,
      // name…) leaves the request approvable, so the next alert joins it rather than
      // opening a second one that could run the same fix again.
      const planKey = ctx.trigger === 'auto' && incident.alert_key ? approvalPlanKey(verdict.runbook.id, incident.service, plan) : null;
      // A request recorded by an earlier rectify was keyed with the runbook's whole
      // version (earlierApprovalPlanKey), and before the runbook digests were canonical
      // with the digest of the runbook as written (Runbook.asWritten): an alert after an
      // upgrade joins it rather than asking apart. Those keys are worked out only when
      // the plan's own finds no request: an approval storm's alerts join under it.
      let open: ApprovalRow | undefined = planKey !== null ? tx.pendingApprovalForPlan(planKey, ctx.now) : undefined;
      if (planKey !== null && open === undefined) {
        for (const runbookVersion of new Set([verdict.runbook.version, verdict.runbook.asWritten.version])) {
          open = tx.pendingApprovalForPlan(earlierApprovalPlanKey(verdict.runbook.id, incident.service, { ...plan, runbookVersion }), ctx.now);
          if (open) break;
        }
      }
      if (open && incident.alert_key) {
        const alerts = tx.joinApproval(open.id, incident.alert_key, incident.id);
        // A person whose alert joins it asked for it as much as whoever opened it.
        if (isPerson(ctx.actor)) addAsker(tx, open, ctx.actor, isPerson);
        result.approval_id = open.id;
        result.reason = `${verdict.reason}; the same plan already waits for approval (${open.id}, ${alerts} alerts): this alert joins that request`;
        joined = true;
        Object.assign(details, {
          reason: result.reason,
          approval_id: open.id,
          joined: true,
          alerts,
          expires_at: new Date(open.expires_at).toISOString(),
          actions: summaries(plan),
        });
        break;
      }
      // Each new request asks a person: an alert opens one only while its runbook has
      // fewer than --max-pending-approvals pending (alerts for many services, or plans
      // that differ, would otherwise ask one by one without end). Counted in this
      // transaction, so the requests this body opened count for its next alerts.
      const cap = ctx.maxPendingApprovals;
      const pending = cap !== undefined && ctx.trigger === 'auto' ? tx.pendingApprovalsOf(verdict.runbook.id, ctx.now) : 0;
      if (cap !== undefined && pending >= cap) {
        result.action = 'blocked';
        result.event = 'BLAST_LIMITED';
        result.reason = `${pending} approval requests of ${verdict.runbook.id} are pending (--max-pending-approvals): decide those first: this alert is decided again when it is delivered again (Alertmanager's repeat_interval)`;
        details.reason = result.reason;
        Object.assign(details, { pending, max_pending_approvals: cap });
        break;
      }
      const id = ctx.newId('apr');
      const requestedBy = ctx.requestedBy ?? ctx.actor;
      result.approval_id = id;
      tx.insertApproval({
        id,
        incident_id: incident.id,
        alert_key: incident.alert_key ?? null,
        runbook: verdict.runbook.id,
        service: incident.service,
        status: 'pending',
        reason: verdict.reason,
        plan,
        requested_at: ctx.now,
        requested_by: requestedBy,
        expires_at: ctx.now + ctx.approvalTtlMs,
        approvals_required: verdict.runbook.approvalsRequired,
        votes: [],
        decided_at: null,
        decided_by: null,
        comment: null,
        execution_id: null,
        asked_by: isPerson(requestedBy) ? [requestedBy] : [],
        plan_key: planKey,
        alerts: incident.alert_key ? 1 : 0,
        alerts_open: incident.alert_key ? 1 : 0,
      });
      Object.assign(details, {
        approval_id: id,
        expires_at: new Date(ctx.now + ctx.approvalTtlMs).toISOString(),
        actions: summaries(plan),
        ...(verdict.runbook.owner ? { approver: verdict.runbook.owner } : {}),
      });
      break;
    }
    case 'dry_run':
      Object.assign(details, {
        actions: summaries(verdict.plan as ExecutionPlan),
        rollback: verdict.plan.rollback ? verdict.plan.rollback.map((s) => s.summary) : null,
        params: verdict.plan.params,
      });
      break;
    case 'execute': {
      const plan = verdict.plan as ExecutionPlan;
      const id = ctx.executionId ?? ctx.newId('exe');
      result.execution_id = id;
      const rb = verdict.runbook;
      tx.insertExecution({
        id,
        incident_id: incident.id,
        runbook: rb.id,
        service: incident.service,
        state: 'running',
        trigger: ctx.trigger,
        actor: ctx.actor,
        plan,
        steps: [],
        started_at: ctx.now,
        finished_at: null,
        success: null,
        rolled_back: null,
        outcome: null,
        circuit_trial: verdict.circuitTrial,
      });
      tx.consumeRate(rb.id, incident.service, ctx.now, id);
      const targets = kubernetesTargets(plan);
      for (const target of targets) tx.consumeRate(targetRunbookKey(rb.id), target, ctx.now, id);
      // Its objects are under way with it (released with the claim): the cooldown stage holds off the next run on them.
      tx.claimBlastRadius(id, rb.id, incident.service, ctx.now, targets);
      if (verdict.circuitTrial) {
        const c = tx.circuit(rb.id);
        tx.setCircuit(rb.id, { ...c, state: 'half_open', trialExecutionId: id }, ctx.now);
        tx.appendAudit({ at: ctx.now, incident_id: incident.id, runbook: runbookId, actor: ctx.actor, event: 'CIRCUIT_HALF_OPEN', execution_id: id, details: { reason: 'recovery timeout passed: one trial run allowed' } });
      }
      Object.assign(details, { trigger: ctx.trigger, actions: summaries(plan), params: plan.params });
      claim = {
        id,
        incidentId: incident.id,
        runbookId: rb.id,
        service: incident.service,
        plan,
        trigger: ctx.trigger,
        actor: ctx.actor,
        alertKey: incident.alert_key ?? null,
        circuitTrial: verdict.circuitTrial,
        startedAt: ctx.now,
        alertReceivedAt: incident.received_at,
        approvalId: ctx.approvalId ?? null,
      };
      break;
    }
    default:
      break;
  }

  const decision = { action: result.action, event: result.event, runbook: runbookId, reason: result.reason, approval_id: result.approval_id, execution_id: result.execution_id };
  if (ctx.recordIncident) tx.insertIncident({ incident, ...decision });
  else if (ctx.decidedAgain) {
    tx.redecideIncident(incident.id, decision);
    tx.incidentSeen(incident.id, ctx.now);
    details.decided_again = true;
  }
  tx.appendAudit({ at: ctx.now, event: result.event, incident_id: incident.id, runbook: runbookId, execution_id: result.execution_id, actor: ctx.actor, details });
  if (claim) return { result, claim };
  return joined ? { result, joined } : { result };
}

/**
 * What alerts asking for the same fix share: the runbook, the service and the rendered
 * plan with the version of what the runbook does (runbookPlanVersion), not its whole
 * version: an edit of its descriptive keys alone changes no key.
 */
export function approvalPlanKey(runbook: string, service: string, plan: ExecutionPlan): string {
  const { runbookVersion: _, ...asKeyed } = plan;
  return createHash('sha256').update(JSON.stringify(['plan', runbook, service, keyedPlan(asKeyed)])).digest('base64url');
}

/** The key earlier releases gave a request: the rendered plan with the runbook's whole version (runbookVersion). */
export function earlierApprovalPlanKey(runbook: string, service: string, plan: ExecutionPlan): string {
  // An http action without a body was rendered with `body: null` before it had none at
  // all: keyed as then, so an alert after an upgrade joins the request a repeat of it opened.
  // Keyed without runbookPlanVersion, as before it was kept: runbookVersion covers it.
  const { runbookPlanVersion: _, ...asKeyed } = plan;
  return createHash('sha256').update(JSON.stringify([runbook, service, keyedPlan(asKeyed)])).digest('base64url');
}

/**
 * A plan as keyed: its steps with an http action's missing body as `body: null`, and no
 * rollback as `rollback: null`. The fields keep their order: a key hashes its JSON.
 */
function keyedPlan<P extends Pick<ExecutionPlan, 'actions' | 'rollback'>>(plan: P): P & { rollback: RenderedStep[] | null } {
  return { ...plan, actions: plan.actions.map(bodyAsNull), rollback: plan.rollback?.map(bodyAsNull) ?? null };
}

function bodyAsNull(step: RenderedStep): RenderedStep {
  if (step.type !== 'http' || typeof step.spec !== 'object' || step.spec === null) return step;
  const spec = step.spec as { body?: unknown };
  return spec.body === undefined ? { ...step, spec: { ...spec, body: null } } : step;
}

/** The fields of a reported incident its decision is made from. */
const REPORTED = ['root_cause', 'confidence', 'service', 'services', 'symptoms', 'context', 'labels'] as const;

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
  }
  return false;
}

/**
 * An incident posted through the API again under an id already decided, but saying
 * something else (another root cause, service, confidence, context…): a sender that
 * reuses ids. Answered `duplicate`, it would be dropped unseen (a duplicate runs
 * nothing and tells nobody), with the first incident's runbook and reason as if they
 * were its own. Refused instead (409, nothing recorded), naming what differs. A
 * re-send of the same report stays a duplicate. A resolve is not compared: it is
 * matched by its id alone (its first post is not compared with the firing report
 * either), and what it does, resolve that alert, does not depend on the rest of it;
 * posted again, that alert is resolved already and `duplicate` says so.
 *
 * The earlier report's value and its decision are quoted only to a sender that may read
 * them (`mayRead`: a viewer, or no tokens). An `ingest`-only token reads nothing: it is
 * told that the report differs, not which field, what the incident posted before said
 * nor how it was decided (a stolen intake token would otherwise read any incident whose
 * id it knows, or guess it field by field).
 */
export function repostedDifferently(tx: Tx, incident: Incident, mayRead: boolean): RectifyError | undefined {
  if (incident.source !== 'api' || incident.status !== 'firing') return undefined;
  const first = tx.decisionByDedup(incident.dedup_key);
  const stored = first ? tx.getIncident(first.incident_id)?.incident : undefined;
  if (!first || !stored) return undefined;
  const field = REPORTED.find((f) => !sameValue(stored[f], incident[f]));
  if (!field) return undefined;
  const advice = 'an id names one incident, decided once: post this one with another id, or none';
  // Naming the field would let guesses be checked one field at a time (a right root_cause
  // moves the refusal on to service…): one answer, whatever differs.
  if (!mayRead) return new RectifyError('CONFLICT', `incident ${incident.id} was posted before with another report; ${advice}`, { details: [{ path: 'body', message: `differs from the incident posted before with id ${incident.id}` }] });
  const details = [{ path: `body.${field}`, message: `differs from the incident posted before with id ${incident.id}` }];
  const was = stored[field];
  const now = incident[field];
  const values = typeof was === 'object' ? '' : ` (${quoteUntrusted(String(was))} then, ${quoteUntrusted(String(now))} now)`;
  return new RectifyError('CONFLICT', `incident ${incident.id} was posted before with another ${field}${values} and decided then (${first.action}, ${first.event}); ${advice}`, { details });
}

/**
 * An incident posted through the API under an id another alert has (an Alertmanager
 * alert's, say). A firing one would take that id; a resolve, a row of its own, would
 * resolve the alert of the id it names (`api:<id>`), which that other alert is not:
 * answered `resolved`, it would record a resolve that ended nothing. Both are refused
 * (409, nothing recorded). A resolve of an id posted firing before through the API,
 * with that id or without one (the id rectify gave it), is that alert's: not taken.
 * The id taken, undefined when it is free.
 */
export function postedIdTaken(tx: Pick<Tx, 'getIncident'>, incident: Incident): string | undefined {
  if (incident.source !== 'api') return undefined;
  if (incident.status === 'firing') return tx.getIncident(incident.id) ? incident.id : undefined;
  const key = incident.alert_key;
  if (!key?.startsWith('api:')) return undefined;
  const posted = key.slice('api:'.length);
  const stored = tx.getIncident(posted)?.incident;
  if (stored === undefined) return undefined;
  const own = stored.source === 'api' && stored.alert_key === key && firingDedupKeys(key).includes(stored.dedup_key);
  return own ? undefined : posted;
}

/**
 * Adds a person to the people who asked for a request (ApprovalRow.asked_by), unless
 * they are among them already. A request recorded before the list was kept starts it
 * with whoever opened it, when a person opened it.
 */
function addAsker(tx: Tx, a: ApprovalRow, person: string, isPerson: (name: string) => boolean): void {
  const askedBy = a.asked_by ?? (isPerson(a.requested_by) ? [a.requested_by] : []);
  if (!askedBy.includes(person)) tx.updateApproval(a.id, { asked_by: [...askedBy, person] });
}

/** Why an Alertmanager alert answered `duplicate` with other labels than the alert decided under its key was not decided. */
export const LABELS_DIFFER =
  "but its labels differ from those of the alert decided under the same fingerprint and startsAt: Alertmanager's fingerprint is a hash of the labels, so the sender is broken or is not Alertmanager; this alert was not decided: act on it by hand";

/**
 * Whether an Alertmanager alert's labels differ from those of the alert recorded under
 * its key (fingerprint + startsAt), as the store keeps them (well formed). Unknown (no
 * record) is not a difference.
 */
function labelsDiffer(stored: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!stored) return false;
  const keys = Object.keys(labels);
  if (keys.length !== Object.keys(stored).length) return true;
  return keys.some((k) => !Object.hasOwn(stored, wellFormed(k)) || stored[wellFormed(k)] !== wellFormed(labels[k]!));
}

/**
 * The reason rectify gives when it cancels a pending request, on an approval, because the
 * plan asked about is no longer what its runbook says (edited or removed since): a
 * re-delivery of an alert that request was for is decided again (decidedAgainOnRedelivery).
 */
export function staleRunbookReason(runbookId: string, removed: boolean): string {
  return removed ? `runbook ${runbookId} is no longer loaded` : `runbook ${runbookId} changed since this request was made`;
}

/**
 * Whether an approval request ended with no person's answer, so nobody decided what it
 * asked: it expired (or is pending past its deadline, which housekeeping has yet to
 * record), or rectify cancelled it because its runbook changed or was removed
 * (staleRunbookReason; `decided_by` rectify, a name no person may act under). Not one a
 * person approved or rejected, nor one cancelled because its alerts resolved.
 */
export function endedUnanswered(a: ApprovalRow, now: number): boolean {
  if (a.status === 'expired') return true;
  if (a.status === 'pending') return a.expires_at <= now;
  if (a.status !== 'cancelled' || a.decided_by !== 'rectify' || a.comment === null) return false;
  return a.comment === staleRunbookReason(a.runbook, false) || a.comment === staleRunbookReason(a.runbook, true);
}

/**
 * A firing re-delivery of an occurrence whose decision was a limit that may have cleared
 * since, or that nobody took: its decision, to be taken again (ApplyContext.decidedAgain)
 * rather than answered `duplicate`. That is
 * - a BLAST_LIMITED block: the engine-wide bound on runs under way
 *   (`--max-concurrent-executions`), the runbook's blast radius, or the bound on pending
 *   approval requests (`--max-pending-approvals`). These clear as runs end and requests
 *   are decided: once they have, it is decided as any alert is; while one still holds,
 *   it is blocked again;
 * - a RATE_LIMITED block (max_per_hour, the cooldown) that `limitCleared` says holds no
 *   more for it (the caller judges it with its runbook, as the pipeline would). While it
 *   holds, the re-delivery is a duplicate, as before: a storm's re-deliveries inside the
 *   hour each cost that judgement and one DUPLICATE row;
 * - an approval request it opened or joined that ended unanswered (endedUnanswered:
 *   expired, or cancelled by rectify as its runbook changed or was removed): it asks
 *   again, with the runbook as it is now.
 * One audit row per delivery (as a duplicate's would be). A request still pending is
 * joined (a duplicate); one a person approved or rejected, or cancelled as its alert
 * resolved, stays decided; so do the other blocks (paused, circuit open, low
 * confidence, no runbook, …: act by hand). Not when the occurrence's resolve is recorded
 * (nothing to fix), nor for an Alertmanager alert whose labels differ from those stored
 * under its key (see applyDuplicate).
 */
export function decidedAgainOnRedelivery(
  tx: Tx,
  incident: Incident,
  now: number,
  first = tx.decisionByDedup(incident.dedup_key),
  limitCleared?: (first: StoredDecision) => boolean,
): StoredDecision | undefined {
  if (incident.status !== 'firing' || !first) return undefined;
  const capped = first.action === 'blocked' && first.event === 'BLAST_LIMITED';
  const limited = first.action === 'blocked' && first.event === 'RATE_LIMITED';
  const asked = first.action === 'approval_required' && first.event === 'APPROVAL_REQUIRED' && first.approval_id !== null;
  if (!capped && !limited && !asked) return undefined;
  if (limited && limitCleared?.(first) !== true) return undefined;
  if (incident.alert_key && tx.decisionByDedup(`${incident.alert_key}:resolved`)) return undefined;
  if (asked) {
    const a = tx.getApproval(first.approval_id!);
    if (!a || !endedUnanswered(a, now)) return undefined;
  }
  if (incident.source === 'alertmanager' && labelsDiffer(tx.getIncident(first.incident_id)?.incident.labels, incident.labels)) return undefined;
  return first;
}

/**
 * A second delivery of one occurrence: answered with the first decision, audited; when
 * that decision opened or joined an approval request that is no longer pending, the
 * answer says how it ended (`request apr_… was rejected`); when it started a run that has
 * ended, the answer and the DUPLICATE row say how (`its run exe_… ended interrupted: a person
 * must check`), at the cost of one read of the run. A firing alert sent again by a
 * person's token (`isPerson`), whose first delivery opened or joined an approval request
 * still pending, asks for that request as a join would: the person is added to who asked
 * for it.
 *
 * An Alertmanager alert's key is its sender's fingerprint (a hash of its labels) and
 * startsAt, kept as it is so a firing alert re-sent after an upgrade is still the one
 * decided. One whose labels differ from the alert recorded under its key is another
 * alert (a broken sender, or not Alertmanager): still answered `duplicate` (a new key
 * for it would have to be found again by its re-deliveries and its resolve), but its
 * reason and audit row say so (`labels_differ`, its labels) and `onLabelsDiffer` is
 * told, so a person acts on it. That costs one read of the recorded alert.
 */
export function applyDuplicate(
  tx: Tx,
  incident: Incident,
  now: number,
  actor: string,
  isPerson?: (name: string) => boolean,
  onLabelsDiffer?: (first: StoredDecision) => void,
  /** The decision stored under the incident's dedup key, when the caller has read it (null: none). */
  stored?: StoredDecision | null,
): DecisionResult | undefined {
  const first = stored === undefined ? tx.decisionByDedup(incident.dedup_key) : (stored ?? undefined);
  if (!first) return undefined;
  const differ = incident.source === 'alertmanager' && labelsDiffer(tx.getIncident(first.incident_id)?.incident.labels, incident.labels);
  if (differ) onLabelsDiffer?.(first);
  const a = first.approval_id !== null ? tx.getApproval(first.approval_id) : undefined;
  if (a?.status === 'pending' && incident.status === 'firing' && isPerson?.(actor) === true) addAsker(tx, a, actor, isPerson);
  // A request no longer pending is named with how it ended: the alert does not wait on it.
  let ended = a && a.status !== 'pending' ? `; request ${a.id} was ${a.status}` : '';
  // A request is kept while an incident of it is stored; one pruned all the same (a joined
  // alert's, after that alert's resolve) is said to be gone, not left unsaid.
  if (!a && first.approval_id !== null) ended = `; request ${first.approval_id} is no longer kept (history retention)`;
  // So is a run that has ended: after a crash, say, the alert's run was cut off and a person must check.
  const ran = first.execution_id !== null ? runEnded(first.execution_id, tx.getExecution(first.execution_id)) : '';
  // Alertmanager sends a firing alert again every repeat_interval for as long as it
  // fires: the key is kept the retention from its last delivery, not its first, or a
  // day-long alert would be decided (and its fix run) again past the retention.
  tx.incidentSeen(first.incident_id, now);
  tx.appendAudit({
    at: now,
    event: 'DUPLICATE',
    incident_id: first.incident_id,
    runbook: first.runbook,
    actor,
    details: { reason: `already decided: ${first.action}${ran}`, dedup_key: incident.dedup_key, source: incident.source, ...(differ ? { labels_differ: true, labels: incident.labels } : {}) },
  });
  return {
    incident_id: first.incident_id,
    action: 'duplicate',
    runbook: first.runbook,
    reason: `already decided: ${first.action} (${first.event})${ended}${ran}${differ ? `; ${LABELS_DIFFER}` : ''}`,
    event: 'DUPLICATE',
    approval_id: first.approval_id,
    execution_id: first.execution_id,
  };
}

/**
 * How a run a duplicate's decision started has ended, for its answer and DUPLICATE row;
 * nothing while it runs. A finished run is pruned at the history retention while its
 * alert may still be re-delivered: then the answer says it is no longer kept, not
 * nothing (which would read as a run still going).
 */
function runEnded(id: string, e: ExecutionRow | undefined): string {
  if (!e) return `; its run ${id} is no longer kept (history retention)`;
  if (e.state === 'running') return '';
  // A run stopped before its first step changed nothing: no person is needed (executionNeedsHuman).
  if (e.state === 'interrupted') return `; its run ${e.id} ended ${executionNeedsHuman(e, false) ? 'interrupted: a person must check' : e.outcome}`;
  if (e.state === 'failed') return `; its run ${e.id} failed${e.rolled_back ? ' and was rolled back' : ''}`;
  return `; its run ${e.id} ${e.state === 'aborted' ? 'was aborted' : 'succeeded'}`;
}

/**
 * Announces a pending request a resolve cancelled, inside the resolve's transaction:
 * returns what its CANCELLED row records of the notification (nothing when nobody is
 * told), and sends it once the transaction is committed.
 */
export type TellCancelled = (approval: ApprovalRow, reason: string) => Record<string, unknown> | undefined;

/**
 * Expires a pending request past its deadline, inside the resolve's transaction, as
 * housekeeping would have (EXPIRED, by rectify, told once committed).
 */
export type ExpireDue = (approval: ApprovalRow) => void;

/** The decision of an alert's firing delivery (see firingDedupKeys), if one was decided. */
function firedAs(tx: Pick<Tx, 'decisionByDedup'>, alertKey: string): StoredDecision | undefined {
  for (const key of firingDedupKeys(alertKey)) {
    const found = tx.decisionByDedup(key);
    if (found) return found;
  }
  return undefined;
}

/**
 * A resolved alert: audited, and it leaves the approval requests it opened or joined.
 * A pending request past its deadline that housekeeping has not reached yet is expired
 * first (`expire`: EXPIRED, as a read or an approve already treats it), and counts as
 * decided; a pending request left with no alert is cancelled (nothing left to fix) and told
 * (`tellCancelled`); one that other alerts still stand for stays; a decided one counts
 * one open alert fewer. A storm's request is told once, when its last alert leaves it:
 * the resolves before that cost nothing more. The
 * resolve is recorded as a row of its own (dedup key `<alert_key>:resolved`, so a
 * re-delivery is a duplicate) while the answer and the audit row name the firing
 * incident: that incident's view finds the resolve through the same key
 * (api/routes/read.ts), and its decision row stays as decided. The answer names the
 * run still under way for the alert, and what becomes of it: its automatic run
 * (runningFor), or the run a person approved for its request (approvedRunFor).
 */
export function applyResolved(tx: Tx, incident: Incident, now: number, actor: string, tellCancelled: TellCancelled | undefined, expire: ExpireDue): DecisionResult {
  const firing = incident.alert_key ? firedAs(tx, incident.alert_key) : undefined;
  const subject = firing?.incident_id ?? incident.id;
  let cancelled = 0;
  let expired = 0;
  const kept: string[] = [];
  if (incident.alert_key) {
    for (const a of tx.pendingApprovalsForAlert(incident.alert_key)) {
      // Past its deadline: not approved in time, whatever the order of this resolve and housekeeping.
      if (a.expires_at <= now) {
        expire(a);
        expired++;
        continue;
      }
      const left = tx.leaveApproval(a.id, incident.alert_key);
      if (left > 0) {
        kept.push(`${a.id} (${left} other alert${left === 1 ? '' : 's'})`);
        continue;
      }
      tx.updateApproval(a.id, { status: 'cancelled', decided_at: now, decided_by: actor, comment: 'alert resolved' });
      const why = a.alerts > 1 ? `all ${a.alerts} alerts resolved before approval` : 'alert resolved before approval';
      const told = tellCancelled?.(a, why);
      tx.appendAudit({ at: now, event: 'CANCELLED', incident_id: a.incident_id, runbook: a.runbook, actor, details: { approval_id: a.id, reason: why, ...told } });
      cancelled++;
    }
    // Decided requests it asked in count it as resolved too (their alerts_open).
    tx.alertResolved(incident.alert_key);
  }
  let reason = cancelled ? `alert resolved; ${cancelled} pending approval(s) cancelled` : 'alert resolved';
  if (expired) reason += `; ${expired} pending approval(s) expired before it`;
  const unknown = !firing && !cancelled && !expired && !kept.length ? unknownPostedId(tx, incident) : undefined;
  if (unknown !== undefined) reason = `no incident ${unknown} is known: nothing was resolved; recorded, so a firing report of ${unknown} arriving later is not acted on`;
  if (kept.length) reason += `; still waiting for approval for the alerts that fire on: ${kept.join(', ')}`;
  const run = firing?.execution_id ? runningFor(tx, firing.execution_id) : firing?.approval_id ? approvedRunFor(tx, firing.approval_id) : undefined;
  if (run) reason += `; ${run}`;
  tx.insertIncident({ incident, action: 'resolved', event: 'RESOLVED', runbook: firing?.runbook ?? null, reason, approval_id: null, execution_id: null });
  tx.appendAudit({ at: now, event: 'RESOLVED', incident_id: subject, runbook: firing?.runbook ?? null, actor, details: { reason, resolved_incident_id: incident.id } });
  return {
    incident_id: subject,
    action: 'resolved',
    runbook: firing?.runbook ?? null,
    reason,
    event: 'RESOLVED',
    approval_id: null,
    execution_id: null,
  };
}

/**
 * The id a resolve posted through the API names, when no incident has it: the resolve
 * ends nothing (a mistyped id, or one whose firing report is still to come). Its answer
 * says so rather than "alert resolved", which a person would read as done while the
 * incident they meant still waits. An Alertmanager or PagerDuty resolve is not told
 * apart: its key is the sender's, and a resolve before its firing delivery is theirs to
 * send (an HA pair, a retry).
 */
function unknownPostedId(tx: Pick<Tx, 'getIncident'>, incident: Incident): string | undefined {
  if (incident.source !== 'api' || !incident.alert_key?.startsWith('api:')) return undefined;
  const posted = incident.alert_key.slice('api:'.length);
  return tx.getIncident(posted) ? undefined : posted;
}

/**
 * What becomes of the automatic run a resolved alert's firing delivery started, while it
 * runs: it reads the resolve (committed with this answer) as it records the start of its
 * next action, and stops there unless an action has changed something (execute/runner.ts).
 * Said in the resolve's answer, as the runner will do it. Approved and manual runs are not
 * the alert's: a person chose them (and none is started by a firing delivery); an approved
 * one is named too (approvedRunFor).
 */
function runningFor(tx: Pick<Tx, 'getExecution'>, executionId: string): string | undefined {
  const e = tx.getExecution(executionId);
  if (!e || e.state !== 'running' || e.trigger !== 'auto') return undefined;
  const actions = e.steps.filter((s) => s.phase === 'action');
  if (actions.some((s) => s.finished_at !== null && s.unchanged !== true)) {
    return `its automatic run ${e.id} has changed something already: it goes on to its end (verification, rollback)`;
  }
  // Its actions all started: there is no next action to stop before (a verification reads, it changes nothing).
  const planned = (e.plan as ExecutionPlan | null)?.actions?.length;
  const allStarted = planned !== undefined && actions.length >= planned;
  if (actions.some((s) => s.finished_at === null)) {
    if (allStarted) return `its automatic run ${e.id} is carrying out its last action: it goes on to its end (verification, and rollback if that fails)`;
    return `its automatic run ${e.id} is carrying out an action: it stops before the next one if that action changed nothing, and goes on to its end otherwise`;
  }
  if (allStarted) return `its automatic run ${e.id} has carried out its actions, which changed nothing: it goes on to its end (verification)`;
  return `its automatic run ${e.id} will stop before its next action: nothing was changed`;
}

/**
 * The run a person approved for the request a resolved alert's firing delivery opened or
 * joined, while it runs (from the approval's commit, before its first step, to its end):
 * a resolve does not stop it (the runner stops only automatic runs before an action, see
 * execute/runner.ts), so it goes on to its end. Said in the resolve's answer: "alert
 * resolved" alone reads as nothing left running.
 */
function approvedRunFor(tx: Pick<Tx, 'getApproval' | 'getExecution'>, approvalId: string): string | undefined {
  const a = tx.getApproval(approvalId);
  if (a?.status !== 'approved' || a.execution_id === null) return undefined;
  const e = tx.getExecution(a.execution_id);
  if (!e || e.state !== 'running') return undefined;
  return `its approved run ${e.id} (request ${a.id}) is running and goes on to its end: a person approved it, and a resolve stops only automatic runs`;
}

/**
 * A firing delivery of an alert whose resolve was decided before it (an Alertmanager
 * HA pair, a retried notification, a firing delivery held up by its checks): the
 * alert has cleared, so nothing acts and nobody is asked. Recorded, so later copies
 * are duplicates.
 */
export function applyAlreadyResolved(
  tx: Tx,
  incident: Incident,
  resolved: StoredDecision,
  runbook: string | null,
  now: number,
  actor: string,
  reason = `the alert was resolved (${resolved.incident_id}) before this firing delivery was decided: nothing to fix`,
): DecisionResult {
  tx.insertIncident({ incident, action: 'resolved', event: 'RESOLVED', runbook, reason, approval_id: null, execution_id: null });
  tx.appendAudit({ at: now, event: 'RESOLVED', incident_id: incident.id, runbook, actor, details: { reason, resolved_incident_id: resolved.incident_id } });
  return { incident_id: incident.id, action: 'resolved', runbook, reason, event: 'RESOLVED', approval_id: null, execution_id: null };
}

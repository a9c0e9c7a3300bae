import type { AuditEventName, DecisionAction, Incident } from '../../domain/index.js';
import type { ApprovalRow, ApprovalStatus, ApprovalVote, AuditRow, ExecutionRow, ExecutionState, ExecutionTrigger, IncidentRow } from '../ports.js';
import { auditDetails } from '../audit-verify.js';

/** Column ↔ domain mapping, kept apart from the statements so both read plainly. */
type Raw = Record<string, unknown>;

const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === 1 || v === true);

/**
 * The `body` column holds only what the other columns do not: services, symptoms,
 * labels, the alertname, and the context when it differs from the labels (for an
 * Alertmanager alert they are the same map, stored once). An alert storm writes a
 * row per alert, so every byte here is paid a million times.
 */
export function incidentBody(i: Incident): string {
  const body: CompactBody = { services: i.services, symptoms: i.symptoms, labels: i.labels };
  if (!sameMap(i.context, i.labels)) body.context = i.context;
  if (i.alertname !== undefined) body.alertname = i.alertname;
  return JSON.stringify(body);
}

interface CompactBody {
  services: string[];
  symptoms: string[];
  labels: Record<string, string>;
  context?: Record<string, string>;
  alertname?: string;
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || a[k] !== b[k]) return false;
    n++;
  }
  return n === Object.keys(b).length;
}

export function rowToIncident(r: Raw): IncidentRow {
  // Rows written before the compact body carry the whole incident in `body`; both read the same.
  const b = JSON.parse(r.body as string) as Partial<Incident>;
  const incident: Incident = {
    id: r.id as string,
    source: r.source as Incident['source'],
    root_cause: r.root_cause as string,
    confidence: r.confidence as number,
    service: r.service as string,
    services: b.services ?? [r.service as string],
    symptoms: b.symptoms ?? [],
    context: b.context ?? { ...(b.labels ?? {}) },
    labels: b.labels ?? {},
    status: r.status as Incident['status'],
    ...(b.alertname !== undefined ? { alertname: b.alertname } : {}),
    dedup_key: r.dedup_key as string,
    ...(r.alert_key !== null && r.alert_key !== undefined ? { alert_key: r.alert_key as string } : {}),
    received_at: r.received_at as number,
  };
  return {
    incident,
    action: r.action as DecisionAction,
    event: r.event as AuditEventName,
    runbook: (r.runbook as string | null) ?? null,
    reason: r.reason as string,
    approval_id: (r.approval_id as string | null) ?? null,
    execution_id: (r.execution_id as string | null) ?? null,
  };
}

export function rowToAudit(r: Raw): AuditRow {
  return {
    seq: r.seq as number,
    at: new Date(r.at as number).toISOString(),
    event: r.event as AuditEventName,
    incident_id: (r.incident_id as string | null) ?? null,
    runbook: (r.runbook as string | null) ?? null,
    execution_id: (r.execution_id as string | null) ?? null,
    actor: r.actor as string,
    ...auditDetails(r.details as string),
  };
}

export function rowToExecution(r: Raw): ExecutionRow {
  return {
    id: r.id as string,
    incident_id: (r.incident_id as string | null) ?? null,
    runbook: r.runbook as string,
    service: r.service as string,
    state: r.state as ExecutionState,
    trigger: r.trigger as ExecutionTrigger,
    actor: r.actor as string,
    plan: JSON.parse(r.plan as string) as unknown,
    steps: JSON.parse(r.steps as string) as ExecutionRow['steps'],
    started_at: r.started_at as number,
    finished_at: (r.finished_at as number | null) ?? null,
    success: bool(r.success),
    rolled_back: bool(r.rolled_back),
    outcome: (r.outcome as string | null) ?? null,
    circuit_trial: r.circuit_trial === 1,
  };
}

/**
 * An approvals row with the number of its alerts not resolved yet (approval_alerts
 * rows: the live count, never a copy that could drift). Every approval read selects this.
 */
export const APPROVAL_COLUMNS = 'approvals.*, (SELECT COUNT(*) FROM approval_alerts m WHERE m.approval_id = approvals.id) AS alerts_open';

export function rowToApproval(r: Raw): ApprovalRow {
  return {
    id: r.id as string,
    incident_id: r.incident_id as string,
    alert_key: (r.alert_key as string | null) ?? null,
    runbook: r.runbook as string,
    service: r.service as string,
    status: r.status as ApprovalStatus,
    reason: r.reason as string,
    plan: JSON.parse(r.plan as string) as unknown,
    requested_at: r.requested_at as number,
    requested_by: r.requested_by as string,
    expires_at: r.expires_at as number,
    approvals_required: r.approvals_required as number,
    votes: typeof r.votes === 'string' ? (JSON.parse(r.votes) as ApprovalVote[]) : [],
    decided_at: (r.decided_at as number | null) ?? null,
    decided_by: (r.decided_by as string | null) ?? null,
    comment: (r.comment as string | null) ?? null,
    execution_id: (r.execution_id as string | null) ?? null,
    asked_by: typeof r.asked_by === 'string' ? (JSON.parse(r.asked_by) as string[]) : null,
    plan_key: (r.plan_key as string | null) ?? null,
    alerts: (r.alerts as number | undefined) ?? 1,
    alerts_open: (r.alerts_open as number | undefined) ?? 0,
  };
}

import type { AuditEventName, DecisionAction, Incident } from '../../domain/index.js';
import type { ApprovalRow, ApprovalStatus, ApprovalVote, AuditRow, ExecutionRow, ExecutionState, ExecutionTrigger, IncidentRow } from '../ports.js';

/** Column ↔ domain mapping, kept apart from the statements so both read plainly. */
type Raw = Record<string, unknown>;

const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === 1 || v === true);

export function rowToIncident(r: Raw): IncidentRow {
  return {
    incident: JSON.parse(r.body as string) as Incident,
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
    details: JSON.parse(r.details as string) as Record<string, unknown>,
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
  };
}

import type { RenderedCheck, RenderedStep } from '../domain/index.js';
import { executionNeedsHuman, voteSlackUserId, type ApprovalRow, type ExecutionRow } from '../store/ports.js';

/** Store rows → API shapes: times as RFC 3339, plans as what a person reads. */
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

interface PlanLike {
  params?: Record<string, string>;
  actions?: RenderedStep[];
  rollback?: RenderedStep[] | null;
  preChecks?: RenderedCheck[];
  postChecks?: RenderedCheck[];
}

/**
 * `endNeedsHuman`: what the run recorded at its end (Tx.executionEndNeedsHuman): whether
 * its FAILED row left it to a person.
 */
export function executionView(e: ExecutionRow, endNeedsHuman: boolean) {
  const plan = (e.plan ?? {}) as PlanLike;
  return {
    id: e.id,
    incident_id: e.incident_id,
    runbook: e.runbook,
    service: e.service,
    state: e.state,
    trigger: e.trigger,
    actor: e.actor,
    started_at: iso(e.started_at)!,
    finished_at: iso(e.finished_at),
    duration_ms: e.finished_at === null ? null : e.finished_at - e.started_at,
    success: e.success,
    rolled_back: e.rolled_back,
    outcome: e.outcome,
    needs_human: executionNeedsHuman(e, endNeedsHuman),
    plan: {
      params: plan.params ?? {},
      actions: (plan.actions ?? []).map((s) => s.summary),
      rollback: plan.rollback ? plan.rollback.map((s) => s.summary) : null,
      pre_checks: plan.preChecks?.length ?? 0,
      post_checks: plan.postChecks?.length ?? 0,
    },
    steps: e.steps.map((s) => ({ ...s, started_at: iso(s.started_at)!, finished_at: iso(s.finished_at) })),
  };
}

export function approvalView(a: ApprovalRow) {
  const plan = (a.plan ?? {}) as PlanLike;
  return {
    id: a.id,
    incident_id: a.incident_id,
    runbook: a.runbook,
    service: a.service,
    status: a.status,
    reason: a.reason,
    actions: (plan.actions ?? []).map((s) => s.summary),
    // What an approver agrees to is the actions and what undoes them if they fail: the same
    // one-line summaries the approval notification shows (never a header or a body).
    rollback: plan.rollback ? plan.rollback.map((s) => s.summary) : null,
    params: plan.params ?? {},
    requested_at: iso(a.requested_at)!,
    requested_by: a.requested_by,
    expires_at: iso(a.expires_at)!,
    approvals_required: a.approvals_required,
    votes: a.votes.map((v) => ({ by: v.by, at: iso(v.at)!, comment: v.comment, slack_user_id: voteSlackUserId(v) ?? null })),
    decided_at: iso(a.decided_at),
    decided_by: a.decided_by,
    comment: a.comment,
    execution_id: a.execution_id,
    alerts: a.alerts,
    alerts_open: a.alerts_open,
  };
}

import type { Stage } from '../types.js';

/**
 * LOW → AUTO; MEDIUM → AUTO only when its guardrail conditions hold, else APPROVAL;
 * HIGH → APPROVAL. An approved request has passed this gate already.
 */
export const riskStage: Stage = {
  name: 'risk',
  appliesTo: ['auto', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const plan = ctx.plan!;
    // A dry run acts on nothing, so it needs no approval: it shows what would run.
    if (ctx.input.dryRun) return undefined;
    const approval = (reason: string) => ({ kind: 'approval' as const, event: 'APPROVAL_REQUIRED' as const, reason, runbook: rb, plan });
    if (rb.risk === 'HIGH') return approval('risk HIGH requires approval');
    if (rb.risk === 'MEDIUM' && rb.guardrails.length > 0) {
      const g = ctx.input.guardrails;
      if (!g) return approval('risk MEDIUM: guardrail conditions were not evaluated');
      if (!g.ok) return approval(`risk MEDIUM: guardrail failed: ${g.detail}`);
    }
    return undefined;
  },
};

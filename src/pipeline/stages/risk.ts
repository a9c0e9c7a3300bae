import type { Stage } from '../types.js';

/**
 * LOW → AUTO; MEDIUM → AUTO only when its guardrail conditions hold, else APPROVAL;
 * HIGH → APPROVAL. An approved request has passed this gate already.
 *
 * A runbook in `mode: dry_run`, or rectify under `--dry-run`, never acts, so it asks
 * nobody: an approval request would page its owner for a run that, approved, still
 * runs nothing. The dry run records instead that a real run would ask, and why.
 */
export const riskStage: Stage = {
  name: 'risk',
  appliesTo: ['auto', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const plan = ctx.plan!;
    // A dry run acts on nothing, so it needs no approval: it shows what would run.
    if (ctx.input.dryRun) return undefined;
    const dry = rb.mode === 'dry_run' || ctx.settings.globalDryRun;
    const approval = (reason: string) => {
      if (!dry) return { kind: 'approval' as const, event: 'APPROVAL_REQUIRED' as const, reason, runbook: rb, plan };
      ctx.wouldAsk = reason;
      return undefined;
    };
    if (rb.risk === 'HIGH') return approval('risk HIGH requires approval');
    if (rb.risk === 'MEDIUM' && rb.guardrails.length > 0) {
      const g = ctx.input.guardrails;
      if (!g) return approval('risk MEDIUM: guardrail conditions were not evaluated');
      if (!g.ok) return approval(`risk MEDIUM: guardrail failed: ${g.detail}`);
    }
    return undefined;
  },
};

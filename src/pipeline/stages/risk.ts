import type { Stage } from '../types.js';

/**
 * LOW → AUTO; MEDIUM → AUTO only when its guardrail conditions hold, else APPROVAL;
 * HIGH → APPROVAL. Outside the windows of a runbook with `outside_windows: approval`
 * (see the window stage): APPROVAL at any risk, its reason naming the windows (and a
 * MEDIUM runbook's failed guardrail, if one failed). An approved request has passed this
 * gate already, and the window stage too: it runs though still outside the windows.
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
    const outside = ctx.outsideWindow;
    if (rb.risk === 'HIGH') return approval(`risk HIGH requires approval${outside !== undefined ? `; ${outside}` : ''}`);
    let failed: string | undefined;
    if (rb.risk === 'MEDIUM' && rb.guardrails.length > 0) {
      const g = ctx.input.guardrails;
      if (!g) failed = 'guardrail conditions were not evaluated';
      else if (!g.ok) failed = `guardrail failed: ${g.detail}`;
    }
    if (outside !== undefined) return approval(`risk ${rb.risk}: ${outside}${failed !== undefined ? `; ${failed}` : ''}`);
    if (failed !== undefined) return approval(`risk MEDIUM: ${failed}`);
    return undefined;
  },
};

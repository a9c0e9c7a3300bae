import type { Stage } from '../types.js';

/**
 * The kill switches: the global one, then the runbook's own. While either is on,
 * the runbook does not execute automatically (approvals and manual runs still go
 * through, as the people doing them decided to act).
 */
export const pauseStage: Stage = {
  name: 'pause',
  appliesTo: ['auto'],
  run(ctx) {
    const runbook = ctx.runbook!;
    if (ctx.state.paused()) {
      return { kind: 'blocked', event: 'PAUSED', reason: 'rectify is paused: automatic remediation is off (POST /api/v1/resume)', runbook };
    }
    const own = ctx.state.runbookPaused(runbook.id);
    if (!own) return undefined;
    return {
      kind: 'blocked',
      event: 'PAUSED',
      reason: `runbook ${runbook.id} is paused by ${own.by}${own.reason ? ` (${own.reason})` : ''}: it does not run automatically (POST /api/v1/runbooks/${runbook.id}/resume)`,
      runbook,
    };
  },
};

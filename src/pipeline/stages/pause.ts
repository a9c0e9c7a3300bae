import type { GuardStateView } from '../../store/ports.js';
import type { Stage } from '../types.js';

/**
 * Why the runbook may not run automatically now: a kill switch on, the global one, then
 * the runbook's own; undefined when neither is. Read when an alert is decided (the stage
 * below) and again by an automatic run before each action until one changed something.
 */
export function killSwitchReason(state: Pick<GuardStateView, 'paused' | 'runbookPaused'>, runbookId: string): string | undefined {
  if (state.paused()) return 'rectify is paused: automatic remediation is off (POST /api/v1/resume)';
  const own = state.runbookPaused(runbookId);
  if (!own) return undefined;
  return `runbook ${runbookId} is paused by ${own.by}${own.reason ? ` (${own.reason})` : ''}: it does not run automatically (POST /api/v1/runbooks/${runbookId}/resume)`;
}

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
    const reason = killSwitchReason(ctx.state, runbook.id);
    return reason === undefined ? undefined : { kind: 'blocked', event: 'PAUSED', reason, runbook };
  },
};

import type { Stage } from '../types.js';

export interface RunbookMatcher {
  match(incident: import('../../domain/index.js').Incident): import('../../domain/index.js').Runbook | undefined;
}

/** Why an alert with nothing to match a runbook on (Incident.no_root_cause) is left to a person. */
export const NO_ROOT_CAUSE_REASON =
  'No matching runbook: the alert has no alertname, reason or root_cause label, so nothing can match it; nothing was run (give the alert an alertname)';

/** NO_RUNBOOK → manual: nothing rectify knows how to fix. */
export function createMatchStage(deps: { index: RunbookMatcher }): Stage {
  return {
    name: 'match',
    appliesTo: ['auto', 'approval', 'manual'],
    run(ctx) {
      if (ctx.input.incident.no_root_cause) return { kind: 'manual', event: 'NO_RUNBOOK', reason: NO_ROOT_CAUSE_REASON };
      if (ctx.input.runbook) {
        ctx.runbook = ctx.input.runbook;
        return undefined;
      }
      const rb = deps.index.match(ctx.input.incident);
      if (!rb) return { kind: 'manual', event: 'NO_RUNBOOK', reason: 'No matching runbook' };
      ctx.runbook = rb;
      return undefined;
    },
  };
}

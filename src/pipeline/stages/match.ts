import type { Stage } from '../types.js';

export interface RunbookMatcher {
  match(incident: import('../../domain/index.js').Incident): import('../../domain/index.js').Runbook | undefined;
}

/** NO_RUNBOOK → manual: nothing rectify knows how to fix. */
export function createMatchStage(deps: { index: RunbookMatcher }): Stage {
  return {
    name: 'match',
    appliesTo: ['auto', 'approval', 'manual'],
    run(ctx) {
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

import type { Stage } from '../types.js';

/** The global kill switch: while paused nothing executes automatically. */
export const pauseStage: Stage = {
  name: 'pause',
  appliesTo: ['auto'],
  run(ctx) {
    if (!ctx.state.paused()) return undefined;
    return { kind: 'blocked', event: 'PAUSED', reason: 'rectify is paused: automatic remediation is off (POST /api/v1/resume)', runbook: ctx.runbook! };
  },
};

import type { Stage } from '../types.js';

/** LOW_CONFIDENCE → manual: the diagnosis is not certain enough to act on. */
export const confidenceStage: Stage = {
  name: 'confidence',
  appliesTo: ['auto'],
  run(ctx) {
    const rb = ctx.runbook!;
    const c = ctx.input.incident.confidence;
    if (c < rb.minConfidence) {
      return { kind: 'manual', event: 'LOW_CONFIDENCE', reason: `Confidence ${c} < ${rb.minConfidence}`, runbook: rb };
    }
    return undefined;
  },
};

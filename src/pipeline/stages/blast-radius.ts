import type { Stage } from '../types.js';
import { decidedAgainClause } from './decided-again.js';

/**
 * Blast radius: at most N executions in flight engine-wide, and a runbook acting on
 * at most `blast_radius_limit` services at once. Its reason says when the alert is
 * decided again (decidedAgainClause): at each of its re-deliveries.
 */
export const blastRadiusStage: Stage = {
  name: 'blast-radius',
  appliesTo: ['auto', 'approval', 'manual'],
  run(ctx) {
    const rb = ctx.runbook!;
    const max = ctx.settings.maxConcurrentExecutions;
    const again = decidedAgainClause(ctx.input.incident, ctx.input.trigger, 'each');
    if (ctx.state.activeExecutions() >= max) {
      return { kind: 'blocked', event: 'BLAST_LIMITED', reason: `Max concurrent actions (${max}) reached${again}`, runbook: rb };
    }
    const services = ctx.state.activeServices(rb.id);
    if (!services.has(ctx.input.incident.service) && services.size >= rb.blastRadiusLimit) {
      return {
        kind: 'blocked',
        event: 'BLAST_LIMITED',
        reason: `Max services (${rb.blastRadiusLimit}) already affected by ${rb.id}${again}`,
        runbook: rb,
      };
    }
    return undefined;
  },
};

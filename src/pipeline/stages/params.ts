import type { RenderedCheck } from '../../domain/index.js';
import type { Plan, Runbook, CheckSpec } from '../../domain/index.js';
import type { Stage } from '../types.js';

export type RenderResult<T> = ({ ok: true } & T) | { ok: false; param?: string; reason: string };

export interface Renderer {
  renderPlan(runbook: Runbook, values: Record<string, string>): RenderResult<{ plan: Plan }>;
  renderChecks(specs: CheckSpec[], values: Record<string, string>): RenderResult<{ checks: RenderedCheck[] }>;
}

/**
 * Fills every placeholder from the incident, checking each value against the safe
 * pattern for where it goes. A refusal happens here, before any guardrail is
 * consumed and before any step runs, and is audited (PARAM_REFUSED).
 */
export function createParamsStage(deps: { renderer: Renderer }): Stage {
  return {
    name: 'params',
    appliesTo: ['auto', 'approval', 'manual'],
    run(ctx) {
      const rb = ctx.runbook!;
      if (ctx.input.plan) {
        ctx.plan = ctx.input.plan;
        return undefined;
      }
      const refuse = (reason: string) => ({ kind: 'blocked' as const, event: 'PARAM_REFUSED' as const, reason, runbook: rb });
      const plan = deps.renderer.renderPlan(rb, ctx.input.values);
      if (!plan.ok) return refuse(plan.reason);
      const pre = deps.renderer.renderChecks(rb.preChecks, ctx.input.values);
      if (!pre.ok) return refuse(pre.reason);
      const post = deps.renderer.renderChecks(rb.postChecks, ctx.input.values);
      if (!post.ok) return refuse(post.reason);
      ctx.plan = { ...plan.plan, preChecks: pre.checks, postChecks: post.checks };
      return undefined;
    },
  };
}

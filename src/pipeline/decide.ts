import type { Runbook, Verdict } from '../domain/index.js';
import { wallTimeAt } from '../lib/clock.js';
import type { GuardStateView } from '../store/ports.js';
import {
  blastRadiusStage,
  circuitStage,
  confidenceStage,
  cooldownStage,
  createMatchStage,
  createParamsStage,
  createWindowStage,
  executorsStage,
  pauseStage,
  rateLimitStage,
  riskStage,
  type Renderer,
  type RunbookMatcher,
} from './stages/index.js';
import type { DecideFn, DecideInput, DecideSettings, DecisionTrigger, Stage, StageContext } from './types.js';

/** The guardrail chain, in order. The order is data: it is what the docs describe. */
export function defaultStages(deps: { index: RunbookMatcher; renderer: Renderer }): Stage[] {
  return [
    createMatchStage(deps),
    confidenceStage,
    executorsStage,
    createParamsStage(deps),
    pauseStage,
    createWindowStage(),
    circuitStage,
    rateLimitStage,
    cooldownStage,
    blastRadiusStage,
    riskStage,
  ];
}

/**
 * decide(input, state, now, guardNow, guardSettlesAt) is pure given the state view and the
 * times: it reads, never writes. What it returns is applied by the engine in the same store
 * transaction.
 */
export function createDecide(stages: readonly Stage[], settings: DecideSettings): DecideFn {
  // The stages each trigger goes through, picked once rather than per decision.
  const forTrigger = (t: DecisionTrigger): Stage[] => stages.filter((s) => s.appliesTo.includes(t));
  const byTrigger: Record<DecisionTrigger, Stage[]> = { auto: forTrigger('auto'), approval: forTrigger('approval'), manual: forTrigger('manual') };
  return function decide(input: DecideInput, state: GuardStateView, now: number, guardNow: number, guardSettlesAt?: number): Verdict {
    const guard = Math.min(now, guardNow);
    const settles = guard < now ? guardSettlesAt : undefined;
    const guardEnd = (t: number): number => wallTimeAt(t, now, guard, settles);
    const ctx: StageContext = { input, state, now, guardNow: guard, guardSettlesAt: settles, guardEnd, settings, circuitTrial: false };
    for (const stage of byTrigger[input.trigger]) {
      const verdict = stage.run(ctx);
      if (verdict) return verdict;
    }
    const runbook = ctx.runbook!;
    const plan = ctx.plan!;
    if (input.dryRun || runbook.mode === 'dry_run' || settings.globalDryRun) {
      const why = input.dryRun ? 'dry run requested' : runbook.mode === 'dry_run' ? 'runbook mode is dry_run' : 'rectify runs with --dry-run';
      const ask = ctx.wouldAsk !== undefined ? ` (a real run would ask for approval first: ${ctx.wouldAsk})` : '';
      return { kind: 'dry_run', event: 'DRY_RUN', reason: `${why}: nothing was executed${ask}`, runbook, plan };
    }
    const reason =
      input.trigger === 'approval' ? 'approved' : input.trigger === 'manual' ? 'manual run' : `risk ${runbook.risk}: guardrails passed`;
    return { kind: 'execute', event: 'EXECUTING', reason, runbook, plan, circuitTrial: ctx.circuitTrial };
  };
}

/** The rate-limit and cooldown stages read no settings. */
const NO_SETTINGS: DecideSettings = Object.freeze({ maxConcurrentExecutions: 0, circuitRecoveryMs: 0, available: new Set<string>(), globalDryRun: false });

/**
 * The block `runbook`'s rate limit (max_per_hour) or cooldown would give the input's
 * alert now, judged by their stages as decide judges them, for its service (undefined:
 * neither holds). Without the rendered plan: a limit on a Kubernetes object the plan acts
 * on is judged when the alert is decided. Reads only what those stages read, which a
 * write transaction remembers (a storm's alerts for one runbook and service read once).
 */
export function serviceRateLimit(runbook: Runbook, input: DecideInput, state: GuardStateView, now: number, guardNow: number, guardSettlesAt?: number): Verdict | undefined {
  const guard = Math.min(now, guardNow);
  const settles = guard < now ? guardSettlesAt : undefined;
  const guardEnd = (t: number): number => wallTimeAt(t, now, guard, settles);
  const ctx: StageContext = { input, state, now, guardNow: guard, guardSettlesAt: settles, guardEnd, settings: NO_SETTINGS, runbook, circuitTrial: false };
  return rateLimitStage.run(ctx) ?? cooldownStage.run(ctx);
}

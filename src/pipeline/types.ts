import type { Incident, Plan, RenderedCheck, Runbook, Verdict } from '../domain/index.js';
import type { GuardStateView } from '../store/ports.js';

export type DecisionTrigger = 'auto' | 'approval' | 'manual';

/** The plan plus its rendered checks: everything an execution needs, fixed at decision time. */
export interface ExecutionPlan extends Plan {
  preChecks: RenderedCheck[];
  postChecks: RenderedCheck[];
  /** On an approval request's plan: the version of the runbook it was rendered from. */
  runbookVersion?: string;
  /**
   * On an approval request's plan: the runbook's planVersion it was rendered from (absent
   * on requests made by a rectify from before, judged by runbookVersion).
   */
  runbookPlanVersion?: string;
  /**
   * The values enrichment may give that the runbook's negative `match:` matchers were
   * judged on and that are not among `params` (the `deployment` owning the pod a plan
   * evicts), the empty string for one absent: an approval tests the exclusions on them
   * again. Part of the approval plan key: alerts judged on other owners ask apart.
   */
  matched?: Record<string, string>;
}

export interface DecideInput {
  incident: Incident;
  /**
   * Placeholder values when something was added to the incident's own (enrichment);
   * absent, they are `placeholderValues(incident)`, computed where a stage needs them.
   */
  values?: Record<string, string>;
  /** Why the values could not be prepared as the alert gives them (the enricher refused): the decision is PARAM_REFUSED with it. */
  refused?: string;
  /**
   * How reading the cluster for enrichment went wrong ("timed out after 5s", "failed: …"):
   * a value the enricher would have given is missing for that reason, not because the
   * alert lacks it, and a refusal for it says so.
   */
  unread?: string;
  trigger: DecisionTrigger;
  /** For approval and manual runs: the runbook is chosen, not matched. */
  runbook?: Runbook;
  /** For approvals: the plan the approver saw is the plan that runs. */
  plan?: ExecutionPlan;
  /** Requested dry run (manual runs, `mode: dry_run`, or the global flag). */
  dryRun: boolean;
  /** Outcomes of a MEDIUM runbook's guardrail conditions, evaluated before deciding. */
  guardrails?: { ok: boolean; detail: string };
}

export interface DecideSettings {
  maxConcurrentExecutions: number;
  circuitRecoveryMs: number;
  /** Executor kinds available in this process ('http', 'command', 'kubernetes', 'prometheus'). */
  available: ReadonlySet<string>;
  globalDryRun: boolean;
  /**
   * Why a kind is not available, where this process knows better than the generic hint
   * (`kubernetes` turned off by a setting): what EXECUTOR_UNAVAILABLE says after "needs".
   */
  unavailable?: ReadonlyMap<string, string>;
}

/** What a stage sees: the input, the state view, the clock readings, and what earlier stages found. */
export interface StageContext {
  readonly input: DecideInput;
  readonly state: GuardStateView;
  /** The wall clock: what a time of day (a runbook's windows) is read from. */
  readonly now: number;
  /**
   * The time the guardrail windows (the rate limit's hour, a cooldown, the breaker's
   * recovery wait) are judged by: `now`, or less while the wall clock has been stepped
   * ahead of the time passed (see guardNow in engine.ts). A window is then measured by
   * the time passed, and a run stamped after it counts as recent: a forward step never
   * shortens a window.
   */
  readonly guardNow: number;
  /**
   * While `guardNow` is behind `now`: the wall-clock time at which the step will be taken
   * as the time, if the wall clock moves on only as time passes (absent: not known).
   */
  readonly guardSettlesAt?: number;
  /**
   * The wall-clock time at which `guardNow` reaches `t`, time passing from `now`: when a
   * window judged by it really ends (`t` itself while `guardNow` is `now`). What a reason
   * states a wait's time left by.
   */
  readonly guardEnd: (t: number) => number;
  readonly settings: DecideSettings;
  runbook?: Runbook;
  plan?: ExecutionPlan;
  circuitTrial: boolean;
  /**
   * Outside the runbook's windows, for a runbook with `outside_windows: approval`: the
   * reason (naming its windows) the risk stage asks a person for, whatever its risk.
   */
  outsideWindow?: string;
  /** In a dry run (the runbook's mode or the global flag): why a real run would ask for approval. */
  wouldAsk?: string;
}

/** A stage returns a verdict to stop the pipeline, or undefined to pass the incident on. */
export interface Stage {
  readonly name: string;
  /** Which triggers the stage applies to (pause applies only to automatic runs, say). */
  readonly appliesTo: readonly DecisionTrigger[];
  run(ctx: StageContext): Verdict | undefined;
}

/**
 * `now`: the wall clock; `guardNow`: the time the guardrail windows are judged by (at most
 * `now`, see StageContext); `guardSettlesAt`: while `guardNow` is behind `now`, the
 * wall-clock time at which the step is taken as the time (absent: not known, and a wait's
 * end is stated by the time passed alone).
 */
export type DecideFn = (input: DecideInput, state: GuardStateView, now: number, guardNow: number, guardSettlesAt?: number) => Verdict;

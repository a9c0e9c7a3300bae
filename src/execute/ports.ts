import type { Logger } from 'pino';
import type { EnrichmentRefused, RenderedAction, RenderedCheck, RenderedStep } from '../domain/index.js';

/**
 * What the execution runner needs from executors. One executor per action type
 * and one runner per check type, registered by the composition root; a type with
 * no executor registered makes its runbooks refuse to run, with the reason.
 */
export interface StepContext {
  signal: AbortSignal;
  log: Logger;
  /** When the execution started (ms): a before/after check queries "before" at this time. */
  startedAt: number;
  /**
   * In a run: when the incident it acts for was received (RunRequest.alertReceivedAt).
   * A relative rollout undo among the run's actions refuses, before it writes, to undo
   * a revision rolled out since (a person's hotfix while the run waited for an approval
   * would be undone, and the revision the alert was about brought back). Absent outside
   * a run (a guardrail's check).
   */
  alertReceivedAt?: number;
  /** Per-execution scratch space shared by its steps (a baseline taken by a pre-check, say). */
  memo: Map<string, unknown>;
  /**
   * The most the step may take, when something waits on it: a MEDIUM runbook's
   * guardrails are checked while Alertmanager waits for the answer, so a check's
   * last attempt, made at its timeout, gets only what is left of this. Absent
   * during an execution: the last attempt has its own whole attempt time.
   */
  budgetMs?: number;
  /**
   * The part of the plan the step belongs to; absent for checks. A rollback step
   * undoes only what this run did (an uncordon leaves a node the run never cordoned).
   */
  phase?: RenderedStep['phase'];
  /**
   * What marks the processes the step starts (a command's STEP_MARKER_VAR): made of the
   * execution's id and the step's place (stepMarker), so that after a crash the processes
   * a run left are found again from what the store recorded. Absent: a marker of its own.
   */
  stepMarker?: string;
}

/**
 * Fills in values a runbook needs but an alert does not carry (the deployment that
 * owns a pod, its replica counts). The engine merges its answer: the cluster facts
 * it returns (`KUBERNETES_ENRICHMENT.facts`) replace the alert's values of the same
 * name, which are dropped even when it returns none; every other value it returns
 * is used only where the alert gave none. An `EnrichmentRefused` answer refuses the
 * decision (PARAM_REFUSED) with its reason: the alert's values contradict each other
 * or the cluster.
 */
export interface Enricher {
  enrich(values: Readonly<Record<string, string>>, signal: AbortSignal, opts?: EnrichOptions): Promise<Record<string, string> | EnrichmentRefused>;
}

export interface EnrichOptions {
  /**
   * The runbook acts on the pod the values name: an owner name they give beside it
   * (`deployment`, `statefulset`, `workload`) must be the pod's owner, read from the
   * cluster, and a `workload_kind` or `replicas` its owner's kind and replica count,
   * or the answer is a refusal naming both (a label must not pose as the owner a
   * `match:` exclusion reads); so is a `pod` and a `pod_name` naming different pods.
   */
  checkPodOwner?: boolean;
  /**
   * A `match:` matcher of the runbook reads a value only the cluster can say (see
   * `matchersReadCluster`): a pod the values name that is not found is refused, never
   * taken to belong to the deployment named beside it (a StatefulSet's pod comes back
   * under its name, and the label would then judge the matcher for the new pod).
   */
  matchersReadCluster?: boolean;
  /**
   * The runbook's replica cap (see runbookReplicaCap), before the incident's
   * `max_replicas` lowers it: `new_replicas` is worked out against it, as rendering
   * caps a scale-up with it. Absent: the enricher's default (10).
   */
  maxReplicas?: number;
}

export interface ActionOutcome {
  ok: boolean;
  /** One line for the audit log: what happened (status code, exit code, error). */
  detail: string;
  /** Facts a rollback may need (the replica count before a scale, say). */
  facts?: Record<string, string>;
  /**
   * The target said "not now" and nothing was changed: a PodDisruptionBudget
   * refused an eviction, or removing the pod would take too much of its workload
   * down. When no earlier action of the run changed anything, the run ends as
   * blocked (DISRUPTION_BLOCKED): no rollback, no breaker failure, no retry; a
   * later incident may try again.
   */
  notNow?: boolean;
  /**
   * The step certainly changed nothing: a refusal, a read that failed before any
   * write, a request never sent, a program that could not be started. Absent means
   * it may have changed something (fail safe: a write that failed or timed out may
   * still have landed). When no step of a run may have changed anything, a failed
   * run has nothing to roll back and its rollback is not run.
   */
  unchanged?: boolean;
  /**
   * rectify refused the step by one of its own safety rules, having changed nothing:
   * a scale to 0 it never makes, a scale-down past `max_unavailable`, a pod nothing
   * would replace, a drain `kubectl drain` would refuse. Implies `unchanged`. When no
   * earlier action of the run changed anything, the run ends FAILED without its
   * rollback and is not counted by the circuit breaker: the breaker stops rectify from
   * hammering a target that keeps failing, and here the target was never asked (a
   * refused connection, by contrast, is the target's failure, and counts).
   */
  refused?: boolean;
  /**
   * Failed after sending a write whose answer never said whether it was applied (no
   * answer in time, a lost connection, a server error), or a program killed at its
   * deadline, which may have done part of its work, or one that left a process running
   * (killed then part way through its work, or maybe still running): what the step
   * changed is not known. A run that ends with no rollback run after it leaves that to
   * a person (`needs_human`).
   */
  unconfirmed?: boolean;
  /**
   * With `unconfirmed`, a program's (`command:`): killed at its deadline, or ended
   * leaving a process running. Absent: a write that got no answer. It chooses the words
   * a person is told why they must check.
   */
  unconfirmedBy?: 'deadline' | 'left_running';
  /**
   * With `unconfirmed`: why the run's rollback must not run on it, and a person must check
   * instead (`needs_human`), as for a verification that could not measure. A rollout undo
   * whose write may or may not have landed: its rollback restores the template the undo
   * was taking away (the bad deploy).
   */
  holdRollback?: string;
  /**
   * The clause the detail ends with (after "; ") that tells what the failed step left in
   * place ("the node stays cordoned"): true when the step ended, no longer once the run's
   * rollback has undone it, so the run's outcome, its rows and its notification leave it
   * out after a rollback that ran.
   */
  standing?: string;
}

export interface ActionExecutor<A extends RenderedAction = RenderedAction> {
  readonly type: A['type'];
  run(action: A, ctx: StepContext): Promise<ActionOutcome>;
}

export interface CheckOutcome {
  ok: boolean;
  detail: string;
  /** The last observed value, when the check has one (a PromQL sample, a status code). */
  observed?: string;
  attempts: number;
  /**
   * Failed, and its last try could not measure (no data, NaN, an error, no answer): the
   * check cannot tell whether what it verifies holds. A runbook may keep its rollback
   * from running on such a verdict (`on_no_data: needs_human`).
   */
  inconclusive?: boolean;
}

/**
 * A check runner polls until the check passes or its timeout is used up (the last
 * attempt is made at the timeout, see checks/poll.ts); an error or a timeout is a
 * failed check, never a pass.
 */
export interface CheckRunner<C extends RenderedCheck = RenderedCheck> {
  readonly type: C['type'];
  run(check: C, ctx: StepContext): Promise<CheckOutcome>;
  /**
   * Reads, for a post-check of a run, what it must know of its target as it was before the
   * run's actions changed it, into the run's memo (`pod_becomes_ready`: the uid of the pod
   * it names, when nothing of the run keeps it yet). Called once per post-check, after the
   * pre-checks passed and before the first action, in a run that has actions. It decides
   * nothing: what it could not read is not kept, and the check judges as it would without
   * it. Undefined when the check needs nothing read.
   */
  beforeActions?(check: C, ctx: StepContext): Promise<BeforeActionsRead | undefined>;
}

/** What a check's read before the actions found (CheckRunner.beforeActions), for the run's log. */
export interface BeforeActionsRead {
  /** Whether it kept what it read; false: it kept nothing (the object absent, the API failed, the run stopped). */
  kept: boolean;
  /** One line: what it read and kept, or why it kept nothing. */
  detail: string;
}

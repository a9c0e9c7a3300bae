import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { DecisionResult, Incident, Matcher, RenderedCheck, Runbook, Verdict } from '../domain/index.js';
import {
  actsOnPod as actsOnPodParams,
  canEnrich,
  EnrichmentRefused,
  formatMatcher,
  GUARDRAIL_BUDGET_MS,
  guardrailTimeoutMs,
  hasPlaceholderValues,
  isClusterFact,
  longestCooldown,
  matcherHoldsOn,
  matchersNeedCluster,
  matchersReadCluster,
  runbookReplicaCap,
  placeholderValue,
  placeholderValues,
  quoteUntrusted,
  isOutcomeUnknown,
  isRectifyError,
  RectifyError,
  unconfirmedMatcher,
  unreadRefusal,
  unconfirmedReason,
  unjudgedMatcher,
  unjudgedReason,
  stepSettleMs,
  UNREADABLE_NAME_CHAR_RE,
  ODD_SPACING_MESSAGE,
  ODD_SPACING_RE,
  UNREADABLE_SERVICE_MESSAGE,
} from '../domain/index.js';
import { createLimiter, createPruneHorizon, didYouMean, errorMessage, formatDuration, newId, timeoutSignal, wellFormed, type Clock, type HorizonState } from '../lib/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { DecideFn, DecideInput, ExecutionPlan, Renderer } from '../pipeline/index.js';
import { targetRunbookKey } from '../pipeline/targets.js';
import { serviceRateLimit } from '../pipeline/decide.js';
import { cooldownWaitEnd, heldByRun } from '../pipeline/stages/cooldown.js';
import type { CheckRunner, Enricher } from '../execute/ports.js';
import type { RunOutcome } from '../execute/runner.js';
import type { LeftoverProcesses, LeftoverSearch } from '../execute/actions/command.js';
import {
  countFailure,
  cutOffVerdict,
  endTrialWithoutVerdict,
  NOT_COUNTED_BEFORE_CLOSE,
  NOT_COUNTED_NOT_NOW,
  NOT_COUNTED_REFUSED,
  reopenAfterCutOffTrial,
  reopenedReason,
  startedBeforeClose,
  TRIAL_ENDED_WITHOUT_VERDICT,
  trippedReason,
  type RunAudit,
} from '../execute/breaker.js';
import { endBeforeFirstStep } from '../execute/before-first-step.js';
import { manualRunParamNames } from '../runbooks/manual-params.js';
import { executionNeedsHuman, INTERRUPTED_IN_COPY, voteSlackUserId, type ApprovalRow, type ApprovalVote, type CircuitState, type ExecutionRow, type RunbookPause, type Store, type TransactOptions, type Tx } from '../store/ports.js';
import type { NotificationEvent, NotificationPlan, Notify } from '../notify/types.js';
import type { RoundsSpent } from '../notify/queue.js';
import { approvalRequestNotificationId, approvalVoteNotificationId, type Outbox, type ToldDetails } from '../notify/outbox.js';
import { FIRING_AFTER_RESOLVE_MS, placeOccurrence, type Placed } from './occurrence.js';
import { DEFAULT_MAX_PENDING_APPROVALS, applyAlreadyResolved, applyDuplicate, applyResolved, applyVerdict, decidedAgainOnRedelivery, postedIdTaken, staleRunbookReason, repostedDifferently, type ApplyContext, type ExecutionClaim } from './apply.js';
import type { ExecutionTracker } from './executions.js';
import { createTruncationBudget, TRUNCATED_OUTCOME, truncatedReason, type TruncationTake } from './truncations.js';
import { failingAtStart, names, NOT_SENT_AGAIN, planResends, RESEND_EXAMINED, RESEND_MAX, RESEND_WINDOW_MS, roundsSpent, type ResendPlan } from './resend.js';

export interface RunbookCatalog {
  match(incident: Incident): Runbook | undefined;
  byId(id: string): Runbook | undefined;
  all: readonly Runbook[];
  /** Bumped when the runbooks are reloaded (absent: they never are). */
  readonly generation?: number;
}

/**
 * The refusal of a runbook id no file holds, with the nearest loaded id when it is near
 * enough to be a typo (`rectify run restart-ap` at 3 AM).
 */
export function runbookNotLoaded(id: string, catalog: Pick<RunbookCatalog, 'all'>): RectifyError {
  return new RectifyError('NOT_FOUND', `no runbook "${id}" is loaded${didYouMean(id, catalog.all.map((r) => r.id))}`);
}

export interface EngineDeps {
  store: Store;
  catalog: RunbookCatalog;
  renderer: Renderer;
  decide: DecideFn;
  executions: ExecutionTracker;
  checks: ReadonlyMap<string, CheckRunner>;
  enricher?: Enricher;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** A claimed trial run took its runbook's circuit half-open (told after the commit, before the run starts). */
  onCircuit?: (runbookId: string, state: CircuitState) => void;
  approvalTtlMs: number;
  /**
   * rectify runs with --dry-run (the decide function's globalDryRun): approving would run
   * nothing, so it is refused before a vote is recorded (see approve).
   */
  dryRun: boolean;
  /** Consecutive failures that open a runbook's circuit: recovery counts the runs a crash cut off after they failed. */
  circuitFailureThreshold: number;
  /** The breaker's recovery wait (`--circuit-recovery`): the longest guardrail window may be it (see guardNow). */
  circuitRecoveryMs?: number;
  /** Fire-and-forget: decisions that need a person are told to the notifiers. */
  notify?: Notify;
  /**
   * With notify: events told one by one record their notification in their own audit
   * row, and startup tells again what a receiver has no record of (see notify/outbox.ts).
   */
  outbox?: Pick<Outbox, 'receivers' | 'announce' | 'resend'>;
  /** Alerts that may wait for their enrichment or guardrail checks; a request past it is answered 503 (default 20,000). */
  maxPreparing?: number;
  /**
   * Approval requests one runbook may have pending (`--max-pending-approvals`, default 100):
   * past it an alert that would open another is blocked (each request asks a person).
   */
  maxPendingApprovals?: number;
  /** Where the guard time stood when the last process on this boot left it (see guardNow and resumeGuardClock). */
  guardResume?: HorizonState;
  /**
   * The most alerts of one body decided in one commit (ACCEPT_SLICE by default): a larger
   * body is decided in slices, in order, each committed before the next is decided, and
   * the event loop serves other requests between them. Tests make it small.
   */
  acceptSlice?: number;
  /**
   * Whether the service is stopping: a large body's next slice is then not decided (its
   * runs would start after the stop's grace, only to be cut off before their first step,
   * answered `executed` and never run), and the sender is told how many were recorded.
   */
  stopping?: () => boolean;
  /**
   * Whether an actor is an API token that may only send alerts (the ingest role alone):
   * an integration such as Alertmanager, not a person. Read when its alert opens or joins
   * an approval request, and kept with the request (ApprovalRow.asked_by): a request such
   * a token asked for may be approved by a Slack user given no rectify name; one any other
   * token asked for (a person's: `roles: [ingest, admin]`) may not, as that Slack user
   * may be its holder. Absent without tokens.
   */
  intakeOnly?: (actor: string) => boolean;
  /**
   * At startup recovery, before the runs a crash cut off are recorded INTERRUPTED and their
   * blast-radius slots released: kills what their steps started that still runs (a
   * `command:` action's program; see killLeftoversOf), and says how many were found, by run.
   */
  killLeftovers?: (executionIds: readonly string[]) => Promise<LeftoverSearch>;
}

export interface AcceptOptions {
  wait?: boolean;
  actor?: string;
  /** The sender left alerts out of this delivery: recorded with its decisions, and a person is told. */
  truncated?: TruncatedDelivery;
  /**
   * The sender may read what rectify recorded (a token with `viewer`, or no tokens): a
   * refusal of an id posted before with another report quotes that report's value and
   * decision. Unset (an `ingest`-only token), it names the field that differs, nothing
   * of the earlier incident (see repostedDifferently).
   */
  mayRead?: boolean;
}

/**
 * An Alertmanager notification cut short by its webhook's `max_alerts`: `alerts`
 * more firing or resolved alerts of the group that never reached rectify, so were
 * never decided. Alertmanager does not send them later.
 */
export interface TruncatedDelivery {
  alerts: number;
  /** From the payload: untrusted text, bounded, kept in the audit details and logs only. */
  groupKey: string | null;
  receiver: string | null;
}

/** A cut-short delivery as audited, to be told after its commit (tellTruncated). */
interface TruncationNotice {
  delivery: TruncatedDelivery;
  delivered: number;
  reason: string;
  /** Announced, its audit row recording it: told one by one. Absent: told as `manual`, summed up in a storm. */
  told: Told | undefined;
  taken: TruncationTake | undefined;
}

/**
 * One body being decided (see accept), in one part or, past the slice, in several: what
 * its parts share and what they have recorded so far.
 */
interface BodyAttempt {
  actor: string;
  mayRead: boolean;
  /** The enrichment reads the body's alerts share. */
  reads: EnrichmentReads;
  truncated: TruncatedDelivery | undefined;
  /** With `truncated`, the body's identity (see partlyRecorded). */
  key: string | undefined;
  /** Alerts in the whole body. */
  total: number;
  /** Alerts decided and recorded so far: what a commit failing now answers. */
  recorded: number;
  /** A commit of the body has succeeded: a failure from now on leaves part of it recorded. */
  committed: boolean;
  /** Its truncation was recorded by a commit of this attempt. */
  truncationRecorded: boolean;
  /** The runs its commits claimed, by execution id. */
  started: Map<string, Promise<RunOutcome>>;
  /**
   * Decided in slices: the decisions of the slices committed before, by dedup key, so a
   * later copy of an alert is a duplicate of that decision as within one slice (see
   * decideAll). Absent for a body decided in one part.
   */
  earlier: Map<string, DecisionResult> | undefined;
}

/**
 * A manual run's param the runbook does not read (manualRunParamNames) is refused, with
 * every such name and a near spelling: it would fill nothing, and a misspelt
 * `new_replica` ran the scale with the count enrichment picked (current + 1), as if the
 * 8 asked for had been read. Refused before anything is recorded.
 */
function refuseUnreadParams(rb: Runbook, params: Readonly<Record<string, string>>): void {
  const known = manualRunParamNames(rb);
  const unread = Object.keys(params).filter((k) => !known.includes(k));
  if (unread.length === 0) return;
  const path = (k: string) => (PLAIN_PARAM_NAME.test(k) ? `body.params.${k}` : `body.params[${quoteUntrusted(k)}]`);
  const message = (k: string) => `not a param runbook ${rb.id} reads${didYouMean(k, known)}`;
  throw new RectifyError(
    'VALIDATION_FAILED',
    `${unread.slice(0, 5).map((k) => `${path(k)} is ${message(k)}`).join('; ')}${unread.length > 5 ? ` (and ${unread.length - 5} more)` : ''}: it reads ${known.join(', ')}; nothing was run`,
    { details: unread.map((k) => ({ path: path(k), message: message(k) })) },
  );
}
const PLAIN_PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The outcome of a run startup recovery finds cut off by a crash after it started a step. */
const RECOVERED_OUTCOME = 'interrupted: rectify stopped while it ran';

/**
 * What startup recovery says of a run it found under way in a database that is a copy
 * (`copy`: its mark, Tx.databaseCopy), before what it had recorded: nothing is claimed of
 * what it changed, a step recorded or not.
 */
const inCopyReason = (copy: string): string =>
  `this database is a copy (${copy}), taken while this execution was under way: what happened to it after the copy was taken is not known (the service it was copied from may have run it, or gone on with it)`;

/**
 * The approval request a run cut off by a crash carried out, read back for its recovery's
 * notifications and rows, as the runner's own end names it (RunRequest.approvalId): the
 * request its incident's decision names, when that request records this run as the one
 * its approval started (approvals.execution_id). An approved run acts for the incident
 * that opened the request, whose decision names it (a decision is taken again only for a
 * request that ended unanswered, never for one approved). Null for an automatic or manual run.
 */
function approvalOfRun(tx: Pick<Tx, 'getIncident' | 'getApproval'>, e: Pick<ExecutionRow, 'id' | 'incident_id' | 'trigger'>): string | null {
  if (e.trigger !== 'approval' || e.incident_id === null) return null;
  const named = tx.getIncident(e.incident_id)?.approval_id;
  const a = named ? tx.getApproval(named) : undefined;
  return a?.execution_id === e.id ? a.id : null;
}
const ENRICH_TIMEOUT_MS = 5_000;

/** The enrichment read ran out of its time: said so in a refusal, as what to do about it differs. */
class EnrichmentTimedOut extends Error {}

/** An error's text as one line of a reason: no line breaks, and not a wall of text. */
function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
const HOUR_MS = 3_600_000;
/**
 * The answer to a body a later commit of which failed: the alerts the commits before it
 * recorded stand (their runs started, their requests were told), so the answer keeps the
 * failed commit's own code and says how many. Only a 5xx (the database could not commit,
 * the engine overloaded) says to send it again, which a sender does by itself (Alertmanager
 * retries a 5xx): those recorded are answered `duplicate` and the others decided. A 4xx
 * (an incident id posted taken by another request between the commits) is not retried by
 * Alertmanager and would be refused again: it is not advised.
 */
export function partlyRecordedError(err: unknown, recorded: number, total: number): unknown {
  if (!isRectifyError(err)) return err;
  if (isOutcomeUnknown(err.details)) {
    return new RectifyError(
      err.code,
      `the database could not confirm the commit of the rest of this request (${commitCode(err)}): ${recorded} of its ${total} alerts were decided and recorded (what they run has started, the people they ask were told), whether the other ${total - recorded} were is not known until rectify restarts, and nothing more is accepted until then. ${RETRY_SETTLES}`,
      { cause: err, details: err.details },
    );
  }
  const counted = `${recorded} of its ${total} alerts were decided and recorded (what they run has started, the people they ask were told), the other ${total - recorded} were not`;
  const message =
    err.status >= 500
      ? `${err.code === 'STORE_UNAVAILABLE' ? 'the database could not commit the rest of this request' : `the rest of this request could not be decided (${err.message})`}: ${counted}; send it again (Alertmanager retries by itself): those ${recorded} are answered duplicate and the others are decided`
      : `the rest of this request was refused (${err.message}): ${counted}`;
  return new RectifyError(err.code, message, { cause: err, details: err.details });
}

/** A large body's slices after a stop began are not decided: the sender's retry decides them (partlyRecordedError says how many were). */
function stoppingBetweenSlices(): RectifyError {
  return new RectifyError('SHUTTING_DOWN', 'rectify is stopping');
}

/** What settles alerts whose commit was not confirmed (said to their sender, not to a person). */
const RETRY_SETTLES = "Alertmanager retries by itself: its retry after the restart is answered duplicate for each alert that was recorded, and decides the others";

/** The SQLite code of a commit not confirmed (the store's error's cause). */
function commitCode(err: RectifyError): string {
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'an I/O error';
}

/**
 * The answer to alerts whose commit the database could not confirm (OUTCOME_UNKNOWN),
 * worded for their sender: the store's own words are for a person acting by hand.
 */
export function intakeOutcomeUnknownError(err: unknown): unknown {
  if (!isRectifyError(err) || !isOutcomeUnknown(err.details)) return err;
  return new RectifyError(
    err.code,
    `the database could not confirm its commit (${commitCode(err)}): whether these alerts were recorded is not known until rectify restarts, and nothing more is accepted until then. ${RETRY_SETTLES}`,
    { cause: err, details: err.details },
  );
}

/** Alerts running their enrichment or guardrail checks at once, engine-wide; the rest wait their turn. */
export const PREPARE_CONCURRENCY = 32;
/**
 * The most alerts of one body decided in one commit. A body of 120,000 alerts decided in
 * one transaction held the event loop for seconds (better-sqlite3 is synchronous): no
 * probe, no other sender, no Slack click was served meanwhile. In slices of this many,
 * each committed before the next is decided, the loop turns between them (each commit
 * waits for its turn of the loop: see the store's group commit), at the cost of one more
 * commit (fsync) per slice.
 */
export const ACCEPT_SLICE = 2_000;
/** Cut-short bodies recorded in part kept in memory, to recognise their retry (see partlyRecorded). */
const PARTLY_RECORDED_KEPT = 256;

/**
 * The Slack account behind a click. Its id is what Slack vouches for and cannot be
 * renamed; the username is the account holder's to change (to anyone's name), so it is
 * recorded beside the id for people to read and never decides who acted.
 */
export interface SlackClicker {
  id: string;
  username?: string;
}

/** What an audit row records of the Slack account that acted, if one did. */
function slackDetails(slack: SlackClicker | undefined): Record<string, string> {
  if (!slack) return {};
  return { slack_user_id: slack.id, ...(slack.username !== undefined ? { slack_username: slack.username } : {}) };
}

/**
 * A placeholder value the enricher may add, stood in for while screening: "0" is a
 * valid value in every position (a name, a label, a number, a URL segment, text),
 * so a rendering with it refuses only a value the alert itself carries. A verdict
 * rendered with a stand-in is applied only when it does not depend on the plan (a
 * block, a manual decision); any other is deferred until the alert is prepared, and
 * one still left out after that is left to a person (see `leftOutVerdict`).
 */
const STAND_IN = '0';
function withStandIns(incident: Incident, rb: Runbook): Record<string, string> {
  const values = placeholderValues(incident);
  for (const p of rb.params) if (!Object.hasOwn(values, p)) values[p] = STAND_IN;
  return values;
}

/** The plan an approval request asks to run, as its notification shows it: each step's one-line summary. */
function notificationPlan(plan: Pick<ExecutionPlan, 'actions' | 'rollback'>): NotificationPlan {
  return { actions: plan.actions.map((s) => s.summary), rollback: plan.rollback ? plan.rollback.map((s) => s.summary) : null };
}

/** A verdict that runs something or asks a person to. */
const actsOrAsks = (v: Verdict): boolean => v.kind === 'execute' || v.kind === 'approval';

/**
 * A verdict that runs something, or that a person is told of (every approval,
 * manual and blocked decision is notified): for such a verdict a firing delivery
 * decided after its own resolve (an HA pair, a retry, one held up by its checks) is
 * answered `resolved` instead, so nothing runs and nobody is told about an alert
 * that is over, paused, low-confidence or circuit-open alike. Two are left out, to
 * spare a storm a read per alert: a dry run (it neither acts nor tells anyone), and
 * RATE_LIMITED, the storm's steady state (every alert past max_per_hour or in a
 * cooldown), which runs nothing and, per runbook and service, is told once per
 * --notify-repeat-window (5m by default), its repeats only counted into a summary.
 * Other blocks (a storm while paused, say) do pay the read: they are told.
 */
/**
 * Why a PagerDuty trigger or reopen acts on nothing: an event of its incident that
 * happened after it was decided already (see occurrence.ts).
 */
function movedOnReason(incident: Incident, later: NonNullable<Placed['later']>): string {
  const when = Number.isFinite(later.at) ? ` at ${new Date(later.at).toISOString()}` : '';
  return `PagerDuty incident ${incident.labels.pagerduty_incident} had a later event (${later.event ?? 'unknown'}${when}, ${later.decision.incident_id}: ${later.decision.action}) before this one, which happened at ${incident.labels.pagerduty_occurred_at}, came: the incident has moved on since, nothing to fix`;
}

const tellsOrActs = (v: Verdict): boolean => v.kind !== 'dry_run' && v.event !== 'RATE_LIMITED';

/**
 * A verdict the I/O before deciding could change: one that acts, asks or shows a
 * plan (enrichment fills the plan, guardrails choose between acting and asking), or
 * a refusal to render (a value enrichment adds may be what was missing).
 */
const ioCanChange = (v: Verdict): boolean => actsOrAsks(v) || v.kind === 'dry_run' || v.event === 'PARAM_REFUSED';

/** Whether the runbook acts on the pod its alert names (see actsOnPod in the domain): the enricher then checks an owner name given beside the pod against the pod's own. */
const actsOnPod = (rb: Runbook): boolean => actsOnPodParams(rb.params);

/** A person's decision given a shorter wait for a database lock than --db-busy-timeout, or none. */
const lockWait = (ms: number | undefined): TransactOptions | undefined => (ms === undefined ? undefined : { lockWaitMs: ms });
const withRefusal = <T extends object>(out: T, refused: string | undefined): T & { refused?: string } => (refused === undefined ? out : { ...out, refused });

/** A runbook's `match:` matcher that does not hold on a value enrichment added or changed, and that value. */
interface Mismatch {
  runbook: Runbook;
  matcher: Matcher;
  value: string;
}

/**
 * The use cases: accept incidents, decide, approve or reject, run by hand, pause.
 * Decisions for one request are taken and committed in one store unit; executions
 * start only after that commit returned.
 */
/** Enrichment reads in flight or done within one request, by the values given to the enricher. */
type EnrichmentReads = Map<string, Promise<Record<string, string> | EnrichmentRefused>>;

/** The guard time (see guardNow in createEngine), and when the step it is behind by is taken as the time (undefined: none held). */
interface GuardTimes {
  guard: number;
  settlesAt: number | undefined;
}

export function createEngine(deps: EngineDeps) {
  const { store, catalog, clock, log, metrics } = deps;
  const id = (prefix: string) => newId(prefix, clock.now());
  const maxPreparing = deps.maxPreparing ?? 20_000;
  const acceptSlice = Math.max(1, deps.acceptSlice ?? ACCEPT_SLICE);
  const preparing = createLimiter(PREPARE_CONCURRENCY, maxPreparing);
  const truncations = createTruncationBudget();

  /**
   * The time the guardrail windows are judged by (the rate limit's hour, cooldowns, the
   * breaker's recovery wait), given the wall clock's reading `now`: `now`, except while
   * the wall clock is ahead of the time passed (a forward step: NTP after a bad RTC, an
   * operator's `date -s`). Judged by the wall clock then, every run before the step
   * looked older by the step, and a day's step let `max_per_hour` more runs through at
   * once and ended every cooldown. So the windows go by the time passed (the prune
   * horizon on the monotonic clock), and a run recorded on the stepped clock, stamped
   * after that time, counts as recent. The step is taken as the time once it has held
   * for the longest window and a minute: by then every run before it is past its window
   * in real time too, and the runs since carry the clock's time. A step back is followed
   * at once (a window then lasts longer by the step, never shorter). A restart on the
   * same boot goes on from the guard time the last process saved (`guardResume`), so a
   * step is not taken as the time by restarting.
   */
  const guardHorizon = createPruneHorizon(clock, deps.guardResume);
  let guardSettle: { of: readonly Runbook[]; ms: number } | undefined;
  function guardSettleMs(): number {
    if (guardSettle?.of !== catalog.all) {
      guardSettle = { of: catalog.all, ms: stepSettleMs(longestCooldown(catalog.all), deps.circuitRecoveryMs ?? 0) };
    }
    return guardSettle.ms;
  }
  /**
   * The guard time of the wall clock's reading `now`, and when the step it is behind by is
   * taken as the time, from one reading (a step taken between two readings gave a guard
   * time behind with no end to it).
   */
  function guardTimes(now: number): GuardTimes {
    const { at, settlesAt } = guardHorizon.times(guardSettleMs());
    const guard = Math.min(now, at);
    return { guard, settlesAt: guard < now ? settlesAt : undefined };
  }
  /** The guard time alone (see guardTimes): `now`, or behind it while a forward step is held. */
  const guardNow = (now: number): number => guardTimes(now).guard;
  /** The wall-clock time at which the guard time reaches `t` (the end of a window it judges), time passing from now. */
  const guardEnd = (t: number): number => guardHorizon.wallTimeOf(t, guardSettleMs());
  /**
   * deps.decide at the wall clock's reading `now`, by the guard time `times` read for it
   * (a body reads them once and decides all its alerts by them).
   */
  const decide = (input: DecideInput, tx: Tx, now: number, times: GuardTimes = guardTimes(now)): Verdict =>
    deps.decide(input, tx, now, times.guard, times.settlesAt);

  /**
   * Whether the runbook needs values the incident lacks (the owning deployment, say).
   * Kubernetes runbooks read more than their placeholders (a pod's owning deployment
   * for the named checks), so they are always enriched; the enricher only adds what is missing.
   * So is a runbook whose `match:` reads a value only the cluster can say for this alert
   * (see matchersNeedCluster): a `deployment!~…` exclusion on an alert naming only a pod.
   */
  const needsEnrichment = (incident: Incident, rb: Runbook): boolean =>
    deps.enricher !== undefined &&
    (rb.needs.includes('kubernetes') || !hasPlaceholderValues(incident, rb.params) || matchersNeedCluster(rb.matchers, (name) => placeholderValue(incident, name), actsOnPod(rb)));

  /**
   * The incident's placeholder values, with what the enricher adds when the runbook
   * needs it. The counts the enricher reads as the state before the run
   * (`old_replicas`, `ready_replicas`) are never the alert's to say: the alert's
   * values of those names are dropped and the cluster's used, so a label cannot pose
   * as the replica count a scale is rolled back to. The rest stays the alert's.
   * Within one request (`reads`), alerts giving the enricher the same values share
   * one read: a storm of alerts for one workload is one call to the Kubernetes API.
   * `refused`: the enricher's reason the alert's values cannot be acted on as given.
   */
  async function enrich(incident: Incident, rb: Runbook, reads?: EnrichmentReads, manual = false): Promise<{ values: Record<string, string>; refused?: string; unread?: string }> {
    const values = placeholderValues(incident);
    const who = manual ? 'run' : 'alert';
    // A matcher on a value enrichment gives is not judged on the empty string when
    // nothing read it (see unjudgedMatcher): the decision is refused, naming it.
    const unjudged = (vs: Record<string, string>, unread: string): string | undefined => {
      const m = unjudgedMatcher(rb.matchers, (name) => Object.hasOwn(vs, name), manual);
      return m && unjudgedReason(rb.id, m, who, unread);
    };
    if (!deps.enricher || !needsEnrichment(incident, rb)) return withRefusal({ values }, unreadRefusal(rb, values, manual));
    const given = Object.fromEntries(Object.entries(values).filter(([k]) => !isClusterFact(k)));
    try {
      const extra = await readEnrichment(given, reads, actsOnPod(rb), matchersReadCluster(rb.matchers), runbookReplicaCap(rb).max);
      if (extra instanceof EnrichmentRefused) return { values: given, refused: extra.reason };
      const facts = Object.fromEntries(Object.entries(extra).filter(([k]) => isClusterFact(k)));
      const enriched = { ...extra, ...given, ...facts };
      // Without a namespace and a pod or deployment to start from, the enricher read nothing.
      return withRefusal({ values: enriched }, canEnrich(given) ? undefined : unreadRefusal(rb, enriched, manual));
    } catch (err) {
      // Unknown is not good news: the missing value makes rendering refuse the run, and
      // the refusal says the read failed (not that the alert lacked the value); so does
      // a matcher that would have read it.
      log.warn({ err: errorMessage(err), runbook: rb.id, incident_id: incident.id, service: incident.service, alertname: incident.alertname ?? null }, 'enrichment failed');
      const unread = err instanceof EnrichmentTimedOut ? err.message : `failed: ${oneLine(errorMessage(err))}`;
      // An owner name the alert gives beside the pod the runbook acts on is the pod's
      // only once the cluster says so: unread, a matcher on it is not judged either.
      const unconfirmed = actsOnPod(rb) ? unconfirmedMatcher(rb.matchers, (name) => given[name], manual) : undefined;
      const refusal = unjudged(given, unread) ?? (unconfirmed && unconfirmedReason(rb.id, unconfirmed, who, given[unconfirmed.name]!, unread));
      return withRefusal({ values: given, unread }, refusal);
    }
  }

  /**
   * Puts what `enrich` prepared on the input, and tests again the runbook's `match:`
   * matchers that read a value the enrichment added or changed (an alert naming only a
   * pod gets its owning `deployment`): the runbook was matched on the alert's own values,
   * and a matcher sees the value its placeholder is filled with. One that does not hold
   * takes the runbook from the alert (see `rematch`). Matchers whose value is the
   * alert's own were tested already: a storm's alerts pay a comparison per matcher.
   */
  async function enrichInput(input: DecideInput): Promise<void> {
    const rb = input.runbook!;
    const { values, refused, unread } = await enrich(input.incident, rb, requestReads.get(input));
    input.values = values;
    if (refused !== undefined) input.refused = refused;
    else delete input.refused;
    if (unread !== undefined) input.unread = unread;
    else delete input.unread;
    const mismatch = refused === undefined ? enrichedMismatch(input.incident, rb, values) : undefined;
    if (mismatch) mismatched.set(input, mismatch);
    else mismatched.delete(input);
  }

  /** The first matcher of `rb` reading a value enrichment added or changed, that does not hold on it. */
  function enrichedMismatch(incident: Incident, rb: Runbook, values: Readonly<Record<string, string>>): Mismatch | undefined {
    for (const m of rb.matchers) {
      const value = Object.hasOwn(values, m.name) ? values[m.name] : undefined;
      if (value === placeholderValue(incident, m.name)) continue;
      if (!matcherHoldsOn(m, value ?? '')) return { runbook: rb, matcher: m, value: value ?? '' };
    }
    return undefined;
  }

  /** Inputs whose enriched values a matcher of their runbook does not hold on (see enrichInput). */
  const mismatched = new WeakMap<DecideInput, Mismatch>();
  /** A PagerDuty (or startsAt-less Alertmanager) input's incident as ingest made it, before it was placed in its occurrence (see occurrence.ts). */
  const ingestedAs = new WeakMap<DecideInput, Incident>();
  /** Inputs no runbook matches on their enriched values: the reason their decision gives (see rematch). */
  const unmatched = new WeakMap<DecideInput, string>();

  /** The enricher's answer for `given`, shared with the request's other alerts that give it the same values. */
  function readEnrichment(
    given: Record<string, string>,
    reads: EnrichmentReads | undefined,
    checkPodOwner: boolean,
    readsCluster: boolean,
    maxReplicas: number,
  ): Promise<Record<string, string> | EnrichmentRefused> {
    const read = async () => {
      const signal = timeoutSignal(ENRICH_TIMEOUT_MS);
      try {
        return await deps.enricher!.enrich(given, signal, { ...(checkPodOwner ? { checkPodOwner, ...(readsCluster ? { matchersReadCluster: true } : {}) } : {}), maxReplicas });
      } catch (err) {
        throw signal.aborted ? new EnrichmentTimedOut(`timed out after ${formatDuration(ENRICH_TIMEOUT_MS)}`, { cause: err }) : err;
      }
    };
    if (!reads) return read();
    // The incident id names the alert, not anything the enricher reads: left out of the key.
    // The runbook's cap is part of it: new_replicas is worked out against it.
    const key = `${maxReplicas}:` + (checkPodOwner ? (readsCluster ? 'pod+match:' : 'pod:') : '') + JSON.stringify(Object.keys(given).filter((k) => k !== 'incident_id').sort().map((k) => [k, given[k]]));
    let p = reads.get(key);
    if (!p) {
      p = read();
      reads.set(key, p);
    }
    return p;
  }

  /** The enrichment reads of one request, by the values given to the enricher (see `enrich`). */
  const requestReads = new WeakMap<DecideInput, EnrichmentReads>();

  /** A MEDIUM runbook's guardrail conditions: all must pass now, or a human approves. */
  async function evaluateGuardrails(rb: Runbook, values: Record<string, string>): Promise<{ ok: boolean; detail: string }> {
    const rendered = deps.renderer.renderChecks(rb.guardrails, values);
    if (!rendered.ok) return { ok: false, detail: rendered.reason };
    for (const check of rendered.checks as RenderedCheck[]) {
      const runner = deps.checks.get(check.type);
      if (!runner) return { ok: false, detail: `no runner for ${check.type} checks` };
      try {
        // The loader refuses a timeout_seconds past the budget; a default one is cut to it.
        // The last attempt, made at the timeout, must end within the budget too: the
        // timeout leaves it a second (or one interval, when shorter) before the budget
        // ends, and the budget cuts it off there. The signal is the backstop for a
        // runner that overstays.
        const out = await runner.run(
          { ...check, timeoutMs: guardrailTimeoutMs(check) },
          { signal: timeoutSignal(GUARDRAIL_BUDGET_MS + 1_000), budgetMs: GUARDRAIL_BUDGET_MS, log, startedAt: clock.now(), memo: new Map() },
        );
        if (!out.ok) return { ok: false, detail: `${check.type === 'named' ? check.name : check.type}: ${out.detail}` };
      } catch (err) {
        return { ok: false, detail: `guardrail error: ${errorMessage(err)}` };
      }
    }
    return { ok: true, detail: 'all guardrail conditions hold' };
  }

  const needsGuardrails = (incident: Incident, rb: Runbook): boolean =>
    rb.risk === 'MEDIUM' && rb.guardrails.length > 0 && incident.confidence >= rb.minConfidence;
  const needsIO = (incident: Incident, rb: Runbook): boolean => needsEnrichment(incident, rb) || needsGuardrails(incident, rb);

  /**
   * The decision inputs of a body, and those that need I/O before they can be decided
   * (enrichment, MEDIUM guardrails). Synchronous: a storm of alerts that need no I/O
   * costs no promise per alert, and holds no copy of its values while the group
   * commit waits (the params stage reads them from the incident).
   */
  function inputsFor(incidents: Incident[]): { inputs: DecideInput[]; io: DecideInput[] } {
    const io: DecideInput[] = [];
    const generation = catalog.generation;
    const inputs = incidents.map((incident) => {
      const input: DecideInput = { incident, trigger: 'auto', dryRun: false };
      // Nothing to match a runbook on: the match stage leaves it to a person.
      if (incident.status !== 'firing' || incident.no_root_cause) return input;
      matchedIn.set(input, generation);
      const rb = catalog.match(incident);
      if (!rb) return input;
      input.runbook = rb;
      if (needsIO(incident, rb)) io.push(input);
      return input;
    });
    return { inputs, io };
  }

  /** Why an alert matched to a runbook on its own values has none once enriched. */
  const noRunbookReason = ({ runbook, matcher, value }: Mismatch): string =>
    `No matching runbook: ${runbook.id} matched the alert's own values, but its match: ${formatMatcher(matcher)} does not hold on ` +
    `${matcher.name} ${quoteUntrusted(value)}, read from the cluster, and no other runbook matches with it; nothing was run`;

  /** The catalog generation each firing input was matched under (see rematch). */
  const matchedIn = new WeakMap<DecideInput, number | undefined>();

  /**
   * An alert matched before a runbook reload is matched again before it is decided:
   * a runbook removed or changed meanwhile must not act on the definition it had.
   * So is one whose enriched values a matcher of its runbook does not hold on
   * (`mismatched`), on those values: the first runbook whose matchers hold on them, as
   * for an alert that carried them (`deployment!~"payments-.*"` keeps a runbook from an
   * alert naming a pod of payments-api as from one naming the deployment). Matching
   * none, it is decided NO_RUNBOOK with the matcher and the value (`unmatched`): the
   * match stage would match the alert's own values again.
   * Answers whether the runbook it will be decided with is not the one it was
   * prepared for (its enrichment and guardrail results, if any, are dropped).
   */
  function rematch(input: DecideInput): boolean {
    const mismatch = mismatched.get(input);
    if (!mismatch && (!matchedIn.has(input) || matchedIn.get(input) === catalog.generation)) return false;
    mismatched.delete(input);
    matchedIn.set(input, catalog.generation);
    const before = input.runbook;
    const rb = catalog.match(mismatch ? { ...input.incident, context: input.values!, labels: input.values! } : input.incident);
    if (rb && before && rb.id === before.id && rb.version === before.version) {
      input.runbook = rb;
      return false;
    }
    if (rb) input.runbook = rb;
    else delete input.runbook;
    if (!rb && mismatch) unmatched.set(input, noRunbookReason(mismatch));
    delete input.values;
    delete input.refused;
    delete input.unread;
    delete input.guardrails;
    enrichedOnly.delete(input);
    return rb !== undefined && needsIO(input.incident, rb);
  }

  /** An input's values before its I/O: stand-ins only for what an enricher could add (without one, a missing value stays missing). */
  function valuesBeforeIO(input: DecideInput): Record<string, string> {
    if (deps.enricher) return withStandIns(input.incident, input.runbook!);
    // Without an enricher they are the alert's own, and final: a matcher they cannot
    // judge refuses the input now, as preparing it would (a storm's left-out alert must
    // not ask a person on a value nobody confirmed).
    const values = placeholderValues(input.incident);
    const refused = unreadRefusal(input.runbook!, values, false);
    if (refused !== undefined) input.refused = refused;
    return values;
  }

  async function complete(input: DecideInput): Promise<void> {
    const rb = input.runbook!;
    await enrichInput(input);
    // A runbook its enriched values do not match is not this alert's, and values refused
    // are never rendered into a plan: its conditions are not read.
    if (!mismatched.has(input) && input.refused === undefined && needsGuardrails(input.incident, rb)) input.guardrails = await evaluateGuardrails(rb, input.values!);
  }

  /**
   * Runs the I/O of the inputs that need it, at most PREPARE_CONCURRENCY at once
   * engine-wide, and returns those it left out. An alert storm must not become a
   * storm of calls to the Kubernetes API and Prometheus, the two things an incident
   * already strains, for alerts rectify will not act on: a re-delivery, an alert
   * while paused, rate limited or in cooldown. So the inputs are screened first on
   * committed state (`screen`), and only those that could act or ask are prepared.
   * The screen only saves work: `decideAll` defers any left-out input whose
   * decision the I/O could change; the deferred ones are screened again, and those
   * that may now act are prepared and decided after all.
   */
  async function prepareIO(io: DecideInput[], bounded = true): Promise<Set<DecideInput>> {
    const skipped = screenQuietly(io);
    const todo = io.filter((input) => !skipped.has(input));
    await runPrepared(todo, bounded);
    return skipped;
  }

  /**
   * Whether a verdict reached without the input's I/O would run something: it
   * executes, or it asks only because a MEDIUM runbook's guardrail conditions were
   * not evaluated, and would run if they hold (not a dry run, nothing else asking).
   */
  function wouldRun(verdict: Verdict, input: DecideInput, tx: Tx, now: number, times: GuardTimes): boolean {
    if (verdict.kind === 'execute') return true;
    if (verdict.kind !== 'approval' || !uncheckedMedium(input)) return false;
    return decide({ ...input, guardrails: { ok: true, detail: 'as if the conditions hold' } }, tx, now, times).kind === 'execute';
  }

  /** A MEDIUM alert whose guardrail conditions were not evaluated. */
  function uncheckedMedium(input: DecideInput): boolean {
    const rb = input.runbook;
    return rb !== undefined && input.guardrails === undefined && needsGuardrails(input.incident, rb);
  }

  /** Whether the input's values are real (never a stand-in): from the alert alone, or enriched. */
  function realValues(input: DecideInput): boolean {
    const rb = input.runbook!;
    return enrichedOnly.has(input) || (!needsEnrichment(input.incident, rb) && hasPlaceholderValues(input.incident, rb.params));
  }

  /** Inputs left out of the guardrail checks that were enriched only, to ask a person with their real plan. */
  const enrichedOnly = new WeakSet<DecideInput>();

  /** A left-out MEDIUM alert whose plan needs the enricher: asks a person only once enriched (see `leftOutVerdict`). */
  const needsEnrichmentToAsk = (input: DecideInput): boolean =>
    uncheckedMedium(input) && needsEnrichment(input.incident, input.runbook!) && !enrichedOnly.has(input);

  /** Enrichment only, no guardrail checks, for alerts left out that will ask a person (at most PREPARE_CONCURRENCY at once). */
  async function enrichOnly(inputs: DecideInput[]): Promise<void> {
    await Promise.all(
      inputs.map((input) =>
        preparing.run(async () => {
          await enrichInput(input);
          enrichedOnly.add(input);
        }),
      ),
    );
  }

  /**
   * The second pass's answer for an input the screen left out again whose decision
   * its I/O could still change: the alerts of its runbook and service prepared
   * before it were to use the executions left, and did not use them all. It is not
   * decided to run without its own checks. A MEDIUM alert asking only for lack of
   * its guardrail checks asks a person with the plan it would run, built from the
   * alert's values or, where the plan needs the enricher, from what it read for this
   * alert (`enrichOnly`); anything else is left to a person (never a plan with
   * stand-in values).
   */
  function leftOutVerdict(input: DecideInput, verdict: Verdict): Verdict {
    const rb = input.runbook;
    if (verdict.kind === 'approval' && uncheckedMedium(input) && realValues(input)) {
      return { ...verdict, reason: 'risk MEDIUM: its guardrail conditions were not checked in this alert storm (they were checked for the alerts before it, which did not all run): approval' };
    }
    // Enriched, its values are the enricher's answer: a refusal to render them stands; so
    // does one of the alert's own values where there is no enricher (no I/O changes them).
    if ((enrichedOnly.has(input) || !deps.enricher) && verdict.event === 'PARAM_REFUSED') return verdict;
    return {
      kind: 'manual',
      event: 'DECISION_ERROR',
      reason: 'its enrichment or guardrail checks were left out in an alert storm (the alerts before it were to use the executions left, and did not all run), and it could still act: left to a person (act by hand, or run the runbook with rectify run)',
      ...(rb ? { runbook: rb } : {}),
    };
  }

  /** The screen on committed state; if the store cannot be read, nothing is left out (every input is prepared). */
  function screenQuietly(io: DecideInput[]): Set<DecideInput> {
    try {
      return store.read((tx) => screen(io, tx, clock.now()));
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'could not screen alerts before their I/O: preparing every one');
      return new Set();
    }
  }

  /**
   * Prepares `todo`. Past the bound on waiting alerts, while others wait, the request is
   * refused whole (`bounded`), before any of it is recorded; the sender retries it once
   * they are done. A request that alone passes the bound is prepared when nothing else
   * waits: refused, it would be refused at every retry. The alerts waiting are then at
   * most the bound or one request's (whose body, parsed, is in memory already).
   */
  async function runPrepared(todo: DecideInput[], bounded = true): Promise<void> {
    if (todo.length === 0) return;
    if (bounded && preparing.waiting() > 0 && !preparing.admits(todo.length)) {
      throw new RectifyError(
        'OVERLOADED',
        `more than ${maxPreparing} decisions would be waiting to be prepared (Kubernetes reads, Prometheus guardrail queries; --max-pending ${maxPreparing}): ${preparing.waiting()} wait now and this request brings ${todo.length}; nothing of this request was recorded: send it again shortly (Alertmanager retries by itself), or raise --max-pending`,
      );
    }
    await Promise.all(todo.map((input) => preparing.run(() => complete(input))));
  }

  /**
   * The inputs whose I/O cannot change their decision now: duplicates, and those a
   * guardrail blocks whatever the I/O finds (paused, outside a window, circuit open,
   * rate limited, in cooldown). They are decided as they would be once prepared, with
   * a stand-in for each placeholder value the enricher may add (`withStandIns`): a
   * rendering refuses only what the alert itself carries. Of the alerts that would
   * execute (or would if their MEDIUM guardrail conditions hold), only as many per
   * runbook and service as may still run this hour (one under a cooldown) are
   * prepared: the others would be rate limited by them, or, when those conditions do
   * not hold for them, ask a person as they do (see `leftOutVerdict`).
   */
  function screen(io: DecideInput[], tx: Tx, now: number): Set<DecideInput> {
    // Read once, as `now` is: every alert of the body is screened at the same time.
    const times = guardTimes(now);
    const skip = new Set<DecideInput>();
    const slots = new Map<string, number>();
    // A later copy of an alert in the same body is a duplicate of the first: it takes no slot.
    const keys = new Set<string>();
    for (const input of io) {
      const key = input.incident.dedup_key;
      // A re-delivery is a duplicate, unless it is decided again (decidedAgainOnRedelivery): screened as a new alert.
      // This judgement only picks what to prepare; decideAll judges the re-delivery again, and
      // that one decides. It is not handed on: it was made on committed state before the I/O,
      // and by the decision's transaction another delivery of the alert (an HA pair's twin) may
      // have decided it again already (its run started: a duplicate now, not a second run), a
      // run may have ended or started, a request expired, the resolve come, the hour moved on.
      const stored = keys.has(key) ? undefined : tx.decisionByDedup(key);
      if (keys.has(key) || (stored && !decidedAgainOnRedelivery(tx, input.incident, now, stored, rateLimitCleared(input, tx, now, times)))) {
        skip.add(input);
        continue;
      }
      keys.add(key);
      // Left out, an input keeps these values: decideAll decides it with them.
      input.values = valuesBeforeIO(input);
      const verdict = decide(input, tx, now, times);
      if (!ioCanChange(verdict)) {
        skip.add(input);
        continue;
      }
      if (wouldRun(verdict, input, tx, now, times)) {
        const rb = verdict.runbook!;
        const service = input.incident.service;
        const pair = `${rb.id}\u0000${service}`;
        const left = slots.get(pair) ?? (rb.cooldownMs > 0 ? 1 : rb.maxPerHour - tx.executionsSince(rb.id, service, times.guard - HOUR_MS));
        slots.set(pair, left - 1);
        if (left <= 0) {
          skip.add(input);
          continue;
        }
      }
      delete input.values;
    }
    return skip;
  }

  /**
   * For a re-delivery of a RATE_LIMITED alert (see decidedAgainOnRedelivery): whether its
   * rate limit and cooldown hold no more for its service, judged by their stages with the
   * runbook it is matched to now, by the body's guard time. One matched to no runbook now
   * (a reload removed it) is decided again too.
   */
  const rateLimitCleared = (input: DecideInput, tx: Tx, now: number, times: GuardTimes) => (): boolean =>
    !input.runbook || serviceRateLimit(input.runbook, input, tx, now, times.guard, times.settlesAt) === undefined;

  function startClaims(claims: ExecutionClaim[]): Map<string, Promise<RunOutcome>> {
    const started = new Map<string, Promise<RunOutcome>>();
    for (const c of claims) {
      // Before the run starts: its end (closed, open) is told after this, never before.
      if (c.circuitTrial) deps.onCircuit?.(c.runbookId, 'half_open');
      started.set(
        c.id,
        deps.executions.start({
          id: c.id,
          incidentId: c.incidentId,
          runbookId: c.runbookId,
          service: c.service,
          plan: c.plan,
          actor: c.actor,
          trigger: c.trigger,
          alertKey: c.alertKey,
          circuitTrial: c.circuitTrial,
          startedAt: c.startedAt,
          alertReceivedAt: c.alertReceivedAt,
          approvalId: c.approvalId,
        }),
      );
    }
    return started;
  }

  async function settle(results: DecisionResult[], started: Map<string, Promise<RunOutcome>>): Promise<void> {
    await Promise.all(
      results.map(async (r) => {
        // A second copy of an alert in the same body (answered `duplicate`) names the run of
        // the first: that run's outcome is the first copy's answer, not this one's.
        const p = r.execution_id && r.action !== 'duplicate' ? started.get(r.execution_id) : undefined;
        if (!p) return;
        const out = await p;
        r.success = out.success;
        r.rolled_back = out.rolledBack;
        // Stopped before it changed anything: by the cluster ("not now"), or by a kill switch turned on since it was decided.
        if (out.event === 'DISRUPTION_BLOCKED' || out.event === 'PAUSED') {
          r.action = 'blocked';
          r.event = out.event;
          r.reason = out.outcome;
        } else if (out.state === 'aborted' || out.state === 'interrupted') {
          r.action = 'aborted';
          r.event = out.event;
          r.reason = out.outcome;
        } else if (out.state === 'failed') {
          r.event = 'FAILED';
          r.reason = out.outcome;
        } else {
          r.event = 'SUCCESS';
        }
      }),
    );
  }

  /**
   * Audits a cut-short delivery (ALERTS_TRUNCATED) in the commit of its decisions. A
   * notice told one by one (see truncations.ts) is announced here, so its row records it:
   * one a crash or a stop kept from a receiver is told again at the next start. One
   * taken from the window is named in `taken`, so a commit that fails gives it back.
   */
  function recordTruncated(tx: Tx, t: TruncatedDelivery, delivered: number, now: number, actor: string): TruncationNotice {
    const reason = truncatedReason(t.alerts, delivered);
    const taken = deps.notify ? truncations.take(JSON.stringify([t.receiver, t.groupKey]), now) : undefined;
    const told = taken ? announce({ event: 'ALERTS_TRUNCATED', outcome: TRUNCATED_OUTCOME, reason }, now) : undefined;
    try {
      tx.appendAudit({
        at: now,
        event: 'ALERTS_TRUNCATED',
        actor,
        details: withTold({ truncated_alerts: t.alerts, delivered_alerts: delivered, group_key: t.groupKey, receiver: t.receiver }, told),
      });
    } catch (err) {
      if (taken) truncations.giveBack(taken);
      throw err;
    }
    return { delivery: t, delivered, reason, told, taken };
  }

  /**
   * Whether a cut-short delivery is one rectify has had already (an HA Alertmanager
   * pair sends each notification once per member; a retry sends it again): at least
   * one alert delivered, and every one of them answered `duplicate`. Its truncation
   * was recorded, counted and told with the first copy; doing it again would double
   * `rectify_alerts_truncated_total` and page a person twice for the same lost alerts.
   *
   * Identity is the alerts, not the group key: Alertmanager has no notification id,
   * and the same group is legitimately notified again (group_interval) with new
   * alerts and new losses. A partial overlap (some alerts seen, at least one new) is
   * therefore a new notification of the group and recorded in full; its losses may
   * overlap the earlier notification's, which cannot be told apart because the left-out
   * alerts are never named. The trap on the other side: a later notification whose
   * delivered alerts are all old but whose left-out ones changed is taken for a
   * re-delivery; the person was told already that this group outgrows max_alerts.
   * A deferred slot (undefined) is an alert not decided yet, so a new one. Called
   * only for a cut-short body: a storm without truncation pays nothing.
   */
  function isRedelivery(results: ReadonlyArray<DecisionResult | undefined>): boolean {
    return results.length > 0 && results.every((r) => r?.action === 'duplicate');
  }

  /**
   * Cut-short bodies an attempt recorded only in part (a later commit of their
   * decisions failed), by `bodyKey`: their truncation was recorded, counted and told
   * with the first commit, and the sender's retry of the same body, whose recorded
   * alerts answer `duplicate` and the others are new, does not record it again (which
   * `isRedelivery` alone would take for a new notification of the group). A body
   * decided in slices is put here by the commit that records its truncation, and taken
   * out once its last slice is committed: a twin delivered meanwhile, or the retry after
   * a later slice failed, does not record it again. Kept in memory, the most recent
   * PARTLY_RECORDED_KEPT: a restart between the failure and the retry records the
   * truncation a second time.
   */
  const partlyRecorded = new Set<string>();

  /** A cut-short body's identity: its group, what was left out, and its alerts' occurrences in order. */
  function bodyKey(t: TruncatedDelivery, incidents: Incident[]): string {
    const h = createHash('sha256');
    h.update(JSON.stringify([t.receiver, t.groupKey, t.alerts]));
    for (const i of incidents) h.update(`\u0000${i.dedup_key}`);
    return h.digest('hex');
  }

  function remember(set: Set<string>, key: string): void {
    set.delete(key);
    set.add(key);
    if (set.size > PARTLY_RECORDED_KEPT) set.delete(set.values().next().value!);
  }

  /**
   * After the commit: the count, a warning, and a person told (the receiver's max_alerts
   * is too low for this storm). One by one (outcome `alerts left out`) when its row
   * records the notification; otherwise as a `manual` notification, which the repeat
   * filter sums up when a storm repeats it, and which a restart does not tell again.
   */
  function tellTruncated(n: TruncationNotice): void {
    const t = n.delivery;
    metrics.alertsTruncated(t.alerts);
    log.warn({ truncated_alerts: t.alerts, delivered_alerts: n.delivered, group_key: t.groupKey, receiver: t.receiver }, 'Alertmanager left alerts out of a notification');
    if (n.told) send(n.told);
    else deps.notify?.(notice({ event: 'ALERTS_TRUNCATED', outcome: 'manual', reason: n.reason }, clock.now()));
  }

  /**
   * Decides a body's inputs inside one transaction, in order. An input whose I/O was
   * left out (`unprepared`) is decided only when the I/O could not change its
   * decision (a duplicate, a block); otherwise it is deferred, with any later copy
   * of the same alert, and its slot in `results` stays empty. An input matched again
   * after a runbook reload, to a runbook that needs I/O, joins `unprepared`. In the
   * second pass (no `unprepared`), an input still `leftOut` that could act is never
   * decided to run without its I/O (`leftOutVerdict`). In a body decided in slices, a
   * copy of an alert an `earlier` slice decided is a duplicate of that decision, as a
   * later copy in the same slice is.
   */
  function decideAll(
    tx: Tx,
    inputs: DecideInput[],
    actor: string,
    mayRead: boolean,
    unprepared?: Set<DecideInput>,
    leftOut?: Set<DecideInput>,
    earlier?: ReadonlyMap<string, DecisionResult>,
  ) {
    const now = clock.now();
    // Read once per body (per slice of a large one), as `now` is: every alert of it is decided at the same time.
    const times = guardTimes(now);
    const applyContext: ApplyContext = {
      now,
      actor,
      trigger: 'auto',
      approvalTtlMs: deps.approvalTtlMs,
      newId: id,
      recordIncident: true,
      isPerson: sentByPerson,
      maxPendingApprovals: deps.maxPendingApprovals ?? DEFAULT_MAX_PENDING_APPROVALS,
    };
    const results: Array<DecisionResult | undefined> = [];
    const claims: ExecutionClaim[] = [];
    const deferred: number[] = [];
    /** Requests a resolve cancelled, or found past their deadline and expired, to be told after the commit. */
    const told: Told[] = [];
    const tellCancelled = (a: ApprovalRow, why: string): Record<string, unknown> | undefined => {
      const t = announceDecided(a, 'CANCELLED', `${why}: the request is cancelled and nothing ran`, now);
      if (t) told.push(t);
      return t?.details ? { ...t.details } : undefined;
    };
    const expire = (a: ApprovalRow): void => {
      const t = expireOne(tx, a, now);
      if (t) told.push(t);
    };
    const seen = new Map<string, DecisionResult | null>();
    for (const input of inputs) {
      // A PagerDuty reopen or resolve, or an Alertmanager alert without a startsAt firing again
      // after its resolve, takes the keys of the occurrence it belongs to (see occurrence.ts).
      // Placed from the keys ingest gave it, each time it is decided (again after its I/O).
      const ingested = ingestedAs.get(input) ?? input.incident;
      ingestedAs.set(input, ingested);
      const placed = placeOccurrence(tx, ingested, now);
      let incident = (input.incident = placed.incident);
      const first = earlier && !seen.has(incident.dedup_key) ? earlier.get(incident.dedup_key) : seen.get(incident.dedup_key);
      if (first === null) {
        deferred.push(results.length);
        results.push(undefined);
        continue;
      }
      // An id reused for another report: refused, nothing recorded (see repostedDifferently).
      const reposted = repostedDifferently(tx, incident, mayRead);
      if (reposted) throw reposted;
      // A re-delivery of an alert blocked by a limit that may have cleared (BLAST_LIMITED, or
      // RATE_LIMITED once its service's rate limit and cooldown let it through), or whose approval
      // request ended unanswered (expired, or cancelled as its runbook changed), is decided again,
      // under its incident's id, once per body (a later copy in it is a duplicate of that decision).
      // Judged here, in the transaction that records the decision, whatever the screen found
      // before the I/O (see screen): this is the judgement that holds.
      const stored = tx.decisionByDedup(incident.dedup_key) ?? null;
      const held = stored && first === undefined && !placed.later ? decidedAgainOnRedelivery(tx, incident, now, stored, rateLimitCleared(input, tx, now, times)) : undefined;
      // Decided as the alert first reported: the time it was received stays the first delivery's
      // (a run's alertReceivedAt: a rollout made since, while it was held, is not undone). Its
      // other values are this delivery's, the ones screened: the same labels for Alertmanager
      // (see decidedAgainOnRedelivery), the same report through the API (see repostedDifferently).
      if (held) {
        const receivedAt = tx.getIncident(held.incident_id)?.incident.received_at ?? incident.received_at;
        incident = input.incident = { ...incident, id: held.incident_id, received_at: receivedAt };
      }
      // Two copies of one occurrence inside the same body: the second is a duplicate too.
      const dup = held ? undefined : applyDuplicate(tx, incident, now, actor, sentByPerson, (was) => {
        log.warn(
          { incident_id: was.incident_id, dedup_key: incident.dedup_key, alertname: incident.alertname ?? null, service: incident.service, alert: { labels: incident.labels } },
          'Alertmanager alert with the fingerprint and startsAt of another alert but other labels: answered duplicate, not decided (a broken sender?): act on it by hand',
        );
      }, stored) ?? (first ? { ...first, action: 'duplicate' as const, event: 'DUPLICATE' as const } : undefined);
      if (dup) {
        if (incident.source === 'alertmanager' && incident.status === 'firing' && incident.alert_key) warnFiringAfterResolve(tx, incident, now);
        results.push(dup);
        continue;
      }
      const taken = held ? undefined : postedIdTaken(tx, incident);
      if (taken) {
        // A posted id another alert has already (one of rectify's own, say): refused, nothing recorded.
        throw new RectifyError('CONFLICT', `incident ${taken} exists already, for another alert: post this one with another id, or none`, {
          details: [{ path: 'body.id', message: 'an incident with this id exists already' }],
        });
      }
      if (incident.status === 'resolved') {
        const r = applyResolved(tx, incident, now, actor, tellCancelled, expire);
        seen.set(incident.dedup_key, r);
        results.push(r);
        continue;
      }
      let verdict: Verdict | undefined;
      const enrichedAway = mismatched.has(input);
      if (rematch(input)) {
        // Its runbook changed in a reload, or its enriched values matched it to another,
        // and the new one needs I/O this input has not had.
        if (unprepared) {
          input.values = valuesBeforeIO(input);
          unprepared.add(input);
        } else {
          const why = enrichedAway ? 'the values read from the cluster matched it to another runbook' : 'the runbooks were reloaded';
          verdict = {
            kind: 'manual',
            event: 'DECISION_ERROR',
            reason: `${why} while this alert was being prepared: left to a person (act by hand, or run the runbook with rectify run)`,
            runbook: input.runbook!,
          };
        }
      }
      const unmatchedWhy = unmatched.get(input);
      if (unmatchedWhy !== undefined) verdict ??= { kind: 'manual', event: 'NO_RUNBOOK', reason: unmatchedWhy };
      verdict ??= decide(input, tx, now, times);
      // Still left out, yet able to act, and its runbook needs I/O it has not had.
      const askLater = leftOut?.has(input) === true && verdict.kind === 'approval' && needsEnrichmentToAsk(input);
      if (!askLater && leftOut?.has(input) && ioCanChange(verdict) && input.runbook && needsIO(input.incident, input.runbook)) verdict = leftOutVerdict(input, verdict);
      if (askLater || (unprepared?.has(input) && ioCanChange(verdict))) {
        seen.set(incident.dedup_key, null);
        deferred.push(results.length);
        results.push(undefined);
        continue;
      }
      // Let through by its service's rate limit and cooldown, yet still rate limited (on a
      // Kubernetes object its plan acts on, counting the runs for every service): a duplicate,
      // as while its service's limits held.
      if (held?.event === 'RATE_LIMITED' && verdict.event === 'RATE_LIMITED') {
        results.push(applyDuplicate(tx, incident, now, actor, sentByPerson, undefined, stored)!);
        continue;
      }
      // Looked up only for a verdict that acts or that a person hears of (see tellsOrActs): a storm's rate-limited alerts pay nothing.
      const resolved = incident.alert_key && tellsOrActs(verdict) ? tx.decisionByDedup(`${incident.alert_key}:resolved`) : undefined;
      if (placed.later && tellsOrActs(verdict)) {
        const r = applyAlreadyResolved(tx, incident, placed.later.decision, verdict.runbook?.id ?? null, now, actor, movedOnReason(incident, placed.later));
        seen.set(incident.dedup_key, r);
        results.push(r);
        continue;
      }
      if (resolved) {
        const r = applyAlreadyResolved(tx, incident, resolved, verdict.runbook?.id ?? null, now, actor);
        seen.set(incident.dedup_key, r);
        results.push(r);
        continue;
      }
      const { result, claim, joined } = applyVerdict(tx, incident, verdict, held ? { ...applyContext, recordIncident: false, decidedAgain: true } : applyContext);
      if (claim) claims.push(claim);
      if (joined) joinedRequests.add(result);
      else rememberAskedPlan(result, verdict);
      seen.set(incident.dedup_key, result);
      results.push(result);
    }
    return { results, claims, deferred, told };
  }

  /**
   * An Alertmanager alert firing again with the startsAt of an occurrence Alertmanager
   * resolved a while ago (Prometheus missed its resends past endsAt, Alertmanager timed
   * the alert out, and it fires on): its key was decided once, so it is answered
   * `duplicate` and nothing decides it again while it fires. Warned, so a person acts
   * on it. A firing delivery within a minute of the resolve is an HA pair's or a retry's.
   */
  function warnFiringAfterResolve(tx: Tx, incident: Incident, now: number): void {
    const resolved = tx.decisionByDedup(`${incident.alert_key}:resolved`);
    const at = resolved ? tx.getIncident(resolved.incident_id)?.incident.received_at : undefined;
    if (at === undefined || now - at <= FIRING_AFTER_RESOLVE_MS) return;
    log.warn(
      { incident_id: resolved!.incident_id, dedup_key: incident.dedup_key, alertname: incident.alertname ?? null, service: incident.service, resolved_at: new Date(at).toISOString(), alert: { labels: incident.labels } },
      'Alertmanager alert firing again after it was resolved, with the same startsAt: answered duplicate of its first decision and not decided again: act on it by hand',
    );
  }

  /**
   * Whether an alert sent by this actor was sent by a person: by an API token that may do
   * more than send alerts, not by an ingest-only one (Alertmanager's: see
   * EngineDeps.intakeOnly) nor by rectify's own intake (no tokens).
   */
  function sentByPerson(actor: string): boolean {
    return actor !== 'rectify' && deps.intakeOnly?.(actor) !== true;
  }

  const NEEDS_A_PERSON = new Set(['approval_required', 'manual', 'blocked']);
  /** Decisions that joined a pending approval request: the request was told when it was opened. */
  const joinedRequests = new WeakSet<DecisionResult>();
  /** The plan each new approval request asks to run, for its notification: what Approve would run. */
  const askedPlans = new WeakMap<DecisionResult, NotificationPlan>();

  function rememberAskedPlan(result: DecisionResult, verdict: Verdict): void {
    if (verdict.kind !== 'approval' || result.action !== 'approval_required') return;
    askedPlans.set(result, notificationPlan(verdict.plan));
  }

  /** Who is asked to approve: the runbook's owner, for approval requests. */
  function approvalOwner(r: DecisionResult): string | undefined {
    return r.action === 'approval_required' && r.runbook ? catalog.byId(r.runbook)?.owner : undefined;
  }

  /**
   * Metrics and notifications, counted once per body rather than once per alert. The
   * incidents counted taken in (`received`) are those this commit decided: an alert it
   * deferred is counted with the commit that decides it, and never if that one fails
   * (the sender's retry counts it then).
   */
  function record(results: DecisionResult[], incidents: Incident[], received: readonly Incident[] = incidents): void {
    const bySource = new Map<string, number>();
    for (const i of received) bySource.set(i.source, (bySource.get(i.source) ?? 0) + 1);
    for (const [source, n] of bySource) metrics.incidentReceived(source, n);
    // By action, then event: no key string built per alert.
    const byDecision = new Map<string, Map<string, number>>();
    for (const r of results) {
      let byEvent = byDecision.get(r.action);
      if (!byEvent) byDecision.set(r.action, (byEvent = new Map()));
      byEvent.set(r.event, (byEvent.get(r.event) ?? 0) + 1);
    }
    for (const [action, byEvent] of byDecision) for (const [event, n] of byEvent) metrics.decision(action, event, n);
    if (!deps.notify) return;
    const services = new Map(incidents.map((i) => [i.id, i.service]));
    for (const r of results) {
      // "Always notify": every decision a person must act on. Duplicates were told
      // already, and so was the request an alert joined (it shows how many alerts).
      if (NEEDS_A_PERSON.has(r.action) && !joinedRequests.has(r)) {
        deps.notify({
          event: r.event,
          incident_id: r.incident_id,
          runbook: r.runbook,
          service: services.get(r.incident_id) ?? null,
          execution_id: r.execution_id,
          approval_id: r.approval_id,
          outcome: r.action,
          reason: r.reason,
          at: clock.now(),
          ...(approvalOwner(r) ? { owner: approvalOwner(r)! } : {}),
          ...(askedPlans.has(r) ? { plan: askedPlans.get(r)! } : {}),
          // The same id when a restart tells it again (tellAgain).
          ...(r.action === 'approval_required' && r.approval_id ? { notification_id: approvalRequestNotificationId(r.approval_id) } : {}),
        });
      }
    }
  }

  /**
   * Decides one part of a body (the whole body, or one slice of it) and records it: its
   * inputs prepared, decided in one commit, and those that commit deferred decided in up
   * to two more (see decideAll). The first commit of a body may be refused (`refusable`:
   * nothing of it is recorded yet); a later part is not, nor are its alerts' preparations
   * (part of the request is recorded already). Errors are thrown as they are: accept
   * words them by what `body` says was recorded.
   */
  async function decidePart(incidents: Incident[], body: BodyAttempt): Promise<DecisionResult[]> {
    const { actor, mayRead, reads, earlier } = body;
    const { inputs, io } = inputsFor(incidents);
    for (const input of io) requestReads.set(input, reads);
    // Inputs decideAll may defer: those the screen left out, and those a runbook reload re-matched to a runbook that needs I/O.
    const unprepared = io.length ? await prepareIO(io, !body.committed) : new Set<DecideInput>();
    let truncationTaken: TruncationTake | undefined;
    let marked = false;
    const first = await store
      .transact(
        (tx) => {
          // A stop that came while this slice waited for its commit: decided now, its runs would start past the stop's grace.
          if (earlier && body.committed && deps.stopping?.()) throw stoppingBetweenSlices();
          const decided = decideAll(tx, inputs, actor, mayRead, unprepared, undefined, earlier);
          // Recorded after the decisions, in the same commit: they say whether this is a re-delivery.
          // In slices, with the first slice that holds a decision not a duplicate (none: a
          // re-delivery); marked at once, so a twin of the body decided meanwhile (an HA
          // pair's) does not record it again.
          let truncated: TruncationNotice | undefined;
          if (body.truncated && !body.truncationRecorded && !partlyRecorded.has(body.key!) && !isRedelivery(decided.results)) {
            truncated = recordTruncated(tx, body.truncated, body.total, clock.now(), actor);
            truncationTaken = truncated.taken;
            if (earlier) {
              remember(partlyRecorded, body.key!);
              marked = true;
            }
          }
          return { ...decided, truncated };
        },
        body.committed ? undefined : { refusable: true },
      )
      .catch((err: unknown) => {
        // Its truncation was not recorded: the sender's retry may be told one by one.
        if (truncationTaken) truncations.giveBack(truncationTaken);
        if (marked) partlyRecorded.delete(body.key!);
        throw err;
      });
    body.committed = true;
    if (first.truncated) body.truncationRecorded = true;
    const results = first.results as DecisionResult[];
    // The incidents as decided (a re-delivery decided again has its first delivery's id): their services are told.
    const firstIncidents = inputs.map((input) => input.incident);
    if (!first.deferred.length) record(results, firstIncidents);
    else {
      const held = new Set(first.deferred);
      record(results.filter((r) => r !== undefined), firstIncidents, firstIncidents.filter((_, k) => !held.has(k)));
    }
    for (const t of first.told) send(t);
    if (first.truncated) tellTruncated(first.truncated);
    for (const [id, p] of startClaims(first.claims)) body.started.set(id, p);
    body.recorded += incidents.length - first.deferred.length;
    if (first.deferred.length) {
      // Left out by the screen but the state changed before deciding, or matched again
      // after a runbook reload: screened again, prepared if they may now act, and decided.
      const later = first.deferred.map((i) => inputs[i]!);
      const toPrepare = later.filter((input) => unprepared.has(input));
      // Screened again on what the first pass committed: inputs a reload re-matched were
      // never screened, and a storm of them must not start a storm of I/O.
      const leftOut = toPrepare.length ? screenQuietly(toPrepare) : new Set<DecideInput>();
      for (const input of toPrepare) requestReads.set(input, reads);
      // Not refused now: part of this request is recorded already.
      await runPrepared(toPrepare.filter((input) => !leftOut.has(input)), false);
      // The prepared ones first: those left out then see the executions they use.
      const order = [...later.filter((input) => !leftOut.has(input)), ...later.filter((input) => leftOut.has(input))];
      const second = await store.transact((tx) => decideAll(tx, order, actor, mayRead, undefined, leftOut));
      body.recorded += order.length - second.deferred.length;
      const decided = new Map<DecideInput, DecisionResult>();
      order.forEach((input, k) => second.results[k] && decided.set(input, second.results[k]));
      const heldAgain = new Set(second.deferred);
      const orderIncidents = order.map((input) => input.incident);
      record([...decided.values()], orderIncidents, orderIncidents.filter((_, k) => !heldAgain.has(k)));
      for (const t of second.told) send(t);
      for (const [id, p] of startClaims(second.claims)) body.started.set(id, p);
      if (second.deferred.length) {
        // Left out again, MEDIUM alerts that ask a person, with a plan that needs the
        // enricher: enriched (their guardrail conditions still unchecked) and decided.
        const last = second.deferred.map((k) => order[k]!);
        const keys = new Set<string>();
        // A later copy of one alert is decided a duplicate: not enriched again.
        const firsts = last.filter((input) => !keys.has(input.incident.dedup_key) && keys.add(input.incident.dedup_key));
        await enrichOnly(firsts.filter(needsEnrichmentToAsk));
        const third = await store.transact((tx) => decideAll(tx, last, actor, mayRead, undefined, new Set(last)));
        last.forEach((input, k) => decided.set(input, third.results[k]!));
        record(third.results as DecisionResult[], last.map((input) => input.incident));
        for (const t of third.told) send(t);
        for (const [id, p] of startClaims(third.claims)) body.started.set(id, p);
      }
      first.deferred.forEach((i) => (results[i] = decided.get(inputs[i]!)!));
    }
    // What the next slice's copies of these alerts are duplicates of (decideAll's `seen`).
    if (earlier) {
      inputs.forEach((input, k) => {
        const r = results[k]!;
        if (r.action !== 'duplicate' && !earlier.has(input.incident.dedup_key)) earlier.set(input.incident.dedup_key, r);
      });
    }
    return results;
  }

  /** Expires the requests past their deadline; a write that fails is logged (housekeeping records the expiry when it can). */
  async function expireDueQuietly(): Promise<void> {
    try {
      const expired = await store.transact((tx) => expireDue(tx, clock.now()));
      for (const e of expired) send(e.told);
    } catch (err) {
      log.warn({ err }, 'approval expiry before a read failed: the read shows the stored status');
    }
  }

  return {
    /** The time the guardrail windows are judged by now (see guardNow): a runbook's live state reads its cooldowns and last hour by it. */
    guardNow: (): number => guardNow(clock.now()),
    /**
     * When a window the guard time judges, ending at `t` by it, ends on the wall clock: `t`,
     * or later while the wall clock is ahead of the time passed (what a person is shown as a cooldown's end).
     */
    guardEnd,
    /** Where the guard time stands, saved for the next start on this boot. */
    guardState: (): HorizonState | undefined => {
      guardNow(clock.now());
      return guardHorizon.state();
    },

    /**
     * Decide on incidents from any source; answered once every decision is durable. A body
     * of more than `acceptSlice` alerts is decided in slices of that many, in order, each
     * committed before the next is decided (see ACCEPT_SLICE); the answer still waits for
     * the last. A commit that fails after an earlier one succeeded answers how many alerts
     * were recorded (partlyRecordedError).
     */
    async accept(incidents: Incident[], opts: AcceptOptions = {}): Promise<DecisionResult[]> {
      const sliced = incidents.length > acceptSlice;
      // A cut-short body some of whose alerts an earlier attempt recorded (see partlyRecorded).
      const key = opts.truncated ? bodyKey(opts.truncated, incidents) : undefined;
      const knownBefore = key !== undefined && partlyRecorded.has(key);
      const body: BodyAttempt = {
        actor: opts.actor ?? 'rectify',
        mayRead: opts.mayRead === true,
        // Only alerts with I/O get the request's shared reads: the storm's others pay nothing.
        reads: new Map(),
        truncated: opts.truncated,
        key,
        total: incidents.length,
        recorded: 0,
        committed: false,
        truncationRecorded: false,
        started: new Map(),
        earlier: sliced ? new Map() : undefined,
      };
      let results: DecisionResult[];
      try {
        if (!sliced) results = await decidePart(incidents, body);
        else {
          results = [];
          for (let at = 0; at < incidents.length; at += acceptSlice) {
            // A stop between slices: the rest is left to the sender's retry (to another replica, or this one restarted).
            if (at > 0 && deps.stopping?.()) throw stoppingBetweenSlices();
            for (const r of await decidePart(incidents.slice(at, at + acceptSlice), body)) results.push(r);
          }
        }
      } catch (err) {
        // Nothing of it was recorded: the sender's retry may be told one by one.
        if (!body.committed) throw intakeOutcomeUnknownError(err);
        // Its truncation was recorded, counted and told with an earlier commit: the retry does not do it again.
        if (key !== undefined && (body.truncationRecorded || knownBefore || partlyRecorded.has(key))) remember(partlyRecorded, key);
        throw partlyRecordedError(err, body.recorded, incidents.length);
      }
      if (key !== undefined) partlyRecorded.delete(key);
      if (opts.wait) await settle(results, body.started);
      return results;
    },

    /** A person's one-click run: the same guardrails, approvals and audit as an automatic one. */
    async runManual(runbookId: string, params: Record<string, string>, opts: { by: string; dryRun: boolean; wait?: boolean; service?: string }): Promise<DecisionResult> {
      const rb = catalog.byId(runbookId);
      if (!rb) throw runbookNotLoaded(runbookId, catalog);
      refuseUnreadParams(rb, params);
      // The runbook id stands in for a service not given, for what counts per service (rate
      // limits, cooldowns), but never fills {service}: a run by hand acts only on what its
      // caller named (a misspelt --param service would have acted on a service named after the runbook).
      // A blank service ("" or spaces) would be a limit bucket of its own, its cooldown one no
      // one can name: refused, as "service" missing from the body is not (the runbook id stands in).
      for (const [path, given] of [
        ['body.service', opts.service],
        ['body.params.service', params.service],
      ] as const) {
        if (given === undefined) continue;
        if (given.trim() === '') {
          throw new RectifyError('VALIDATION_FAILED', `${path} is blank (${JSON.stringify(given)}): give a service, or none (the runbook id stands in for it); nothing was run`, {
            details: [{ path, message: 'blank: give a service, or none' }],
          });
        }
        // `api\u200b` reads as `api` and would count its limits apart: refused, as for an incident.
        if (UNREADABLE_NAME_CHAR_RE.test(given)) {
          throw new RectifyError('VALIDATION_FAILED', `${path} ${quoteUntrusted(given)} ${UNREADABLE_SERVICE_MESSAGE}; nothing was run`, {
            details: [{ path, message: UNREADABLE_SERVICE_MESSAGE }],
          });
        }
        if (ODD_SPACING_RE.test(given)) {
          throw new RectifyError('VALIDATION_FAILED', `${path} ${quoteUntrusted(given)} ${ODD_SPACING_MESSAGE}; nothing was run`, {
            details: [{ path, message: ODD_SPACING_MESSAGE }],
          });
        }
      }
      const unnamed = opts.service === undefined && params.service === undefined && rb.params.includes('service');
      // Both given and different, the run would act on the param's service ({service} is filled
      // from the params) and count its rate limit and cooldown against the other.
      if (opts.service !== undefined && params.service !== undefined && opts.service !== params.service) {
        throw new RectifyError(
          'VALIDATION_FAILED',
          `service ${quoteUntrusted(opts.service)} and the param service ${quoteUntrusted(params.service)} differ: give the service once (rectify run --service, or --param service=…); nothing was run`,
          { details: [{ path: 'body.service', message: `differs from params.service ${quoteUntrusted(params.service)}` }] },
        );
      }
      // Well formed as the store keeps it (a lone surrogate as U+FFFD): the rate limit, cooldown
      // and blast radius read back from the store must find the key this run compares with.
      const service = wellFormed(opts.service ?? params.service ?? rb.id);
      const now = clock.now();
      const incidentId = id('man');
      const incident: Incident = {
        id: incidentId,
        source: 'manual',
        root_cause: `manual run of ${rb.id}`,
        confidence: 1,
        service,
        services: [service],
        symptoms: [],
        context: { ...params },
        labels: {},
        status: 'firing',
        dedup_key: `manual:${incidentId}`,
        received_at: now,
      };
      const { values, refused, unread } = unnamed
        ? {
            values: placeholderValues(incident),
            refused: `no value for placeholder {service}: a run of ${rb.id} by hand acts on the service it names, and none was given (give service, or the param service: rectify run --service <name>); nothing was run`,
            unread: undefined,
          }
        : await enrich(incident, rb, undefined, true);
      const input: DecideInput = { incident, values, trigger: 'manual', runbook: rb, dryRun: opts.dryRun };
      if (refused !== undefined) input.refused = refused;
      if (unread !== undefined) input.unread = unread;
      // The same guardrails as an automatic run: a MEDIUM runbook runs when its conditions hold.
      if (!opts.dryRun && !unnamed && needsGuardrails(incident, rb)) input.guardrails = await evaluateGuardrails(rb, values);
      const { result, claim } = await store.transact((tx) => {
        // Its enrichment and guardrails were for the runbook as it was looked up: a reload since then changed what would run.
        if (catalog.byId(rb.id)?.version !== rb.version) {
          throw new RectifyError('CONFLICT', `runbook "${rb.id}" was reloaded while this run was being prepared: nothing was run; run it again`);
        }
        // The time it is written, not when the request came: audit times only go forward.
        tx.appendAudit({ at: clock.now(), event: 'MANUAL_RUN', incident_id: incidentId, runbook: rb.id, actor: opts.by, details: { params, dry_run: opts.dryRun } });
        const verdict = decide(input, tx, clock.now());
        const applied = applyVerdict(tx, incident, verdict, { now: clock.now(), actor: opts.by, trigger: 'manual', approvalTtlMs: deps.approvalTtlMs, newId: id, recordIncident: true, requestedBy: opts.by });
        rememberAskedPlan(applied.result, verdict);
        return applied;
      });
      record([result], [incident]);
      const started = startClaims(claim ? [claim] : []);
      if (opts.wait) await settle([result], started);
      return result;
    },

    /**
     * Approve: the guardrail stages run again (the world may have changed since the
     * request); the plan that runs is the plan the approver saw.
     *
     * Separation of duties: whoever asked for the run (a manual run, or an approval
     * requested on their behalf) cannot approve it. A runbook with
     * `approvals_required: 2` needs two distinct approvers: the first approval is a
     * vote (APPROVAL_VOTE, `result` null), the second carries the plan out; a second
     * vote by the same person is a conflict. `shownInSlack`: the click's answer replaces
     * the request's Slack message with what this did (the settlement, or the request with
     * the vote), so the Slack receiver is not sent that as a message of its own; `told` is
     * the notification, to tell Slack after all should that answer fail. `lockWaitMs`: the
     * longest the decision waits for a database lock held elsewhere (TransactOptions).
     */
    async approve(
      approvalId: string,
      by: string,
      comment: string | undefined,
      opts: { wait?: boolean; identity?: string; slack?: SlackClicker; shownInSlack?: boolean; lockWaitMs?: number } = {},
    ): Promise<{ approval: ApprovalRow; result: DecisionResult | null; told?: NotificationEvent; notCounted?: string }> {
      const identity = opts.identity ?? by;
      const slackId = opts.slack?.id;
      const via = slackDetails(opts.slack);
      const { approval, result, claim, stale, refused, told, notCounted } = await store.transact((tx): {
        approval: ApprovalRow;
        result: DecisionResult | null;
        claim: ExecutionClaim | undefined;
        stale?: string;
        refused?: string;
        told: Told | undefined;
        notCounted?: string;
      } => {
        const now = clock.now();
        const a = pendingOrThrow(tx, approvalId, now);
        /**
         * rectify cancels the request (not the approver who found out why it cannot run):
         * the request and its audit row both say rectify, and the row names who tried.
         * `after`: what the notification says after why and who tried.
         */
        const cancelByRectify = (why: string, after: string): Told | undefined => {
          tx.updateApproval(a.id, { status: 'cancelled', decided_at: now, decided_by: 'rectify', comment: why });
          const cancelled = announceDecided(a, 'CANCELLED', `${why}: rectify cancelled the request when ${by} tried to approve it${forAlerts(a)}, ${after}`, now);
          tx.appendAudit({
            at: now,
            event: 'CANCELLED',
            incident_id: a.incident_id,
            runbook: a.runbook,
            actor: 'rectify',
            details: withTold({ approval_id: a.id, reason: why, attempted_by: by, ...via }, cancelled),
          });
          return cancelled;
        };
        // The plan asked about must still be what the runbook says: edited (or removed) since,
        // approving it would run steps nobody wrote any more. The request ends; the alert's
        // next delivery asks again (decidedAgainOnRedelivery). An edit of its descriptive
        // keys alone (description, name…) leaves what was asked (Runbook.planVersion). A
        // request recorded before the digests were canonical is judged by those rectify took
        // then (Runbook.asWritten): an upgrade alone cancels no request.
        const rb = catalog.byId(a.runbook);
        const { runbookVersion, runbookPlanVersion } = a.plan as ExecutionPlan;
        const changed =
          runbookPlanVersion !== undefined
            ? runbookPlanVersion !== rb?.planVersion && runbookPlanVersion !== rb?.asWritten.planVersion
            : runbookVersion !== undefined && runbookVersion !== rb?.version && runbookVersion !== rb?.asWritten.version;
        if (!rb || changed) {
          const why = staleRunbookReason(a.runbook, !rb);
          const cancelled = cancelByRectify(why, 'and nothing ran; the next alert asks again with the runbook as it is now');
          return { approval: tx.getApproval(a.id)!, result: null, claim: undefined, stale: why, told: cancelled };
        }
        if (a.requested_by === by || a.requested_by === identity) {
          throw new RectifyError(
            'FORBIDDEN',
            `${by} requested this run and cannot approve it (separation of duties): another approver must, or reject it to withdraw the request`,
          );
        }
        // The people who asked for it, as decided when each asked (see ApprovalRow.asked_by);
        // a request recorded before that was kept is judged by who opened it, now.
        const askedBy = a.asked_by ?? (a.alerts === 0 || sentByPerson(a.requested_by) ? [a.requested_by] : []);
        if (askedBy.some((p) => p === by || p === identity)) {
          throw new RectifyError(
            'FORBIDDEN',
            `${by} asked for this run too (an alert sent with that token joined the request) and cannot approve it (separation of duties): another approver must`,
          );
        }
        // A Slack user no rectify name is given for (its identity is its Slack id) cannot be
        // told apart from a person who asked for the run, nor from an approver who voted
        // through the API. An alert sent by rectify's own intake or an intake-only token was
        // asked for by no person.
        const unnamed = (id: string | undefined): boolean => String(id ?? '').startsWith('slack-id:');
        // A vote cast before its voter's alert joined the request (or before a person's alert
        // joined one an unnamed Slack user voted on) no longer counts: whoever asked for the
        // run is not one of its approvers. The request then needs another approver, as if
        // that vote had not been cast; the join stands, as it was an alert's to make.
        const noLongerCounts = (v: ApprovalVote): string | undefined => {
          const slackOf = voteSlackUserId(v);
          if (askedBy.some((p) => p === v.by || p === v.identity || (slackOf !== undefined && p === slackOf))) {
            return `${v.by} asked for this run after approving it (an alert sent with that token joined the request), so that vote no longer counts`;
          }
          if (unnamed(v.identity) && askedBy.length > 0) {
            return `${v.by}, a Slack user given no rectify name, cannot be told apart from ${askedBy.join(' and ')}, who asked for this run after that vote, so it no longer counts`;
          }
          return undefined;
        };
        const discounted = a.votes.flatMap((v) => {
          const why = noLongerCounts(v);
          return why === undefined ? [] : [{ vote: v, why }];
        });
        const standing = a.votes.filter((v) => noLongerCounts(v) === undefined);
        const apiVoter = standing.find((v) => !unnamed(v.identity));
        if (slackId !== undefined && unnamed(identity) && (askedBy.length > 0 || apiVoter)) {
          const whom = askedBy.length > 0 ? `${askedBy.join(' and ')}, who asked for this run` : `${apiVoter!.by}, who has approved it`;
          throw new RectifyError(
            'FORBIDDEN',
            `${by} cannot be told apart from ${whom} (separation of duties): give the Slack user its rectify name in --slack-approvers (${slackId}=<name>), or approve through the API`,
          );
        }
        // The other way round: after a vote from a Slack user given no name, a vote through the
        // API may be the same person's. A click from another Slack account is another person.
        const slackVoter = standing.find((v) => unnamed(v.identity));
        if (slackId === undefined && slackVoter) {
          throw new RectifyError(
            'FORBIDDEN',
            `${by} cannot be told apart from ${slackVoter.by}, who has approved it from Slack with no rectify name (separation of duties): give that Slack user its name in --slack-approvers (<slack user id>=<name>), or let another Slack approver make the next vote`,
          );
        }
        // One Slack account is one person whatever name it acts under now: its name in
        // --slack-approvers may have been given, changed or corrected since its vote.
        const prior = a.votes.find((v) => v.identity === identity || v.by === by || (slackId !== undefined && voteSlackUserId(v) === slackId));
        if (prior) {
          throw new RectifyError(
            'CONFLICT',
            `${by} already approved request ${a.id}${prior.by === by ? '' : ` as ${prior.by}`} at ${new Date(prior.at).toISOString()}; it needs ${a.approvals_required} distinct approvers, so another person must approve`,
          );
        }
        // Under --dry-run (or a runbook in mode dry_run) approving would run nothing: refused
        // before anything is recorded, a first vote of two as well as the last. A vote
        // recorded now would be counted, with its audit row and its notification, towards a
        // run approved later by one more person, live, who would be told it was one vote short.
        if (deps.dryRun || rb.mode === 'dry_run') throw dryRunRefusal(a, rb);
        const votes = [...standing, { by, identity, at: now, comment: comment ?? null, ...(slackId !== undefined ? { slack_user_id: slackId } : {}) }];
        const notCounted = discounted.map((d) => d.why).join('; ');
        if (votes.length < a.approvals_required) {
          tx.updateApproval(a.id, { votes });
          // Still pending (its buttons still ask), and told: who approved, and that another approver is needed.
          const voted = announceVote(a, votes, now, opts.shownInSlack, discounted.map((d) => d.vote));
          tx.appendAudit({
            at: now,
            event: 'APPROVAL_VOTE',
            incident_id: a.incident_id,
            runbook: a.runbook,
            actor: by,
            details: withTold(
              {
                approval_id: a.id,
                comment: comment ?? null,
                votes: votes.length,
                approvals_required: a.approvals_required,
                ...(discounted.length > 0 ? { votes_not_counted: discounted.map((d) => ({ by: d.vote.by, at: new Date(d.vote.at).toISOString(), reason: d.why })) } : {}),
                ...via,
              },
              voted,
            ),
          });
          return { approval: tx.getApproval(a.id)!, result: null, claim: undefined, told: voted, ...(notCounted ? { notCounted } : {}) };
        }
        const stored = tx.getIncident(a.incident_id);
        // The guardrails again, before the request is spent: one blocking the run now (its
        // rate limit used meanwhile, a cooldown, the circuit open, the blast radius taken)
        // leaves it pending, to be approved again later, rather than approved with nothing
        // run. The window and pause stages are not among them: they hold back automatic runs
        // only, so a person's approval runs outside the window and while paused.
        const verdict = stored
          ? decide({ incident: stored.incident, values: placeholderValues(stored.incident), trigger: 'approval', runbook: rb, plan: a.plan as ExecutionPlan, dryRun: false }, tx, now)
          : undefined;
        if (verdict?.kind === 'blocked' && verdict.event === 'PARAM_REFUSED') {
          // A plan the runbook's exclusions refuse is refused at every try: rectify cancels
          // the request, as it does one whose runbook changed, rather than leave it asking.
          const why = `approving it would not run it: ${verdict.reason} (${verdict.event})`;
          const cancelled = cancelByRectify(why, 'and nothing ran');
          const refused = `approving request ${a.id} now would not run it: ${verdict.reason} (${verdict.event}); rectify cancelled the request, and nothing ran`;
          return { approval: tx.getApproval(a.id)!, result: null, claim: undefined, refused, told: cancelled };
        }
        if (verdict?.kind === 'blocked') {
          const expires = new Date(a.expires_at).toISOString();
          throw new RectifyError(
            'CONFLICT',
            `approving request ${a.id} now would not run it: ${verdict.reason} (${verdict.event}); the request stays pending (it expires at ${expires}): approve it again once that no longer holds, or reject it`,
          );
        }
        // Refused above already; kept so that a dry-run verdict can never approve with nothing run.
        if (verdict?.kind === 'dry_run') throw dryRunRefusal(a, rb);
        const approvers = votes.map((v) => v.by);
        tx.updateApproval(a.id, { status: 'approved', decided_at: now, decided_by: approvers.join(', '), comment: comment ?? null, votes });
        // Named now, so the APPROVED row (written before the run is claimed) can tell which run starts.
        const executionId = verdict?.kind === 'execute' ? id('exe') : undefined;
        const carried = !verdict
          ? `incident ${a.incident_id} is no longer stored, so nothing ran`
          : executionId !== undefined
            ? `the run starts (execution ${executionId}); its outcome is told when it ends`
            : `it did not run: ${verdict.reason}`;
        const approved = announceDecided(a, 'APPROVED', `approved by ${whoWithComments(votes)}${forAlerts(a)}: ${carried}`, now, opts.shownInSlack, executionId);
        tx.appendAudit({
          at: now,
          event: 'APPROVED',
          incident_id: a.incident_id,
          runbook: a.runbook,
          actor: by,
          details: withTold(
            {
              approval_id: a.id,
              // The run it starts: a notification told again after a restart names it from here
              // (not the row's execution_id, which would file it with the run's own rows).
              ...(executionId !== undefined ? { execution_id: executionId } : {}),
              comment: comment ?? null,
              ...(approvers.length > 1 ? { approvers } : {}),
              ...via,
              // A request an alert storm joined: the one run stands for all of them.
              ...(a.alerts > 1 ? { alerts: a.alerts, alerts_open: a.alerts_open } : {}),
            },
            approved,
          ),
        });
        if (!stored) {
          const reason = `incident ${a.incident_id} is no longer stored`;
          tx.appendAudit({ at: now, event: 'FAILED', incident_id: a.incident_id, runbook: a.runbook, actor: by, details: { reason } });
          const r: DecisionResult = { incident_id: a.incident_id, action: 'manual', runbook: a.runbook, reason, event: 'FAILED', approval_id: a.id, execution_id: null };
          return { approval: tx.getApproval(a.id)!, result: r, claim: undefined, told: approved };
        }
        const applied = applyVerdict(tx, stored.incident, verdict!, {
          now,
          actor: by,
          trigger: 'approval',
          approvalTtlMs: deps.approvalTtlMs,
          newId: id,
          recordIncident: false,
          ...(executionId !== undefined ? { executionId } : {}),
          approvalId: a.id,
        });
        applied.result.approval_id = a.id;
        if (applied.claim) tx.updateApproval(a.id, { execution_id: applied.claim.id });
        return { approval: { ...tx.getApproval(a.id)! }, result: applied.result, claim: applied.claim, told: approved };
      }, lockWait(opts.lockWaitMs));
      // The request left the pending state (approved, or cancelled as stale), or took a vote: told before anything else of it.
      send(told);
      if (stale) throw new RectifyError('CONFLICT', `${stale}: approval request ${approval.id} is cancelled, nothing ran; the next alert asks again with the runbook as it is now`);
      if (refused) throw new RectifyError('CONFLICT', refused);
      if (!result) return { approval, result: null, ...(told ? { told: told.event } : {}), ...(notCounted !== undefined ? { notCounted } : {}) };
      record([result], []);
      const started = startClaims(claim ? [claim] : []);
      if (opts.wait) await settle([result], started);
      return { approval, result, ...(told ? { told: told.event } : {}) };
    },

    /**
     * Reject. `shownInSlack`: the rejection is a Slack click whose answer replaces the
     * request's message with it, so the Slack receiver is not told it again (see
     * NotificationEvent.shown_in_slack); `told` is the notification, to tell Slack after
     * all should that answer fail. `lockWaitMs`: as for approve.
     */
    async reject(
      approvalId: string,
      by: string,
      comment: string | undefined,
      opts: { slack?: SlackClicker; shownInSlack?: boolean; lockWaitMs?: number } = {},
    ): Promise<{ approval: ApprovalRow; told?: NotificationEvent }> {
      const { approval, told } = await store.transact((tx) => {
        const now = clock.now();
        const a = pendingOrThrow(tx, approvalId, now);
        tx.updateApproval(a.id, { status: 'rejected', decided_at: now, decided_by: by, comment: comment ?? null });
        const rejected = announceDecided(a, 'REJECTED', `rejected by ${who(by, comment ?? null)}${forAlerts(a)}: nothing ran`, now, opts.shownInSlack);
        tx.appendAudit({
          at: now,
          event: 'REJECTED',
          incident_id: a.incident_id,
          runbook: a.runbook,
          actor: by,
          details: withTold({ approval_id: a.id, comment: comment ?? null, ...slackDetails(opts.slack) }, rejected),
        });
        return { approval: tx.getApproval(a.id)!, told: rejected };
      }, lockWait(opts.lockWaitMs));
      send(told);
      return { approval, ...(told ? { told: told.event } : {}) };
    },

    /** Pending approvals past their deadline become EXPIRED: not approved in time. */
    async expireApprovals(): Promise<number> {
      const expired = await store.transact((tx) => expireDue(tx, clock.now()));
      for (const e of expired) send(e.told);
      return expired.length;
    },

    /**
     * Before a read of approval requests (the list, one request, an incident's, the
     * pending gauge): expires those past their deadline that housekeeping (every 5 s) has
     * not reached yet, so no read shows pending a request that approving already refuses
     * as expired. Writes only when one is due (a read check first). A write that fails
     * (the store locked, full, shutting down) does not fail the read: it is logged, and
     * housekeeping records the expiry when it can.
     */
    async expireDueBeforeRead(): Promise<void> {
      const now = clock.now();
      if (store.read((tx) => tx.expiredApprovals(now).length) === 0) return;
      await expireDueQuietly();
    },

    /**
     * Before a metrics scrape: rectify_approvals_pending leaves out the requests past
     * their deadline at once, and their expiry is written in the background. The scrape
     * does not wait for that write: behind a lock held elsewhere it would wait out
     * --db-busy-timeout, and the scrapes would time out just while the store is in
     * trouble. A store that cannot be read leaves the gauge as it was.
     */
    expireDueForScrape(): void {
      const now = clock.now();
      let pending: number | null;
      try {
        pending = store.read((tx) => (tx.expiredApprovals(now).length === 0 ? null : tx.pendingApprovals(now).length));
      } catch (err) {
        log.warn({ err }, 'could not read the approval requests past their deadline for a metrics scrape: rectify_approvals_pending shows the stored status');
        return;
      }
      if (pending === null) return;
      metrics.approvalsPending(pending);
      void expireDueQuietly();
    },

    /**
     * The global kill switch. A resume that lifts it says how many alerts the pause held
     * off (`held`, per runbook): rectify does not decide them again (see heldByPause).
     */
    async setPaused(paused: boolean, by: string, reason?: string): Promise<{ changed: boolean; held?: HeldByPause }> {
      const changed = await store.transact((tx) => {
        const was = tx.paused();
        if (was === paused) return null;
        const now = clock.now();
        const held = paused ? undefined : heldByPause(tx.heldByPause());
        tx.setPaused(paused, by, now, reason ?? null);
        // The kill switch changes what happens to every alert from now on: the team is told who and why.
        const told = announce(
          {
            event: paused ? 'SERVICE_PAUSED' : 'SERVICE_RESUMED',
            outcome: paused ? 'paused' : 'resumed',
            reason: `${paused ? 'automatic remediation paused' : 'automatic remediation resumed'} by ${by}${reason ? `: ${reason}` : ''}${held ? heldWords(held) : ''}`,
          },
          now,
        );
        tx.appendAudit({ at: now, event: paused ? 'SERVICE_PAUSED' : 'SERVICE_RESUMED', actor: by, details: withTold({ reason: reason ?? null, ...(held ? { held_while_paused: held } : {}) }, told) });
        return { told, held };
      });
      metrics.paused(paused);
      if (changed) send(changed.told);
      return changed === null ? { changed: false } : { changed: true, ...(changed.held ? { held: changed.held } : {}) };
    },

    /**
     * One runbook's kill switch: while paused it does not run automatically (PAUSED),
     * the other runbooks go on. Audited, notified, kept across restarts.
     */
    async setRunbookPaused(runbookId: string, paused: boolean, by: string, reason?: string): Promise<{ changed: boolean; pause: RunbookPause | null; held?: HeldByPause; loaded: boolean }> {
      // A pause stays stored when a reload removes its runbook, and holds a runbook of that
      // id loaded later: it can be resumed (cleared) all the same. Only a pause needs the
      // runbook loaded; a resume of an id with neither a runbook nor a stored pause is a 404.
      const loaded = catalog.byId(runbookId) !== undefined;
      if (paused && !loaded) throw runbookNotLoaded(runbookId, catalog);
      const out = await store.transact((tx) => {
        const was = tx.runbookPaused(runbookId);
        if (!loaded && was === null) throw runbookNotLoaded(runbookId, catalog);
        if ((was !== null) === paused) return { changed: false, pause: was, told: undefined, held: undefined };
        const now = clock.now();
        // Its alerts held off since it was paused (by either switch): rectify does not decide them again.
        const held = was === null ? undefined : heldByPause(tx.heldByPause(runbookId));
        const pause = paused ? { by, reason: reason ?? null, at: now } : null;
        tx.setRunbookPaused(runbookId, pause);
        const told = announce(
          {
            event: paused ? 'RUNBOOK_PAUSED' : 'RUNBOOK_RESUMED',
            runbook: runbookId,
            outcome: paused ? 'paused' : 'resumed',
            // A pause cleared for a runbook not loaded lets nothing run now: said so, not "resumed".
            reason: loaded
              ? `automatic runs of ${runbookId} ${paused ? 'paused' : 'resumed'} by ${by}${reason ? `: ${reason}` : ''}${held ? heldWords(held) : ''}`
              : `the pause of ${runbookId} cleared by ${by}${reason ? `: ${reason}` : ''}; no runbook ${runbookId} is loaded: a runbook of that id loaded later runs automatically${held ? heldWords(held) : ''}`,
          },
          now,
        );
        tx.appendAudit({
          at: now,
          event: paused ? 'RUNBOOK_PAUSED' : 'RUNBOOK_RESUMED',
          runbook: runbookId,
          actor: by,
          // A stored pause cleared for a runbook no longer loaded (a reload removed it): said so.
          details: withTold({ reason: reason ?? null, ...(held ? { held_while_paused: held } : {}), ...(loaded ? {} : { runbook_loaded: false }) }, told),
        });
        return { changed: true, pause, told, held };
      });
      // A runbook not loaded has no series (a reload's forgetRunbook took it away): none is made again for it.
      if (catalog.byId(runbookId)) metrics.runbookPaused(runbookId, out.pause !== null);
      if (out.changed) send(out.told);
      return { changed: out.changed, pause: out.pause, ...(out.held ? { held: out.held } : {}), loaded };
    },

    /**
     * Closes a runbook's open or half-open circuit by hand (CIRCUIT_CLOSED, audited
     * with who and why, told), so its next alert is decided without waiting for the
     * breaker's trial: for a target a person has fixed, or a wait a clock set back has
     * lengthened. The failures in a row start again from 0. A trial run still under
     * way ends as any run does: its failure opens the circuit again. Any other run
     * under way started before the close, and is not counted should it fail or succeed
     * after it (startedBeforeClose). A closed circuit
     * is a 409 naming its state: nothing changes.
     */
    async closeCircuit(runbookId: string, by: string, reason: string): Promise<{ runbook: string; was: CircuitState; failures: number; opened_at: number | null; held_while_open: number }> {
      if (!catalog.byId(runbookId)) throw runbookNotLoaded(runbookId, catalog);
      const out = await store.transact((tx) => {
        const c = tx.circuit(runbookId);
        if (c.state === 'closed') {
          throw new RectifyError('CONFLICT', `the circuit of runbook ${runbookId} is closed (${c.failures} failure${c.failures === 1 ? '' : 's'} in a row): there is nothing to close`);
        }
        const now = clock.now();
        const held = tx.heldByCircuit(runbookId);
        tx.setCircuit(runbookId, { state: 'closed', failures: 0, openedAt: null, trialExecutionId: null }, now);
        const told = announce(
          { event: 'CIRCUIT_CLOSED', runbook: runbookId, outcome: 'circuit closed', reason: `the circuit of ${runbookId} was closed by hand by ${by}: ${reason}${heldOpenWords(held)}` },
          now,
        );
        tx.appendAudit({
          at: now,
          event: 'CIRCUIT_CLOSED',
          runbook: runbookId,
          actor: by,
          details: withTold(
            {
              reason,
              by_hand: true,
              was: c.state,
              failures: c.failures,
              opened_at: c.openedAt === null ? null : new Date(c.openedAt).toISOString(),
              ...(c.trialExecutionId ? { trial_execution_id: c.trialExecutionId } : {}),
              held_while_open: held,
            },
            told,
          ),
        });
        return { was: c.state, failures: c.failures, openedAt: c.openedAt, held, told };
      });
      deps.onCircuit?.(runbookId, 'closed');
      metrics.operatorReset(runbookId, 'circuit_close');
      send(out.told);
      return { runbook: runbookId, was: out.was, failures: out.failures, opened_at: out.openedAt, held_while_open: out.held };
    },

    /**
     * Ends a runbook's cooldowns by hand (COOLDOWN_CLEARED, audited with who and why,
     * told): the one on `service`, or, without it, every one in force (each service's
     * and each Kubernetes object's). What ends is the wait since the last run's start:
     * the clearing records that start, so a run started after it has its cooldown
     * again, and a run still under way still holds off the next on its service. No
     * cooldown in force to end is a 409 saying so: nothing changes.
     */
    async clearCooldown(
      runbookId: string,
      by: string,
      reason: string,
      service?: string,
    ): Promise<{ runbook: string; cleared: Array<{ kind: 'service' | 'object'; subject: string; last_started_at: number; until: number; while_running?: string }> }> {
      const rb = catalog.byId(runbookId);
      if (!rb) throw runbookNotLoaded(runbookId, catalog);
      if (rb.cooldownMs <= 0) throw new RectifyError('CONFLICT', `runbook ${runbookId} has no cooldown (cooldown_minutes: 0): there is nothing to end`);
      const out = await store.transact((tx) => {
        const now = clock.now();
        const objects = targetRunbookKey(rb.id);
        const starts = service
          ? [{ key: rb.id, kind: 'service' as const, subject: service, at: tx.lastExecutionAt(rb.id, service) }]
          : [
              ...tx.lastExecutionPerService(rb.id).map((r) => ({ key: rb.id, kind: 'service' as const, subject: r.service, at: r.at as number | null })),
              ...tx.lastExecutionPerService(objects).map((r) => ({ key: objects, kind: 'object' as const, subject: r.service, at: r.at as number | null })),
            ];
        // In force as the cooldown stage judges it (by the guard time, see guardNow).
        const guard = guardNow(now);
        const inForce = starts.flatMap((s) => (s.at === null || cooldownWaitEnd(tx, s.key, s.subject, s.at, rb.cooldownMs, guard) === null ? [] : [{ ...s, at: s.at }]));
        if (inForce.length === 0) throw nothingToClear(tx, rb, service);
        for (const c of inForce) tx.clearCooldown(c.key, c.subject, c.at);
        // `until`: when it would have ended as the cooldown stage judges it (by the guard
        // time: later than start + cooldown while the wall clock is ahead of the time passed).
        // A run still under way on a service still holds it (heldByRun): said beside what ended.
        const runs = tx.runsUnderWay(rb.id);
        const cleared = inForce.map((c) => {
          const run = c.kind === 'service' && heldByRun(tx, rb, c.subject) ? runs.get(c.subject) : undefined;
          return { kind: c.kind, subject: c.subject, last_started_at: c.at, until: guardEnd(c.at + rb.cooldownMs), ...(run === undefined ? {} : { while_running: run }) };
        });
        const what = cleared.map((c) => (c.kind === 'service' ? `service ${c.subject}` : c.subject)).join(', ');
        const told = announce(
          { event: 'COOLDOWN_CLEARED', runbook: runbookId, service: service ?? null, outcome: 'cooldown ended', reason: `the cooldown of ${runbookId} on ${what} was ended by hand by ${by}: ${reason}` },
          now,
        );
        tx.appendAudit({
          at: now,
          event: 'COOLDOWN_CLEARED',
          runbook: runbookId,
          actor: by,
          details: withTold(
            {
              reason,
              service: service ?? null,
              cleared: cleared.map((c) => ({ ...c, last_started_at: new Date(c.last_started_at).toISOString(), until: new Date(c.until).toISOString() })),
            },
            told,
          ),
        });
        return { cleared, told };
      });
      metrics.operatorReset(runbookId, 'cooldown_clear');
      send(out.told);
      return { runbook: runbookId, cleared: out.cleared };
    },

    /**
     * At startup: an execution still marked running was cut off by a crash. Its
     * state is unknown, so it becomes INTERRUPTED for a human and is never re-run.
     * One whose steps show it had failed (an action or a post-check finished failed, a rollback had
     * started) counts against its runbook's breaker, as a stop at that point
     * would have counted it: a crash loop in rollbacks must still trip the breaker.
     * One that ended without a verdict, having changed nothing (a pre-check finished
     * failed before any action started; an action refused before anything changed) is
     * no failure, as the runner's own end would have had it (withoutVerdictInSteps):
     * when it was the half-open circuit's trial, the circuit goes back to open without a
     * new wait, as the runner sends it back, and its INTERRUPTED row and notification
     * say so. One that had started no step changed nothing either: the runner records
     * each step (a pre-check's too) durably before it starts it, and nothing before the
     * first touches the target. It ends as a stop ends such a run (endBeforeFirstStep):
     * INTERRUPTED, told, worded as such and left to no one (needs_human false), no
     * failure, and a trial so cut off goes back to open without a new wait. A half-open circuit's trial cut off otherwise (in a step, a pre-check
     * too) re-opens it with a new recovery wait, as a stop does.
     * Not so in a copy of the database (Tx.databaseCopy: a restored backup, a file copied
     * while a rectify had it open): there a run under way went on in the service it was
     * copied from, after the copy was taken. One with no step recorded, or steps that do
     * not show it ended having changed nothing, is INTERRUPTED_IN_COPY (needs_human),
     * its row and notification saying where the copy came from, its trial cut off as one
     * cut off mid-step (a new wait). The mark is consumed here.
     */
    async recover(): Promise<number> {
      // What the cut-off runs started and still runs is killed first: once a run is
      // INTERRUPTED and its slot free, another may act on the same targets.
      const cutOff = deps.killLeftovers ? store.read((tx) => tx.runningExecutions().map((e) => e.id)) : [];
      const leftovers = deps.killLeftovers && cutOff.length > 0 ? await deps.killLeftovers(cutOff) : undefined;
      if (leftovers)
        for (const [id, f] of leftovers.found) deps.log.warn({ execution_id: id, killed: f.killed, still_running: f.stillRunning }, 'processes a run cut off by a crash had started still ran: killed');
      return store.transact((tx) => {
        const now = clock.now();
        // Read before anything is written: what this recovery records, it tells below.
        const toldRows = deps.notify && deps.outbox ? tx.toldSince(now - RESEND_WINDOW_MS, RESEND_EXAMINED) : [];
        const running = tx.runningExecutions();
        // A copy of another database (a restored backup, a file copied while in use): its runs
        // under way went on, or not, in the service it was copied from, after the copy was
        // taken; what they did is not known here, whatever their steps recorded by then. The
        // mark is consumed with their ends, in this transaction.
        const copy = tx.databaseCopy();
        if (copy !== null) tx.clearDatabaseCopy();
        // The worst case rectify knows of (it may have acted, and nobody knows how it
        // ended) is told like any other outcome, one by one, after the commit.
        const told: Told[] = [];
        const keep = (t: Told | undefined): void => void (t && told.push(t));
        for (const e of running) {
          const last = e.steps[e.steps.length - 1];
          // Read as the runner reads a run a stop cuts off (cutOffVerdict): one count for both.
          const verdict = cutOffVerdict(e.steps);
          const failure = verdict.count === 'failure' ? verdict.failure : undefined;
          // A pre-check failed, or an action was refused before anything changed: the run had
          // acted on nothing, and ended, had rectify lived to record it, without a breaker
          // failure. Not counted here either.
          const ended = verdict.count === 'without_verdict' ? verdict.ended : undefined;
          const detail = ended?.detail ?? 'no detail recorded';
          const left = leftovers ? leftRunning(leftovers.found.get(e.id), leftovers.complete) : undefined;
          const leftSaid = left === undefined ? '' : `; ${left}`;
          // No step recorded: it was cut off before its first, and nothing was changed (a
          // process found carrying its marker would say otherwise: none can, a marker is
          // made only once its step is recorded, but then it is not read as this).
          // Not in a copy: its steps after the copy was taken were recorded elsewhere, if at all.
          const notStarted = e.steps.length === 0 && leftovers?.found.get(e.id) === undefined && copy === null;
          // The request a person approved, when it started the run: its notifications name it, as the runner's would.
          const about = { incident_id: e.incident_id, runbook: e.runbook, service: e.service, execution_id: e.id, approval_id: approvalOfRun(tx, e) };
          const audit: RunAudit = (event, details) =>
            tx.appendAudit({ at: now, event, incident_id: e.incident_id, runbook: e.runbook, execution_id: e.id, actor: 'rectify', details });
          if (notStarted) {
            // Ended as a stop ends such a run: the one end of a run stopped before its first step.
            const end = endBeforeFirstStep(tx, { runbook: e.runbook, executionId: e.id, now }, leftSaid);
            const t = announce({ ...about, ...end.told }, now);
            keep(t);
            audit('INTERRUPTED', withTold({ ...end.row, ...(left !== undefined ? { left_running: left } : {}) }, t));
            continue;
          }
          /** What it had done: in general words for the row's reason, named for the notification and the row's own fields. */
          const nothing =
            ended === undefined
              ? undefined
              : ended.why === 'pre_check'
                ? {
                    general: 'a pre-check failed, so no action ran and nothing was changed',
                    named: `pre-check ${ended.index + 1} failed: ${detail}, so no action ran and nothing was changed`,
                    // The runner's PRE_CHECK_FAILED counts nothing, and says nothing of the breaker either.
                    fields: { pre_check_failed: `pre-check ${ended.index + 1} failed: ${detail}`, nothing_changed: true },
                  }
                : {
                    general: 'an action was refused before anything changed, so nothing was changed',
                    named: `action ${ended.index + 1} was refused before anything changed: ${detail}, so nothing was changed`,
                    // Not counted: the runner's own end would not have counted it, and its row says so.
                    fields: {
                      refused: `action ${ended.index + 1} was refused before anything changed: ${detail}`,
                      nothing_changed: true,
                      circuit: ended.why === 'rule' ? NOT_COUNTED_REFUSED : NOT_COUNTED_NOT_NOW,
                    },
                  };
          // Nothing about its target is unknown: the trial ends as the runner ends it (no new
          // wait), not as one cut off mid-step (reopenAfterCutOffTrial, below).
          const trialEnded = ended !== undefined && endTrialWithoutVerdict(tx, { runbook: e.runbook, executionId: e.id, now });
          // In a copy, a run that had not ended without a verdict is of unknown outcome however far it had got (its first step too).
          const inCopy = copy !== null && nothing === undefined;
          const outcome = inCopy ? INTERRUPTED_IN_COPY : RECOVERED_OUTCOME;
          tx.updateExecution(e.id, { state: 'interrupted', finished_at: now, success: false, rolled_back: false, outcome });
          tx.releaseBlastRadius(e.id);
          /** The breaker's CIRCUIT_TRIPPED row, recording its notification. */
          const breakerAudit =
            (reason: string): RunAudit =>
            (event, details) => {
              const t = event === 'CIRCUIT_TRIPPED' ? announce({ ...about, event, outcome: 'circuit open', reason }, now) : undefined;
              keep(t);
              audit(event, withTold(details, t));
            };
          const interrupted = announce(
            {
              ...about,
              event: 'INTERRUPTED',
              outcome: 'interrupted',
              // The execution view's verdict on the row just written: it had started a step, so true.
              needs_human: executionNeedsHuman({ state: 'interrupted', outcome, steps: e.steps }, false),
              reason: nothing
                ? `rectify stopped before this execution recorded its end; ${nothing.named}, and it will not be re-run${trialEnded ? `; ${TRIAL_ENDED_WITHOUT_VERDICT}` : ''}${leftSaid}: a person must check`
                : inCopy
                  ? `${inCopyReason(copy)} (${last ? `last step recorded: ${last.phase} ${last.index + 1}, ${last.summary}, ${last.finished_at === null ? 'not finished' : 'finished'}` : 'no step recorded yet'}); it will not be re-run${leftSaid}: a person must check`
                  : `rectify stopped while this execution ran${last ? ` (last step: ${last.phase} ${last.index + 1}, ${last.summary}, ${last.finished_at === null ? 'not finished' : 'finished'})` : ''}; its outcome is unknown and it will not be re-run${leftSaid}: a person must check`,
            },
            now,
          );
          keep(interrupted);
          audit(
            'INTERRUPTED',
            withTold(
              {
                reason: nothing
                  ? `rectify stopped before this execution recorded its end; ${nothing.general}, and it will not be re-run: a human must check${leftSaid}`
                  : inCopy
                    ? `${inCopyReason(copy)}; it will not be re-run: a human must check${leftSaid}`
                    : `rectify stopped while this execution ran; its outcome is unknown and it will not be re-run: a human must check${leftSaid}`,
                // Where the copy came from, as its mark said.
                ...(copy !== null ? { database_copy: copy } : {}),
                last_step: last ? { phase: last.phase, index: last.index, summary: last.summary, finished: last.finished_at !== null } : null,
                // The run had failed: counted by the breaker below, as a stop at this point would have
                // (unless it started before the circuit last closed: not counted, and said).
                ...(failure !== undefined ? { failure } : {}),
                ...(failure !== undefined && startedBeforeClose(tx, { runbook: e.runbook, executionId: e.id }) ? { circuit: NOT_COUNTED_BEFORE_CLOSE } : {}),
                // It had acted on nothing: not counted.
                ...(nothing ? nothing.fields : {}),
                ...(trialEnded ? { circuit_trial: TRIAL_ENDED_WITHOUT_VERDICT } : {}),
                ...(left !== undefined ? { left_running: left } : {}),
              },
              interrupted,
            ),
          );
          if (failure !== undefined) {
            countFailure(tx, { runbook: e.runbook, executionId: e.id, circuitTrial: e.circuit_trial, threshold: deps.circuitFailureThreshold, now, audit: breakerAudit(trippedReason(e.runbook)) });
          } else if (ended === undefined) {
            reopenAfterCutOffTrial(tx, { runbook: e.runbook, executionId: e.id, now, audit: breakerAudit(reopenedReason(e.runbook)) });
          }
        }
        // A claim whose run is not running held slots, and its service's cooldown, for a run
        // that is over: released, and said (no path is known to leave one).
        const orphaned = tx.releaseOrphanedClaims();
        const expired = expireDue(tx, now);
        // A request whose notification never reached a receiver (rectify stopped, or crashed,
        // with it still queued in memory) is told again to it: unseen, nobody approves it.
        // One receiver having it does not do for another (a Slack channel with the buttons).
        const untold = deps.notify ? tx.pendingApprovals(now).flatMap((a) => untoldRequest(tx, a, tx.notifiedReceivers(a.incident_id, 'APPROVAL_REQUIRED', approvalRequestNotificationId(a.id)))) : [];
        // Events told one by one before the stop whose delivery to a receiver was never
        // recorded: told again to it, except the runs just recovered (told above), and the
        // votes on requests no longer pending (settled: the vote no longer holds).
        const settledApproval = (id: string) => tx.getApproval(id)?.status !== 'pending';
        const resends = deps.outbox ? planResends(toldRows, deps.outbox.receivers, new Set(running.map((e) => e.id)), { settledApproval }) : undefined;
        if (resends) recordGivenUp(tx, resends, now);
        // A receiver still failing when rectify stopped is shown failing from the start, not
        // only after its next attempt fails: read from what the outbox keeps (failingAtStart).
        const failing = resends
          ? failingAtStart(
              [...toldRows.map((r) => r.deliveries), ...untold.map((u) => tx.deliveries(approvalRequestNotificationId(u.a.id)))],
              new Set([...resends.resend.flatMap((r) => r.to), ...resends.left.keys(), ...untold.flatMap((u) => u.to ?? [])]),
              deps.outbox!.receivers,
            )
          : [];
        return { interrupted: running, told, expired, untold, resends, now, orphaned, failing };
      }).then(({ interrupted, told, expired, untold, resends, now, orphaned, failing }) => {
        for (const r of failing) metrics.notifyReceiverFailing(r, true);
        for (const c of orphaned)
          deps.log.warn({ execution_id: c.execution_id, runbook: c.runbook, service: c.service }, 'a blast-radius claim outlived its run (the run is not running): released');
        // Counted as the runner counts one a stop cuts off: a crash's INTERRUPTED runs are
        // the ones a human must check, and the process that ran them never counted them.
        for (const e of interrupted) metrics.executionFinished(e.runbook, 'interrupted', Math.max(0, now - e.started_at) / 1000);
        if (resends) resendUntold(resends);
        for (const t of told) send(t);
        for (const e of expired) send(e.told);
        tellAgain(untold);
        return interrupted.length;
      });
    },
  };

  /**
   * What startup recovery says of the processes a cut-off run had started: those still
   * running were killed (how many), or the search ran out of time; undefined when none ran.
   */
  function leftRunning(found: LeftoverProcesses | undefined, complete: boolean): string | undefined {
    const unfinished = complete ? undefined : 'the search for processes its steps started ran out of time: some may still run';
    if (found === undefined) return unfinished;
    const n = `${found.killed} process${found.killed === 1 ? '' : 'es'}`;
    const said =
      found.stillRunning === 0
        ? `its command was still running and was killed (${n}, SIGKILL)`
        : `its command was still running: ${n} killed with SIGKILL, ${found.stillRunning} still running after it`;
    return unfinished === undefined ? said : `${said}; ${unfinished}`;
  }

  /**
   * The notifications past the bound that the summary (resendUntold) tells a receiver
   * are not sent again: each is given up for it in a NOTIFY_FAILED row under its
   * notification_id, which settles it as a retry given up does, so no later start tells
   * it after all. One row per notification and receiver, at most the rows examined.
   */
  function recordGivenUp(tx: Tx, plan: ResendPlan, now: number): void {
    for (const g of plan.givenUp) {
      for (const notifier of g.to) {
        tx.appendAudit({
          at: now,
          event: 'NOTIFY_FAILED',
          incident_id: g.incident_id,
          runbook: g.runbook,
          execution_id: g.execution_id,
          actor: 'rectify',
          details: { notifier, about: g.event, attempts: 0, detail: NOT_SENT_AGAIN, notification_id: g.notification_id },
        });
      }
    }
  }

  /**
   * Notifications of events told one by one that a receiver has no record of (a crash
   * lost them, or a stop cut them off), told again to it as they were first told, with
   * the same notification_id (see resend.ts). Past the bound, each receiver is told
   * once how many more it never got.
   */
  function resendUntold(plan: ResendPlan): void {
    if (plan.truncated) {
      log.warn({ examined: RESEND_EXAMINED }, 'notifications before the restart: only the newest rows of the last 24 hours were examined for deliveries never recorded');
    }
    if (plan.left.size > 0) {
      const since = new Date(plan.leftSince!).toISOString();
      log.warn({ left: Object.fromEntries(plan.left), since }, `notifications never delivered before the restart: more than ${RESEND_MAX}, the older ones are not sent again`);
      for (const [receiver, n] of plan.left) {
        deps.outbox!.resend(
          {
            ...notice(
              {
                event: 'NOTIFY_FAILED',
                outcome: 'not sent again',
                reason: `${n} notification(s) of events from ${since} on never reached this receiver before rectify stopped and are not sent again (only the newest ${RESEND_MAX} are): read them in the audit log (GET /api/v1/audit?since=${since})`,
              },
              clock.now(),
            ),
            repeated: n,
            notification_id: newId('ntf'),
          },
          [receiver],
        );
      }
    }
    for (const v of plan.settledVotes) log.info({ notification_id: v.notification_id, approval_id: v.approval_id, receivers: v.to }, 'approval vote not told again: its approval is settled');
    if (plan.resend.length === 0) return;
    log.warn({ notifications: plan.resend.length }, 'notifications with no recorded delivery to a receiver are told to it again');
    for (const r of plan.resend) deps.outbox!.resend(r.event, r.to, r.rounds);
  }

  /** A pending request told again after a restart: to whom (null: every receiver), and the rounds it spent on each. */
  interface Untold {
    a: ApprovalRow;
    to: readonly string[] | null;
    rounds?: ReadonlyMap<string, RoundsSpent>;
  }

  /**
   * A pending request and the receivers it is told again to: each configured now with no
   * NOTIFIED row for it (a row written before receiver names carried the hash of the URL
   * counts for the receiver of its kind and host). Without receiver names (no outbox),
   * to every receiver when none had it.
   */
  function untoldRequest(tx: Tx, a: ApprovalRow, notified: string[]): Untold[] {
    if (!deps.outbox) return notified.length === 0 ? [{ a, to: null }] : [];
    const had = new Set(notified);
    const to = deps.outbox.receivers.filter((r) => !names(had, r));
    if (to.length === 0) return [];
    // The rounds its deliveries to each spent before: the count goes on (see notify/queue.ts resume).
    const deliveries = tx.deliveries(approvalRequestNotificationId(a.id));
    return [{ a, to, rounds: new Map(to.map((r) => [r, roundsSpent(deliveries, r)])) }];
  }

  /**
   * Approval requests told again after a restart to the receivers that lack them, as they
   * were first told (owner, plan, and `at`: when it was asked), the reason saying so, with the notification_id of
   * the first telling. The first delivery may have landed unrecorded (a crash between the
   * answer and its NOTIFIED row): a receiver drops the repeat by that id (its Idempotency-Key).
   */
  function tellAgain(requests: Untold[]): void {
    if (requests.length === 0) return;
    log.warn({ approvals: requests.map(({ a }) => a.id) }, 'approval requests with no recorded delivery are told again');
    for (const { a, to, rounds } of requests) {
      const owner = catalog.byId(a.runbook)?.owner;
      const event = {
        event: 'APPROVAL_REQUIRED',
        incident_id: a.incident_id,
        runbook: a.runbook,
        service: a.service,
        execution_id: null,
        approval_id: a.id,
        outcome: 'approval_required',
        reason: `${a.reason}${forAlerts(a)} (sent again after a restart: no delivery of this request was recorded before rectify stopped)`,
        // When it was asked, as first told: one coming in a later round says it is late from then.
        at: a.requested_at,
        ...(owner ? { owner } : {}),
        plan: notificationPlan(a.plan as ExecutionPlan),
        notification_id: approvalRequestNotificationId(a.id),
      } satisfies NotificationEvent;
      if (to && deps.outbox) deps.outbox.resend(event, to, rounds);
      else deps.notify?.(event);
    }
  }

  /** A notification about something other than one decision: the fields it does not concern are null. */
  function notice(
    e: Pick<NotificationEvent, 'event' | 'outcome' | 'reason'> &
      Partial<Pick<NotificationEvent, 'incident_id' | 'runbook' | 'service' | 'approval_id' | 'execution_id' | 'notification_id' | 'shown_in_slack' | 'needs_human'>>,
    at: number,
  ): NotificationEvent {
    return { incident_id: null, runbook: null, service: null, execution_id: null, approval_id: null, ...e, at };
  }

  /**
   * The notification of an event told one by one, announced inside the transaction
   * that audits the event, so the row records it (withTold) and a restart can tell it
   * again (the audit log is the outbox: notify/outbox.ts). Sent after the commit
   * (send); undefined when nobody is told.
   */
  function announce(e: Parameters<typeof notice>[0], at: number): Told | undefined {
    if (!deps.notify) return undefined;
    return deps.outbox ? deps.outbox.announce(notice(e, at)) : { event: notice(e, at) };
  }

  function send(t: Told | undefined): void {
    if (t) deps.notify?.(t.event);
  }

  /**
   * The notification of a request leaving the pending state, however it leaves it
   * (APPROVED, REJECTED, EXPIRED, CANCELLED), announced in the transaction that decides
   * it: its audit row records it, and it is sent after the commit, one by one. A
   * receiver that showed the request (a Slack message with buttons) learns it is settled.
   * A vote before the last is told on its own (announceVote). `executionId`: the run an
   * approval starts (its outcome's notification names the request back).
   */
  function announceDecided(
    a: ApprovalRow,
    event: 'APPROVED' | 'REJECTED' | 'EXPIRED' | 'CANCELLED',
    reason: string,
    now: number,
    shownInSlack = false,
    executionId?: string,
  ): Told | undefined {
    return announce(
      {
        event,
        incident_id: a.incident_id,
        runbook: a.runbook,
        service: a.service,
        approval_id: a.id,
        execution_id: executionId ?? null,
        outcome: event.toLowerCase(),
        reason,
        ...(shownInSlack ? { shown_in_slack: true } : {}),
      },
      now,
    );
  }

  /**
   * The notification of a vote on a request that needs more than one approver, the
   * last one's excepted (that one approves it: APPROVED): who approved, and how many
   * more approvers it needs. One per vote, its id made from the request's and the
   * vote's number (approvalVoteNotificationId); recorded in the APPROVAL_VOTE row like
   * a settlement, so a restart tells it again to a receiver that lacks it. The request
   * itself is not told again: it stays pending, and a Slack message of it keeps its buttons.
   * `shownInSlack`: the vote is a Slack click whose answer replaces the request's message
   * with the request as it stands now (who approved, the buttons still there), so the
   * Slack receiver is owed it but not sent it as a message of its own, as for a
   * settlement (announceDecided).
   */
  function announceVote(
    a: ApprovalRow,
    votes: ReadonlyArray<{ by: string; comment: string | null }>,
    now: number,
    shownInSlack = false,
    notCounted: ReadonlyArray<ApprovalVote> = [],
  ): Told | undefined {
    const left = a.approvals_required - votes.length;
    const needed = left === 1 ? 'one more approver is needed' : `${left} more approvers are needed`;
    const dropped = notCounted.length > 0 ? ` (the vote of ${notCounted.map((v) => v.by).join(' and ')} no longer counts: that voter asked for this run after approving it, or cannot be told apart from who did)` : '';
    const reason = `approved by ${whoWithComments(votes)}, ${votes.length} of ${a.approvals_required} approvals${forAlerts(a)}${dropped}: ${needed} before it runs; the request stays pending until then (it expires at ${new Date(a.expires_at).toISOString()})`;
    return announce(
      {
        event: 'APPROVAL_VOTE',
        incident_id: a.incident_id,
        runbook: a.runbook,
        service: a.service,
        approval_id: a.id,
        outcome: 'pending',
        reason,
        notification_id: approvalVoteNotificationId(a.id, votes.length, notCounted.map((v) => v.identity)),
        ...(shownInSlack ? { shown_in_slack: true } : {}),
      },
      now,
    );
  }

  /** ", asked for by N alerts (M not resolved)" for a request an alert storm joined; nothing for one alert's. */
  function forAlerts(a: ApprovalRow): string {
    return a.alerts > 1 ? `, asked for by ${a.alerts} alerts (${a.alerts_open} not resolved)` : '';
  }

  function pendingOrThrow(tx: Tx, approvalId: string, now: number): ApprovalRow {
    const a = tx.getApproval(approvalId);
    if (!a) throw new RectifyError('NOT_FOUND', `no approval request "${approvalId}"`);
    if (a.status === 'pending' && a.expires_at <= now) {
      // Refused as expired; housekeeping records the expiry (EXPIRED) and tells the team,
      // a write here would be rolled back with this refusal.
      throw new RectifyError('CONFLICT', `approval request ${a.id} expired at ${new Date(a.expires_at).toISOString()}; trigger a new run if the fix is still needed`);
    }
    if (a.status !== 'pending') {
      throw new RectifyError('CONFLICT', `approval request ${a.id} is already ${a.status}${a.decided_by ? ` by ${a.decided_by}` : ''}`);
    }
    return a;
  }

  /** Pending requests past their deadline become EXPIRED, each with the notification telling it (like the request was: nothing ran). */
  function expireDue(tx: Tx, now: number): Array<{ approval: ApprovalRow; told: Told | undefined }> {
    return tx.expiredApprovals(now).map((a) => ({ approval: a, told: expireOne(tx, a, now) }));
  }

  /**
   * A pending request past its deadline becomes EXPIRED (by rectify), with the notification
   * telling it: housekeeping's expiry (expireDue), and a resolve's of the requests its alert
   * is in that housekeeping has not reached yet (applyResolved).
   */
  function expireOne(tx: Tx, a: ApprovalRow, now: number): Told | undefined {
    tx.updateApproval(a.id, { status: 'expired', decided_at: now, decided_by: 'rectify' });
    // A request that needs more than one approver may expire with votes short of them:
    // said so (who approved), not "nobody approved", which those who voted would read as lost.
    const voted = a.votes.length === 0 ? 'nobody approved' : `${a.votes.length} of ${a.approvals_required} approvals (${a.votes.map((v) => v.by).join(', ')})`;
    const expired = a.votes.length === 0 ? '' : '; the request expired';
    const told = announceDecided(
      a,
      'EXPIRED',
      `${voted} before the deadline (${new Date(a.expires_at).toISOString()})${expired}${forAlerts(a)}: nothing ran; trigger a new run if the fix is still needed`,
      now,
    );
    tx.appendAudit({
      at: now,
      event: 'EXPIRED',
      incident_id: a.incident_id,
      runbook: a.runbook,
      actor: 'rectify',
      details: withTold({ approval_id: a.id, reason: `${voted} before the deadline${expired}${forAlerts(a)}`, alerts: a.alerts, alerts_open: a.alerts_open }, told),
    });
    return told;
  }
}

export type Engine = ReturnType<typeof createEngine>;

/** A notification announced before its event's audit row was written (see `announce` in createEngine). */
interface Told {
  event: NotificationEvent;
  /** What the row records of it: absent when no outbox records it. */
  details?: ToldDetails;
}

/** The alerts a kill switch held off while it was on, as a resume tells them (see Tx.heldByPause). */
export interface HeldByPause {
  alerts: number;
  runbooks: Array<{ runbook: string; alerts: number }>;
}

function heldByPause(rows: Array<{ runbook: string; alerts: number }>): HeldByPause {
  return { alerts: rows.reduce((n, r) => n + r.alerts, 0), runbooks: rows };
}

/**
 * What a resume's notification says of the alerts its pause held off. A re-delivery of
 * one is answered `duplicate` (its occurrence was decided, PAUSED): rectify does not
 * decide it again, so a person must act on those still firing.
 */
function heldWords(held: HeldByPause): string {
  if (held.alerts === 0) return '';
  const per = held.runbooks.map((r) => `${r.runbook}: ${r.alerts}`).join(', ');
  return `; ${held.alerts} alert${held.alerts === 1 ? ' was' : 's were'} held off while paused (${per}): rectify does not decide them again (a re-delivery is a duplicate), so act by hand on those still firing`;
}

/**
 * What a circuit's closing says of the alerts its breaker held off (see Tx.heldByCircuit):
 * as after a pause, rectify does not decide them again, so a person must act on those still firing.
 */
function heldOpenWords(held: number): string {
  if (held === 0) return '';
  return `; ${held} alert${held === 1 ? ' was' : 's were'} held off while the circuit was open: rectify does not decide them again (a re-delivery is a duplicate), so act by hand on those still firing`;
}

/** An audit row's details, with what it records of its notification. */
/**
 * Approving under --dry-run (or a runbook in mode dry_run) runs nothing: approved, the
 * request was spent with nothing run, and once rectify ran live the still-firing alert's
 * re-delivery was a duplicate, so nothing ever ran. Like a guardrail block, it leaves the
 * request pending, to be approved live.
 */
function dryRunRefusal(a: Pick<ApprovalRow, 'id' | 'expires_at'>, rb: Pick<Runbook, 'id' | 'mode'>): RectifyError {
  const expires = new Date(a.expires_at).toISOString();
  const why = rb.mode === 'dry_run' ? `runbook ${rb.id} is in mode dry_run` : 'rectify runs with --dry-run';
  return new RectifyError(
    'CONFLICT',
    `approving request ${a.id} now would run nothing: ${why}; the request stays pending (it expires at ${expires}): approve it once rectify runs it for real, or reject it`,
  );
}

function withTold(details: Record<string, unknown>, told: Told | undefined): Record<string, unknown> {
  return told?.details ? { ...details, ...told.details } : details;
}

/** `alice ("looks right")`: who decided, with their comment when they gave one. */
function who(by: string, comment: string | null): string {
  return comment ? `${by} ("${comment}")` : by;
}

/** Every approver of a request in the order they voted, with their comments: `bob and alice ("go")`. */
function whoWithComments(votes: ReadonlyArray<{ by: string; comment: string | null }>): string {
  const names = votes.map((v) => who(v.by, v.comment));
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]!}`;
}

/**
 * A clearing with no wait in force to end (409). A run still under way holds the cooldown
 * on its service past its time and past a clearing, as the cooldown stage judges it
 * (heldByRun), and the runbook view lists it (`while_running`): the refusal says so,
 * naming the run, rather than "nothing to end" beside a view and a block that say a
 * cooldown holds.
 */
function nothingToClear(tx: Tx, rb: Runbook, service: string | undefined): RectifyError {
  const runs = tx.runsUnderWay(rb.id);
  const why = "a clear does not end a run's hold; it ends when the run does";
  if (service !== undefined) {
    const run = heldByRun(tx, rb, service) ? runs.get(service) : undefined;
    return new RectifyError(
      'CONFLICT',
      run === undefined
        ? `runbook ${rb.id} has no cooldown in force on service ${service}: there is nothing to end`
        : `runbook ${rb.id} has no cooldown on service ${service} that a clear can end: the last run of ${rb.id} on ${service} (${run}) is still running, and ${why}`,
    );
  }
  const held = [...runs].filter(([s]) => heldByRun(tx, rb, s));
  if (held.length === 0) return new RectifyError('CONFLICT', `runbook ${rb.id} has no cooldown in force: there is nothing to end`);
  const named = held.slice(0, 5).map(([s, run]) => `${s}: ${run}`).join(', ');
  const more = held.length > 5 ? ` and ${held.length - 5} more` : '';
  return new RectifyError('CONFLICT', `runbook ${rb.id} has no cooldown in force that a clear can end: its runs still under way hold off the next on their services (${named}${more}), and ${why}`);
}

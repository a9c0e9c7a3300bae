/**
 * A runbook compiled at load time: every template parsed, every matcher compiled,
 * every duration in milliseconds. Nothing here is re-parsed per alert.
 */
export const RISKS = ['LOW', 'MEDIUM', 'HIGH'] as const;
export type Risk = (typeof RISKS)[number];

/**
 * Where a placeholder's value goes decides what it may contain. A label value
 * that fills a Kubernetes name must be a Kubernetes name; one that fills a URL must
 * be one path segment; one that becomes an argv element must not look like an option.
 */
export const PARAM_KINDS = ['k8s_name', 'k8s_label', 'integer', 'url_segment', 'url_query', 'argv', 'label_value', 'header', 'text'] as const;
export type ParamKind = (typeof PARAM_KINDS)[number];

export interface Placeholder {
  param: string;
  kind: ParamKind;
  /**
   * How the checked value is written, where the text around it gives characters a meaning:
   * in a PromQL `=~` / `!~` matcher the value is a literal, so regex metacharacters (a
   * label value's `.`) are escaped, the backslash doubled for a "…" or '…' string
   * (`promql_regex`: `a.i` becomes `a\\.i`) and not for a `…` raw one (`promql_regex_raw`: `a\.i`).
   * Absent: written as it is.
   */
  escape?: PlaceholderEscape;
}
export type PlaceholderEscape = 'promql_regex' | 'promql_regex_raw';
export type TemplatePart = string | Placeholder;

export interface Template {
  /** The text as written in the runbook, for messages and the audit log. */
  source: string;
  parts: TemplatePart[];
  /** URL templates: the origin fixed by the runbook, computed once at load (rendering checks it is kept). */
  origin?: string;
}

export const KUBE_VERBS = [
  'evict_pod',
  'delete_pod',
  'scale',
  'rollout_restart',
  'rollout_undo',
  'cordon',
  'uncordon',
  'drain',
] as const;
export type KubeVerb = (typeof KUBE_VERBS)[number];

/** The kinds of object a Kubernetes action or check names. */
export type KubeKind = 'pod' | 'deployment' | 'statefulset' | 'node';

export interface KubernetesActionSpec {
  type: 'kubernetes';
  /** The text as written (kubectl string) or a summary of the block. */
  source: string;
  verb: KubeVerb;
  kind: KubeKind;
  name: Template;
  namespace: Template | null;
  /** Verb arguments: `replicas` for scale, `to_revision` for undo, `timeout_seconds` for drain. */
  args: Record<string, Template>;
  timeoutMs: number;
}

export interface HttpActionSpec {
  type: 'http';
  source: string;
  method: string;
  url: Template;
  headers: Record<string, Template>;
  /** JSON body; strings inside it are templates. */
  body: unknown;
  expectStatus: [number, number];
  timeoutMs: number;
}

/**
 * The variable that marks every process a `command:` step started (execute/actions/command.ts),
 * by which the step's end and startup recovery after a crash find them; a runbook whose
 * argv clears it (sudo, env -i) is warned about (runbooks/argv-programs.ts).
 */
export const STEP_MARKER_VAR = 'RECTIFY_STEP_ID';

export interface CommandActionSpec {
  type: 'command';
  source: string;
  argv: Template[];
  timeoutMs: number;
}

export type ActionSpec = KubernetesActionSpec | HttpActionSpec | CommandActionSpec;
export type ActionType = ActionSpec['type'];

/**
 * In a post-check: what a failure that could not measure means (no data, NaN, a query
 * error, no answer, the cluster API erring or silent). `fail` (default): a failed check
 * like any other, the rollback runs; `needs_human`: the run fails without its rollback
 * and a person is asked to check.
 */
export type OnNoData = 'fail' | 'needs_human';

export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
export interface Expectation {
  op: CompareOp;
  value: number;
}

export interface NamedCheckSpec {
  type: 'named';
  name: string;
  params: Record<string, unknown>;
  timeoutMs: number;
  intervalMs: number;
  /** In a post-check: see OnNoData. */
  onNoData?: OnNoData;
}
export interface PromqlCheckSpec {
  type: 'promql';
  query: Template;
  expect: Expectation;
  /** The condition must hold on consecutive polls for this long. */
  forMs: number;
  timeoutMs: number;
  intervalMs: number;
  /** What an empty result vector means. Default: fail (no data is not good news). */
  onEmpty: 'fail' | 'pass';
  /** In a post-check: see OnNoData. */
  onNoData?: OnNoData;
}
export interface HttpCheckSpec {
  type: 'http';
  method: string;
  url: Template;
  headers: Record<string, Template>;
  expectStatus: [number, number];
  timeoutMs: number;
  intervalMs: number;
}
export interface KubernetesCheckSpec {
  type: 'kubernetes';
  condition: string;
  kind: KubeKind;
  name: Template;
  namespace: Template | null;
  params: Record<string, unknown>;
  timeoutMs: number;
  intervalMs: number;
  /** In a post-check: see OnNoData; here a failure to read the cluster (the API erring, refusing (403) or silent on the last try). */
  onNoData?: OnNoData;
}
/**
 * How long one guardrail check of a MEDIUM runbook may run. Guardrails are checked
 * before the decision, while Alertmanager's webhook waits for its answer, so each is
 * cut off after this long. The runbook loader refuses a guardrail whose
 * `timeout_seconds`, or `for_seconds` plus one interval, cannot fit: such a
 * condition could never be seen to hold, and every run would go to a person.
 */
export const GUARDRAIL_BUDGET_MS = 15_000;

/**
 * The range window of the default queries of `metrics_improved` and
 * `error_rate_normalized` (checks/named.ts): a rate over the last 5 minutes. After a
 * fix, such a rate still holds what came before the fix until the window has passed.
 */
export const NAMED_QUERY_WINDOW = { promql: '5m', seconds: 300 } as const;
/**
 * How long past that window such a check, written without `timeout_seconds`, goes on
 * polling: for a scrape or two after the window holds only what came after the fix.
 */
export const NAMED_QUERY_WINDOW_MARGIN_MS = 60_000;
/**
 * What a guardrail's last attempt keeps for itself at the end of the budget. A check
 * makes its last attempt at its timeout; a guardrail's must also end within the
 * budget, so its timeout is cut to the budget less this, or less one interval when
 * that is shorter (so a `for_seconds` hold the loader accepts, one interval inside
 * the budget, can still be seen).
 */
export const GUARDRAIL_LAST_ATTEMPT_MS = 1_000;

/** What the two cuts below read of a check, written or rendered. */
interface CheckTiming {
  type: string;
  timeoutMs: number;
  intervalMs: number;
  forMs?: number;
}

/**
 * The timeout a MEDIUM runbook's guardrail is run with: its own, or the budget less
 * its last attempt (a second, or one interval when shorter), whichever is shorter.
 */
export function guardrailTimeoutMs(check: CheckTiming): number {
  return Math.min(check.timeoutMs, GUARDRAIL_BUDGET_MS - Math.min(GUARDRAIL_LAST_ATTEMPT_MS, check.intervalMs));
}

/**
 * The timeout a pre-check is run with. A pre-check is a gate on the present: one
 * evaluation (plus its `for` duration), not a long poll, so its timeout is cut to that
 * plus one interval (at most 10 s) plus 5 s.
 */
export function preCheckTimeoutMs(check: CheckTiming): number {
  const forMs = check.type === 'promql' ? (check.forMs ?? 0) : 0;
  return Math.min(check.timeoutMs, forMs + Math.min(check.intervalMs, 10_000) + 5_000);
}

export type CheckSpec = NamedCheckSpec | PromqlCheckSpec | HttpCheckSpec | KubernetesCheckSpec;
export type CheckType = CheckSpec['type'];

export interface Matcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
  /** Anchored, as Alertmanager anchors its regex matchers; RE2 semantics, linear in the value's length. */
  re?: { test(value: string): boolean };
}

/** Whether `m` holds on a label's value (a missing label is the empty string, as in Alertmanager). */
export function matcherHoldsOn(m: Matcher, value: string): boolean {
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return m.re !== undefined && m.re.test(value);
    case '!~':
      return m.re !== undefined && !m.re.test(value);
  }
}

/** A matcher as a runbook writes it: `namespace!~"kube-system|kube-public"`. */
export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}

/** A time window when a runbook may act on its own; days 0 = Sunday. */
export interface TimeWindow {
  days: number[];
  /** The days as the runbook names them (`mon–fri`, `sat, sun`, `every day`), for the reasons people read. */
  daysText: string;
  startMinute: number;
  endMinute: number;
  timezone: string;
}

export interface Runbook {
  id: string;
  file: string;
  /** The line of its id in `file`, when known: where a problem with the runbook as a whole (a duplicate id) is named. Not part of what it means. */
  line?: number;
  description: string;
  risk: Risk;
  triggers: string[];
  matchers: Matcher[];
  minConfidence: number;
  maxPerHour: number;
  cooldownMs: number;
  blastRadiusLimit: number;
  mode: 'auto' | 'dry_run';
  windows: TimeWindow[];
  /**
   * `outside_windows: approval`: an alert outside `windows` asks a person (APPROVAL_REQUIRED)
   * instead of being blocked (OUTSIDE_WINDOW). Absent: blocked, the default (`block`), which
   * leaves the runbook's planVersion as it was before this field.
   */
  outsideWindows?: 'approval';
  /** MEDIUM risk: conditions that must all hold for AUTO, else APPROVAL. */
  guardrails: CheckSpec[];
  preChecks: CheckSpec[];
  actions: ActionSpec[];
  postChecks: CheckSpec[];
  /** null: no rollback (the seed's `rollback: null`, self-healing). */
  rollback: ActionSpec[] | null;
  rollbackReason?: string;
  approvalsRequired: number;
  /** Kubernetes blast radius: the share of a workload's replicas one run may disrupt ("25%" or "1"). */
  maxUnavailable: string | null;
  /** `kubectl delete pod` evicts (respecting PodDisruptionBudgets) unless this is set. */
  forceDelete: boolean;
  owner?: string;
  /** Every placeholder the runbook uses, for lint and the API. */
  params: string[];
  /**
   * Values the runbook expects from the incident's context or a manual run's
   * params (`params:` in the file), with what each means. Lint counts them as a
   * source for placeholders; rendering still refuses a run that lacks one.
   */
  declaredParams: Record<string, string>;
  /** Executor kinds its actions and checks need. */
  needs: Array<'kubernetes' | 'http' | 'command' | 'prometheus'>;
  /** Fields kept as written, for the API and audit. */
  raw: Record<string, unknown>;
  /**
   * A digest of what the runbook means (planVersion's) and of its descriptive keys: a
   * reload tells a changed runbook by it. Canonical: keys in another order, or a value
   * spelt another way that loads the same (`risk: high`), are no change.
   */
  version: string;
  /**
   * A digest of what the runbook means, as compiled, less its descriptive keys (name,
   * description, verification, last_updated, success_rate): what it runs (actions,
   * checks, rollback), how it is decided (risk, mode, matchers, guardrails, limits) and
   * who approves it. An approval request records it, and is cancelled when approved once
   * it differs. Canonical, as `version`.
   */
  planVersion: string;
  /**
   * The two digests as rectify took them before they were canonical: of the map as
   * written, its key order and spelling included. A request recorded by such a rectify
   * (pending across an upgrade) is compared with these, and joined by an alert asking
   * for its plan, as long as the runbook is written as it was then.
   */
  asWritten: { version: string; planVersion: string };
}

/**
 * How long a forward step of the wall clock must hold before it is taken as the time
 * (createPruneHorizon's `settleMs`) by a horizon judging windows up to the longest of
 * `windowsMs` (cooldowns, the breaker's recovery wait) and the rate limit's hour: that
 * longest window and a minute. By then every run or row recorded before the step is past
 * its window in real time too. The guard time and the prune horizon both settle by it.
 */
export function stepSettleMs(...windowsMs: number[]): number {
  return Math.max(3_600_000, ...windowsMs) + 60_000;
}

/**
 * A year: a longer cooldown is no cooldown but a stop (use mode: dry_run or remove the
 * runbook). The last start of each runbook and service is kept this long (and a minute),
 * so a cooldown lengthened by a reload or a restart finds the run it holds off from.
 */
export const MAX_COOLDOWN_MINUTES = 525_600;
export const MAX_COOLDOWN_MS = MAX_COOLDOWN_MINUTES * 60_000;

/** The longest cooldown of these runbooks (0 without one): rate-limit rows are kept at least that long. */
export function longestCooldown(runbooks: readonly Runbook[]): number {
  let ms = 0;
  for (const rb of runbooks) ms = Math.max(ms, rb.cooldownMs);
  return ms;
}

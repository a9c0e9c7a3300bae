import { z } from 'zod';
import { AUDIT_EVENTS, DECISION_ACTIONS, PERSON_TEXT_RE, STATED_NAME_RE } from '../domain/index.js';
import { boundedMap, serviceName } from '../ingest/index.js';
import { didYouMean, impossibleTime, parseRfc3339 } from '../lib/index.js';

/** Wire shapes of the answers (documentation and types); requests are in ingest/ and here. */
/**
 * An optional RFC 3339 time in a query string, one that exists: a date such as
 * 2026-02-31 or a T24:00:00 is refused, naming why, never read as another instant.
 */
export function timeParam() {
  return z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      if (v === undefined || parseRfc3339(v) !== undefined) return;
      // A "+" written raw in a query string arrives as a space (form encoding): the offset
      // the caller wrote is not the one read, and saying so is the fix.
      const plus = / [0-9]{2}:?[0-9]{2}$/.test(v) ? ' (a "+" in a query string is read as a space: encode + as %2B, or use Z)' : '';
      ctx.addIssue({ code: 'custom', message: (impossibleTime(v) ?? 'expected an RFC 3339 time, e.g. 2026-11-24T03:00:00Z') + plus });
    });
}

/**
 * A query string of these parameters and no other: an unknown one is refused, naming
 * it (with a suggestion). Dropped silently, `?incident=X` (for `incident_id`) or
 * `?state=approved` (for `status`) answered every row, as if no filter had been given.
 */
export function strictQuery<T extends z.ZodRawShape>(shape: T) {
  const unknown = (key: string, known: string[]) =>
    `unknown query parameter${didYouMean(key, known)}: ${known.length ? `this route reads ${known.join(', ')}` : 'this route reads no query parameter'}`;
  // Also beside another refusal (a bad limit): every unknown parameter is named at once.
  const query = knownKeysOnly(shape, unknown, true);
  const known = Object.keys(shape);
  // The query string parser keeps a `__proto__` key (`?__proto__=x`) as its own, but zod
  // leaves it out of the object it parses (assigned to a plain object it would replace its
  // prototype), so the check above never sees it. It is read here, from the query as
  // parsed, and refused as any unknown parameter is, beside the query's other refusals.
  return z.preprocess((value, ctx) => {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, '__proto__')) return value;
    const rest = query.safeParse(value);
    for (const issue of rest.success ? [] : rest.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    ctx.addIssue({ code: 'custom', path: ['__proto__'], message: unknown('__proto__', known) });
    return value;
  }, query);
}

/**
 * An object of these keys and no other: each unknown key is an issue at its own path,
 * worded by `unknown`; with `besideOthers`, named also when another key is refused.
 * Documented as what it is (no key beyond those).
 */
function knownKeysOnly<T extends z.ZodRawShape>(shape: T, unknown: (key: string, known: string[]) => string, besideOthers = false) {
  const known = Object.keys(shape);
  return z
    .object(shape)
    .loose()
    .superRefine(
      (value, ctx) => {
        for (const key of Object.keys(value)) {
          if (!known.includes(key)) ctx.addIssue({ code: 'custom', path: [key], message: unknown(key, known) });
        }
      },
      besideOthers ? { when: (payload) => typeof payload.value === 'object' && payload.value !== null } : undefined,
    )
    .meta({ additionalProperties: false });
}

/**
 * A page's `limit`: a whole number from 1 to 1000, in plain decimal digits, given once. Every
 * refusal says so, where zod's own words read "expected number, received NaN" for
 * `limit=5&limit=6` or for text. Any other spelling (`0x10`, `1e2`, `+5`, ` 5`, `5.0`) is
 * refused as text is, not read as the number JavaScript makes of it.
 */
function pageLimit() {
  const expected = 'expected a whole number from 1 to 1000, given once';
  const limit = z.coerce.number({ error: expected }).int(expected).min(1, expected).max(1000, expected).default(100);
  return z.preprocess((v) => (typeof v === 'string' && !/^[0-9]+$/.test(v) ? Number.NaN : v), limit);
}

/** A filter on an exact value: absent means every row, so an empty one is refused rather than read as absent. */
function filterParam(what: string) {
  return z.string().min(1, `expected ${what}; leave the parameter out to list every row`).max(128);
}

/** The longest id a path parameter takes (an incident's, an approval's, a runbook's…): the router must let it through. */
export const ID_PARAM_MAX = 128;

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })),
  }),
});

export const decisionResultSchema = z.object({
  incident_id: z.string(),
  action: z.enum(DECISION_ACTIONS),
  runbook: z.string().nullable(),
  reason: z.string(),
  event: z.enum(AUDIT_EVENTS),
  approval_id: z.string().nullable(),
  execution_id: z.string().nullable(),
  success: z.boolean().optional(),
  rolled_back: z.boolean().optional(),
});

export const resultsSchema = z.object({ results: z.array(decisionResultSchema) });

/**
 * The query of a route that acts and may start runs: `wait` and no other. Dropped
 * silently, `?dry_run=true` ran the plan for real and `?wiat=true` answered at once.
 */
export const waitQuerySchema = strictQuery({
  wait: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === 'true' || v === '1')
    .describe('Hold the answer until the executions started by this request end.'),
});

/**
 * The query of an /api/v1 route that reads none: any key is refused, naming it.
 * Dropped, `POST /api/v1/pause?runbook=lo` paused every runbook.
 */
export const noQuerySchema = strictQuery({});

export const idParamsSchema = z.object({ id: z.string().min(1).max(ID_PARAM_MAX, `expected an id of at most ${ID_PARAM_MAX} characters: no id is longer`) });

export const stepSchema = z.object({
  phase: z.enum(['pre_check', 'action', 'post_check', 'rollback']),
  index: z.number().int(),
  summary: z.string(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  ok: z.boolean().nullable(),
  detail: z.string().nullable(),
  facts: z.record(z.string(), z.string()).optional().describe('what an action found and changed (the replicas before a scale, say): what undoing it by hand needs'),
  inconclusive: z.literal(true).optional().describe('a failed check whose last try could not measure (no data, NaN, a query error, no answer)'),
  unconfirmed: z
    .literal(true)
    .optional()
    .describe('a failed action that sent a write whose answer never said whether it was applied (no answer in time, a lost connection, a server error), or whose program was killed at its deadline (it may have done part of its work) or left a process running (killed part way through its work, or maybe still running): what it changed is not known'),
  unchanged: z.literal(true).optional().describe('an action that changed nothing: done without effect, refused by rectify\'s own rule, or answered "not now" by the target'),
  refused: z
    .enum(['rule', 'not_now'])
    .optional()
    .describe('a failed action refused before it changed anything: by rectify\'s own rule (rule), or by the target\'s "not now" (not_now)'),
  stopped: z
    .literal(true)
    .optional()
    .describe("a step that ended failed while rectify was stopping (not started because of it, a request cut, a program killed): the stop may have ended it, so it is read as cut off, no failure of the runbook's, by the stop and by the next start alike"),
});

export const executionSchema = z.object({
  id: z.string(),
  incident_id: z.string().nullable(),
  runbook: z.string(),
  service: z.string(),
  state: z.enum(['running', 'succeeded', 'failed', 'aborted', 'interrupted']),
  trigger: z.enum(['auto', 'approval', 'manual']),
  actor: z.string(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
  success: z.boolean().nullable(),
  rolled_back: z.boolean().nullable(),
  outcome: z.string().nullable(),
  needs_human: z.boolean().describe('true when a person must check what the run left: it was interrupted and its outcome is unknown (not one a stop or a crash cut off before its first step, outcome \'interrupted before its first step: nothing was changed\': each step is recorded before it starts, so it changed nothing, and this is false), it was interrupted before its first step because a store fault kept that step\'s start from being recorded (outcome \'interrupted before its first step: its start could not be recorded (…); nothing was run\': nothing was changed, but the remediation did not happen), it failed and so did its rollback, or its FAILED audit row says so (needs_human): the verification could not measure (on_no_data: needs_human) after an action that may have changed something, and its rollback was held or the runbook has none, or an action\'s write got no answer saying whether it was applied and no rollback ran after it'),
  plan: z.object({
    params: z.record(z.string(), z.string()),
    actions: z.array(z.string()),
    rollback: z.array(z.string()).nullable(),
    pre_checks: z.number().int(),
    post_checks: z.number().int(),
  }),
  steps: z.array(stepSchema),
});

export const approvalSchema = z.object({
  id: z.string(),
  incident_id: z.string(),
  runbook: z.string(),
  service: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'cancelled']),
  reason: z.string(),
  actions: z.array(z.string()).describe('what Approve would run: each step as a one-line summary (never its headers or body)'),
  rollback: z
    .array(z.string())
    .nullable()
    .describe('what undoes the actions if they fail, each step as a one-line summary like actions; null when the runbook has no rollback'),
  params: z.record(z.string(), z.string()),
  requested_at: z.string(),
  requested_by: z.string(),
  expires_at: z.string(),
  approvals_required: z.number().int(),
  votes: z
    .array(
      z.object({
        by: z.string().describe('who approved: a token name, the stated by, the rectify name --slack-approvers gives a Slack user, or slack:<Slack user id>'),
        at: z.string(),
        comment: z.string().nullable(),
        slack_user_id: z.string().nullable().describe('the Slack user id of a vote cast with a Slack button, else null'),
      }),
    )
    .describe('approvals cast so far; the request is approved once there are approvals_required of them, from distinct people'),
  decided_at: z.string().nullable(),
  decided_by: z.string().nullable(),
  comment: z.string().nullable(),
  execution_id: z.string().nullable(),
  alerts: z
    .number()
    .int()
    .describe('how many alerts asked for this plan: the one that opened the request and those of a storm that joined it, resolved or not (see incident_id for the first; 0 for a manual run)'),
  alerts_open: z
    .number()
    .int()
    .describe('of those, how many are not resolved yet, also once the request is decided (a decision resolves no alert); the last resolve cancels a pending request'),
});

export const approvalListSchema = z.object({
  approvals: z.array(approvalSchema),
  next_cursor: z
    .string()
    .nullable()
    .describe('pass it as `cursor` for the next page (older requests); null when no request is listed after this page'),
  total: z.number().int().describe('how many requests of this `status` (every request without one) there are now, on every page together'),
});

/** An approval page's cursor: the last request's requested_at (epoch ms) and id, the key the list is sorted by. */
export const APPROVAL_CURSOR_RE = /^([0-9]{1,15})\.([0-9A-Za-z_-]{1,128})$/;

/**
 * `by` of every route that acts (runs, approvals, kill switches, circuits, cooldowns):
 * who acts, as the caller states it, for the audit log. A control character is refused
 * here, whoever calls: it could forge a row of a table or a line of a log. Blank names
 * and the names rectify keeps for itself are refused only where `by` is the actor, when
 * no API tokens are configured (actorOf in auth.ts): with tokens it is ignored, and the
 * CLI sends the OS user as `by`, so a host whose user is `rectify` must still be served.
 */
function actorName() {
  return z
    .string()
    .min(1)
    .max(200)
    .regex(STATED_NAME_RE, 'a name may not hold control characters (a newline, a tab, NUL, an escape) or invisible format characters (a bidi override such as U+202E, a zero-width space)')
    .optional()
    .describe(
      "who is acting, for the audit log: required without API tokens, and then not blank and not `rectify` or `api`, rectify's own names in the audit log; with tokens the token name is the actor and this is ignored",
    );
}

/** A reason or a comment: lines and tabs are fine, other control characters are refused. */
function personText() {
  return z.string().max(2000).regex(PERSON_TEXT_RE, 'control characters other than a newline or a tab (NUL, an escape, a carriage return) are not allowed');
}

/**
 * Unknown keys refused (see actingBody): dropped, `{"by": "alice", "dry_run": true}` ran
 * the plan for real, and a misspelt `commnet` left the audit log without the comment.
 */
export const approvalDecisionBodySchema = actingBody(
  { by: actorName(), comment: personText().optional() },
  'an approve or reject body',
  { dry_run: 'approving runs the plan as requested, for real: GET /api/v1/approvals/{id} shows what it would run' },
)
  // With API tokens nothing in the body is needed: `curl -XPOST -H "Authorization: Bearer …"` approves.
  .default({});

export const approvalQuerySchema = strictQuery({
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'cancelled']).optional(),
  limit: pageLimit(),
  cursor: z
    .string()
    .regex(APPROVAL_CURSOR_RE, 'expected the next_cursor of a previous page')
    .optional()
    .describe('the next_cursor of the previous page: the requests listed after it (older)'),
});

/** An audit row's details: the JSON object rectify wrote, or the stored text when it is not one. */
export const auditDetailsSchema = z
  .union([z.record(z.string(), z.unknown()), z.string()])
  .describe('the JSON object recorded with the event; the text as stored when it is not one (`details_unreadable`)');
export const auditDetailsUnreadableSchema = z
  .literal(true)
  .optional()
  .describe('present (true) only when the stored details are not a JSON object: the row was changed behind rectify\'s back, and GET /api/v1/audit/verify reports it');

export const auditRowSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  event: z.enum(AUDIT_EVENTS),
  incident_id: z.string().nullable(),
  runbook: z.string().nullable(),
  execution_id: z.string().nullable(),
  actor: z.string(),
  details: auditDetailsSchema,
  details_unreadable: auditDetailsUnreadableSchema,
});

export const auditQuerySchema = strictQuery({
  incident_id: filterParam('an incident id').optional(),
  runbook: filterParam('a runbook id').optional(),
  execution_id: filterParam('an execution id').optional(),
  event: z.enum(AUDIT_EVENTS).optional(),
  since: timeParam(),
  limit: pageLimit(),
  cursor: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'expected the next_cursor of a previous page')
    .optional(),
});

export const auditPageSchema = z.object({ events: z.array(auditRowSchema), next_cursor: z.string().nullable() });

export const incidentViewSchema = z.object({
  incident: z.record(z.string(), z.unknown()),
  decision: z.object({
    action: z.enum(DECISION_ACTIONS),
    event: z.enum(AUDIT_EVENTS),
    runbook: z.string().nullable(),
    reason: z.string(),
  }),
  approval: approvalSchema.nullable(),
  execution: executionSchema.nullable(),
  resolution: z
    .object({
      at: z.string().describe('when the resolve was decided'),
      reason: z.string().describe('what the resolve did, as its answer said ("alert resolved; 1 pending approval(s) cancelled")'),
      incident_id: z.string().describe("the resolve delivery's own record (the RESOLVED audit row's details.resolved_incident_id)"),
    })
    .nullable()
    .describe('The resolve of the alert this incident reports, once one was decided (then incident.status is "resolved"); the decision above stays what was decided when it fired. Null while it fires (an incident posted without an id is resolved by a resolve posted with the id rectify gave it).'),
});

export const runbookStateSchema = z.object({
  id: z.string(),
  description: z.string(),
  file: z.string(),
  risk: z.enum(['LOW', 'MEDIUM', 'HIGH']),
  mode: z.enum(['auto', 'dry_run']),
  triggers: z.array(z.string()),
  min_confidence: z.number(),
  max_per_hour: z.number().int(),
  cooldown_minutes: z.number(),
  blast_radius_limit: z.number().int(),
  needs: z.array(z.string()),
  executable: z.boolean().describe('every executor the runbook needs is configured'),
  params: z.array(z.string()),
  actions: z.array(z.string()),
  has_rollback: z.boolean(),
  circuit: z.object({
    state: z.enum(['closed', 'open', 'half_open']),
    failures: z.number().int(),
    opened_at: z
      .string()
      .nullable()
      .describe('when the current recovery wait started: the trip, or the last failure since (a run that started before the trip), or a trial cut off; the trial is allowed --circuit-recovery after it'),
    trial_from: z
      .string()
      .optional()
      .describe('only while open: when the recovery wait ends (opened_at plus --circuit-recovery, on the wall clock) and the next alert may run as the trial'),
    trial_allowed: z.boolean().optional().describe('only while open: the recovery wait is over, so the next alert runs as the trial (half-open)'),
  }),
  executions_last_hour: z.number().int().describe('executions started in the last hour, every service together (max_per_hour is per service: see busiest_service_last_hour)'),
  busiest_service_last_hour: z
    .object({ service: z.string(), executions: z.number().int() })
    .nullable()
    .describe('the service with the most executions in the last hour as max_per_hour counts them, and how many: what the per-service limit is compared with; null when none'),
  cooldowns: z
    .array(
      z.object({
        service: z.string(),
        until: z
          .string()
          .describe(
            'when the cooldown ends on the wall clock: the last start plus cooldown_minutes, or later while the clock reads ahead of the time passed (a forward step the cooldown is not judged by yet); with `while_running`, the earliest it may end: that time while it is still to come, else the time of this answer',
          ),
        while_running: z
          .string()
          .optional()
          .describe(
            "only while a run of the runbook is still under way on the service: its execution id. The run holds the cooldown until it ends, past `until` and past a clearing by hand (which does not end it); absent from a service older than this field, which did not list such a hold once the cooldown's time was over",
          ),
      }),
    )
    .describe('the cooldowns in force per service, as the cooldown guardrail judges them: the wait since the last start, and a run still under way on the service'),
  cooldown_end: z
    .string()
    .nullable()
    .describe("the latest of the cooldowns' `until`; null when none is in force. A cooldown with `while_running` may end later: when its run does"),
  object_cooldowns: z
    .array(
      z.object({
        object: z.string().describe('the Kubernetes object, as the guardrail names it: `deployment production/checkout`, `node node-a`'),
        until: z
          .string()
          .describe(
            'when the cooldown on the object ends on the wall clock: the last start of a run on it (for any service) plus cooldown_minutes, or later while the clock reads ahead of the time passed; with `while_running`, the earliest it may end: that time while it is still to come, else the time of this answer',
          ),
        while_running: z
          .string()
          .optional()
          .describe(
            'only while a run of the runbook is still under way on the object: its execution id (the one started last there). It holds off the next run of the runbook on the object, for every service, until it ends, past `until` and past a clearing by hand',
          ),
        running_for: z.string().optional().describe('only with `while_running`: the service that run is for'),
      }),
    )
    .describe(
      "the cooldowns in force per Kubernetes object the runbook's runs act on, as the cooldown guardrail judges them, whichever service each run was for: the wait since the last start on the object, and a run still under way on it. Not counted in cooldown_end, which is of the services'",
    ),
  success_rate: z.number().nullable(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  paused: runbookPauseSchema().nullable().describe("the runbook's own kill switch: who paused it, why and since when; null when it runs"),
});

export const runbookListSchema = z.object({
  runbooks: z.array(runbookStateSchema),
  paused: runbookPauseSchema()
    .nullable()
    .describe('the global kill switch (`POST /api/v1/pause`): who paused all automatic runs, why (null when no reason was given) and since when; null when not paused'),
  reload_refused: z
    .object({ at: z.string(), problems: z.array(z.string()) })
    .nullable()
    .describe('the last reload of the runbooks folder was refused (as `/readyz` says it): when, and its problems; the runbooks listed are the last good set, still in force. Null when the last reload loaded (or none was tried)'),
  paused_not_loaded: z
    .array(runbookPauseSchema().extend({ runbook: z.string() }))
    .describe(
      'pauses of runbooks paused on their own (`POST /api/v1/runbooks/{id}/pause`) that are not loaded (a reload removed them), by id: kept, each holds a runbook of that id loaded later until it is resumed (`POST /api/v1/runbooks/{id}/resume` clears it). Empty when there are none',
    ),
  warnings: z
    .array(
      z.object({
        file: z.string(),
        line: z.number().int().positive().nullable().describe('null when the warning has no line (a file as a whole)'),
        path: z.string().describe('the YAML path, "" for the file as a whole'),
        message: z.string(),
      }),
    )
    .describe(
      'the load warnings of the runbooks listed, as `rectify lint` reports them (a runbook never chosen, as an earlier one with no `match:` takes all its alerts; a placeholder nothing fills; …): those startup or the last reload that loaded logged, replaced with the runbooks; a refused reload keeps them. Empty when there are none',
    ),
});

function runbookPauseSchema() {
  return z.object({ by: z.string(), reason: z.string().nullable(), since: z.string() });
}

export const runbookPauseStateSchema = z.object({
  runbook: z.string(),
  paused: z.boolean(),
  changed: z.boolean().describe('false when the runbook already was in that state'),
  pause: runbookPauseSchema().nullable(),
  held_while_paused: heldWhilePausedSchema().optional(),
  global_pause: runbookPauseSchema()
    .nullable()
    .optional()
    .describe('Only on a resume: the global kill switch still in force (who, why, since when), or null. While it is on, the runbook resumed does not run automatically either.'),
  loaded: z
    .literal(false)
    .optional()
    .describe('Only on a resume of a runbook no longer loaded (a reload removed it while paused): its stored pause was cleared, and nothing runs until a runbook of that id is loaded.'),
});

const manualRunShape = {
  // Bounded as an incident's context is: 370,000 empty params (under the body limit) held
  // the event loop for 6 to 16 seconds, and were written whole into the audit log.
  params: boundedMap(z.union([z.string(), z.number(), z.boolean()])).default({}),
  by: actorName(),
  dry_run: z.boolean().default(false),
  service: serviceName().optional(),
};

/**
 * A body of a route that acts, whose every key is one rectify reads: an unknown one is
 * refused (400 naming `body.<key>`, with the key it may stand for), never dropped.
 * `what` names the body in the message; `hints` adds a word for a key that belongs to
 * another route.
 */
function actingBody<S extends z.ZodRawShape>(shape: S, what: string, hints: Record<string, string> = {}) {
  return knownKeysOnly(shape, (key, known) => `unknown key${didYouMean(key, known)}: ${what} has ${known.join(', ')}${Object.hasOwn(hints, key) ? `; ${hints[key]}` : ''}`);
}

/**
 * Every key of a manual run's body is one rectify reads: an unknown one is refused,
 * naming it. Dropped silently, `{"dryRun": true}` (or `"dry-run"`) would have been a
 * real run of a runbook its caller asked only to try.
 */
export const manualRunBodySchema = actingBody(manualRunShape, "a manual run's body");

/** A person's reason for acting by hand on a guardrail (closing a circuit, ending a cooldown): required, not blank. */
function requiredReason() {
  return personText()
    .refine((r) => r.trim() !== '', 'required: why, for the audit log (not blank)')
    .describe('why, for the audit log and the notification receivers');
}

const circuitCloseShape = {
  by: actorName(),
  reason: requiredReason(),
};

/** Unknown keys refused (see actingBody). */
export const circuitCloseBodySchema = actingBody(circuitCloseShape, "a circuit close's body");

export const circuitClosedSchema = z.object({
  runbook: z.string(),
  state: z.literal('closed'),
  was: z.enum(['open', 'half_open']).describe('the state the circuit was closed from'),
  failures: z.number().int().describe('the failures in a row it had counted (0 now)'),
  opened_at: z.string().nullable().describe('when its recovery wait had begun'),
  held_while_open: z
    .number()
    .int()
    .describe('the alerts its breaker held off (decided `blocked` / `CIRCUIT_OPEN`) since it last closed: rectify does not decide them again (a re-delivery is a duplicate)'),
});

/**
 * Unknown keys refused (see actingBody): dropped, `{"services": "checkout"}` ended every
 * cooldown of the runbook rather than checkout's.
 */
export const cooldownClearBodySchema = actingBody(
  {
    ...circuitCloseShape,
    // Any service rectify may have stored, as stored: one of any length from an Alertmanager
    // label, or a blank one (" ") intake and manual runs took before they refused it, whose
    // cooldown naming it here must be able to end.
    service: z
      .string()
      .min(1)
      .optional()
      .describe(
        "the service whose cooldown ends, exactly as stored (any name, blank ones too); without it, every cooldown of the runbook in force ends (each service's and each Kubernetes object's)",
      ),
  },
  "a cooldown clear's body",
);

export const cooldownClearedSchema = z.object({
  runbook: z.string(),
  cleared: z
    .array(
      z.object({
        kind: z.enum(['service', 'object']).describe('a service, or a Kubernetes object the runs acted on'),
        subject: z.string(),
        last_started_at: z.string().describe('the start of the last run, whose cooldown ended'),
        until: z
          .string()
          .describe('when the cooldown would have ended on the wall clock (later than last_started_at plus cooldown_minutes while the clock reads ahead of the time passed, as the runbook view shows it)'),
        while_running: z
          .string()
          .optional()
          .describe("only when a run of the runbook is still under way on the service: its execution id. It still holds off the next run there until it ends: a clear does not end a run's hold"),
      }),
    )
    .describe('the cooldowns ended'),
});

/**
 * Unknown keys refused (see actingBody): dropped, `POST /api/v1/resume {"runbook": "lo"}`
 * lifted the global kill switch. `by` is required without API tokens (see actorOf): the
 * actor `api` is rectify's own name in the audit log, not a person's.
 */
export const pauseBodySchema = actingBody(
  {
    by: actorName(),
    reason: personText().optional().describe('why, for the audit log and the notification receivers'),
  },
  "a kill switch's body",
  { runbook: 'one runbook has its own kill switch: POST /api/v1/runbooks/{id}/pause or /resume' },
)
  // With API tokens nothing in the body is needed.
  .default({});

/** What a resume says of the alerts its pause held off (see the README's kill switch). */
function heldWhilePausedSchema() {
  return z
    .object({
      alerts: z.number().int().describe('how many alerts the pause held off: decided `blocked` / `PAUSED`, or their automatic run stopped before it acted'),
      runbooks: z.array(z.object({ runbook: z.string(), alerts: z.number().int() })).describe('per runbook'),
    })
    .describe(
      'Only on a resume that lifted the pause. rectify does not decide these alerts again (a re-delivery is answered `duplicate`): act by hand on those still firing.',
    );
}

export const pauseStateSchema = z.object({
  paused: z.boolean(),
  changed: z.boolean(),
  held_while_paused: heldWhilePausedSchema().optional(),
  runbooks_paused: z
    .array(runbookPauseSchema().extend({ runbook: z.string() }))
    .optional()
    .describe('Only on a resume: the loaded runbooks still paused on their own (`POST /api/v1/runbooks/{id}/pause`), by id; they do not run automatically until each is resumed.'),
});

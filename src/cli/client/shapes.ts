import { z } from 'zod';

/**
 * What each answer the client reads must hold: the fields the commands print and decide
 * by, with their types (interface.md §2; the full shapes are in src/api/schemas.ts). A
 * 2xx JSON answer without them is not rectify's: another service at --server answered
 * `{"status":"ok"}`, and `pause` said "already paused" (exit 0) while others crashed on
 * a field that was not there. Loose on purpose: an added field or a new event name of a
 * newer service is no mismatch; the answer is used as it came, never as parsed here.
 */
const str = z.string();
const nstr = z.string().nullable();

export const decisionShape = z.object({
  incident_id: str,
  action: str,
  runbook: nstr,
  reason: str,
  event: str,
  approval_id: nstr,
  execution_id: nstr,
});

export const executionShape = z.object({
  id: str,
  runbook: str,
  service: str,
  state: str,
  started_at: str,
  outcome: nstr,
  needs_human: z.boolean(),
  steps: z.array(z.object({ phase: str, index: z.number(), summary: str, ok: z.boolean().nullable(), detail: nstr })),
});

export const approvalShape = z.object({
  id: str,
  runbook: str,
  service: str,
  status: str,
  reason: str,
  actions: z.array(str),
  requested_at: str,
  expires_at: str,
  decided_by: nstr,
  execution_id: nstr,
});

/** POST /approvals/{id}/approve: the request, with the decision once it is approved (a vote of several has none). */
export const approveShape = approvalShape.extend({ result: decisionShape.optional() });

export const approvalPageShape = z.object({ approvals: z.array(approvalShape), next_cursor: nstr.optional(), total: z.number().optional() });

export const auditPageShape = z.object({
  events: z.array(z.object({ seq: z.number(), at: str, event: str, incident_id: nstr, runbook: nstr, execution_id: nstr, actor: str })),
  next_cursor: nstr,
});

export const runbookStateShape = z.object({
  id: str,
  description: str,
  file: str,
  risk: str,
  mode: str,
  triggers: z.array(str),
  max_per_hour: z.number(),
  cooldown_minutes: z.number(),
  blast_radius_limit: z.number(),
  needs: z.array(str),
  executable: z.boolean(),
  actions: z.array(str),
  circuit: z.object({ state: str, failures: z.number(), opened_at: nstr }),
  executions_last_hour: z.number(),
  cooldowns: z.array(z.object({ service: str, until: str, while_running: str.optional() })),
  cooldown_end: nstr,
  /** Absent from a service older than this field. */
  object_cooldowns: z.array(z.object({ object: str, until: str, while_running: str.optional(), running_for: str.optional() })).optional(),
  success_rate: z.number().nullable(),
  succeeded: z.number(),
  failed: z.number(),
  /** Absent from a service older than this field. */
  paused: z.object({ by: str, reason: nstr, since: str }).nullable().optional(),
});

/** `paused` (the global kill switch) is absent from a service older than this field. */
export const runbookListShape = z.object({
  runbooks: z.array(runbookStateShape),
  paused: z.object({ by: str, reason: nstr, since: str }).nullable().optional(),
  /** Absent from a service older than this field. */
  reload_refused: z.object({ at: str, problems: z.array(str) }).nullable().optional(),
  /** Absent from a service older than this field. */
  paused_not_loaded: z.array(z.object({ runbook: str, by: str, reason: nstr, since: str })).optional(),
  /** Absent from a service older than this field. */
  warnings: z.array(z.object({ file: str, line: z.number().nullable(), path: str, message: str })).optional(),
});

export const pauseShape = z.object({
  paused: z.boolean(),
  changed: z.boolean(),
  held_while_paused: z.object({ alerts: z.number(), runbooks: z.array(z.object({ runbook: str, alerts: z.number() })) }).optional(),
});

const pauseStateShape = z.object({ by: str, reason: nstr, since: str });

/** `runbooks_paused` (a global resume's) and `global_pause` (a runbook resume's) are absent from a service older than them. */
export const globalPauseShape = pauseShape.extend({ runbooks_paused: z.array(pauseStateShape.extend({ runbook: str })).optional() });

export const runbookPauseShape = pauseShape.extend({ runbook: str, global_pause: pauseStateShape.nullable().optional(), loaded: z.boolean().optional() });

export const circuitClosedShape = z.object({ runbook: str, was: str, failures: z.number(), opened_at: nstr, held_while_open: z.number().optional() });

export const cooldownClearedShape = z.object({ runbook: str, cleared: z.array(z.object({ kind: str, subject: str, until: str })) });

/** One of the shapes above. */
export type AnswerShape = z.ZodType;

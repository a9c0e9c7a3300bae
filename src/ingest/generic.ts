import { z } from 'zod';
import { quoteUntrusted, type Incident } from '../domain/index.js';
import { editDistance, keyLetters, sameLetters, wellFormed } from '../lib/index.js';
import { UNKNOWN_SERVICE } from './alertmanager.js';
import { boundedMap, ingestProblem, isConfidenceKey, parseConfidence, serviceName, type IngestResult } from './common.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const INCIDENT_KEYS = ['id', 'root_cause', 'confidence', 'service', 'services', 'symptoms', 'context', 'labels', 'status'] as const;

/**
 * The known key an unknown one stands for, when it looks like a slip: any key in
 * another case or with other separators (`Confidence`, `rootCause`), and the two keys
 * whose default lets a runbook act (confidence 1.0, status firing) misspelt or
 * decorated (`confidnce`, `confidence_score`, `state`, `stauts`). Read as absent, such
 * a key would take that default, and a runbook would act on what its sender never
 * said. Other unknown keys (`title`, `severity`, the seed's `expected`) are ignored,
 * as extensions are; a misspelling of another key fails safe (a missing service or
 * root cause is refused, a missing value for a placeholder refuses the run).
 */
export function misspeltIncidentKey(key: string): string | undefined {
  if ((INCIDENT_KEYS as readonly string[]).includes(key)) return undefined;
  const same = sameLetters(key, INCIDENT_KEYS);
  if (same !== undefined) return same;
  const k = keyLetters(key);
  if (k.includes('confidence') || editDistance(k, 'confidence') <= 2) return 'confidence';
  if (editDistance(k, 'status') <= 2) return 'status';
  return undefined;
}

/** What a resolve without an id is told: it would name no incident. */
const RESOLVE_NEEDS_ID = 'required when status is resolved: a resolve names the incident it resolves by its id';

/**
 * The normalised incident (spec §2). A firing report needs `root_cause` and `service` or
 * `services`; a resolve (`status: "resolved"`) only its `id`, as it is matched by the id
 * alone: refused for a root cause or a service it does not need, it would be dropped by
 * hand and its incident's pending approval never cancelled. Fields given are validated
 * the same either way.
 */
export const incidentSchema = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected 1–128 characters of A–Z, a–z, 0–9, ".", "_", ":" or "-"')
      .optional(),
    // Required of a firing report: see the first superRefine, which keeps its refusal where it was.
    root_cause: z.string().min(1).max(256).optional().meta({ description: 'required of a firing report (as is service or services); a resolve needs only id' }),
    // Absent, 1.0 (genericToIncident): optional here so that a confidence given only in
    // context or labels is told from one given beside the top-level key (see below).
    confidence: z.number().min(0).max(1).optional().meta({ default: 1 }),
    service: serviceName().optional(),
    // Bounded like symptoms: a body of a million one-letter services (under the body
    // limit) was stored whole, 3.6 MB a row, and held the event loop half a second.
    services: z.array(serviceName()).min(1).max(100).optional(),
    symptoms: z.array(z.string().max(256)).max(100).default([]),
    context: boundedMap(scalar).default({}),
    labels: boundedMap(z.string()).default({}),
    status: z.enum(['firing', 'resolved']).default('firing'),
  })
  .loose()
  .superRefine(
    (body, ctx) => {
      if (body.status === 'resolved') {
        // Named first: without it the resolve names no incident, whatever else is wrong with it.
        if (body.id === undefined) ctx.issues.unshift({ code: 'custom', path: ['id'], message: RESOLVE_NEEDS_ID, input: undefined });
      } else if (body.root_cause === undefined) {
        // A firing report's missing root cause, refused as a required key is, in the place it had
        // among the fields' own issues (after id's), and ending the checks as one did.
        const at = ctx.issues.findIndex((i) => i.path?.[0] !== 'id');
        const issue = { code: 'invalid_type' as const, expected: 'string' as const, path: ['root_cause'], message: 'Invalid input: expected string, received undefined', input: undefined };
        ctx.issues.splice(at === -1 ? ctx.issues.length : at, 0, issue);
        ctx.aborted = true;
      }
      for (const key of Object.keys(body)) {
        const known = misspeltIncidentKey(key);
        if (known) ctx.addIssue({ code: 'custom', path: [key], message: `unknown key (did you mean "${known}"?): it would be ignored, and the incident decided without it` });
      }
    },
    // Also when a required key is missing: `rootCause` is named beside the missing
    // `root_cause` it stands for, not left for the sender to guess.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  )
  .refine((v) => v.status === 'resolved' || v.service !== undefined || v.services !== undefined, {
    message: 'required: give "service" or "services"',
    path: ['service'],
  })
  .superRefine((body, ctx) => {
    // {service} in a runbook is filled with the incident's service, the one its rate
    // limit, cooldown and blast radius count against. A context or label naming another
    // service would be ignored there, so the incident is refused rather than read two ways.
    const service = body.service ?? body.services?.[0];
    if (service === undefined) return;
    for (const map of ['context', 'labels'] as const) {
      if (!Object.hasOwn(body[map], 'service')) continue;
      const given = String(body[map].service);
      if (wellFormed(given) !== wellFormed(service)) {
        ctx.addIssue({
          code: 'custom',
          path: [map, 'service'],
          message: `differs from service ${quoteUntrusted(service)}: an incident has one service, the one its runbook acts on and its rate limit and cooldown count against; give it once (or the same in both)`,
        });
      }
    }
  })
  .superRefine((body, ctx) => {
    // Only the top-level confidence is read. A `confidence` (or `Confidence`,
    // `confidence_score`…) in context or labels saying something else would be ignored,
    // and the incident decided at 1.0 when the top-level key is absent: refused instead.
    for (const map of ['context', 'labels'] as const) {
      for (const key of Object.keys(body[map])) {
        if (!isConfidenceKey(key)) continue;
        const given = body[map][key]!;
        if (body.confidence === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [map, key],
            message: `not read: an incident's confidence is the top-level "confidence" (1.0 when absent, as it is here); give it there`,
          });
        } else if (parseConfidence(given) !== body.confidence) {
          ctx.addIssue({
            code: 'custom',
            path: [map, key],
            message: `differs from confidence ${body.confidence}: an incident has one confidence, the top-level "confidence"; give it once (or the same in both)`,
          });
        }
      }
    }
  });
export type IncidentInput = z.infer<typeof incidentSchema>;

/** A string map with every key and value well formed (see genericToIncident); fromEntries keeps every key as an own one. */
function wellFormedMap(m: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [wellFormed(k), wellFormed(String(v))]));
}

export function genericToIncident(body: IncidentInput, opts: { now: number; newId: () => string; source?: Incident['source'] }): IngestResult {
  // A resolve names the incident it resolves by its id: without one it would be given a
  // new id, resolve nothing and still answer "alert resolved".
  if (body.status === 'resolved' && body.id === undefined) {
    return { incidents: [], problems: [ingestProblem('id', RESOLVE_NEEDS_ID)] };
  }
  // Only a resolve may come without them (the schema refuses a firing report without): recorded
  // as an Alertmanager alert without them is, under the service `unknown` and no root cause.
  if (body.status !== 'resolved' && (body.root_cause === undefined || (body.service === undefined && body.services === undefined))) {
    return { incidents: [], problems: [ingestProblem(body.root_cause === undefined ? 'root_cause' : 'service', 'required')] };
  }
  // Lone surrogates (a JSON "\ud800") become U+FFFD here rather than in the database, which
  // would store them as three: the incident decided is the one stored and read back, and a
  // re-send of the same body compares equal to it (a duplicate, not another report).
  const service = wellFormed(body.service ?? body.services?.[0] ?? UNKNOWN_SERVICE);
  const services = (body.services ?? [service]).map(wellFormed);
  if (!services.includes(service)) services.unshift(service);
  const context = wellFormedMap(body.context);
  const labels = wellFormedMap(body.labels);
  // The alert this incident reports: a posted id names it; a resolve for that id is a new row of its own.
  const alertId = body.id ?? opts.newId();
  const id = body.id && body.status === 'resolved' ? opts.newId() : alertId;
  return {
    incidents: [
      {
        id,
        source: opts.source ?? 'api',
        root_cause: wellFormed(body.root_cause ?? ''),
        confidence: body.confidence ?? 1,
        service,
        services,
        symptoms: body.symptoms.map(wellFormed),
        context,
        labels,
        status: body.status,
        ...(labels.alertname ? { alertname: labels.alertname } : {}),
        ...(body.root_cause === undefined ? { no_root_cause: true as const } : {}),
        // An incident posted with an id is decided once for that id; without one, every post is new.
        dedup_key: body.id ? `api:${body.id}:${body.status}` : `api:${id}`,
        alert_key: `api:${alertId}`,
        received_at: opts.now,
      },
    ],
    problems: [],
  };
}

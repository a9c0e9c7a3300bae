import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { RectifyError } from '../../domain/index.js';
import {
  alertmanagerToIncidents,
  alertmanagerWebhookSchema,
  genericToIncident,
  incidentSchema,
  isPlainAlertmanagerWebhook,
  pagerdutyToIncidents,
  pagerdutyWebhookSchema,
  type AlertmanagerWebhook,
  type IncidentInput,
  type IngestResult,
  type PagerdutyWebhook,
} from '../../ingest/index.js';
import { newId } from '../../lib/index.js';
import { decisionResultSchema, errorSchema, resultsSchema, waitQuerySchema } from '../schemas.js';
import { addRoute } from '../zod-route.js';
import { grants } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import type { ClientRefusal } from '../errors.js';
import { INTAKE_PATHS, type IntakeRefusal, type IntakeRefusalReason, type TruncatedDelivery } from '../../engine/index.js';
import { INTAKE_UNKNOWN_ROUTES, type IntakeRoute } from '../../observability/metrics.js';

type WaitQuery = z.infer<typeof waitQuerySchema>;

/**
 * The intake routes, and whether their sender is a webhook (it drops a delivery answered
 * 4xx, and no person reads the answer). Keyed by the metrics' list of them, whose
 * refusal series are shown at 0 from the start (observability/prometheus.ts).
 */
const INTAKE_ROUTE_SENDERS: Record<IntakeRoute, { webhook: boolean }> = {
  '/api/v1/webhooks/alertmanager': { webhook: true },
  '/api/v1/webhooks/pagerduty': { webhook: true },
  '/api/v1/incidents': { webhook: false },
};
const INTAKE_ROUTES: ReadonlyMap<string, { webhook: boolean }> = new Map(Object.entries(INTAKE_ROUTE_SENDERS));

/** The refusals of a whole intake request, by the code answered (a 409 of one incident id is not one: the sender is told which). */
const REFUSAL_REASONS: Partial<Record<string, IntakeRefusalReason>> = {
  PAYLOAD_TOO_LARGE: 'body_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  BAD_REQUEST: 'malformed',
  VALIDATION_FAILED: 'invalid',
};

/**
 * Hears the error handler's 4xx answers and passes on those that refused an intake
 * request as a whole: Alertmanager drops a group it gets a 4xx for, so each must leave
 * a trace here (see engine/intake-refusals.ts).
 */
export function intakeRefusalReporter(report: (r: IntakeRefusal) => void): (req: FastifyRequest, refusal: ClientRefusal) => void {
  return (req, refusal) => {
    const route = req.routeOptions.url ?? '';
    const intake = INTAKE_ROUTES.get(route);
    const reason = REFUSAL_REASONS[refusal.code];
    if (!intake || !reason || req.method !== 'POST') return;
    report({
      route,
      reason,
      ...(reason === 'malformed' && refusal.fault ? { fault: refusal.fault } : {}),
      status: refusal.status,
      bytes: declaredBytes(req),
      // It may quote the sender (its content type, a label key): kept as long as a group key.
      message: bounded(refusal.message)!,
      webhook: intake.webhook,
      caller: req.caller?.name ?? null,
    });
  };
}

/** Where a POST to no route is taken for an intake request sent to a wrong path (a typo in the sender's URL), by the path's start, in any case. */
const INTAKE_PREFIXES: ReadonlyArray<{ prefix: string; route: string; webhook: boolean }> = [
  { prefix: '/api/v1/webhook', route: INTAKE_UNKNOWN_ROUTES[0], webhook: true },
  { prefix: '/api/v1/incident', route: INTAKE_UNKNOWN_ROUTES[1], webhook: false },
];

/**
 * A POST the not-found handler answers, under an intake path (`/api/v1/webhook/alertmanager`,
 * `/api/v1/webhooks/Alertmanager`, `//api/v1/webhook/alertmanager`): a sender with a typo in its URL. Alertmanager drops a
 * group answered 404 as any 4xx, so it is refused as intake is (reason `unknown_path`:
 * counted, logged, and for a webhook audited and told), under the path it fell under.
 * Only for a caller who may send intake (a token with `ingest`, or anyone without tokens):
 * a token that may not (a viewer, an approver) is no sender, and makes nothing be
 * written or told; it is answered the same 404. Returns its answer, which names the
 * intake routes; undefined when it is none.
 */
export function reportUnknownIntakePath(req: FastifyRequest, path: string, report: ((r: IntakeRefusal) => void) | undefined): string | undefined {
  if (req.method !== 'POST') return undefined;
  // Doubled slashes reach a route as single ones (the router's ignoreDuplicateSlashes): so here.
  const lower = path.toLowerCase().replace(/\/{2,}/g, '/');
  const under = INTAKE_PREFIXES.find((p) => lower.startsWith(p.prefix));
  if (!under) return undefined;
  const message = `no route POST ${path}: the intake routes are ${INTAKE_PATHS.join(', ')}`;
  if (req.caller && !grants(req.caller.roles, 'ingest')) return message;
  report?.({
    route: under.route,
    path: bounded(path)!,
    reason: 'unknown_path',
    status: 404,
    bytes: declaredBytes(req),
    message: bounded(message)!,
    webhook: under.webhook,
    caller: req.caller?.name ?? null,
  });
  return message;
}

/** The body's size as its sender declared it (Content-Length), or null. */
function declaredBytes(req: FastifyRequest): number | null {
  const declared = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? declared : null;
}

/**
 * Hears the intake requests their senders closed before the body arrived whole: no
 * refusal (nobody was answered; the sender sends again), only counted under their
 * route (rectify_intake_refused_total{reason="aborted"}).
 */
export function intakeAbandonReporter(count: (route: string) => void): (req: FastifyRequest) => void {
  return (req) => {
    const route = req.routeOptions.url ?? '';
    if (INTAKE_ROUTES.has(route) && req.method === 'POST') count(route);
  };
}

const refused = { 400: errorSchema, 413: errorSchema, 415: errorSchema, 503: errorSchema };

/** The intake routes: answered 202 once every decision in the body is durable. */
export function registerIntakeRoutes(app: FastifyInstance, registry: Map<string, z.ZodType>, deps: ApiDeps): void {
  const ids = () => newId('inc', deps.clock.now());
  const exporterJobs = deps.exporterJobs ? new Set(deps.exporterJobs) : undefined;
  /**
   * Waits when asked; the decisions are the caller's (the ingest token), or rectify's
   * without tokens. A refusal quotes what was recorded before only to a caller who may
   * read it: a token with `viewer` (or more), or anyone without tokens (loopback only).
   */
  const acceptOptions = (req: FastifyRequest & { query: WaitQuery }) => ({
    wait: req.query.wait,
    actor: req.caller?.name,
    mayRead: !req.caller || grants(req.caller.roles, 'viewer'),
  });
  const rejectProblems = (r: IngestResult): void => {
    if (r.problems.length === 0) return;
    const first = r.problems[0]!;
    // Said as the schema's refusals are: the field's path from the body.
    throw new RectifyError('VALIDATION_FAILED', `invalid body: body.${first.path}: ${first.message}`, {
      details: r.problems.map((p) => ({ path: `body.${p.path}`, message: p.message })),
    });
  };

  addRoute<AlertmanagerWebhook, WaitQuery>(
    app,
    registry,
    'POST',
    '/api/v1/webhooks/alertmanager',
    {
      summary: 'Alertmanager webhook (version 4): one incident per alert',
      description:
        'Point an Alertmanager webhook receiver here. Each alert becomes an incident; a re-delivered occurrence (same fingerprint and startsAt) answers `duplicate`; a resolved alert cancels its pending approval.',
      tags: ['intake'],
      body: alertmanagerWebhookSchema,
      fastBody: isPlainAlertmanagerWebhook,
      querystring: waitQuerySchema,
      response: { 202: resultsSchema, ...refused },
    },
    async (req, reply) => {
      const truncated = truncatedDelivery(req.body);
      const ingest = alertmanagerToIncidents(req.body, { now: deps.clock.now(), newId: ids, exporterJobs });
      // The incidents hold what they need of the body (the label maps); the rest of it
      // (annotations, URLs, the envelope) need not stay alive while the group commit
      // waits, which in a storm is thousands of alerts' worth for the collector to copy.
      (req as { body: unknown }).body = undefined;
      rejectProblems(ingest);
      const results = await deps.engine.accept(ingest.incidents, truncated ? { ...acceptOptions(req), truncated } : acceptOptions(req));
      return reply.code(202).send({ results });
    },
  );

  addRoute<PagerdutyWebhook, WaitQuery>(
    app,
    registry,
    'POST',
    '/api/v1/webhooks/pagerduty',
    {
      summary: 'PagerDuty V3 webhook event (incident.triggered, incident.reopened, incident.resolved)',
      description:
        'A reopened incident is a new occurrence, decided as a trigger is; the next incident.resolved resolves it (cancels its pending approval). A re-delivered event (same event.id) is a duplicate. Other event types are acknowledged with an empty result list.',
      tags: ['intake'],
      body: pagerdutyWebhookSchema,
      querystring: waitQuerySchema,
      response: { 202: resultsSchema, ...refused },
    },
    async (req, reply) => {
      const ingest = pagerdutyToIncidents(req.body, { now: deps.clock.now(), newId: ids });
      rejectProblems(ingest);
      const results = ingest.incidents.length ? await deps.engine.accept(ingest.incidents, acceptOptions(req)) : [];
      return reply.code(202).send({ results });
    },
  );

  addRoute<IncidentInput, WaitQuery>(
    app,
    registry,
    'POST',
    '/api/v1/incidents',
    {
      summary: 'A normalised incident',
      description:
        'Answers the decision for the incident. An incident posted again with the same id and the same report answers `duplicate`; with another report (root cause, service, confidence, context…) it is refused with 409 (naming the field that differs, the value posted before and its decision only to a caller with the viewer role, or without tokens), as is an id another alert has already (an Alertmanager alert\'s, say), firing or resolved. A resolve (`status: resolved`) needs only its id and is matched by it alone, whatever else it says (fields it gives are validated as a firing report\'s): it resolves the incident posted firing with that id (or posted without one and given that id), and posted again it answers `duplicate`. A `context.service` or `labels.service` other than the incident\'s service is refused with 400 naming it: `{service}` in a runbook is always the service its rate limit and cooldown count against. So is a `confidence` (or `Confidence`, `confidence_score`…) in context or labels when the top-level `confidence` is absent or says another: only the top-level one is read. A resolve without an id is refused with 400 naming `body.id` first: it would name no incident. Nothing refused is recorded.',
      tags: ['intake'],
      body: incidentSchema,
      querystring: waitQuerySchema,
      response: { 202: decisionResultSchema, 409: errorSchema, ...refused },
    },
    async (req, reply) => {
      const ingest = genericToIncident(req.body, { now: deps.clock.now(), newId: ids });
      rejectProblems(ingest);
      const [result] = await deps.engine.accept(ingest.incidents, acceptOptions(req));
      return reply.code(202).send(result);
    },
  );
}

/** Longest group key or receiver name kept from a payload (they are the sender's text). */
const MAX_PAYLOAD_TEXT = 512;
const bounded = (s: string | undefined): string | null => (s === undefined ? null : s.length > MAX_PAYLOAD_TEXT ? `${s.slice(0, MAX_PAYLOAD_TEXT)}…` : s);

/** The alerts Alertmanager left out of this notification (`truncatedAlerts`, set by the receiver's `max_alerts`), if any. */
function truncatedDelivery(body: AlertmanagerWebhook): TruncatedDelivery | undefined {
  const n = body.truncatedAlerts ?? 0;
  if (n <= 0) return undefined;
  return { alerts: n, groupKey: bounded(body.groupKey), receiver: bounded(body.receiver) };
}

import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { firingDedupKeys, RectifyError } from '../../domain/index.js';
import {
  APPROVAL_CURSOR_RE,
  approvalListSchema,
  approvalQuerySchema,
  approvalSchema,
  auditPageSchema,
  auditQuerySchema,
  errorSchema,
  executionSchema,
  idParamsSchema,
  incidentViewSchema,
} from '../schemas.js';
import { approvalView, executionView } from '../views.js';
import { addRoute } from '../zod-route.js';
import type { ApiDeps } from '../deps.js';
import type { IncidentRow, Tx } from '../../store/ports.js';
import { parseRfc3339 } from '../../lib/index.js';

type IdParams = z.infer<typeof idParamsSchema>;

/**
 * The resolve of the alert an incident reports, if one was decided. A resolve is a
 * delivery of its own, stored under its own id with the dedup key
 * `<alert_key>:resolved` (so its re-deliveries are duplicates), while its answer and
 * its RESOLVED audit row name the firing incident. The firing incident's view finds
 * it through that key, as the resolve found the firing one through
 * `<alert_key>:firing` (or, for an API incident posted without an id, its alert key
 * itself: see firingDedupKeys): only those rows are the same alert's.
 */
function resolveOf(tx: Pick<Tx, 'decisionByDedup' | 'getIncident'>, row: IncidentRow): IncidentRow | undefined {
  const { alert_key: key, dedup_key: dedup } = row.incident;
  if (key === undefined) return undefined;
  if (dedup === `${key}:resolved`) return row;
  if (!firingDedupKeys(key).includes(dedup)) return undefined;
  const resolved = tx.decisionByDedup(`${key}:resolved`);
  return resolved ? tx.getIncident(resolved.incident_id) : undefined;
}

/** Incidents, executions, approvals and the audit log, as stored. */
export function registerReadRoutes(app: FastifyInstance, registry: Map<string, z.ZodType>, deps: ApiDeps): void {
  const { store, engine } = deps;

  addRoute<unknown, unknown, IdParams>(
    app,
    registry,
    'GET',
    '/api/v1/incidents/:id',
    { summary: 'An incident, its decision, and its approval and execution if any', tags: ['incidents'], params: idParamsSchema, response: { 200: incidentViewSchema, 400: errorSchema, 404: errorSchema } },
    async (req) => {
      await engine.expireDueBeforeRead();
      return store.read((tx) => {
        const row = tx.getIncident(req.params.id);
        if (!row) throw new RectifyError('NOT_FOUND', `no incident "${req.params.id}"`);
        const approval = row.approval_id ? tx.getApproval(row.approval_id) : undefined;
        const executionId = row.execution_id ?? approval?.execution_id ?? null;
        const execution = executionId ? tx.getExecution(executionId) : undefined;
        const resolve = resolveOf(tx, row);
        const { dedup_key: _d, alert_key: _a, ...incident } = row.incident;
        return {
          incident: { ...incident, ...(resolve ? { status: 'resolved' } : {}), received_at: new Date(row.incident.received_at).toISOString() },
          decision: { action: row.action, event: row.event, runbook: row.runbook, reason: row.reason },
          approval: approval ? approvalView(approval) : null,
          execution: execution ? executionView(execution, tx.executionEndNeedsHuman(execution.id)) : null,
          resolution: resolve ? { at: new Date(resolve.incident.received_at).toISOString(), reason: resolve.reason, incident_id: resolve.incident.id } : null,
        };
      });
    },
  );

  addRoute<unknown, unknown, IdParams>(
    app,
    registry,
    'GET',
    '/api/v1/executions/:id',
    { summary: 'One execution: state, steps, check results, timings', tags: ['executions'], params: idParamsSchema, response: { 200: executionSchema, 400: errorSchema, 404: errorSchema } },
    async (req) => {
      const view = store.read((tx) => {
        const e = tx.getExecution(req.params.id);
        return e ? executionView(e, tx.executionEndNeedsHuman(e.id)) : undefined;
      });
      if (!view) throw new RectifyError('NOT_FOUND', `no execution "${req.params.id}"`);
      return view;
    },
  );

  addRoute<unknown, z.infer<typeof approvalQuerySchema>>(
    app,
    registry,
    'GET',
    '/api/v1/approvals',
    {
      summary: 'Approval requests, newest first, paginated',
      description:
        'At most `limit` requests a page. Pass `next_cursor` from one page as `cursor` to get the next (older) page, until it is null: requests opened or decided meanwhile neither repeat nor hide the others. `total` counts the requests of this `status` on every page together. A query parameter other than these is refused (400, naming it).',
      tags: ['approvals'],
      querystring: approvalQuerySchema,
      response: { 200: approvalListSchema, 400: errorSchema },
    },
    async (req) => {
      // A request past its deadline reads as expired at once, as approving it answers (409 expired).
      await engine.expireDueBeforeRead();
      const q = req.query;
      const at = q.cursor ? APPROVAL_CURSOR_RE.exec(q.cursor) : null;
      const page = store.approvalPage({
        ...(q.status ? { status: q.status } : {}),
        ...(at ? { after: { requested_at: Number(at[1]), id: at[2]! } } : {}),
        limit: q.limit,
      });
      return {
        approvals: page.approvals.map(approvalView),
        next_cursor: page.next ? `${page.next.requested_at}.${page.next.id}` : null,
        total: page.total,
      };
    },
  );

  addRoute<unknown, unknown, IdParams>(
    app,
    registry,
    'GET',
    '/api/v1/approvals/:id',
    { summary: 'One approval request', tags: ['approvals'], params: idParamsSchema, response: { 200: approvalSchema, 400: errorSchema, 404: errorSchema } },
    async (req) => {
      await engine.expireDueBeforeRead();
      const a = store.read((tx) => tx.getApproval(req.params.id));
      if (!a) throw new RectifyError('NOT_FOUND', `no approval request "${req.params.id}"`);
      return approvalView(a);
    },
  );

  addRoute<unknown, z.infer<typeof auditQuerySchema>>(
    app,
    registry,
    'GET',
    '/api/v1/audit',
    {
      summary: 'The audit log, newest first, paginated',
      description:
        'Pass `next_cursor` from one page as `cursor` to get the next (older) page, until it is null: a page has one only when an older row matches. Filtering by `event` or `since` alone reads a bounded part of the log per page, so such a page can hold fewer than `limit` events and still have a `next_cursor`. `since` keeps each row by its own time, also when times do not rise with `seq` (a clock stepped back). A query parameter other than these, or an empty filter (`incident_id=`), is refused (400, naming it).',
      tags: ['audit'],
      querystring: auditQuerySchema,
      response: { 200: auditPageSchema, 400: errorSchema },
    },
    async (req) => {
      const q = req.query;
      const page = store.auditPage({
        ...(q.incident_id ? { incident_id: q.incident_id } : {}),
        ...(q.runbook ? { runbook: q.runbook } : {}),
        ...(q.execution_id ? { execution_id: q.execution_id } : {}),
        ...(q.event ? { event: q.event } : {}),
        ...(q.since ? { since: parseRfc3339(q.since)! } : {}),
        ...(q.cursor ? { before: Number(q.cursor) } : {}),
        limit: q.limit,
      });
      return { events: page.events, next_cursor: page.nextBefore === null ? null : String(page.nextBefore) };
    },
  );
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { knownCaller } from '../auth.js';
import { addRoute } from '../zod-route.js';

export const healthSchema = z.object({ status: z.literal('ok') });
export const restartNeededSchema = z.object({
  status: z.literal('restart_needed'),
  reason: z.string().describe('why only a restart lets rectify write again (a commit the disk could not confirm: the restart settles it); with API tokens configured, told only to a request with a valid token (any role), others get a generic reason'),
});

export const readinessSchema = z.object({
  ready: z.boolean().describe('the store takes writes, at least one runbook is loaded and rectify is not draining'),
  store: z.enum(['ok', 'unavailable']),
  store_error: z.string().optional().describe('why the store does not take writes (a locked, full, read-only or removed database)'),
  runbooks: z.number().int().describe('runbooks loaded'),
  runbooks_error: z.string().optional().describe('why rectify is not ready for its runbooks: none is loaded, so nothing would be remediated'),
  runbooks_reload_refused: z
    .object({ at: z.string(), problems: z.array(z.string()) })
    .optional()
    .describe('the last reload of the runbooks folder was refused: the runbooks in force stay, but the folder on disk would stop the next start'),
  settings_reload_refused: z
    .array(
      z.object({
        part: z.enum(['tokens', 'tls', 'slack_signing_secret']).describe('what was refused: the API tokens file, the TLS certificate and key, the Slack signing secret read from a file'),
        at: z.string(),
        problems: z.array(z.string()).describe('the files and settings at fault and why; never a value (a hash, a key, a secret)'),
        in_force: z.string().describe('what stays in force meanwhile: the previous value'),
      }),
    )
    .optional()
    .describe('the last reload (SIGHUP) of each of these was refused: the previous value stays in force until a reload of it loads (still ready). Absent when none is'),
  draining: z.boolean().describe('stopping (SIGTERM): intake answers 503'),
  detail_withheld: z
    .literal(true)
    .optional()
    .describe(
      'present when API tokens are configured and the request carries no valid one (a load balancer, a kubelet probe): `store_error` is then a generic reason, and `runbooks_reload_refused` and `settings_reload_refused` are left out (they name files and errors); send a token of any role for them',
    ),
});

/** What stays in force while a reload of each part is refused. */
const IN_FORCE = {
  tokens: 'the previous API tokens stay in force',
  tls: 'the previous TLS certificate and key stay in force',
  slack_signing_secret: 'the previous Slack signing secret stays in force',
} as const;

/** What a caller without a token is told of a store fault: its detail names the database file and the error. */
const STORE_UNAVAILABLE = 'the store does not take writes (send an API token for why)';
/** What a caller without a token is told of a commit the disk could not confirm: the detail names the error. */
const RESTART_NEEDED = 'a commit the disk could not confirm leaves only a restart to settle it (send an API token for why)';
const NO_RUNBOOK = 'no runbook is loaded: every alert would be left to a person (NO_RUNBOOK); put runbooks in the folder and reload them (SIGHUP)';

/** Probes and metrics: outside /api/v1, no request validation; the probes need no token. */
export function registerHealthRoutes(app: FastifyInstance, registry: Map<string, z.ZodType>, deps: ApiDeps): void {
  // The probes are public (auth.ts): the document says so, over its default of a bearer token.
  const probe = { tags: ['service'], extra: { security: [] } };
  addRoute(
    app,
    registry,
    'GET',
    '/healthz',
    {
      ...probe,
      summary: 'Liveness: the process answers; 503 once a commit the disk could not confirm leaves only a restart to settle it',
      response: { 200: healthSchema, 503: restartNeededSchema },
    },
    async (req, reply) => {
      const reason = deps.restartNeeded?.() ?? null;
      // The status restarts the pod; the reason names the store's error, told (as /readyz
      // tells its detail) only to a caller with a valid token, or to anyone without tokens.
      if (reason) return reply.code(503).send({ status: 'restart_needed' as const, reason: knownCaller(req, deps.auth) ? reason : RESTART_NEEDED });
      return { status: 'ok' as const };
    },
  );
  addRoute(
    app,
    registry,
    'GET',
    '/readyz',
    {
      ...probe,
      summary: 'Readiness: the store takes writes, runbooks are loaded and rectify is not draining (503 otherwise)',
      response: { 200: readinessSchema, 503: readinessSchema },
    },
    async (req, reply) => {
      // The probe is public, but what went wrong names files, paths and errors: told only
      // to a caller with a valid token (any role), or to anyone when no tokens are configured
      // (rectify then answers loopback callers only). The status is the same for everyone.
      const detail = knownCaller(req, deps.auth);
      // Whether the store takes writes, not only reads: a locked, full or read-only
      // database answers SELECT 1 but cannot record a decision.
      const health = deps.store.health();
      const runbooks = deps.catalog.all.length;
      const draining = deps.draining();
      // Serving with no runbook (an empty folder at start) decides every alert "no
      // runbook": up, but not ready to remediate anything.
      const ready = health.ok && runbooks > 0 && !draining;
      // A refused reload leaves the runbooks in force serving (ready), but the folder on
      // disk would stop the next start: said here, where whoever watches the pod looks.
      const refused = deps.reloadRefused?.() ?? null;
      // So is a refused reload of the tokens file, the TLS pair or the Slack signing secret:
      // the previous one serves, and the file on disk would stop the next start.
      const settings = deps.settingsReloadRefused?.() ?? [];
      return reply.code(ready ? 200 : 503).send({
        ready,
        store: health.ok ? 'ok' : 'unavailable',
        ...(health.detail ? { store_error: detail ? health.detail : STORE_UNAVAILABLE } : {}),
        runbooks,
        ...(runbooks === 0 ? { runbooks_error: NO_RUNBOOK } : {}),
        ...(refused && detail ? { runbooks_reload_refused: { at: new Date(refused.at).toISOString(), problems: refused.problems } } : {}),
        ...(settings.length > 0 && detail
          ? { settings_reload_refused: settings.map((r) => ({ part: r.part, at: new Date(r.at).toISOString(), problems: [...r.problems], in_force: IN_FORCE[r.part] })) }
          : {}),
        draining,
        ...(detail ? {} : { detail_withheld: true as const }),
      });
    },
  );
  addRoute(
    app,
    registry,
    'GET',
    '/metrics',
    {
      summary: 'Prometheus metrics (text exposition format 0.0.4)',
      description: 'The `rectify_*` series (see the README) and the process metrics. Needs the viewer role once --tokens is set.',
      tags: ['service'],
      response: { 200: z.string() },
      media: { 200: { type: 'text/plain', description: 'The Prometheus text exposition format, version 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`)' } },
    },
    async (_req, reply) => {
      // rectify_approvals_pending counts no request past its deadline (the approvals reads
      // do the same); their expiry is written without the scrape waiting for it.
      deps.engine.expireDueForScrape();
      const body = await deps.metrics.render();
      return reply.type(deps.metrics.contentType).send(body);
    },
  );
}

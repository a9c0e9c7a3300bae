import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';

/** Probes and metrics: outside /api/v1, no body validation, no auth. */
export function registerHealthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const hide = { schema: { hide: true } };
  app.get('/healthz', hide, async () => ({ status: 'ok' }));
  app.get('/readyz', hide, async (_req, reply) => {
    // Whether the store takes writes, not only reads: a locked, full or read-only
    // database answers SELECT 1 but cannot record a decision.
    const health = deps.store.health();
    const runbooks = deps.catalog.all.length;
    const draining = deps.draining();
    const ready = health.ok && !draining;
    // A refused reload leaves the runbooks in force serving (ready), but the folder on
    // disk would stop the next start: said here, where whoever watches the pod looks.
    const refused = deps.reloadRefused?.() ?? null;
    return reply.code(ready ? 200 : 503).send({
      ready,
      store: health.ok ? 'ok' : 'unavailable',
      ...(health.detail ? { store_error: health.detail } : {}),
      runbooks,
      ...(refused ? { runbooks_reload_refused: { at: new Date(refused.at).toISOString(), problems: refused.problems } } : {}),
      draining,
    });
  });
  app.get('/metrics', hide, async (_req, reply) => {
    const body = await deps.metrics.render();
    return reply.type(deps.metrics.contentType).send(body);
  });
}

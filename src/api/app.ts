import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { JSON_BODY_POISONING } from '../ingest/index.js';
import { packageVersion } from '../lib/version.js';
import { installAuth, installLoopbackHostCheck } from './auth.js';
import { contentEncodingRefusal, createClientErrors, createErrorHandler, errorBody, sendShuttingDown } from './errors.js';
import { createUnavailableAnswers } from './unavailable.js';
import { installJsonBodyParser } from './json-body.js';
import { documentOptionalBodies, documentRefusals } from './openapi-refusals.js';
import type { ApiDeps } from './deps.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerControlRoutes } from './routes/control.js';
import { registerHealthRoutes } from './routes/health.js';
import { intakeAbandonReporter, intakeRefusalReporter, registerIntakeRoutes, reportUnknownIntakePath } from './routes/intake.js';
import { registerReadRoutes } from './routes/read.js';
import { registerSlackRoutes, SLACK_INTERACTIONS_URL } from './routes/slack.js';
import { addRoute, installZodValidation } from './zod-route.js';

/** Above what a request line may carry: the router never refuses a path parameter by its length. */
const ID_ROUTER_MAX = 65_536;

/**
 * The OpenAPI document's `info`. Its version is the package's, read from package.json as
 * `rectify --version` reads it: a version written here as well would be left behind at
 * the next release.
 */
export const apiInfo = (): { title: string; description: string; version: string } => ({
  title: 'rectify',
  description:
    'Safe auto-remediation for Prometheus, Alertmanager and Kubernetes: alerts in, guarded decisions out, verified actions, a durable audit log.',
  version: packageVersion(),
});

export interface BuildOptions {
  /** Serve /docs (the OpenAPI UI). Off for the OpenAPI generator. */
  docsUi?: boolean;
  logger?: boolean;
  /** Serve HTTPS with this key and certificate (PEM). */
  https?: TlsMaterial;
}

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
}

/**
 * Replaces the served certificate and key (a SIGHUP after cert-manager renewed them);
 * connections already open keep theirs. Throws when the pair is unusable, leaving the old one.
 */
export function setTlsMaterial(app: FastifyInstance, tls: TlsMaterial): void {
  const server = app.server as unknown as { setSecureContext?: (o: TlsMaterial) => void };
  if (typeof server.setSecureContext !== 'function') throw new Error('the server is not serving HTTPS');
  server.setSecureContext({ key: tls.key, cert: tls.cert });
}

/** The HTTP API. Fastify is imported only under src/api. */
export async function buildApp(deps: ApiDeps, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const clientErrors = createClientErrors();
  const app = Fastify({
    loggerInstance: deps.log as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    // Per-request log lines would cost more than the decision itself in an alert storm.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request either: binding the id through the redaction costs
    // about 5% of a storm's CPU. The error handler puts `reqId` in its lines.
    childLoggerFactory: (logger) => logger,
    // Request ids from a trusted proxy are not assumed: ours are sequential, after a
    // prefix of this process's own, so "request 5f3a9c-12" names one request across
    // restarts and replicas.
    genReqId: (() => {
      const prefix = randomBytes(3).toString('hex');
      let n = 0;
      return () => `${prefix}-${(++n).toString(36)}`;
    })(),
    // What Fastify refuses before any route (a malformed URL) answers in
    // the same error shape as everything else.
    frameworkErrors: (error, _req, reply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      void (reply as unknown as FastifyReply).code(status).send(errorBody('BAD_REQUEST', error.message));
    },
    // While closing (SIGTERM, after the executions drained), a request that still comes on an
    // open connection goes through the hooks as any other: the draining hook refuses it as
    // SHUTTING_DOWN in the API's error shape, with Retry-After, and the auth hook keeps an
    // unauthenticated caller from learning even that. Fastify's own 503 answered instead,
    // {"error": "Service Unavailable", "statusCode": 503}, a body no client of the API reads.
    return503OnClosing: false,
    // What Node cannot read as a request at all (a Content-Length that is not a byte count,
    // a malformed request line) is answered in that shape too, unless requests read before
    // it on that connection are owed their answers (see createClientErrors).
    clientErrorHandler: clientErrors.handler,
    ajv: { customOptions: { coerceTypes: false } },
    // A body holding a "__proto__" or "constructor.prototype" key is refused (400): said
    // here, as replay judges recorded bodies by the same options.
    ...JSON_BODY_POISONING,
    // A path parameter is an id (`/incidents/{id}`). The router lets any length through
    // (Node's limit on the request line, 16 KiB, comes first) to the route, whose params
    // schema refuses one longer than an id may be (ID_PARAM_MAX) as a 400 naming
    // `params.id`, after the token check, as the API document says: the router's own 414
    // (for Fastify's default of 100, the 101 to 128-character ids an incident is accepted
    // with) was an answer no route documents.
    //
    // A trailing slash names the same route (`/api/v1/webhooks/alertmanager/`): a webhook
    // URL written with one would otherwise be a 404, and Alertmanager drops every group
    // answered 4xx. So do doubled slashes (`//api/v1/webhooks/alertmanager`, a base URL
    // ending in a slash joined to a path starting with one), for the same reason. Only the
    // route is found this way: its hooks (the token check, the Slack signature) are its own.
    routerOptions: { maxParamLength: ID_ROUTER_MAX, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    ...(opts.https ? { https: { key: opts.https.key, cert: opts.https.cert } } : {}),
  }) as unknown as FastifyInstance;
  app.server.on('request', clientErrors.track);
  // First of all hooks, so that every route (plugins' included) is behind it and an
  // unauthenticated caller learns nothing else (not even that rectify is draining).
  app.decorateRequest('caller', null);
  app.decorateRequest('unavailable', null);
  const unavailable = createUnavailableAnswers({
    log: deps.log,
    clock: deps.clock,
    ...(deps.metrics.httpUnavailable ? { count: deps.metrics.httpUnavailable.bind(deps.metrics) } : {}),
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? '*';
    if (req.unavailable && reply.statusCode === 503) {
      unavailable.answered({ code: req.unavailable.code, route, reqId: req.id, method: req.method, caller: req.caller?.name ?? null, err: req.unavailable.err });
    } else unavailable.settled(route, reply.statusCode);
    done();
  });
  if (deps.auth) installAuth(app, deps.auth, deps.log);
  else installLoopbackHostCheck(app, deps.log, opts.https ? 'https' : 'http');
  const registry = new Map<string, z.ZodType>();
  installZodValidation(app, registry);
  app.setErrorHandler(
    createErrorHandler({
      bodyLimitBytes: deps.bodyLimitBytes,
      ...(deps.intakeRefused ? { onRefused: intakeRefusalReporter(deps.intakeRefused) } : {}),
      ...(deps.intakeAbandoned ? { onAbandoned: intakeAbandonReporter(deps.intakeAbandoned) } : {}),
    }),
  );
  // JSON only: a text body must be a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);
  // Uncompressed only: a gzip body must be a 415 naming its encoding, not "not valid JSON".
  // Hooks with callbacks, not async: an async hook costs every request a promise and a
  // turn of the microtask queue, and a storm of single-alert bodies pays it per alert.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const refused = contentEncodingRefusal(req.headers);
    if (refused) done(refused);
    else done(null, payload);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    // A POST under an intake path is a sender with a typo in its URL: Alertmanager drops
    // a group answered 404 for good, so it is refused as intake is (counted, logged, for a
    // webhook audited and told) when its caller may send intake, and the answer names the
    // routes it meant.
    const intake = reportUnknownIntakePath(req, path, deps.intakeRefused);
    void reply.code(404).send(errorBody('NOT_FOUND', intake ?? `no route ${req.method} ${path}`));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: apiInfo(),
      tags: [
        { name: 'intake', description: 'Alerts and incidents in' },
        { name: 'incidents', description: 'What was decided' },
        { name: 'executions', description: 'What ran' },
        { name: 'approvals', description: 'Human approval gates' },
        { name: 'runbooks', description: 'Runbooks and their live guardrail state' },
        { name: 'audit', description: 'The append-only audit log' },
        { name: 'control', description: 'The global kill switch' },
        { name: 'service', description: 'Probes, metrics and this document' },
      ],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API token from the tokens file (--tokens). Roles: ingest (intake routes), viewer (reads), approver (approve/reject, manual runs, and reads), admin (pause/resume, manual runs of HIGH-risk runbooks, and what an approver may). Required on every route except /healthz and /readyz once tokens are configured.',
          },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: documentRefusals,
    transformObject: (doc) => ('openapiObject' in doc ? documentOptionalBodies(doc.openapiObject) : doc.swaggerObject),
  });
  if (opts.docsUi !== false) await app.register(swaggerUi, { routePrefix: '/docs' });

  // Stop intake while draining (SIGTERM) or while the disk is behind: Alertmanager retries 5xx.
  app.addHook('onRequest', (req, reply, done) => {
    if (!deps.draining()) {
      done();
      return;
    }
    // A request that comes in while stopping is the connection's last: its answer says so,
    // and a client's keep-alive pool drops the socket instead of sending its next request
    // on one the stop is about to close (seen as a reset, the client unable to tell
    // whether it was carried out). A request that came in before is answered as usual.
    void reply.header('Connection', 'close');
    // A Slack click is answered by its route, which checks the signature first: the person
    // who clicked is told through the click's response_url that nothing was carried out
    // (Slack shows nothing of the 503 itself), and an unsigned request calls nowhere.
    if (req.method !== 'POST' || (deps.slackVerifier && req.routeOptions.url === SLACK_INTERACTIONS_URL)) done();
    // Answered here: the request goes no further (no done()).
    else sendShuttingDown(reply);
  });

  registerHealthRoutes(app, registry, deps);
  addRoute(
    app,
    registry,
    'GET',
    '/openapi.json',
    {
      summary: 'This OpenAPI document (the same as openapi.yaml in the repository)',
      tags: ['service'],
      response: { 200: z.record(z.string(), z.unknown()).describe('an OpenAPI 3.0 document') },
    },
    async () => app.swagger(),
  );
  registerIntakeRoutes(app, registry, deps);
  registerReadRoutes(app, registry, deps);
  registerAuditRoutes(app, registry, deps);
  registerControlRoutes(app, registry, deps);
  registerSlackRoutes(app, deps);
  await app.ready();
  return app;
}

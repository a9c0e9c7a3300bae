import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createManualClock, type ManualClock } from '../../src/lib/index.js';
import { createTestLogger, type TestLogger } from '../../src/observability/index.js';
import { createService, type Service, type ServiceOverrides } from '../../src/service.js';
import { startHttpTarget, type HttpTarget } from './http-target.js';
import type { DecisionResult } from '../../src/domain/index.js';
import { genericToIncident, incidentSchema } from '../../src/ingest/index.js';

/**
 * A real rectify service for tests: a real SQLite file in a temp folder, runbooks
 * written as YAML files, the real executors; requests through fastify.inject or a
 * real listening port. The clock is a manual one unless a test asks otherwise.
 */
export interface TestService {
  app: FastifyInstance;
  service: Service;
  clock: ManualClock;
  log: TestLogger;
  dir: string;
  dbPath: string;
  runbooksDir: string;
  config: Config;
  /** POST JSON through inject; returns status and parsed body. */
  post(url: string, body: unknown): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  get(url: string): Promise<{ status: number; body: any }>;
  /** Stops the service; the folder is kept for a restart unless `remove`. */
  stop(opts?: { remove?: boolean }): Promise<void>;
  /** A new service on the same database and runbooks (a restart). */
  restart(extraArgs?: string[]): Promise<TestService>;
}

export interface TestServiceOptions {
  /** runbooks.yaml contents (a `runbooks:` map), or files by name. */
  runbooks?: string | Record<string, string>;
  args?: string[];
  clock?: ManualClock;
  overrides?: Omit<ServiceOverrides, 'clock'>;
  dir?: string;
  /** Use the system clock (for tests against real daemons whose time moves). */
  realClock?: boolean;
  /** Keep every log line (at trace) in `log.lines`, for asserting what is and is not logged. */
  captureLogs?: boolean;
}

export async function startTestService(opts: TestServiceOptions = {}): Promise<TestService> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'rectify-test-'));
  const runbooksDir = join(dir, 'runbooks');
  const dbPath = join(dir, 'data', 'rectify.db');
  if (!opts.dir) {
    mkdirSync(runbooksDir, { recursive: true });
    const files = typeof opts.runbooks === 'string' ? { 'runbooks.yaml': opts.runbooks } : (opts.runbooks ?? {});
    for (const [name, text] of Object.entries(files)) writeFileSync(join(runbooksDir, name), text);
  }
  const args = ['--db', `sqlite:${dbPath}`, '--runbooks', runbooksDir, ...(opts.args ?? [])];
  const loaded = loadConfig(args, {}, { cwd: dir });
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`).join('\n'));
  const config = loaded.config;
  const clock = opts.clock ?? createManualClock(Date.UTC(2026, 10, 24, 3, 0, 0));
  const log = createTestLogger({ capture: opts.captureLogs ?? false });
  const service = await createService(config, log.logger, { ...(opts.overrides ?? {}), ...(opts.realClock ? {} : { clock }) });
  const app = service.app;

  const self: TestService = {
    app,
    service,
    clock,
    log,
    dir,
    dbPath,
    runbooksDir,
    config,
    async post(url, body) {
      const res = await app.inject({ method: 'POST', url, payload: body as object, headers: { 'content-type': 'application/json' } });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
    },
    async get(url) {
      const res = await app.inject({ method: 'GET', url });
      const ct = String(res.headers['content-type'] ?? '');
      return { status: res.statusCode, body: ct.includes('json') ? JSON.parse(res.body) : res.body };
    },
    async stop(o = {}) {
      await service.close();
      if (o.remove) rmSync(dir, { recursive: true, force: true });
    },
    async restart(extraArgs = []) {
      await service.close();
      return startTestService({ ...opts, dir, clock, args: [...(opts.args ?? []), ...extraArgs] });
    },
  };
  return self;
}

export interface ServiceWithTarget {
  /** The describe block's HTTP target. */
  readonly target: HttpTarget;
  /** The service of the describe block (or, with `eachTest`, of this test). */
  readonly svc: TestService;
}

/**
 * For a describe block: one HTTP target, given its routes by `routes`, and a whole service
 * on a temp database started with `runbooks` (and `args`) before its tests; after them the
 * service stopped and removed, the target closed. With `eachTest`, before each test the
 * target is reset and given its routes again and a fresh service started, and after each
 * that service is stopped and removed.
 */
export function useServiceWithTarget(opts: {
  runbooks: (target: HttpTarget) => string;
  routes?: (target: HttpTarget) => void;
  args?: string[];
  eachTest?: boolean;
}): ServiceWithTarget {
  let target: HttpTarget | undefined;
  let svc: TestService | undefined;
  const start = async (t: HttpTarget): Promise<void> => {
    opts.routes?.(t);
    svc = await startTestService({ runbooks: opts.runbooks(t), ...(opts.args ? { args: opts.args } : {}) });
  };
  before(async () => {
    target = await startHttpTarget();
    if (!opts.eachTest) await start(target);
  });
  after(async () => {
    if (!opts.eachTest) await svc?.stop({ remove: true });
    await target?.close();
  });
  if (opts.eachTest) {
    beforeEach(async () => {
      svc = undefined;
      target!.reset();
      await start(target!);
    });
    afterEach(async () => svc?.stop({ remove: true }));
  }
  return {
    get target() {
      return startedBy('useServiceWithTarget', 'target', target);
    },
    get svc() {
      return startedBy('useServiceWithTarget', 'svc', svc);
    },
  };
}

/** `v`, which a describe block's hooks (set up by `owner`) start: asked for outside a test, where it is not started, an error. */
export function startedBy<T>(owner: string, what: string, v: T | undefined): T {
  if (v === undefined) throw new Error(`${owner}: no ${what} outside a test`);
  return v;
}

/** An Alertmanager webhook body (version 4) with the given alerts. */
export function amWebhook(alerts: Array<{ labels: Record<string, string>; status?: 'firing' | 'resolved'; fingerprint?: string; startsAt?: string; annotations?: Record<string, string> }>) {
  return {
    version: '4',
    groupKey: '{}:{alertname="x"}',
    status: 'firing',
    receiver: 'rectify',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.test:9093',
    alerts: alerts.map((a, i) => ({
      status: a.status ?? 'firing',
      labels: a.labels,
      annotations: a.annotations ?? {},
      startsAt: a.startsAt ?? '2026-11-24T03:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.test/graph',
      fingerprint: a.fingerprint ?? `fp${i.toString(16).padStart(14, '0')}`,
    })),
  };
}

/**
 * Decides an incident whose service intake now refuses (a control or invisible
 * character: `shop\u200b`, a newline), as a database written before that refusal holds
 * one: read as `POST /api/v1/incidents` reads a body with another service, then given
 * `service` and decided by the engine, past the intake's check. For the tests of how
 * such text is shown (escaped) wherever a person reads it.
 */
export async function acceptStoredService(svc: TestService, body: { id: string; root_cause: string; context?: Record<string, string> }, service: string): Promise<DecisionResult> {
  const read = genericToIncident(incidentSchema.parse({ ...body, service: 'placeholder' }), { now: svc.clock.now(), newId: () => body.id });
  const incident = read.incidents[0];
  if (!incident || read.problems.length) throw new Error(`acceptStoredService: ${JSON.stringify(read.problems)}`);
  const [result] = await svc.service.engine.accept([{ ...incident, service, services: [service] }]);
  return result!;
}

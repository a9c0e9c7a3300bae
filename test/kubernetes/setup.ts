import { after, afterEach, before, beforeEach } from 'node:test';
import pino from 'pino';
import { createKubeClients, type KubeClients } from '../../src/checks/kubernetes.js';
import type { KubeVerb, RenderedKubernetesAction, RenderedNamedCheck } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startKubeFake, writeKubeconfig, type KubeFake } from '../helpers/kube-fake/index.js';
import { startedBy, startTestService, type TestService } from '../helpers/service.js';

/** One fake API server and real clients pointed at it through a kubeconfig file. */
export async function startFakeEnv(opts: { readyDelayMs?: number; callTimeoutMs?: number } = {}): Promise<{ fake: KubeFake; clients: KubeClients; kubeconfig: string }> {
  const fake = await startKubeFake(opts.readyDelayMs !== undefined ? { readyDelayMs: opts.readyDelayMs } : {});
  const kubeconfig = await writeKubeconfig(fake.url);
  const clients = await createKubeClients({ mode: 'kubeconfig', kubeconfigPath: kubeconfig, callTimeoutMs: opts.callTimeoutMs ?? 5_000 });
  return { fake, clients, kubeconfig };
}

/** One runbook under `runbooks:`, LOW risk, that a test may run as often as it likes (no rate limit reached, no cooldown). */
export const loopRunbook = (id: string, trigger: string, body: string): string => `  ${id}:
    risk: LOW
    triggers: [${trigger}]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
${body}`;

export interface ServiceOnFake {
  /** One HTTP target for the whole describe block, reset before each test. */
  readonly target: HttpTarget;
  /** This test's API fake, its requests cleared once the service has started. */
  readonly fake: KubeFake;
  /** This test's whole service, on a temp database, pointed at the fake through a kubeconfig file. */
  readonly svc: TestService;
}

/**
 * For a describe block: before each test a fresh API fake, given its objects by `prepare`,
 * and a whole service on it started with `runbooks` (and `args`); after each, delays the fake
 * still holds released, the service stopped and removed, the fake closed.
 */
export function useServiceOnFake(opts: {
  runbooks: (target: HttpTarget) => string;
  prepare?: (fake: KubeFake, target: HttpTarget) => void;
  args?: (target: HttpTarget) => string[];
  /** Keeps the service's log lines (`svc.log`). */
  captureLogs?: boolean;
}): ServiceOnFake {
  let target: HttpTarget | undefined;
  let fake: KubeFake | undefined;
  let svc: TestService | undefined;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target?.close());
  beforeEach(async () => {
    target!.reset();
    svc = undefined;
    const env = await startFakeEnv();
    fake = env.fake;
    opts.prepare?.(fake, target!);
    svc = await startTestService({
      runbooks: opts.runbooks(target!),
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig, ...(opts.args?.(target!) ?? [])],
      ...(opts.captureLogs ? { captureLogs: true } : {}),
    });
    fake.clearRequests();
  });
  afterEach(async () => {
    fake?.releaseDelays();
    await svc?.stop({ remove: true });
    await fake?.close();
  });
  const started = <T>(what: string, v: T | undefined): T => startedBy('useServiceOnFake', what, v);
  return {
    get target() {
      return started('target', target);
    },
    get fake() {
      return started('fake', fake);
    },
    get svc() {
      return started('service', svc);
    },
  };
}

export function stepContext(opts: { signal?: AbortSignal; startedAt?: number; memo?: Map<string, unknown>; phase?: StepContext['phase'] } = {}): StepContext {
  return {
    signal: opts.signal ?? new AbortController().signal,
    log: pino({ level: 'silent' }),
    startedAt: opts.startedAt ?? Date.now(),
    memo: opts.memo ?? new Map(),
    ...(opts.phase ? { phase: opts.phase } : {}),
  };
}

export function kubeAction(
  verb: KubeVerb,
  kind: RenderedKubernetesAction['kind'],
  name: string,
  namespace: string | null,
  args: Record<string, string> = {},
  timeoutMs = 5_000,
): RenderedKubernetesAction {
  return { type: 'kubernetes', verb, kind, name, namespace, args, timeoutMs };
}

export function namedCheck(name: string, values: Record<string, string>, params: Record<string, unknown> = {}, timeoutMs = 3_000, intervalMs = 50): RenderedNamedCheck {
  return { type: 'named', name, params, values, timeoutMs, intervalMs };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`waitFor(${what}) timed out`);
}

export const EVICTION = /\/pods\/[^/]+\/eviction$/;
export const POD_PATH = /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+$/;

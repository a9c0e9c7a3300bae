import pino from 'pino';
import { createKubeClients, type KubeClients } from '../../src/checks/kubernetes.js';
import type { KubeVerb, RenderedKubernetesAction, RenderedNamedCheck } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { startKubeFake, writeKubeconfig, type KubeFake } from '../helpers/kube-fake/index.js';

/** One fake API server and real clients pointed at it through a kubeconfig file. */
export async function startFakeEnv(opts: { readyDelayMs?: number; callTimeoutMs?: number } = {}): Promise<{ fake: KubeFake; clients: KubeClients; kubeconfig: string }> {
  const fake = await startKubeFake(opts.readyDelayMs !== undefined ? { readyDelayMs: opts.readyDelayMs } : {});
  const kubeconfig = await writeKubeconfig(fake.url);
  const clients = await createKubeClients({ mode: 'kubeconfig', kubeconfigPath: kubeconfig, callTimeoutMs: opts.callTimeoutMs ?? 5_000 });
  return { fake, clients, kubeconfig };
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

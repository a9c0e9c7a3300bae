import { delimiter } from 'node:path';
import type { Logger } from 'pino';
import { readProcessEnv as readEnv, type Config } from './config/index.js';
import type { ActionExecutor, CheckRunner, Enricher } from './execute/ports.js';
import { createHttpActionExecutor } from './execute/actions/http.js';
import { createCommandActionExecutor } from './execute/actions/command.js';
import { createHttpCheckRunner } from './checks/http.js';
import { createPromqlCheckRunner } from './checks/promql.js';
import { createKubeClients, createKubernetesCheckRunner, createKubernetesEnricher, type KubeClients } from './checks/kubernetes.js';
import { createNamedCheckRunner } from './checks/named.js';
import { createKubernetesActionExecutor } from './execute/actions/kubernetes.js';
import { LoadError } from './domain/index.js';

export interface Executors {
  actions: Map<string, ActionExecutor>;
  checks: Map<string, CheckRunner>;
  enricher?: Enricher;
  /** Executor kinds available: what runbooks' `needs` are checked against. */
  available: Set<string>;
}

/** Builds the executors the configuration allows; overrides replace or add by type. */
export async function createExecutors(
  config: Config,
  log: Logger,
  overrides: { actions?: ActionExecutor[]; checks?: CheckRunner[]; enricher?: Enricher },
): Promise<Executors> {
  const actions = new Map<string, ActionExecutor>();
  const checks = new Map<string, CheckRunner>();
  const available = new Set<string>(['http', 'command']);
  // `${env:NAME}` secret references in runbooks resolve against rectify's environment,
  // at execution only (alert values can never make one: rendering refuses a value holding
  // `${`, and a reference any value would form with the text around it).
  const env = readEnv();
  actions.set('http', createHttpActionExecutor({ env }) as ActionExecutor);
  actions.set('command', createCommandActionExecutor({ env: pickEnv(config.commandEnv) }) as ActionExecutor);
  checks.set('http', createHttpCheckRunner({ env }) as CheckRunner);
  if (config.prometheusUrl) {
    checks.set('promql', createPromqlCheckRunner({ prometheusUrl: config.prometheusUrl }) as CheckRunner);
    available.add('prometheus');
  }
  const kube = await connectKubernetes(config, log);
  let enricher: Enricher | undefined = overrides.enricher;
  if (kube) {
    actions.set('kubernetes', createKubernetesActionExecutor(kube) as ActionExecutor);
    checks.set('kubernetes', createKubernetesCheckRunner(kube) as CheckRunner);
    enricher ??= createKubernetesEnricher(kube);
    available.add('kubernetes');
  }
  // The seed's named checks: each fails with the reason when its backend is missing.
  checks.set('named', createNamedCheckRunner({ ...(kube ? { kube } : {}), ...(config.prometheusUrl ? { prometheusUrl: config.prometheusUrl } : {}) }) as CheckRunner);
  for (const a of overrides.actions ?? []) {
    actions.set(a.type, a);
    available.add(a.type);
  }
  for (const c of overrides.checks ?? []) checks.set(c.type, c);
  log.debug({ available: [...available] }, 'executors ready');
  return { actions, checks, available, ...(enricher ? { enricher } : {}) };
}

/**
 * Kubernetes when configured: `auto` uses --kubeconfig or the in-cluster service
 * account when present and otherwise runs without it (its runbooks are refused
 * with the reason); an explicit mode that cannot connect stops startup.
 */
async function connectKubernetes(config: Config, log: Logger): Promise<KubeClients | undefined> {
  if (config.kubernetes === 'off') return undefined;
  // $KUBECONFIG is a list, as kubectl reads it; --kubeconfig (and RECTIFY_KUBECONFIG, the file's key) one file.
  const kubeSource = config.sources.kubeconfig;
  const kubeconfigPath = config.kubeconfig === undefined ? undefined : kubeSource.kind === 'env' && kubeSource.file === 'KUBECONFIG' ? config.kubeconfig.split(delimiter) : config.kubeconfig;
  try {
    return await createKubeClients({ mode: config.kubernetes, ...(kubeconfigPath ? { kubeconfigPath } : {}) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (config.kubernetes === 'auto' && !config.kubeconfig) {
      log.info({ reason: message }, 'Kubernetes executor not configured');
      return undefined;
    }
    // A kubeconfig given is what failed (a file not there, no server in it): named where it was set, not the mode's default.
    const blamed = config.kubeconfig !== undefined && config.kubernetes !== 'in-cluster' ? kubeSource : config.sources.kubernetes;
    throw new LoadError([{ file: blamed.file, path: blamed.path, message }]);
  }
}

/** Only the variables the operator allow-listed (`command_env`) reach command actions. */
function pickEnv(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const env = readEnv();
  for (const n of names) {
    const v = env[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

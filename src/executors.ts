import { delimiter } from 'node:path';
import type { Logger } from 'pino';
import { readProcessEnv as readEnv, type Config } from './config/index.js';
import type { ActionExecutor, CheckRunner, Enricher } from './execute/ports.js';
import { createHttpActionExecutor } from './execute/actions/http.js';
import { createCommandActionExecutor } from './execute/actions/command.js';
import { createHttpCheckRunner } from './checks/http.js';
import { createPromqlCheckRunner } from './checks/promql.js';
import { createKubeClients, createKubernetesCheckRunner, createKubernetesEnricher, inClusterMissing, type KubeClients } from './checks/kubernetes.js';
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

/**
 * Builds the executors the configuration allows; overrides replace or add by type.
 * `needs`: the `needs` of the runbooks loaded, so that a Kubernetes executor `auto` could
 * not set up is said at warn when runbooks need it (their runs are refused), at info else.
 */
export async function createExecutors(
  config: Config,
  log: Logger,
  overrides: { actions?: ActionExecutor[]; checks?: CheckRunner[]; enricher?: Enricher },
  needs: ReadonlyArray<readonly string[]> = [],
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
  const { clients: kube, absent } = await connectKubernetes(config);
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
  if (absent !== undefined && !available.has('kubernetes')) {
    const needing = needs.filter((n) => n.includes('kubernetes')).length;
    if (needing > 0) {
      log.warn({ reason: absent, runbooks: needing }, `Kubernetes executor not configured: ${needing} loaded runbook(s) need it, and their runs are refused (EXECUTOR_UNAVAILABLE) until rectify runs in a cluster or is given --kubeconfig`);
    } else log.info({ reason: absent }, 'Kubernetes executor not configured');
  }
  log.debug({ available: [...available] }, 'executors ready');
  return { actions, checks, available, ...(enricher ? { enricher } : {}) };
}

/** An executor kind a service started with a configuration would have, and why: worked out from the configuration alone. */
export interface ExecutorAvailability {
  available: boolean;
  why: string;
}

/** The executor kinds runbooks may need (`needs`), in the order they are reported. */
export const EXECUTOR_KIND_NAMES = ['command', 'http', 'kubernetes', 'prometheus'] as const;

/**
 * The executor kinds `createExecutors` gives a service started with `config`, decided
 * without connecting to anything (for `rectify replay`, which must not): http and
 * command always; prometheus when --prometheus-url is set; Kubernetes by the rule
 * `connectKubernetes` applies at startup. With `auto` and no kubeconfig the service
 * runs without it unless it is in a cluster (a service-account token and
 * KUBERNETES_SERVICE_HOST/PORT, as the client reads them); in any other mode but `off`
 * the service starts only once the clients are built, so it has Kubernetes whenever it
 * runs. Which cluster, and whether it answers, is not looked at.
 */
export function expectedExecutors(config: Pick<Config, 'kubernetes' | 'kubeconfig' | 'prometheusUrl'>): Record<(typeof EXECUTOR_KIND_NAMES)[number], ExecutorAvailability> {
  const always = { available: true, why: 'every rectify has it' };
  return {
    command: always,
    http: always,
    kubernetes: expectedKubernetes(config),
    prometheus: config.prometheusUrl
      ? { available: true, why: '--prometheus-url is set' }
      : { available: false, why: 'no --prometheus-url: the service runs without it' },
  };
}

function expectedKubernetes(config: Pick<Config, 'kubernetes' | 'kubeconfig'>): ExecutorAvailability {
  if (config.kubernetes === 'off') return { available: false, why: '--kubernetes off' };
  if (config.kubernetes === 'auto' && !config.kubeconfig) {
    const missing = inClusterMissing();
    return missing.length
      ? { available: false, why: `--kubernetes auto with no kubeconfig given, not in a cluster (${missing.join(' and ')}): the service runs without it` }
      : { available: true, why: "--kubernetes auto in a cluster (its service account): the service starts with it; the cluster's answers are not read" };
  }
  const how = config.kubernetes !== 'in-cluster' && config.kubeconfig ? `a kubeconfig is given (${config.kubeconfig})` : `--kubernetes ${config.kubernetes}`;
  return { available: true, why: `${how}: the service does not start without it; it is not read, nor the cluster reached` };
}

/** The --kubeconfig given: $KUBECONFIG is a list, as kubectl reads it; --kubeconfig (and RECTIFY_KUBECONFIG, the file's key) one file. */
function kubeconfigPathOf(config: Config): string | string[] | undefined {
  const kubeSource = config.sources.kubeconfig;
  return config.kubeconfig === undefined ? undefined : kubeSource.kind === 'env' && kubeSource.file === 'KUBECONFIG' ? config.kubeconfig.split(delimiter) : config.kubeconfig;
}

/**
 * What EXECUTOR_UNAVAILABLE says of an executor this configuration leaves out on purpose:
 * Kubernetes turned off is not "not configured (run in a cluster or set --kubeconfig)",
 * which has a person look for a cluster that would change nothing.
 */
export function unavailableReasons(config: Config): ReadonlyMap<string, string> {
  const reasons = new Map<string, string>();
  if (config.kubernetes === 'off') {
    const src = config.sources.kubernetes;
    const said = src.kind === 'env' ? `${src.file}=off` : src.kind === 'file' ? `${src.path}: off in ${src.file}` : '--kubernetes off';
    reasons.set('kubernetes', `the Kubernetes executor, which is turned off (${said}; set --kubernetes auto, in-cluster or kubeconfig to use it)`);
  }
  return reasons;
}

/**
 * Kubernetes when configured: `auto` uses --kubeconfig or the in-cluster service
 * account when present and otherwise runs without it (`absent`: why; its runbooks are
 * refused with the reason); an explicit mode that cannot connect stops startup. The same
 * rule, without connecting, is `expectedExecutors`'s: keep the two together.
 */
async function connectKubernetes(config: Config): Promise<{ clients?: KubeClients; absent?: string }> {
  if (config.kubernetes === 'off') return {};
  const kubeSource = config.sources.kubeconfig;
  const kubeconfigPath = kubeconfigPathOf(config);
  try {
    return { clients: await createKubeClients({ mode: config.kubernetes, ...(kubeconfigPath ? { kubeconfigPath } : {}) }) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Without it (its runbooks' runs refused), said by the caller, which knows the runbooks.
    if (config.kubernetes === 'auto' && !config.kubeconfig) return { absent: message };
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

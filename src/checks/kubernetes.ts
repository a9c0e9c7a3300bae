import { existsSync } from 'node:fs';
// Types only at the top: the client is a large library (about 100 MB resident once
// loaded), so it is imported when a Kubernetes connection is made, not by every process.
import type {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  ConfigurationOptions,
  ObservableMiddleware,
  PolicyV1Api,
  V1Deployment,
  V1LabelSelector,
  V1ManagedFieldsEntry,
  V1OwnerReference,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
} from '@kubernetes/client-node';
import type { RenderedKubernetesCheck } from '../domain/index.js';
import { checkParam, DEFAULT_MAX_REPLICAS, enrichedNewReplicas, EnrichmentRefused, KUBERNETES_ENRICHMENT, MAX_REPLICAS_VALUE, namedWorkload, podOwnerGiven, quoteUntrusted, refusedBeforeClusterRead, refusedByOwnersReplicas, refusedByPodOwner } from '../domain/index.js';
import type { CheckOutcome, CheckRunner, Enricher, StepContext } from '../execute/ports.js';
import { untilAborted, withTimeout } from '../lib/index.js';
import { describeError as describeIoError, poll, type Attempt } from './poll.js';

/**
 * The Kubernetes API as rectify sees it. One of only two modules that import
 * @kubernetes/client-node (the other is execute/actions/kubernetes.ts, which
 * imports the factory and call helpers from here): everything else speaks in
 * the small typed functions below, so a client upgrade touches two files.
 */

export interface KubeClients {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  /** The API server URL, for messages. */
  readonly server: string;
  /** The deadline of one API call; a step's own timeout still bounds the whole step. */
  readonly callTimeoutMs: number;
  /** The client library, loaded when the clients were made (for its Observable and ApiException). */
  readonly lib: KubeLib;
}

type KubeLib = Pick<typeof import('@kubernetes/client-node'), 'Observable' | 'ApiException'>;

export interface KubeClientOptions {
  /**
   * `in-cluster`: the pod's service account. `kubeconfig`: the file at kubeconfigPath.
   * `auto`: kubeconfigPath when given, else in-cluster when the service-account
   * token is mounted; never a silent guess at ~/.kube/config, so a service started
   * on a laptop cannot quietly act on whatever cluster the shell last pointed at.
   */
  mode: 'auto' | 'in-cluster' | 'kubeconfig';
  /**
   * One kubeconfig file, or the list $KUBECONFIG names, merged as kubectl merges it: the
   * first file to name a cluster, user or context wins, and so does the first current-context.
   */
  kubeconfigPath?: string | readonly string[];
  /** A kubeconfig context other than the file's current-context. */
  context?: string;
  callTimeoutMs?: number;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Where the clients would connect, decided without loading the client library; throws when nowhere. */
export function kubernetesMode(opts: Pick<KubeClientOptions, 'mode' | 'kubeconfigPath'>): 'in-cluster' | 'kubeconfig' {
  const mode = opts.mode === 'auto' ? (kubeconfigFiles(opts).length ? 'kubeconfig' : existsSync(SERVICE_ACCOUNT_TOKEN) ? 'in-cluster' : null) : opts.mode;
  if (mode === null) {
    throw new Error(
      'kubernetes: no kubeconfig given and not running in a cluster (no service-account token); set --kubeconfig or run rectify in the cluster',
    );
  }
  return mode;
}

/** What a pod's service account gives that is not here (the client library reads the same): none in a cluster. */
export function inClusterMissing(): string[] {
  const missing: string[] = [];
  const unset = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'].filter((v) => !process.env[v]);
  if (unset.length) missing.push(`${unset.join(' and ')} not set`);
  if (!existsSync(SERVICE_ACCOUNT_TOKEN)) missing.push(`no service-account token at ${SERVICE_ACCOUNT_TOKEN}`);
  return missing;
}

/** The kubeconfig files given, in order; none when none is. */
function kubeconfigFiles(opts: Pick<KubeClientOptions, 'kubeconfigPath'>): string[] {
  const given = opts.kubeconfigPath;
  return (typeof given === 'string' ? [given] : [...(given ?? [])]).filter((f) => f !== '');
}

/**
 * Loads the kubeconfig files into `kc` as kubectl merges a $KUBECONFIG list: the first file to
 * name a cluster, user or context wins (a later one of that name is ignored), and the first
 * current-context set is the one in force. Each file's relative paths are read from its own
 * folder. A file that cannot be read or parsed is an error naming it: a list with a file
 * missing may be a list pointing at another cluster than the one meant, and rectify acts on it.
 */
function loadKubeconfigs(lib: typeof import('@kubernetes/client-node'), kc: InstanceType<typeof lib.KubeConfig>, files: readonly string[]): void {
  const loaded = files.map((file) => {
    const one = new lib.KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new Error(`kubernetes: cannot read the kubeconfig file ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return one;
  });
  const firstOfEachName = <T extends { readonly name: string }>(lists: ReadonlyArray<readonly T[] | undefined>): T[] => {
    const seen = new Set<string>();
    const out: T[] = [];
    for (const item of lists.flatMap((l) => l ?? [])) {
      if (seen.has(item.name)) continue;
      seen.add(item.name);
      out.push(item);
    }
    return out;
  };
  kc.loadFromOptions({
    clusters: firstOfEachName(loaded.map((k) => k.clusters)),
    users: firstOfEachName(loaded.map((k) => k.users)),
    contexts: firstOfEachName(loaded.map((k) => k.contexts)),
    currentContext: loaded.map((k) => k.getCurrentContext()).find((c) => !!c) ?? '',
  });
}

export async function createKubeClients(opts: KubeClientOptions): Promise<KubeClients> {
  const mode = kubernetesMode(opts);
  const lib = await import('@kubernetes/client-node');
  const kc = new lib.KubeConfig();
  if (mode === 'in-cluster') {
    const missing = inClusterMissing();
    // The client would take "https://undefined:undefined" for the API server and fail every call.
    if (missing.length) throw new Error(`kubernetes: not running in a cluster: ${missing.join(' and ')}; set --kubeconfig, or --kubernetes off`);
    kc.loadFromCluster();
  } else {
    const files = kubeconfigFiles(opts);
    if (!files.length) throw new Error('kubernetes: mode kubeconfig needs a kubeconfig file: set --kubeconfig (RECTIFY_KUBECONFIG, kubeconfig in the config file) or KUBECONFIG');
    loadKubeconfigs(lib, kc, files);
    if (opts.context) kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new Error(`kubernetes: kubeconfig context ${quoteUntrusted(kc.getCurrentContext() ?? '')} names no cluster server`);
  // The client refuses plain http per request with a confusing message; say it once, up front.
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new Error(`kubernetes: server ${cluster.server} is plain http; the client needs insecure-skip-tls-verify: true for it`);
  }
  return Object.freeze({
    core: kc.makeApiClient(lib.CoreV1Api),
    apps: kc.makeApiClient(lib.AppsV1Api),
    policy: kc.makeApiClient(lib.PolicyV1Api),
    server: cluster.server,
    callTimeoutMs: opts.callTimeoutMs ?? 10_000,
    lib: { Observable: lib.Observable, ApiException: lib.ApiException },
  });
}

// ---------------------------------------------------------------------------
// One API call: deadline, abort, content type, errors as values we can read.

export const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;
export type PatchType = keyof typeof PATCH_TYPES;

/** A failed API call, from the Status object the server sent (or a transport error: status 0). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  /** The reasons of the Status's `details.causes` (`DisruptionBudget` for a PodDisruptionBudget's refusal). */
  readonly causes: readonly string[];
  constructor(status: number, reason: string, message: string, cause?: unknown, causes: readonly string[] = []) {
    super(message, { cause });
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.causes = causes;
  }
}

export function isKubeStatus(err: unknown, status: number): err is KubeApiError {
  return err instanceof KubeApiError && err.status === status;
}

function toKubeError(lib: KubeLib, err: unknown): unknown {
  if (err instanceof lib.ApiException) {
    const code = (err as ApiException<unknown>).code;
    const body: unknown = (err as ApiException<unknown>).body;
    let reason = '';
    let message = `HTTP ${code}`;
    const causes: string[] = [];
    if (typeof body === 'string' && body.length > 0) {
      try {
        const s = JSON.parse(body) as { reason?: unknown; message?: unknown; details?: { causes?: unknown } };
        if (typeof s.reason === 'string') reason = s.reason;
        if (typeof s.message === 'string') message = s.message;
        if (Array.isArray(s.details?.causes)) {
          for (const c of s.details.causes as Array<{ reason?: unknown }>) if (typeof c?.reason === 'string') causes.push(c.reason);
        }
      } catch {
        message = body.slice(0, 200);
      }
    }
    return new KubeApiError(code, reason, message, err, causes);
  }
  return err;
}

/**
 * Per-call options for the generated client (its object-style API passes them
 * to the Observable layer, hence Observable middleware). The middleware sets the
 * fetch signal, so an abort really stops the socket wait, and for patches the
 * content type: the generated default would be JSON Patch for every patch.
 */
function callOptions(lib: KubeLib, signal: AbortSignal, contentType?: string, onDate?: (date: string | undefined) => void): ConfigurationOptions {
  const mw: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(signal);
      if (contentType) ctx.setHeaderParam('Content-Type', contentType);
      return new lib.Observable(Promise.resolve(ctx));
    },
    post: (res) => {
      // The fetch layer gives header names in lower case.
      onDate?.(res.headers.date);
      return new lib.Observable(Promise.resolve(res));
    },
  };
  return { middleware: [mw], middlewareMergeStrategy: 'append' };
}

/**
 * Runs one API call with the client's per-call deadline inside the caller's
 * signal. Besides handing the signal to fetch, it races the call against the
 * signal: a library path that ignored it must still not keep a step waiting.
 */
export async function kubeCall<T>(
  clients: Pick<KubeClients, 'callTimeoutMs' | 'lib'>,
  signal: AbortSignal,
  call: (options: ConfigurationOptions) => Promise<T>,
  patch?: PatchType,
  onDate?: (date: string | undefined) => void,
): Promise<T> {
  signal.throwIfAborted();
  const s = withTimeout(signal, clients.callTimeoutMs);
  try {
    return await untilAborted(call(callOptions(clients.lib, s, patch ? PATCH_TYPES[patch] : undefined, onDate)), s);
  } catch (err) {
    if (s.aborted) {
      // The caller's own abort/timeout wins; otherwise it was this call's deadline.
      if (signal.aborted) throw signal.reason ?? err;
      throw new KubeApiError(0, 'Timeout', `API call timed out after ${clients.callTimeoutMs}ms`, err);
    }
    throw toKubeError(clients.lib, err);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof KubeApiError) return err.status === 0 ? err.message : `${err.status}${err.reason ? ` ${err.reason}` : ''}: ${err.message}`;
  // Network failures: "connection refused" rather than node-fetch's wrapper text.
  return describeIoError(err);
}

// ---------------------------------------------------------------------------
// Names read back from the API are validated before they go into a later call.

export function assertName(value: string | undefined, what: string): string {
  if (value === undefined) throw new KubeApiError(0, 'Invalid', `${what}: missing name`);
  const c = checkParam('k8s_name', value);
  if (!c.ok) throw new KubeApiError(0, 'Invalid', `${what} ${quoteUntrusted(value)} ${c.reason}`);
  return value;
}
export function assertNamespace(value: string | undefined | null, what: string): string {
  if (value === undefined || value === null) throw new KubeApiError(0, 'Invalid', `${what}: missing namespace`);
  const c = checkParam('k8s_label', value);
  if (!c.ok) throw new KubeApiError(0, 'Invalid', `${what} namespace ${quoteUntrusted(value)} ${c.reason}`);
  return value;
}

// ---------------------------------------------------------------------------
// Pods, their workloads and rollout revisions.

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'ReplicaSet';
export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
  namespace: string;
}
export interface WorkloadState extends WorkloadRef {
  uid: string;
  /** spec.replicas */
  desired: number;
  /** status.replicas: every pod the controller counts, old ones included. */
  current: number;
  ready: number;
  updated: number;
  generation: number;
  observedGeneration: number;
  selector: V1LabelSelector | undefined;
  paused: boolean;
  /**
   * A StatefulSet's first ordinal (spec.ordinals.start, 0 when unset; NaN when it is set
   * but not a whole number ≥ 0): its pods are `<name>-<start>` to `<name>-<start + replicas - 1>`.
   * Undefined for other kinds.
   */
  ordinalsStart?: number;
}

/**
 * Whether the pod is being deleted: the API server set its deletionTimestamp (a graceful
 * deletion under way: its containers are being stopped, its controller has already
 * replaced it) and it is gone once the kubelet confirms, or its finalizers are removed.
 */
export function isTerminating(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
}

/**
 * When a terminating pod's grace period ends, as the API server stamped it (its
 * deletionTimestamp, in ms since the epoch; NaN when it cannot be read as a time), or
 * undefined when the pod is not terminating (`isTerminating`).
 */
export function deletionDue(pod: V1Pod): number | undefined {
  if (!isTerminating(pod)) return undefined;
  const ts: unknown = pod.metadata?.deletionTimestamp;
  return ts instanceof Date ? ts.getTime() : new Date(String(ts)).getTime();
}

/**
 * The run's memo key under which the uid of pod `ns/pod` as the run first knew it is kept:
 * set by a pre-check reading the pod, by `pod_becomes_ready`'s own read before the run's
 * first action when nothing kept it by then (see the named check runner's beforeActions),
 * and by the eviction or delete that acts on it (the uid it acted on), so that
 * `pod_becomes_ready` tells that pod from a successor under its name (a StatefulSet
 * recreates its ordinal), whatever deleted it. With none kept (that read failed: the pod
 * absent, an API error, a timeout), `pod_becomes_ready` takes the pod under the name for
 * the old one, but a StatefulSet's created since the run started (by the API server's
 * clock, when known), and keeps the uid of the one it judges old.
 */
export const podUidMemoKey = (ns: string, pod: string): string => `kubernetes.pod_uid:${ns}/${pod}`;

export function isPodReady(pod: V1Pod): boolean {
  if (isTerminating(pod)) return false;
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function controllerOf(refs: V1OwnerReference[] | undefined): V1OwnerReference | undefined {
  return (refs ?? []).find((r) => r.controller === true);
}

export async function readPod(clients: KubeClients, namespace: string, name: string, signal: AbortSignal): Promise<V1Pod> {
  return kubeCall(clients, signal, (o) => clients.core.readNamespacedPod({ namespace, name }, o));
}

/** A Date header (RFC 9110) gives whole seconds. */
const DATE_HEADER_RESOLUTION_MS = 1_000;

/**
 * The most the API server's clock is believed to be apart from rectify's: a header
 * further off is taken for a wrong one (a proxy's, a clock reset at boot), and rectify's
 * own clock judges, as without a header.
 */
export const MAX_BELIEVED_SKEW_MS = 10 * 60_000;

/** RFC 9110's IMF-fixdate, the one form an HTTP server sends (`Sun, 06 Dec 2026 08:00:00 GMT`). */
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * The pod, and the API server's time when it answered (ms since the epoch), from its
 * answer's Date header: undefined when the answer had none, or one not in RFC 9110's form
 * (Date.parse reads "1" as the year 2001).
 */
export async function readPodDated(clients: KubeClients, namespace: string, name: string, signal: AbortSignal): Promise<{ pod: V1Pod; serverTime: number | undefined }> {
  let date: string | undefined;
  const pod = await kubeCall(clients, signal, (o) => clients.core.readNamespacedPod({ namespace, name }, o), undefined, (d) => (date = d));
  return { pod, serverTime: dateHeaderTime(date) };
}

function dateHeaderTime(date: string | undefined): number | undefined {
  const at = date !== undefined && IMF_FIXDATE.test(date) ? Date.parse(date) : NaN;
  return Number.isNaN(at) ? undefined : at;
}

/**
 * How far the API server's clock is ahead of rectify's (negative: behind), from the time
 * one of its answers carried (`readPodDated`) and rectify's clock when it came. 0 when the
 * answer carried none, and when the two agree within what a Date header can tell: it
 * holds whole seconds and the answer takes a moment to arrive, so a server clock in step
 * with rectify's reads up to a second or so behind it. 0 too past MAX_BELIEVED_SKEW_MS.
 */
export function serverClockOffset(serverTime: number | undefined, localNow: number): number {
  if (serverTime === undefined) return 0;
  const d = serverTime - localNow;
  if (Math.abs(d) > MAX_BELIEVED_SKEW_MS) return 0;
  return d >= -2 * DATE_HEADER_RESOLUTION_MS && d <= DATE_HEADER_RESOLUTION_MS ? 0 : d;
}

/**
 * How far the API server's clock is ahead of rectify's (negative: behind), read against
 * the time the request was sent (`sentAt`, rectify's clock) rather than the time its
 * answer came: the Date header is written after the request left, so a slow answer only
 * makes this larger, and the true lead is less than it plus the header's resolution (1 s,
 * its whole seconds). Undefined when the answer carried no Date header, and when it was
 * further off than MAX_BELIEVED_SKEW_MS: not known, where serverClockOffset says 0.
 */
export function serverClockLeadSince(serverTime: number | undefined, sentAt: number): number | undefined {
  if (serverTime === undefined) return undefined;
  const d = serverTime - sentAt;
  return Math.abs(d) > MAX_BELIEVED_SKEW_MS ? undefined : d;
}

/** The pod's workload, or why it has none we manage (DaemonSet, Job, no controller). */
export type PodOwner = { ok: true; ref: WorkloadRef } | { ok: false; reason: string };

export async function resolvePodOwner(clients: KubeClients, pod: V1Pod, signal: AbortSignal): Promise<PodOwner> {
  const namespace = assertNamespace(pod.metadata?.namespace, 'pod');
  const podName = pod.metadata?.name ?? '';
  const ctrl = controllerOf(pod.metadata?.ownerReferences);
  if (!ctrl) return { ok: false, reason: `pod ${namespace}/${podName} has no controller: nothing would replace it` };
  if (ctrl.kind === 'StatefulSet') return { ok: true, ref: { kind: 'StatefulSet', name: assertName(ctrl.name, 'StatefulSet owner'), namespace } };
  if (ctrl.kind !== 'ReplicaSet') {
    return { ok: false, reason: `pod ${namespace}/${podName} is owned by a ${ctrl.kind}; rectify manages pods of Deployments, ReplicaSets and StatefulSets only` };
  }
  const rsName = assertName(ctrl.name, 'ReplicaSet owner');
  const rs = await kubeCall(clients, signal, (o) => clients.apps.readNamespacedReplicaSet({ namespace, name: rsName }, o));
  const dep = controllerOf(rs.metadata?.ownerReferences);
  if (dep?.kind === 'Deployment') return { ok: true, ref: { kind: 'Deployment', name: assertName(dep.name, 'Deployment owner'), namespace } };
  return { ok: true, ref: { kind: 'ReplicaSet', name: rsName, namespace } };
}

export async function readWorkload(clients: KubeClients, ref: WorkloadRef, signal: AbortSignal): Promise<WorkloadState> {
  const { namespace, name } = ref;
  const obj =
    ref.kind === 'Deployment'
      ? await kubeCall(clients, signal, (o) => clients.apps.readNamespacedDeployment({ namespace, name }, o))
      : ref.kind === 'StatefulSet'
        ? await kubeCall(clients, signal, (o) => clients.apps.readNamespacedStatefulSet({ namespace, name }, o))
        : await kubeCall(clients, signal, (o) => clients.apps.readNamespacedReplicaSet({ namespace, name }, o));
  const spec = obj.spec as { replicas?: number; selector?: V1LabelSelector; paused?: boolean; ordinals?: { start?: unknown } | null } | undefined;
  const status = obj.status as { replicas?: number; readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number } | undefined;
  const desired = spec?.replicas ?? 1;
  return {
    ...ref,
    uid: obj.metadata?.uid ?? '',
    desired,
    current: status?.replicas ?? 0,
    ready: status?.readyReplicas ?? 0,
    // A ReplicaSet has no rollout: all its pods are of its one template.
    updated: ref.kind === 'ReplicaSet' ? (status?.replicas ?? 0) : (status?.updatedReplicas ?? 0),
    generation: obj.metadata?.generation ?? 0,
    observedGeneration: status?.observedGeneration ?? 0,
    selector: spec?.selector,
    paused: spec?.paused === true,
    ...(ref.kind === 'StatefulSet' ? { ordinalsStart: ordinalsStartOf(spec?.ordinals) } : {}),
  };
}

function ordinalsStartOf(ordinals: { start?: unknown } | null | undefined): number {
  const start = ordinals?.start;
  if (start === undefined || start === null) return 0;
  return typeof start === 'number' && Number.isSafeInteger(start) && start >= 0 ? start : NaN;
}

/**
 * The rollout is done when the controller has seen the latest spec, every desired
 * replica runs the new template and is ready, and no old pod remains (kubectl
 * rollout status asks the same questions).
 */
export function workloadSettled(w: WorkloadState): boolean {
  return w.observedGeneration >= w.generation && w.updated >= w.desired && w.ready >= w.desired && w.current <= w.desired;
}

export function describeWorkload(w: WorkloadState): string {
  return `${w.kind} ${w.namespace}/${w.name}: ready ${w.ready}/${w.desired}, updated ${w.updated}, total ${w.current}`;
}

/** A label selector in the query-string form (`a=b,c in (d,e)`). */
export function formatSelector(sel: V1LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/**
 * The ReplicaSets a deployment controls: those its selector matches, kept only when
 * their controller is that deployment by uid, because a selector can also match a
 * ReplicaSet another deployment owns. A deployment without a uid owns none.
 */
async function ownedReplicaSets(
  clients: KubeClients,
  namespace: string,
  labelSelector: string,
  deploymentUid: string | undefined,
  signal: AbortSignal,
): Promise<V1ReplicaSet[]> {
  if (!deploymentUid) return [];
  const list = await kubeCall(clients, signal, (o) => clients.apps.listNamespacedReplicaSet({ namespace, labelSelector }, o));
  return list.items.filter((rs) => {
    const owner = controllerOf(rs.metadata?.ownerReferences);
    return owner?.kind === 'Deployment' && owner.uid === deploymentUid;
  });
}

/** The ReplicaSets a Deployment controls (see `ownedReplicaSets`); none without a selector. */
export async function listDeploymentReplicaSets(clients: KubeClients, w: WorkloadState, signal: AbortSignal): Promise<V1ReplicaSet[]> {
  const labelSelector = formatSelector(w.selector);
  return labelSelector ? ownedReplicaSets(clients, w.namespace, labelSelector, w.uid, signal) : [];
}

/**
 * The workload's own pods, listed from the API rather than read from its (lagging)
 * status: those its selector matches and it controls (a Deployment through its
 * ReplicaSets, by uid: `replicaSets` when the caller listed them already), because a
 * selector can also match another workload's pods.
 */
export async function listWorkloadPods(
  clients: KubeClients,
  w: WorkloadState,
  signal: AbortSignal,
  replicaSets?: V1ReplicaSet[],
  /** Told the API server's time when the listing answered (its Date header), as readPodDated's. */
  onServerTime?: (serverTime: number | undefined) => void,
): Promise<V1Pod[]> {
  const labelSelector = formatSelector(w.selector);
  // An empty selector would select every pod in the namespace: never count those.
  if (!labelSelector) return [];
  const list = await kubeCall(clients, signal, (o) => clients.core.listNamespacedPod({ namespace: w.namespace, labelSelector }, o), undefined, onServerTime && ((d) => onServerTime(dateHeaderTime(d))));
  const owners = new Set<string>();
  if (w.kind === 'Deployment') {
    for (const rs of replicaSets ?? (await ownedReplicaSets(clients, w.namespace, labelSelector, w.uid, signal))) {
      if (rs.metadata?.uid) owners.add(rs.metadata.uid);
    }
  } else if (w.uid) {
    owners.add(w.uid);
  }
  return list.items.filter((p) => {
    const owner = controllerOf(p.metadata?.ownerReferences);
    return owner?.uid !== undefined && owners.has(owner.uid);
  });
}

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';

export interface RolloutRevision {
  revision: number;
  replicaSet: string;
  template: V1PodTemplateSpec;
  /** Its ReplicaSet's metadata.creationTimestamp, as the client read it (undefined when it had none). */
  createdAt: Date | undefined;
  /**
   * Its ReplicaSet's `deployment.kubernetes.io/revision-history`: the revisions it was
   * before, set by the deployment controller when a rollout went back to its template
   * and it became the newest revision again. Its creation time is then not when it
   * was rolled out last.
   */
  earlier: string | undefined;
  /**
   * Its ReplicaSet's metadata.managedFields, as the client read them (undefined when it
   * had none): the deployment controller's entry dates a rollout back to it.
   */
  managedFields: V1ManagedFieldsEntry[] | undefined;
}
export interface RolloutHistory {
  deployment: V1Deployment;
  current: number;
  /** Highest revision first. */
  revisions: RolloutRevision[];
  /** The API server's time when it answered the deployment's read, by its Date header (see readPodDated). */
  serverTime: number | undefined;
}

function parseRevision(v: string | undefined): number | undefined {
  if (v === undefined || !/^[0-9]{1,18}$/.test(v)) return undefined;
  return Number(v);
}

/**
 * The deployment's revisions, from the ReplicaSets it controls: selected by its
 * selector and then filtered by owner uid, because a selector can also match a
 * ReplicaSet some other deployment owns.
 */
export async function readRolloutHistory(clients: KubeClients, namespace: string, name: string, signal: AbortSignal): Promise<RolloutHistory> {
  let date: string | undefined;
  const deployment = await kubeCall(clients, signal, (o) => clients.apps.readNamespacedDeployment({ namespace, name }, o), undefined, (d) => (date = d));
  const serverTime = dateHeaderTime(date);
  const uid = deployment.metadata?.uid;
  const labelSelector = formatSelector(deployment.spec?.selector);
  const owned = labelSelector ? await ownedReplicaSets(clients, namespace, labelSelector, uid, signal) : [];
  const revisions: RolloutRevision[] = [];
  for (const rs of owned) {
    const revision = parseRevision(rs.metadata?.annotations?.[REVISION_ANNOTATION]);
    if (revision === undefined || !rs.spec?.template) continue;
    revisions.push({
      revision,
      replicaSet: assertName(rs.metadata?.name, 'ReplicaSet'),
      template: rs.spec.template,
      createdAt: rs.metadata?.creationTimestamp,
      earlier: rs.metadata?.annotations?.[REVISION_HISTORY_ANNOTATION],
      managedFields: rs.metadata?.managedFields,
    });
  }
  revisions.sort((a, b) => b.revision - a.revision);
  const current = parseRevision(deployment.metadata?.annotations?.[REVISION_ANNOTATION]) ?? revisions[0]?.revision ?? 0;
  return { deployment, current, revisions, serverTime };
}

/** `kubectl rollout undo` without --to-revision: the newest revision that is not the current one. */
export function previousRevision(h: RolloutHistory): RolloutRevision | undefined {
  return h.revisions.find((r) => r.revision !== h.current);
}

// ---------------------------------------------------------------------------
// The `kubernetes:` check block.

export const KUBE_CONDITIONS = ['deployment_ready', 'pod_ready', 'exists'] as const;

/**
 * Wraps one evaluation so an API error is a failed attempt whose detail keeps
 * the HTTP status and the server's reason (the shared loop would keep only the
 * message), and so a validation error never becomes a pass.
 */
export function kubeAttempt(fn: (signal: AbortSignal) => Promise<Attempt>): (signal: AbortSignal) => Promise<Attempt> {
  return async (signal) => {
    try {
      return await fn(signal);
    } catch (err) {
      // A 404 is the cluster's answer (the object is not there). Anything else is not an
      // answer about the object: the API erred, refused (403) or went away, so the check
      // could not read the cluster (see on_no_data).
      if (isKubeStatus(err, 404)) return { pass: false, detail: describeError(err) };
      return { pass: false, detail: describeError(err), unknown: true };
    }
  };
}

export function createKubernetesCheckRunner(clients: KubeClients): CheckRunner<RenderedKubernetesCheck> {
  /** A check that can never pass as written fails at once, without polling its whole timeout. */
  function misfit(check: RenderedKubernetesCheck): string | null {
    if (!(KUBE_CONDITIONS as readonly string[]).includes(check.condition)) {
      return `unknown kubernetes condition ${quoteUntrusted(check.condition)} (known: ${KUBE_CONDITIONS.join(', ')})`;
    }
    if (check.condition === 'deployment_ready' && check.kind !== 'deployment' && check.kind !== 'statefulset') {
      return `condition deployment_ready needs kind deployment or statefulset, got ${check.kind}`;
    }
    if (check.condition === 'pod_ready' && check.kind !== 'pod') return `condition pod_ready needs kind pod, got ${check.kind}`;
    const n = checkParam('k8s_name', check.name);
    if (!n.ok) return `${check.kind} name ${quoteUntrusted(check.name)} ${n.reason}`;
    if (check.kind !== 'node') {
      const ns = check.namespace === null ? ({ ok: false, reason: 'is missing' } as const) : checkParam('k8s_label', check.namespace);
      if (!ns.ok) return `namespace ${quoteUntrusted(check.namespace ?? '')} ${ns.reason}`;
    }
    const min = check.params.min_ready;
    if (min !== undefined && !(typeof min === 'number' && Number.isSafeInteger(min) && min > 0)) {
      return `min_ready must be a whole number above 0, got ${quoteUntrusted(String(min))}`;
    }
    return null;
  }

  async function evaluate(check: RenderedKubernetesCheck, signal: AbortSignal): Promise<Attempt> {
    const name = check.name;
    const ns = check.namespace ?? '';
    const id = check.kind === 'node' ? name : `${ns}/${name}`;
    switch (check.condition) {
      case 'deployment_ready': {
        const w = await readWorkload(clients, { kind: check.kind === 'deployment' ? 'Deployment' : 'StatefulSet', name, namespace: ns }, signal);
        // min_ready is a floor beside the settled rollout, never in place of it: it fails a
        // settled workload with fewer ready replicas (one scaled down below it, or to 0).
        const min = check.params.min_ready as number | undefined;
        const floorMet = min === undefined || w.ready >= min;
        const floor = min === undefined ? '' : floorMet ? ` (min_ready ${min})` : `, fewer than min_ready ${min}`;
        if (!workloadSettled(w) || !floorMet) return { pass: false, detail: `${describeWorkload(w)}${floor}`, observed: `${w.ready}/${w.desired}` };
        // The status lags: right after an eviction or a pod's delete (which leave the
        // generation as it was) it still counts the pod gone as ready until the controllers
        // catch up. The ready pods, as a listing finds them (the workload's own, not
        // terminating), must make up the desired replicas too.
        const podsReady = (await listWorkloadPods(clients, w, signal)).filter((p) => isPodReady(p)).length;
        if (podsReady >= w.desired) return { pass: true, detail: `${describeWorkload(w)}${floor}`, observed: `${w.ready}/${w.desired}` };
        return { pass: false, detail: `${describeWorkload(w)}${floor}; but ${podsReady} ready pod(s) listed (its status lags)`, observed: `${podsReady}/${w.desired}` };
      }
      case 'pod_ready': {
        const pod = await readPod(clients, ns, name, signal);
        const ready = isPodReady(pod);
        return { pass: ready, detail: `pod ${id} is ${ready ? 'Ready' : `not Ready (phase ${pod.status?.phase ?? 'unknown'})`}`, observed: String(ready) };
      }
      default: {
        try {
          if (check.kind === 'pod') await readPod(clients, ns, name, signal);
          else if (check.kind === 'deployment') await kubeCall(clients, signal, (o) => clients.apps.readNamespacedDeployment({ namespace: ns, name }, o));
          else if (check.kind === 'statefulset') await kubeCall(clients, signal, (o) => clients.apps.readNamespacedStatefulSet({ namespace: ns, name }, o));
          else await kubeCall(clients, signal, (o) => clients.core.readNode({ name }, o));
        } catch (err) {
          if (isKubeStatus(err, 404)) return { pass: false, detail: `${check.kind} ${id} not found` };
          throw err;
        }
        return { pass: true, detail: `${check.kind} ${id} exists` };
      }
    }
  }

  return {
    type: 'kubernetes',
    async run(check: RenderedKubernetesCheck, ctx: StepContext): Promise<CheckOutcome> {
      const bad = misfit(check);
      if (bad) return { ok: false, detail: bad, attempts: 0 };
      return poll(kubeAttempt((s) => evaluate(check, s)), {
        timeoutMs: check.timeoutMs,
        intervalMs: check.intervalMs,
        limitMs: ctx.budgetMs,
        noAnswerIsUnknown: true,
        signal: ctx.signal,
      });
    },
  };
}

// ---------------------------------------------------------------------------
// Enrichment: the values an alert does not carry.

export interface KubernetesEnricherOptions {
  /** The cap on `new_replicas` when the incident names no `max_replicas`. */
  defaultMaxReplicas?: number;
}

/**
 * From `namespace` + `pod` (or `pod_name`) finds the owning workload; from
 * `namespace` + `deployment` (or `statefulset`) reads that workload directly. Returns the cluster
 * facts it read (`KUBERNETES_ENRICHMENT.facts`: the workload, its replica counts)
 * whatever the incident says, and names and defaults (`pod_name`, `deployment`,
 * `new_replicas`…) only where the incident gave none; the engine uses the facts
 * over the incident's values. A pod or workload the alert names that is not a
 * valid name, or is not in the namespace, is refused (`EnrichmentRefused`) with
 * that reason, quoting the value; other API errors propagate so the engine fails
 * safe and records why.
 *
 * When the alert names a deployment or a statefulset (`namedWorkload`), that workload's
 * counts are read and its pod is not: the runbook acts on `{deployment}` or
 * `{statefulset}`, so its counts are the ones the plan and its rollback must carry
 * (following the pod once planned 8 → 9 from the pod's deployment and scaled the named
 * one from 3 to 9, and scaled a StatefulSet of 1 to an exporter's 4 + 1), and
 * kube-state-metrics' alerts name the exporter's own pod beside the workload they are
 * about. An alert naming two workloads is refused; a `workload` named beside a pod
 * followed to another owner is too. Unless the
 * runbook acts on the pod (`checkPodOwner`): then the pod is read, and an owner name,
 * `workload_kind` or `replicas` given beside it that is not its owner's is refused,
 * naming both.
 */


export function createKubernetesEnricher(clients: KubeClients, opts: KubernetesEnricherOptions = {}): Enricher {
  const defaultMax = opts.defaultMaxReplicas ?? DEFAULT_MAX_REPLICAS;
  return {
    async enrich(values, signal, opts = {}) {
      const out: Record<string, string> = {};
      const add = (k: string, v: string): void => {
        if (values[k] === undefined && out[k] === undefined) out[k] = v;
      };
      const fact = (k: (typeof KUBERNETES_ENRICHMENT.facts)[number], v: string): void => {
        out[k] = v;
      };
      const ns = values.namespace;
      const podKey = values.pod !== undefined ? 'pod' : 'pod_name';
      const podName = values[podKey];
      const namedOrRefused = namedWorkload(values);
      if (ns === undefined || (podName === undefined && namedOrRefused === undefined)) return out;
      // Two workloads named, two names for one pod that differ, or a value the alert
      // gives that cannot name anything: refused before reading (left out, its refusal
      // would read "no value for placeholder {pod_name}", which is not what happened).
      // The deployment or statefulset the alert names is the one its runbook acts on
      // ({deployment}, {statefulset}): its own counts are read, and the pod is not
      // (kube-state-metrics' alerts name the exporter's pod beside the workload they are
      // about). Only a pod alone is followed to its owner.
      const refused = refusedBeforeClusterRead(values, opts.checkPodOwner === true);
      if (refused) return refused;
      if (namedOrRefused instanceof EnrichmentRefused) return namedOrRefused;
      const named = namedOrRefused;
      // A runbook acting on the pod: the owner names given beside it are checked against the pod's.
      const ownerGiven = podOwnerGiven(values, opts.checkPodOwner === true);
      const namedRef = named && { kind: named.kind, name: named.name, namespace: ns };
      let ref: WorkloadRef | undefined;
      let podFound = false;
      try {
        if (namedRef && !ownerGiven) {
          ref = namedRef;
        } else if (podName !== undefined) {
          let pod: V1Pod | undefined;
          try {
            pod = await readPod(clients, ns, podName, signal);
          } catch (err) {
            if (!isKubeStatus(err, 404)) throw err;
            // Gone, with a workload named beside it: nothing is acted on through the pod
            // (its step finds it gone, done without effect), and the workload is read as
            // when the pod is not followed. Alone, a pod not found is refused; so is one
            // whose runbook's match: reads what only the cluster can say of it: a
            // StatefulSet's pod comes back under its name, and the label beside it would
            // judge the matcher for the pod the step then acts on.
            if (!(ownerGiven && namedRef && opts.matchersReadCluster !== true)) {
              return new EnrichmentRefused(
                `the alert's ${podKey} ${quoteUntrusted(podName)} was not found in namespace ${quoteUntrusted(ns)} (it may have been replaced: a new pod has a new name): nothing was acted on`,
              );
            }
          }
          if (pod) {
            podFound = true;
            add('pod_name', podName);
            const owner = await resolvePodOwner(clients, pod, signal);
            if (owner.ok) ref = owner.ref;
            // An owner name, kind or count given beside the pod must be its owner's; a
            // workload named beside a pod followed, the one whose counts are read.
            const notOwner = refusedByPodOwner(values, opts.checkPodOwner === true, owner.ok ? owner.ref : undefined);
            if (notOwner) return notOwner;
          } else ref = namedRef;
        }
        if (!ref) return out;
        let w: WorkloadState;
        try {
          w = await readWorkload(clients, ref, signal);
        } catch (err) {
          if (named === undefined || !isKubeStatus(err, 404)) throw err;
          return new EnrichmentRefused(`the alert's ${named.key} ${quoteUntrusted(named.name)} was not found in namespace ${quoteUntrusted(ns)}: nothing was acted on`);
        }
        // The pod read, its owner's replica count is the cluster's to say, as its name and kind are.
        if (podFound) {
          const notCount = refusedByOwnersReplicas(values, opts.checkPodOwner === true, { kind: w.kind, name: w.name, replicas: String(w.desired) });
          if (notCount) return notCount;
        }
        add('workload_kind', w.kind);
        add('workload', w.name);
        if (w.kind === 'Deployment') add('deployment', w.name);
        if (w.kind === 'StatefulSet') add('statefulset', w.name);
        add('replicas', String(w.desired));
        fact('ready_replicas', String(w.ready));
        fact('old_replicas', String(w.desired));
        // One more, within the runbook's cap (which the incident's max_replicas may lower,
        // never raise), the cap rendering refuses a scale-up above: worked out against the
        // default alone, a runbook capped at 20 got a deployment's own 12 (a no-op scale).
        add('new_replicas', String(enrichedNewReplicas(w.desired, opts.maxReplicas ?? defaultMax, values[MAX_REPLICAS_VALUE])));
      } catch (err) {
        if (isKubeStatus(err, 404)) return out;
        throw err;
      }
      return out;
    },
  };
}

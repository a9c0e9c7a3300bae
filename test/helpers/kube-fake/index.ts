import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCluster, type DeploymentOptions, type KObj, type PdbOptions, type PodOptions, type Resource } from './cluster.js';
import { FakeApiServer, type RecordedRequest } from './server.js';

/**
 * A Kubernetes API server fake for tests: a real HTTP server on 127.0.0.1
 * speaking the REST protocol @kubernetes/client-node uses. Start one per test
 * (port 0), seed it, point a kubeconfig at it, and assert on `requests`.
 */
export type { DeploymentOptions, KObj, PdbOptions, PodOptions, RecordedRequest, Resource };

export interface KubeFakeOptions {
  /** How long a replacement pod takes to become Ready (default 30ms). */
  readyDelayMs?: number;
  /** How long controllers take to react (default 5ms). */
  controllerDelayMs?: number;
  /** How long a kubelet takes to confirm a gracefully deleted pod stopped (default 0: within the delete). */
  terminationDelayMs?: number;
}

export interface KubeFake {
  readonly url: string;
  readonly cluster: FakeCluster;
  readonly requests: readonly RecordedRequest[];
  /** Requests with this method whose path equals (string) or matches (RegExp). */
  count(method: string, path: string | RegExp): number;
  clearRequests(): void;

  addNode(name: string, opts?: { unschedulable?: boolean }): KObj;
  addDeployment(ns: string, name: string, replicas: number, opts?: DeploymentOptions): { deployment: KObj; replicaSets: KObj[]; pods: KObj[] };
  addStatefulSet(ns: string, name: string, replicas: number, opts?: { readyReplicas?: number; nodeName?: string; ordinalsStart?: number }): { statefulSet: KObj; pods: KObj[] };
  addPod(ns: string, name: string, opts?: PodOptions): KObj;
  addPdb(ns: string, name: string, opts: PdbOptions): KObj;
  get(resource: Resource, ns: string | undefined, name: string): KObj | undefined;
  list(resource: Resource, ns?: string): KObj[];
  setPodReady(ns: string, name: string, ready: boolean): void;
  set readyDelayMs(ms: number);
  get readyDelayMs(): number;
  /**
   * Someone else deletes a pod, as a DELETE to the API server would (graceful: it stays
   * terminating, its deletionTimestamp set, for `terminationDelayMs`).
   */
  deletePod(ns: string, name: string, gracePeriodSeconds?: number): KObj | undefined;
  set terminationDelayMs(ms: number);
  get terminationDelayMs(): number;
  /**
   * The API server's clock (default: the machine's): the timestamps it stamps and its
   * answers' Date header read it. Set it apart from rectify's for a skewed clock.
   */
  set serverNow(now: () => number);
  get serverNow(): () => number;
  /** Whether answers carry a Date header (default true, as the real API server's do); a string is sent as it is. */
  set dateHeader(on: boolean | string);
  get dateHeader(): boolean | string;

  /** The next `times` matching requests answer 409 Conflict, after another writer moved the object on. */
  injectConflict(method: string, path: string, target: { resource: Resource; namespace?: string; name: string }, times?: number): void;
  /** The next `times` matching requests answer this status. */
  injectError(method: string, path: string | RegExp, code: number, reason: string, message: string, times?: number, headers?: Record<string, string>): void;
  /**
   * The next `times` matching requests get their connection cut without an answer:
   * `applied: true` after the server applied the request (a write that landed, its
   * answer lost), `false` before. `then` is called as each cut is made (to inject the
   * fault of a read that follows it).
   */
  injectReset(method: string, path: string | RegExp, opts: { applied: boolean; times?: number; then?: () => void }): void;
  /** The next `times` matching requests wait `ms` before being answered. */
  injectDelay(method: string, path: string | RegExp, ms: number, times?: number): void;
  /** Answers the requests injected delays hold now (a test's gate: inject a long delay, release it when ready). */
  releaseDelays(): void;

  close(): Promise<void>;
}

export async function startKubeFake(opts: KubeFakeOptions = {}): Promise<KubeFake> {
  const cluster = new FakeCluster(opts);
  const server = new FakeApiServer(cluster);
  const url = await server.listen();
  const matches = (p: string | RegExp, path: string): boolean => (typeof p === 'string' ? p === path : p.test(path));
  return {
    url,
    cluster,
    get requests() {
      return server.requests;
    },
    count: (method, path) => server.requests.filter((r) => r.method === method && matches(path, r.path)).length,
    clearRequests: () => {
      server.requests.length = 0;
    },
    addNode: (name, o) => cluster.addNode(name, o),
    addDeployment: (ns, name, replicas, o) => cluster.addDeployment(ns, name, replicas, o),
    addStatefulSet: (ns, name, replicas, o) => cluster.addStatefulSet(ns, name, replicas, o),
    addPod: (ns, name, o) => cluster.addPod(ns, name, o),
    addPdb: (ns, name, o) => cluster.addPdb(ns, name, o),
    get: (r, ns, name) => cluster.get(r, ns, name),
    list: (r, ns) => cluster.list(r, ns),
    setPodReady: (ns, name, ready) => cluster.setPodReady(ns, name, ready),
    set readyDelayMs(ms: number) {
      cluster.readyDelayMs = ms;
    },
    get readyDelayMs() {
      return cluster.readyDelayMs;
    },
    deletePod: (ns, name, grace) => cluster.deletePod(ns, name, grace),
    set terminationDelayMs(ms: number) {
      cluster.terminationDelayMs = ms;
    },
    get terminationDelayMs() {
      return cluster.terminationDelayMs;
    },
    set serverNow(now: () => number) {
      cluster.serverNow = now;
    },
    get serverNow() {
      return cluster.serverNow;
    },
    set dateHeader(on: boolean | string) {
      server.dateHeader = on;
    },
    get dateHeader() {
      return server.dateHeader;
    },
    injectConflict: (method, path, target, times = 1) =>
      server.inject({
        method,
        path,
        status: 409,
        reason: 'Conflict',
        message: `Operation cannot be fulfilled on ${target.resource} "${target.name}": the object has been modified; please apply your changes to the latest version and try again`,
        times,
        touch: target,
      }),
    injectError: (method, path, code, reason, message, times = 1, headers) => server.inject({ method, path, status: code, reason, message, times, ...(headers ? { headers } : {}) }),
    injectReset: (method, path, o) => server.reset({ method, path, applied: o.applied, times: o.times ?? 1, ...(o.then ? { then: o.then } : {}) }),
    injectDelay: (method, path, ms, times = 1) => server.delay({ method, path, ms, times }),
    releaseDelays: () => server.releaseDelays(),
    close: async () => {
      cluster.close();
      await server.close();
    },
  };
}

/**
 * A kubeconfig file for the fake. The server is plain http, which
 * @kubernetes/client-node only accepts with insecure-skip-tls-verify: true.
 * JSON is YAML, so the file is written as JSON.
 */
export async function writeKubeconfig(fakeUrl: string, dir?: string): Promise<string> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'rectify-kube-')));
  const file = join(d, 'kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: fakeUrl, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'rectify', user: { token: 'fake-token' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'rectify', namespace: 'default' } }],
    'current-context': 'fake',
  };
  await writeFile(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}

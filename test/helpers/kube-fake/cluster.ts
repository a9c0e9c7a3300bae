import { randomUUID } from 'node:crypto';
import { clone, stableStringify, type Json } from './patch.js';
import { matchLabelsSelector } from './selectors.js';

/**
 * The fake cluster's state and its controllers. Objects are plain JSON in the
 * shapes the API server serves; resourceVersion is one counter for the whole
 * store, as etcd's revision is. The controllers are deliberately small: a
 * ReplicaSet keeps its pod count (a deleted or evicted pod is replaced under a
 * new name), a Deployment rolls out instantly (a template change makes or
 * reuses a ReplicaSet and gives it the next revision), a StatefulSet recreates
 * its ordinals, new pods become Ready after `readyDelayMs`, and
 * PodDisruptionBudget status follows the pods. A ReplicaSet's managedFields record the
 * controller manager's writes (its spec and metadata entry, its status entry), times
 * and all, as the API server records them. Everything happens a few
 * milliseconds after the request, as in a real cluster, never inside it.
 *
 * Deleting a pod (DELETE or an eviction) is graceful, as the API server does it: a
 * pod a kubelet runs gets its deletionTimestamp (now + the grace period: the
 * request's, else the pod's terminationGracePeriodSeconds, else 30) and
 * deletionGracePeriodSeconds, its controller replaces it at once, and it is removed
 * when its kubelet confirms its containers stopped, `terminationDelayMs` later (0:
 * within the request). A pod no kubelet runs (unscheduled) or one that finished
 * goes at once. Deleting a pod already terminating changes nothing unless it asks
 * for a shorter grace period, which shortens it (0 removes it).
 */

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}
export interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerRef[];
  managedFields?: ManagedFieldsEntry[];
}
/** One writer's fields, as the API server tracks them (server-side field management). */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Update' | 'Apply';
  apiVersion: string;
  /** RFC 3339, whole seconds. */
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Json;
  subresource?: string;
}
export interface KObj {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  // Spec and status are free-form JSON the handlers and controllers read by shape.
  spec?: any;
  status?: any;
}

export const RESOURCES = {
  pods: { group: '', version: 'v1', kind: 'Pod', namespaced: true },
  nodes: { group: '', version: 'v1', kind: 'Node', namespaced: false },
  deployments: { group: 'apps', version: 'v1', kind: 'Deployment', namespaced: true },
  replicasets: { group: 'apps', version: 'v1', kind: 'ReplicaSet', namespaced: true },
  statefulsets: { group: 'apps', version: 'v1', kind: 'StatefulSet', namespaced: true },
  daemonsets: { group: 'apps', version: 'v1', kind: 'DaemonSet', namespaced: true },
  poddisruptionbudgets: { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', namespaced: true },
} as const;
export type Resource = keyof typeof RESOURCES;

/** The manager name the controller manager's writes carry (its deployment and ReplicaSet controllers'). */
export const CONTROLLER_MANAGER = 'kube-controller-manager';
export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const HASH_LABEL = 'pod-template-hash';

function fnv(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36).padStart(7, '0').slice(0, 10);
}
function suffix(): string {
  const a = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += a[Math.floor(Math.random() * a.length)];
  return s;
}

export interface PodOptions {
  nodeName?: string;
  labels?: Record<string, string>;
  ready?: boolean;
  phase?: string;
  restartCount?: number;
  /** ISO time of the last container termination (for "recent" restarts). */
  lastTerminatedAt?: string;
  owner?: { kind: 'DaemonSet' | 'Job' | 'ReplicaSet' | 'StatefulSet'; name: string; uid?: string };
  mirror?: boolean;
  annotations?: Record<string, string>;
  /** spec.volumes, as written (`[{name: 'cache', emptyDir: {}}]`). */
  volumes?: unknown[];
}
export interface DeploymentOptions {
  /** How many ReplicaSet revisions exist (1..n); the deployment runs the last. Default 1. */
  revisions?: number;
  /**
   * When the last revision's ReplicaSet was created (ms), each earlier one a minute before
   * the next. Default: serverNow.
   */
  rolledOutAt?: number;
  /** Names for the first pods (e.g. the incident's pod). */
  podNames?: string[];
  /** Node(s) for the pods, round-robin; default: the schedulable nodes, round-robin. */
  nodeName?: string | string[];
  /** Ready pods at the start (default: all). */
  readyReplicas?: number;
  restartCount?: number;
  lastTerminatedAt?: string;
  labels?: Record<string, string>;
  paused?: boolean;
}
export interface PdbOptions {
  matchLabels: Record<string, string>;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  /** Pins status.disruptionsAllowed, whatever the pods say. */
  disruptionsAllowed?: number;
}

export class FakeCluster {
  private rv = 1;
  private readonly objects = new Map<Resource, Map<string, KObj>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private nodeCursor = 0;
  private readonly pinned = new Map<string, number>();
  /** How long a new pod takes to become Ready. */
  readyDelayMs: number;
  /** How long controllers take to notice a change. */
  controllerDelayMs: number;
  /**
   * How long a kubelet takes to stop a gracefully deleted pod and confirm it: 0 (the
   * default), within the delete itself; a long one holds pods terminating (a slow
   * shutdown, a kubelet the API server cannot reach).
   */
  terminationDelayMs: number;
  /**
   * The API server's clock: the timestamps it stamps (creation, deletion) and its answers'
   * Date header read it. The machine's clock by default; a test sets it apart from rectify's
   * (a skewed clock), or stops it.
   */
  serverNow: () => number = () => Date.now();

  constructor(opts: { readyDelayMs?: number; controllerDelayMs?: number; terminationDelayMs?: number } = {}) {
    this.readyDelayMs = opts.readyDelayMs ?? 30;
    this.controllerDelayMs = opts.controllerDelayMs ?? 5;
    this.terminationDelayMs = opts.terminationDelayMs ?? 0;
    for (const r of Object.keys(RESOURCES) as Resource[]) this.objects.set(r, new Map());
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  nextRv(): string {
    return String(++this.rv);
  }
  currentRv(): string {
    return String(this.rv);
  }

  private key(ns: string | undefined, name: string): string {
    return `${ns ?? ''}/${name}`;
  }
  private table(r: Resource): Map<string, KObj> {
    return this.objects.get(r)!;
  }

  get(r: Resource, ns: string | undefined, name: string): KObj | undefined {
    return this.table(r).get(this.key(ns, name));
  }
  list(r: Resource, ns?: string): KObj[] {
    return [...this.table(r).values()].filter((o) => ns === undefined || o.metadata.namespace === ns);
  }

  /** Stores an object as written (new uid/rv for creates), bumping generation when the spec changed. */
  put(r: Resource, obj: KObj): KObj {
    const t = this.table(r);
    const k = this.key(obj.metadata.namespace, obj.metadata.name);
    const prev = t.get(k);
    const next = clone(obj);
    next.metadata.resourceVersion = this.nextRv();
    if (!prev) {
      next.metadata.uid ||= randomUUID();
      next.metadata.creationTimestamp ||= new Date(this.serverNow()).toISOString();
      if (r !== 'pods' && r !== 'nodes') next.metadata.generation = 1;
    } else if (r !== 'pods' && r !== 'nodes' && stableStringify(prev.spec) !== stableStringify(next.spec)) {
      next.metadata.generation = (prev.metadata.generation ?? 1) + 1;
    }
    t.set(k, next);
    this.afterChange(r, next);
    return next;
  }

  remove(r: Resource, ns: string | undefined, name: string): KObj | undefined {
    const t = this.table(r);
    const k = this.key(ns, name);
    const prev = t.get(k);
    if (!prev) return undefined;
    t.delete(k);
    this.nextRv();
    if (r === 'pods') this.afterPodGone(prev);
    return prev;
  }

  /**
   * A pod's deletion as the API server carries it out (the Pod strategy's graceful
   * delete): what the DELETE answers, the pod as it is afterwards (terminating, or as it
   * was when removed), or undefined when there is no such pod. The caller has checked
   * the request's preconditions.
   */
  deletePod(ns: string, name: string, gracePeriodSeconds?: number): KObj | undefined {
    const pod = this.get('pods', ns, name);
    if (!pod) return undefined;
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    const current = pod.metadata.deletionGracePeriodSeconds;
    let grace: number;
    if (pod.metadata.deletionTimestamp && current) {
      // Already being deleted: its grace period may only be shortened; a delete that
      // names none, or a longer one, is answered with the pod as it is.
      if (gracePeriodSeconds === undefined || gracePeriodSeconds >= current) return clone(pod);
      grace = Math.max(0, gracePeriodSeconds);
    } else if (pod.metadata.deletionTimestamp) grace = 0;
    // No kubelet runs it, or its containers are done: nothing to wait for.
    else grace = !pod.spec?.nodeName || finished ? 0 : Math.max(0, gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30);
    if (grace === 0) {
      pod.metadata.deletionTimestamp = new Date(this.serverNow()).toISOString();
      pod.metadata.deletionGracePeriodSeconds = 0;
      return this.remove('pods', ns, name);
    }
    pod.metadata.deletionTimestamp = new Date(this.serverNow() + grace * 1000).toISOString();
    pod.metadata.deletionGracePeriodSeconds = grace;
    pod.metadata.resourceVersion = this.nextRv();
    const answer = clone(pod);
    // Shortened: the kubelet of the first deletion is already on it.
    if (current) return answer;
    const uid = pod.metadata.uid;
    // The kubelet stops the containers and deletes the pod for good.
    const confirm = (): void => {
      const cur = this.get('pods', ns, name);
      if (cur?.metadata.uid === uid && cur.metadata.deletionTimestamp) this.remove('pods', ns, name);
    };
    if (this.terminationDelayMs <= 0) confirm();
    else {
      // Its controller sees it terminating and replaces it meanwhile.
      this.afterPodGone(pod);
      this.later(this.terminationDelayMs, confirm);
    }
    return answer;
  }

  /** Writes status without a spec change (controllers); bumps resourceVersion only when it changed. */
  private setStatus(r: Resource, obj: KObj, status: unknown): void {
    const cur = this.get(r, obj.metadata.namespace, obj.metadata.name);
    if (!cur || stableStringify(cur.status) === stableStringify(status)) return;
    cur.status = clone(status);
    cur.metadata.resourceVersion = this.nextRv();
    if (r === 'replicasets') this.managed(cur, 'status', { 'f:status': Object.fromEntries(Object.keys(cur.status as object).map((k) => [`f:${k}`, {}])) });
  }

  /**
   * Records a write of the controller manager in the object's managedFields, as the API
   * server does: its entry (one per subresource) lists the fields it owns, and its time
   * (whole seconds) moves on to the write's, which changed a field it owns.
   */
  private managed(obj: KObj, subresource: '' | 'status', fieldsV1: Json, at = this.serverNow()): void {
    const entry: ManagedFieldsEntry = {
      manager: CONTROLLER_MANAGER,
      operation: 'Update',
      apiVersion: obj.apiVersion,
      time: new Date(Math.floor(at / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      fieldsType: 'FieldsV1',
      fieldsV1,
      ...(subresource ? { subresource } : {}),
    };
    const others = (obj.metadata.managedFields ?? []).filter((e) => !(e.manager === CONTROLLER_MANAGER && e.operation === 'Update' && (e.subresource ?? '') === subresource));
    obj.metadata.managedFields = [...others, entry];
  }

  /** A ReplicaSet as the deployment controller writes it (create, rollout back, scale): its managedFields entry for the fields it sets. */
  private byDeploymentController(rs: KObj, at?: number): KObj {
    const keys = (o: Record<string, unknown> | undefined): Record<string, Json> => Object.fromEntries(Object.keys(o ?? {}).map((k) => [`f:${k}`, {}]));
    this.managed(
      rs,
      '',
      {
        'f:metadata': {
          'f:annotations': { '.': {}, ...keys(rs.metadata.annotations) },
          'f:labels': { '.': {}, ...keys(rs.metadata.labels) },
          'f:ownerReferences': Object.fromEntries((rs.metadata.ownerReferences ?? []).map((o) => [`k:{"uid":"${o.uid}"}`, {}])),
        },
        'f:spec': { 'f:replicas': {}, 'f:selector': {}, 'f:template': {} },
      },
      at,
    );
    return rs;
  }

  // -------------------------------------------------------------------------
  // Controllers

  private afterChange(r: Resource, obj: KObj): void {
    if (r === 'deployments') this.later(this.controllerDelayMs, () => this.reconcileDeployment(obj.metadata.namespace!, obj.metadata.name));
    else if (r === 'replicasets') this.later(this.controllerDelayMs, () => this.reconcileReplicaSet(obj.metadata.namespace!, obj.metadata.name));
    else if (r === 'statefulsets') this.later(this.controllerDelayMs, () => this.reconcileStatefulSet(obj.metadata.namespace!, obj.metadata.name));
    else if (r === 'pods') this.later(this.controllerDelayMs, () => this.refreshStatuses(obj.metadata.namespace!));
  }

  private afterPodGone(pod: KObj): void {
    const ctrl = pod.metadata.ownerReferences?.find((o) => o.controller);
    const ns = pod.metadata.namespace!;
    this.later(this.controllerDelayMs, () => {
      if (ctrl?.kind === 'ReplicaSet') this.reconcileReplicaSet(ns, ctrl.name);
      else if (ctrl?.kind === 'StatefulSet') this.reconcileStatefulSet(ns, ctrl.name);
      this.refreshStatuses(ns);
    });
  }

  private ownedBy(r: Resource, ns: string, uid: string): KObj[] {
    return this.list(r, ns).filter((o) => o.metadata.ownerReferences?.some((ref) => ref.controller && ref.uid === uid));
  }

  private templateKey(template: unknown): string {
    const t = clone(template) as { metadata?: { labels?: Record<string, string> } };
    if (t?.metadata?.labels) delete t.metadata.labels[HASH_LABEL];
    return stableStringify(t);
  }

  reconcileDeployment(ns: string, name: string): void {
    const dep = this.get('deployments', ns, name);
    if (!dep) return;
    const rss = this.ownedBy('replicasets', ns, dep.metadata.uid);
    const want = this.templateKey(dep.spec.template);
    const maxRev = Math.max(0, ...rss.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0)));
    let active = rss.find((rs) => this.templateKey(rs.spec.template) === want);
    const replicas: number = dep.spec.replicas ?? 1;
    if (!active) {
      const hash = fnv(want);
      const template = clone(dep.spec.template);
      template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash } };
      active = this.put('replicasets', this.byDeploymentController({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace: ns,
          uid: '',
          resourceVersion: '',
          creationTimestamp: '',
          labels: { ...(template.metadata.labels as Record<string, string>) },
          annotations: { [REVISION]: String(maxRev + 1) },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: { replicas, selector: { matchLabels: { ...(dep.spec.selector?.matchLabels ?? {}), [HASH_LABEL]: hash } }, template },
      }));
    } else if (Number(active.metadata.annotations?.[REVISION] ?? 0) !== maxRev) {
      // Rolling back to an old template reuses its ReplicaSet under the next revision number;
      // the revisions it was before are kept in its revision-history annotation, as the
      // deployment controller keeps them.
      const a = clone(active);
      const was = a.metadata.annotations?.[REVISION];
      const history = a.metadata.annotations?.[REVISION_HISTORY];
      a.metadata.annotations = {
        ...(a.metadata.annotations ?? {}),
        [REVISION]: String(maxRev + 1),
        ...(was !== undefined ? { [REVISION_HISTORY]: history ? `${history},${was}` : was } : {}),
      };
      active = this.put('replicasets', this.byDeploymentController(a));
    }
    const rev = active.metadata.annotations?.[REVISION] ?? '1';
    if (dep.metadata.annotations?.[REVISION] !== rev) {
      dep.metadata.annotations = { ...(dep.metadata.annotations ?? {}), [REVISION]: rev };
      dep.metadata.resourceVersion = this.nextRv();
    }
    for (const rs of this.ownedBy('replicasets', ns, dep.metadata.uid)) {
      const target = rs.metadata.uid === active.metadata.uid ? replicas : 0;
      if (rs.spec.replicas !== target) {
        const c = clone(rs);
        c.spec.replicas = target;
        this.put('replicasets', this.byDeploymentController(c));
      } else {
        this.reconcileReplicaSet(ns, rs.metadata.name);
      }
    }
    this.refreshStatuses(ns);
  }

  reconcileReplicaSet(ns: string, name: string): void {
    const rs = this.get('replicasets', ns, name);
    if (!rs) return;
    const pods = this.ownedBy('pods', ns, rs.metadata.uid).filter((p) => !p.metadata.deletionTimestamp);
    const want: number = rs.spec.replicas ?? 1;
    for (let i = pods.length; i < want; i++) {
      this.createPod(ns, `${name}-${suffix()}`, rs.spec.template, { kind: 'ReplicaSet', name, uid: rs.metadata.uid });
    }
    // Scale down: newest first, as the ReplicaSet controller prefers.
    const extra = pods.sort((a, b) => b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp)).slice(0, Math.max(0, pods.length - want));
    for (const p of extra) this.remove('pods', ns, p.metadata.name);
    this.refreshStatuses(ns);
  }

  reconcileStatefulSet(ns: string, name: string): void {
    const sts = this.get('statefulsets', ns, name);
    if (!sts) return;
    const want: number = sts.spec.replicas ?? 1;
    // spec.ordinals.start: the first ordinal (0 when unset).
    const start: number = sts.spec.ordinals?.start ?? 0;
    for (let i = start; i < start + want; i++) {
      if (!this.get('pods', ns, `${name}-${i}`)) {
        this.createPod(ns, `${name}-${i}`, sts.spec.template, { kind: 'StatefulSet', name, uid: sts.metadata.uid });
      }
    }
    for (const p of this.ownedBy('pods', ns, sts.metadata.uid)) {
      const ord = Number(p.metadata.name.slice(name.length + 1));
      if (ord < start || ord >= start + want) this.remove('pods', ns, p.metadata.name);
    }
    this.refreshStatuses(ns);
  }

  private pickNode(): string | undefined {
    const nodes = this.list('nodes').filter((n) => !n.spec?.unschedulable);
    if (nodes.length === 0) return undefined;
    return nodes[this.nodeCursor++ % nodes.length]!.metadata.name;
  }

  private createPod(ns: string, name: string, template: { metadata?: { labels?: Record<string, string> }; spec?: unknown }, owner: { kind: string; name: string; uid: string }): KObj {
    const nodeName = this.pickNode();
    const pod = this.put('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        labels: { ...(template.metadata?.labels ?? {}) },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...(clone(template.spec as Json) as object), ...(nodeName ? { nodeName } : {}) },
      status: podStatus(nodeName ? 'Running' : 'Pending', false, 0),
    });
    // Only a scheduled pod can become Ready: with every node cordoned, it stays Pending.
    if (nodeName) this.later(this.readyDelayMs, () => this.setPodReady(ns, name, true, pod.metadata.uid));
    return pod;
  }

  setPodReady(ns: string, name: string, ready: boolean, uid?: string): void {
    const pod = this.get('pods', ns, name);
    if (!pod || (uid && pod.metadata.uid !== uid)) return;
    const cs = pod.status?.containerStatuses?.[0];
    this.setStatus('pods', pod, podStatus('Running', ready, cs?.restartCount ?? 0, cs?.lastState?.terminated?.finishedAt));
    this.refreshStatuses(ns);
  }

  /** Workload and PDB status from the pods, as their controllers would write it. */
  refreshStatuses(ns: string): void {
    const pods = this.list('pods', ns).filter((p) => !p.metadata.deletionTimestamp);
    const ready = (p: KObj): boolean => p.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') === true;
    for (const rs of this.list('replicasets', ns)) {
      const own = pods.filter((p) => p.metadata.ownerReferences?.some((o) => o.controller && o.uid === rs.metadata.uid));
      const r = own.filter(ready).length;
      this.setStatus('replicasets', rs, { replicas: own.length, readyReplicas: r, availableReplicas: r, observedGeneration: rs.metadata.generation });
    }
    for (const dep of this.list('deployments', ns)) {
      const rss = this.ownedBy('replicasets', ns, dep.metadata.uid);
      const active = rss.find((rs) => rs.metadata.annotations?.[REVISION] === dep.metadata.annotations?.[REVISION]);
      const own = pods.filter((p) => rss.some((rs) => p.metadata.ownerReferences?.some((o) => o.controller && o.uid === rs.metadata.uid)));
      const updated = active ? own.filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === active.metadata.uid)).length : 0;
      const r = own.filter(ready).length;
      const desired: number = dep.spec.replicas ?? 1;
      this.setStatus('deployments', dep, {
        observedGeneration: active ? dep.metadata.generation : (dep.status?.observedGeneration ?? 0),
        replicas: own.length,
        updatedReplicas: updated,
        readyReplicas: r,
        availableReplicas: r,
        unavailableReplicas: Math.max(0, desired - r),
      });
    }
    for (const sts of this.list('statefulsets', ns)) {
      const own = pods.filter((p) => p.metadata.ownerReferences?.some((o) => o.controller && o.uid === sts.metadata.uid));
      const r = own.filter(ready).length;
      this.setStatus('statefulsets', sts, {
        observedGeneration: sts.metadata.generation,
        replicas: own.length,
        readyReplicas: r,
        currentReplicas: own.length,
        updatedReplicas: own.length,
        availableReplicas: r,
      });
    }
    for (const pdb of this.list('poddisruptionbudgets', ns)) {
      const sel = pods.filter((p) => matchLabelsSelector(pdb.spec.selector?.matchLabels, p.metadata.labels));
      const expected = sel.length;
      const healthy = sel.filter(ready).length;
      const scaled = (v: number | string | undefined, up: boolean): number | undefined => {
        if (v === undefined) return undefined;
        if (typeof v === 'number') return v;
        const pct = Number(v.replace('%', ''));
        return up ? Math.ceil((expected * pct) / 100) : Math.floor((expected * pct) / 100);
      };
      const minA = scaled(pdb.spec.minAvailable, true);
      const maxU = scaled(pdb.spec.maxUnavailable, true);
      const desiredHealthy = minA ?? (maxU !== undefined ? Math.max(0, expected - maxU) : 0);
      const pinned = this.pinned.get(this.key(ns, pdb.metadata.name));
      this.setStatus('poddisruptionbudgets', pdb, {
        observedGeneration: pdb.metadata.generation,
        expectedPods: expected,
        currentHealthy: healthy,
        desiredHealthy,
        disruptionsAllowed: pinned ?? Math.max(0, healthy - desiredHealthy),
      });
    }
  }

  // -------------------------------------------------------------------------
  // Seeding (tests)

  addNode(name: string, opts: { unschedulable?: boolean } = {}): KObj {
    return this.put('nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, uid: '', resourceVersion: '', creationTimestamp: '', labels: { 'kubernetes.io/hostname': name } },
      spec: opts.unschedulable ? { unschedulable: true } : {},
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
  }

  addPod(ns: string, name: string, opts: PodOptions = {}): KObj {
    const owner = opts.owner;
    const annotations = { ...(opts.annotations ?? {}), ...(opts.mirror ? { 'kubernetes.io/config.mirror': 'mirror-hash' } : {}) };
    const pod = this.put('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        labels: opts.labels ?? {},
        ...(Object.keys(annotations).length ? { annotations } : {}),
        ...(owner
          ? { ownerReferences: [{ apiVersion: owner.kind === 'Job' ? 'batch/v1' : 'apps/v1', kind: owner.kind, name: owner.name, uid: owner.uid ?? randomUUID(), controller: true }] }
          : {}),
      },
      spec: { containers: [{ name: 'main', image: 'example/app:1' }], ...(opts.nodeName ? { nodeName: opts.nodeName } : {}), ...(opts.volumes ? { volumes: opts.volumes } : {}) },
      status: podStatus(opts.phase ?? 'Running', opts.ready ?? true, opts.restartCount ?? 0, opts.lastTerminatedAt),
    });
    return pod;
  }

  addDeployment(ns: string, name: string, replicas: number, opts: DeploymentOptions = {}): { deployment: KObj; replicaSets: KObj[]; pods: KObj[] } {
    const revisions = Math.max(1, opts.revisions ?? 1);
    const rolledOutAt = opts.rolledOutAt ?? this.serverNow();
    const labels = opts.labels ?? { app: name };
    const template = (rev: number): { metadata: { labels: Record<string, string> }; spec: unknown } => ({
      metadata: { labels: { ...labels } },
      spec: { containers: [{ name, image: `example/${name}:v${rev}` }] },
    });
    const dep = this.putQuiet('deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, uid: randomUUID(), resourceVersion: '', creationTimestamp: new Date(this.serverNow()).toISOString(), generation: 1, labels: { ...labels }, annotations: { [REVISION]: String(revisions) } },
      spec: { replicas, selector: { matchLabels: { ...labels } }, template: template(revisions), strategy: { type: 'RollingUpdate' }, ...(opts.paused ? { paused: true } : {}) },
      status: {},
    });
    const replicaSets: KObj[] = [];
    for (let rev = 1; rev <= revisions; rev++) {
      const t = template(rev);
      const hash = fnv(this.templateKey(t));
      t.metadata.labels[HASH_LABEL] = hash;
      const createdAt = rolledOutAt - (revisions - rev) * 60_000;
      replicaSets.push(
        this.putQuiet('replicasets', this.byDeploymentController({
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: {
            name: `${name}-${hash}`,
            namespace: ns,
            uid: randomUUID(),
            resourceVersion: '',
            creationTimestamp: new Date(createdAt).toISOString(),
            generation: 1,
            labels: { ...t.metadata.labels },
            annotations: { [REVISION]: String(rev) },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }],
          },
          spec: { replicas: rev === revisions ? replicas : 0, selector: { matchLabels: { ...labels, [HASH_LABEL]: hash } }, template: t },
          status: {},
        }, createdAt)),
      );
    }
    const active = replicaSets[replicaSets.length - 1]!;
    const nodes = opts.nodeName === undefined ? undefined : Array.isArray(opts.nodeName) ? opts.nodeName : [opts.nodeName];
    const readyCount = opts.readyReplicas ?? replicas;
    const pods: KObj[] = [];
    for (let i = 0; i < replicas; i++) {
      const podName = opts.podNames?.[i] ?? `${active.metadata.name}-${suffix()}`;
      const nodeName = nodes ? nodes[i % nodes.length] : this.pickNode();
      pods.push(
        this.addPod(ns, podName, {
          labels: { ...(active.spec.template.metadata.labels as Record<string, string>) },
          owner: { kind: 'ReplicaSet', name: active.metadata.name, uid: active.metadata.uid },
          ready: i < readyCount,
          restartCount: opts.restartCount ?? 0,
          ...(opts.lastTerminatedAt ? { lastTerminatedAt: opts.lastTerminatedAt } : {}),
          ...(nodeName ? { nodeName } : {}),
        }),
      );
    }
    this.refreshStatuses(ns);
    return { deployment: this.get('deployments', ns, name)!, replicaSets, pods };
  }

  addStatefulSet(ns: string, name: string, replicas: number, opts: { readyReplicas?: number; nodeName?: string; ordinalsStart?: number } = {}): { statefulSet: KObj; pods: KObj[] } {
    const labels = { app: name };
    const sts = this.putQuiet('statefulsets', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: ns, uid: randomUUID(), resourceVersion: '', creationTimestamp: new Date(this.serverNow()).toISOString(), generation: 1, labels },
      spec: {
        replicas,
        ...(opts.ordinalsStart !== undefined ? { ordinals: { start: opts.ordinalsStart } } : {}),
        serviceName: name, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image: `example/${name}:v1` }] } } },
      status: {},
    });
    const pods: KObj[] = [];
    for (let i = 0; i < replicas; i++) {
      const nodeName = opts.nodeName ?? this.pickNode();
      pods.push(
        this.addPod(ns, `${name}-${(opts.ordinalsStart ?? 0) + i}`, {
          labels,
          owner: { kind: 'StatefulSet', name, uid: sts.metadata.uid },
          ready: i < (opts.readyReplicas ?? replicas),
          ...(nodeName ? { nodeName } : {}),
        }),
      );
    }
    this.refreshStatuses(ns);
    return { statefulSet: this.get('statefulsets', ns, name)!, pods };
  }

  addPdb(ns: string, name: string, opts: PdbOptions): KObj {
    if (opts.disruptionsAllowed !== undefined) this.pinned.set(this.key(ns, name), opts.disruptionsAllowed);
    const pdb = this.putQuiet('poddisruptionbudgets', {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: ns, uid: randomUUID(), resourceVersion: '', creationTimestamp: new Date(this.serverNow()).toISOString(), generation: 1 },
      spec: {
        selector: { matchLabels: opts.matchLabels },
        ...(opts.minAvailable !== undefined ? { minAvailable: opts.minAvailable } : {}),
        ...(opts.maxUnavailable !== undefined ? { maxUnavailable: opts.maxUnavailable } : {}),
      },
      status: {},
    });
    this.refreshStatuses(ns);
    return this.get('poddisruptionbudgets', ns, pdb.metadata.name)!;
  }

  /** Stores a seed object without waking controllers (the seed is already consistent). */
  private putQuiet(r: Resource, obj: KObj): KObj {
    const next = clone(obj);
    next.metadata.resourceVersion = this.nextRv();
    this.table(r).set(this.key(next.metadata.namespace, next.metadata.name), next);
    return next;
  }

  /** Simulates another writer: the object's resourceVersion moves on. */
  touch(r: Resource, ns: string | undefined, name: string): void {
    const o = this.get(r, ns, name);
    if (o) o.metadata.resourceVersion = this.nextRv();
  }
}

export function podStatus(phase: string, ready: boolean, restartCount: number, lastTerminatedAt?: string): Record<string, unknown> {
  return {
    phase,
    conditions: [
      { type: 'PodScheduled', status: phase === 'Pending' ? 'False' : 'True' },
      { type: 'Ready', status: ready ? 'True' : 'False' },
      { type: 'ContainersReady', status: ready ? 'True' : 'False' },
    ],
    containerStatuses: [
      {
        name: 'main',
        ready,
        restartCount,
        image: 'example/app',
        imageID: '',
        started: phase === 'Running',
        state: ready ? { running: { startedAt: new Date().toISOString() } } : { waiting: { reason: restartCount > 0 ? 'CrashLoopBackOff' : 'ContainerCreating' } },
        ...(lastTerminatedAt ? { lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: lastTerminatedAt } } } : {}),
      },
    ],
  };
}

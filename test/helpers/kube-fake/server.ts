import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeCluster, RESOURCES, type KObj, type Resource } from './cluster.js';
import { clone, jsonPatch, mergePatch, PatchError, strategicMergePatch, type Json } from './patch.js';
import { matchesLabels, matchLabelsSelector, parseFieldSelector, parseLabelSelector } from './selectors.js';

/**
 * The HTTP face of the fake: the REST paths, verbs, content types and Status
 * errors of the real API server, for the resources rectify touches. Every
 * request is recorded so tests can assert exact calls ("no DELETE was sent").
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  body: unknown;
  authorization: boolean;
  /** The status it was answered with; unset while unanswered, or when its connection was cut. */
  status?: number;
}

export interface InjectedFault {
  method: string;
  /** Exact path, or a RegExp over it. */
  path: string | RegExp;
  status: number;
  reason: string;
  message: string;
  /** How many matching requests get the fault. */
  times: number;
  /** Before answering, move the target's resourceVersion on (a concurrent writer). */
  touch?: { resource: Resource; namespace?: string; name: string };
  /** Extra response headers (a 429's Retry-After). */
  headers?: Record<string, string>;
}
/** A connection cut without an answer: before the request is applied, or after (the write landed, its answer lost). */
export interface InjectedReset {
  method: string;
  path: string | RegExp;
  applied: boolean;
  times: number;
  /** Called as each cut is made (a test's next fault: a read after the cut that fails, say). */
  then?: () => void;
}
export interface InjectedDelay {
  method: string;
  path: string | RegExp;
  ms: number;
  times: number;
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

const PATCH_TYPES = new Set(['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json']);

interface Route {
  resource: Resource;
  namespace: string | undefined;
  name: string | undefined;
  sub: string | undefined;
}

function parsePath(path: string): Route | null {
  const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
  let i: number;
  let group: string;
  if (segs[0] === 'api' && segs[1] === 'v1') {
    group = '';
    i = 2;
  } else if (segs[0] === 'apis' && segs.length >= 3) {
    group = segs[1]!;
    if (segs[2] !== 'v1') return null;
    i = 3;
  } else return null;
  let namespace: string | undefined;
  if (segs[i] === 'namespaces' && segs.length > i + 2) {
    namespace = segs[i + 1];
    i += 2;
  }
  const resource = segs[i] as Resource | undefined;
  if (!resource || !(resource in RESOURCES) || RESOURCES[resource].group !== group) return null;
  if (RESOURCES[resource].namespaced === false && namespace !== undefined) return null;
  const name = segs[i + 1];
  const sub = segs[i + 2];
  if (segs.length > i + 3) return null;
  return { resource, namespace, name, sub };
}

function matches(m: { method: string; path: string | RegExp }, method: string, path: string): boolean {
  return m.method === method && (typeof m.path === 'string' ? m.path === path : m.path.test(path));
}

export class FakeApiServer {
  readonly cluster: FakeCluster;
  readonly requests: RecordedRequest[] = [];
  private readonly faults: InjectedFault[] = [];
  private readonly delays: InjectedDelay[] = [];
  private readonly resets: InjectedReset[] = [];
  private server: Server | undefined;
  /** Each request's record, to note the status it is answered with. */
  private readonly recorded = new WeakMap<ServerResponse, RecordedRequest>();
  /** Pending injected delays: released on close, so a test's process does not wait them out. */
  private readonly waits = new Set<() => void>();
  url = '';
  /** Whether answers carry a Date header; a string is sent as it is (a proxy's, a broken one). */
  dateHeader: boolean | string = true;

  constructor(cluster: FakeCluster) {
    this.cluster = cluster;
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.send(res, 500, status(500, 'InternalError', String(err)));
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const release of this.waits) release();
    this.waits.clear();
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  inject(f: InjectedFault): void {
    this.faults.push({ ...f });
  }
  reset(r: InjectedReset): void {
    this.resets.push({ ...r });
  }
  delay(d: InjectedDelay): void {
    this.delays.push({ ...d });
  }
  /** Answers every request an injected delay holds now, without waiting the delay out. */
  releaseDelays(): void {
    for (const release of [...this.waits]) release();
  }

  private send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    // Every answer carries the time by the API server's clock (the cluster's), as the real
    // one's do (Go's net/http writes it); `dateHeader: false` leaves it out.
    res.sendDate = false;
    const date: Record<string, string> =
      typeof this.dateHeader === 'string' ? { date: this.dateHeader } : this.dateHeader ? { date: new Date(this.cluster.serverNow()).toUTCString() } : {};
    const rec = this.recorded.get(res);
    if (rec) rec.status = code;
    res.writeHead(code, { ...date, ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        const rec: RecordedRequest = { method, path: url.pathname, query: url.search, contentType, body: raw, authorization: !!req.headers.authorization };
        this.requests.push(rec);
        this.recorded.set(res, rec);
        return this.send(res, 400, status(400, 'BadRequest', 'request body is not JSON'));
      }
    }
    const rec: RecordedRequest = { method, path: url.pathname, query: url.search, contentType, body, authorization: !!req.headers.authorization };
    this.requests.push(rec);
    this.recorded.set(res, rec);

    const d = this.delays.find((x) => x.times > 0 && matches(x, method, url.pathname));
    if (d) {
      d.times--;
      await new Promise<void>((resolve) => {
        const release = (): void => {
          clearTimeout(t);
          this.waits.delete(release);
          resolve();
        };
        const t = setTimeout(release, d.ms);
        this.waits.add(release);
        // The client gave up (abort): stop holding the request.
        res.once('close', release);
      });
      // (Not req.destroyed: a request whose body was read is destroyed by then.)
      if (res.destroyed || res.writableEnded) return;
    }
    const f = this.faults.find((x) => x.times > 0 && matches(x, method, url.pathname));
    if (f) {
      f.times--;
      if (f.touch) this.cluster.touch(f.touch.resource, f.touch.namespace, f.touch.name);
      return this.send(res, f.status, status(f.status, f.reason, f.message), f.headers);
    }
    const cut = this.resets.find((x) => x.times > 0 && matches(x, method, url.pathname));
    if (cut) {
      cut.times--;
      cut.then?.();
    }
    if (cut && !cut.applied) return void req.socket.destroy();

    const route = parsePath(url.pathname);
    if (!route) return this.send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const r = this.route(method, route, url.searchParams, contentType, body);
    // Applied, and the connection is cut before the answer: the client cannot know.
    if (cut) return void req.socket.destroy();
    this.send(res, r.code, r.body);
  }

  private route(method: string, rt: Route, q: URLSearchParams, contentType: string | undefined, body: unknown): { code: number; body: unknown } {
    const def = RESOURCES[rt.resource];
    const kindLower = `${rt.resource}${def.group ? `.${def.group}` : ''}`;
    const notFound = (): { code: number; body: unknown } => ({
      code: 404,
      body: status(404, 'NotFound', `${kindLower} "${rt.name}" not found`, { name: rt.name, group: def.group, kind: rt.resource }),
    });
    const conflict = (): { code: number; body: unknown } => ({
      code: 409,
      body: status(409, 'Conflict', `Operation cannot be fulfilled on ${kindLower} "${rt.name}": the object has been modified; please apply your changes to the latest version and try again`, {
        name: rt.name,
        group: def.group,
        kind: rt.resource,
      }),
    });

    if (rt.name === undefined) {
      if (method === 'GET') {
        const labels = parseLabelSelector(q.get('labelSelector'));
        let fields: Array<(o: unknown) => boolean>;
        try {
          fields = parseFieldSelector(q.get('fieldSelector'));
        } catch (err) {
          return { code: 400, body: status(400, 'BadRequest', String(err)) };
        }
        const items = this.cluster
          .list(rt.resource, rt.namespace)
          .filter((o) => matchesLabels(labels, o.metadata.labels) && fields.every((f) => f(o)))
          .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
        return {
          code: 200,
          body: { apiVersion: def.group ? `${def.group}/${def.version}` : def.version, kind: `${def.kind}List`, metadata: { resourceVersion: this.cluster.currentRv() }, items: clone(items) },
        };
      }
      if (method === 'POST') {
        const obj = body as KObj;
        if (!obj?.metadata?.name) return { code: 422, body: status(422, 'Invalid', 'metadata.name: Required value') };
        if (this.cluster.get(rt.resource, rt.namespace, obj.metadata.name)) {
          return { code: 409, body: status(409, 'AlreadyExists', `${kindLower} "${obj.metadata.name}" already exists`) };
        }
        const created = this.cluster.put(rt.resource, { ...obj, metadata: { ...obj.metadata, namespace: rt.namespace, uid: '', resourceVersion: '', creationTimestamp: '' } });
        return { code: 201, body: clone(created) };
      }
      return { code: 405, body: status(405, 'MethodNotAllowed', `${method} is not supported on a collection by the fake`) };
    }

    const obj = this.cluster.get(rt.resource, rt.namespace, rt.name);

    if (rt.sub === 'eviction') {
      if (rt.resource !== 'pods' || method !== 'POST') return { code: 405, body: status(405, 'MethodNotAllowed', 'eviction accepts POST only') };
      if (!obj) return notFound();
      return this.evict(obj, body);
    }
    if (rt.sub === 'scale') {
      if (rt.resource !== 'deployments' && rt.resource !== 'statefulsets' && rt.resource !== 'replicasets') return notFound();
      if (!obj) return notFound();
      const scale = (o: KObj): Record<string, unknown> => ({
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
        spec: { replicas: o.spec.replicas ?? 1 },
        status: {
          replicas: o.status?.replicas ?? 0,
          selector: Object.entries((o.spec.selector?.matchLabels ?? {}) as Record<string, string>)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        },
      });
      if (method === 'GET') return { code: 200, body: scale(obj) };
      let next: Record<string, unknown>;
      if (method === 'PUT') next = body as Record<string, unknown>;
      else if (method === 'PATCH') {
        const p = this.applyPatch(scale(obj) as Json, contentType, body);
        if ('code' in p) return p;
        next = p.obj as Record<string, unknown>;
      } else return { code: 405, body: status(405, 'MethodNotAllowed', `${method} is not supported on scale`) };
      const rv = (next.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (rv && rv !== obj.metadata.resourceVersion) return conflict();
      const replicas = (next.spec as { replicas?: unknown } | undefined)?.replicas;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        return { code: 422, body: status(422, 'Invalid', `Scale.autoscaling "${rt.name}" is invalid: spec.replicas: Invalid value`) };
      }
      const c = clone(obj);
      c.spec.replicas = replicas;
      const saved = this.cluster.put(rt.resource, c);
      return { code: 200, body: scale(saved) };
    }
    if (rt.sub !== undefined) return notFound();

    switch (method) {
      case 'GET':
        return obj ? { code: 200, body: clone(obj) } : notFound();
      case 'PUT': {
        if (!obj) return notFound();
        const next = body as KObj;
        if (!next?.metadata) return { code: 400, body: status(400, 'BadRequest', 'body is not an object') };
        if (next.metadata.resourceVersion && next.metadata.resourceVersion !== obj.metadata.resourceVersion) return conflict();
        const saved = this.cluster.put(rt.resource, { ...next, metadata: { ...obj.metadata, labels: next.metadata.labels, annotations: next.metadata.annotations }, status: obj.status });
        return { code: 200, body: clone(saved) };
      }
      case 'PATCH': {
        if (!obj) return notFound();
        const p = this.applyPatch(obj as unknown as Json, contentType, body);
        if ('code' in p) return p;
        const next = p.obj as unknown as KObj;
        // A patch that carries a resourceVersion makes it a precondition, as the API server does.
        if (next.metadata?.resourceVersion !== obj.metadata.resourceVersion) return conflict();
        if (next.metadata.name !== obj.metadata.name || next.metadata.uid !== obj.metadata.uid) {
          return { code: 422, body: status(422, 'Invalid', 'metadata.name and metadata.uid are immutable') };
        }
        const saved = this.cluster.put(rt.resource, next);
        return { code: 200, body: clone(saved) };
      }
      case 'DELETE': {
        if (!obj) return notFound();
        const uid = (body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
        if (uid && uid !== obj.metadata.uid) {
          return {
            code: 409,
            body: status(409, 'Conflict', `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${obj.metadata.uid}`),
          };
        }
        if (rt.resource === 'pods') {
          // DeleteOptions' gracePeriodSeconds, in the body or the query, as the API server takes either.
          const grace = gracePeriod((body as { gracePeriodSeconds?: unknown } | undefined)?.gracePeriodSeconds ?? q.get('gracePeriodSeconds'));
          if (grace === null) return { code: 400, body: status(400, 'BadRequest', 'gracePeriodSeconds must be a whole number') };
          // A pod deleted gracefully is answered as it now is: terminating, its deletionTimestamp set.
          return { code: 200, body: clone(this.cluster.deletePod(rt.namespace!, rt.name, grace)) };
        }
        const gone = this.cluster.remove(rt.resource, rt.namespace, rt.name);
        return { code: 200, body: clone(gone) };
      }
      default:
        return { code: 405, body: status(405, 'MethodNotAllowed', `${method} is not supported`) };
    }
  }

  private applyPatch(target: Json, contentType: string | undefined, patch: unknown): { obj: Json } | { code: number; body: unknown } {
    if (!contentType || !PATCH_TYPES.has(contentType)) {
      return { code: 415, body: status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${[...PATCH_TYPES].join(', ')}`) };
    }
    try {
      if (contentType === 'application/json-patch+json') return { obj: jsonPatch(target, patch as Json) };
      if (contentType === 'application/merge-patch+json') return { obj: mergePatch(target, patch as Json) };
      return { obj: strategicMergePatch(target, patch as Json) };
    } catch (err) {
      if (err instanceof PatchError) return { code: err.status, body: status(err.status, err.status === 422 ? 'Invalid' : 'BadRequest', err.message) };
      throw err;
    }
  }

  /**
   * policy/v1 Eviction: the PodDisruptionBudget decides, 429 when it allows no disruption.
   * A pod that disrupts nothing any more (terminating already, finished, or pending) is
   * deleted without asking its budget, as the API server's eviction does. As there, the
   * budget is asked about the pod that holds the name now and the uid precondition is
   * checked by the delete after it: a same-named successor the budget has no room for is
   * answered 429, not 409 (and the budget's disruption is spent first, as there).
   */
  private evict(pod: KObj, body: unknown): { code: number; body: unknown } {
    const ev = body as { kind?: string; metadata?: { name?: string }; deleteOptions?: { preconditions?: { uid?: string }; gracePeriodSeconds?: unknown } } | undefined;
    if (ev?.kind !== 'Eviction' || ev.metadata?.name !== pod.metadata.name) {
      return { code: 400, body: status(400, 'BadRequest', 'name in URL does not match name in Eviction object') };
    }
    const uid = ev.deleteOptions?.preconditions?.uid;
    const precondition =
      uid && uid !== pod.metadata.uid ? { code: 409, body: status(409, 'Conflict', `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata.uid}`) } : null;
    const ns = pod.metadata.namespace!;
    const grace = gracePeriod(ev.deleteOptions?.gracePeriodSeconds);
    if (grace === null) return { code: 400, body: status(400, 'BadRequest', 'gracePeriodSeconds must be a whole number') };
    const success = { code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
    const phase = pod.status?.phase;
    if (pod.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending') {
      if (precondition) return precondition;
      this.cluster.deletePod(ns, pod.metadata.name, grace);
      return success;
    }
    this.cluster.refreshStatuses(ns);
    const pdbs = this.cluster.list('poddisruptionbudgets', ns).filter((p) => matchLabelsSelector(p.spec.selector?.matchLabels, pod.metadata.labels));
    if (pdbs.length > 1) {
      return { code: 500, body: status(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.') };
    }
    const pdb = pdbs[0];
    if (pdb) {
      const allowed: number = pdb.status?.disruptionsAllowed ?? 0;
      if (allowed <= 0) {
        return {
          code: 429,
          body: status(429, 'TooManyRequests', 'Cannot evict pod as it would violate the pod\'s disruption budget.', {
            causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} needs ${pdb.status?.desiredHealthy ?? 0} healthy pods and has ${pdb.status?.currentHealthy ?? 0} currently` }],
          }),
        };
      }
      pdb.status = { ...pdb.status, disruptionsAllowed: allowed - 1 };
    }
    if (precondition) return precondition;
    this.cluster.deletePod(ns, pod.metadata.name, grace);
    return success;
  }
}

/** A DeleteOptions gracePeriodSeconds: undefined when not given, null when not a whole number. */
function gracePeriod(v: unknown): number | undefined | null {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?[0-9]+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
}

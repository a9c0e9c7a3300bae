import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server on 127.0.0.1 (a free port) for tests: the thing an http
 * action calls, an http check polls, Alertmanager delivers webhooks to, and
 * Prometheus scrapes. Routes are programmable; every request is recorded.
 *
 *   const target = await startHttpTarget();
 *   target.route('POST', '/restart', { status: 200, body: { ok: true } });
 *   target.route('GET', '/health', sequence([{ status: 503 }, { status: 503 }, { status: 200 }]));
 *   target.setMetric('demo_error_ratio', 0.2);           // served at GET /metrics
 *   ... target.url + '/restart' ...
 *   target.calls('/restart', 'POST');                    // 1
 *   target.requests('/restart')[0]?.headers.authorization
 *   await target.close();
 *
 * Unrouted paths answer 404 (and are recorded too). `/metrics` is built in unless
 * a route for it is set.
 */

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Query string parameters (last value wins). */
  query: Record<string, string>;
  /** Node's lower-cased header map. */
  headers: IncomingHttpHeaders;
  /** The raw body as text ('' when none). */
  body: string;
  /** The body parsed as JSON; throws when it is not JSON. */
  json(): unknown;
  /** When it arrived (Date.now()). */
  at: number;
}

export interface TargetResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (content-type set). */
  body?: unknown;
  /** Wait this long before answering (cancelled when the client goes away or the target closes). */
  delayMs?: number;
}

/** A fixed response, or a function of the request and its 1-based call number on this route. */
export type RouteHandler = TargetResponse | ((req: RecordedRequest, call: number) => TargetResponse | Promise<TargetResponse>);

export interface HttpTarget {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** `127.0.0.1:<port>`, as a Prometheus scrape target. */
  readonly hostPort: string;
  readonly port: number;
  /** Sets (replaces) the handler for `METHOD path`; method `*` matches any method. */
  route(method: string, path: string, handler: RouteHandler): void;
  /** Requests received on a path (any method unless given), oldest first. */
  requests(path?: string, method?: string): RecordedRequest[];
  /** How many requests a path received (any method unless given). */
  calls(path: string, method?: string): number;
  /**
   * Resolves with the next request to `path` (or the first one already received
   * at or after `since`). `where` narrows it to requests it accepts (a parse
   * error in it counts as "no").
   */
  waitForRequest(
    path: string,
    opts?: { timeoutMs?: number; since?: number; method?: string; where?: (r: RecordedRequest) => boolean },
  ): Promise<RecordedRequest>;
  /** Forget recorded requests and call counters (routes and metrics stay). */
  reset(): void;
  /** Sets a gauge served at GET /metrics. Labels distinguish series. */
  setMetric(name: string, value: number, labels?: Record<string, string>): void;
  /** Removes one series (with labels) or every series of a metric (without). */
  deleteMetric(name: string, labels?: Record<string, string>): void;
  /** The current /metrics text. */
  metricsText(): string;
  /** Stops the server, drops keep-alive connections and cancels pending delays. */
  close(): Promise<void>;
}

/** Answers with each response in turn; the last one repeats. */
export function sequence(responses: TargetResponse[]): RouteHandler {
  if (responses.length === 0) throw new Error('sequence() needs at least one response');
  return (_req, call) => responses[Math.min(call, responses.length) - 1]!;
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Routes `method path` to answer `status` (204), holding the first call until the returned
 * `release` is called: a receiver stuck on its first delivery while more queue up.
 */
export function holdFirstCall(target: HttpTarget, method: string, path: string, status = 204): () => void {
  return hold(target, method, path, status, (call) => call === 1);
}

/** Holds every call to one route until the returned function is called; each is then answered `status`. */
export function holdCalls(target: HttpTarget, method: string, path: string, status = 200): () => void {
  return hold(target, method, path, status, () => true);
}

function hold(target: HttpTarget, method: string, path: string, status: number, held: (call: number) => boolean): () => void {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  target.route(method, path, async (_req, call) => {
    if (held(call)) await released;
    return { status };
  });
  return release;
}

export async function startHttpTarget(): Promise<HttpTarget> {
  const routes = new Map<string, RouteHandler>();
  const counters = new Map<string, number>();
  let recorded: RecordedRequest[] = [];
  const waiters = new Set<{ path: string; method?: string; where?: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }>();
  const accepts = (where: ((r: RecordedRequest) => boolean) | undefined, r: RecordedRequest): boolean => {
    if (!where) return true;
    try {
      return where(r);
    } catch {
      return false;
    }
  };
  /** metric name → series key → { labels, value } */
  const metrics = new Map<string, Map<string, { labels: Record<string, string>; value: number }>>();
  const pendingTimers = new Set<NodeJS.Timeout>();

  const metricsText = (): string => {
    let out = '';
    for (const [name, series] of metrics) {
      out += `# TYPE ${name} gauge\n`;
      for (const { labels, value } of series.values()) out += `${name}${formatLabels(labels)} ${formatValue(value)}\n`;
    }
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const rec: RecordedRequest = {
      method,
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      headers: req.headers,
      body,
      json: () => JSON.parse(body) as unknown,
      at: Date.now(),
    };
    recorded.push(rec);
    for (const w of waiters) {
      if (w.path === rec.path && (w.method === undefined || w.method === method) && accepts(w.where, rec)) {
        waiters.delete(w);
        w.resolve(rec);
      }
    }

    const key = routes.has(`${method} ${u.pathname}`) ? `${method} ${u.pathname}` : `* ${u.pathname}`;
    const handler = routes.get(key);
    let response: TargetResponse;
    if (handler) {
      const call = (counters.get(key) ?? 0) + 1;
      counters.set(key, call);
      response = typeof handler === 'function' ? await handler(rec, call) : handler;
    } else if (u.pathname === '/metrics' && method === 'GET') {
      response = { status: 200, headers: { 'content-type': 'text/plain; version=0.0.4' }, body: metricsText() };
    } else {
      response = { status: 404, body: 'no route' };
    }

    if (response.delayMs && response.delayMs > 0) {
      const delivered = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          pendingTimers.delete(t);
          resolve(true);
        }, response.delayMs);
        pendingTimers.add(t);
        // The client gave up (a timeout under test): stop waiting, answer nobody.
        res.on('close', () => {
          clearTimeout(t);
          pendingTimers.delete(t);
          resolve(false);
        });
      });
      if (!delivered || res.destroyed) return;
    }

    const headers: Record<string, string> = { ...response.headers };
    let payload = '';
    if (typeof response.body === 'string') payload = response.body;
    else if (response.body !== undefined) {
      payload = JSON.stringify(response.body);
      headers['content-type'] ??= 'application/json';
    }
    res.writeHead(response.status ?? 200, headers);
    res.end(payload);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const matches = (r: RecordedRequest, path?: string, method?: string): boolean =>
    (path === undefined || r.path === path) && (method === undefined || r.method === method.toUpperCase());

  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    port,
    route(method, path, handler) {
      const key = `${method === '*' ? '*' : method.toUpperCase()} ${path}`;
      routes.set(key, handler);
      counters.delete(key);
    },
    requests: (path, method) => recorded.filter((r) => matches(r, path, method)),
    calls: (path, method) => recorded.filter((r) => matches(r, path, method)).length,
    waitForRequest(path, opts = {}) {
      const already = recorded.find(
        (r) => matches(r, path, opts.method) && opts.since !== undefined && r.at >= opts.since && accepts(opts.where, r),
      );
      if (already) return Promise.resolve(already);
      const timeoutMs = opts.timeoutMs ?? 10_000;
      return new Promise<RecordedRequest>((resolve, reject) => {
        const waiter = {
          path,
          ...(opts.method ? { method: opts.method.toUpperCase() } : {}),
          ...(opts.where ? { where: opts.where } : {}),
          resolve: (r: RecordedRequest) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no request to ${path} within ${timeoutMs}ms (received: ${recorded.map((r) => `${r.method} ${r.path}`).join(', ') || 'nothing'})`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    reset() {
      recorded = [];
      counters.clear();
    },
    setMetric(name, value, labels = {}) {
      if (!METRIC_NAME_RE.test(name)) throw new Error(`invalid metric name ${name}`);
      for (const l of Object.keys(labels)) if (!LABEL_NAME_RE.test(l)) throw new Error(`invalid label name ${l}`);
      let series = metrics.get(name);
      if (!series) metrics.set(name, (series = new Map()));
      series.set(formatLabels(labels), { labels: { ...labels }, value });
    },
    deleteMetric(name, labels) {
      if (labels === undefined) metrics.delete(name);
      else metrics.get(name)?.delete(formatLabels(labels));
    },
    metricsText,
    async close() {
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      // Without this, keep-alive connections (fetch pools them) hold close() open.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function formatLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  // Exposition format escapes: backslash, double quote, newline.
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${keys.map((k) => `${k}="${esc(labels[k]!)}"`).join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * A server that answers each request's status and headers at once (`statusFor` its
 * path), then trickles its body a byte every 50 ms, forever: what an answer judged by
 * its status must not wait for. `closed()` counts the connections closed so far; it is
 * stopped when the test ends.
 */
export async function startTricklingServer(t: { after(fn: () => void): void }, statusFor: (url: string) => number): Promise<{ base: string; closed(): number }> {
  let closed = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(statusFor(req.url ?? '/'), { 'content-type': 'text/plain' });
    const tick = setInterval(() => res.write('x'), 50);
    req.socket.on('close', () => {
      clearInterval(tick);
      closed++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed: () => closed };
}

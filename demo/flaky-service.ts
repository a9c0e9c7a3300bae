import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/**
 * The demo's patient: a tiny HTTP service with an error ratio that can be
 * broken and "restarted".
 *
 *   GET  /metrics   demo_error_ratio{service="demo"} and a request counter, for Prometheus
 *   POST /break     the error ratio jumps to 40 % (what the demo does to it)
 *   POST /restart   what rectify's runbook calls: after `restartMs` the ratio is 0 again
 *   GET  /healthz   200
 *
 * Run by itself (docker-compose does): `tsx demo/flaky-service.ts [port]`, default 8080,
 * listening on FLAKY_LISTEN_HOST (default 127.0.0.1).
 */
export interface FlakyService {
  url: string;
  hostPort: string;
  /** How many restarts were asked for. */
  restarts(): number;
  close(): Promise<void>;
}

export async function startFlakyService(opts: { port?: number; host?: string; restartMs?: number } = {}): Promise<FlakyService> {
  let errorRatio = 0;
  let requests = 0;
  let restarts = 0;
  const restartMs = opts.restartMs ?? 1_000;
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer((req, res) => {
    requests++;
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    // The request body (if any) is not needed; drain it so keep-alive works.
    req.resume();
    if (req.method === 'GET' && req.url === '/metrics') {
      return send(
        200,
        [
          '# HELP demo_error_ratio Share of requests that fail.',
          '# TYPE demo_error_ratio gauge',
          `demo_error_ratio{service="demo"} ${errorRatio}`,
          '# HELP demo_requests_total Requests served.',
          '# TYPE demo_requests_total counter',
          `demo_requests_total{service="demo"} ${requests}`,
          '',
        ].join('\n'),
        'text/plain; version=0.0.4',
      );
    }
    if (req.method === 'POST' && req.url === '/break') {
      errorRatio = 0.4;
      return send(200, 'broken: error ratio 0.4\n');
    }
    if (req.method === 'POST' && req.url === '/restart') {
      restarts++;
      const t = setTimeout(() => {
        timers.delete(t);
        errorRatio = 0;
      }, restartMs);
      timers.add(t);
      return send(202, 'restarting\n');
    }
    if (req.method === 'GET' && req.url === '/healthz') return send(200, 'ok\n');
    return send(404, 'not found\n');
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    hostPort: `${host}:${port}`,
    restarts: () => restarts,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? 8080);
  const svc = await startFlakyService({ port, host: process.env.FLAKY_LISTEN_HOST ?? '127.0.0.1' });
  process.stdout.write(`flaky demo service on ${svc.url}\n`);
  const stop = () => void svc.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

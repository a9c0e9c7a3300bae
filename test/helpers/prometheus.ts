import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryInstant } from '../../src/checks/promql.js';

/**
 * A real Prometheus for tests (Debian's /usr/bin/prometheus), one per test file:
 *
 *   const target = await startHttpTarget();
 *   target.setMetric('demo_error_ratio', 0.2);
 *   const prom = await startPrometheus({ scrapeTargets: [target.hostPort] });
 *   await waitForQuery(prom.url, 'demo_error_ratio', (v) => v[0] === 0.2);
 *   ...
 *   await prom.stop();
 *
 * Expect the first scrape about 5 s after start: Prometheus' scrape manager
 * applies new target sets on a 5 s reload tick, whatever the scrape interval.
 * Start one instance per test file and wait once (waitForQuery) in `before`.
 *
 * Configs are written as JSON (YAML is a superset), so no value needs YAML quoting.
 * Also exports `startDaemon`, the child-process plumbing shared with alertmanager.ts.
 */

export interface PrometheusOptions {
  /** `host:port` targets scraped at /metrics, job "targets". */
  scrapeTargets?: string[];
  /** Default 1. */
  scrapeIntervalSeconds?: number;
  /** The content of a rules file (YAML, `groups: [...]`). */
  rules?: string;
  /** Where firing alerts go, e.g. `http://127.0.0.1:9093`. */
  alertmanagerUrl?: string;
  /** Default 1. */
  evaluationIntervalSeconds?: number;
  /** Overall start deadline; default 30 s. */
  startTimeoutMs?: number;
  /** `remote_read` endpoints (`http://host:port/api/v1/read`); one that fails turns answers into partial ones, with `warnings`. */
  remoteReadUrls?: string[];
}

export interface RunningDaemon {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The temp dir holding config and data. */
  dir: string;
  /** The last lines the process logged. */
  logTail(): string;
  /** SIGTERM, SIGKILL after 5 s, then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export async function startPrometheus(opts: PrometheusOptions = {}): Promise<RunningDaemon> {
  await requireBinary(PROMETHEUS_BIN, 'apt-get install prometheus');
  const scrape = `${opts.scrapeIntervalSeconds ?? 1}s`;
  const evaluation = `${opts.evaluationIntervalSeconds ?? 1}s`;
  const config: Record<string, unknown> = {
    // scrape_timeout must not exceed scrape_interval, and the default (10s) does.
    global: { scrape_interval: scrape, scrape_timeout: scrape, evaluation_interval: evaluation },
    scrape_configs: opts.scrapeTargets?.length
      ? [{ job_name: 'targets', static_configs: [{ targets: opts.scrapeTargets }] }]
      : [],
  };
  if (opts.rules !== undefined) config.rule_files = ['rules.yml'];
  if (opts.remoteReadUrls?.length) config.remote_read = opts.remoteReadUrls.map((url) => ({ url }));
  if (opts.alertmanagerUrl !== undefined) {
    const am = new URL(opts.alertmanagerUrl);
    config.alerting = {
      alertmanagers: [
        {
          scheme: am.protocol.replace(':', ''),
          path_prefix: am.pathname === '/' ? undefined : am.pathname,
          static_configs: [{ targets: [am.host] }],
        },
      ],
    };
  }
  return startDaemon({
    name: 'prometheus',
    bin: PROMETHEUS_BIN,
    files: {
      'prometheus.yml': JSON.stringify(config, null, 2),
      ...(opts.rules !== undefined ? { 'rules.yml': opts.rules } : {}),
    },
    args: (dir, port) => [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
    ],
    startTimeoutMs: opts.startTimeoutMs ?? 30_000,
  });
}

/**
 * Polls an instant query until `predicate(values)` holds (values of every sample,
 * in result order), and returns those values. For "Prometheus has scraped the
 * value I just set" — a scrape interval plus staleness can take a couple of seconds.
 */
export async function waitForQuery(
  url: string,
  query: string,
  predicate: (values: number[]) => boolean,
  timeoutMs = 15_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const r = await queryInstant(url, query, { signal: AbortSignal.timeout(2_000) });
      const values = r.samples.map((s) => s.value);
      if (predicate(values)) return values;
      last = `values [${values.join(', ')}]`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`waitForQuery(${query}) did not hold within ${timeoutMs}ms; last: ${last}`);
}

export interface DaemonSpec {
  name: string;
  bin: string;
  /** Files written into the temp dir before start, by relative name. */
  files: Record<string, string>;
  args: (dir: string, port: number) => string[];
  /** Path answering 200 once ready; default `/-/ready`. */
  readyPath?: string;
  startTimeoutMs: number;
}

/**
 * Starts a daemon on a free loopback port and waits until it is ready. The port is
 * picked by binding :0 and releasing it, which can race with another process;
 * a start that fails on "address already in use" is retried on a new port.
 */
export async function startDaemon(spec: DaemonSpec): Promise<RunningDaemon> {
  const deadline = Date.now() + spec.startTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(spec, deadline);
    } catch (err) {
      const inUse = /address already in use/i.test((err as Error).message);
      if (!inUse || attempt >= 3 || Date.now() >= deadline) throw err;
    }
  }
}

async function startOnce(spec: DaemonSpec, deadline: number): Promise<RunningDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `rectify-${spec.name}-`));
  for (const [name, content] of Object.entries(spec.files)) await writeFile(join(dir, name), content);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log: string[] = [];
  const keep = (chunk: Buffer): void => {
    log.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim() !== ''));
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  const logTail = (): string => log.slice(-25).join('\n');

  const child: ChildProcess = spawn(spec.bin, spec.args(dir, port), {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', HOME: dir },
  });
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: string | null = null;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, sig) => {
      exited = sig ? `killed by ${sig}` : `exited with code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = `failed to start: ${err.message}`;
      resolve();
    });
  });
  // A test that crashes must not leave a daemon behind holding a port.
  const onProcessExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onProcessExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onProcessExit);
    if (exited === null) {
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitedPromise;
      clearTimeout(hard);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const readyUrl = url + (spec.readyPath ?? '/-/ready');
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`${spec.name} ${exited} before it was ready; log tail:\n${logTail()}`);
    }
    if (Date.now() >= deadline) {
      const tail = logTail();
      await stop();
      throw new Error(`${spec.name} not ready at ${readyUrl} within the start deadline; log tail:\n${tail}`);
    }
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, dir, logTail, stop };
}

async function requireBinary(bin: string, install: string): Promise<void> {
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw new Error(`${bin} not found or not executable: ${install}`);
  }
}

export { requireBinary };

/** A loopback port nothing listens on now: bound on :0, then released (another process may take it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

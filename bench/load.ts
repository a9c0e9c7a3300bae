/**
 * The load generator: a process of its own, so the service measured and the
 * sender do not share an event loop. Keep-alive connections through autocannon
 * (one body per request, built on the fly so every fingerprint is new), or, for
 * a huge group, one request at a time timed end to end.
 *
 *   node --import tsx bench/load.ts '<json LoadPlan>'   → one JSON LoadResult line on stdout
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createBodyMaker, type BodyCounts, type BodySpec } from './bodies.js';

export interface LoadPlan {
  url: string;
  path: string;
  /** `storm`: `connections` keep-alive senders; `sequential`: one request after the other, each timed. */
  mode: 'storm' | 'sequential';
  connections: number;
  /** Requests sent first and not measured (both sides warm up their JIT). */
  warmupRequests: number;
  requests: number;
  body: BodySpec;
  /** The measured server's process: its CPU time over the measured requests is read from /proc (Linux). */
  serverPid?: number;
}

export interface LoadResult {
  requests: number;
  alerts: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  alertsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Statuses other than 2xx seen, with counts (warm-up included). */
  statuses: Record<string, number>;
  /** Alerts built over the whole process, warm-up included: what the database must hold. */
  sent: BodyCounts;
  /**
   * The server's CPU time (all its threads, user and system) over the measured
   * requests, per alert, in microseconds; null where /proc cannot be read. It
   * moves far less than alerts/s when other work shares the machine.
   */
  serverCpuUsPerAlert: number | null;
}

/** A process's CPU seconds so far (utime + stime of all its threads), or null off Linux. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state: utime and stime are the 12th and 13th of them.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS = 100;

function cpuPerAlert(before: number | null, after: number | null, alerts: number): number | null {
  return before === null || after === null || alerts === 0 ? null : ((after - before) * 1e6) / alerts;
}

function storm(plan: LoadPlan, maker: ReturnType<typeof createBodyMaker>, amount: number, statuses: Record<string, number>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    let responses = 0;
    let last = 0;
    let cpuAtLast: number | null = null;
    const cpu0 = processCpuSeconds(plan.serverPid);
    const t0 = performance.now();
    autocannon(
      {
        url: plan.url,
        connections: Math.min(plan.connections, amount),
        pipelining: 1,
        amount,
        timeout: 60,
        // Results are taken at the next sample tick; a short one keeps the run from idling.
        sampleInt: 100,
        requests: [
          {
            method: 'POST',
            path: plan.path,
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, body: maker.next() }),
            onResponse: (status) => {
              last = performance.now();
              responses++;
              if (responses === amount) cpuAtLast = processCpuSeconds(plan.serverPid);
              if (status < 200 || status > 299) statuses[status] = (statuses[status] ?? 0) + 1;
            },
          },
        ],
      },
      (err, r) => {
        if (err) return reject(err);
        const seconds = (last - t0) / 1000;
        const requests = r['2xx'] + r.non2xx;
        resolve({
          requests,
          alerts: requests * plan.body.alertsPerBody,
          ok2xx: r['2xx'],
          non2xx: r.non2xx,
          errors: r.errors + r.timeouts,
          seconds,
          requestsPerSecond: requests / seconds,
          alertsPerSecond: (requests * plan.body.alertsPerBody) / seconds,
          latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
          statuses,
          sent: maker.counts,
          serverCpuUsPerAlert: cpuPerAlert(cpu0, cpuAtLast ?? processCpuSeconds(plan.serverPid), requests * plan.body.alertsPerBody),
        });
      },
    );
  });
}

function post(plan: LoadPlan, agent: Agent, body: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL(plan.path, plan.url);
    const t0 = performance.now();
    const req = request(u, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function sequential(plan: LoadPlan, maker: ReturnType<typeof createBodyMaker>, statuses: Record<string, number>): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const bodies = Array.from({ length: plan.warmupRequests + plan.requests }, () => maker.next());
  const times: number[] = [];
  let ok = 0;
  let cpu0: number | null = null;
  for (let i = 0; i < bodies.length; i++) {
    if (i === plan.warmupRequests) cpu0 = processCpuSeconds(plan.serverPid);
    const r = await post(plan, agent, bodies[i]!);
    if (r.status >= 200 && r.status < 300) ok++;
    else statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (i >= plan.warmupRequests) times.push(r.ms);
  }
  const cpu1 = processCpuSeconds(plan.serverPid);
  agent.destroy();
  const sorted = [...times].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const seconds = times.reduce((a, b) => a + b, 0) / 1000;
  return {
    requests: plan.requests,
    alerts: plan.requests * plan.body.alertsPerBody,
    ok2xx: ok,
    non2xx: bodies.length - ok,
    errors: 0,
    seconds,
    requestsPerSecond: plan.requests / seconds,
    alertsPerSecond: (plan.requests * plan.body.alertsPerBody) / seconds,
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: sorted[sorted.length - 1]! },
    statuses,
    sent: maker.counts,
    serverCpuUsPerAlert: cpuPerAlert(cpu0, cpu1, plan.requests * plan.body.alertsPerBody),
  };
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '') as LoadPlan;
  const maker = createBodyMaker(plan.body);
  const statuses: Record<string, number> = {};
  let result: LoadResult;
  if (plan.mode === 'sequential') {
    result = await sequential(plan, maker, statuses);
  } else {
    let warmNon2xx = 0;
    if (plan.warmupRequests > 0) warmNon2xx = (await storm(plan, maker, plan.warmupRequests, statuses)).non2xx;
    result = await storm(plan, maker, plan.requests, statuses);
    result.non2xx += warmNon2xx;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

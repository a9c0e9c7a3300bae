import type { BodyCounts } from './bodies.js';
import type { DiskCeiling } from './disk.js';
import type { LoadResult } from './load.js';
import type { Verification } from './verify.js';

export interface ScenarioResult {
  name: string;
  title: string;
  alertsPerBody: number;
  connections: number;
  rectify: LoadResult;
  http: LoadResult;
  /** The design floor: the minimal group-commit service (minimal-server.ts) on the same bodies. */
  minimal: LoadResult;
  disk: DiskCeiling;
  verification: Verification;
  /** Resident set of the rectify process, after each sample's alerts. */
  memory: Array<{ alerts: number; rssMiB: number; heapTotalMiB?: number; externalMiB?: number }>;
  sent: BodyCounts;
  quick: boolean;
  /** rectify's group commits over the run: how many, requests per commit, time per commit. */
  commits: { count: number; unitsPerCommit: number; msPerCommit: number };
}

export interface TargetResult {
  target: string;
  measured: string;
  goal: string;
  /** met: at the goal; short: between the goal and the not-done line; missed: past it. */
  status: 'met' | 'short' | 'missed' | 'not run';
}

function grade(value: number, goal: number, floor: number, higherIsBetter: boolean): TargetResult['status'] {
  if (higherIsBetter) return value >= goal ? 'met' : value >= floor ? 'short' : 'missed';
  return value <= goal ? 'met' : value <= floor ? 'short' : 'missed';
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Where each scenario's CPU goes: the bare route's, the design floor's and
 * rectify's time per alert, and the raw inserts of rectify's rows. Far steadier
 * than alerts/s when other work shares the machine, and it says what rectify's
 * own work costs above the HTTP layer it shares with the bare route.
 */
function cpuTable(results: ScenarioResult[]): string[] {
  const us = (n: number | null | undefined) => (n === null || n === undefined ? '-' : n.toFixed(1));
  const measured = results.filter((r) => r.rectify.serverCpuUsPerAlert !== null);
  if (measured.length === 0) return [];
  const head = ['scenario', 'bare route', 'minimal', 'rectify', 'rectify − bare', '× minimal', 'disk batched (rows only)'];
  return table([
    head,
    ...measured.map((r) => {
      const [b, m, x] = [r.http.serverCpuUsPerAlert, r.minimal.serverCpuUsPerAlert, r.rectify.serverCpuUsPerAlert];
      return [r.name, us(b), us(m), us(x), b !== null && x !== null ? us(x - b) : '-', m !== null && x !== null ? `${(x / m).toFixed(1)}×` : '-', us(r.disk.batched.cpuUsPerAlert)];
    }),
  ]);
}

/** The issue's targets, judged on this run's figures. */
export function evaluateTargets(results: ScenarioResult[]): TargetResult[] {
  const by = (name: string) => results.find((r) => r.name === name);
  const out: TargetResult[] = [];
  const single = by('single');
  const ratio = single ? single.rectify.alertsPerSecond / single.http.alertsPerSecond : NaN;
  out.push(
    single
      ? { target: 'single-alert storm, 64 senders: × bare Fastify', measured: `${ratio.toFixed(2)}×`, goal: '≥ 0.8× (not done < 0.5×)', status: grade(ratio, 0.8, 0.5, true) }
      : { target: 'single-alert storm: × bare Fastify', measured: '-', goal: '≥ 0.8×', status: 'not run' },
  );
  out.push(
    single
      ? { target: 'single-alert storm: p99 answer', measured: `${single.rectify.latencyMs.p99.toFixed(1)} ms`, goal: '< 10 ms (not done > 15 ms)', status: grade(single.rectify.latencyMs.p99, 10, 15, false) }
      : { target: 'single-alert storm: p99 answer', measured: '-', goal: '< 10 ms', status: 'not run' },
  );
  const batched = by('batched');
  out.push(
    batched
      ? { target: '100-alert bodies, 16 senders', measured: `${int(batched.rectify.alertsPerSecond)} alerts/s`, goal: '≥ 150,000 (not done < 100,000)', status: grade(batched.rectify.alertsPerSecond, 150_000, 100_000, true) }
      : { target: '100-alert bodies, 16 senders', measured: '-', goal: '≥ 150,000 alerts/s', status: 'not run' },
  );
  const huge = by('huge');
  out.push(
    huge
      ? { target: 'one 10,000-alert body answered (median)', measured: `${huge.rectify.latencyMs.p50.toFixed(0)} ms (max ${huge.rectify.latencyMs.max.toFixed(0)})`, goal: '< 250 ms (not done > 500 ms)', status: grade(huge.rectify.latencyMs.p50, 250, 500, false) }
      : { target: 'one 10,000-alert body answered', measured: '-', goal: '< 250 ms', status: 'not run' },
  );
  const long = by('long');
  if (long) {
    const last = long.memory[long.memory.length - 1]!;
    // Flat: from the second sample on (caches and JIT warm), the least-squares slope
    // of the resident set is under 2 MiB per 100,000 alerts (single samples jitter
    // by a few MiB with the garbage collector's rhythm).
    const tail = long.memory.slice(2);
    const slope = slopePer100k(tail);
    out.push({
      target: `resident set after ${int(last.alerts)} alerts`,
      measured: `${last.rssMiB.toFixed(0)} MiB`,
      goal: '< 150 MB (143 MiB)',
      status: last.rssMiB < 150e6 / 2 ** 20 ? 'met' : 'missed',
    });
    out.push({
      target: 'resident set flat over the long run',
      measured: `${slope >= 0 ? '+' : ''}${slope.toFixed(1)} MiB per 100,000 alerts`,
      goal: 'slope < 2 MiB per 100,000 alerts',
      status: slope < 2 ? 'met' : 'missed',
    });
  } else {
    out.push({ target: 'resident set after 1,000,000 alerts', measured: '-', goal: '< 150 MB (143 MiB)', status: 'not run' });
    out.push({ target: 'resident set flat over the long run', measured: '-', goal: 'slope < 2 MiB per 100,000 alerts', status: 'not run' });
  }
  const exact = results.filter((r) => r.verification);
  const bad = exact.filter((r) => !r.verification.ok);
  out.push({
    target: 'guardrails exact, nothing lost or doubled (every run)',
    measured: bad.length ? bad.map((r) => `${r.name}: ${r.verification.problems.join('; ')}`).join(' | ') : `${exact.length}/${exact.length} runs exact`,
    goal: 'executions = 5 per runbook × service; DUPLICATE rows = re-deliveries sent; chain intact',
    status: exact.length === 0 ? 'not run' : bad.length ? 'missed' : 'met',
  });
  return out;
}

function slopePer100k(points: Array<{ alerts: number; rssMiB: number }>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.alerts, 0) / n;
  const my = points.reduce((a, p) => a + p.rssMiB, 0) / n;
  const sxy = points.reduce((a, p) => a + (p.alerts - mx) * (p.rssMiB - my), 0);
  const sxx = points.reduce((a, p) => a + (p.alerts - mx) ** 2, 0);
  return sxx === 0 ? 0 : (sxy / sxx) * 100_000;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`, ...rows.slice(1).map(line)];
}

/** The design floor's own figures on the throughput targets: what this machine allows a minimal service. */
function floorLine(results: ScenarioResult[]): string | undefined {
  const by = (name: string) => results.find((r) => r.name === name);
  const parts: string[] = [];
  const single = by('single');
  if (single) parts.push(`single ${(single.minimal.alertsPerSecond / single.http.alertsPerSecond).toFixed(2)}× of the bare route, p99 ${single.minimal.latencyMs.p99.toFixed(1)} ms`);
  const batched = by('batched');
  if (batched) parts.push(`100-alert bodies ${int(batched.minimal.alertsPerSecond)} alerts/s`);
  const huge = by('huge');
  if (huge) parts.push(`10,000-alert body ${huge.minimal.latencyMs.p50.toFixed(0)} ms (median)`);
  return parts.length ? `design floor (minimal group commit) on the same targets: ${parts.join(', ')}` : undefined;
}

/** The results as Markdown tables (the same text goes into bench/README.md). */
export function printResults(results: ScenarioResult[], targets: TargetResult[], print: (line: string) => void): void {
  print('');
  const head = ['scenario', 'rectify alerts/s', 'p50 ms', 'p99 ms', 'HTTP ceiling alerts/s', '× HTTP', 'minimal alerts/s', '× minimal', 'disk 1 alert/tx', '× disk 1', 'disk batched', '× disk batched', 'RSS MiB', 'exact'];
  const rows = results.map((r) => {
    const rss = r.memory[r.memory.length - 1]?.rssMiB ?? NaN;
    return [
      r.name,
      int(r.rectify.alertsPerSecond),
      r.rectify.latencyMs.p50.toFixed(1),
      r.rectify.latencyMs.p99.toFixed(1),
      int(r.http.alertsPerSecond),
      `${(r.rectify.alertsPerSecond / r.http.alertsPerSecond).toFixed(2)}×`,
      int(r.minimal.alertsPerSecond),
      `${(r.rectify.alertsPerSecond / r.minimal.alertsPerSecond).toFixed(2)}×`,
      int(r.disk.single.alertsPerSecond),
      `${(r.rectify.alertsPerSecond / r.disk.single.alertsPerSecond).toFixed(1)}×`,
      `${int(r.disk.batched.alertsPerSecond)} (×${r.disk.batched.batch})`,
      `${(r.rectify.alertsPerSecond / r.disk.batched.alertsPerSecond).toFixed(2)}×`,
      rss.toFixed(0),
      r.verification.ok ? 'yes' : 'NO',
    ];
  });
  for (const l of table([head, ...rows])) print(l);
  const cpu = cpuTable(results);
  if (cpu.length) {
    print('');
    print('CPU per alert (µs; the server process, all its threads, over the measured requests; the disk ceiling: its inserts and commits):');
    for (const l of cpu) print(l);
  }
  const long = results.find((r) => r.name === 'long');
  if (long) {
    print('');
    print(`memory (rectify resident set, MiB): ${long.memory.map((m) => `${int(m.alerts)}: ${m.rssMiB.toFixed(0)}`).join(', ')}`);
  }
  const floor = floorLine(results);
  if (floor) {
    print('');
    print(floor);
  }
  print('');
  for (const l of table([['target', 'measured', 'goal', 'status'], ...targets.map((t) => [t.target, t.measured, t.goal, t.status])])) print(l);
}

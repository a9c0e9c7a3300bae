/**
 * `npm run bench [-- <scenario>...] [--quick]`: every storm scenario against rectify
 * and against the ceilings that bound it, measured in the same run on the same
 * machine: a bare Fastify route taking the same bodies (HTTP), and raw
 * better-sqlite3 inserts of the same rows at synchronous=FULL, one transaction per
 * alert and batched (disk). Prints a table with ratios and the targets, writes
 * bench/results/<time>.json and bench/results/latest.json.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BodyCounts, BodySpec } from './bodies.js';
import { measureDiskCeiling, type DiskCeiling } from './disk.js';
import type { LoadPlan, LoadResult } from './load.js';
import { buildDist, imageAllocatorEnv, imageNodeOptions, ROOT, rssMiB, runLoad, startBare, startMinimal, startRectify, type Server } from './processes.js';
import { MAX_PER_HOUR, writeManyRunbooks, writeStormRunbooks } from './runbooks.js';
import { RUNBOOKS_MANY, SCENARIOS, type Scenario } from './scenarios.js';
import { startActionTarget } from './target.js';
import { evaluateTargets, printResults, type ScenarioResult } from './report.js';
import { verifyRun } from './verify.js';

const BODY_LIMIT = 32 * 1024 * 1024;
const PATH = '/api/v1/webhooks/alertmanager';

function parseArgs(argv: string[]): { names: string[]; quick: boolean; nodeOptions: string[]; env: Record<string, string>; fromSources: boolean } {
  const names: string[] = [];
  let quick = false;
  let fromSources = false;
  // Unless given, the image's own (see imageNodeOptions); an empty value runs node's defaults.
  let nodeOptions: string[] = imageNodeOptions();
  // Likewise the image's allocator settings; an empty value runs glibc's defaults.
  let env: Record<string, string> = imageAllocatorEnv();
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (a === '--from-sources') fromSources = true;
    else if (a.startsWith('--rectify-node-options=')) nodeOptions = a.slice('--rectify-node-options='.length).split(/\s+/).filter(Boolean);
    else if (a.startsWith('--rectify-env=')) env = parseEnv(a.slice('--rectify-env='.length));
    else if (a === '--list') {
      for (const s of SCENARIOS) console.log(`${s.name.padEnd(12)} ${s.title}`);
      process.exit(0);
    } else if (a.startsWith('-')) {
      console.error(`bench: unknown option ${a} (use --quick, --list, --from-sources, --rectify-node-options="<node flags>", --rectify-env="NAME=value ...", or scenario names)`);
      process.exit(2);
    } else if (!SCENARIOS.some((s) => s.name === a)) {
      console.error(`bench: unknown scenario "${a}"; one of: ${SCENARIOS.map((s) => s.name).join(', ')}`);
      process.exit(2);
    } else names.push(a);
  }
  return { names, quick, nodeOptions, env, fromSources };
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of text.split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      console.error(`bench: --rectify-env takes NAME=value pairs, got "${pair}"`);
      process.exit(2);
    }
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

let prefixSeq = 0;
function plan(s: Scenario, server: Server, alertnames: string[], size: { warmup: number; requests: number }): LoadPlan {
  const body: BodySpec = {
    alertsPerBody: s.alertsPerBody,
    services: s.services,
    alertnames,
    duplicateRatio: s.duplicateRatio,
    prefix: `b${(prefixSeq++).toString(16).padStart(3, '0')}`,
  };
  return { url: server.url, serverPid: server.pid, path: PATH, mode: s.mode, connections: s.connections, warmupRequests: size.warmup, requests: size.requests, body };
}

/** Executions the rate limit allows for the fresh alerts sent: max_per_hour per runbook and service. */
function allowedExecutions(freshPerLoader: number[], alertnames: string[], services: number): number {
  const perPair = new Map<string, number>();
  for (const fresh of freshPerLoader) {
    for (let i = 0; i < fresh; i++) {
      const key = `${i % alertnames.length}:${i % services}`;
      perPair.set(key, (perPair.get(key) ?? 0) + 1);
    }
  }
  let n = 0;
  for (const c of perPair.values()) n += Math.min(MAX_PER_HOUR, c);
  return n;
}

async function settle(calls: () => number, expected: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline && calls() < expected) {
    if (calls() !== last) {
      last = calls();
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 5_000) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How rectify is started: compiled (dist/, as in the image) unless `fromSources`, with these node options and environment. */
interface Launch {
  nodeOptions: string[];
  env: Record<string, string>;
  fromSources: boolean;
}

async function runScenario(s: Scenario, quick: boolean, launch: Launch, diskCache: Map<number, DiskCeiling>): Promise<ScenarioResult> {
  const size = quick ? s.quick : s.size;
  const long = s.long ? { total: quick ? s.long.quickTotal : s.long.total, every: quick ? s.long.quickEvery : s.long.every } : undefined;
  const chunk = long ? { warmup: 0, requests: long.every / s.alertsPerBody } : size;
  const dir = mkdtempSync(join(tmpdir(), `rectify-bench-${s.name}-`));
  const target = await startActionTarget();
  try {
    const runbooksDir = join(dir, 'runbooks');
    const { alertnames } = s.runbooks === 'many' ? writeManyRunbooks(runbooksDir, target.url, RUNBOOKS_MANY) : writeStormRunbooks(runbooksDir, target.url);
    process.stdout.write(`\n▶ ${s.name}: ${s.title}${quick ? ' [quick]' : ''}\n`);

    // HTTP ceiling: the same bodies to a bare route.
    const bare = await startBare(BODY_LIMIT);
    const http = await runLoad(plan(s, bare, alertnames, chunk));
    await bare.stop();
    process.stdout.write(`  HTTP ceiling  ${fmtRate(http)}\n`);

    // Design floor: the same bodies to the minimal group-commit service.
    const minimalDir = join(dir, 'minimal');
    mkdirSync(minimalDir);
    const floor = await startMinimal(BODY_LIMIT, minimalDir);
    const minimal = await runLoad(plan(s, floor, alertnames, chunk));
    await floor.stop();
    process.stdout.write(`  minimal       ${fmtRate(minimal)}\n`);

    // rectify.
    const dbPath = join(dir, 'rectify.db');
    const server = await startRectify({
      dbPath,
      runbooksDir,
      logFile: join(dir, 'rectify.log'),
      nodeOptions: launch.nodeOptions,
      env: launch.env,
      fromSources: launch.fromSources,
      args: ['--body-limit', String(BODY_LIMIT), '--max-concurrent-executions', '100000'],
    });
    const memory: Array<{ alerts: number; rssMiB: number }> = [];
    const fresh: number[] = [];
    const sent: BodyCounts = { fresh: 0, duplicates: 0 };
    let non2xx = 0;
    let rectify: LoadResult;
    const add = (r: LoadResult) => {
      fresh.push(r.sent.fresh);
      sent.fresh += r.sent.fresh;
      sent.duplicates += r.sent.duplicates;
      non2xx += r.non2xx + r.errors;
    };
    memory.push({ alerts: 0, rssMiB: rssMiB(server.pid) });
    if (long) {
      const parts: LoadResult[] = [];
      for (let done = 0; done < long.total; done += long.every) {
        const r = await runLoad(plan(s, server, alertnames, chunk));
        add(r);
        parts.push(r);
        const heap = await heapStats(server.url);
        memory.push({ alerts: done + long.every, rssMiB: rssMiB(server.pid), ...heap });
        process.stdout.write(
          `  ${String(done + long.every).padStart(9)} alerts  ${fmtRate(r)}  rss ${memory[memory.length - 1]!.rssMiB.toFixed(1)} MiB (V8 heap ${heap.heapTotalMiB.toFixed(1)}, external ${heap.externalMiB.toFixed(1)})\n`,
        );
      }
      rectify = combine(parts);
    } else {
      rectify = await runLoad(plan(s, server, alertnames, size));
      add(rectify);
      memory.push({ alerts: sent.fresh + sent.duplicates, rssMiB: rssMiB(server.pid) });
    }
    process.stdout.write(`  rectify       ${fmtRate(rectify)}\n`);
    const executions = allowedExecutions(fresh, alertnames, s.services);
    await settle(target.calls, executions);
    const commits = await commitStats(server.url);
    process.stdout.write(`  commits       ${commits.count.toLocaleString('en-US')} group commits, ${commits.unitsPerCommit.toFixed(1)} requests each, ${commits.msPerCommit.toFixed(2)} ms each\n`);
    await server.stop();
    const verification = await verifyRun(dbPath, { sent, executions, targetCalls: target.calls(), non2xx });
    process.stdout.write(`  verified      ${verification.ok ? 'ok' : verification.problems.join('; ')}\n`);

    // Disk ceilings, for as many alerts per transaction as arrive together.
    const batch = Math.min(10_000, s.connections * s.alertsPerBody);
    let disk = diskCache.get(batch);
    if (!disk) {
      const spec: BodySpec = { alertsPerBody: s.alertsPerBody, services: s.services, alertnames, duplicateRatio: 0, prefix: 'disk' };
      disk = measureDiskCeiling(spec, batch);
      diskCache.set(batch, disk);
    }
    process.stdout.write(`  disk ceiling  single ${Math.round(disk.single.alertsPerSecond)} alerts/s, batched ×${batch} ${Math.round(disk.batched.alertsPerSecond)} alerts/s\n`);
    return { name: s.name, title: s.title, alertsPerBody: s.alertsPerBody, connections: s.connections, rectify, http, minimal, disk, verification, memory, sent, quick, commits };
  } catch (err) {
    // A failed scenario (rectify stopped, say) is shown with the end of rectify's own log, which goes with the folder.
    const logFile = join(dir, 'rectify.log');
    if (existsSync(logFile)) {
      const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-40);
      process.stderr.write(`\n${s.name}: the last lines of rectify's log (${logFile}):\n${tail.join('\n')}\n\n`);
    }
    throw err;
  } finally {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The V8 heap rectify holds from the system (used or not) and its external memory, from its own /metrics: the rest of the resident set is native. */
async function heapStats(url: string): Promise<{ heapTotalMiB: number; externalMiB: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { heapTotalMiB: value('nodejs_heap_size_total_bytes'), externalMiB: value('nodejs_external_memory_bytes') };
}

/** Group-commit figures from rectify's own metrics (whole run, warm-up and executions' own updates included). */
async function commitStats(url: string): Promise<{ count: number; unitsPerCommit: number; msPerCommit: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const count = value('rectify_commit_batch_size_count');
  return { count, unitsPerCommit: value('rectify_commit_batch_size_sum') / count, msPerCommit: (value('rectify_commit_duration_seconds_sum') * 1000) / count };
}

function combine(parts: LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => parts.reduce((a, r) => a + f(r), 0);
  const seconds = sum((r) => r.seconds);
  const requests = sum((r) => r.requests);
  const alerts = sum((r) => r.alerts);
  return {
    requests,
    alerts,
    ok2xx: sum((r) => r.ok2xx),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    seconds,
    requestsPerSecond: requests / seconds,
    alertsPerSecond: alerts / seconds,
    latencyMs: {
      p50: Math.max(...parts.map((r) => r.latencyMs.p50)),
      p90: Math.max(...parts.map((r) => r.latencyMs.p90)),
      p99: Math.max(...parts.map((r) => r.latencyMs.p99)),
      max: Math.max(...parts.map((r) => r.latencyMs.max)),
    },
    statuses: {},
    sent: { fresh: sum((r) => r.sent.fresh), duplicates: sum((r) => r.sent.duplicates) },
    serverCpuUsPerAlert: parts.every((r) => r.serverCpuUsPerAlert !== null) ? sum((r) => r.serverCpuUsPerAlert! * r.alerts) / alerts : null,
  };
}

function fmtRate(r: LoadResult): string {
  return `${Math.round(r.alertsPerSecond).toLocaleString('en-US')} alerts/s (${Math.round(r.requestsPerSecond).toLocaleString('en-US')} req/s), p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms${r.serverCpuUsPerAlert !== null ? `, ${r.serverCpuUsPerAlert.toFixed(1)} µs CPU/alert` : ''}${r.non2xx ? `, ${r.non2xx} non-2xx` : ''}`;
}

async function main(): Promise<void> {
  const { names, quick, nodeOptions, env, fromSources } = parseArgs(process.argv.slice(2));
  const chosen = names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` };
  process.stdout.write(`rectify storm benchmarks — ${machine.cpus} × ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}${quick ? ' (quick)' : ''}\n`);
  const diskCache = new Map<number, DiskCeiling>();
  const results: ScenarioResult[] = [];
  process.stdout.write(`rectify runs with node options: ${nodeOptions.length ? nodeOptions.join(' ') : "(node's defaults)"}\n`);
  const envText = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`rectify runs with environment: ${envText || "(glibc's allocator defaults)"}\n`);
  if (fromSources) process.stdout.write('rectify runs from its sources (node --import tsx src/main.ts)\n');
  else {
    process.stdout.write('rectify runs compiled: npm run build, then node dist/main.js\n');
    buildDist();
  }
  for (const s of chosen) results.push(await runScenario(s, quick, { nodeOptions, env, fromSources }, diskCache));
  const targets = evaluateTargets(results);
  printResults(results, targets, (line) => process.stdout.write(`${line}\n`));
  const at = new Date().toISOString();
  const out = { at, machine, quick, rectifyNodeOptions: nodeOptions, rectifyEnv: env, rectifyFrom: fromSources ? 'sources' : 'dist', results, targets };
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${at.replaceAll(':', '-')}.json`), `${JSON.stringify(out, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\nresults: bench/results/latest.json\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});

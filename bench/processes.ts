import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LoadPlan, LoadResult } from './load.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resident set of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface Server {
  url: string;
  pid: number;
  stop(): Promise<number | null>;
}

async function waitReady(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before it was ready`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready within 60s`);
}

function stopper(child: ChildProcess): () => Promise<number | null> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
}

/**
 * The node options the container image runs rectify with (its NODE_OPTIONS line
 * in the Dockerfile): the bench measures the service as it is shipped.
 */
export function imageNodeOptions(): string[] {
  const m = /NODE_OPTIONS="([^"]*)"/.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  return m ? m[1]!.split(/\s+/).filter(Boolean) : [];
}

/** The allocator settings the Dockerfile's ENV gives the image (MALLOC_ARENA_MAX), as NAME=value pairs. */
export function imageAllocatorEnv(): Record<string, string> {
  const m = /MALLOC_ARENA_MAX=(\d+)/.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  return m ? { MALLOC_ARENA_MAX: m[1]! } : {};
}

/**
 * Compiles src/ to dist/ (`npm run build`), as the container image does: the
 * service is measured as it runs in production, not through the tsx loader.
 */
export function buildDist(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * rectify as an operator runs it: `rectify serve` in a process of its own, logging
 * at info to a file; compiled (dist/main.js, see buildDist) unless `fromSources`.
 */
export async function startRectify(opts: {
  dbPath: string;
  runbooksDir: string;
  logFile: string;
  args?: string[];
  nodeOptions?: string[];
  /** Added to the environment (the image's allocator settings). */
  env?: Record<string, string>;
  fromSources?: boolean;
}): Promise<Server> {
  const port = await freePort();
  const out = openSync(opts.logFile, 'a');
  const entry = opts.fromSources ? ['--import', 'tsx', 'src/main.ts'] : ['dist/main.js'];
  const child = spawn(
    process.execPath,
    [...(opts.nodeOptions ?? []), ...entry, 'serve', '--listen', `127.0.0.1:${port}`, '--db', `sqlite:${opts.dbPath}`, '--runbooks', opts.runbooksDir, ...(opts.args ?? [])],
    { cwd: ROOT, stdio: ['ignore', out, out], env: { ...process.env, ...opts.env } },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`, child, 'rectify');
  return { url, pid: child.pid!, stop: stopper(child) };
}

/** The HTTP ceiling: the bare Fastify route. */
export function startBare(bodyLimit: number): Promise<Server> {
  return startReference('bench/bare-server.ts', [String(bodyLimit)], 'bare server');
}

/** The design floor: the minimal group-commit service, its database in `dir`. */
export function startMinimal(bodyLimit: number, dir: string): Promise<Server> {
  return startReference('bench/minimal-server.ts', [String(bodyLimit), dir], 'minimal server');
}

async function startReference(script: string, args: string[], what: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(port), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  // Any answer means it listens (GET on the POST route is a 404).
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(url);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, pid: child.pid!, stop: stopper(child) };
}

/** Runs the load generator in its own process and returns what it measured. */
export function runLoad(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load.ts', JSON.stringify(plan)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as LoadResult);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

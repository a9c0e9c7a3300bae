import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHttpTarget, type HttpTarget } from './http-target.js';

/**
 * A real rectify process: `node --import tsx src/main.ts serve …` on a free
 * loopback port, for tests that must kill it for real (SIGKILL leaves no chance to
 * clean up, which is the point). Resolves once /readyz answers 200.
 *
 *   const p = await startRectifyProcess({ db, runbooks, args: ['--max-concurrent-executions', '1'] });
 *   await p.post('/api/v1/incidents', {...});
 *   await p.kill9();
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface RectifyProcess {
  readonly url: string;
  readonly pid: number;
  /** Everything the process wrote so far (pino JSON lines, then any stderr). */
  output(): string;
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
  /**
   * SIGKILL, and wait until the process is gone; started with `reapedLate`, until it is a
   * zombie its parent has not collected (see release).
   */
  kill9(): Promise<void>;
  /** Started with `reapedLate`: ends the parent that holds it (SIGKILL to its group), so the zombie is collected. Else nothing. */
  release(): Promise<void>;
  /** SIGTERM (graceful), and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** The notification receivers, by the names the audit log gives them, as the process logged them at its start. */
export function receiversOf(p: RectifyProcess): string[] {
  const line = p
    .output()
    .split('\n')
    .find((l) => l.includes('notifications go to these receivers'));
  if (!line) throw new Error('the process logged no notification receivers');
  return (JSON.parse(line) as { receivers: string[] }).receivers;
}

export interface ProcessOptions {
  /** Path of the SQLite file. */
  db: string;
  runbooks: string;
  args?: string[];
  env?: Record<string, string>;
  /** How long to wait for readiness (default 30s: tsx compiles on first start). */
  readyTimeoutMs?: number;
  /**
   * Started by a parent that does not collect it when it dies (a supervisor that reaps
   * late): `sh -c '"$@" & exec sleep'`, in a process group of its own. kill9 leaves it a
   * zombie, pid and start time unchanged, until release() ends the parent.
   */
  reapedLate?: boolean;
  /** Modules node imports before rectify's entry (after tsx), `--import` each. */
  preload?: string[];
}

/** Process `pid`'s state letter (R, S, Z…) from /proc, or undefined when it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function startRectifyProcess(opts: ProcessOptions): Promise<RectifyProcess> {
  const argv = ['--import', 'tsx', ...(opts.preload ?? []).flatMap((m) => ['--import', m]), 'src/main.ts', 'serve', '--db', `sqlite:${opts.db}`, '--runbooks', opts.runbooks, '--listen', '127.0.0.1:0', ...(opts.args?.includes('--log-level') ? [] : ['--log-level', 'info']), ...(opts.args ?? [])];
  // Only what the service needs from this environment: no RECTIFY_* leaks in from the test runner.
  const options = { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...(opts.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
  // The shell starts rectify in the background and becomes a sleep, which never waits for a child.
  const child = opts.reapedLate
    ? spawn('/bin/sh', ['-c', '"$@" & exec /bin/sleep 3600', 'sh', process.execPath, ...argv], { ...options, detached: true })
    : spawn(process.execPath, argv, options);
  /** Under a late reaper, the parent's group: it holds rectify too, until it dies. */
  const group = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));

  // The bound address comes from the "rectify serving" log line: port 0 means no race for a free port.
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`rectify did not start within ${opts.readyTimeoutMs ?? 30_000}ms:\n${out}`)), opts.readyTimeoutMs ?? 30_000);
    const onData = (): void => {
      for (const line of out.split('\n')) {
        if (!line.includes('"rectify serving"')) continue;
        try {
          const address = (JSON.parse(line) as { address?: string }).address;
          if (address) {
            cleanup();
            resolve(address.replace('[::1]', '127.0.0.1'));
            return;
          }
        } catch {
          /* a partial line: wait for the rest */
        }
      }
    };
    const onExit = (code: number | null): void => fail(new Error(`rectify exited (${code}) before serving:\n${out}`));
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    }
    function fail(err: Error): void {
      cleanup();
      if (opts.reapedLate) group();
      else child.kill('SIGKILL');
      reject(err);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });

  async function request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(url + path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    return { status: res.status, body: text && (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text };
  }

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    const r = await request('GET', '/readyz').catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) {
      if (opts.reapedLate) group();
      else child.kill('SIGKILL');
      throw new Error(`rectify never became ready:\n${out}`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }

  if (opts.reapedLate) {
    // The parent is the sleep: rectify's own pid is the one its log lines give.
    const serving = out.split('\n').find((l) => l.includes('"rectify serving"'));
    const pid = (JSON.parse(serving!) as { pid: number }).pid;
    const dead = async (): Promise<void> => {
      while (!['Z', 'X', undefined].includes(procState(pid))) await new Promise((res) => setTimeout(res, 20));
    };
    return {
      url,
      pid,
      output: () => out,
      post: (path, body) => request('POST', path, body),
      get: (path) => request('GET', path),
      async kill9() {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await dead();
      },
      async release() {
        group();
        await exited(child);
      },
      async stop() {
        process.kill(pid, 'SIGTERM');
        await dead();
        return null;
      },
    };
  }

  return {
    url,
    pid: child.pid!,
    output: () => out,
    post: (path, body) => request('POST', path, body),
    get: (path) => request('GET', path),
    async kill9() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async release() {},
    async stop() {
      child.kill('SIGTERM');
      return exited(child);
    },
  };
}

/**
 * One folder for a describe block whose tests kill and restart real processes: call it in
 * the block. Its before() starts an HTTP target (for the runbooks' steps and the
 * notification receivers) and writes `runbooks(target.url)` to `runbooks/r.yaml` in a temp
 * folder named from `prefix`; its after() kills every process `start` started (SIGKILL: one
 * already gone is left as it is), closes the target and removes the folder. A before() of
 * the block's own, registered after the call, runs after it and may route the target.
 *
 *   const rig = useRectifyProcesses('rectify-crash-', runbooks);
 *   const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`]);
 *   it('…', async () => { let p = await start(); await p.kill9(); p = await start(); … });
 */
export interface ProcessRig {
  readonly target: HttpTarget;
  /** The temp folder. */
  readonly dir: string;
  /** `rectify.db` in the folder: the database `start` serves by default. */
  readonly db: string;
  /** The runbooks folder. */
  readonly runbooks: string;
  /** `rectify serve` on the runbooks folder and `db` (or another database file), with these arguments. */
  start(args?: string[], db?: string, opts?: Pick<ProcessOptions, 'reapedLate'>): Promise<RectifyProcess>;
}

export function useRectifyProcesses(prefix: string, runbooks: (targetUrl: string) => string): ProcessRig {
  let target: HttpTarget | undefined;
  let dir: string | undefined;
  const started: RectifyProcess[] = [];
  before(async () => {
    target = await startHttpTarget();
    dir = mkdtempSync(join(tmpdir(), prefix));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'r.yaml'), runbooks(target.url));
  });
  after(async () => {
    for (const p of started) {
      await p.kill9();
      await p.release();
    }
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const set = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the process folder is made in before(): use it in a test or a later hook');
    return value;
  };
  return {
    get target() {
      return set(target);
    },
    get dir() {
      return set(dir);
    },
    get db() {
      return join(set(dir), 'rectify.db');
    },
    get runbooks() {
      return join(set(dir), 'runbooks');
    },
    async start(args = [], db = join(set(dir), 'rectify.db'), opts = {}) {
      const p = await startRectifyProcess({ db, runbooks: join(set(dir), 'runbooks'), args, ...opts });
      started.push(p);
      return p;
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
  /** SIGKILL, and wait until the process is gone. */
  kill9(): Promise<void>;
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
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function startRectifyProcess(opts: ProcessOptions): Promise<RectifyProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', 'serve', '--db', `sqlite:${opts.db}`, '--runbooks', opts.runbooks, '--listen', '127.0.0.1:0', '--log-level', 'info', ...(opts.args ?? [])],
    // Only what the service needs from this environment: no RECTIFY_* leaks in from the test runner.
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...(opts.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
      child.kill('SIGKILL');
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
      child.kill('SIGKILL');
      throw new Error(`rectify never became ready:\n${out}`);
    }
    await new Promise((res) => setTimeout(res, 50));
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
    async stop() {
      child.kill('SIGTERM');
      return exited(child);
    },
  };
}

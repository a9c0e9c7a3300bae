import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * A reader that goes away (`rectify audit export | head -1`) closes the pipe: the next
 * write fails with EPIPE. The command ends quietly (no stack trace on stderr) with its own
 * exit code, 0 for a listing, and a long-running one (`--follow`) ends instead of hanging.
 * This needs a real process: the EPIPE comes from process.stdout, which run(argv, io) never sees.
 * The pipes of Node's spawn are sockets: a reader gone is told there without writing a byte.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs rectify with stdout's read end closed before it writes anything; resolves its exit code and stderr. */
function withStdoutClosed(argv: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    }),
  );
}

describe('a closed stdout ends a command quietly', () => {
  let svc: TestService;
  let env: Record<string, string>;
  before(async () => {
    svc = await startTestService({ args: ['--listen', '127.0.0.1:0'] });
    // Each incident adds audit rows: more than one export page (1,000 rows) and than a pipe buffer holds.
    for (let i = 0; i < 600; i++) await svc.post('/api/v1/incidents', { id: `INC-${i}`, root_cause: 'nothing matches', service: 'shop' });
    env = { RECTIFY_SERVER: await svc.service.listen() };
  });
  after(() => svc.stop({ remove: true }));

  it('audit export <db>: exit 0, nothing on stderr', { timeout: 30_000 }, async () => {
    assert.deepEqual(await withStdoutClosed(['audit', 'export', svc.dbPath]), { code: 0, stderr: '' });
  });

  it('audit --limit 200 (a client command): exit 0, nothing on stderr', { timeout: 30_000 }, async () => {
    assert.deepEqual(await withStdoutClosed(['audit', '--limit', '200'], env), { code: 0, stderr: '' });
  });

  it('audit --follow: ends (exit 0) once nobody reads, instead of following forever', { timeout: 30_000 }, async () => {
    assert.deepEqual(await withStdoutClosed(['audit', '--follow', '--limit', '5'], env), { code: 0, stderr: '' });
  });

  it('audit --follow whose reader goes after reading its first rows, on a quiet log: ends (exit 0) with no new row to write', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'audit', '--follow', '--limit', '3', '--interval', '200ms'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      // The header and the 3 newest rows, as `| head -n 4` reads them; then the reader goes.
      let out = '';
      await new Promise<void>((resolve) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (out.split('\n').length > 4) resolve();
        });
      });
      assert.match(out.split('\n')[0]!, /^SEQ +AT +EVENT/);
      const newest = async () => ((await svc.get('/api/v1/audit?limit=1')).body.events[0] as { seq: number }).seq;
      const head = await newest();
      child.stdout.destroy();
      // No audit row is written from here on: only the reader going can end it. Not
      // noticing it, it would follow until the next row: killed after 30s (exit null).
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(killer);
      assert.deepEqual({ code, stderr }, { code: 0, stderr: '' });
      assert.equal(await newest(), head);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('rectify serve whose stdout reader went away', () => {
  it('logs to stderr from then on, after a line saying so, and stops as usual', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-serve-stdout-'));
    mkdirSync(join(dir, 'runbooks'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'rectify.db')}`, '--runbooks', join(dir, 'runbooks')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // The address is in the log's "rectify serving" line: without the fallback it is written nowhere.
      const deadline = Date.now() + 30_000;
      while (!stderr.includes('"rectify serving"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const lines = stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; level: string; code?: string; address?: string });
      assert.deepEqual(lines[0] && [lines[0].level, lines[0].code, lines[0].msg], ['warn', 'EPIPE', 'stdout cannot be written: the log goes to stderr from here on'], stderr);
      const serving = lines.find((l) => l.msg === 'rectify serving');
      assert.ok(serving?.address, stderr);
      // Serving (its folder holds no runbook: alive, not ready).
      assert.equal((await fetch(`${serving.address}/healthz`)).status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.match(stderr, /"exit_code":0,"msg":"stopped"/);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

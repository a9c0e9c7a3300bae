import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * `npm run demo` interrupted (Ctrl-C, or a SIGINT / SIGTERM to the demo alone, as a
 * CI timeout sends it): it stops Prometheus, Alertmanager, rectify and the demo
 * service and removes its temp folder before it exits, instead of dying at once and
 * leaving them running, orphaned.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Whether anything still listens on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** Whether any process is left in the process group. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes of a group, for the failure message. */
function leftovers(pgid: number): string {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '-g', String(pgid)], { encoding: 'utf8' });
  } catch {
    return '(none)';
  }
}

describe('npm run demo, interrupted', { timeout: 120_000 }, () => {
  let demo: ChildProcess | undefined;
  let dir: string | undefined;
  after(() => {
    if (demo?.pid !== undefined && groupAlive(demo.pid)) process.kill(-demo.pid, 'SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a SIGINT to the demo alone stops every part it started and removes its folder; exit 130', async () => {
    // Its own process group: a signal sent to the demo reaches no child, and the test can find leftovers.
    demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'demo/run.ts')], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((res) => demo!.once('exit', (code) => res(code)));
    let out = '';
    demo.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    demo.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const deadline = Date.now() + 90_000;
    while (!/^ {2}rectify +http:\/\/127\.0\.0\.1:\d+/m.test(out)) {
      assert.ok(Date.now() < deadline && demo.exitCode === null, `the demo did not start its parts:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    dir = /in (\/\S+rectify-demo-\w+)\)…/.exec(out)?.[1];
    assert.ok(dir && existsSync(dir), `the demo names its folder:\n${out}`);
    const ports = [...out.matchAll(/^ {2}(?:flaky demo service|Alertmanager|Prometheus|rectify) +http:\/\/127\.0\.0\.1:(\d+)/gm)].map((m) => Number(m[1]));
    assert.equal(ports.length, 4, out);
    for (const p of ports) assert.equal(await listening(p), true, `port ${p} before the interrupt`);

    process.kill(demo.pid!, 'SIGINT');
    assert.equal(await exited, 130, out);
    // tsx's esbuild helper ends on its own once its parent is gone: a moment, not more.
    for (let i = 0; i < 30 && groupAlive(demo.pid!); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(groupAlive(demo.pid!), false, `a process the demo started is still running:\n${leftovers(demo.pid!)}`);
    for (const p of ports) assert.equal(await listening(p), false, `port ${p} still listening`);
    assert.equal(existsSync(dir), false, `${dir} left behind`);
    assert.match(out, /SIGINT: stopping the demo's parts…/);
  });
});

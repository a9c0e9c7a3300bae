import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startRectifyProcess, type RectifyProcess } from '../helpers/process.js';

/**
 * A SIGHUP while `rectify serve` is still loading its modules (a reloader's signal as the pod
 * comes up) ended the process (exit 129): serve's own handlers come only after every module
 * is imported and the configuration loaded. The entry point now holds the signal from its
 * first line, and serve reloads once its start has ended.
 */
const RUNBOOK = 'runbooks:\n  fix:\n    risk: LOW\n    triggers: [Broken]\n    min_confidence: 0.5\n    action:\n      http: {method: POST, url: "http://127.0.0.1:9/act"}\n    rollback: none\n    rollback_reason: test\n';
const HUP_WHILE_LOADING = fileURLToPath(new URL('../fixtures/hooks/sighup-while-loading.mjs', import.meta.url));

describe('a SIGHUP while rectify serve loads (a real process)', () => {
  let dir: string;
  let p: RectifyProcess | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-earlyhup-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'r.yaml'), RUNBOOK);
  });
  after(async () => {
    await p?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits for the start to end: the service comes up, serves /healthz, then reloads', async () => {
    p = await startRectifyProcess({ db: join(dir, 'rectify.db'), runbooks: join(dir, 'runbooks'), args: ['--kubernetes', 'off'], preload: [HUP_WHILE_LOADING] });
    const health = await p.get('/healthz');
    assert.equal(health.status, 200);
    const msgs = (): string[] =>
      p!
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => String((JSON.parse(l) as { msg?: unknown }).msg));
    const reloaded = 'runbooks reloaded: nothing changed';
    for (let i = 0; i < 400 && !msgs().includes(reloaded); i++) await new Promise((r) => setTimeout(r, 25));
    const seen = msgs();
    const serving = seen.indexOf('rectify serving');
    const reloading = seen.findIndex((m) => m.startsWith('reloading the runbooks'));
    assert.ok(serving >= 0 && reloading > serving, `the reload comes after the start:\n${seen.join('\n')}`);
    assert.equal(seen.filter((m) => m.startsWith('reloading the runbooks')).length, 1);
    assert.equal(seen.includes(reloaded), true);
  });
});

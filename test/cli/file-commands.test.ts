import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createManualClock } from '../../src/lib/index.js';
import { startTestService } from '../helpers/service.js';
import { cli } from './capture.js';

/**
 * The commands that read files directly (serve, lint, test, openapi, audit verify,
 * audit export): what they accept, what they refuse before doing anything, and what
 * their --help says.
 */

const root = mkdtempSync(join(tmpdir(), 'rectify-file-commands-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('rectify serve', () => {
  // A folder that does not exist: were an argument let through, startup would stop on it (exit 2, another message) instead of serving.
  const safe = ['--listen', '127.0.0.1:0', '--db', 'sqlite::memory:', '--runbooks', join(root, 'no-such-folder')];

  it('refuses a positional argument, naming the flag that was meant, before starting anything', async () => {
    const r = await cli(['serve', 'prod', ...safe], { cwd: root });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: ['rectify serve takes no arguments; did you mean --runbooks prod?'] });
    const file = await cli(['serve', ...safe, 'rectify.yaml'], { cwd: root });
    assert.deepEqual(file.err, ['rectify serve takes no arguments; did you mean --config rectify.yaml?']);
    const two = await cli(['serve', 'a', 'b', ...safe], { cwd: root });
    assert.equal(two.code, 2);
    assert.deepEqual(two.err, ['rectify serve takes no arguments (got "a", "b"); settings are flags, see rectify serve --help']);
  });
});

describe('rectify openapi', () => {
  it('refuses an unknown flag or a second name before writing any file', async () => {
    const dir = join(root, 'openapi');
    mkdirSync(dir);
    const typo = await cli(['openapi', '--chek'], { cwd: dir });
    assert.deepEqual({ code: typo.code, out: typo.out, err: typo.err }, {
      code: 2,
      out: [],
      err: ['rectify openapi: --chek: unknown flag (did you mean "--check"?); usage: rectify openapi [file] [--check]'],
    });
    const two = await cli(['openapi', 'out1.yaml', 'out2.yaml', '--bogus'], { cwd: dir });
    assert.equal(two.code, 2);
    assert.deepEqual(two.err, [
      'rectify openapi: --bogus: unknown flag; usage: rectify openapi [file] [--check]',
      'rectify openapi: name one file (got "out1.yaml", "out2.yaml"); usage: rectify openapi [file] [--check]',
    ]);
    assert.deepEqual(readdirSync(dir), [], 'nothing was written');

    // What it is for still works: one name, then --check against it (also as --check=true).
    const wrote = await cli(['openapi', 'out.yaml'], { cwd: dir });
    assert.deepEqual({ code: wrote.code, out: wrote.out }, { code: 0, out: [`wrote ${join(dir, 'out.yaml')}`] });
    const checked = await cli(['openapi', '--check=true', 'out.yaml'], { cwd: dir });
    assert.deepEqual({ code: checked.code, out: checked.out }, { code: 0, out: [`${join(dir, 'out.yaml')} is up to date`] });
    assert.equal(existsSync(join(dir, 'openapi.yaml')), false);
  });
});

describe('rectify audit export --since', () => {
  it('takes a duration back from now, as rectify audit does, or an RFC 3339 time', async () => {
    const hour = 3_600_000;
    const clock = createManualClock(Date.now() - 2 * hour);
    const svc = await startTestService({ clock });
    let running = true;
    try {
      await svc.post('/api/v1/incidents', { id: 'OLD', root_cause: 'nothing matches', service: 'shop' });
      clock.set(Date.now());
      await svc.post('/api/v1/incidents', { id: 'NEW', root_cause: 'nothing matches', service: 'shop' });
      await svc.stop();
      running = false;
      const db = `sqlite:${svc.dbPath}`;
      const incidents = (out: string[]) => [...new Set(out.map((l) => JSON.parse(l).incident_id))];

      const lastHour = await cli(['audit', 'export', '--db', db, '--since', '1h'], { cwd: svc.dir });
      assert.deepEqual(lastHour.err, []);
      assert.equal(lastHour.code, 0);
      assert.deepEqual(incidents(lastHour.out), ['NEW']);
      const threeHours = await cli(['audit', 'export', '--db', db, '--since', '3h'], { cwd: svc.dir });
      assert.deepEqual(incidents(threeHours.out), ['OLD', 'NEW']);
      const at = await cli(['audit', 'export', '--db', db, '--since', new Date(Date.now() - hour).toISOString()], { cwd: svc.dir });
      assert.deepEqual(at.out, lastHour.out);

      const bad = await cli(['audit', 'export', '--db', db, '--since', 'yesterday'], { cwd: svc.dir });
      assert.equal(bad.code, 2);
      assert.deepEqual(bad.err, ['--since: expected an RFC 3339 time (2026-11-24T03:00:00Z) or a duration back from now (1h, 30m), got "yesterday"']);
      assert.deepEqual(bad.out, []);
    } finally {
      if (running) await svc.stop();
      rmSync(svc.dir, { recursive: true, force: true });
    }
  });
});

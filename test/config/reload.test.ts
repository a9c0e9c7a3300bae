import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRectifyProcess, type RectifyProcess } from '../helpers/process.js';

/**
 * SIGHUP re-reads the runbooks, the tokens file, the TLS pair and a ${file:} Slack secret,
 * not the config file's settings, which a restart applies. It said nothing of them: an
 * operator who edited rectify.yaml and sent SIGHUP believed the edit in force.
 */
const RUNBOOK = 'runbooks:\n  fix:\n    risk: LOW\n    triggers: [Broken]\n    min_confidence: 0.5\n    action:\n      http: {method: POST, url: "http://127.0.0.1:9/act"}\n    rollback: none\n    rollback_reason: test\n';
const AT_RESTART = "it takes effect only at a restart (a reload does not apply the config file's settings; the value in force stays)";

/** The JSON log lines whose msg starts with `msg`, once `count` of them are there. */
async function logged(p: RectifyProcess, msg: string, count: number): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const lines = p
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => String(l['msg']).startsWith(msg));
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) throw new Error(`"${msg}" was not logged ${count} time(s):\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('SIGHUP and the config file (a real process)', () => {
  let dir: string;
  let file: string;
  let p: RectifyProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-cfgreload-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'r.yaml'), RUNBOOK);
    file = join(dir, 'rectify.yaml');
    writeFileSync(file, 'max_concurrent_executions: 3\ndry_run: false\n');
    p = await startRectifyProcess({ db: join(dir, 'rectify.db'), runbooks: join(dir, 'runbooks'), args: ['--config', file] });
  });
  after(async () => {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('warns of each key that differs from the value in force, taking effect only at a restart; the runbooks reload as ever', async () => {
    writeFileSync(file, 'max_concurrent_executions: 5\ndry_run: true\n');
    process.kill(p.pid, 'SIGHUP');
    const lines = await logged(p, 'a setting differs from the value in force: it takes effect only at a restart', 2);
    assert.deepEqual(
      lines.map((l) => [l['level'], l['setting']]),
      [
        ['warn', `${file}: max_concurrent_executions: changed in the file: ${AT_RESTART}`],
        ['warn', `${file}: dry_run: changed in the file: ${AT_RESTART}`],
      ],
    );
    await logged(p, 'runbooks reloaded', 1);
  });

  it('warns of a file that no longer loads, naming its problem', async () => {
    writeFileSync(file, 'max_concurrent_executions: five\n');
    process.kill(p.pid, 'SIGHUP');
    const [line] = await logged(p, 'the configuration read again has a problem: the settings in force stay, and a restart would refuse it', 1);
    assert.deepEqual([line!['level'], line!['problem']], ['warn', `${file}:1: max_concurrent_executions: expected a positive integer, got "five"`]);
    await logged(p, 'runbooks reloaded', 2);
  });
});

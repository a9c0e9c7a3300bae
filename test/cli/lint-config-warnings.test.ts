import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from './capture.js';

const root = mkdtempSync(join(tmpdir(), 'rectify-lint-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

const OK = 'runbooks:\n  fine:\n    risk: LOW\n    triggers: [x]\n    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n    rollback: none\n    rollback_reason: a test\n    post_checks: [{http: {url: "http://127.0.0.1:9/ok"}}]\n';

function project(config: string): string {
  const dir = mkdtempSync(join(root, 'p-'));
  mkdirSync(join(dir, 'runbooks'));
  writeFileSync(join(dir, 'runbooks', 'ok.yaml'), OK);
  writeFileSync(join(dir, 'rectify.yaml'), config);
  return dir;
}

/**
 * README: "`rectify lint` prints the same lines without starting anything" as the startup
 * warnings of the configuration. Lint read the configuration and printed only its problems:
 * `dry_run:` left empty (live mode) passed lint with exit 0.
 */
describe('rectify lint: the configuration\'s warnings', () => {
  it('an empty dry_run: in the config file is a warning: exit 1', async () => {
    const dir = project('runbooks: ./runbooks\ndry_run:\n');
    const runbooks = join(dir, 'runbooks');
    for (const argv of [['--config', 'rectify.yaml'], []]) {
      const r = await cli(['lint', ...argv], { cwd: dir });
      assert.deepEqual({ code: r.code, out: r.out, err: r.err }, {
        code: 1,
        out: [],
        err: [
          'rectify.yaml:2: dry_run: warning: set but empty: rectify runs remediations for real (live mode)',
          `0 problem(s) and 1 warning(s) in ${runbooks} (set by runbooks in rectify.yaml)`,
        ],
      }, argv.join(' '));
    }
  });

  it('an unknown RECTIFY_* variable is a warning too, with the runbooks\' own', async () => {
    const dir = project('runbooks: ./runbooks\n');
    const r = await cli(['lint'], { cwd: dir, env: { RECTIFY_WRAPPER_HOME: '/opt/w' } });
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, [
      'RECTIFY_WRAPPER_HOME: warning: not a rectify setting',
      `0 problem(s) and 1 warning(s) in ${join(dir, 'runbooks')} (set by runbooks in rectify.yaml)`,
    ]);
  });

  it('a key of the config file a variable overrides with another value is a warning; the runbooks folder the last line names is not', async () => {
    const dir = project('runbooks: ./runbooks\ndb: sqlite:./data/rectify.db\n');
    const runbooks = join(dir, 'runbooks');
    const r = await cli(['lint'], { cwd: dir, env: { RECTIFY_DB: 'sqlite:/srv/other.db' } });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, {
      code: 1,
      out: [],
      err: [
        "rectify.yaml:2: db: warning: overridden by RECTIFY_DB, which sets another value: the file's value is not in force",
        `0 problem(s) and 1 warning(s) in ${runbooks} (set by runbooks in rectify.yaml)`,
      ],
    });
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'ok.yaml'), OK);
    for (const [argv, env, from] of [[['--runbooks', 'other'], {}, '--runbooks'], [[], { RECTIFY_RUNBOOKS: 'other' }, 'RECTIFY_RUNBOOKS']] as const) {
      const folder = await cli(['lint', ...argv], { cwd: dir, env });
      assert.deepEqual({ code: folder.code, out: folder.out, err: folder.err }, { code: 0, out: [`1 runbook(s) OK in ${join(dir, 'other')} (set by ${from})`], err: [] }, from);
    }
  });

  it('the client commands\' RECTIFY_SERVER and RECTIFY_TOKEN, set in an operator\'s shell, are no warning of lint\'s', async () => {
    const dir = project('runbooks: ./runbooks\n');
    const r = await cli(['lint'], { cwd: dir, env: { RECTIFY_SERVER: 'http://127.0.0.1:9095', RECTIFY_TOKEN: 'abc' } });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 0, out: [`1 runbook(s) OK in ${join(dir, 'runbooks')} (set by runbooks in rectify.yaml)`], err: [] });
  });

  it('dry_run: false said outright is no warning; a folder argument reads no configuration', async () => {
    const quiet = project('runbooks: ./runbooks\ndry_run: false\n');
    const ok = await cli(['lint'], { cwd: quiet });
    assert.deepEqual({ code: ok.code, out: ok.out, err: ok.err }, { code: 0, out: [`1 runbook(s) OK in ${join(quiet, 'runbooks')} (set by runbooks in rectify.yaml)`], err: [] });
    const dir = project('runbooks: ./runbooks\ndry_run:\n');
    const arg = await cli(['lint', 'runbooks'], { cwd: dir });
    assert.deepEqual({ code: arg.code, out: arg.out, err: arg.err }, { code: 0, out: [`1 runbook(s) OK in ${join(dir, 'runbooks')}`], err: [] });
  });
});

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { LoadError } from '../../src/domain/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { cli } from '../cli/capture.js';

/**
 * A runbooks folder holding more runbook files than --max-runbook-files (10,000 by
 * default) is refused from its listing, before any file is read: at start rectify does
 * not start, on a reload the runbooks in force stay, as any refused reload.
 */
const runbook = (id: string, target: string) => `runbooks:
  ${id}:
    risk: LOW
    triggers: [${id}]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${target}/${id}/{service}"}
`;

const tooMany = (dir: string, count: number, max: number) =>
  `${dir}: the folder holds ${count} runbook files, more than the ${max} --max-runbook-files allows: none was read; is it the runbooks folder (a volume mounted in the wrong place?), or raise --max-runbook-files (RECTIFY_MAX_RUNBOOK_FILES, max_runbook_files)`;

/** `n` files that would each be a problem were they read: a problem in one would show. */
function fill(dir: string, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) writeFileSync(join(dir, `f${String(i).padStart(5, '0')}.yaml`), 'runbooks: [not, a, map]\n');
}

describe('a runbooks folder with too many files', { timeout: 120_000 }, () => {
  let root: string;
  let target: HttpTarget;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'rectify-file-limit-'));
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 200 });
  });
  after(async () => {
    await target.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('the setting: --max-runbook-files, RECTIFY_MAX_RUNBOOK_FILES, max_runbook_files, 10000 by default, a positive integer', () => {
    const dir = mkdtempSync(join(root, 'config-'));
    const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(argv, env, { cwd: dir });
    const value = (r: ReturnType<typeof load>) => ('config' in r ? r.config.maxRunbookFiles : r.problems.map((p) => `${p.file}: ${p.message}`));
    assert.equal(value(load([])), 10_000);
    assert.equal(value(load(['--max-runbook-files', '50'])), 50);
    assert.equal(value(load([], { RECTIFY_MAX_RUNBOOK_FILES: '60' })), 60);
    writeFileSync(join(dir, 'rectify.yaml'), 'max_runbook_files: 70\n');
    assert.equal(value(load([])), 70);
    assert.equal(value(load(['--max-runbook-files=80'], { RECTIFY_MAX_RUNBOOK_FILES: '60' })), 80);
    rmSync(join(dir, 'rectify.yaml'));
    const bad = value(load(['--max-runbook-files', '0']));
    assert.ok(Array.isArray(bad) && bad.length === 1 && /^--max-runbook-files: /.test(bad[0]!), String(bad));
  });

  it('at start, over the default 10,000: rectify serve exits 2 naming the folder and the count, before the database is created; raised past the count, every file is read', async () => {
    const dir = mkdtempSync(join(root, 'start-'));
    const runbooks = join(dir, 'runbooks');
    mkdirSync(runbooks);
    fill(runbooks, 10_001);
    // Not runbook files, so not counted: tests, hidden files, other names.
    writeFileSync(join(runbooks, 'x.test.yaml'), '');
    writeFileSync(join(runbooks, '.hidden.yaml'), '');
    writeFileSync(join(runbooks, 'notes.txt'), '');
    const db = join(dir, 'r.db');
    const serve = (env: Record<string, string> = {}) => cli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${db}`, '--runbooks', runbooks], { cwd: dir, env, signal: AbortSignal.timeout(30_000) });
    const r = await serve();
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: [tooMany(runbooks, 10_001, 10_000)] });
    assert.equal(existsSync(db), false);
    // Raised past the count, the folder is read: every file's own problem is reported instead.
    const raised = await serve({ RECTIFY_MAX_RUNBOOK_FILES: '10001' });
    assert.equal(raised.code, 2);
    assert.equal(raised.err.length, 10_001);
    assert.match(raised.err[0]!, /f00000\.yaml:1: runbooks: expected a map of runbook id to runbook, got a list$/);
  });

  it('at start, under a lower limit: createService refuses (a ConfigMap-style folder named by its own path), and lint says the same', async () => {
    const dir = mkdtempSync(join(root, 'start-low-'));
    const runbooks = join(dir, 'runbooks');
    const version = join(dir, 'runbooks', '..2026_12_06_05_00_00.1');
    mkdirSync(version, { recursive: true });
    for (const id of ['a', 'b', 'c']) writeFileSync(join(version, `${id}.yaml`), runbook(id, target.url));
    symlinkSync('..2026_12_06_05_00_00.1', join(runbooks, '..data'));
    for (const id of ['a', 'b', 'c']) symlinkSync(join('..data', `${id}.yaml`), join(runbooks, `${id}.yaml`));
    await assert.rejects(
      startTestService({ dir, args: ['--max-runbook-files', '2'] }),
      (err: unknown) => err instanceof LoadError && err.problems.length === 1 && `${err.problems[0]!.file}: ${err.problems[0]!.message}` === tooMany(runbooks, 3, 2),
    );
    const lint = await cli(['lint', '--runbooks', runbooks], { cwd: dir, env: { RECTIFY_MAX_RUNBOOK_FILES: '2' } });
    assert.equal(lint.code, 1);
    assert.deepEqual(lint.err[0], tooMany(runbooks, 3, 2));
    const svc = await startTestService({ dir, args: ['--max-runbook-files', '3'] });
    try {
      assert.equal(svc.service.catalog.all.length, 3);
    } finally {
      await svc.stop();
    }
  });

  it('on a reload: refused, the runbooks in force stay and still act, audited, told, at /readyz and in the metrics; fewer files load again', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 200 });
    target.route('POST', '/a/shop', { status: 200 });
    const svc = await startTestService({
      runbooks: { 'a.yaml': runbook('a', target.url), 'b.yaml': runbook('b', target.url) },
      args: ['--max-runbook-files', '2', '--notify-webhook', `${target.url}/hook`],
    });
    try {
      writeFileSync(join(svc.runbooksDir, 'a.yaml'), runbook('a', target.url).replace('risk: LOW', 'risk: HIGH'));
      writeFileSync(join(svc.runbooksDir, 'c.yaml'), runbook('c', target.url));
      const problem = tooMany(svc.runbooksDir, 3, 2);
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: false, problems: [problem] });
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.runbooks.map((r: any) => [r.id, r.risk]), [['a', 'LOW'], ['b', 'LOW']]);
      const ran = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'a', service: 'shop', confidence: 0.9 });
      assert.equal(ran.body.action, 'executed', 'the runbook in force, LOW, still runs');
      const ready = await svc.get('/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body.runbooks_reload_refused.problems, [problem]);
      const [row] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOAD_REFUSED')).body.events;
      assert.deepEqual(row.details.problems, [problem]);
      assert.equal(row.details.reason, `the runbooks folder ${svc.runbooksDir} was refused on reload (1 problem; first: ${problem}): the runbooks in force stay, and the next start would stop on the folder as it is; fix it`);
      await svc.service.drainNotifications();
      const told = target.requests('/hook', 'POST').map((r) => r.json() as { event: string; reason: string }).filter((n) => n.event.startsWith('RUNBOOKS'));
      assert.deepEqual(told.map((n) => [n.event, n.reason]), [['RUNBOOKS_RELOAD_REFUSED', row.details.reason]]);
      assert.match((await svc.app.inject({ method: 'GET', url: '/metrics' })).body, /^rectify_runbook_reloads_total\{outcome="refused"\} 1$/m);

      // Back to the limit: the folder loads, with the change made meanwhile.
      rmSync(join(svc.runbooksDir, 'c.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: [], changed: ['a'], reordered: false });
      assert.equal((await svc.get('/readyz')).body.runbooks_reload_refused, undefined);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

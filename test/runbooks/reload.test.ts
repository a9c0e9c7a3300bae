import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startRectifyProcess, type RectifyProcess } from '../helpers/process.js';
import { RectifyError } from '../../src/domain/index.js';
import { countRows } from '../storm/helpers.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * SIGHUP re-reads the runbooks folder, all or nothing: a folder that loads is in
 * force from the next decision, and what changed is audited; a folder with a
 * problem leaves every runbook as it was, and the problem is reported with its file
 * and YAML path.
 */

const restartApi = (base: string, path = 'restart') => `runbooks:
  restart-api:
    risk: LOW
    triggers: [ApiDown]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/${path}/{service}"}
`;
const scaleDb = (base: string) => `runbooks:
  scale-db:
    risk: LOW
    triggers: [DbSlow]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/scale/{service}"}
`;
const incident = (id: string, root_cause: string, service = 'shop') => ({ id, root_cause, service, confidence: 1 });

/** A guardrail endpoint that answers only once the test opens it (after its reload), not after a delay that a slow machine could outrun. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, handler: async () => (await opened, { status: 200 }) };
}

describe('runbook reload', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    for (const p of ['/restart/shop', '/restart-v2/shop', '/scale/shop']) target.route('POST', p, { status: 200 });
  });
  after(async () => target.close());

  it('a folder that loads is in force from the next decision; added, removed and changed runbooks are reported and audited', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url) } });
    try {
      assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('I1', 'DbSlow'))).body.action, 'manual');

      // One runbook added, one changed (its action's path), none removed.
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url, 'restart-v2'));
      const report = (await svc.service.reload());
      assert.deepEqual(report.runbooks, { ok: true, count: 2, added: ['scale-db'], removed: [], changed: ['restart-api'], reordered: false });
      // The runbook added has its counters at 0 from the reload (increase() then sees its first count).
      const added = (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(added, /^rectify_executions_total\{runbook="scale-db",outcome="success"\} 0$/m);
      assert.match(added, /^rectify_operator_resets_total\{runbook="scale-db",kind="cooldown_clear"\} 0$/m);

      const db = await svc.post('/api/v1/incidents?wait=true', incident('I2', 'DbSlow'));
      assert.equal(db.body.action, 'executed');
      assert.equal(db.body.runbook, 'scale-db');
      const api = await svc.post('/api/v1/incidents?wait=true', incident('I3', 'ApiDown'));
      assert.equal(api.body.action, 'executed');
      assert.equal(target.calls('/restart-v2/shop', 'POST'), 1);
      assert.equal(target.calls('/restart/shop', 'POST'), 0);
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.runbooks.map((r: any) => r.id).sort(), ['restart-api', 'scale-db']);

      // Removed: its alerts are a person's again.
      rmSync(join(svc.runbooksDir, 'db.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: ['scale-db'], changed: [], reordered: false });
      assert.equal((await svc.post('/api/v1/incidents', incident('I4', 'DbSlow'))).body.action, 'manual');
      // Its state series go from /metrics (its execution counts stay: they are history); the reloads are counted.
      const metrics = (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.doesNotMatch(metrics, /^rectify_(circuit_state|runbook_paused)\{runbook="scale-db"\}/m);
      assert.match(metrics, /^rectify_executions_total\{runbook="scale-db",outcome="success"\} 1$/m);
      assert.match(metrics, /^rectify_circuit_state\{runbook="restart-api"\} 0$/m);
      assert.match(metrics, /^rectify_runbook_reloads_total\{outcome="ok"\} 2$/m);
      assert.match(metrics, /^rectify_runbook_reloads_total\{outcome="refused"\} 0$/m);

      // The same folder again changes nothing, and is not audited.
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: [], reordered: false });
      const audited = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events;
      assert.deepEqual(
        audited.map((e: any) => [e.actor, e.details.added, e.details.removed, e.details.changed, e.details.count]).reverse(),
        [
          ['rectify', ['scale-db'], [], ['restart-api'], 2],
          ['rectify', [], ['scale-db'], [], 1],
        ],
      );

      // Added back: its count made before is not reset.
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: ['scale-db'], removed: [], changed: [], reordered: false });
      assert.match((await svc.app.inject({ method: 'GET', url: '/metrics' })).body, /^rectify_executions_total\{runbook="scale-db",outcome="success"\} 1$/m);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('the same runbooks in another order (a file renamed) are a change: the first that matches wins', async () => {
    target.reset();
    const both = (first: string) => `runbooks:
  ${first}:
    risk: LOW
    triggers: [ApiDown]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/${first === 'restart-api' ? 'restart' : 'scale'}/{service}"}
`;
    const svc = await startTestService({ runbooks: { 'a.yaml': both('restart-api'), 'b.yaml': both('scale-db') } });
    try {
      assert.equal((await svc.post('/api/v1/incidents', incident('I1', 'ApiDown'))).body.runbook, 'restart-api');
      renameSync(join(svc.runbooksDir, 'a.yaml'), join(svc.runbooksDir, 'c.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: [], changed: [], reordered: true });
      assert.equal((await svc.post('/api/v1/incidents', incident('I2', 'ApiDown'))).body.runbook, 'scale-db');
      const [row] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events;
      assert.equal(row.details.reordered, true);
      assert.deepEqual(Object.keys(row.details.versions).sort(), ['restart-api', 'scale-db']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('runbooks kept in another order are reordered even when the reload also adds or removes one', async () => {
    target.reset();
    const on = (id: string, path: string) => `runbooks:
  ${id}:
    risk: LOW
    triggers: [ApiDown]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/${path}/{service}"}
`;
    const svc = await startTestService({ runbooks: { 'a.yaml': on('hi', 'restart'), 'b.yaml': on('b-first', 'scale') } });
    try {
      assert.equal((await svc.post('/api/v1/incidents', incident('I1', 'ApiDown'))).body.runbook, 'hi');
      renameSync(join(svc.runbooksDir, 'b.yaml'), join(svc.runbooksDir, '0.yaml'));
      writeFileSync(join(svc.runbooksDir, 'c.yaml'), scaleDb(target.url));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 3, added: ['scale-db'], removed: [], changed: [], reordered: true });
      const [row] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events;
      assert.equal(row.details.reordered, true);
      assert.deepEqual(row.details.added, ['scale-db']);
      assert.equal((await svc.post('/api/v1/incidents', incident('I2', 'ApiDown'))).body.runbook, 'b-first');

      // One removed, the rest in the order they had: not reordered.
      rmSync(join(svc.runbooksDir, 'a.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: ['hi'], changed: [], reordered: false });
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a ConfigMap-style folder is read through its ..data link, one version at a time; problems name the folder\'s paths', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: {} });
    try {
      // What the kubelet writes: a timestamped folder, ..data pointing at it, and a link per file.
      const dir = svc.runbooksDir;
      const v1 = join(dir, '..2026_12_05_10_00_00.000000001');
      mkdirSync(v1);
      writeFileSync(join(v1, 'api.yaml'), restartApi(target.url));
      symlinkSync('..2026_12_05_10_00_00.000000001', join(dir, '..data'));
      // The file's own link names the first version: a reader that follows it, not ..data, would miss later versions.
      symlinkSync('..2026_12_05_10_00_00.000000001/api.yaml', join(dir, 'api.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: ['restart-api'], removed: [], changed: [], reordered: false });

      // A broken version: the problem names the file as the folder shows it.
      const v2 = join(dir, '..2026_12_05_10_05_00.000000002');
      mkdirSync(v2);
      writeFileSync(join(v2, 'api.yaml'), restartApi(target.url).replace('risk: LOW', 'risk: SOME'));
      rmSync(join(dir, '..data'));
      symlinkSync('..2026_12_05_10_05_00.000000002', join(dir, '..data'));
      const refused = (await svc.service.reload()).runbooks as { ok: boolean; problems: string[] };
      assert.deepEqual(refused, { ok: false, problems: [`${join(dir, 'api.yaml')}:3: runbooks.restart-api.risk: expected LOW, MEDIUM or HIGH, got "SOME"`] });
      assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('I1', 'ApiDown'))).body.action, 'executed');
      const metrics = (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^rectify_runbook_reloads_total\{outcome="refused"\} 1$/m);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a reload that cannot be audited does not happen: the runbooks in force stay', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url) } });
    const store = svc.service.store;
    const transact = store.transact;
    try {
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      // The reload's unit runs (its audit row written, the new runbooks put in force), then its commit fails.
      store.transact = ((work, o) =>
        transact.call(
          store,
          (tx) => {
            work(tx);
            throw new RectifyError('STORE_UNAVAILABLE', 'the database could not commit; nothing was recorded, retry later');
          },
          o,
        )) as typeof transact;
      const report = (await svc.service.reload()).runbooks;
      store.transact = transact;
      assert.deepEqual(report, { ok: false, problems: ['the reload could not be audited (the database could not commit; nothing was recorded, retry later)'] });
      assert.equal((await svc.post('/api/v1/incidents', incident('I1', 'DbSlow'))).body.action, 'manual', 'scale-db is not in force');
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.runbooks.map((r: any) => r.id), ['restart-api']);
      assert.equal((await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events.length, 0);
      // Once the disk takes writes again, the same folder goes in.
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: ['scale-db'], removed: [], changed: [], reordered: false });
    } finally {
      store.transact = transact;
      await svc.stop({ remove: true });
    }
  });

  it('two reloads at once run one after the other: the second finds the first in force', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url) } });
    try {
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      const [first, second] = await Promise.all([svc.service.reload(), svc.service.reload()]);
      assert.deepEqual(first.runbooks, { ok: true, count: 2, added: ['scale-db'], removed: [], changed: [], reordered: false });
      assert.deepEqual(second.runbooks, { ok: true, count: 2, added: [], removed: [], changed: [], reordered: false });
      assert.equal((await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events.length, 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a cooldown shortened by a reload and put back still holds: its rate-limit rows were kept', async () => {
    target.reset();
    const long = restartApi(target.url).replace('cooldown_minutes: 0', 'cooldown_minutes: 120');
    const svc = await startTestService({ runbooks: { 'api.yaml': long } });
    try {
      assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('I1', 'ApiDown'))).body.action, 'executed');
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), long.replace('cooldown_minutes: 120', 'cooldown_minutes: 1'));
      assert.equal(((await svc.service.reload()).runbooks as { ok: boolean }).ok, true);
      svc.clock.advance(70 * 60_000);
      await svc.service.housekeep();
      // Past the hour and the new cooldown, but not past the longest this process has had.
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM rate_events'), 1);
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), long);
      assert.equal(((await svc.service.reload()).runbooks as { ok: boolean }).ok, true);
      const again = await svc.post('/api/v1/incidents', incident('I2', 'ApiDown'));
      assert.equal(again.body.event, 'RATE_LIMITED');
      assert.match(again.body.reason, /^Cooldown active \(\d+s remaining\); decided again if it is posted again with the same id after the cooldown is over$/);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  // The last start is kept past the rate-limit rows housekeeping prunes (an hour, or the
  // longest cooldown loaded, and a minute): a cooldown lengthened since still finds it.
  for (const via of ['reload', 'restart'] as const) {
    it(`a cooldown lengthened by a ${via} holds from the last run, its rate-limit row pruned before`, async () => {
      target.reset();
      target.route('POST', '/restart/shop', { status: 200 });
      const short = restartApi(target.url).replace('cooldown_minutes: 0', 'cooldown_minutes: 5');
      let svc = await startTestService({ runbooks: { 'api.yaml': short } });
      try {
        assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('I1', 'ApiDown'))).body.action, 'executed');
        const t0 = svc.clock.now();
        svc.clock.set(t0 + 62 * 60_000);
        assert.equal((await svc.service.housekeep()).rateEvents, 1);
        assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM rate_events'), 0);
        writeFileSync(join(svc.runbooksDir, 'api.yaml'), short.replace('cooldown_minutes: 5', 'cooldown_minutes: 120'));
        if (via === 'reload') assert.equal(((await svc.service.reload()).runbooks as { ok: boolean }).ok, true);
        else svc = await svc.restart();
        const view = (await svc.get('/api/v1/runbooks/restart-api')).body;
        const end = new Date(t0 + 120 * 60_000).toISOString();
        assert.deepEqual([view.cooldown_minutes, view.cooldown_end, view.cooldowns], [120, end, [{ service: 'shop', until: end }]]);
        const again = await svc.post('/api/v1/incidents?wait=true', incident('I2', 'ApiDown'));
        assert.deepEqual(
          [again.body.action, again.body.event, again.body.reason],
          ['blocked', 'RATE_LIMITED', 'Cooldown active (3480s remaining); decided again if it is posted again with the same id after the cooldown is over'],
        );
        assert.equal(target.calls('/restart/shop', 'POST'), 1);
      } finally {
        await svc.stop({ remove: true });
      }
    });
  }

  it('one file with a problem keeps every runbook as it was, and names the file and YAML path', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 200 });
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url) }, args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      // A good new file next to a broken edit: neither takes effect.
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url).replace('risk: LOW', 'risk: EXTREME'));
      const report = (await svc.service.reload());
      assert.equal(report.runbooks?.ok, false);
      const problems = (report.runbooks as { problems: string[] }).problems;
      assert.equal(problems.length, 1);
      assert.equal(problems[0], `${join(svc.runbooksDir, 'api.yaml')}:3: runbooks.restart-api.risk: expected LOW, MEDIUM or HIGH, got "EXTREME"`);

      assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('I1', 'ApiDown'))).body.action, 'executed');
      assert.equal(target.calls('/restart/shop', 'POST'), 1);
      assert.equal((await svc.post('/api/v1/incidents', incident('I2', 'DbSlow'))).body.action, 'manual');
      assert.equal((await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events.length, 0);

      // Still serving, but the next start would stop: said at /readyz, in the audit log and to the notifiers.
      const ready = await svc.get('/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body.runbooks_reload_refused.problems, problems);
      const refusedRows = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOAD_REFUSED')).body.events;
      assert.equal(refusedRows.length, 1);
      assert.deepEqual(refusedRows[0].details.problems, problems);
      await svc.service.drainNotifications();
      const told = target.requests('/hook', 'POST').map((r) => r.json() as { event: string; outcome: string; reason: string }).filter((n) => n.event.startsWith('RUNBOOKS'));
      assert.deepEqual(told.map((n) => [n.event, n.outcome]), [['RUNBOOKS_RELOAD_REFUSED', 'refused']]);
      assert.match(told[0]!.reason, /^the runbooks folder .* was refused on reload \(1 problem; first: .*api\.yaml:3: runbooks\.restart-api\.risk: .*\): the runbooks in force stay, and the next start would stop on the folder as it is; fix it$/);

      // A missing folder is refused the same way.
      rmSync(svc.runbooksDir, { recursive: true });
      const gone = (await svc.service.reload()).runbooks as { ok: boolean; problems: string[] };
      assert.equal(gone.ok, false);
      assert.match(gone.problems[0]!, /runbooks folder not found/);
      assert.equal((await svc.get('/api/v1/runbooks')).body.runbooks.length, 1);

      // A reload that loads clears it.
      mkdirSync(svc.runbooksDir);
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      assert.equal((await svc.get('/readyz')).body.runbooks_reload_refused, undefined);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a FIFO, a file above 1 MiB or a tagged value is refused naming each, and the runbooks stay: the FIFO blocked the reload, and the service, forever', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url) } });
    try {
      execFileSync('mkfifo', [join(svc.runbooksDir, '..', 'pipe')]);
      symlinkSync(join(svc.runbooksDir, '..', 'pipe'), join(svc.runbooksDir, 'pipe.yaml'));
      writeFileSync(join(svc.runbooksDir, 'big.yaml'), `# ${'x'.repeat(1024 * 1024)}\n`);
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url).replace('risk: LOW', 'risk: !high LOW'));
      const report = (await svc.service.reload()).runbooks as { ok: boolean; problems: string[] };
      assert.equal(report.ok, false);
      assert.deepEqual(report.problems, [
        `${join(svc.runbooksDir, 'api.yaml')}:3: runbooks.restart-api.risk: YAML tag !high is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag`,
        `${join(svc.runbooksDir, 'big.yaml')}: cannot read the file: is larger than the 1 MiB a YAML file may be (1048579 bytes): split its runbooks into several files`,
        `${join(svc.runbooksDir, 'pipe.yaml')}: cannot read the file: is not a regular file (a FIFO, a socket or a device)`,
      ]);
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.runbooks.map((r: { id: string; risk: string }) => [r.id, r.risk]), [['restart-api', 'LOW']]);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('a runbook reload that would leave no runbook', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 200 });
    target.route('POST', '/restart/shop', { status: 200 });
  });
  after(async () => target.close());

  it('is refused like any refused reload: the runbooks in force stay, audited, told, at /readyz, saying to pause; its end is audited even when nothing changed', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url), 'db.yaml': scaleDb(target.url) }, args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      // An emptied folder (a volume not mounted, a ConfigMap gone looks the same).
      rmSync(join(svc.runbooksDir, 'api.yaml'));
      rmSync(join(svc.runbooksDir, 'db.yaml'));
      const problem = `${svc.runbooksDir}: no runbook in the folder: loading it would remove the 2 runbooks in force and stop all remediation`;
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: false, problems: [problem] });

      // Remediation goes on with the runbooks in force.
      assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('E1', 'ApiDown'))).body.action, 'executed');
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.runbooks.map((r: any) => r.id), ['restart-api', 'scale-db']);
      const ready = await svc.get('/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.runbooks, 2);
      assert.deepEqual(ready.body.runbooks_reload_refused.problems, [problem]);
      const reason = `the runbooks folder ${svc.runbooksDir} was refused on reload (1 problem; first: ${problem}): the runbooks in force stay; put the runbooks back (a folder emptied, a volume not mounted, a ConfigMap gone?), or to stop remediation on purpose, pause it (rectify pause, POST /api/v1/pause)`;
      const [row] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOAD_REFUSED')).body.events;
      assert.deepEqual([row.details.reason, row.details.problems], [reason, [problem]]);
      assert.equal((await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events.length, 0);
      await svc.service.drainNotifications();
      const told = target.requests('/hook', 'POST').map((r) => r.json() as { event: string; reason: string }).filter((n) => n.event.startsWith('RUNBOOKS'));
      assert.deepEqual(told.map((n) => [n.event, n.reason]), [['RUNBOOKS_RELOAD_REFUSED', reason]]);
      const metrics = (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^rectify_runbook_reloads_total\{outcome="refused"\} 1$/m);

      // The files put back as they were: nothing changes, and the log says the refusal is over.
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url));
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: [], changed: [], reordered: false });
      assert.equal((await svc.get('/readyz')).body.runbooks_reload_refused, undefined);
      const [over] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events;
      assert.deepEqual([over.details.count, over.details.added, over.details.removed, over.details.changed, over.details.refused_reload_over], [2, [], [], [], row.at]);
      assert.equal(over.details.reason, `SIGHUP: the runbooks folder loads again: the refusal of the reload at ${row.at} is over; the runbooks in force are unchanged`);
      // Once over, the same folder again is not audited.
      await svc.service.reload();
      assert.equal((await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events.length, 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a file that held runbooks in force and is now empty (written in place, not yet written) is refused; deleting the file, or `runbooks: {}`, removes them', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url), 'db.yaml': scaleDb(target.url) } });
    try {
      // `> api.yaml` then the text: between the two a reload finds nothing, or only the file's heading comment.
      for (const text of ['', '# restart-api: restarts the API when it is down\n']) {
        writeFileSync(join(svc.runbooksDir, 'api.yaml'), text);
        const problem = `${join(svc.runbooksDir, 'api.yaml')}: the file is empty (no runbook, not even a "runbooks:" key): loading it would remove the runbook in force from it (restart-api)`;
        assert.deepEqual((await svc.service.reload()).runbooks, { ok: false, problems: [problem] });
        const [row] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOAD_REFUSED')).body.events;
        assert.equal(
          row.details.reason,
          `the runbooks folder ${svc.runbooksDir} was refused on reload (1 problem; first: ${problem}): the runbooks in force stay; if the file is being written, send SIGHUP again once it is (write it elsewhere, then mv it in); to remove its runbooks, delete the file or write \`runbooks: {}\` in it`,
        );
        assert.deepEqual((await svc.get('/api/v1/runbooks')).body.runbooks.map((r: any) => r.id), ['restart-api', 'scale-db']);
        assert.equal((await svc.post('/api/v1/incidents?wait=true', incident(`E${text.length}`, 'ApiDown'))).body.action, 'executed');
      }
      // Written out: it loads.
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url, 'restart2'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: [], changed: ['restart-api'], reordered: false });
      // Removing on purpose: an explicit empty map, or the file deleted.
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), 'runbooks: {}\n');
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: ['restart-api'], changed: [], reordered: false });
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      rmSync(join(svc.runbooksDir, 'api.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: ['restart-api'], changed: [], reordered: false });
      // An empty file that held no runbook in force changes nothing and is no problem.
      writeFileSync(join(svc.runbooksDir, 'notes.yaml'), '');
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: [], reordered: false });
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('runbooks moved to another file while their old file is emptied load; only those the folder no longer holds refuse it', async () => {
    target.reset();
    const both = restartApi(target.url) + scaleDb(target.url).replace('runbooks:\n', '');
    const svc = await startTestService({ runbooks: { 'probe.yaml': both } });
    try {
      const probe = join(svc.runbooksDir, 'probe.yaml');
      // `cp probe.yaml probe2.yaml; : > probe.yaml`: both runbooks are still in the folder.
      writeFileSync(join(svc.runbooksDir, 'probe2.yaml'), both);
      writeFileSync(probe, '');
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: [], changed: [], reordered: false });
      assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('M1', 'DbSlow'))).body.action, 'executed');
      // Back in probe.yaml, then one of the two moved and the other left out: the one left out is named alone.
      writeFileSync(probe, both);
      rmSync(join(svc.runbooksDir, 'probe2.yaml'));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      writeFileSync(join(svc.runbooksDir, 'probe2.yaml'), scaleDb(target.url));
      writeFileSync(probe, '');
      const problem = `${probe}: the file is empty (no runbook, not even a "runbooks:" key): loading it would remove the runbook in force from it (restart-api)`;
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: false, problems: [problem] });
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.runbooks.map((r: any) => r.id), ['restart-api', 'scale-db']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a reload that changes runbooks after a refused one says the refusal is over too', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: { 'api.yaml': restartApi(target.url) } });
    try {
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url).replace('risk: LOW', 'risk: SOME'));
      assert.equal((await svc.service.reload()).runbooks?.ok, false);
      const [refused] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOAD_REFUSED')).body.events;
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: ['scale-db'], removed: [], changed: [], reordered: false });
      const [row] = (await svc.get('/api/v1/audit?event=RUNBOOKS_RELOADED')).body.events;
      assert.equal(row.details.refused_reload_over, refused.at);
      assert.equal(row.details.reason, `SIGHUP: the runbooks folder loads again: the refusal of the reload at ${refused.at} is over`);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a start on an empty folder serves, with a warning, not ready; a reload from none loads the folder, ready then', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: {}, captureLogs: true });
    try {
      const warned = svc.log.records().filter((r) => r.msg === 'no runbook loaded: nothing is remediated until runbooks are in the folder and rectify reloads them (SIGHUP)');
      assert.deepEqual(warned.map((r) => [r.level, r.dir]), [['warn', svc.runbooksDir]]);
      // Served (an alert is taken in, left to a person), but not ready: nothing would be remediated.
      const ready = await svc.get('/readyz');
      assert.deepEqual([ready.status, ready.body.ready, ready.body.store, ready.body.runbooks, ready.body.runbooks_error], [503, false, 'ok', 0, 'no runbook is loaded: every alert would be left to a person (NO_RUNBOOK); put runbooks in the folder and reload them (SIGHUP)']);
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), restartApi(target.url));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: ['restart-api'], removed: [], changed: [], reordered: false });
      const loaded = await svc.get('/readyz');
      assert.deepEqual([loaded.status, loaded.body.ready, loaded.body.runbooks, loaded.body.runbooks_error], [200, true, 1, undefined]);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('runbook reload while alerts are being prepared', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());
  // MEDIUM: its guardrail (a slow health endpoint) is evaluated before the decision, so the alert waits on it.
  const medium = (base: string, health = 'slow-health', risk = 'MEDIUM') => `runbooks:
  restart-api:
    risk: ${risk}
    triggers: [ApiDown]
    max_per_hour: 2
    cooldown_minutes: 0
    guardrails:
      - http: {url: "${base}/${health}", timeout_seconds: 5, interval_seconds: 1}
    action:
      http: {method: POST, url: "${base}/restart/{service}"}
`;
  /** Posts an alert, reloads `next` (null: the file removed) while its guardrail waits, then opens the gate. */
  async function reloadWhileGuardrailRuns(svc: TestService, next: string | null, alerts = [incident('I1', 'ApiDown')]): Promise<any[]> {
    const held = gate();
    target.route('GET', '/slow-health', held.handler);
    const answers = alerts.map((a) => svc.post('/api/v1/incidents?wait=true', a));
    await target.waitForRequest('/slow-health');
    if (next === null) rmSync(join(svc.runbooksDir, 'api.yaml'));
    else writeFileSync(join(svc.runbooksDir, 'api.yaml'), next);
    const reloaded = (await svc.service.reload()).runbooks as { ok: boolean };
    held.open();
    assert.equal(reloaded.ok, true);
    return (await Promise.all(answers)).map((a) => a.body);
  }

  async function service(): Promise<TestService> {
    target.reset();
    target.route('GET', '/fast-health', { status: 200 });
    target.route('POST', '/restart/shop', { status: 200 });
    return startTestService({ runbooks: { 'api.yaml': medium(target.url) } });
  }

  it('a runbook removed meanwhile does not act: the alert is a person\'s', async () => {
    const svc = await service();
    try {
      // Another runbook stays: a reload that would leave none is refused (see above).
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), scaleDb(target.url));
      const [decision] = await reloadWhileGuardrailRuns(svc, null);
      assert.equal(decision.action, 'manual');
      assert.equal(decision.event, 'NO_RUNBOOK');
      assert.equal(target.calls('/restart/shop', 'POST'), 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a runbook made HIGH meanwhile asks a person instead of running', async () => {
    const svc = await service();
    try {
      const [decision] = await reloadWhileGuardrailRuns(svc, medium(target.url, 'slow-health', 'HIGH'));
      assert.equal(decision.action, 'approval_required');
      assert.equal(target.calls('/restart/shop', 'POST'), 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a runbook whose guardrail changed meanwhile is prepared again with the new one, then decided', async () => {
    const svc = await service();
    try {
      const [decision] = await reloadWhileGuardrailRuns(svc, medium(target.url, 'fast-health'));
      assert.equal(decision.action, 'executed');
      assert.equal(decision.success, true);
      assert.equal(target.calls('/fast-health', 'GET'), 1);
      assert.equal(target.calls('/restart/shop', 'POST'), 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('runbook reload while a manual run is being prepared', () => {
  it('the run is refused with 409 and nothing runs: what was checked is not what would run', async () => {
    const target = await startHttpTarget();
    const held = gate();
    target.route('GET', '/slow-health', held.handler);
    target.route('POST', '/restart/shop', { status: 200 });
    const rb = (path: string) => `runbooks:
  restart-api:
    risk: MEDIUM
    triggers: [ApiDown]
    cooldown_minutes: 0
    guardrails:
      - http: {url: "${target.url}/slow-health", timeout_seconds: 5, interval_seconds: 1}
    action:
      http: {method: POST, url: "${target.url}/${path}/{service}"}
`;
    const svc = await startTestService({ runbooks: { 'api.yaml': rb('restart') } });
    try {
      const answer = svc.post('/api/v1/runbooks/restart-api/run', { by: 'bob', service: 'shop', params: { service: 'shop' } });
      await target.waitForRequest('/slow-health');
      writeFileSync(join(svc.runbooksDir, 'api.yaml'), rb('restart-v2'));
      const reloaded = (await svc.service.reload()).runbooks as { ok: boolean };
      held.open();
      assert.equal(reloaded.ok, true);
      const r = await answer;
      assert.equal(r.status, 409);
      assert.equal(r.body.error.message, 'runbook "restart-api" was reloaded while this run was being prepared: nothing was run; run it again');
      assert.equal(target.calls('/restart/shop', 'POST') + target.calls('/restart-v2/shop', 'POST'), 0);
      assert.equal((await svc.get('/api/v1/audit?event=MANUAL_RUN')).body.events.length, 0);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

describe('runbook reload on SIGHUP (a real process)', () => {
  let dir: string;
  let p: RectifyProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-rbreload-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'api.yaml'), restartApi('http://127.0.0.1:9'));
    p = await startRectifyProcess({ db: join(dir, 'rectify.db'), runbooks: join(dir, 'runbooks') });
  });
  after(async () => {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the signal reloads the folder and logs what changed', async () => {
    writeFileSync(join(dir, 'runbooks', 'db.yaml'), scaleDb('http://127.0.0.1:9'));
    process.kill(p.pid, 'SIGHUP');
    const deadline = Date.now() + 20_000;
    while (!p.output().includes('"runbooks reloaded"')) {
      if (Date.now() > deadline) throw new Error(`no reload logged:\n${p.output()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const line = JSON.parse(p.output().split('\n').find((l) => l.includes('"runbooks reloaded"'))!);
    assert.deepEqual([line.count, line.added, line.removed, line.changed, line.reordered], [2, ['scale-db'], [], [], false]);
    const res = await fetch(`${p.url}/api/v1/runbooks`);
    assert.deepEqual(((await res.json()) as any).runbooks.map((r: any) => r.id).sort(), ['restart-api', 'scale-db']);
  });

  it('the signal after the folder was emptied is refused: the runbooks stay, /readyz says so', async () => {
    rmSync(join(dir, 'runbooks', 'api.yaml'));
    rmSync(join(dir, 'runbooks', 'db.yaml'));
    process.kill(p.pid, 'SIGHUP');
    const deadline = Date.now() + 20_000;
    while (!p.output().includes('"runbooks refused on reload: the previous runbooks stay in force"')) {
      if (Date.now() > deadline) throw new Error(`no refusal logged:\n${p.output()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const ready = (await (await fetch(`${p.url}/readyz`)).json()) as any;
    assert.equal(ready.runbooks, 2);
    assert.match(ready.runbooks_reload_refused.problems[0], /: no runbook in the folder: loading it would remove the 2 runbooks in force and stop all remediation$/);
  });
});

describe('SIGHUP while rectify is stopping (a real process)', () => {
  it('is logged and ignored: the drain goes on and the process exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-hupstop-'));
    const target = await startHttpTarget();
    // The action takes a while, so the stop has an execution to drain.
    target.route('POST', '/restart/shop', { status: 200, delayMs: 2_500 });
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'api.yaml'), restartApi(target.url));
    const p = await startRectifyProcess({ db: join(dir, 'rectify.db'), runbooks: join(dir, 'runbooks') });
    try {
      const res = await fetch(`${p.url}/api/v1/incidents`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(incident('H1', 'ApiDown')) });
      assert.equal(((await res.json()) as any).action, 'executed');
      await target.waitForRequest('/restart/shop');
      const exit = p.stop();
      const deadline = Date.now() + 10_000;
      while (!p.output().includes('stopping: intake closed')) {
        if (Date.now() > deadline) throw new Error(`no stop logged:\n${p.output()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      process.kill(p.pid, 'SIGHUP');
      assert.equal(await exit, 0, p.output());
      assert.match(p.output(), /"ignored: rectify is stopping"/);
      assert.equal(target.calls('/restart/shop', 'POST'), 1);
    } finally {
      await p.stop();
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { cli } from '../cli/capture.js';

/**
 * A runbook paused on its own and then removed by a reload keeps its pause, which holds a
 * runbook of that id loaded later. It is listed and can be resumed while not loaded.
 */

const runbook = (id: string, trigger: string, base: string) => `runbooks:
  ${id}:
    risk: LOW
    triggers: [${trigger}]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;

describe('the pause of a runbook a reload removed', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200 });
    target.route('POST', '/hook', { status: 204 });
  });
  after(async () => target.close());

  it('is listed, resumed (audited, 200) while not loaded, and no longer holds the runbook loaded again; a 404 only with neither runbook nor pause', async () => {
    const svc = await startTestService({ runbooks: { 'api.yaml': runbook('restart-api', 'ApiDown', target.url), 'db.yaml': runbook('scale-db', 'DbSlow', target.url) }, args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      const paused = await svc.post('/api/v1/runbooks/scale-db/pause', { by: 'alice', reason: 'db migration' });
      assert.equal(paused.status, 200);
      const since = paused.body.pause.since;

      rmSync(join(svc.runbooksDir, 'db.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: ['scale-db'], changed: [], reordered: false });
      const listed = await svc.get('/api/v1/runbooks');
      assert.deepEqual(listed.body.paused_not_loaded, [{ runbook: 'scale-db', by: 'alice', reason: 'db migration', since }]);
      // Pausing a runbook not loaded is still a 404.
      const pauseGone = await svc.post('/api/v1/runbooks/scale-db/pause', { by: 'alice' });
      assert.deepEqual([pauseGone.status, pauseGone.body.error.code], [404, 'NOT_FOUND']);

      const resumed = await svc.post('/api/v1/runbooks/scale-db/resume', { by: 'bob', reason: 'migration done' });
      assert.equal(resumed.status, 200);
      assert.deepEqual(resumed.body, { runbook: 'scale-db', paused: false, changed: true, pause: null, held_while_paused: { alerts: 0, runbooks: [] }, global_pause: null, loaded: false });
      const rows = (await svc.get('/api/v1/audit?event=RUNBOOK_RESUMED')).body.events;
      assert.equal(rows.length, 1);
      assert.deepEqual([rows[0].runbook, rows[0].actor, rows[0].details.reason, rows[0].details.runbook_loaded], ['scale-db', 'bob', 'migration done', false]);
      // The notification does not say it runs: nothing of that id is loaded.
      assert.equal(rows[0].details.told.reason, 'the pause of scale-db cleared by bob: migration done; no runbook scale-db is loaded: a runbook of that id loaded later runs automatically');
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.paused_not_loaded, []);
      // No series is made again for a runbook the reload removed.
      assert.doesNotMatch((await svc.get('/metrics')).body, /rectify_runbook_paused\{runbook="scale-db"\}/);

      // Neither a runbook loaded nor a pause stored: 404, for the one just resumed and for an unknown id.
      for (const id of ['scale-db', 'nope']) {
        const gone = await svc.post(`/api/v1/runbooks/${id}/resume`, { by: 'bob' });
        assert.deepEqual([gone.status, gone.body.error.code, gone.body.error.message], [404, 'NOT_FOUND', `no runbook "${id}" is loaded`]);
      }
      assert.equal((await svc.get('/api/v1/audit?event=RUNBOOK_RESUMED')).body.events.length, 1);

      // Loaded again, it runs: the pause was cleared.
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), runbook('scale-db', 'DbSlow', target.url));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      const ran = await svc.post('/api/v1/incidents?wait=true', { id: 'I1', root_cause: 'DbSlow', service: 'shop', confidence: 1 });
      assert.deepEqual([ran.body.action, ran.body.runbook], ['executed', 'scale-db']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('rectify resume --runbook says the pause was cleared and that no runbook of that id is loaded, not that it runs; a loaded one still "runs automatically again"', async () => {
    const svc = await startTestService({ runbooks: { 'api.yaml': runbook('restart-api', 'ApiDown', target.url), 'db.yaml': runbook('scale-db', 'DbSlow', target.url) }, args: ['--listen', '127.0.0.1:0'] });
    try {
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      for (const id of ['scale-db', 'restart-api']) assert.equal((await cli(['pause', '--runbook', id, '--by', 'alice'], { env })).code, 0);
      rmSync(join(svc.runbooksDir, 'db.yaml'));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      const gone = await cli(['resume', '--runbook', 'scale-db', '--by', 'bob'], { env });
      assert.deepEqual([gone.code, gone.out], [0, ['cleared the pause of scale-db: no runbook scale-db is loaded; a runbook of that id loaded later runs automatically']]);
      const json = await cli(['resume', '--runbook', 'restart-api', '--by', 'bob', '--json'], { env });
      assert.equal(JSON.parse(json.out[0]!).loaded, undefined);
      assert.equal((await cli(['pause', '--runbook', 'restart-api', '--by', 'alice'], { env })).code, 0);
      const here = await cli(['resume', '--runbook', 'restart-api', '--by', 'bob'], { env });
      assert.deepEqual([here.code, here.out], [0, ['resumed restart-api: it runs automatically again']]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('still holds a runbook of that id loaded later while not resumed', async () => {
    const svc = await startTestService({ runbooks: { 'api.yaml': runbook('restart-api', 'ApiDown', target.url), 'db.yaml': runbook('scale-db', 'DbSlow', target.url) } });
    try {
      assert.equal((await svc.post('/api/v1/runbooks/scale-db/pause', { by: 'alice' })).status, 200);
      rmSync(join(svc.runbooksDir, 'db.yaml'));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      writeFileSync(join(svc.runbooksDir, 'db.yaml'), runbook('scale-db', 'DbSlow', target.url));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.paused_not_loaded, []);
      const held = await svc.post('/api/v1/incidents?wait=true', { id: 'I1', root_cause: 'DbSlow', service: 'shop', confidence: 1 });
      assert.deepEqual([held.body.action, held.body.event], ['blocked', 'PAUSED']);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

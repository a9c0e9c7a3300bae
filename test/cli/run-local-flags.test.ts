import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { cli } from './capture.js';

const RUNBOOK = `runbooks:
  r1:
    risk: LOW
    triggers: [X]
    action:
      http: {method: POST, url: "http://127.0.0.1:1/x"}
    rollback: none
    rollback_reason: test
`;

describe('rectify run: --local read as a boolean', () => {
  it('--local=false runs through the service (it selected a local run)', async () => {
    const fake = await startHttpTarget();
    try {
      fake.route('POST', '/api/v1/runbooks/r1/run', {
        status: 200,
        body: { incident_id: 'man_1', action: 'dry_run', runbook: 'r1', reason: 'dry run', event: 'DRY_RUN', approval_id: null, execution_id: null },
      });
      const r = await cli(['run', 'r1', '--local=false', '--dry-run', '--by', 'c', '--server', fake.url]);
      assert.equal(r.code, 0, r.err.join('\n'));
      assert.deepEqual(r.out, ['r1: dry run recorded, nothing executed (dry run); incident man_1']);
      assert.equal(fake.calls('/api/v1/runbooks/r1/run', 'POST'), 1);
    } finally {
      await fake.close();
    }
  });

  it('--local=false with --db is a contradiction: exit 2', async () => {
    const r = await cli(['run', 'r1', '--local=false', '--db', 'sqlite:/nonexistent/rectify.db']);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, ['--local=false: not with --db (a run on a database given by --db happens in this process); drop --db to run it through the service']);
  });
});

describe('rectify run --local --json: the database held by a serve', () => {
  it('prints the error as JSON on stdout (it printed nothing); exit 1', async () => {
    const svc = await startTestService({ runbooks: RUNBOOK });
    try {
      const r = await cli(['run', '--local', '--db', `sqlite:${svc.dbPath}`, '--runbooks', svc.runbooksDir, '--kubernetes', 'off', 'r1', '--json'], { cwd: svc.dir });
      assert.equal(r.code, 1);
      const said = r.err.filter((l) => l.startsWith('rectify run: '));
      assert.equal(said.length, 1);
      assert.match(said[0]!, /^rectify run: cannot open .*rectify\.db: the database .*rectify\.db is in use by a rectify serve \(.+\): run the runbook through it \(rectify run, without --local\)$/);
      assert.deepEqual(r.json(), { error: { code: 'STORE_UNAVAILABLE', message: said[0], details: [] } });
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

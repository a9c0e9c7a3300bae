import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { countRows } from '../storm/helpers.js';

/**
 * A manual run's param the runbook does not read is refused: a misspelt `new_replica`
 * beside a runbook reading `new_replicas` was ignored, and the run went on with the count
 * enrichment picked. What a runbook reads is its `params:`, its placeholders, the values
 * its named checks and matchers read and `service`, declared or not.
 */
describe('a manual run names only params its runbook reads', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/scale/web/8', { status: 200 });
    target.route('POST', '/note/shop', { status: 200 });
    target.route('POST', '/plain', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  scale-up:
    risk: LOW
    triggers: [high_cpu]
    max_per_hour: 50
    cooldown_minutes: 0
    params: {deployment: the deployment, new_replicas: the count to scale to}
    match: ['namespace!~"kube-system"']
    action:
      http: {method: POST, url: "${target.url}/scale/{deployment}/{new_replicas}"}
  note:
    risk: LOW
    triggers: [noted]
    max_per_hour: 50
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/note/{service}", body: {ticket: "{ticket}"}}
  plain:
    risk: LOW
    triggers: [plain]
    max_per_hour: 50
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/plain"}
`,
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  const rows = () => [countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM executions'), countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM audit')];

  it('a misspelt param: 400 naming it with a near spelling, nothing run, nothing written', async () => {
    const before = rows();
    // It reads namespace (its matcher), and pod, pod_name and statefulset too: deployment and
    // new_replicas are values Kubernetes enrichment gives, and those are what it starts from.
    const r = await svc.post('/api/v1/runbooks/scale-up/run?wait=true', { params: { deployment: 'web', namespace: 'production', new_replica: '8' }, by: 'bob' });
    assert.deepEqual(
      { status: r.status, body: r.body },
      {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message:
              'body.params.new_replica is not a param runbook scale-up reads (did you mean "new_replicas"?): it reads deployment, namespace, new_replicas, pod, pod_name, service, statefulset; nothing was run',
            details: [{ path: 'body.params.new_replica', message: 'not a param runbook scale-up reads (did you mean "new_replicas"?)' }],
          },
        },
      },
    );
    assert.deepEqual(rows(), before, 'no execution row, no audit row');
    assert.equal(target.requests().length, 0);
  });

  it('every unread name is named, one far from any without a guess; a dry run is refused too', async () => {
    const before = rows();
    const r = await svc.post('/api/v1/runbooks/scale-up/run', { params: { deployment: 'web', new_replicas: '8', zzz: 'x', 'a b': 'y' }, by: 'bob', dry_run: true });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.error.details, [
      { path: 'body.params.zzz', message: 'not a param runbook scale-up reads' },
      { path: 'body.params["a b"]', message: 'not a param runbook scale-up reads' },
    ]);
    assert.deepEqual(rows(), before);
  });

  it('what the runbook reads is taken, declared or not: its params, its matchers\' names, its placeholders, service', async () => {
    const scaled = await svc.post('/api/v1/runbooks/scale-up/run?wait=true', { params: { deployment: 'web', namespace: 'production', new_replicas: '8' }, by: 'bob' });
    assert.deepEqual([scaled.status, scaled.body.action, scaled.body.success], [202, 'executed', true]);
    assert.equal(target.calls('/scale/web/8', 'POST'), 1);
    // No params: declared: its placeholders ({service}, the body's {ticket}) are what it reads.
    const noted = await svc.post('/api/v1/runbooks/note/run?wait=true', { params: { service: 'shop', ticket: 'T-1' }, by: 'bob' });
    assert.deepEqual([noted.status, noted.body.action, noted.body.success], [202, 'executed', true]);
    const refused = await svc.post('/api/v1/runbooks/note/run?wait=true', { params: { service: 'shop', tickets: 'T-1' }, by: 'bob' });
    assert.deepEqual([refused.status, refused.body.error.details], [400, [{ path: 'body.params.tickets', message: 'not a param runbook note reads (did you mean "ticket"?)' }]]);
    // A runbook with no placeholder reads only service.
    const plain = await svc.post('/api/v1/runbooks/plain/run?wait=true', { params: { service: 'shop' }, by: 'bob' });
    assert.deepEqual([plain.status, plain.body.action], [202, 'executed']);
    const extra = await svc.post('/api/v1/runbooks/plain/run?wait=true', { params: { host: 'h1' }, by: 'bob' });
    assert.deepEqual([extra.status, extra.body.error.message], [400, 'body.params.host is not a param runbook plain reads: it reads service; nothing was run']);
  });
});

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startRectifyProcess, type RectifyProcess } from '../helpers/process.js';

/**
 * End to end: a runbook's secrets (an `${env:…}` bearer token and a `${file:…}` key)
 * reach the target they are meant for and nothing else: not the audit log (rows and
 * export), not the process's log output (pino at trace), not any API answer, not
 * /metrics, not the database file. Failures are included on purpose: a target that
 * echoes the request in its error, a timeout, a rollback.
 */
describe('runbook secrets appear nowhere but at the target', () => {
  const ENV_SECRET = 'envSecret-7f3c9a1e5b2d4c6f8a0b';
  const FILE_SECRET = 'fileSecret-Q2hhbmdlTWVQbGVhc2U';
  let dir: string;
  let target: HttpTarget;
  let p: RectifyProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-secrets-'));
    const keyFile = join(dir, 'api-key');
    writeFileSync(keyFile, `${FILE_SECRET}\n`);
    target = await startHttpTarget();
    target.route('POST', '/restart/shop', { status: 200 });
    target.route('GET', '/health', { status: 200 });
    // A target that quotes the credentials it was sent back in its error, as some do.
    target.route('POST', '/echo', (req) => ({ status: 500, body: { error: `bad request with ${req.headers.authorization} and ${req.headers['x-key']} ${req.body}` } }));
    target.route('POST', '/slow', { status: 200, delayMs: 5_000 });
    target.route('POST', '/undo/shop', { status: 200 });
    const secretHeaders = `{Authorization: "Bearer \${env:API_TOKEN}", X-Key: "\${file:${keyFile}}"}`;
    const body = `{key: "\${file:${keyFile}}", service: "{service}", note: "token \${env:API_TOKEN}"}`;
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(
      join(dir, 'runbooks', 'secrets.yaml'),
      `runbooks:
  call-api:
    risk: LOW
    triggers: [api_down]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{service}", headers: ${secretHeaders}, body: ${body}}
    post_checks:
      - http: {url: "${target.url}/health", headers: {Authorization: "Bearer \${env:API_TOKEN}"}, timeout_seconds: 5, interval_seconds: 1}
  echo-api:
    risk: LOW
    triggers: [api_broken]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/echo", headers: ${secretHeaders}, body: ${body}}
    rollback:
      http: {method: POST, url: "${target.url}/echo", headers: ${secretHeaders}}
  slow-api:
    risk: LOW
    triggers: [api_slow]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/slow", headers: ${secretHeaders}, timeout_seconds: 1}
  undo-api:
    risk: HIGH
    triggers: [api_dead]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/undo/{service}", headers: ${secretHeaders}, body: ${body}}
`,
    );
    p = await startRectifyProcess({
      db: join(dir, 'rectify.db'),
      runbooks: join(dir, 'runbooks'),
      args: ['--log-level', 'trace'],
      env: { API_TOKEN: ENV_SECRET },
    });
  });
  after(async () => {
    await p.stop();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('used at the target; absent from audit rows, export, logs, every API answer, /metrics and the database', async () => {
    const answers: string[] = [];
    const keep = async <T extends { body: any }>(r: Promise<T>): Promise<T> => {
      const got = await r;
      answers.push(typeof got.body === 'string' ? got.body : JSON.stringify(got.body));
      return got;
    };

    const ok = await keep(p.post('/api/v1/incidents?wait=true', { id: 'S-OK', root_cause: 'api_down', service: 'shop' }));
    assert.equal(ok.body.action, 'executed');
    assert.equal(ok.body.success, true);
    const failed = await keep(p.post('/api/v1/incidents?wait=true', { id: 'S-ECHO', root_cause: 'api_broken', service: 'shop' }));
    assert.equal(failed.body.success, false);
    const slow = await keep(p.post('/api/v1/incidents?wait=true', { id: 'S-SLOW', root_cause: 'api_slow', service: 'shop' }));
    assert.equal(slow.body.success, false);
    const high = await keep(p.post('/api/v1/incidents', { id: 'S-HIGH', root_cause: 'api_dead', service: 'shop' }));
    assert.equal(high.body.action, 'approval_required');
    await keep(p.get(`/api/v1/approvals/${high.body.approval_id}`));
    const approved = await keep(p.post(`/api/v1/approvals/${high.body.approval_id}/approve?wait=true`, { by: 'alice' }));
    assert.equal(approved.body.result.success, true);
    const dry = await keep(p.post('/api/v1/runbooks/call-api/run', { params: { service: 'shop' }, by: 'bob', dry_run: true }));
    assert.equal(dry.body.action, 'dry_run');

    // Positive control: the secrets were really resolved and sent where they belong.
    const sent = target.requests('/restart/shop')[0]!;
    assert.equal(sent.headers.authorization, `Bearer ${ENV_SECRET}`);
    assert.equal(sent.headers['x-key'], FILE_SECRET);
    assert.deepEqual(sent.json(), { key: FILE_SECRET, service: 'shop', note: `token ${ENV_SECRET}` });
    assert.equal(target.requests('/health')[0]!.headers.authorization, `Bearer ${ENV_SECRET}`);
    assert.equal(target.requests('/undo/shop')[0]!.headers['x-key'], FILE_SECRET);
    assert.equal(target.calls('/echo', 'POST'), 2, 'the action and its rollback');

    for (const id of ['S-OK', 'S-ECHO', 'S-SLOW', 'S-HIGH']) {
      const view = await keep(p.get(`/api/v1/incidents/${id}`));
      if (view.body.execution) await keep(p.get(`/api/v1/executions/${view.body.execution.id}`));
    }
    await keep(p.get('/api/v1/approvals'));
    await keep(p.get('/api/v1/runbooks'));
    await keep(p.get('/api/v1/runbooks/echo-api'));
    const audit = await keep(p.get('/api/v1/audit?limit=1000'));
    assert.ok(audit.body.events.length > 20, 'the audit log recorded the runs');
    const stepDetails = audit.body.events.filter((e: any) => e.event === 'STEP_FINISHED').map((e: any) => JSON.stringify(e.details));
    assert.ok(stepDetails.some((d: string) => d.includes('500')), 'the failing step is recorded (without what the target echoed)');
    await keep(p.get('/api/v1/audit/export'));
    await keep(p.get('/api/v1/audit/verify'));
    const metrics = await keep(p.get('/metrics'));
    assert.match(metrics.body, /rectify_executions_total/);
    await keep(p.get('/readyz'));
    await keep(p.get('/openapi.json'));

    const places: Array<[string, string]> = [
      ['API answers (audit rows, export, incidents, executions, approvals, runbooks, metrics)', answers.join('\n')],
      ['log output', p.output()],
    ];
    for (const f of ['rectify.db', 'rectify.db-wal']) {
      const path = join(dir, f);
      if (existsSync(path)) places.push([`database file ${f}`, readFileSync(path).toString('latin1')]);
    }
    assert.equal(p.output().split('"msg":"execution finished"').length - 1, 4, 'the runs were logged: there is output to search');
    for (const [where, text] of places) {
      for (const secret of [ENV_SECRET, FILE_SECRET]) assert.ok(!text.includes(secret), `${secret.slice(0, 9)}… found in ${where}`);
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import Database from 'better-sqlite3';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { bearer, issueToken, writeTokensFile } from '../helpers/tokens.js';

/**
 * The OpenAPI document is what clients are generated from: every answer the service
 * really gives (its status, media type and body) must be one the document lists for
 * that operation, the refusals of the token check and the JSON-lines export included.
 */

const runbooks = (base: string) => `runbooks:
  restart-low:
    risk: LOW
    triggers: [CrashLoopBackOff]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/restart/{service}"}
  rollback-high:
    risk: HIGH
    triggers: [bad_deploy]
    action:
      http: {method: POST, url: "${base}/undo/{service}"}
`;

interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };

// OpenAPI 3.0 schemas: `nullable` is Ajv's by default; annotations it does not know are not errors.
const ajv = new Ajv({ strict: false, allErrors: true });
const compiled = new Map<object, ValidateFunction>();

/** The values an answer carries, as its media type frames them. */
function values(type: string, body: string): unknown[] {
  if (type === 'application/json') return [JSON.parse(body)];
  if (type === 'application/x-ndjson') return body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  return [body];
}

/** Problems with an answer, against the operation `method template` of the document; none when it conforms. */
function problems(doc: Doc, method: string, template: string, res: Answer): string[] {
  const where = `${method} ${template} → ${res.statusCode}`;
  const op = doc.paths[template]?.[method.toLowerCase()];
  if (!op) return [`${method} ${template} is not in the document`];
  const documented = op.responses[String(res.statusCode)];
  if (!documented) return [`${where}: status not documented (documented: ${Object.keys(op.responses).join(', ')}): ${res.body.slice(0, 160)}`];
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  const media = documented.content?.[type];
  if (!media) return [`${where}: ${type} not documented (documented: ${Object.keys(documented.content ?? {}).join(', ')})`];
  let validate = compiled.get(media.schema);
  if (!validate) compiled.set(media.schema, (validate = ajv.compile(media.schema)));
  const all = values(type, res.body);
  if (all.length === 0) return [`${where}: nothing to check (an empty body)`];
  const out: string[] = [];
  for (const v of all) if (!validate(v)) out.push(`${where}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(v).slice(0, 160)}`);
  return out;
}

describe('the OpenAPI document describes the real answers', () => {
  let target: HttpTarget;
  let svc: TestService;
  let dir: string;
  const tokens = {
    ingest: issueToken('alertmanager', ['ingest']),
    viewer: issueToken('grafana', ['viewer']),
    approver: issueToken('alice', ['approver']),
    admin: issueToken('root-oncall', ['admin']),
  };

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/restart/shop', { status: 200 });
    target.route('POST', '/undo/shop', { status: 200 });
    dir = mkdtempSync(join(tmpdir(), 'rectify-openapi-'));
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--tokens', writeTokensFile(dir, Object.values(tokens))] });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = async (method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<Answer> => {
    const res = await svc.app.inject({
      method,
      url,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { statusCode: res.statusCode, headers: res.headers, body: res.body };
  };

  it('every operation, as every caller: the status, media type and body are documented, the refusals of the token check too', async () => {
    // Something to read: an execution, a pending approval, audit rows.
    const ran = await send('POST', '/api/v1/incidents?wait=true', bearer(tokens.ingest), { id: 'INC-LOW', root_cause: 'CrashLoopBackOff', service: 'shop' });
    assert.equal(JSON.parse(ran.body).action, 'executed');
    const asked = await send('POST', '/api/v1/webhooks/alertmanager', bearer(tokens.ingest), amWebhook([{ labels: { alertname: 'bad_deploy', service: 'shop' } }]));
    const approvalId = JSON.parse(asked.body).results[0].approval_id as string;
    const executionId = JSON.parse(ran.body).execution_id as string;
    const doc = JSON.parse((await send('GET', '/openapi.json', bearer(tokens.viewer))).body) as Doc;

    const cases: Array<{ method: 'GET' | 'POST'; template: string; url?: string; body?: unknown }> = [
      { method: 'GET', template: '/healthz' },
      { method: 'GET', template: '/readyz' },
      { method: 'GET', template: '/metrics' },
      { method: 'GET', template: '/openapi.json' },
      { method: 'POST', template: '/api/v1/incidents', body: { root_cause: 'nothing-matches', service: 'shop' } },
      { method: 'POST', template: '/api/v1/webhooks/alertmanager', body: amWebhook([{ labels: { alertname: 'Nothing', service: 'shop' } }]) },
      { method: 'GET', template: '/api/v1/incidents/{id}', url: '/api/v1/incidents/INC-LOW' },
      { method: 'GET', template: '/api/v1/incidents/{id}', url: '/api/v1/incidents/INC-NONE' },
      { method: 'GET', template: '/api/v1/incidents/{id}', url: `/api/v1/incidents/${'i'.repeat(129)}` },
      { method: 'GET', template: '/api/v1/executions/{id}', url: `/api/v1/executions/${executionId}` },
      { method: 'GET', template: '/api/v1/executions/{id}', url: `/api/v1/executions/${'e'.repeat(129)}` },
      { method: 'GET', template: '/api/v1/approvals/{id}', url: `/api/v1/approvals/${'a'.repeat(129)}` },
      { method: 'GET', template: '/api/v1/runbooks/{id}', url: `/api/v1/runbooks/${'r'.repeat(129)}` },
      { method: 'POST', template: '/api/v1/approvals/{id}/reject', url: `/api/v1/approvals/${'a'.repeat(129)}/reject`, body: {} },
      { method: 'GET', template: '/api/v1/approvals', url: '/api/v1/approvals?status=pending' },
      { method: 'GET', template: '/api/v1/approvals', url: '/api/v1/approvals?status=nope' },
      { method: 'GET', template: '/api/v1/approvals/{id}', url: `/api/v1/approvals/${approvalId}` },
      { method: 'GET', template: '/api/v1/audit' },
      { method: 'GET', template: '/api/v1/audit/verify' },
      { method: 'GET', template: '/api/v1/audit/export' },
      { method: 'GET', template: '/api/v1/audit/export', url: '/api/v1/audit/export?since=yesterday' },
      { method: 'GET', template: '/api/v1/runbooks' },
      { method: 'GET', template: '/api/v1/runbooks/{id}', url: '/api/v1/runbooks/restart-low' },
      { method: 'POST', template: '/api/v1/runbooks/{id}/run', url: '/api/v1/runbooks/restart-low/run', body: { params: { service: 'shop' }, dry_run: true } },
      { method: 'POST', template: '/api/v1/runbooks/{id}/run', url: '/api/v1/runbooks/rollback-high/run', body: { params: { service: 'shop' }, dry_run: true } },
      { method: 'POST', template: '/api/v1/approvals/{id}/reject', url: '/api/v1/approvals/apr_none/reject', body: {} },
      { method: 'POST', template: '/api/v1/pause', body: { reason: 'openapi' } },
      { method: 'POST', template: '/api/v1/resume', body: {} },
      { method: 'POST', template: '/api/v1/pause', body: { runbook: 'restart-low' } },
      { method: 'POST', template: '/api/v1/runbooks/{id}/pause', url: '/api/v1/runbooks/restart-low/pause', body: { reason: 5 } },
      { method: 'POST', template: '/api/v1/runbooks/{id}/resume', url: '/api/v1/runbooks/restart-low/resume', body: {} },
      { method: 'POST', template: '/api/v1/runbooks/{id}/circuit/close', url: '/api/v1/runbooks/restart-low/circuit/close', body: { reason: 'openapi' } },
      { method: 'POST', template: '/api/v1/runbooks/{id}/circuit/close', url: '/api/v1/runbooks/restart-low/circuit/close', body: {} },
      { method: 'POST', template: '/api/v1/runbooks/{id}/cooldown/clear', url: '/api/v1/runbooks/restart-low/cooldown/clear', body: { reason: 'openapi', service: 'shop' } },
      { method: 'POST', template: '/api/v1/runbooks/{id}/cooldown/clear', url: '/api/v1/runbooks/nope/cooldown/clear', body: { reason: 'openapi' } },
    ];
    const callers: Array<[string, Record<string, string>]> = [
      ['nobody', {}],
      ['a token that is not valid', bearer('rct_not-a-token')],
      ...Object.entries(tokens).map(([role, t]) => [role, bearer(t)] as [string, Record<string, string>]),
    ];
    const found: string[] = [];
    const statuses = new Set<string>();
    for (const c of cases) {
      for (const [who, headers] of callers) {
        const res = await send(c.method, c.url ?? c.template, headers, c.body);
        statuses.add(`${c.template} ${res.statusCode}`);
        found.push(...problems(doc, c.method, c.template, res).map((p) => `as ${who}: ${p}`));
      }
    }
    assert.deepEqual(found, []);
    // The matrix did reach the answers it is about.
    for (const s of ['/metrics 200', '/metrics 401', '/metrics 403', '/api/v1/incidents 401', '/api/v1/incidents 403', '/api/v1/audit/export 200', '/api/v1/audit/export 403', '/healthz 200', '/readyz 200', '/api/v1/pause 400', '/api/v1/runbooks/{id}/pause 400', '/api/v1/incidents/{id} 400', '/api/v1/executions/{id} 400', '/api/v1/approvals/{id} 400', '/api/v1/runbooks/{id} 400', '/api/v1/approvals/{id}/reject 400']) {
      assert.ok(statuses.has(s), s);
    }
  });

  it('the writes: a text body (415), an empty JSON body (400), a database that cannot commit (503 STORE_UNAVAILABLE) are documented answers; a body that may be left out is not marked required', async () => {
    const locked = await startTestService({ runbooks: runbooks(target.url), args: ['--tokens', writeTokensFile(dir, Object.values(tokens), 'locked.yaml'), '--db-busy-timeout', '100ms'] });
    try {
      const doc = locked.app.swagger() as unknown as Doc & { paths: Record<string, Record<string, { requestBody?: { required?: boolean } }>> };
      const inject = async (url: string, type: string | undefined, payload: string | undefined, token = tokens.admin): Promise<Answer> => {
        const res = await locked.app.inject({ method: 'POST', url, headers: { ...bearer(token), ...(type ? { 'content-type': type } : {}) }, ...(payload === undefined ? {} : { payload }) });
        return { statusCode: res.statusCode, headers: res.headers, body: res.body };
      };
      const asked = await inject('/api/v1/webhooks/alertmanager', 'application/json', JSON.stringify(amWebhook([{ labels: { alertname: 'bad_deploy', service: 'shop' } }])), tokens.ingest);
      const approvalId = JSON.parse(asked.body).results[0].approval_id as string;
      const writes: Array<{ template: string; url: string; body: unknown; optional: boolean }> = [
        { template: '/api/v1/approvals/{id}/approve', url: `/api/v1/approvals/${approvalId}/approve`, body: {}, optional: true },
        { template: '/api/v1/approvals/{id}/reject', url: `/api/v1/approvals/${approvalId}/reject`, body: {}, optional: true },
        { template: '/api/v1/runbooks/{id}/run', url: '/api/v1/runbooks/restart-low/run', body: { params: { service: 'shop' } }, optional: false },
        { template: '/api/v1/runbooks/{id}/pause', url: '/api/v1/runbooks/restart-low/pause', body: {}, optional: true },
        { template: '/api/v1/runbooks/{id}/resume', url: '/api/v1/runbooks/restart-low/resume', body: {}, optional: true },
        { template: '/api/v1/pause', url: '/api/v1/pause', body: {}, optional: true },
        { template: '/api/v1/resume', url: '/api/v1/resume', body: {}, optional: true },
        { template: '/api/v1/runbooks/{id}/circuit/close', url: '/api/v1/runbooks/restart-low/circuit/close', body: { reason: 'openapi' }, optional: false },
        { template: '/api/v1/runbooks/{id}/cooldown/clear', url: '/api/v1/runbooks/restart-low/cooldown/clear', body: { reason: 'openapi' }, optional: false },
      ];
      assert.deepEqual(
        writes.map((w) => [w.template, doc.paths[w.template]!.post!.requestBody?.required]),
        writes.map((w) => [w.template, !w.optional]),
      );
      const found: string[] = [];
      const seen: string[] = [];
      const check = (w: (typeof writes)[number], what: string, res: Answer): void => {
        seen.push(`${w.template} ${what} ${res.statusCode} ${JSON.parse(res.body).error?.code ?? ''}`);
        found.push(...problems(doc, 'POST', w.template, res).map((p) => `${what}: ${p}`));
      };
      for (const w of writes) {
        check(w, 'text', await inject(w.url, 'text/plain', JSON.stringify(w.body)));
        check(w, 'empty', await inject(w.url, 'application/json', undefined));
      }
      const other = new Database(locked.dbPath);
      other.exec('BEGIN EXCLUSIVE');
      try {
        for (const w of writes) check(w, 'locked', await inject(w.url, 'application/json', JSON.stringify(w.body)));
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      assert.deepEqual(found, []);
      for (const w of writes) {
        assert.ok(seen.includes(`${w.template} text 415 UNSUPPORTED_MEDIA_TYPE`), `${w.template} text`);
        assert.ok(seen.includes(`${w.template} empty 400 BAD_REQUEST`), `${w.template} empty`);
      }
      // The reviewer's case: approving and rejecting while the database is locked.
      assert.ok(seen.includes('/api/v1/approvals/{id}/approve locked 503 STORE_UNAVAILABLE'), seen.join('\n'));
      assert.ok(seen.includes('/api/v1/approvals/{id}/reject locked 503 STORE_UNAVAILABLE'), seen.join('\n'));
    } finally {
      await locked.stop({ remove: true });
    }
  });

  it('the export is documented as JSON lines, each line one row', async () => {
    const res = await send('GET', '/api/v1/audit/export', bearer(tokens.viewer));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/x-ndjson');
    const doc = JSON.parse((await send('GET', '/openapi.json', bearer(tokens.viewer))).body) as Doc;
    assert.deepEqual(Object.keys(doc.paths['/api/v1/audit/export']!.get!.responses['200']!.content!), ['application/x-ndjson']);
    const lines = res.body.trim().split('\n');
    assert.ok(lines.length >= 3, 'the log has rows');
    assert.deepEqual(problems(doc, 'GET', '/api/v1/audit/export', res), []);
    // One line that is not a row does not pass.
    assert.equal(problems(doc, 'GET', '/api/v1/audit/export', { ...res, body: `${res.body}{"seq":"x"}\n` }).length, 1);
  });

  it('without tokens the probes answer 403 to a request not addressed to loopback, as documented', async () => {
    const open = await startTestService({ runbooks: runbooks(target.url) });
    try {
      const doc = open.app.swagger() as unknown as Doc;
      for (const url of ['/healthz', '/readyz', '/metrics']) {
        const res = await open.app.inject({ method: 'GET', url, headers: { host: 'rectify.example.com' } });
        assert.equal(res.statusCode, 403, url);
        assert.deepEqual(problems(doc, 'GET', url, { statusCode: res.statusCode, headers: res.headers, body: res.body }), []);
      }
    } finally {
      await open.stop({ remove: true });
    }
  });
});

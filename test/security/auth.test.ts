import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import crypto from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { countRows } from '../storm/helpers.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';
import { aliasBomb, bearer, issueToken, writeTokensFile, type IssuedToken } from '../helpers/tokens.js';

const pagerduty = JSON.parse(readFileSync(new URL('../fixtures/payloads/incident-triggered.json', import.meta.url), 'utf8'));

function runbooks(base: string): string {
  return `runbooks:
  restart-low:
    risk: LOW
    triggers: [CrashLoopBackOff]
    action:
      http: {method: POST, url: "${base}/restart/{service}"}
  rollback-high:
    risk: HIGH
    triggers: [bad_deploy]
    action:
      http: {method: POST, url: "${base}/undo/{service}"}
`;
}

type Expect = number;
interface Case {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** The role that may call it ('public' for probes). */
  needs: 'public' | 'ingest' | 'viewer' | 'approver' | 'admin';
  /** The status a caller who may gets (the request itself is valid, or names something missing). */
  ok: Expect;
}

const CASES: Case[] = [
  { method: 'GET', path: '/healthz', needs: 'public', ok: 200 },
  { method: 'GET', path: '/readyz', needs: 'public', ok: 200 },
  { method: 'POST', path: '/api/v1/incidents', body: { root_cause: 'nothing-matches', service: 'shop' }, needs: 'ingest', ok: 202 },
  { method: 'POST', path: '/api/v1/webhooks/alertmanager', body: amWebhook([{ labels: { alertname: 'Nothing', service: 'shop' } }]), needs: 'ingest', ok: 202 },
  { method: 'POST', path: '/api/v1/webhooks/pagerduty', body: pagerduty, needs: 'ingest', ok: 202 },
  { method: 'GET', path: '/api/v1/incidents/INC-NONE', needs: 'viewer', ok: 404 },
  { method: 'GET', path: '/api/v1/executions/exe_none', needs: 'viewer', ok: 404 },
  { method: 'GET', path: '/api/v1/approvals?status=pending', needs: 'viewer', ok: 200 },
  { method: 'GET', path: '/api/v1/approvals/apr_none', needs: 'viewer', ok: 404 },
  { method: 'GET', path: '/api/v1/audit', needs: 'viewer', ok: 200 },
  { method: 'GET', path: '/api/v1/audit/verify', needs: 'viewer', ok: 200 },
  { method: 'GET', path: '/api/v1/audit/export', needs: 'viewer', ok: 200 },
  { method: 'GET', path: '/api/v1/runbooks', needs: 'viewer', ok: 200 },
  { method: 'GET', path: '/api/v1/runbooks/restart-low', needs: 'viewer', ok: 200 },
  { method: 'GET', path: '/metrics', needs: 'viewer', ok: 200 },
  { method: 'GET', path: '/openapi.json', needs: 'viewer', ok: 200 },
  { method: 'POST', path: '/api/v1/approvals/apr_none/approve', body: {}, needs: 'approver', ok: 404 },
  { method: 'POST', path: '/api/v1/approvals/apr_none/reject', body: {}, needs: 'approver', ok: 404 },
  { method: 'POST', path: '/api/v1/runbooks/restart-low/run', body: { params: { service: 'shop' }, dry_run: true }, needs: 'approver', ok: 202 },
  { method: 'POST', path: '/api/v1/runbooks/rollback-high/run', body: { params: { service: 'shop' }, dry_run: true }, needs: 'admin', ok: 202 },
  { method: 'POST', path: '/api/v1/pause', body: { reason: 'matrix' }, needs: 'admin', ok: 200 },
  { method: 'POST', path: '/api/v1/resume', body: {}, needs: 'admin', ok: 200 },
];

const ROLE_GRANTS: Record<string, string[]> = {
  ingest: ['ingest'],
  viewer: ['viewer'],
  approver: ['viewer', 'approver'],
  admin: ['viewer', 'approver', 'admin'],
};

describe('API tokens: who may do what', () => {
  let target: HttpTarget;
  let svc: TestService;
  let url: string;
  const tokens: Record<string, IssuedToken> = {
    ingest: issueToken('alertmanager', ['ingest']),
    viewer: issueToken('grafana', ['viewer']),
    approver: issueToken('alice', ['approver']),
    admin: issueToken('root-oncall', ['admin']),
  };

  async function call(method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: unknown) {
    const res = await fetch(url + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      redirect: 'manual',
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: (res.headers.get('content-type') ?? '').startsWith('application/json') ? (JSON.parse(text) as any) : undefined };
  }

  before(async () => {
    target = await startHttpTarget();
    const dir = mkdtempSync(join(tmpdir(), 'rectify-auth-'));
    const file = writeTokensFile(dir, Object.values(tokens));
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--tokens', file, '--listen', '127.0.0.1:0'], captureLogs: true });
    url = await svc.service.listen();
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('every route × every caller: 401 without a valid token, 403 without the role, the route\'s own answer with it', async () => {
    const callers: Array<[string, Record<string, string>]> = [
      ['none', {}],
      ['wrong token', bearer('rct_not-a-token')],
      ['not bearer', { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` }],
      ...Object.entries(tokens).map(([role, t]) => [role, bearer(t)] as [string, Record<string, string>]),
    ];
    const table: string[] = [];
    for (const c of CASES) {
      for (const [who, headers] of callers) {
        const r = await call(c.method, c.path, headers, c.body);
        const roles = ROLE_GRANTS[who];
        const expected = c.needs === 'public' ? c.ok : roles === undefined ? 401 : roles.includes(c.needs) ? c.ok : 403;
        if (r.status !== expected) table.push(`${c.method} ${c.path} as ${who}: ${r.status}, expected ${expected} ${r.text.slice(0, 200)}`);
        if (expected === 401) {
          assert.equal(r.json.error.code, 'UNAUTHORIZED');
          assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="rectify"');
        }
        if (expected === 403) {
          const t = tokens[who]!;
          assert.equal(r.json.error.code, 'FORBIDDEN');
          const route = c.path.split('?')[0]!.replace(/\/(INC-NONE|exe_none|apr_none|restart-low|rollback-high)(?=\/|$)/, '/:id');
          assert.equal(r.json.error.message, c.path.includes('rollback-high') && who === 'approver'
            ? `token "alice" may not run the HIGH-risk runbook rollback-high by hand: it needs the admin role (it has approver)`
            : `token "${t.name}" may not ${c.method} ${route}: it needs the ${c.path.endsWith('/run') ? 'approver' : c.needs} role (it has ${t.roles.join(', ')})`);
        }
      }
    }
    assert.deepEqual(table, []);
  });

  it('401 messages say what to send; a refused request changes nothing', async () => {
    const none = await call('POST', '/api/v1/pause', {}, {});
    assert.deepEqual(none.json, { error: { code: 'UNAUTHORIZED', message: 'an API token is required: send "Authorization: Bearer <token>"', details: [] } });
    const wrong = await call('POST', '/api/v1/pause', bearer('nope'), {});
    assert.equal(wrong.json.error.message, 'the API token is not valid');
    const basic = await call('POST', '/api/v1/pause', { authorization: 'Basic YWxpY2U6cHc=' }, {});
    assert.equal(basic.json.error.message, 'the Authorization header must be "Bearer <token>"');
    const asViewer = await call('POST', '/api/v1/pause', bearer(tokens.viewer!), {});
    assert.equal(asViewer.status, 403);
    const state = await call('GET', '/api/v1/audit?event=SERVICE_PAUSED', bearer(tokens.viewer!));
    const before = state.json.events.length;
    await call('POST', '/api/v1/pause', bearer(tokens.approver!), {});
    assert.equal((await call('GET', '/api/v1/audit?event=SERVICE_PAUSED', bearer(tokens.viewer!))).json.events.length, before, 'no pause was recorded');
    assert.equal(svc.service.store.read((tx) => tx.paused()), false);
  });

  it('an unknown route: 401 without a token (nothing to enumerate), 404 with one', async () => {
    assert.equal((await call('GET', '/api/v1/secret-admin')).status, 401);
    const r = await call('GET', '/api/v1/secret-admin', bearer(tokens.ingest!));
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'NOT_FOUND');
  });

  it('a POST to no route under an intake path: 401 without a token, counting nothing; with one, a 404 counted as unknown_path and audited as its caller\'s; a trailing or doubled slash is the route, its role checked', async () => {
    const counted = async () => Number(/^rectify_intake_refused_total\{route="\/api\/v1\/webhooks\/\*",reason="unknown_path"\} (\S+)$/m.exec((await call('GET', '/metrics', bearer(tokens.viewer!))).text)?.[1] ?? 0);
    const before = await counted();
    const body = amWebhook([{ labels: { alertname: 'Nothing', service: 'shop' } }]);
    assert.equal((await call('POST', '/api/v1/webhook/alertmanager', {}, body)).status, 401);
    assert.equal(await counted(), before, 'an unauthenticated caller is refused before');
    const r = await call('POST', '/api/v1/webhook/alertmanager', bearer(tokens.ingest!), body);
    assert.deepEqual([r.status, r.json.error.code], [404, 'NOT_FOUND']);
    assert.equal(await counted(), before + 1);
    const row = await until('the INTAKE_REFUSED row', async () => {
      const rows = (await call('GET', '/api/v1/audit?event=INTAKE_REFUSED', bearer(tokens.viewer!))).json.events as any[];
      return rows.find((e) => e.details.reason === 'unknown_path');
    });
    assert.deepEqual([row.actor, row.details.path], ['alertmanager', '/api/v1/webhook/alertmanager']);
    // A trailing slash reaches the route, behind its own role.
    assert.equal((await call('POST', '/api/v1/webhooks/alertmanager/', {}, body)).status, 401);
    assert.equal((await call('POST', '/api/v1/webhooks/alertmanager/', bearer(tokens.viewer!), body)).status, 403);
    assert.equal((await call('POST', '/api/v1/webhooks/alertmanager/', bearer(tokens.ingest!), body)).status, 202);
    // So do doubled slashes, behind the route's own role as well.
    assert.equal((await call('POST', '//api/v1/webhooks/alertmanager', {}, body)).status, 401);
    assert.equal((await call('POST', '/api/v1//webhooks/alertmanager', bearer(tokens.viewer!), body)).status, 403);
    assert.equal((await call('POST', '//api/v1/webhooks/alertmanager', bearer(tokens.ingest!), body)).status, 202);
    assert.equal((await call('GET', '//api/v1/audit')).status, 401);
    assert.equal((await call('POST', '/api/v1//pause', bearer(tokens.approver!), { reason: 'x' })).status, 403);
    assert.equal(await counted(), before + 1);
  });

  it('the scheme is case-insensitive as RFC 7235 says; the token is not', async () => {
    assert.equal((await call('GET', '/api/v1/runbooks', { authorization: `bearer ${tokens.viewer!.token}` })).status, 200);
    assert.equal((await call('GET', '/api/v1/runbooks', { authorization: `Bearer ${tokens.viewer!.token.toUpperCase()}` })).status, 401);
  });

  it('the caller is the token: the audit actor is its name, whatever the body says', async () => {
    const p = await call('POST', '/api/v1/pause', bearer(tokens.admin!), { by: 'someone-else', reason: 'maintenance' });
    assert.equal(p.status, 200);
    assert.equal(p.json.changed, true);
    const ev = (await call('GET', '/api/v1/audit?event=SERVICE_PAUSED&limit=1', bearer(tokens.viewer!))).json.events[0];
    assert.equal(ev.actor, 'root-oncall');
    assert.equal((await call('POST', '/api/v1/resume', bearer(tokens.admin!), {})).json.changed, true);
    const run = await call('POST', '/api/v1/runbooks/restart-low/run', bearer(tokens.approver!), { params: { service: 'shop' }, dry_run: true, by: 'mallory' });
    assert.equal(run.status, 202);
    const manual = (await call('GET', `/api/v1/audit?incident_id=${run.json.incident_id}&event=MANUAL_RUN`, bearer(tokens.viewer!))).json.events[0];
    assert.equal(manual.actor, 'alice');
    // Intake too: the decision is recorded as the ingest token's.
    const am = await call('POST', '/api/v1/webhooks/alertmanager', bearer(tokens.ingest!), amWebhook([{ labels: { alertname: 'Nothing', service: 'actor-check' }, fingerprint: 'actor-check-1' }]));
    assert.equal(am.status, 202);
    const decided = (await call('GET', `/api/v1/audit?incident_id=${am.json.results[0].incident_id}`, bearer(tokens.viewer!))).json.events;
    assert.deepEqual(decided.map((e: { event: string; actor: string }) => [e.event, e.actor]), [['NO_RUNBOOK', 'alertmanager']]);
  });

  it('with a token, `by` is ignored whatever it says: a host whose user is rectify (the CLI sends it as by) is served, and the token name is the actor', async () => {
    const before = (await call('GET', '/api/v1/audit?event=SERVICE_PAUSED', bearer(tokens.viewer!))).json.events.length;
    for (const by of ['rectify', 'api', 'Rectify', ' ', '\u3164']) {
      const p = await call('POST', '/api/v1/pause', bearer(tokens.admin!), { by });
      assert.deepEqual([p.status, p.json.changed], [200, true], JSON.stringify(by));
      assert.equal((await call('POST', '/api/v1/resume', bearer(tokens.admin!), { by })).status, 200);
    }
    const paused = (await call('GET', '/api/v1/audit?event=SERVICE_PAUSED', bearer(tokens.viewer!))).json.events;
    assert.deepEqual(paused.slice(0, paused.length - before).map((e: { actor: string }) => e.actor), Array(5).fill('root-oncall'));
    const run = await call('POST', '/api/v1/runbooks/restart-low/run', bearer(tokens.approver!), { params: { service: 'shop' }, dry_run: true, by: 'rectify' });
    assert.equal(run.status, 202);
    assert.equal((await call('GET', `/api/v1/audit?incident_id=${run.json.incident_id}&event=MANUAL_RUN`, bearer(tokens.viewer!))).json.events[0].actor, 'alice');
    const asked = await call('POST', '/api/v1/incidents', bearer(tokens.ingest!), { root_cause: 'bad_deploy', service: 'shop-by', confidence: 0.9 });
    assert.equal(asked.json.action, 'approval_required');
    const rejected = await call('POST', `/api/v1/approvals/${asked.json.approval_id}/reject`, bearer(tokens.approver!), { by: 'rectify' });
    assert.deepEqual([rejected.status, rejected.json.status, rejected.json.decided_by], [200, 'rejected', 'alice']);
  });

  it('tokens are compared in constant time: one timingSafeEqual per presented token, hit or miss', async () => {
    const compare = mock.method(crypto, 'timingSafeEqual');
    try {
      await call('GET', '/healthz');
      await call('GET', '/api/v1/runbooks');
      assert.equal(compare.mock.callCount(), 0, 'no token, nothing to compare');
      await call('GET', '/api/v1/runbooks', bearer(tokens.viewer!));
      await call('GET', '/api/v1/runbooks', bearer('rct_wrong'));
      await call('GET', '/api/v1/runbooks', bearer(tokens.ingest!));
      assert.equal(compare.mock.callCount(), 3);
      for (const c of compare.mock.calls) {
        const [a, b] = c.arguments as [Buffer, Buffer];
        assert.equal(a.length, 32);
        assert.equal(b.length, 32);
      }
      assert.equal(compare.mock.calls[0]!.result, true);
      assert.equal(compare.mock.calls[1]!.result, false);
    } finally {
      compare.mock.restore();
    }
  });

  it('a token never reaches the log, even at trace level; refusals are logged with the route and the token name', async () => {
    await call('GET', '/api/v1/audit', bearer(tokens.ingest!));
    await call('POST', '/api/v1/incidents', bearer(tokens.ingest!), { root_cause: 'x', service: 'y' });
    const text = svc.log.lines.join('\n');
    assert.ok(svc.log.lines.length > 0);
    for (const t of Object.values(tokens)) {
      assert.ok(!text.includes(t.token), `token of ${t.name} is in the log`);
      assert.ok(!text.includes(t.sha256), `hash of ${t.name} is in the log`);
    }
    const refusal = svc.log.records().find((r) => r.msg === 'request refused: role' && r.route === 'GET /api/v1/audit');
    assert.ok(refusal, 'the 403 was logged');
    assert.equal(refusal.token_name, 'alertmanager');
    const loaded = svc.log.records().find((r) => r.msg === 'API tokens loaded');
    assert.deepEqual(loaded?.tokens, ['alertmanager (ingest)', 'grafana (viewer)', 'alice (approver)', 'root-oncall (admin)']);
  });
});

describe('an id posted again with another report, with tokens', () => {
  it('an ingest-only token is told which field differs, nothing of the incident posted before; a token that may read is told its value and decision', async () => {
    const target = await startHttpTarget();
    const dir = mkdtempSync(join(tmpdir(), 'rectify-reuse-'));
    const ingest = issueToken('alertmanager', ['ingest']);
    const reader = issueToken('script', ['ingest', 'viewer']);
    const admin = issueToken('root-oncall', ['ingest', 'admin']);
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--tokens', writeTokensFile(dir, [ingest, reader, admin])] });
    const post = async (t: IssuedToken, body: Record<string, unknown>) => {
      const r = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: body, headers: { ...bearer(t), 'content-type': 'application/json' } });
      return { status: r.statusCode, body: JSON.parse(r.body) };
    };
    try {
      const first = await post(reader, { id: 'INC-SECRET-1', root_cause: 'bad_deploy', service: 'shop' });
      assert.deepEqual([first.status, first.body.action, first.body.event], [202, 'approval_required', 'APPROVAL_REQUIRED']);
      const incidents = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
      const incidentsBefore = incidents();
      const auditCount = () => svc.service.store.auditRecords({ afterSeq: 0, limit: 10_000 }).length;
      const auditBefore = auditCount();
      const details = [{ path: 'body.root_cause', message: 'differs from the incident posted before with id INC-SECRET-1' }];
      // One answer whatever differs: a right root_cause does not move the refusal on to
      // the next field (guesses cannot be checked one field at a time).
      const hidden = {
        status: 409,
        body: {
          error: {
            code: 'CONFLICT',
            message: 'incident INC-SECRET-1 was posted before with another report; an id names one incident, decided once: post this one with another id, or none',
            details: [{ path: 'body', message: 'differs from the incident posted before with id INC-SECRET-1' }],
          },
        },
      };
      const refused = await post(ingest, { id: 'INC-SECRET-1', root_cause: 'other', service: 'shop' });
      assert.deepEqual(refused, hidden);
      assert.doesNotMatch(JSON.stringify(refused.body), /bad_deploy|approval_required|APPROVAL_REQUIRED|root_cause/);
      assert.deepEqual(await post(ingest, { id: 'INC-SECRET-1', root_cause: 'bad_deploy', service: 'web' }), hidden);
      const full = 'incident INC-SECRET-1 was posted before with another root_cause ("bad_deploy" then, "other" now) and decided then (approval_required, APPROVAL_REQUIRED); an id names one incident, decided once: post this one with another id, or none';
      for (const t of [reader, admin]) {
        const r = await post(t, { id: 'INC-SECRET-1', root_cause: 'other', service: 'shop' });
        assert.deepEqual(r, { status: 409, body: { error: { code: 'CONFLICT', message: full, details } } }, t.name);
      }
      assert.equal(auditCount(), auditBefore, 'nothing audited');
      assert.equal(incidents(), incidentsBefore, 'nothing stored');
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

describe('without tokens', () => {
  it('loopback only: a non-loopback listen address is refused at startup, naming the setting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-auth-'));
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l), env: {}, cwd: dir };
    assert.equal(await runCli(['serve', '--listen', '0.0.0.0:9095', '--db', `sqlite:${join(dir, 'rectify.db')}`], io), 2);
    assert.deepEqual(err, ['--listen: refusing to listen on non-loopback address 0.0.0.0 without API tokens; set --tokens (RECTIFY_TOKENS, tokens) or listen on 127.0.0.1']);
    err.length = 0;
    assert.equal(await runCli(['serve', '--db', `sqlite:${join(dir, 'rectify.db')}`], { ...io, env: { RECTIFY_LISTEN: '[::]:9095' } }), 2);
    assert.deepEqual(err, ['RECTIFY_LISTEN: refusing to listen on non-loopback address :: without API tokens; set --tokens (RECTIFY_TOKENS, tokens) or listen on 127.0.0.1']);
    err.length = 0;
    writeFileSync(join(dir, 'rectify.yaml'), 'listen: 10.0.0.5:9095\n');
    assert.equal(await runCli(['serve', '--db', `sqlite:${join(dir, 'rectify.db')}`], io), 2);
    assert.deepEqual(err, ['rectify.yaml: listen: refusing to listen on non-loopback address 10.0.0.5 without API tokens; set --tokens (RECTIFY_TOKENS, tokens) or listen on 127.0.0.1']);
  });

  it('every route is open on loopback and `by` names the actor; missing `by` is a 400 naming the field', async () => {
    const svc = await startTestService({ runbooks: runbooks('http://127.0.0.1:9') });
    // Here `by` is the actor: rectify's own names are refused, and nothing is recorded.
    const reserved = await svc.post('/api/v1/pause', { by: 'rectify' });
    const why = `"rectify" is reserved for rectify's own audit entries; choose another name`;
    assert.deepEqual([reserved.status, reserved.body], [400, { error: { code: 'VALIDATION_FAILED', message: `invalid body: body.by: ${why}`, details: [{ path: 'body.by', message: why }] } }]);
    assert.equal((await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events.length, 0);
    const r = await svc.post('/api/v1/pause', { by: 'alice' });
    assert.equal(r.status, 200);
    assert.equal((await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events[0].actor, 'alice');
    // Intake has no `by`: without tokens its decisions are rectify's own.
    const inc = await svc.post('/api/v1/incidents', { root_cause: 'nothing-matches', service: 'shop' });
    assert.equal(inc.status, 202);
    assert.deepEqual((await svc.get(`/api/v1/audit?incident_id=${inc.body.incident_id}`)).body.events.map((e: { actor: string }) => e.actor), ['rectify']);
    const run = await svc.post('/api/v1/runbooks/restart-low/run', { params: { service: 'x' }, dry_run: true });
    assert.equal(run.status, 400);
    assert.deepEqual(run.body.error, {
      code: 'VALIDATION_FAILED',
      message: 'invalid body: body.by: required when no API tokens are configured (who is acting, for the audit log)',
      details: [{ path: 'body.by', message: 'required when no API tokens are configured (who is acting, for the audit log)' }],
    });
    await svc.stop({ remove: true });
  });

  it('only requests addressed to a loopback host are answered (a page doing DNS rebinding names its own host)', async () => {
    const svc = await startTestService({ runbooks: runbooks('http://127.0.0.1:9'), args: ['--listen', '127.0.0.1:0'] });
    const listened = await svc.service.listen();
    const base = listened.startsWith('http') ? listened : `http://${listened}`;
    const send = (host: string, path = '/api/v1/pause') =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = httpRequest(`${base}${path}`, { method: 'POST', headers: { host, 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ by: 'page' }));
      });
    const rebound = await send('rebind.evil.example:9095');
    assert.equal(rebound.status, 403);
    assert.equal(rebound.body.error.code, 'FORBIDDEN');
    assert.equal((await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events.length, 0, 'refused: nothing paused');
    for (const host of ['127.0.0.1:9095', 'localhost', 'LOCALHOST:1', '[::1]:9095']) assert.equal((await send(host, '/api/v1/resume')).status, 200, host);
    await svc.stop({ remove: true });
  });
});

describe('without tokens: requests a web page sends', () => {
  it('a page of another origin cannot resume or pause: 403, nothing changes; curl, the CLI and this origin are answered', async () => {
    const svc = await startTestService({ runbooks: runbooks('http://127.0.0.1:9') });
    try {
      assert.equal((await svc.post('/api/v1/pause', { by: 'alice', reason: 'incident' })).status, 200);
      // fetch('http://127.0.0.1:9095/api/v1/resume', {method: 'POST', mode: 'no-cors'}): no body, no content type, no preflight.
      const page = (headers: Record<string, string>, url = '/api/v1/resume') => svc.app.inject({ method: 'POST', url, headers });
      const pages: Array<Record<string, string>> = [
        { origin: 'https://evil.example' },
        { origin: 'null' },
        { origin: 'http://localhost:3000' },
        // The same host and port under another scheme is another origin.
        { origin: 'https://localhost:80' },
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
      ];
      for (const headers of pages) {
        const r = await page(headers);
        assert.equal(r.statusCode, 403, JSON.stringify(headers));
        assert.equal(JSON.parse(r.body).error.code, 'FORBIDDEN');
      }
      const form = await svc.app.inject({
        method: 'POST',
        url: '/api/v1/runbooks/restart-low/pause',
        headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
        payload: '{"by":"page"}',
      });
      assert.equal(form.statusCode, 403);
      assert.deepEqual(
        (await svc.get('/api/v1/audit')).body.events.map((e: { event: string; actor: string }) => [e.event, e.actor]),
        [['SERVICE_PAUSED', 'alice']],
        'still paused, and nothing else recorded',
      );
      // Its own origin, and a request no page sent (no Origin), are answered.
      const same = await svc.app.inject({ method: 'POST', url: '/api/v1/resume', headers: { origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, payload: { by: 'alice' } });
      assert.equal(same.statusCode, 200);
      assert.equal((await svc.post('/api/v1/pause', { by: 'bob' })).status, 200);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('the tokens file', () => {
  async function serveWith(text: string): Promise<string[]> {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-auth-'));
    writeFileSync(join(dir, 'tokens.yaml'), text);
    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'rectify.db')}`, '--runbooks', dir, '--tokens', 'tokens.yaml'], { out: () => {}, err: (l) => err.push(l), env: {}, cwd: dir });
    assert.equal(code, 2);
    return err.map((l) => l.replace(dir + '/', ''));
  }
  const hash = 'a'.repeat(64);

  it('every problem, with the YAML path, and never the value given for a hash', async () => {
    const pasted = 'rct_THIS_IS_THE_TOKEN_ITSELF';
    const lines = await serveWith(`tokens:
  - name: alertmanager
    roles: [ingest, approve]
    sha256: ${pasted}
  - name: alertmanager
    role: [viewer]
    sha256: ${hash}
  - name: rectify
    roles: []
    token: ${pasted}
    sha256: ${hash}
extra: 1
`);
    assert.deepEqual(lines, [
      'tokens.yaml: extra: unknown key',
      'tokens.yaml: tokens[0].roles[1]: unknown role "approve" (did you mean "approver"?); roles are ingest, viewer, approver, admin',
      'tokens.yaml: tokens[0].sha256: expected the token\'s SHA-256 as 64 hex digits (printf %s "$TOKEN" | sha256sum); the value is not shown',
      'tokens.yaml: tokens[1].role: unknown key (did you mean "roles"?)',
      'tokens.yaml: tokens[1].name: "alertmanager" is already the name of tokens[0]; names identify callers in the audit log and must be unique',
      'tokens.yaml: tokens[1].roles: expected a non-empty list of roles (ingest, viewer, approver, admin)',
      'tokens.yaml: tokens[2].token: unknown key: this file holds only the SHA-256 of a token (sha256:), never the token',
      'tokens.yaml: tokens[2].name: "rectify" is reserved for rectify\'s own audit entries; choose another name',
      'tokens.yaml: tokens[2].roles: expected a non-empty list of roles (ingest, viewer, approver, admin)',
      'tokens.yaml: tokens[2].sha256: the same hash as tokens[1]: one token cannot have two names',
    ]);
    assert.ok(!lines.join('\n').includes(pasted));
  });

  it('a token written as a key or a role is not quoted, in the path or the message; a near-miss role still is', async () => {
    const pasted = 'rct__-CKY5xd-FK354s5SUerjQHWoXs6lab2';
    const lines = await serveWith(`tokens:
  - name: grafana
    roles: [${pasted}, viewr, ${'v'.repeat(21)}]
    sha256: ${hash}
    ${pasted}: x
${pasted}: 1
`);
    assert.deepEqual(lines, [
      'tokens.yaml: an unknown key (not shown: it may be a token)',
      'tokens.yaml: tokens[0]: an unknown key (not shown: it may be a token)',
      'tokens.yaml: tokens[0].roles[0]: an unknown role (not shown: it may be a token); roles are ingest, viewer, approver, admin',
      'tokens.yaml: tokens[0].roles[1]: unknown role "viewr" (did you mean "viewer"?); roles are ingest, viewer, approver, admin',
      'tokens.yaml: tokens[0].roles[2]: an unknown role (not shown: it may be a token); roles are ingest, viewer, approver, admin',
    ]);
    assert.ok(!lines.join('\n').includes(pasted));
  });

  it('the names rectify keeps for itself are refused as a reader would see them: any case', async () => {
    const lines = await serveWith(`tokens:
  - name: Rectify
    roles: [approver]
    sha256: ${'b'.repeat(64)}
  - name: API
    roles: [approver]
    sha256: ${'c'.repeat(64)}
  - name: rectify-oncall
    roles: [approver]
    sha256: ${'d'.repeat(64)}
`);
    assert.deepEqual(lines, [
      'tokens.yaml: tokens[0].name: "Rectify" is reserved for rectify\'s own audit entries; choose another name',
      'tokens.yaml: tokens[1].name: "API" is reserved for rectify\'s own audit entries; choose another name',
    ]);
  });

  it('a missing file, an empty file and broken YAML each stop startup', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-auth-'));
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l), env: {}, cwd: dir };
    assert.equal(await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'rectify.db')}`, '--runbooks', dir, '--tokens', 'nope.yaml'], io), 2);
    assert.deepEqual(err, [`${join(dir, 'nope.yaml')}: cannot read the tokens file (set by --tokens): ENOENT (file not found)`]);
    // Named where the setting came from, as the runbooks folder is: the path alone does not say which setting to correct.
    err.length = 0;
    assert.equal(await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'rectify.db')}`, '--runbooks', dir], { ...io, env: { RECTIFY_TOKENS: 'nope.yaml' } }), 2);
    assert.deepEqual(err, [`${join(dir, 'nope.yaml')}: cannot read the tokens file (set by RECTIFY_TOKENS): ENOENT (file not found)`]);
    err.length = 0;
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc', 'rectify.yaml'), 'tokens: missing.yaml\n');
    assert.equal(await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'rectify.db')}`, '--runbooks', dir, '--config', 'etc/rectify.yaml'], io), 2);
    assert.deepEqual(err, [`${join(dir, 'etc', 'missing.yaml')}: cannot read the tokens file (set by tokens in etc/rectify.yaml): ENOENT (file not found)`]);
    // A device or a FIFO is refused, not read: /dev/zero read until memory ran out, a FIFO blocked forever.
    err.length = 0;
    assert.equal(await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'rectify.db')}`, '--runbooks', dir, '--tokens', '/dev/zero'], io), 2);
    assert.deepEqual(err, ['/dev/zero: cannot read the tokens file (set by --tokens): is not a regular file (a FIFO, a socket or a device)']);
    assert.deepEqual(await serveWith(''), ['tokens.yaml: the file is empty; write `tokens: []` to allow no one']);
    const broken = await serveWith('tokens: [\n');
    assert.equal(broken.length, 1);
    assert.match(broken[0]!, /^tokens\.yaml: invalid YAML \([A-Z_]+\) at offset \d+$/);
    // Too many aliases ("billion laughs"): exit 2 naming the file, as for rectify.yaml; it was exit 1 "cannot start", no file named.
    assert.deepEqual(await serveWith(aliasBomb()), ['tokens.yaml: invalid YAML: Excessive alias count indicates a resource exhaustion attack']);
  });
});

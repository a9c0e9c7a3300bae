import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { httpRunbook } from '../helpers/runbooks.js';
import { countRows } from '../storm/helpers.js';

describe('API surface', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act', { status: 200 });
    target.route('POST', '/slow', { status: 200, delayMs: 400 });
    svc = await startTestService({
      runbooks: `runbooks:
  fix:
    description: Fix it
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 4
    cooldown_minutes: 5
    action:
      http: {method: POST, url: "${target.url}/act"}
  slow:
    description: Takes a while
    risk: LOW
    triggers: [sluggish]
    min_confidence: 0.5
    max_per_hour: 4
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/slow"}
`,
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('GET /api/v1/runbooks shows live state: executions in the last hour, cooldown end, success rate', async () => {
    await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'a' });
    const r = await svc.get('/api/v1/runbooks');
    assert.equal(r.status, 200);
    const fix = r.body.runbooks[0];
    assert.equal(fix.id, 'fix');
    assert.equal(fix.executions_last_hour, 1);
    assert.equal(fix.success_rate, 1);
    assert.equal(fix.circuit.state, 'closed');
    assert.deepEqual(fix.cooldowns, [{ service: 'a', until: '2026-11-24T03:05:00.000Z' }]);
    assert.equal(fix.cooldown_end, '2026-11-24T03:05:00.000Z');
    assert.equal(fix.executable, true);
    assert.equal((await svc.get('/api/v1/runbooks/nope')).status, 404);
  });

  it('/metrics exposes decisions, executions, circuit state and pause', async () => {
    const m = await svc.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(m.statusCode, 200);
    assert.match(m.body, /rectify_decisions_total\{action="executed",reason="EXECUTING"\} 1/);
    assert.match(m.body, /rectify_executions_total\{runbook="fix",outcome="success"\} 1/);
    assert.match(m.body, /rectify_circuit_state\{runbook="fix"\} 0/);
    assert.match(m.body, /rectify_paused 0/);
    assert.match(m.body, /rectify_incidents_total\{source="api"\} 1/);
  });

  it('/metrics shows the queues an operator watches in a storm: pending commits, running executions, dropped notifications', async () => {
    const scrape = async () => (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
    const sample = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name} `));
    const idle = await scrape();
    assert.equal(sample(idle, 'rectify_executions_running'), 'rectify_executions_running 0');
    assert.equal(sample(idle, 'rectify_store_pending'), 'rectify_store_pending 0');
    assert.equal(sample(idle, 'rectify_notifications_dropped_total'), 'rectify_notifications_dropped_total 0');
    const r = await svc.post('/api/v1/incidents', { root_cause: 'sluggish', service: 'm' });
    assert.equal(r.body.action, 'executed');
    await target.waitForRequest('/slow');
    assert.equal(sample(await scrape(), 'rectify_executions_running'), 'rectify_executions_running 1', 'the target holds its answer for 400 ms');
    for (let i = 0; i < 100 && (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body.state === 'running'; i++) await new Promise((d) => setTimeout(d, 20));
    assert.equal((await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body.state, 'succeeded');
    assert.equal(sample(await scrape(), 'rectify_executions_running'), 'rectify_executions_running 0');
  });

  it('audit pagination: newest first, cursor pages never repeat or skip', async () => {
    for (let i = 0; i < 7; i++) await svc.post('/api/v1/incidents', { root_cause: 'unmatched', service: `s${i}` });
    const all = (await svc.get('/api/v1/audit?limit=1000')).body.events.map((e: any) => e.seq);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await svc.get(`/api/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.events.map((e: any) => e.seq));
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, all);
    assert.deepEqual([...all].sort((a, b) => b - a), all);
    const filtered = await svc.get('/api/v1/audit?event=NO_RUNBOOK');
    assert.equal(filtered.body.events.length, 7);
    const bad = await svc.get('/api/v1/audit?event=NOT_AN_EVENT');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].path, 'query.event');
    const since = await svc.get('/api/v1/audit?since=yesterday');
    assert.equal(since.status, 400);
  });

  it('unknown ids are 404 with the error shape; unknown routes too', async () => {
    for (const url of ['/api/v1/incidents/nope', '/api/v1/executions/nope', '/api/v1/approvals/nope', '/api/v1/nothing']) {
      const r = await svc.get(url);
      assert.equal(r.status, 404, url);
      assert.equal(r.body.error.code, 'NOT_FOUND');
      assert.deepEqual(r.body.error.details, []);
    }
  });

  it('serves the OpenAPI document (the committed openapi.yaml) and /docs', async () => {
    const doc = await svc.get('/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.0.3');
    for (const p of ['/api/v1/webhooks/alertmanager', '/api/v1/webhooks/pagerduty', '/api/v1/incidents', '/api/v1/incidents/{id}', '/api/v1/executions/{id}', '/api/v1/approvals', '/api/v1/approvals/{id}/approve', '/api/v1/approvals/{id}/reject', '/api/v1/audit', '/api/v1/runbooks', '/api/v1/runbooks/{id}', '/api/v1/runbooks/{id}/run', '/api/v1/pause', '/api/v1/resume']) {
      assert.ok(doc.body.paths[p], p);
    }
    // The label maps' limit of 1,000 entries (a refinement, which JSON Schema has no word for) is said as maxProperties.
    const body = (path: string) => doc.body.paths[path].post.requestBody.content['application/json'].schema;
    const am = body('/api/v1/webhooks/alertmanager');
    assert.deepEqual(
      [am.properties.groupLabels, am.properties.commonLabels, am.properties.commonAnnotations, am.properties.alerts.items.properties.labels, am.properties.alerts.items.properties.annotations].map((m: any) => m.maxProperties),
      [1000, 1000, 1000, 1000, 1000],
    );
    const generic = body('/api/v1/incidents');
    assert.deepEqual([generic.properties.labels.maxProperties, generic.properties.context.maxProperties], [1000, 1000]);
    const docs = await svc.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
  });

  it('healthz and readyz', async () => {
    assert.deepEqual((await svc.get('/healthz')).body, { status: 'ok' });
    const ready = await svc.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.store, 'ok');
    assert.equal(ready.body.runbooks, 2);
  });

  it('readyz with no runbook loaded: 503, saying so, while the service still serves', async () => {
    const empty = await startTestService({ runbooks: {} });
    try {
      const ready = await empty.get('/readyz');
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body, {
        ready: false,
        store: 'ok',
        runbooks: 0,
        runbooks_error: 'no runbook is loaded: every alert would be left to a person (NO_RUNBOOK); put runbooks in the folder and reload them (SIGHUP)',
        draining: false,
      });
      // Still served: an alert is taken in and left to a person.
      const r = await empty.post('/api/v1/incidents', { root_cause: 'Broken', service: 'web', confidence: 1 });
      assert.deepEqual([r.status, r.body.action, r.body.event], [202, 'manual', 'NO_RUNBOOK']);
      // Ready once a reload loads one.
      writeFileSync(join(empty.runbooksDir, 'runbooks.yaml'), `runbooks:\n${httpRunbook('fix', { trigger: 'Broken', url: 'http://127.0.0.1:1/act' })}`);
      await empty.service.reload();
      const after = await empty.get('/readyz');
      assert.deepEqual([after.status, after.body.ready, after.body.runbooks, after.body.runbooks_error], [200, true, 1, undefined]);
    } finally {
      await empty.stop({ remove: true });
    }
  });
});

describe("a runbook's own kill switch", () => {
  it('survives a restart, shows in GET /api/v1/runbooks and /metrics, needs admin like the global one, and leaves approvals alone', async () => {
    const target = await startHttpTarget();
    target.route('POST', '/act', { status: 200 });
    const svc = await startTestService({
      runbooks: `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/act"}
  other:
    risk: LOW
    triggers: [bent]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/act"}
`,
    });
    const paused = await svc.post('/api/v1/runbooks/fix/pause', { by: 'alice', reason: 'investigating' });
    assert.equal(paused.status, 200);
    assert.deepEqual(paused.body, { runbook: 'fix', paused: true, changed: true, pause: { by: 'alice', reason: 'investigating', since: '2026-11-24T03:00:00.000Z' } });
    assert.equal((await svc.post('/api/v1/runbooks/nope/pause', { by: 'alice' })).status, 404);
    const again = await svc.restart();
    const blocked = await again.post('/api/v1/incidents', { root_cause: 'broken', service: 'a' });
    assert.deepEqual([blocked.body.action, blocked.body.event], ['blocked', 'PAUSED']);
    const other = await again.post('/api/v1/incidents?wait=true', { root_cause: 'bent', service: 'a' });
    assert.equal(other.body.action, 'executed');
    const list = (await again.get('/api/v1/runbooks')).body.runbooks;
    assert.deepEqual(list.map((r: any) => [r.id, r.paused?.by ?? null]), [['fix', 'alice'], ['other', null]]);
    const metrics = (await again.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^rectify_runbook_paused\{runbook="fix"\} 1$/m);
    assert.match(metrics, /^rectify_runbook_paused\{runbook="other"\} 0$/m);
    const resumed = await again.post('/api/v1/runbooks/fix/resume', { by: 'alice' });
    // The alert it held off across the restart is told: it is not decided again.
    assert.deepEqual(resumed.body, { runbook: 'fix', paused: false, changed: true, pause: null, held_while_paused: { alerts: 1, runbooks: [{ runbook: 'fix', alerts: 1 }] }, global_pause: null });
    assert.equal((await again.post('/api/v1/runbooks/fix/resume', { by: 'alice' })).body.changed, false);
    assert.match((await again.app.inject({ method: 'GET', url: '/metrics' })).body, /^rectify_runbook_paused\{runbook="fix"\} 0$/m);
    assert.equal((await again.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'b' })).body.action, 'executed');
    await again.stop({ remove: true });
    await target.close();
  });
});

describe('startup refuses bad configuration and runbooks, one line per problem', () => {
  it('rectify serve with broken runbooks prints every problem with file and YAML path, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-start-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'x.yaml'), 'runbooks:\n  restart-pod:\n    risk: LOW\n    triggers: [a]\n    max_per_hou: 5\n    max_per_hour: five\n    action: kubectl delete pod {pod} -n {namespace}\n');
    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'db.sqlite')}`], { out: () => {}, err: (l) => err.push(l), env: {}, cwd: dir });
    assert.equal(code, 2);
    assert.ok(err.some((l) => /x\.yaml:\d+: runbooks\.restart-pod\.max_per_hou: unknown key \(did you mean "max_per_hour"\?\)/.test(l)), err.join('\n'));
    assert.ok(err.some((l) => /x\.yaml:\d+: runbooks\.restart-pod\.max_per_hour: expected a positive integer, got "five"/.test(l)), err.join('\n'));
  });

  it('rectify serve with a bad setting names its source; non-loopback without tokens is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-start-'));
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l), env: { RECTIFY_MAX_CONCURRENT_EXECUTIONS: 'lots' }, cwd: dir };
    assert.equal(await runCli(['serve'], io), 2);
    assert.match(err.join('\n'), /RECTIFY_MAX_CONCURRENT_EXECUTIONS: expected a positive integer, got "lots"/);
    err.length = 0;
    assert.equal(await runCli(['serve', '--listen', '0.0.0.0:0'], { ...io, env: {} }), 2);
    assert.match(err.join('\n'), /refusing to listen on non-loopback address 0\.0\.0\.0 without API tokens/);
  });
});

describe('what Fastify refuses before any route', () => {
  it('a malformed URL is a 400 in the same error shape as everything else', async () => {
    const svc = await startTestService();
    const res = await svc.app.inject({ method: 'GET', url: '/api/v1/incidents/%E0%A4%A' });
    assert.equal(res.statusCode, 400);
    const body = JSON.parse(res.body);
    assert.equal(body.error.code, 'BAD_REQUEST');
    assert.equal(typeof body.error.message, 'string');
    assert.deepEqual(body.error.details, []);
    await svc.stop({ remove: true });
  });
});

describe('the read routes read what they are asked', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService();
  });
  after(async () => {
    await svc.stop({ remove: true });
  });

  it('an id as long as POST accepts (128 characters) is read back; a longer path id is a 400 naming params.id, on every route with an id', async () => {
    const id = `A${'b'.repeat(127)}`;
    const posted = await svc.post('/api/v1/incidents', { id, root_cause: 'Nothing', service: 'svc' });
    assert.equal(posted.status, 202);
    assert.equal(posted.body.incident_id, id);
    const read = await svc.get(`/api/v1/incidents/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.incident.id, id);
    assert.equal(read.body.decision.event, 'NO_RUNBOOK');
    // Every route with an id in its path lets one of 128 characters through to be looked up.
    for (const url of [`/api/v1/executions/${id}`, `/api/v1/approvals/${id}`, `/api/v1/runbooks/${id}`]) {
      const r = await svc.get(url);
      assert.equal(r.status, 404, url);
      assert.equal(r.body.error.code, 'NOT_FOUND', url);
    }
    const longer = `${id}c`;
    const refused = {
      code: 'VALIDATION_FAILED',
      message: 'invalid params: params.id: expected an id of at most 128 characters: no id is longer',
      details: [{ path: 'params.id', message: 'expected an id of at most 128 characters: no id is longer' }],
    };
    for (const [method, url] of [
      ['GET', `/api/v1/incidents/${longer}`],
      ['GET', `/api/v1/executions/${longer}`],
      ['GET', `/api/v1/approvals/${longer}`],
      ['GET', `/api/v1/runbooks/${longer}`],
      ['GET', `/api/v1/incidents/${'x'.repeat(5000)}`],
      ['POST', `/api/v1/approvals/${longer}/approve`],
      ['POST', `/api/v1/approvals/${longer}/reject`],
      ['POST', `/api/v1/runbooks/${longer}/run`],
      ['POST', `/api/v1/runbooks/${longer}/pause`],
      ['POST', `/api/v1/runbooks/${longer}/resume`],
      ['POST', `/api/v1/runbooks/${longer}/circuit/close`],
      ['POST', `/api/v1/runbooks/${longer}/cooldown/clear`],
    ] as const) {
      const r = await svc.app.inject({ method, url, ...(method === 'POST' ? { payload: {} } : {}) });
      assert.equal(r.statusCode, 400, url);
      const body = JSON.parse(r.body);
      if (url.includes('x'.repeat(5000))) assert.equal(body.error.details[0].path, 'params.id');
      else assert.deepEqual(body.error, refused, url);
    }
  });

  it('an unknown query parameter is a 400 naming it, with a suggestion, on every list and export route; it never answers every row', async () => {
    await svc.post('/api/v1/incidents', { id: 'OTHER1', root_cause: 'Nothing', service: 'svc' });
    await svc.post('/api/v1/incidents', { id: 'OTHER2', root_cause: 'Nothing', service: 'svc' });
    const audit = await svc.get('/api/v1/audit?incident=OTHER1');
    assert.equal(audit.status, 400);
    assert.equal(audit.body.error.code, 'VALIDATION_FAILED');
    assert.deepEqual(audit.body.error.details, [{ path: 'query.incident', message: 'unknown query parameter: this route reads incident_id, runbook, execution_id, event, since, limit, cursor' }]);
    const approvals = await svc.get('/api/v1/approvals?state=approved');
    assert.equal(approvals.status, 400);
    assert.deepEqual(approvals.body.error.details, [{ path: 'query.state', message: 'unknown query parameter (did you mean "status"?): this route reads status, limit, cursor' }]);
    const exported = await svc.app.inject({ method: 'GET', url: '/api/v1/audit/export?sinse=2026-01-01T00:00:00Z' });
    assert.equal(exported.statusCode, 400);
    assert.deepEqual(JSON.parse(exported.body).error.details, [{ path: 'query.sinse', message: 'unknown query parameter (did you mean "since"?): this route reads since, after_seq' }]);
    // Beside another refusal, each is named.
    const both = await svc.get('/api/v1/approvals?limit=0&state=approved');
    assert.deepEqual(both.body.error.details.map((d: { path: string }) => d.path), ['query.limit', 'query.state']);
    // `__proto__` is a parameter like any other (zod leaves it out of what it parses).
    const approvalsReads = 'unknown query parameter: this route reads status, limit, cursor';
    for (const query of ['__proto__=x', '%5F%5Fproto%5F%5F=x', '__proto__=x&__proto__=y', '__proto__[status]=pending']) {
      const r = await svc.get(`/api/v1/approvals?${query}`);
      assert.equal(r.status, 400, query);
      assert.deepEqual(r.body.error.details, [{ path: query.startsWith('__proto__[') ? 'query["__proto__[status]"]' : 'query.__proto__', message: approvalsReads }], query);
    }
    const proto = await svc.get('/api/v1/audit?__proto__=1');
    assert.equal(proto.status, 400);
    assert.deepEqual(proto.body.error.details, [{ path: 'query.__proto__', message: 'unknown query parameter: this route reads incident_id, runbook, execution_id, event, since, limit, cursor' }]);
    const protoExport = await svc.app.inject({ method: 'GET', url: '/api/v1/audit/export?__proto__=1' });
    assert.equal(protoExport.statusCode, 400);
    assert.deepEqual(JSON.parse(protoExport.body).error.details, [{ path: 'query.__proto__', message: 'unknown query parameter: this route reads since, after_seq' }]);
    const all = await svc.get('/api/v1/approvals?limit=0&state=approved&__proto__=x&constructor=y');
    assert.deepEqual(all.body.error.details.map((d: { path: string }) => d.path), ['query.limit', 'query.state', 'query.constructor', 'query.__proto__']);
    // The parameter as named filters.
    const one = await svc.get('/api/v1/audit?incident_id=OTHER1');
    assert.equal(one.status, 200);
    assert.deepEqual([...new Set(one.body.events.map((e: { incident_id: string }) => e.incident_id))], ['OTHER1']);
  });

  it('an empty filter is a 400 naming it, not the whole log', async () => {
    const r = await svc.get('/api/v1/audit?incident_id=&runbook=&execution_id=');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.error.details, [
      { path: 'query.incident_id', message: 'expected an incident id; leave the parameter out to list every row' },
      { path: 'query.runbook', message: 'expected a runbook id; leave the parameter out to list every row' },
      { path: 'query.execution_id', message: 'expected an execution id; leave the parameter out to list every row' },
    ]);
  });

  it('a since whose "+" arrived as a space says to encode it; encoded, it is read', async () => {
    const message = 'expected an RFC 3339 time, e.g. 2026-11-24T03:00:00Z (a "+" in a query string is read as a space: encode + as %2B, or use Z)';
    for (const url of ['/api/v1/audit?since=2026-11-24T04:00:00+01:00', '/api/v1/audit/export?since=2026-11-24T04:00:00+01:00']) {
      const r = await svc.app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, url);
      assert.deepEqual(JSON.parse(r.body).error.details, [{ path: 'query.since', message }], url);
    }
    assert.equal((await svc.get('/api/v1/audit?since=2026-11-24T04:00:00%2B01:00')).status, 200);
  });
});

describe('a page limit', () => {
  it('given twice, as text, or out of range is a 400 naming query.limit and saying what it takes', async () => {
    const svc = await startTestService();
    try {
      const message = 'expected a whole number from 1 to 1000, given once';
      for (const route of ['/api/v1/audit', '/api/v1/approvals']) {
        for (const q of ['limit=5&limit=6', 'limit=abc', 'limit=0', 'limit=1001', 'limit=2.5']) {
          const r = await svc.app.inject({ method: 'GET', url: `${route}?${q}` });
          assert.equal(r.statusCode, 400, `${route}?${q}`);
          assert.deepEqual(JSON.parse(r.body).error.details, [{ path: 'query.limit', message }], `${route}?${q}`);
        }
        assert.equal((await svc.app.inject({ method: 'GET', url: `${route}?limit=1000` })).statusCode, 200);
      }
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('a page limit not in plain decimal digits', () => {
  it('(hex, an exponent, a sign, a space, a decimal point) is the same 400 naming query.limit, where it was read as a number', async () => {
    const svc = await startTestService();
    try {
      const message = 'expected a whole number from 1 to 1000, given once';
      for (const route of ['/api/v1/audit', '/api/v1/approvals']) {
        // 16, 100, 5, 5, 5 and 5 to a reading as a JavaScript number.
        for (const q of ['limit=0x10', 'limit=1e2', 'limit=%205', 'limit=5%20', 'limit=%2B5', 'limit=5.0']) {
          const r = await svc.app.inject({ method: 'GET', url: `${route}?${q}` });
          assert.equal(r.statusCode, 400, `${route}?${q}`);
          assert.deepEqual(JSON.parse(r.body).error.details, [{ path: 'query.limit', message }], `${route}?${q}`);
        }
        assert.equal((await svc.app.inject({ method: 'GET', url: `${route}?limit=016` })).statusCode, 200);
      }
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('HEAD requests', () => {
  it('are validated as the GET they stand for: a bad query is the same 400, and nothing is read', async () => {
    const svc = await startTestService();
    try {
      const head = (url: string) => svc.app.inject({ method: 'HEAD', url });
      for (const url of ['/api/v1/audit?limit=-1', '/api/v1/audit?limit=abc', '/api/v1/approvals?status=bogus']) {
        const get = await svc.app.inject({ method: 'GET', url });
        assert.equal(get.statusCode, 400, url);
        const h = await head(url);
        assert.equal(h.statusCode, 400, `HEAD ${url}`);
        assert.equal(h.body, '', 'a HEAD answer has no body');
      }
      assert.equal((await head('/api/v1/audit')).statusCode, 200);
      assert.equal((await head('/api/v1/approvals?status=pending')).statusCode, 200);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('who acts, and why, as the control routes are told', () => {
  it('control characters in by, a reason or a comment are a 400 naming the field; spaces, other scripts and lines of a reason are fine', async () => {
    const svc = await startTestService({
      runbooks: `runbooks:
  risky:
    risk: HIGH
    triggers: [broken]
    action:
      http: {method: POST, url: "http://127.0.0.1:9/act"}
`,
    });
    try {
      const ask = async (id: string) => (await svc.post('/api/v1/incidents', { id, root_cause: 'broken', service: 'shop' })).body.approval_id as string;
      const name = 'a name may not hold control characters (a newline, a tab, NUL, an escape) or invisible format characters (a bidi override such as U+202E, a zero-width space)';
      const text = 'control characters other than a newline or a tab (NUL, an escape, a carriage return) are not allowed';
      const id = await ask('INC-1');
      const refused: Array<[string, unknown, string, string]> = [
        [`/api/v1/approvals/${id}/reject`, { by: 'a\u0000\nFAKE AUDIT LINE' }, 'body.by', name],
        [`/api/v1/approvals/${id}/approve`, { by: 'alice\tbob' }, 'body.by', name],
        [`/api/v1/approvals/${id}/approve`, { by: 'alice\u2028bob' }, 'body.by', name],
        [`/api/v1/approvals/${id}/reject`, { by: 'alice', comment: 'ok\u001b[2K\rAPPROVED' }, 'body.comment', text],
        ['/api/v1/runbooks/risky/run', { by: 'eve\u009b31m' }, 'body.by', name],
        ['/api/v1/pause', { by: 'ops\n' }, 'body.by', name],
        ['/api/v1/pause', { by: 'ops', reason: 'x\u0000' }, 'body.reason', text],
        ['/api/v1/runbooks/risky/pause', { by: 'ops', reason: 'x\ry' }, 'body.reason', text],
        // Invisible format characters: a bidi override shows "\u202eyfitcer" as rectify.
        [`/api/v1/approvals/${id}/reject`, { by: '\u202eyfitcer' }, 'body.by', name],
        [`/api/v1/approvals/${id}/approve`, { by: '\u2066rectify\u2069' }, 'body.by', name],
        [`/api/v1/approvals/${id}/approve`, { by: 'rect\u200bify', comment: 'ok' }, 'body.by', name],
        ['/api/v1/runbooks/risky/run', { by: 'al\u00adice' }, 'body.by', name],
        ['/api/v1/runbooks/risky/circuit/close', { by: '\ufeffops', reason: 'fixed' }, 'body.by', name],
        ['/api/v1/runbooks/risky/cooldown/clear', { by: 'ops\u2060', reason: 'fixed' }, 'body.by', name],
        ['/api/v1/resume', { by: 'ops\u202a' }, 'body.by', name],
      ];
      for (const [url, body, path, message] of refused) {
        const r = await svc.post(url, body);
        assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: ${path}: ${message}`, details: [{ path, message }] } } }, `${url} ${JSON.stringify(body)}`);
      }
      // Nothing was decided or paused by the refused requests.
      assert.equal((await svc.get(`/api/v1/approvals?status=pending`)).body.approvals.length, 1);
      assert.equal((await svc.get('/api/v1/runbooks/risky')).body.paused, null);

      // Names as people write them still go through.
      const rejected = await svc.post(`/api/v1/approvals/${id}/reject`, { by: 'Zoë Ångström-Łukasz 王', comment: 'not now:\n\tthe freeze is on' });
      assert.equal(rejected.status, 200);
      assert.equal(rejected.body.decided_by, 'Zoë Ångström-Łukasz 王');
      const paused = await svc.post('/api/v1/runbooks/risky/pause', { by: 'José García', reason: 'flapping\nsee the incident' });
      assert.deepEqual([paused.status, paused.body.pause.by, paused.body.pause.reason], [200, 'José García', 'flapping\nsee the incident']);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('a manual run is what its body says', () => {
  it('an unknown key (a misspelt dry_run among them) is a 400 naming it, and nothing runs or is recorded', async () => {
    const target = await startHttpTarget();
    target.route('POST', '/restart/shop', { status: 200 });
    const svc = await startTestService({
      runbooks: `runbooks:
  restart:
    risk: LOW
    triggers: [broken]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
`,
    });
    try {
      const keys = 'params, by, dry_run, service';
      const refused: Array<[Record<string, unknown>, string, string]> = [
        [{ params: { service: 'shop' }, by: 'alice', dryRun: true }, 'body.dryRun', `unknown key (did you mean "dry_run"?): a manual run's body has ${keys}`],
        [{ params: { service: 'shop' }, by: 'alice', 'dry-run': true }, 'body.dry-run', `unknown key (did you mean "dry_run"?): a manual run's body has ${keys}`],
        [{ params: { service: 'shop' }, by: 'alice', simulate: true }, 'body.simulate', `unknown key: a manual run's body has ${keys}`],
        [{ param: { service: 'shop' }, by: 'alice' }, 'body.param', `unknown key (did you mean "params"?): a manual run's body has ${keys}`],
      ];
      const before = svc.service.store.auditHighWater();
      for (const [body, path, message] of refused) {
        const r = await svc.post('/api/v1/runbooks/restart/run?wait=true', body);
        assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: ${path}: ${message}`, details: [{ path, message }] } } }, JSON.stringify(body));
      }
      assert.equal(target.calls('/restart/shop', 'POST'), 0);
      assert.equal(svc.service.store.auditHighWater(), before);

      // Params are bounded as an incident's context is.
      const many = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`k${i}`, '']));
      const tooMany = await svc.post('/api/v1/runbooks/restart/run', { params: { ...many, service: 'shop' }, by: 'alice', dry_run: true });
      assert.deepEqual([tooMany.status, tooMany.body.error.details], [400, [{ path: 'body.params', message: 'at most 1000 entries' }]]);
      assert.equal(svc.service.store.auditHighWater(), before);

      // The keys it has still do what they say.
      const dry = await svc.post('/api/v1/runbooks/restart/run?wait=true', { params: { service: 'shop' }, by: 'alice', dry_run: true });
      assert.deepEqual([dry.status, dry.body.action], [202, 'dry_run']);
      assert.equal(target.calls('/restart/shop', 'POST'), 0);
      const run = await svc.post('/api/v1/runbooks/restart/run?wait=true', { params: { service: 'shop' }, by: 'alice', dry_run: false, service: 'shop' });
      assert.deepEqual([run.status, run.body.action], [202, 'executed']);
      assert.equal(target.calls('/restart/shop', 'POST'), 1);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

describe('requests Node or the JSON parser cannot read are answered in the API\'s error shape', () => {
  let svc: TestService;
  let target: HttpTarget;
  let port: number;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/scale/trailing', { status: 200 });
    svc = await startTestService({
      realClock: true,
      runbooks: `runbooks:
  scale-up:
    risk: LOW
    triggers: [high_cpu]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/scale/{service}"}
`,
    });
    await svc.app.listen({ host: '127.0.0.1', port: 0 });
    port = (svc.app.server.address() as { port: number }).port;
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  /** Sends `text` as it is on a new connection; resolves what came back before the connection closed. */
  const raw = (text: string) =>
    new Promise<{ status: number; headers: string; body: unknown }>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let out = '';
      socket.on('data', (d) => (out += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(out);
        if (!m) return reject(new Error(`not an HTTP answer: ${JSON.stringify(out)}`));
        resolve({ status: Number(m[1]), headers: m[2]!.toLowerCase(), body: JSON.parse(m[3]!) });
      });
      socket.write(text);
    });
  const incidents = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
  const body = JSON.stringify({ id: 'UNREAD-1', root_cause: 'broken', service: 'a' });
  const request = (contentLength: string) =>
    `POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n${body}`;

  it('a Content-Length that is not a byte count: 400 BAD_REQUEST saying so; one shorter than the body: that many bytes are the body, answered as such; nothing stored', async () => {
    const before = incidents();
    const notCount = await raw(request('abc'));
    assert.equal(notCount.status, 400);
    assert.match(notCount.headers, /content-type: application\/json/);
    assert.deepEqual(notCount.body, {
      error: {
        code: 'BAD_REQUEST',
        message: 'the Content-Length header is not a byte count (or is given twice, or beside Transfer-Encoding): send the length of the body in bytes, once',
        details: [],
      },
    });
    // The first 5 bytes are read as the body, and its route refuses them; the bytes after
    // them start no request and are not answered (an answer saying nothing was read would be false).
    const short = await raw(request('5'));
    assert.equal(short.status, 400);
    assert.deepEqual(short.body, {
      error: {
        code: 'BAD_REQUEST',
        message: 'the body is not valid JSON: at line 1, column 6 (character offset 5): expected : after the property name; the body ends there',
        details: [{ path: 'body', message: 'not valid JSON at line 1, column 6 (character offset 5): expected : after the property name; the body ends there' }],
      },
    });
    assert.equal(incidents(), before);
    // The right length is read and decided.
    const right = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: body, headers: { 'content-type': 'application/json' } });
    assert.equal(right.statusCode, 202);
    assert.equal(incidents(), before + 1);
  });

  it('bytes after a request read whole (its Content-Length right) on a kept-alive connection: the request is decided and answered, then the connection closed', async () => {
    const before = incidents();
    const payload = JSON.stringify({ id: 'TRAILING-1', root_cause: 'high_cpu', service: 'trailing' });
    const whole = `POST /api/v1/incidents?wait=true HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`;
    const answer = await raw(`${whole}xyz not a request\r\n\r\n`);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.deepEqual(
      [(answer.body as { incident_id: string }).incident_id, (answer.body as { action: string }).action, (answer.body as { success: boolean }).success],
      ['TRAILING-1', 'executed', true],
    );
    assert.equal(target.calls('/scale/trailing', 'POST'), 1);
    assert.equal(incidents(), before + 1);
    // Nothing read waits for an answer: the bytes that cannot be read are answered as such.
    const alone = await raw('xyz not a request\r\n\r\n');
    assert.equal(alone.status, 400);
    assert.match((alone.body as { error: { message: string } }).error.message, /^the request could not be read as HTTP\/1\.1 \(HPE_INVALID_METHOD\)/);
    // Nor does a request whose body cannot be read: it never reached its route.
    const chunked = await raw('POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n');
    assert.equal(chunked.status, 400);
    assert.match((chunked.body as { error: { message: string } }).error.message, /^the request could not be read as HTTP\/1\.1 \(HPE_INVALID_CHUNK_SIZE\)/);
    assert.equal(incidents(), before + 1);
  });

  it('a compressed body (Content-Encoding) is a 415 naming the encoding, counted as an intake refusal, nothing stored; identity is read', async () => {
    const before = incidents();
    const refusedMetric = async () => {
      const text = (await svc.get('/metrics')).body as string;
      return Number(/^rectify_intake_refused_total\{route="\/api\/v1\/incidents",reason="unsupported_media_type"\} (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    const refusedBefore = await refusedMetric();
    const payload = JSON.stringify({ id: 'GZ-1', root_cause: 'broken', service: 'a' });
    for (const encoding of ['gzip', 'x-gzip, br']) {
      const r = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: gzipSync(payload), headers: { 'content-type': 'application/json', 'content-encoding': encoding } });
      assert.equal(r.statusCode, 415, encoding);
      assert.deepEqual(JSON.parse(r.body), {
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `content encoding "${encoding}" is not accepted: send the body uncompressed (no Content-Encoding, or identity)`,
          details: [{ path: 'headers.content-encoding', message: `"${encoding}" is not accepted: rectify reads only an uncompressed body` }],
        },
      });
    }
    assert.equal(incidents(), before);
    assert.equal(await refusedMetric(), refusedBefore + 2);
    const identity = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload, headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } });
    assert.deepEqual([identity.statusCode, JSON.parse(identity.body).incident_id], [202, 'GZ-1']);
    assert.equal(incidents(), before + 1);
  });
});

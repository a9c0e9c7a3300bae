import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { postAlerts, startAlertmanager } from '../helpers/alertmanager.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { freePort, type RunningDaemon } from '../helpers/prometheus.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';
import { countRows } from '../storm/helpers.js';
import { bearer, issueToken, writeTokensFile } from '../helpers/tokens.js';

/**
 * Alertmanager drops a group it gets a 4xx for and never sends it again: a group
 * larger than --body-limit (a storm of thousands of alerts in one notification) must
 * not vanish with no trace in rectify. Refusals of a whole intake request are counted
 * and logged; a body too large, and any refused webhook delivery, is also audited and
 * told to a person, at most once a minute per route and reason.
 */

const AM = '/api/v1/webhooks/alertmanager';
const LIMIT = 16 * 1024;

/** An Alertmanager notification of `n` alerts in one group: about 500 bytes each. */
const group = (n: number, tag = 'g') =>
  amWebhook(Array.from({ length: n }, (_, i) => ({ labels: { alertname: 'PodCrashLooping', service: `svc-${i}`, pad: 'x'.repeat(300) }, fingerprint: `${tag}${i.toString(16).padStart(14, '0')}` })));

const refusedRows = async (svc: TestService) => (await svc.get('/api/v1/audit?event=INTAKE_REFUSED&limit=100')).body.events as any[];
const refusedCount = async (svc: TestService, route: string, reason: string): Promise<number> => {
  const text = (await svc.get('/metrics')).body as string;
  const m = new RegExp(`^rectify_intake_refused_total\\{route="${route.replace(/[/*]/g, '\\$&')}",reason="${reason}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};
const warnings = (svc: TestService) => svc.log.records().filter((l) => l.msg === 'intake request refused as a whole: nothing in it was decided');

describe('intake requests refused as a whole are counted, logged, audited and told', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
  });
  after(async () => target.close());
  const told = async (svc: TestService) => {
    await svc.service.drainNotifications();
    return target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.event === 'INTAKE_REFUSED');
  };

  it('a group larger than --body-limit: 413 saying what to do, a warning, rectify_intake_refused_total, an INTAKE_REFUSED row and a notification', async () => {
    target.reset();
    const svc = await startTestService({ args: ['--body-limit', '16KiB', '--notify-webhook', `${target.url}/hook`], captureLogs: true });
    const body = group(100);
    const bytes = Buffer.byteLength(JSON.stringify(body));
    const r = await svc.post(AM, body);
    assert.equal(r.status, 413);
    assert.deepEqual(r.body.error, {
      code: 'PAYLOAD_TOO_LARGE',
      message: `the request body (${bytes} bytes) is larger than the configured limit of ${LIMIT} bytes (--body-limit): raise --body-limit, or send less in one request`,
      details: [],
    });

    const fix = "raise --body-limit (now 16.0 KiB) above the largest body the sender posts, or set max_alerts on rectify's Alertmanager receiver so a large group is cut down (rectify then reports the alerts it left out as ALERTS_TRUNCATED)";
    const [warning, ...more] = warnings(svc);
    assert.equal(more.length, 0);
    assert.equal(warning!.level, 'warn');
    assert.deepEqual(
      { route: warning!.route, reason: warning!.reason, status: warning!.status, bytes: warning!.bytes, body_limit: warning!.body_limit, fix: warning!.fix },
      { route: AM, reason: 'body_too_large', status: 413, bytes, body_limit: LIMIT, fix },
    );
    assert.equal(await refusedCount(svc, AM, 'body_too_large'), 1);

    const rows = await until('the INTAKE_REFUSED row', async () => ((await refusedRows(svc)).length ? refusedRows(svc) : undefined));
    assert.equal(rows.length, 1);
    // The row records its notification (told again after a restart if never delivered).
    const { notification_id: notificationId, told: recorded, ...details } = rows[0].details;
    assert.deepEqual(
      { actor: rows[0].actor, incident_id: rows[0].incident_id, details },
      { actor: 'rectify', incident_id: null, details: { route: AM, reason: 'body_too_large', status: 413, bytes, body_limit: LIMIT, answer: r.body.error.message, fix } },
    );
    const notes = await told(svc);
    assert.equal(notes.length, 1);
    assert.equal(notes[0].outcome, 'refused');
    assert.equal(notes[0].notification_id, notificationId);
    assert.deepEqual(recorded, { to: svc.service.receivers, outcome: 'refused', reason: notes[0].reason, service: null, approval_id: null });
    assert.equal(
      notes[0].reason,
      `rectify refused a body of ${(bytes / 1024).toFixed(1)} KiB, larger than --body-limit (16.0 KiB) on ${AM}: the sender drops a delivery answered 4xx (Alertmanager does not send it again), so none of its alerts was decided; ${fix}`,
    );
    // Nothing of the body was decided.
    assert.equal((await svc.get('/api/v1/audit?limit=100')).body.events.filter((e: any) => e.incident_id !== null).length, 0);
    assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    await svc.stop({ remove: true });
  });

  it('a flood is told once a minute per route and reason: the rest are counted, and the next one told says how many', async () => {
    target.reset();
    const svc = await startTestService({ args: ['--body-limit', '16KiB', '--notify-webhook', `${target.url}/hook`], captureLogs: true });
    const first = svc.clock.now();
    for (let i = 0; i < 5; i++) assert.equal((await svc.post(AM, group(100))).status, 413);
    // Another route's refusals are told on their own.
    assert.equal((await svc.post('/api/v1/incidents', { root_cause: 'x', service: 's', context: { pad: 'y'.repeat(LIMIT) } })).status, 413);
    assert.equal(await refusedCount(svc, AM, 'body_too_large'), 5);
    assert.equal(await refusedCount(svc, '/api/v1/incidents', 'body_too_large'), 1);
    assert.equal(warnings(svc).length, 2);
    await until('two rows', async () => ((await refusedRows(svc)).length === 2 ? true : undefined));
    assert.deepEqual((await told(svc)).map((n) => n.reason.split(':')[0]).sort(), [
      `rectify refused a body of ${(Buffer.byteLength(JSON.stringify(group(100))) / 1024).toFixed(1)} KiB, larger than --body-limit (16.0 KiB) on ${AM}`,
      `rectify refused a body of ${(Buffer.byteLength(JSON.stringify({ root_cause: 'x', service: 's', context: { pad: 'y'.repeat(LIMIT) } })) / 1024).toFixed(1)} KiB, larger than --body-limit (16.0 KiB) on /api/v1/incidents`,
    ].sort());

    svc.clock.advance(59_000);
    assert.equal((await svc.post(AM, group(100))).status, 413);
    assert.equal(warnings(svc).length, 2, 'still within the minute');
    svc.clock.advance(1_000);
    assert.equal((await svc.post(AM, group(100))).status, 413);
    assert.equal(await refusedCount(svc, AM, 'body_too_large'), 7);
    const rows = await until('the third row', async () => {
      const r = await refusedRows(svc);
      return r.length === 3 ? r : undefined;
    });
    assert.equal(rows[0].details.route, AM);
    assert.equal(rows[0].details.also_refused, 5);
    assert.equal(rows[0].details.since, new Date(first).toISOString());
    assert.equal(warnings(svc)[2]!.also_refused, 5);
    const notes = (await told(svc)).filter((n) => n.reason.includes(AM));
    assert.equal(notes.length, 2);
    assert.match(notes[1].reason, new RegExp(`\\(5 more refused the same way since ${new Date(first).toISOString().replaceAll('.', '\\.')} were only counted\\)$`));
    await svc.stop({ remove: true });
  });

  // Regression: a refusal was counted, untold, while the clock read less than a minute
  // after the last one told, so a clock stepped back an hour (an NTP correction) kept an
  // hour of dropped Alertmanager groups from anyone's log, audit log and notifications.
  it('a clock stepped back ends the minute: the next refusal is logged, audited and told', async () => {
    target.reset();
    const svc = await startTestService({ args: ['--body-limit', '16KiB', '--notify-webhook', `${target.url}/hook`], captureLogs: true });
    try {
      assert.equal((await svc.post(AM, group(100))).status, 413);
      svc.clock.advance(-3_600_000);
      assert.equal((await svc.post(AM, group(100))).status, 413);
      assert.equal(warnings(svc).length, 2);
      await until('two rows', async () => ((await refusedRows(svc)).length === 2 ? true : undefined));
      assert.equal((await told(svc)).length, 2);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('415 and 400 on intake routes are logged and counted (a webhook delivery also audited and told); refusals elsewhere are not', async () => {
    target.reset();
    const svc = await startTestService({ args: ['--notify-webhook', `${target.url}/hook`], captureLogs: true });
    // The answer quotes the sender's content type: its first 256 characters.
    const text = await svc.app.inject({ method: 'POST', url: AM, payload: 'alerts', headers: { 'content-type': `text/plain; x=${'a'.repeat(2000)}` } });
    assert.equal(text.statusCode, 415);
    const broken = await svc.app.inject({ method: 'POST', url: AM, payload: '{"alerts": [', headers: { 'content-type': 'application/json' } });
    assert.equal(broken.statusCode, 400);
    const v3 = await svc.post(AM, { ...amWebhook([{ labels: { alertname: 'x' } }]), version: '3' });
    assert.deepEqual([v3.status, v3.body.error.code], [400, 'VALIDATION_FAILED']);
    const api = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: '{"root_cause": ', headers: { 'content-type': 'application/json' } });
    assert.equal(api.statusCode, 400);
    // Not intake: a person's request, answered to them.
    assert.equal((await svc.post('/api/v1/pause', { by: 'a\nb' })).status, 400);

    assert.equal(await refusedCount(svc, AM, 'unsupported_media_type'), 1);
    assert.equal(await refusedCount(svc, AM, 'malformed'), 1);
    assert.equal(await refusedCount(svc, AM, 'invalid'), 1);
    assert.equal(await refusedCount(svc, '/api/v1/incidents', 'malformed'), 1);
    assert.equal(!/rectify_intake_refused_total\{route="\/api\/v1\/pause"/.test((await svc.get('/metrics')).body), true);
    assert.deepEqual(warnings(svc).map((w) => `${w.route} ${w.reason} ${w.status}`), [`${AM} unsupported_media_type 415`, `${AM} malformed 400`, `${AM} invalid 400`, '/api/v1/incidents malformed 400']);
    // The webhook's three are audited and told; the API caller read its answer.
    const rows = await until('three rows', async () => {
      const r = await refusedRows(svc);
      return r.length === 3 ? r : undefined;
    });
    assert.deepEqual(rows.map((r) => r.details.reason).sort(), ['invalid', 'malformed', 'unsupported_media_type']);
    const media = rows.find((r) => r.details.reason === 'unsupported_media_type')!;
    assert.equal(media.details.answer, `content type "text/plain; x=${'a'.repeat(256 - 14)}…" is not accepted: send application/json`);
    assert.equal((await told(svc)).length, 3);
    await svc.stop({ remove: true });
  });

  it('a POST to no route under an intake path (a typo in the sender\'s URL) is a 404 naming the intake routes, counted, logged, audited and told; a trailing or doubled slash reaches the route', async () => {
    target.reset();
    const svc = await startTestService({ args: ['--notify-webhook', `${target.url}/hook`], captureLogs: true });
    const body = amWebhook([{ labels: { alertname: 'NothingMatches', service: 'web' }, fingerprint: 'slash000000001' }]);
    // A trailing slash names the route itself: decided, nothing refused.
    const slash = await svc.post(`${AM}/?wait=true`, body);
    assert.deepEqual([slash.status, slash.body.results?.map((r: any) => r.action)], [202, ['manual']]);
    const pd = await svc.post('/api/v1/webhooks/pagerduty/', { event: { id: 'EV-SLASH', event_type: 'incident.acknowledged', data: { id: 'PSLASH' } } });
    assert.deepEqual([pd.status, pd.body], [202, { results: [] }]);
    assert.equal((await svc.post('/api/v1/incidents/', { root_cause: 'nothing', service: 'web' })).status, 202);
    // So do doubled slashes (a base URL ending in one, joined to a path starting with one).
    const doubled = await svc.post(`/${AM}?wait=true`, amWebhook([{ labels: { alertname: 'NothingMatches', service: 'web' }, fingerprint: 'slash000000002' }]));
    assert.deepEqual([doubled.status, doubled.body.results?.map((r: any) => r.action)], [202, ['manual']]);
    const doubledAgain = await svc.post('/api/v1//webhooks/alertmanager?wait=true', body);
    assert.deepEqual([doubledAgain.status, doubledAgain.body.results?.map((r: any) => r.action)], [202, ['duplicate']]);
    const pdDoubled = await svc.post('//api/v1/webhooks/pagerduty', { event: { id: 'EV-SLASH2', event_type: 'incident.acknowledged', data: { id: 'PSLASH' } } });
    assert.deepEqual([pdDoubled.status, pdDoubled.body], [202, { results: [] }]);
    const apiDoubled = await svc.post('/api/v1//incidents?wait=true', { id: 'INC-SLASH', root_cause: 'nothing', service: 'web' });
    assert.deepEqual([apiDoubled.status, apiDoubled.body.incident_id, apiDoubled.body.action], [202, 'INC-SLASH', 'manual']);
    assert.equal((await svc.get('/api/v1/incidents/INC-SLASH')).body.incident.id, 'INC-SLASH');

    const routes = 'the intake routes are POST /api/v1/webhooks/alertmanager, POST /api/v1/webhooks/pagerduty, POST /api/v1/incidents';
    for (const path of ['/api/v1/webhook/alertmanager', '/api/v1/webhooks/Alertmanager', '/api/v1/webhooks/alertmanager/v2', '//api/v1/webhook/alertmanager']) {
      const r = await svc.post(`${path}?wait=true`, body);
      assert.deepEqual({ status: r.status, body: r.body }, { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route POST ${path}: ${routes}`, details: [] } } }, path);
    }
    const typo = await svc.post('/api/v1/incident', { root_cause: 'x', service: 'y' });
    assert.deepEqual([typo.status, typo.body.error.message], [404, `no route POST /api/v1/incident: ${routes}`]);
    // Not intake: a GET, or a POST elsewhere, is a plain 404.
    assert.deepEqual((await svc.get('/api/v1/webhook/alertmanager')).body.error.message, 'no route GET /api/v1/webhook/alertmanager');
    assert.deepEqual((await svc.post('/api/v1/nothing', {})).body.error.message, 'no route POST /api/v1/nothing');

    assert.equal(await refusedCount(svc, '/api/v1/webhooks/*', 'unknown_path'), 4);
    assert.equal(await refusedCount(svc, '/api/v1/incidents/*', 'unknown_path'), 1);
    assert.equal(await refusedCount(svc, AM, 'unknown_path'), 0);
    const text = (await svc.get('/metrics')).body as string;
    assert.deepEqual(text.split('\n').filter((l: string) => l.startsWith('rectify_intake_refused_total{') && !l.endsWith(' 0')).sort(), [
      'rectify_intake_refused_total{route="/api/v1/incidents/*",reason="unknown_path"} 1',
      'rectify_intake_refused_total{route="/api/v1/webhooks/*",reason="unknown_path"} 4',
    ]);
    // Logged once a minute per route and reason, with the path: the first of each.
    const fix = 'point the sender at one of the intake routes: POST /api/v1/webhooks/alertmanager, POST /api/v1/webhooks/pagerduty, POST /api/v1/incidents';
    assert.deepEqual(
      warnings(svc).map((w) => ({ level: w.level, route: w.route, path: w.path, reason: w.reason, status: w.status, fix: w.fix })),
      [
        { level: 'warn', route: '/api/v1/webhooks/*', path: '/api/v1/webhook/alertmanager', reason: 'unknown_path', status: 404, fix },
        { level: 'warn', route: '/api/v1/incidents/*', path: '/api/v1/incident', reason: 'unknown_path', status: 404, fix },
      ],
    );
    // The webhook's is audited and told (the sender drops it); the API caller read its answer.
    const rows = await until('the row', async () => {
      const r = await refusedRows(svc);
      return r.length === 1 ? r : undefined;
    });
    const { notification_id: _id, told: _told, ...details } = rows[0].details;
    assert.deepEqual(
      { actor: rows[0].actor, details },
      {
        actor: 'rectify',
        details: {
          route: '/api/v1/webhooks/*',
          path: '/api/v1/webhook/alertmanager',
          reason: 'unknown_path',
          status: 404,
          bytes: Buffer.byteLength(JSON.stringify(body)),
          body_limit: 5 * 1024 * 1024,
          answer: `no route POST /api/v1/webhook/alertmanager: ${routes}`,
          fix,
        },
      },
    );
    const notes = await told(svc);
    assert.deepEqual(
      notes.map((n) => [n.outcome, n.reason]),
      [['refused', `rectify refused a body posted to /api/v1/webhook/alertmanager, where no route is (404): the sender drops a delivery answered 4xx (Alertmanager does not send it again), so none of its alerts was decided; ${fix}`]],
    );
    // Nothing of the bodies was decided but those posted to the routes themselves (the acknowledgement decides nothing).
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 4);
    await svc.stop({ remove: true });
  });

  it('with tokens, a POST to no route under an intake path is refused as intake only for a token that may ingest: a viewer, approver or admin is answered the 404 and nothing is counted, logged, audited or told; no token is a 401', async () => {
    target.reset();
    const ingest = issueToken('alertmanager', ['ingest']);
    const others = [issueToken('grafana', ['viewer']), issueToken('alice', ['approver']), issueToken('root-oncall', ['admin'])];
    const dir = mkdtempSync(join(tmpdir(), 'rectify-unknown-path-'));
    const svc = await startTestService({ args: ['--tokens', writeTokensFile(dir, [ingest, ...others]), '--listen', '127.0.0.1:0', '--notify-webhook', `${target.url}/hook`], captureLogs: true });
    const url = await svc.service.listen();
    const post = async (path: string, headers: Record<string, string>) => {
      const r = await fetch(`${url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
      return { status: r.status, body: (await r.json()) as any };
    };
    const audit = async () => ((await (await fetch(`${url}/api/v1/audit?limit=100`, { headers: bearer(others[0]!) })).json()) as any).events as any[];
    const counted = async () => {
      const text = await (await fetch(`${url}/metrics`, { headers: bearer(others[0]!) })).text();
      return text.split('\n').filter((l) => l.startsWith('rectify_intake_refused_total{') && !l.endsWith(' 0'));
    };
    const routes = 'the intake routes are POST /api/v1/webhooks/alertmanager, POST /api/v1/webhooks/pagerduty, POST /api/v1/incidents';
    const seqs = new Set((await audit()).map((e) => e.seq));

    assert.deepEqual((await post('/api/v1/webhook/alertmanager', {})).status, 401);
    for (const t of others) {
      for (const path of ['/api/v1/webhook/alertmanager', '/api/v1/webhooks/alertmanagr', '/api/v1/incident']) {
        assert.deepEqual(await post(path, bearer(t)), { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route POST ${path}: ${routes}`, details: [] } } }, `${t.name} ${path}`);
      }
      // The route itself refuses it as before.
      assert.equal((await post(AM, bearer(t))).status, 403, t.name);
    }
    await svc.service.drainNotifications();
    assert.deepEqual(await counted(), [], 'nothing counted');
    assert.deepEqual(warnings(svc), [], 'nothing logged as refused intake');
    assert.deepEqual((await audit()).filter((e) => !seqs.has(e.seq)), [], 'nothing audited');
    assert.deepEqual(target.requests('/hook', 'POST'), [], 'nobody told');

    // The ingest token is a sender with a typo: refused as today, once.
    assert.deepEqual(await post('/api/v1/webhooks/alertmanagr', bearer(ingest)), { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route POST /api/v1/webhooks/alertmanagr: ${routes}`, details: [] } } });
    await svc.service.drainNotifications();
    assert.deepEqual(await counted(), ['rectify_intake_refused_total{route="/api/v1/webhooks/*",reason="unknown_path"} 1']);
    assert.deepEqual(warnings(svc).map((w) => [w.route, w.path, w.reason]), [['/api/v1/webhooks/*', '/api/v1/webhooks/alertmanagr', 'unknown_path']]);
    const rows = await until('the refusal and its notification', async () => {
      const r = (await audit()).filter((e) => !seqs.has(e.seq));
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(
      rows.map((e) => [e.event, e.actor, e.details.reason ?? null, e.details.path ?? null]).sort(),
      [
        ['INTAKE_REFUSED', 'alertmanager', 'unknown_path', '/api/v1/webhooks/alertmanagr'],
        ['NOTIFIED', 'rectify', null, null],
      ].sort(),
    );
    assert.deepEqual((await told(svc)).map((n) => n.outcome), ['refused']);
    assert.equal(target.requests('/hook', 'POST').length, 1);
    await svc.stop({ remove: true });
  });

  it('a malformed body is told the fix that fits it: a key given twice, a "__proto__" key, bytes that are not UTF-8, text that is not JSON', async () => {
    target.reset();
    const svc = await startTestService({ args: ['--notify-webhook', `${target.url}/hook`], captureLogs: true });
    const json = { 'content-type': 'application/json' };
    const twice = await svc.app.inject({ method: 'POST', url: '/api/v1/webhooks/pagerduty', headers: json, payload: '{"event":{"id":"e1","id":"e2","event_type":"incident.triggered","data":{"id":"P1"}}}' });
    assert.deepEqual([twice.statusCode, twice.json().error.details.map((d: any) => d.path)], [400, ['body.event.id']]);
    const proto = await svc.app.inject({ method: 'POST', url: AM, headers: json, payload: '{"version":"4","__proto__":{"x":1},"alerts":[]}' });
    assert.equal(proto.statusCode, 400);
    const latin1 = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', headers: json, payload: Buffer.from('{"root_cause":"caf\xe9","service":"web"}', 'latin1') });
    assert.equal(latin1.statusCode, 400);
    const broken = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents/', headers: json, payload: '{"root_cause":' });
    assert.equal(broken.statusCode, 400);

    const keyTwice = 'make the sender post each key of an object once (the answer names the key given twice)';
    const reserved = 'make the sender post no "__proto__" key, nor a "constructor" object holding "prototype"';
    const utf8 = 'make the sender post its body encoded as UTF-8 (the answer names the first byte that is not)';
    const oneDocument = 'make the sender post one JSON document with a correct Content-Length';
    // All counted under `malformed`; the route's second in the minute only counted.
    assert.equal(await refusedCount(svc, '/api/v1/webhooks/pagerduty', 'malformed'), 1);
    assert.equal(await refusedCount(svc, AM, 'malformed'), 1);
    assert.equal(await refusedCount(svc, '/api/v1/incidents', 'malformed'), 2);
    assert.deepEqual(
      warnings(svc).map((w) => [w.route, w.reason, w.fix]),
      [
        ['/api/v1/webhooks/pagerduty', 'malformed', keyTwice],
        [AM, 'malformed', reserved],
        ['/api/v1/incidents', 'malformed', utf8],
      ],
    );
    const rows = await until('two rows', async () => {
      const r = await refusedRows(svc);
      return r.length === 2 ? r : undefined;
    });
    const pd = rows.find((r) => r.details.route === '/api/v1/webhooks/pagerduty')!;
    assert.deepEqual([pd.details.reason, pd.details.answer, pd.details.fix], ['malformed', twice.json().error.message, keyTwice]);
    assert.equal(rows.find((r) => r.details.route === AM)!.details.fix, reserved);
    const notes = await told(svc);
    assert.deepEqual(notes.map((n) => n.reason.endsWith(`; ${keyTwice}`) || n.reason.endsWith(`; ${reserved}`)), [true, true]);
    // Text that is not JSON keeps its own advice.
    const svc2 = await startTestService({ captureLogs: true });
    await svc2.app.inject({ method: 'POST', url: '/api/v1/incidents', headers: json, payload: '{"root_cause":' });
    assert.deepEqual(warnings(svc2).map((w) => w.fix), [oneDocument]);
    await svc2.stop({ remove: true });
    await svc.stop({ remove: true });
  });

  it('a sender that closes the connection mid-body is no refusal: counted under reason="aborted", not logged as refused, audited or told', async () => {
    target.reset();
    const svc = await startTestService({ args: ['--notify-webhook', `${target.url}/hook`], captureLogs: true });
    try {
      await svc.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = svc.app.server.address() as AddressInfo;
      // Headers and the start of a body, then the sender gives up (a timeout, a restart).
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const arrived = once(svc.app.server, 'request');
      socket.write(`POST ${AM} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"version":"4","alerts":[`);
      await arrived;
      // Its body being read by then.
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
      const seen = await until('the closed request counted', async () => {
        const aborted = await refusedCount(svc, AM, 'aborted');
        const malformed = await refusedCount(svc, AM, 'malformed');
        return aborted + malformed > 0 ? { aborted, malformed } : undefined;
      });
      assert.deepEqual(seen, { aborted: 1, malformed: 0 });
      await svc.service.drainNotifications();
      assert.deepEqual(warnings(svc), []);
      assert.deepEqual(await refusedRows(svc), []);
      assert.deepEqual(await told(svc), []);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  describe('from a real Alertmanager', () => {
    let am: RunningDaemon;
    let svc: TestService;
    before(async () => {
      const port = await freePort();
      am = await startAlertmanager({ webhookUrl: `http://127.0.0.1:${port}${AM}`, groupBy: ['alertname'] });
      svc = await startTestService({ realClock: true, args: ['--listen', `127.0.0.1:${port}`, '--body-limit', '16KiB'], captureLogs: true });
      await svc.app.listen({ host: '127.0.0.1', port });
    });
    after(async () => {
      await svc?.stop({ remove: true });
      await am?.stop();
    });

    it('a group over --body-limit, which Alertmanager drops, is recorded with its size', async () => {
      await postAlerts(
        am.url,
        Array.from({ length: 60 }, (_, i) => ({ labels: { alertname: 'PodCrashLooping', service: `svc-${i}`, pad: 'x'.repeat(300) } })),
      );
      const rows = await until('the INTAKE_REFUSED row', async () => {
        const r = await refusedRows(svc);
        return r.length ? r : undefined;
      }, 20_000, 100);
      assert.equal(rows[0].details.route, AM);
      assert.equal(rows[0].details.reason, 'body_too_large');
      assert.ok(rows[0].details.bytes > LIMIT, `Alertmanager declared ${rows[0].details.bytes} bytes`);
      assert.equal(await refusedCount(svc, AM, 'body_too_large') >= 1, true);
    });
  });
});

import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { slackSignature } from '../../src/api/slack-signature.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { migrateSqlite } from '../../src/store/sqlite/migrate.js';
import { startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { until } from '../helpers/until.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { bearer, issueToken, writeTokensFile, type IssuedToken } from '../helpers/tokens.js';

/**
 * An upgrade from the release before migrations 008 to 015 (schema 007): a database
 * with history (runs, blocks, duplicates, approvals pending and decided, a paused
 * runbook, an open circuit, a run cut off by kill -9, PagerDuty reopens, notifications
 * never delivered) is migrated once at the next start, recovered as any crash is, and
 * carries its guardrail state, its dedup keys and its audit chain over; nothing
 * delivered before is told again.
 *
 * The old database is the history a real process wrote, taken back to schema 007: the
 * tables the release before wrote are those it writes now (008 to 015 only rebuild or add an
 * index, add a column and add a table the release before had no use for), and the test first checks that the schema is exactly the one
 * migrations 001–007 build. Migration files are immutable (checksummed), so those in
 * the folder are the release's own, also on a checkout without history.
 */

const HOLD = { status: 204, delayMs: 120_000 };

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 2
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}

  cool:
    risk: LOW
    triggers: [cool]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 60
    action:
      http: {method: POST, url: "${base}/act/{service}"}

  flaky:
    risk: LOW
    triggers: [flaky]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/fail/{service}"}

  pz:
    risk: LOW
    triggers: [pz]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}

  spare:
    risk: LOW
    triggers: [spare]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${base}/act/{service}"}

  hang:
    risk: LOW
    triggers: [hang]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/hang/{service}", timeout_seconds: 60}

  ask:
    risk: HIGH
    owner: db-team
    triggers: [scary]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    blast_radius_limit: 5
    action:
      http: {method: POST, url: "${base}/act/{service}"}

  scale-up:
    risk: LOW
    triggers: [high_cpu]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/scale/{service}"}

`;

/** A PagerDuty V3 event about incident `incident`. */
function pdEvent(eventId: string, type: string, incident: string) {
  const body = JSON.parse(readFileSync(new URL('../fixtures/payloads/incident-triggered.json', import.meta.url), 'utf8'));
  body.event.id = eventId;
  body.event.event_type = type;
  body.event.data.id = incident;
  body.event.data.status = type === 'incident.resolved' ? 'resolved' : 'triggered';
  return body;
}

/** The schema as sqlite_master holds it, blanks collapsed (DROP COLUMN edits the CREATE TABLE text). */
function schemaOf(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as Array<{ type: string; name: string; sql: string | null }>).map(
      (r) => `${r.type} ${r.name}: ${(r.sql ?? '').replace(/\s+/g, ' ').replace(/ ?, ?/g, ',').replace(/ ?\) ?/g, ')').trim()}`,
    );
  } finally {
    db.close();
  }
}

function migrationsOf(path: string): Array<{ version: number; checksum: string; applied_at: number }> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version').all() as Array<{ version: number; checksum: string; applied_at: number }>;
  } finally {
    db.close();
  }
}

/** Takes the database written now back to schema 007: what the release before migrations 008 to 019 read and wrote. */
function toSchema007(path: string): void {
  const db = new Database(path);
  try {
    db.exec('DELETE FROM schema_migrations WHERE version >= 8');
    // 007 rebuilds audit_told without INTAKE_REFUSED (its first statement drops the index 015 built).
    db.exec(readFileSync(join(MIGRATIONS_DIR, readdirSync(MIGRATIONS_DIR).find((f) => f.startsWith('007_'))!), 'utf8'));
    db.exec('ALTER TABLE incidents DROP COLUMN seen_at');
    // 010 adds an index on the audit rows' time.
    db.exec('DROP INDEX audit_at');
    // 012 adds the clearings of cooldowns.
    db.exec('DROP TABLE cooldown_clears');
    // 014 adds who asked for an approval request.
    db.exec('ALTER TABLE approvals DROP COLUMN asked_by');
    // 016 indexes the runbooks' circuit closes.
    db.exec('DROP INDEX audit_circuit_closed');
    // 018 adds the Kubernetes objects of the runs under way.
    db.exec('DROP TABLE run_objects');
    // 019 adds the last start per runbook and service.
    db.exec('DROP TABLE last_starts');
  } finally {
    db.close();
  }
}

const json = (r: RecordedRequest) => r.json() as Record<string, any>;

describe('upgrade from schema 007: migrated once, recovered, guardrail state and dedup carried over, nothing told twice', () => {
  const rig = useRectifyProcesses('rectify-upgrade-', runbooks);
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`, '--circuit-recovery', '1h']);
  const hooks = (since: number) => rig.target.requests('/hook').filter((r) => r.at >= since).map(json);

  it('history written at schema 007 is read on, and a second start applies nothing', async () => {
    for (const s of ['a', 'c', 'd', 'e', 'x', 'y', 'z', 'worker', 's']) {
      rig.target.route('POST', `/act/${s}`, { status: 200 });
      rig.target.route('POST', `/scale/${s}`, { status: 200 });
    }
    rig.target.route('POST', '/fail/f', { status: 500 });
    rig.target.route('POST', '/hang/h', HOLD);
    rig.target.route('POST', '/hook', { status: 204 });

    // --- The history, with the receiver up.
    let proc = await start();
    const p = proc;
    const inc = async (rootCause: string, service: string) => (await p.post('/api/v1/incidents?wait=true', { root_cause: rootCause, service, confidence: 1 })).body;
    const am = amWebhook([{ labels: { alertname: 'broken', service: 'a' }, fingerprint: 'fp-upgrade-a' }]);
    const first = (await p.post('/api/v1/webhooks/alertmanager?wait=true', am)).body.results[0];
    assert.equal(first.action, 'executed');
    assert.equal((await p.post('/api/v1/webhooks/alertmanager?wait=true', am)).body.results[0].action, 'duplicate');
    assert.equal((await inc('broken', 'a')).action, 'executed');
    assert.equal((await inc('broken', 'a')).event, 'RATE_LIMITED');
    assert.equal((await inc('cool', 'c')).action, 'executed');
    for (let i = 0; i < 3; i++) assert.equal((await inc('flaky', 'f')).event, 'FAILED');
    assert.equal((await inc('flaky', 'f')).event, 'CIRCUIT_OPEN');
    assert.equal((await p.post('/api/v1/runbooks/pz/pause', { by: 'bob', reason: 'maintenance' })).status, 200);
    const pending = await inc('scary', 'x');
    assert.equal(pending.action, 'approval_required');
    const decided = await inc('scary', 'y');
    assert.equal((await p.post(`/api/v1/approvals/${decided.approval_id}/reject`, { by: 'bob', comment: 'no' })).status, 200);
    assert.equal((await p.post('/api/v1/webhooks/pagerduty?wait=true', pdEvent('EV-T', 'incident.triggered', 'PUPG1'))).body.results[0].action, 'executed');
    assert.equal((await p.post('/api/v1/webhooks/pagerduty?wait=true', pdEvent('EV-S', 'incident.resolved', 'PUPG1'))).body.results[0].action, 'resolved');
    const reopen = (await p.post('/api/v1/webhooks/pagerduty?wait=true', pdEvent('EV-R', 'incident.reopened', 'PUPG1'))).body.results[0];
    assert.equal(reopen.action, 'executed');
    // Everything so far delivered and recorded: the queue sends in order, so the barrier comes last.
    assert.equal((await p.post('/api/v1/runbooks/spare/pause', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { timeoutMs: 20_000, where: (r) => json(r).event === 'RUNBOOK_PAUSED' && json(r).runbook === 'spare' });
    const delivered = async () => (await p.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events.length;
    await until('the deliveries recorded', async () => ((await delivered()) === rig.target.calls('/hook') ? true : undefined));
    const toldBefore = new Set(hooks(0).map((t) => t.notification_id));

    // --- The receiver goes down: what follows is never recorded as delivered.
    rig.target.route('POST', '/hook', HOLD);
    const asked = await inc('scary', 'z');
    assert.equal(asked.action, 'approval_required');
    const lost = await inc('broken', 'e');
    assert.equal(lost.action, 'executed');
    const hang = (await p.post('/api/v1/incidents', { root_cause: 'hang', service: 'h', confidence: 1 })).body;
    await rig.target.waitForRequest('/hang/h', { timeoutMs: 20_000 });
    await proc.kill9();

    // --- Back to the release before: its schema, exactly.
    toSchema007(rig.db);
    const old = join(rig.dir, 'm007');
    mkdirSync(old);
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < '008')) writeFileSync(join(old, f), readFileSync(join(MIGRATIONS_DIR, f)));
    const fresh = new Database(join(rig.dir, 'fresh.db'));
    migrateSqlite(fresh, old);
    fresh.close();
    assert.deepEqual(schemaOf(rig.db), schemaOf(join(rig.dir, 'fresh.db')));
    const before = migrationsOf(rig.db);
    assert.deepEqual(before.map((m) => m.version), [1, 2, 3, 4, 5, 6, 7]);

    // --- The upgrade.
    rig.target.route('POST', '/hook', { status: 204 });
    const since = Date.now();
    proc = await start();
    const q = proc;
    const applied = migrationsOf(rig.db);
    assert.deepEqual(applied.map((m) => m.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.deepEqual(applied.slice(0, 7), before);
    // 008 and 009 rebuild an index and add a column; 010 adds one index; 011 rebuilds one; 012 adds
    // cooldown_clears and rebuilds one; 013 rebuilds one; 014 adds a column; 015 rebuilds one;
    // 016 adds one index; 017 nothing here (it brings databases of edited migrations' earlier texts to this schema);
    // 018 adds run_objects and its index; 019 last_starts and its index.
    assert.deepEqual(schemaOf(rig.db).length, schemaOf(join(rig.dir, 'fresh.db')).length + 7);
    assert.ok(schemaOf(rig.db).includes('index audit_at: CREATE INDEX audit_at ON audit(at)'));
    assert.ok(schemaOf(rig.db).includes("index audit_circuit_closed: CREATE INDEX audit_circuit_closed ON audit(runbook)WHERE event = 'CIRCUIT_CLOSED'"));
    assert.ok(schemaOf(rig.db).some((o) => o.startsWith('table cooldown_clears: ')));
    assert.ok(schemaOf(rig.db).some((o) => o.startsWith('table run_objects: ')));
    assert.ok(schemaOf(rig.db).some((o) => o.startsWith('table last_starts: ')));

    // A barrier: each receiver's queue sends in order, so what startup told comes before it.
    assert.equal((await q.post('/api/v1/runbooks/spare/resume', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => json(r).event === 'RUNBOOK_RESUMED' });
    const told = hooks(since);
    assert.deepEqual(
      told.map((t) => [t.event, t.notification_id]),
      [
        ['SUCCESS', told[0]!.notification_id],
        ['APPROVAL_REQUIRED', `ntf_${asked.approval_id}`],
        ['INTERRUPTED', told[2]!.notification_id],
        ['RUNBOOK_RESUMED', told[3]!.notification_id],
      ],
    );
    assert.equal(told[0]!.execution_id, lost.execution_id);
    assert.equal(told[1]!.approval_id, asked.approval_id);
    assert.equal(told[2]!.execution_id, hang.execution_id);
    assert.deepEqual(told.filter((t) => toldBefore.has(t.notification_id)), [], 'nothing delivered before is told again');

    // Recovery: the run cut off is INTERRUPTED, once, and re-run never.
    const exe = (await q.get(`/api/v1/executions/${hang.execution_id}`)).body;
    assert.equal(exe.state, 'interrupted');
    assert.equal((await q.get(`/api/v1/audit?execution_id=${hang.execution_id}&event=INTERRUPTED`)).body.events.length, 1);
    assert.equal(rig.target.calls('/hang/h'), 1);

    // Dedup keys written before are still duplicates: the Alertmanager alert, the PagerDuty reopen.
    const again = (await q.post('/api/v1/webhooks/alertmanager?wait=true', am)).body.results[0];
    assert.deepEqual([again.action, again.incident_id], ['duplicate', first.incident_id]);
    const reopenAgain = (await q.post('/api/v1/webhooks/pagerduty?wait=true', pdEvent('EV-R', 'incident.reopened', 'PUPG1'))).body.results[0];
    assert.deepEqual([reopenAgain.action, reopenAgain.incident_id], ['duplicate', reopen.incident_id]);
    const resolved = (await q.post('/api/v1/webhooks/pagerduty?wait=true', pdEvent('EV-S2', 'incident.resolved', 'PUPG1'))).body.results[0];
    assert.deepEqual([resolved.action, resolved.incident_id], ['resolved', reopen.incident_id]);

    // Guardrail state carried over: the rate limit's count, the cooldown, the open circuit, the pause.
    assert.equal((await inc2(q, 'broken', 'a')).reason, 'Rate limit exceeded (2/hour)');
    assert.match((await inc2(q, 'cool', 'c')).reason, /^Cooldown active \(\d+s remaining\)$/);
    assert.match((await inc2(q, 'flaky', 'f')).reason, /^Circuit OPEN \(too many failures\); trial allowed in \d+s$/);
    assert.equal((await inc2(q, 'pz', 'd')).reason, 'runbook pz is paused by bob (maintenance): it does not run automatically (POST /api/v1/runbooks/pz/resume)');

    // The approvals: the decided one stays decided, both pending ones can be approved.
    assert.equal((await q.get(`/api/v1/approvals/${decided.approval_id}`)).body.status, 'rejected');
    assert.deepEqual(
      (await q.get('/api/v1/approvals?status=pending')).body.approvals.map((a: any) => a.id).sort(),
      [pending.approval_id, asked.approval_id].sort(),
    );
    for (const id of [pending.approval_id, asked.approval_id]) {
      const r = await q.post(`/api/v1/approvals/${id}/approve`, { by: 'carol' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.result.action, 'executed');
    }

    // The chain holds across the boundary.
    const v = (await q.get('/api/v1/audit/verify')).body;
    assert.equal(v.ok, true, v.reason);
    assert.equal(v.unchained, 0);

    // --- A second start applies nothing and tells nothing again.
    // (a graceful stop first sends what waits: the two runs approved are told here, not at the next start)
    assert.equal(await q.stop(), 0);
    const since2 = Date.now();
    proc = await start();
    assert.deepEqual(migrationsOf(rig.db), applied);
    assert.equal((await proc.post('/api/v1/runbooks/spare/pause', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { since: since2, timeoutMs: 20_000, where: (r) => json(r).event === 'RUNBOOK_PAUSED' });
    assert.deepEqual(hooks(since2).map((t) => t.event), ['RUNBOOK_PAUSED']);
    assert.equal((await proc.get('/api/v1/audit/verify')).body.ok, true);
    await proc.stop();
  });
});

async function inc2(p: RectifyProcess, rootCause: string, service: string) {
  return (await p.post('/api/v1/incidents?wait=true', { root_cause: rootCause, service, confidence: 1 })).body;
}

describe('approval requests opened at schema 013 (no list of who asked), then migrated to 014', () => {
  const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
  const alice = issueToken('alice', ['ingest', 'approver']);
  const am = issueToken('alertmanager', ['ingest']);
  let target: HttpTarget | undefined;
  let svc: TestService | undefined;
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });

  it("an unnamed Slack click is taken or refused as before, by who opened the request; a person's alert joining after the upgrade is listed", async () => {
    target = await startHttpTarget();
    for (const s of ['m1', 'm2', 'm3']) target.route('POST', `/restart/${s}`, { status: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'rectify-upgrade-013-'));
    const args = ['--tokens', writeTokensFile(dir, [alice, am]), '--slack-signing-secret', SECRET, '--slack-approvers', 'U0ALICE,U0BOB'];
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(
      join(dir, 'runbooks', 'runbooks.yaml'),
      `runbooks:
  restart-deployment:
    risk: HIGH
    triggers: [pods_stuck]
    max_per_hour: 10
    cooldown_minutes: 0
    blast_radius_limit: 5
    action:
      http: {method: POST, url: "${target.url}/restart/{deployment}"}
`,
    );
    svc = await startTestService({ dir, args });
    const post = (url: string, t: IssuedToken, body: unknown) =>
      svc!.app.inject({ method: 'POST', url, payload: body as object, headers: { 'content-type': 'application/json', ...bearer(t) } }).then((r) => JSON.parse(r.body));
    const amAlert = async (service: string) =>
      (await post('/api/v1/webhooks/alertmanager', am, amWebhook([{ labels: { alertname: 'pods_stuck', service, deployment: service }, fingerprint: `fp-${service}` }]))).results[0]
        .approval_id as string;
    const click = async (user: string, value: string): Promise<any> => {
      const ts = String(Math.floor(svc!.clock.now() / 1000));
      const payload = { type: 'block_actions', user: { id: user, username: user.toLowerCase() }, response_url: 'https://hooks.slack.com/actions/T000/1/xyz', actions: [{ type: 'button', action_id: 'rectify_approve', value }] };
      const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
      const r = await svc!.app.inject({
        method: 'POST',
        url: '/api/v1/slack/interactions',
        payload: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(SECRET, ts, body) },
      });
      assert.equal(r.statusCode, 200, r.body);
      return JSON.parse(r.body);
    };
    const approval = (id: string) => svc!.service.store.read((tx) => tx.getApproval(id))!;

    // Written, then taken back to schema 013: the release before 014 kept no list of who asked.
    const byAm = await amAlert('m1');
    const byAlice = (await post('/api/v1/incidents', alice, { id: 'UP-1', root_cause: 'pods_stuck', service: 'm2', context: { deployment: 'm2' } })).approval_id as string;
    const joinedLater = await amAlert('m3');
    const dbPath = svc.dbPath;
    const clock = svc.clock;
    await svc.stop();
    const db = new Database(dbPath);
    try {
      db.exec('DELETE FROM schema_migrations WHERE version >= 14');
      db.exec('ALTER TABLE approvals DROP COLUMN asked_by');
      db.exec('DROP INDEX audit_circuit_closed');
      db.exec('DROP TABLE run_objects');
      db.exec('DROP TABLE last_starts');
    } finally {
      db.close();
    }
    assert.deepEqual(migrationsOf(dbPath).at(-1)!.version, 13);

    svc = await startTestService({ dir, clock, args });
    assert.deepEqual(migrationsOf(dbPath).slice(-6).map((m) => m.version), [14, 15, 16, 17, 18, 19]);
    assert.deepEqual([byAm, byAlice, joinedLater].map((id) => approval(id).asked_by), [null, null, null]);

    // Opened by alice's token: an unnamed Slack user cannot be told apart from her.
    const refused = await click('U0ALICE', `${byAlice}:approve`);
    assert.deepEqual(
      [refused.ok, refused.code, refused.text],
      [
        false,
        'FORBIDDEN',
        'slack:U0ALICE cannot be told apart from alice, who asked for this run (separation of duties): give the Slack user its rectify name in --slack-approvers (U0ALICE=<name>), or approve through the API',
      ],
    );
    assert.deepEqual([approval(byAlice).status, approval(byAlice).votes], ['pending', []]);

    // Opened by Alertmanager's ingest-only token: no person asked, the click approves it.
    const taken = await click('U0BOB', `${byAm}:approve`);
    assert.equal(taken.ok, true, taken.text);
    assert.deepEqual([approval(byAm).status, approval(byAm).decided_by], ['approved', 'slack:U0BOB']);
    await target.waitForRequest('/restart/m1');
    assert.equal(target.calls('/restart/m1', 'POST'), 1);

    // Alice's alert joins a request recorded before: she is listed, and the unnamed click is refused.
    const joined = await post('/api/v1/incidents', alice, { id: 'UP-2', root_cause: 'pods_stuck', service: 'm3', context: { deployment: 'm3' } });
    assert.equal(joined.approval_id, joinedLater, JSON.stringify(joined));
    assert.deepEqual(approval(joinedLater).asked_by, ['alice']);
    const after014 = await click('U0BOB', `${joinedLater}:approve`);
    assert.deepEqual([after014.ok, after014.code], [false, 'FORBIDDEN']);
    assert.match(after014.text, /^slack:U0BOB cannot be told apart from alice, who asked for this run /);
    assert.equal(target.calls('/restart/m2', 'POST') + target.calls('/restart/m3', 'POST'), 0);
  });
});

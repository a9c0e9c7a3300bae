import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Tx } from '../../src/store/ports.js';
import type { RenderedHttpAction } from '../../src/domain/index.js';
import type { ActionExecutor } from '../../src/execute/ports.js';

/**
 * Each approval request asks a person. Alerts for many services (or anything that
 * changes the rendered plan) each open one, so a storm of them would message people
 * without end: a runbook has at most --max-pending-approvals requests pending. Past it
 * an alert that would open another is blocked (BLAST_LIMITED, told through the repeat
 * filter as blocked decisions are); an alert for the plan of a pending request still
 * joins it; a request decided or expired makes room.
 */

const runbooks = (base: string) => `runbooks:
  rollback-high:
    risk: HIGH
    triggers: [HighThing]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/undo/{service}"}
`;

const alert = (service: string, n = 0) => ({ labels: { alertname: 'HighThing', service }, fingerprint: `fp-${service}-${n}` });
const CAPPED = (n: number) => `${n} approval requests of rollback-high are pending (--max-pending-approvals): decide those first: this alert is decided again when it is delivered again (Alertmanager's repeat_interval)`;
const decisions = (res: { body: any }) => res.body.results.map((r: any) => [r.action, r.event, r.reason]);
const ASKED = ['approval_required', 'APPROVAL_REQUIRED', 'risk HIGH requires approval'];
const BLOCKED = (n: number) => ['blocked', 'BLAST_LIMITED', CAPPED(n)];

describe('a runbook has at most --max-pending-approvals requests pending', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--max-pending-approvals', '3', '--approval-ttl', '1h'] });
  });
  after(async () => {
    await svc?.stop();
    await target?.close();
  });
  const post = (alerts: ReturnType<typeof alert>[]) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
  const pendingIds = async () => ((await svc.get('/api/v1/approvals?status=pending')).body.approvals as Array<{ id: string; service: string }>).map((a) => a.service).sort();

  it('in one body, the 4th service is blocked with the reason; a re-fire of a pending plan joins; one decided makes room for one', async () => {
    const first = await post(['s1', 's2', 's3', 's4', 's5'].map((s) => alert(s)));
    assert.equal(first.status, 202);
    assert.deepEqual(decisions(first), [ASKED, ASKED, ASKED, BLOCKED(3), BLOCKED(3)]);
    assert.deepEqual(first.body.results.slice(3).map((r: any) => [r.runbook, r.approval_id]), [['rollback-high', null], ['rollback-high', null]]);
    assert.deepEqual(await pendingIds(), ['s1', 's2', 's3']);
    const blockedRows = (await svc.get('/api/v1/audit?event=BLAST_LIMITED&limit=100')).body.events;
    assert.deepEqual(
      blockedRows.reverse().map((e: any) => [e.incident_id, e.runbook, e.details.reason, e.details.service]),
      first.body.results.slice(3).map((r: any, i: number) => [r.incident_id, 'rollback-high', CAPPED(3), `s${4 + i}`]),
    );
    // The blocked decisions are told, as other blocked decisions are.
    const told = await until('the five decisions told', async () => {
      const hooks = target.requests('/hook').map((r) => r.json() as any);
      return hooks.length >= 5 ? hooks : undefined;
    });
    assert.deepEqual(told.map((h: any) => [h.event, h.service]).sort(), [['APPROVAL_REQUIRED', 's1'], ['APPROVAL_REQUIRED', 's2'], ['APPROVAL_REQUIRED', 's3'], ['BLAST_LIMITED', 's4'], ['BLAST_LIMITED', 's5']]);

    // Another alert for s1 (same plan) joins s1's request even at the cap; a new service is blocked.
    const again = await post([alert('s1', 1), alert('s6')]);
    const s1 = first.body.results[0].approval_id;
    assert.deepEqual(again.body.results.map((r: any) => [r.action, r.approval_id]), [['approval_required', s1], ['blocked', null]]);
    assert.match(again.body.results[0].reason, /this alert joins that request$/);
    assert.equal(again.body.results[1].reason, CAPPED(3));

    // Rejected: room for exactly one more, in one body as in several at once.
    assert.equal((await svc.post(`/api/v1/approvals/${s1}/reject`, { by: 'bob', comment: 'no' })).status, 200);
    const both = await Promise.all([post([alert('s7')]), post([alert('s8')])]);
    const actions = both.map((r) => r.body.results[0].action).sort();
    assert.deepEqual(actions, ['approval_required', 'blocked']);
    assert.deepEqual(await pendingIds(), ['s2', 's3', both[0]!.body.results[0].action === 'blocked' ? 's8' : 's7']);

    // Expired requests count no more: past the TTL, three new ones open, the fourth is blocked.
    svc.clock.advance(61 * 60_000);
    const later = await post(['s9', 's10', 's11', 's12'].map((s) => alert(s)));
    assert.deepEqual(decisions(later), [ASKED, ASKED, ASKED, BLOCKED(3)]);
  });
});

// Regression: a re-delivery of an alert blocked at the bound was answered `duplicate`
// ("already decided: blocked (BLAST_LIMITED)") until it resolved and fired again or the
// dedup retention passed: room made by deciding the requests never brought it back.
describe('a re-delivery of an alert blocked at --max-pending-approvals is decided again', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
    svc = await startTestService({
      runbooks: `${runbooks(target.url)}  slow-fix:
    risk: LOW
    triggers: [SlowThing]
    max_per_hour: 5
    cooldown_minutes: 0
    blast_radius_limit: 1
    action:
      http: {method: POST, url: "${target.url}/slow/{service}"}
`,
      args: ['--notify-webhook', `${target.url}/hook`, '--max-pending-approvals', '2', '--approval-ttl', '1h'],
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const post = (alerts: Array<{ labels: Record<string, string>; fingerprint: string; status?: 'firing' | 'resolved' }>) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
  const pending = async () => ((await svc.get('/api/v1/approvals?status=pending')).body.approvals as Array<{ id: string; service: string }>).map((a) => [a.service, a.id]).sort();
  const auditOf = async (incident: string) =>
    ((await svc.get(`/api/v1/audit?incident_id=${incident}&limit=100`)).body.events as any[]).reverse().filter((e) => e.event !== 'NOTIFIED').map((e) => [e.event, e.details.reason, e.details.decided_again ?? false]);

  it('blocked again while the bound holds, asks once room is made, and is a duplicate of that request after; a restart keeps it', async () => {
    const first = await post([alert('s1'), alert('s2'), alert('s3')]);
    assert.deepEqual(decisions(first), [ASKED, ASKED, BLOCKED(2)]);
    const s3 = first.body.results[2].incident_id;

    // Alertmanager's repeat (same fingerprint and startsAt) while two requests still wait:
    // decided again, blocked again, under the same incident; a second copy in the body is its duplicate.
    const held = await post([alert('s3'), alert('s3')]);
    assert.deepEqual(decisions(held), [BLOCKED(2), ['duplicate', 'DUPLICATE', 'already decided: blocked (BLAST_LIMITED)']]);
    assert.deepEqual(held.body.results.map((r: any) => [r.incident_id, r.approval_id]), [[s3, null], [s3, null]]);

    // One decided makes room: the next repeat asks, under the same incident.
    const s1 = first.body.results[0].approval_id;
    assert.equal((await svc.post(`/api/v1/approvals/${s1}/reject`, { by: 'bob', comment: 'no' })).status, 200);
    svc = await svc.restart();
    const asked = await post([alert('s3')]);
    assert.deepEqual(decisions(asked), [ASKED]);
    const request = asked.body.results[0].approval_id;
    assert.equal(asked.body.results[0].incident_id, s3);
    assert.match(request, /^apr/);
    assert.deepEqual(await pending(), [['s2', first.body.results[1].approval_id], ['s3', request]].sort());
    const view = (await svc.get(`/api/v1/incidents/${s3}`)).body;
    assert.deepEqual([view.decision.action, view.decision.event, view.decision.reason, view.approval?.id], ['approval_required', 'APPROVAL_REQUIRED', 'risk HIGH requires approval', request]);

    // Decided now: its repeats are duplicates of that decision, as any alert's.
    const dup = await post([alert('s3')]);
    assert.deepEqual(decisions(dup), [['duplicate', 'DUPLICATE', 'already decided: approval_required (APPROVAL_REQUIRED)']]);
    assert.equal(dup.body.results[0].approval_id, request);

    // One audit row per decision, the ones taken again saying so.
    assert.deepEqual(await auditOf(s3), [
      ['BLAST_LIMITED', CAPPED(2), false],
      ['BLAST_LIMITED', CAPPED(2), true],
      ['DUPLICATE', 'already decided: blocked', false],
      ['APPROVAL_REQUIRED', 'risk HIGH requires approval', true],
      ['DUPLICATE', 'already decided: approval_required', false],
    ]);
    // Told: the first block; the block repeated within --notify-repeat-window only counted,
    // and summed up when the window closed (here at the stop); then the request.
    const told = await until('the request for s3 told', async () => {
      const hooks = target.requests('/hook').map((r) => r.json() as any);
      return hooks.some((h) => h.event === 'APPROVAL_REQUIRED' && h.service === 's3') ? hooks : undefined;
    });
    assert.deepEqual(told.filter((h: any) => h.service === 's3').map((h: any) => [h.event, h.approval_id, h.repeated ?? null, h.reason]), [
      ['BLAST_LIMITED', null, null, CAPPED(2)],
      ['BLAST_LIMITED', null, 1, `1 more BLAST_LIMITED decision(s) for rollback-high on s3 since 2026-11-24T03:00:00.000Z; the latest: ${CAPPED(2)}`],
      ['APPROVAL_REQUIRED', request, null, 'risk HIGH requires approval'],
    ]);
  });

  it('a resolved alert is not decided again; one blocked by the blast radius is, and runs once the run holding it has ended', async () => {
    // s4 blocked at the bound (s2 and s3 wait), then resolved: a late firing copy is a duplicate.
    const blocked = await post([alert('s4')]);
    assert.deepEqual(decisions(blocked), [BLOCKED(2)]);
    assert.deepEqual(decisions(await post([{ ...alert('s4'), status: 'resolved' }])), [['resolved', 'RESOLVED', 'alert resolved']]);
    assert.deepEqual(decisions(await post([alert('s4')])), [['duplicate', 'DUPLICATE', 'already decided: blocked (BLAST_LIMITED)']]);

    // An incident posted again under its id is a re-delivery too: decided again, under that id (not a 409 for an id taken).
    const incident = { id: 'INC-CAP-1', root_cause: 'HighThing', service: 'x1' };
    const posted = [await svc.post('/api/v1/incidents', incident), await svc.post('/api/v1/incidents', incident)];
    assert.deepEqual(
      posted.map((r) => [r.status, r.body.incident_id, r.body.action, r.body.event, r.body.reason]),
      [[202, 'INC-CAP-1', ...BLOCKED(2)], [202, 'INC-CAP-1', ...BLOCKED(2)]],
    );

    // The blast radius of slow-fix (one service at a time) blocks b while a's run holds it.
    const release = holdCalls(target, 'POST', '/slow/a');
    target.route('POST', '/slow/b', { status: 200 });
    const slow = (service: string) => ({ labels: { alertname: 'SlowThing', service }, fingerprint: `fp-slow-${service}` });
    const a = await post([slow('a')]);
    assert.deepEqual(a.body.results.map((r: any) => [r.action, r.event]), [['executed', 'EXECUTING']]);
    const b = await post([slow('b')]);
    const RADIUS = ['blocked', 'BLAST_LIMITED', "Max services (1) already affected by slow-fix; decided again at the alert's next delivery"];
    assert.deepEqual(decisions(b), [RADIUS]);
    // Re-delivered while a's run holds the radius: blocked again, under the same incident.
    const still = await post([slow('b')]);
    assert.deepEqual(decisions(still), [RADIUS]);
    assert.equal(still.body.results[0].incident_id, b.body.results[0].incident_id);
    release();
    await until('the run for a ended', async () => ((await svc.get(`/api/v1/executions/${a.body.results[0].execution_id}`)).body.state === 'succeeded' ? true : undefined));
    const ran = await post([slow('b')]);
    assert.deepEqual(ran.body.results.map((r: any) => [r.action, r.event, r.incident_id]), [['executed', 'EXECUTING', b.body.results[0].incident_id]]);
    await until('the run for b ended', async () => ((await svc.get(`/api/v1/executions/${ran.body.results[0].execution_id}`)).body.state === 'succeeded' ? true : undefined));
    assert.equal(target.calls('/slow/b', 'POST'), 1);
  });
});

describe('pending requests counted per runbook inside one group commit', () => {
  it('every count sees the requests opened, decided and rolled back before it in the same commit, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-apcap-'));
    const batches: number[] = [];
    const store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR, onCommit: (units) => batches.push(units) });
    const open = (tx: Tx, id: string, runbook: string, expiresAt: number) =>
      tx.insertApproval({
        id, incident_id: `inc_${id}`, alert_key: `am:${id}`, runbook, service: id, status: 'pending', reason: 'r', plan: { actions: [] },
        requested_at: 0, requested_by: 'rectify', expires_at: expiresAt, approvals_required: 1, votes: [], decided_at: null, decided_by: null,
        comment: null, execution_id: null, asked_by: [], plan_key: id, alerts: 1, alerts_open: 1,
      });
    const counts = (tx: Tx, now: number) => [tx.pendingApprovalsOf('a', now), tx.pendingApprovalsOf('b', now)];
    try {
      const units = [
        store.transact((tx) => [counts(tx, 100), (open(tx, 'a1', 'a', 1_000), counts(tx, 100))]),
        store.transact((tx) => (open(tx, 'a2', 'a', 500), open(tx, 'b1', 'b', 1_000), [counts(tx, 100), counts(tx, 600)])),
        store.transact((tx) => {
          open(tx, 'a3', 'a', 2_000);
          assert.deepEqual(counts(tx, 100), [3, 1]);
          throw new Error('rolled back');
        }),
        store.transact((tx) => [counts(tx, 100), (tx.updateApproval('a1', { status: 'rejected', decided_at: 100, decided_by: 'bob' }), counts(tx, 100)), counts(tx, 50)]),
      ];
      const [u1, u2, u3, u4] = await Promise.allSettled(units);
      assert.deepEqual(batches, [4], 'the four units shared one group commit');
      assert.deepEqual((u1 as PromiseFulfilledResult<unknown>).value, [[0, 0], [1, 0]]);
      assert.deepEqual((u2 as PromiseFulfilledResult<unknown>).value, [[2, 1], [1, 1]]);
      assert.equal(u3?.status, 'rejected');
      assert.deepEqual((u4 as PromiseFulfilledResult<unknown>).value, [[2, 1], [1, 1], [1, 1]]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a re-delivery decided again after a block at --max-pending-approvals runs for the alert as first received', () => {
  let target: HttpTarget;
  let svc: TestService;
  /** The service each run acted for, and the time of the alert its run was given (StepContext.alertReceivedAt). */
  const runs: Array<[string, number | undefined]> = [];
  let guard = 500;
  before(async () => {
    target = await startHttpTarget();
    target.route('GET', '/guard', () => ({ status: guard }));
    const recording: ActionExecutor<RenderedHttpAction> = {
      type: 'http',
      run: async (a, ctx) => {
        runs.push([a.url, ctx.alertReceivedAt]);
        return { ok: true, detail: 'done' };
      },
    };
    svc = await startTestService({
      runbooks: `runbooks:
  undo-medium:
    risk: MEDIUM
    triggers: [MediumThing]
    max_per_hour: 5
    cooldown_minutes: 0
    guardrails:
      - http: {url: "${target.url}/guard", expect_status: 200}
    action:
      http: {method: POST, url: "${target.url}/undo/{service}"}
`,
      args: ['--max-pending-approvals', '1', '--approval-ttl', '1h'],
      overrides: { actions: [recording as ActionExecutor] },
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const medium = (service: string) => ({ labels: { alertname: 'MediumThing', service }, fingerprint: `fp-m-${service}` });
  const post = (alerts: ReturnType<typeof medium>[]) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));

  it("its run is given the first delivery's time (a rollout made while it was held is not undone), not the re-delivery's", async () => {
    // Its guardrail failing, s1 asks a person; s2 would open a second request: blocked at the bound.
    const first = await post([medium('s1'), medium('s2')]);
    assert.deepEqual(
      first.body.results.map((r: any) => [r.action, r.event]),
      [['approval_required', 'APPROVAL_REQUIRED'], ['blocked', 'BLAST_LIMITED']],
    );
    const s2 = first.body.results[1].incident_id;
    const receivedAt = Date.parse((await svc.get(`/api/v1/incidents/${s2}`)).body.incident.received_at);
    assert.equal(receivedAt, svc.clock.now());

    // Half an hour later s1's request is rejected, the guardrail holds, and Alertmanager repeats s2: decided again, it runs.
    svc.clock.advance(30 * 60_000);
    assert.equal((await svc.post(`/api/v1/approvals/${first.body.results[0].approval_id}/reject`, { by: 'bob', comment: 'no' })).status, 200);
    guard = 200;
    const again = await post([medium('s2')]);
    assert.deepEqual(again.body.results.map((r: any) => [r.incident_id, r.action, r.event]), [[s2, 'executed', 'EXECUTING']]);
    const execution = again.body.results[0].execution_id;
    await until('the run ended', async () => ((await svc.get(`/api/v1/executions/${execution}`)).body.state === 'succeeded' ? true : undefined));
    assert.deepEqual(runs, [[`${target.url}/undo/s2`, receivedAt]]);
    assert.equal(Date.parse((await svc.get(`/api/v1/incidents/${s2}`)).body.incident.received_at), receivedAt);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Tx } from '../../src/store/ports.js';

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
const CAPPED = (n: number) => `${n} approval requests of rollback-high are pending (--max-pending-approvals): decide those first`;
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

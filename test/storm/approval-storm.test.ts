import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { migrateSqlite } from '../../src/store/sqlite/migrate.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { startFakeEnv } from '../kubernetes/setup.js';

/**
 * A storm for a HIGH-risk runbook asks a person once per plan, not once per alert:
 * alerts asking for exactly the plan a pending request asks for join it. The request
 * stays while any of its alerts still fires, runs once when approved, and is told
 * once.
 */

const runbooks = (base: string) => `runbooks:
  rollback-deployment:
    risk: HIGH
    triggers: [ErrorRateSpike]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/deployments/{deployment}/undo"}
`;

const labels = (deployment: string) => ({ alertname: 'ErrorRateSpike', service: 'checkout', deployment, namespace: 'production' });
const alert = (n: number, deployment = 'checkout', status: 'firing' | 'resolved' = 'firing') => ({
  labels: { ...labels(deployment), pod: `checkout-${n}` },
  fingerprint: `fp-${deployment}-${n.toString(16).padStart(6, '0')}`,
  status,
});

async function auditRows(svc: TestService, event: string): Promise<any[]> {
  return (await svc.get(`/api/v1/audit?event=${event}&limit=1000`)).body.events;
}

describe('approval storms', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/deployments/checkout/undo', { status: 200 });
  });
  after(async () => target.close());

  it('60 alerts for one plan make one request, told once; each alert keeps its own decision and audit row', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      const first = await svc.post('/api/v1/webhooks/alertmanager', amWebhook(Array.from({ length: 50 }, (_, i) => alert(i))));
      assert.equal(first.status, 202);
      const ids = new Set(first.body.results.map((r: any) => r.approval_id));
      assert.equal(ids.size, 1);
      const [approvalId] = [...ids] as string[];
      assert.deepEqual(new Set(first.body.results.map((r: any) => r.action)), new Set(['approval_required']));
      assert.equal(first.body.results[0].reason, 'risk HIGH requires approval');
      assert.equal(first.body.results[1].reason, `risk HIGH requires approval; the same plan already waits for approval (${approvalId}, 2 alerts): this alert joins that request`);

      // A later body joins too.
      const later = await svc.post('/api/v1/webhooks/alertmanager', amWebhook(Array.from({ length: 10 }, (_, i) => alert(50 + i))));
      assert.deepEqual(new Set(later.body.results.map((r: any) => r.approval_id)), new Set([approvalId]));

      const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals;
      assert.equal(pending.length, 1);
      assert.equal(pending[0].id, approvalId);
      assert.equal(pending[0].alerts, 60);
      assert.equal(pending[0].alerts_open, 60);
      assert.equal(pending[0].incident_id, first.body.results[0].incident_id);

      const asked = await auditRows(svc, 'APPROVAL_REQUIRED');
      assert.equal(asked.length, 60);
      assert.equal(asked.filter((e) => e.details.joined === true).length, 59);
      assert.deepEqual(new Set(asked.map((e) => e.details.approval_id)), new Set([approvalId]));
      // Every incident points at the request.
      const view = (await svc.get(`/api/v1/incidents/${later.body.results[9].incident_id}`)).body;
      assert.equal(view.approval.id, approvalId);

      await svc.service.drainNotifications();
      const told = target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.event === 'APPROVAL_REQUIRED');
      assert.equal(told.length, 1);
      assert.equal(told[0].approval_id, approvalId);

      // Approved once: the plan runs once.
      const ok = await svc.post(`/api/v1/approvals/${approvalId}/approve?wait=true`, { by: 'alice' });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.result.action, 'executed');
      assert.equal(ok.body.alerts, 60);
      assert.equal(ok.body.alerts_open, 60, 'approving resolves no alert');
      assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);
      const [approved] = await auditRows(svc, 'APPROVED');
      assert.deepEqual([approved.details.alerts, approved.details.alerts_open], [60, 60]);

      // A request decided is joined by nobody: the next alert for the plan asks anew.
      const after = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(100)]));
      assert.notEqual(after.body.results[0].approval_id, approvalId);
      assert.equal(after.body.results[0].reason, 'risk HIGH requires approval');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('another plan (another deployment) is a request of its own', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    try {
      const r = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1), alert(2, 'checkout-canary'), alert(3), alert(4, 'checkout-canary')]));
      const [a, b, c, d] = r.body.results.map((x: any) => x.approval_id);
      assert.equal(c, a);
      assert.equal(d, b);
      assert.notEqual(a, b);
      const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals;
      assert.deepEqual(pending.map((p: any) => p.alerts), [2, 2]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a reload editing only the runbook\'s description leaves the plan: the next alert joins the pending request; an edit of what it does asks anew', async () => {
    target.reset();
    const described = (text: string) => runbooks(target.url).replace('    risk: HIGH\n', `    description: ${text}\n    risk: HIGH\n`);
    const svc = await startTestService({ runbooks: described('roll back the last deploy') });
    try {
      const first = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1), alert(2)]));
      const id = first.body.results[0].approval_id as string;
      assert.match(id, /^apr_/);
      assert.equal(first.body.results[1].approval_id, id);
      assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.alerts, 2);

      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), described('roll back the deploy that broke checkout'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: ['rollback-deployment'], reordered: false });
      const next = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(3)]));
      assert.deepEqual([next.body.results[0].action, next.body.results[0].approval_id, next.body.results[0].reason], [
        'approval_required',
        id,
        `risk HIGH requires approval; the same plan already waits for approval (${id}, 3 alerts): this alert joins that request`,
      ]);
      const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals;
      assert.deepEqual(pending.map((a: any) => [a.id, a.alerts, a.alerts_open]), [[id, 3, 3]]);

      // An edit of what the runbook does (its hourly limit) is another plan: the next alert asks anew.
      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), described('roll back the deploy that broke checkout').replace('max_per_hour: 5', 'max_per_hour: 6'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: ['rollback-deployment'], reordered: false });
      const edited = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(4)]));
      const other = edited.body.results[0].approval_id as string;
      assert.match(other, /^apr_/);
      assert.notEqual(other, id);
      assert.equal(edited.body.results[0].reason, 'risk HIGH requires approval');
      assert.deepEqual(
        (await svc.get('/api/v1/approvals?status=pending')).body.approvals.map((a: any) => [a.id, a.alerts]).sort(),
        [[id, 3], [other, 1]].sort(),
      );
      // The request made before that edit no longer runs: approving it cancels it; the new one runs, once.
      assert.equal((await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'alice' })).status, 409);
      const ok = await svc.post(`/api/v1/approvals/${other}/approve?wait=true`, { by: 'alice' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual([ok.body.result.action, ok.body.result.event], ['executed', 'SUCCESS']);
      assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a request stays while any of its alerts fires; the last resolve cancels it, once', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    try {
      const fired = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1), alert(2), alert(3)]));
      const approvalId = fired.body.results[0].approval_id as string;

      // The alert that opened the request resolves: two others still fire, so it stays.
      const r1 = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1, 'checkout', 'resolved')]));
      assert.equal(r1.body.results[0].action, 'resolved');
      assert.equal(r1.body.results[0].reason, `alert resolved; still waiting for approval for the alerts that fire on: ${approvalId} (2 other alerts)`);
      const left = (await svc.get(`/api/v1/approvals/${approvalId}`)).body;
      assert.deepEqual([left.status, left.alerts, left.alerts_open], ['pending', 3, 2]);
      // A resolve delivered again changes nothing.
      const again = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1, 'checkout', 'resolved')]));
      assert.equal(again.body.results[0].action, 'duplicate');

      const r23 = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(2, 'checkout', 'resolved'), alert(3, 'checkout', 'resolved')]));
      assert.equal(r23.body.results[0].reason, `alert resolved; still waiting for approval for the alerts that fire on: ${approvalId} (1 other alert)`);
      assert.equal(r23.body.results[1].reason, 'alert resolved; 1 pending approval(s) cancelled');
      const view = (await svc.get(`/api/v1/approvals/${approvalId}`)).body;
      assert.equal(view.status, 'cancelled');
      const cancelled = await auditRows(svc, 'CANCELLED');
      assert.equal(cancelled.length, 1);
      assert.equal(cancelled[0].details.reason, 'all 3 alerts resolved before approval');
      // Nothing to approve any more.
      assert.equal((await svc.post(`/api/v1/approvals/${approvalId}/approve`, { by: 'alice' })).status, 409);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('housekeeping keeps the incidents a pending request stands for, joined ones too', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--dedup-retention', '1h', '--approval-ttl', '3h'] });
    try {
      const r = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1), alert(2), alert(3)]));
      const [opener, joined] = r.body.results.map((x: any) => x.incident_id);
      svc.clock.advance(90 * 60_000);
      await svc.service.housekeep();
      // Past the dedup retention, but their request still waits for a person.
      assert.equal((await svc.get(`/api/v1/incidents/${opener}`)).status, 200);
      const view = await svc.get(`/api/v1/incidents/${joined}`);
      assert.equal(view.status, 200);
      assert.equal(view.body.approval.status, 'pending');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a decided request still counts its alerts not resolved: alerts_open falls only as they resolve, and pruning takes them with the request', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '10m', '--dedup-retention', '1h', '--history-retention', '2h'] });
    try {
      // One alert, approved; nothing resolved.
      const one = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1)]))).body.results[0];
      const approved = await svc.post(`/api/v1/approvals/${one.approval_id}/approve`, { by: 'alice' });
      assert.deepEqual([approved.body.status, approved.body.alerts, approved.body.alerts_open], ['approved', 1, 1]);
      // Three alerts, expired; then two of them resolve.
      const threeAsked = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(2), alert(3), alert(4)]))).body.results;
      const three = threeAsked[0].approval_id as string;
      svc.clock.advance(10 * 60_000);
      await svc.service.housekeep();
      const view = async (id: string) => {
        const a = (await svc.get(`/api/v1/approvals/${id}`)).body;
        return [a.status, a.alerts, a.alerts_open];
      };
      assert.deepEqual(await view(three), ['expired', 3, 3]);
      const resolved = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(2, 'checkout', 'resolved'), alert(3, 'checkout', 'resolved'), alert(1, 'checkout', 'resolved')]));
      assert.deepEqual(resolved.body.results.map((r: any) => [r.action, r.reason]), Array(3).fill(['resolved', 'alert resolved']));
      assert.deepEqual(await view(three), ['expired', 3, 1]);
      assert.deepEqual(await view(one.approval_id), ['approved', 1, 0]);

      // Past the dedup retention the decided request's incidents go (only a pending request keeps its own);
      // past the history retention the request goes, and with it the alert it still counted.
      const members = (): number => {
        const db = new Database(svc.dbPath, { readonly: true });
        try {
          return db.prepare('SELECT COUNT(*) FROM approval_alerts').pluck().get() as number;
        } finally {
          db.close();
        }
      };
      assert.equal(members(), 1);
      svc.clock.advance(70 * 60_000);
      await svc.service.housekeep();
      assert.equal((await svc.get(`/api/v1/incidents/${threeAsked[2].incident_id}`)).status, 404, 'the alert still open in the expired request');
      assert.deepEqual(await view(three), ['expired', 3, 1]);
      svc.clock.advance(60 * 60_000);
      await svc.service.housekeep();
      assert.equal((await svc.get(`/api/v1/approvals/${three}`)).status, 404);
      assert.equal(members(), 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('an expired request is not joined, and a manual run asks on its own', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '10m'] });
    try {
      const first = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(1)]))).body.results[0].approval_id;
      svc.clock.advance(10 * 60_000);
      const second = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(2)]))).body.results[0];
      assert.notEqual(second.approval_id, first);
      assert.equal(second.reason, 'risk HIGH requires approval');
      // A third alert joins the second request; it expires for both, told once.
      const third = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert(3)]))).body.results[0];
      assert.equal(third.approval_id, second.approval_id);
      svc.clock.advance(10 * 60_000);
      await svc.service.housekeep();
      const expired = (await auditRows(svc, 'EXPIRED')).find((e) => e.details.approval_id === second.approval_id);
      assert.equal(expired.details.reason, 'nobody approved before the deadline, asked for by 2 alerts (2 not resolved)');

      const manual = await svc.post('/api/v1/runbooks/rollback-deployment/run', { by: 'bob', service: 'checkout', params: { deployment: 'checkout', namespace: 'production' } });
      assert.equal(manual.body.action, 'approval_required');
      assert.notEqual(manual.body.approval_id, second.approval_id);
      // The alerts' requests expired; the person's run asks on its own, for no alert.
      const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals;
      assert.deepEqual(pending.map((p: any) => [p.id, p.alerts, p.alerts_open]), [[manual.body.approval_id, 0, 0]]);
      const all = (await svc.get('/api/v1/approvals?status=expired')).body.approvals;
      assert.deepEqual(all.map((p: any) => [p.id, p.alerts, p.alerts_open]).sort(), [[first, 1, 1], [second.approval_id, 2, 2]].sort(), 'expiring resolves no alert');
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('approval storms: the bundled rollback-deployment (named checks), against the Kubernetes API fake', () => {
  it('alerts for one deployment from many pods make one request; another deployment asks on its own', async () => {
    const env = await startFakeEnv();
    env.fake.addDeployment('production', 'checkout', 3);
    env.fake.addDeployment('production', 'payments', 3);
    const svc = await startTestService({
      runbooks: { 'rollback-deployment.yaml': readFileSync(new URL('../../runbooks/rollback-deployment.yaml', import.meta.url), 'utf8') },
      // Prometheus is not asked before an approval; the post-check only needs it configured.
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig, '--prometheus-url', 'http://127.0.0.1:9'],
    });
    try {
      // kube-prometheus's alert, once per pod and instance: labels a named check does not read.
      const stuck = (deployment: string, n: number) => ({
        labels: { alertname: 'KubeDeploymentRolloutStuck', namespace: 'production', deployment, service: deployment, pod: `kube-state-metrics-${n}`, instance: `10.0.0.${n}:8080` },
        fingerprint: `stuck-${deployment}-${n}`,
      });
      const r = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([...Array.from({ length: 20 }, (_, n) => stuck('checkout', n)), stuck('payments', 99)]));
      assert.equal(r.status, 202);
      assert.deepEqual(new Set(r.body.results.map((x: any) => x.action)), new Set(['approval_required']));
      const ids = r.body.results.map((x: any) => x.approval_id);
      assert.equal(new Set(ids.slice(0, 20)).size, 1);
      assert.notEqual(ids[20], ids[0]);
      const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals;
      assert.deepEqual(pending.map((p: any) => [p.service, p.alerts, p.alerts_open]).sort(), [
        ['checkout', 20, 20],
        ['payments', 1, 1],
      ]);
    } finally {
      await svc.stop({ remove: true });
      await env.fake.close();
    }
  });
});

describe('approval storms: an upgraded database', () => {
  it("requests pending before the upgrade are still found by their alert's resolve", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-upgrade-'));
    try {
      // A database as the release before wrote it (migrations up to 003), with a request pending.
      const old = join(dir, 'migrations');
      mkdirSync(old);
      for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < '004')) copyFileSync(join(MIGRATIONS_DIR, f), join(old, f));
      const path = join(dir, 'db.sqlite');
      const raw = new Database(path);
      migrateSqlite(raw, old);
      raw
        .prepare(
          `INSERT INTO approvals (id, incident_id, alert_key, runbook, service, status, reason, plan, requested_at, requested_by, expires_at)
           VALUES ('apr_old', 'inc_old', 'am:old', 'rollback-deployment', 'checkout', 'pending', 'risk HIGH requires approval', '{"actions":[]}', 1, 'rectify', 9000000000000)`,
        )
        .run();
      raw.close();

      const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR });
      try {
        const found = store.read((tx) => tx.pendingApprovalsForAlert('am:old'));
        assert.deepEqual(found.map((a) => [a.id, a.alerts, a.alerts_open, a.plan_key]), [['apr_old', 1, 1, null]]);
        assert.equal(await store.transact((tx) => tx.leaveApproval('apr_old', 'am:old')), 0);
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { approvalPlanKey, earlierApprovalPlanKey } from '../../src/engine/apply.js';
import type { ExecutionPlan } from '../../src/pipeline/index.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService } from '../helpers/service.js';

/**
 * A runbook's digests (Runbook.version, planVersion) are of what it means, not of how it
 * is written: keys in another order, a value spelt another way that loads the same, an
 * alias, are no change, so a reload of such an edit cancels no pending approval request.
 * A request recorded before the digests were canonical is judged by the digest of the
 * runbook as written, as rectify took it then: an upgrade alone cancels nothing.
 */

const written = (base: string) => `runbooks:
  fix-high:
    description: roll back the last deploy
    owner: platform-team
    risk: HIGH
    triggers: [HighThing]
    max_per_hour: 5
    cooldown_minutes: 0
    actions:
      - http: {method: POST, url: "${base}/undo/{deployment}"}
      - http: {method: POST, url: "${base}/flush/{deployment}"}
`;

/** The same runbook: its keys in another order (a formatter sorting them), `risk` lower case, max_per_hour by its alias, a default written out. */
const rewritten = (base: string) => `runbooks:
  fix-high:
    actions:
      - http: {url: "${base}/undo/{deployment}", method: POST}
      - http: {method: POST, url: "${base}/flush/{deployment}"}
    cooldown_minutes: 0
    description: roll back the last deploy
    max_executions_per_hour: 5
    mode: auto
    owner: platform-team
    risk: high
    triggers: [HighThing]
`;

const alert = (pod: string) => ({ labels: { alertname: 'HighThing', service: 'shop', deployment: 'shop', namespace: 'prod', pod }, fingerprint: `fp-${pod}` });

/** The digest a rectify from before took: of the map as written, in its key order. */
const oldDigest = (m: Record<string, unknown>) => createHash('sha256').update(JSON.stringify(m)).digest('hex').slice(0, 16);
const DESCRIPTIVE = new Set(['name', 'description', 'verification', 'last_updated', 'success_rate']);

describe('runbook digests are of what a runbook means', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/undo/shop', { status: 200 });
    target.route('POST', '/flush/shop', { status: 200 });
  });
  after(async () => target.close());

  it('keys in another order, risk: high for HIGH, an alias, a default written out: the same digests; step order, a step, the owner: other ones', () => {
    const load = (text: string) => {
      const { runbooks, problems } = parseRunbooksText(text, 'r.yaml');
      assert.deepEqual(problems, []);
      return runbooks[0]!;
    };
    const a = load(written(target.url));
    const b = load(rewritten(target.url));
    assert.deepEqual([b.version, b.planVersion], [a.version, a.planVersion]);
    assert.notDeepEqual(a.asWritten, b.asWritten, 'as written, they differ');
    // Step order is meaning.
    const swapped = load(written(target.url).replace(/( {6}- http: .*undo.*\n)( {6}- http: .*flush.*\n)/, '$2$1'));
    assert.notEqual(swapped.planVersion, a.planVersion);
    assert.notEqual(load(written(target.url).replace('/flush/', '/purge/')).planVersion, a.planVersion);
    assert.notEqual(load(written(target.url).replace('platform-team', 'db-team')).planVersion, a.planVersion);
    // A description is no change of plan, but a change of the runbook.
    const described = load(written(target.url).replace('roll back the last deploy', 'roll back the deploy'));
    assert.equal(described.planVersion, a.planVersion);
    assert.notEqual(described.version, a.version);
  });

  it('a reload of the runbook rewritten so (no change in meaning) is no change: its pending request is approved and runs', async () => {
    const svc = await startTestService({ runbooks: written(target.url) });
    try {
      const asked = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('p1')]));
      const id = asked.body.results[0].approval_id as string;
      assert.match(id, /^apr_/);
      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), rewritten(target.url));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: [], reordered: false });
      const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'carol' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual([ok.body.status, ok.body.result.action, ok.body.result.event], ['approved', 'executed', 'SUCCESS']);
      assert.equal((await svc.get('/api/v1/audit?event=CANCELLED')).body.events.length, 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a request recorded by a rectify from before (the digests of the runbook as written) stands after the upgrade: an alert for its plan joins it, and approving it runs it', async () => {
    const first = await startTestService({ runbooks: written(target.url) });
    const id = (await first.post('/api/v1/webhooks/alertmanager', amWebhook([alert('p1')]))).body.results[0].approval_id as string;
    await first.stop();
    // What the rectify from before recorded: its digests of the map as written, and the plan key made with it.
    const raw = parseRunbooksText(written(target.url), 'r.yaml').runbooks[0]!.raw;
    const version = oldDigest(raw);
    const planVersion = oldDigest(Object.fromEntries(Object.entries(raw).filter(([k]) => !DESCRIPTIVE.has(k))));
    const db = new Database(first.dbPath);
    const row = db.prepare('SELECT plan, plan_key FROM approvals WHERE id = ?').get(id) as { plan: string; plan_key: string };
    const stored = JSON.parse(row.plan) as ExecutionPlan;
    // The plan as rendered, before its JSON lost the body left out (keyed as rendered: see approvalPlanKey).
    const rendered: ExecutionPlan = {
      ...stored,
      actions: stored.actions.map((step) => {
        const { expectStatus, timeoutMs, ...spec } = step.spec as Record<string, unknown>;
        return { ...step, spec: { ...spec, body: undefined, expectStatus, timeoutMs } };
      }),
    };
    assert.equal(approvalPlanKey('fix-high', 'shop', rendered), row.plan_key, 'the plan keyed as it was when the request was made');
    assert.notEqual(planVersion, stored.runbookPlanVersion, 'the digests changed with the upgrade');
    // Keyed as the rectify from before keyed it: with the runbook's whole version.
    const key = earlierApprovalPlanKey('fix-high', 'shop', { ...rendered, runbookVersion: version });
    const plan = { ...stored, runbookVersion: version, runbookPlanVersion: planVersion };
    assert.equal(db.prepare('UPDATE approvals SET plan = ?, plan_key = ? WHERE id = ?').run(JSON.stringify(plan), key, id).changes, 1);
    db.close();

    const svc = await startTestService({ dir: first.dir, clock: first.clock });
    try {
      const joined = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('p2')]));
      assert.equal(joined.body.results[0].approval_id, id, 'the alert joins the request made before the upgrade');
      assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.alerts, 2);
      const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'carol' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual([ok.body.status, ok.body.result.action, ok.body.result.event], ['approved', 'executed', 'SUCCESS']);
      assert.equal((await svc.get('/api/v1/audit?event=CANCELLED')).body.events.length, 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a request recorded by the release keying requests with the runbook\'s whole version is joined by an alert after the upgrade', async () => {
    const first = await startTestService({ runbooks: written(target.url) });
    const id = (await first.post('/api/v1/webhooks/alertmanager', amWebhook([alert('p1')]))).body.results[0].approval_id as string;
    await first.stop();
    const db = new Database(first.dbPath);
    const row = db.prepare('SELECT plan, plan_key FROM approvals WHERE id = ?').get(id) as { plan: string; plan_key: string };
    const stored = JSON.parse(row.plan) as ExecutionPlan;
    const rendered: ExecutionPlan = {
      ...stored,
      actions: stored.actions.map((step) => {
        const { expectStatus, timeoutMs, ...spec } = step.spec as Record<string, unknown>;
        return { ...step, spec: { ...spec, body: undefined, expectStatus, timeoutMs } };
      }),
    };
    assert.equal(approvalPlanKey('fix-high', 'shop', rendered), row.plan_key);
    const key = earlierApprovalPlanKey('fix-high', 'shop', rendered);
    assert.notEqual(key, row.plan_key);
    assert.equal(db.prepare('UPDATE approvals SET plan_key = ? WHERE id = ?').run(key, id).changes, 1);
    db.close();

    const svc = await startTestService({ dir: first.dir, clock: first.clock });
    try {
      const joined = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('p2')]));
      assert.equal(joined.body.results[0].approval_id, id, 'the alert joins the request made before the upgrade');
      assert.deepEqual((await svc.get('/api/v1/approvals?status=pending')).body.approvals.map((a: { id: string; alerts: number }) => [a.id, a.alerts]), [[id, 2]]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a request recorded by a rectify from before is still cancelled by an edit of what its runbook runs', async () => {
    const first = await startTestService({ runbooks: written(target.url) });
    const id = (await first.post('/api/v1/webhooks/alertmanager', amWebhook([alert('p1')]))).body.results[0].approval_id as string;
    await first.stop();
    const raw = parseRunbooksText(written(target.url), 'r.yaml').runbooks[0]!.raw;
    const planVersion = oldDigest(Object.fromEntries(Object.entries(raw).filter(([k]) => !DESCRIPTIVE.has(k))));
    const db = new Database(first.dbPath);
    assert.equal(db.prepare("UPDATE approvals SET plan = json_set(plan, '$.runbookVersion', ?, '$.runbookPlanVersion', ?) WHERE id = ?").run(oldDigest(raw), planVersion, id).changes, 1);
    db.close();
    writeFileSync(join(first.runbooksDir, 'runbooks.yaml'), written(target.url).replace('/flush/', '/purge/'));
    const svc = await startTestService({ dir: first.dir, clock: first.clock });
    try {
      const tried = await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'carol' });
      assert.equal(tried.status, 409);
      assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.comment, 'runbook fix-high changed since this request was made');
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

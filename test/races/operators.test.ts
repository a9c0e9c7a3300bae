import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { countRows, postJson } from '../storm/helpers.js';

/**
 * Operators and alerts racing one another on one running service: real HTTP requests
 * sent at once (Promise.all), a real SQLite file. Whichever wins, the outcome is
 * whole: one execution at most where one is allowed, the audit rows of exactly what
 * happened, and the loser told why.
 */
const runbook = (target: string, o: { risk?: string; extra?: string; maxPerHour?: number; cooldown?: number; blast?: number } = {}) => `runbooks:
  undo:
    risk: ${o.risk ?? 'HIGH'}
    triggers: [Spike]
    min_confidence: 0.5
    max_per_hour: ${o.maxPerHour ?? 1}
    cooldown_minutes: ${o.cooldown ?? 30}
    blast_radius_limit: ${o.blast ?? 1}
${o.extra ?? ''}    action:
      http: {method: POST, url: "${target}/undo/{service}"}
`;

async function up(runbooks: string, args: string[] = []): Promise<{ svc: TestService; base: string }> {
  const svc = await startTestService({ runbooks, args: ['--listen', '127.0.0.1:0', ...args] });
  const addr = await svc.service.listen();
  return { svc, base: addr.startsWith('http') ? addr : `http://${addr}` };
}

/** Until no execution is running (the runs started by the answers end). */
async function settled(svc: TestService): Promise<void> {
  while (countRows(svc.dbPath, `SELECT count(*) n FROM executions WHERE state = 'running'`) > 0) await new Promise((r) => setTimeout(r, 20));
}

/** The audit events, oldest first, without the steps. */
function events(svc: TestService): string[] {
  const db = new Database(svc.dbPath, { readonly: true });
  try {
    return (db.prepare(`SELECT event FROM audit WHERE event NOT IN ('STEP_STARTED', 'STEP_FINISHED') ORDER BY seq`).all() as Array<{ event: string }>).map((r) => r.event);
  } finally {
    db.close();
  }
}
const executions = (svc: TestService) => countRows(svc.dbPath, 'SELECT count(*) n FROM executions');

describe('races: operators and alerts at once', { timeout: 120_000 }, () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());
  const fresh = (delayMs = 0) => {
    target.reset();
    for (const s of ['checkout', 's0', 's1', 's2', 'a0', 'a1', 'a2', 'a3']) target.route('POST', `/undo/${s}`, { status: 200, delayMs });
  };
  const calls = (service = 'checkout') => target.calls(`/undo/${service}`, 'POST');

  it('three approvers at once (approvals_required 1): one approval runs the plan once, the others are 409 naming who approved', async () => {
    fresh();
    const { svc, base } = await up(runbook(target.url));
    const asked = await postJson(`${base}/api/v1/incidents`, { id: 'I1', root_cause: 'Spike', service: 'checkout' });
    const id = asked.body.approval_id as string;
    const answers = await Promise.all(['alice', 'bob', 'carol'].map((by) => postJson(`${base}/api/v1/approvals/${id}/approve`, { by })));
    await settled(svc);
    const won = answers.filter((a) => a.status === 200);
    assert.equal(won.length, 1);
    const winner = won[0]!.body.decided_by as string;
    assert.deepEqual(
      answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body.error.message]),
      [0, 1].map(() => [409, `approval request ${id} is already approved by ${winner}`]),
    );
    assert.deepEqual(events(svc), ['APPROVAL_REQUIRED', 'APPROVED', 'EXECUTING', 'SUCCESS']);
    assert.equal(executions(svc), 1);
    assert.equal(calls(), 1);
    await svc.stop({ remove: true });
  });

  it('three approvers at once (approvals_required 2): a vote, the approval that runs, and a 409', async () => {
    fresh();
    const { svc, base } = await up(runbook(target.url, { extra: '    approvals_required: 2\n' }));
    const asked = await postJson(`${base}/api/v1/incidents`, { id: 'I1', root_cause: 'Spike', service: 'checkout' });
    const id = asked.body.approval_id as string;
    const answers = await Promise.all(['alice', 'bob', 'carol'].map((by) => postJson(`${base}/api/v1/approvals/${id}/approve`, { by })));
    await settled(svc);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 202, 409]);
    assert.equal(answers.find((a) => a.status === 202)!.body.status, 'pending');
    const approvedBy = answers.find((a) => a.status === 200)!.body.decided_by as string;
    assert.match(answers.find((a) => a.status === 409)!.body.error.message, new RegExp(`^approval request ${id} is already approved by ${approvedBy}$`));
    assert.deepEqual(events(svc), ['APPROVAL_REQUIRED', 'APPROVAL_VOTE', 'APPROVED', 'EXECUTING', 'SUCCESS']);
    assert.equal(calls(), 1);

    // The same person three times at once: one vote, two 409s, nothing runs.
    const again = await postJson(`${base}/api/v1/incidents`, { id: 'I2', root_cause: 'Spike', service: 'cart' });
    const twice = await Promise.all([1, 2, 3].map(() => postJson(`${base}/api/v1/approvals/${again.body.approval_id}/approve`, { by: 'alice' })));
    assert.deepEqual(twice.map((a) => a.status).sort(), [202, 409, 409]);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'APPROVAL_VOTE' AND incident_id = 'I2'`), 1);
    assert.equal(executions(svc), 1);
    await svc.stop({ remove: true });
  });

  it('approve and reject at once, ten times: each request is approved and run once, or rejected with nothing run', async () => {
    fresh();
    const { svc, base } = await up(runbook(target.url, { maxPerHour: 100, cooldown: 0, blast: 100 }));
    let approved = 0;
    for (let i = 0; i < 10; i++) {
      const asked = await postJson(`${base}/api/v1/incidents`, { id: `I${i}`, root_cause: 'Spike', service: 'checkout' });
      const id = asked.body.approval_id as string;
      const [a, r] = await Promise.all([postJson(`${base}/api/v1/approvals/${id}/approve`, { by: 'alice' }), postJson(`${base}/api/v1/approvals/${id}/reject`, { by: 'bob' })]);
      assert.deepEqual([a.status, r.status].sort(), [200, 409]);
      if (a.status === 200) {
        approved++;
        assert.equal(r.body.error.message, `approval request ${id} is already approved by alice`);
      } else assert.equal(a.body.error.message, `approval request ${id} is already rejected by bob`);
    }
    await settled(svc);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'APPROVED'`), approved);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'REJECTED'`), 10 - approved);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'EXECUTING'`), approved);
    assert.equal(executions(svc), approved);
    assert.equal(calls(), approved);
    await svc.stop({ remove: true });
  });

  it('approve at once with the resolve of its alert: it runs (the resolve cancels nothing) or it is cancelled (the approval is a 409), never both', async () => {
    for (let i = 0; i < 6; i++) {
      fresh();
      const { svc, base } = await up(runbook(target.url));
      const alert = { labels: { alertname: 'Spike', service: 'checkout' }, fingerprint: 'fpA' };
      const fired = await postJson(`${base}/api/v1/webhooks/alertmanager`, amWebhook([alert]));
      const id = fired.body.results[0].approval_id as string;
      const resolve = postJson(`${base}/api/v1/webhooks/alertmanager`, amWebhook([{ ...alert, status: 'resolved' }]));
      const approve = postJson(`${base}/api/v1/approvals/${id}/approve`, { by: 'alice' });
      const [r, a] = i % 2 ? await Promise.all([resolve, approve]) : (await Promise.all([approve, resolve])).reverse();
      await settled(svc);
      if (a!.status === 200) {
        assert.equal(r!.body.results[0].reason, 'alert resolved');
        assert.deepEqual(events(svc).sort(), ['APPROVAL_REQUIRED', 'APPROVED', 'EXECUTING', 'RESOLVED', 'SUCCESS']);
        assert.equal(calls(), 1);
      } else {
        assert.equal(a!.status, 409);
        assert.equal(r!.body.results[0].reason, 'alert resolved; 1 pending approval(s) cancelled');
        assert.deepEqual(events(svc), ['APPROVAL_REQUIRED', 'CANCELLED', 'RESOLVED']);
        assert.equal(calls(), 0);
      }
      await svc.stop({ remove: true });
    }
  });

  it('approve at once with its expiry (housekeeping at the deadline): expired, the approval a 409, nothing run', async () => {
    fresh();
    const { svc, base } = await up(runbook(target.url));
    const asked = await postJson(`${base}/api/v1/incidents`, { id: 'I1', root_cause: 'Spike', service: 'checkout' });
    const id = asked.body.approval_id as string;
    svc.clock.advance(60 * 60_000);
    const [a] = await Promise.all([postJson(`${base}/api/v1/approvals/${id}/approve`, { by: 'alice' }), svc.service.housekeep()]);
    assert.equal(a.status, 409);
    assert.match(a.body.error.message, new RegExp(`^approval request ${id} (expired at 2026-11-24T04:00:00.000Z; trigger a new run if the fix is still needed|is already expired by rectify)$`));
    assert.deepEqual(events(svc), ['APPROVAL_REQUIRED', 'EXPIRED']);
    assert.equal(executions(svc), 0);
    await svc.stop({ remove: true });
  });

  it('approve at once with a reload that changes the runbook: the plan shown runs, or the request is cancelled; the new plan never runs unasked', async () => {
    for (let i = 0; i < 4; i++) {
      fresh();
      target.route('POST', '/undo2/checkout', { status: 200 });
      const { svc, base } = await up(runbook(target.url));
      const asked = await postJson(`${base}/api/v1/incidents`, { id: 'I1', root_cause: 'Spike', service: 'checkout' });
      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbook(target.url).replace('/undo/{service}', '/undo2/{service}'));
      const approve = postJson(`${base}/api/v1/approvals/${asked.body.approval_id}/approve`, { by: 'alice' });
      const [a, reload] = i % 2 ? await Promise.all([approve, svc.service.reload()]) : ((await Promise.all([svc.service.reload(), approve])).reverse() as [Awaited<typeof approve>, Awaited<ReturnType<typeof svc.service.reload>>]);
      assert.deepEqual(reload.runbooks, { ok: true, count: 1, added: [], removed: [], changed: ['undo'], reordered: false });
      await settled(svc);
      if (a.status === 200) {
        assert.deepEqual(events(svc).filter((e) => e !== 'RUNBOOKS_RELOADED'), ['APPROVAL_REQUIRED', 'APPROVED', 'EXECUTING', 'SUCCESS']);
        assert.equal(calls(), 1);
      } else {
        assert.equal(a.status, 409);
        assert.deepEqual(events(svc).filter((e) => e !== 'RUNBOOKS_RELOADED'), ['APPROVAL_REQUIRED', 'CANCELLED']);
        assert.equal(calls(), 0);
      }
      assert.equal(target.calls('/undo2/checkout', 'POST'), 0);
      await svc.stop({ remove: true });
    }
  });

  it('eight manual runs of one runbook and service at once (max_per_hour 1): one runs, seven are RATE_LIMITED', async () => {
    fresh();
    const { svc, base } = await up(runbook(target.url, { risk: 'LOW' }));
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => postJson(`${base}/api/v1/runbooks/undo/run`, { by: `u${i}`, service: 'checkout', params: {} })));
    await settled(svc);
    assert.deepEqual(answers.map((a) => `${a.status} ${a.body.action} ${a.body.event}`).sort(), ['202 blocked RATE_LIMITED', ...Array(6).fill('202 blocked RATE_LIMITED'), '202 executed EXECUTING'].sort());
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'MANUAL_RUN'`), 8);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'RATE_LIMITED'`), 7);
    assert.equal(executions(svc), 1);
    assert.equal(calls(), 1);
    await svc.stop({ remove: true });
  });

  it('six manual runs for three services at once (blast_radius_limit 1, cooldown): one runs, the rest are blocked', async () => {
    fresh(200);
    const { svc, base } = await up(runbook(target.url, { risk: 'LOW', maxPerHour: 100, cooldown: 5 }));
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => postJson(`${base}/api/v1/runbooks/undo/run`, { by: `u${i}`, service: `s${i % 3}`, params: {} })));
    await settled(svc);
    assert.equal(answers.filter((a) => a.body.action === 'executed').length, 1);
    assert.equal(answers.filter((a) => a.body.action === 'blocked').length, 5);
    assert.equal(executions(svc), 1);
    assert.equal(calls('s0') + calls('s1') + calls('s2'), 1);
    await svc.stop({ remove: true });
  });

  it('the same alert from four Alertmanager replicas at once: one decision, three duplicates', async () => {
    fresh();
    const { svc, base } = await up(runbook(target.url, { risk: 'LOW' }));
    const body = amWebhook([{ labels: { alertname: 'Spike', service: 'checkout' }, fingerprint: 'fpA' }]);
    const answers = await Promise.all([1, 2, 3, 4].map(() => postJson(`${base}/api/v1/webhooks/alertmanager`, body)));
    await settled(svc);
    assert.deepEqual(answers.map((a) => a.body.results[0].action).sort(), ['duplicate', 'duplicate', 'duplicate', 'executed']);
    assert.deepEqual(events(svc).sort(), ['DUPLICATE', 'DUPLICATE', 'DUPLICATE', 'EXECUTING', 'SUCCESS']);
    assert.equal(calls(), 1);
    await svc.stop({ remove: true });
  });

  it('the breaker half-open: four manual runs and four alerts at once after the recovery wait give one trial run', async () => {
    fresh(100);
    target.route('POST', '/undo/checkout', { status: 500 });
    const { svc, base } = await up(runbook(target.url, { risk: 'LOW', maxPerHour: 100, cooldown: 0, blast: 100 }), ['--circuit-failure-threshold', '1', '--max-concurrent-executions', '100']);
    const tripped = await postJson(`${base}/api/v1/runbooks/undo/run?wait=true`, { by: 'x', service: 'checkout', params: {} });
    assert.equal(tripped.body.event, 'FAILED');
    svc.clock.advance(5 * 60_000);
    const answers = await Promise.all([
      ...[0, 1, 2].map((i) => postJson(`${base}/api/v1/runbooks/undo/run`, { by: `u${i}`, service: `s${i}`, params: {} })),
      ...[0, 1, 2, 3].map((i) => postJson(`${base}/api/v1/webhooks/alertmanager`, amWebhook([{ labels: { alertname: 'Spike', service: `a${i}` }, fingerprint: `f${i}` }]))),
    ]);
    await settled(svc);
    const results = answers.map((a) => a.body.results?.[0] ?? a.body);
    assert.equal(results.filter((r) => r.action === 'executed').length, 1);
    assert.equal(results.filter((r) => r.event === 'CIRCUIT_OPEN').length, 6);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'CIRCUIT_HALF_OPEN'`), 1);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'CIRCUIT_CLOSED'`), 1);
    assert.equal(executions(svc), 2);
    await svc.stop({ remove: true });
  });

  for (const scope of ['pause', 'runbooks/undo/pause']) {
    it(`POST /api/v1/${scope} in a storm of 80 alerts: no alert decided after the pause runs, none before it is PAUSED`, async () => {
      fresh();
      for (let i = 0; i < 80; i++) target.route('POST', `/undo/t${i}`, { status: 200 });
      const { svc, base } = await up(runbook(target.url, { risk: 'LOW', maxPerHour: 1000, cooldown: 0, blast: 1000 }), ['--max-concurrent-executions', '1000']);
      const storm = (from: number) => Array.from({ length: 40 }, (_, i) => postJson(`${base}/api/v1/webhooks/alertmanager`, amWebhook([{ labels: { alertname: 'Spike', service: `t${from + i}` }, fingerprint: `f${from + i}` }])));
      const answers = await Promise.all([...storm(0), postJson(`${base}/api/v1/${scope}`, { by: 'op' }), ...storm(40)]);
      await settled(svc);
      assert.deepEqual([...new Set(answers.map((a) => a.status))].sort(), [200, 202]);
      const pausedAt = countRows(svc.dbPath, `SELECT seq n FROM audit WHERE event IN ('SERVICE_PAUSED', 'RUNBOOK_PAUSED')`);
      assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'EXECUTING' AND seq > ?`, pausedAt), 0);
      assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'PAUSED' AND seq < ?`, pausedAt), 0);
      const ran = countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'EXECUTING'`);
      assert.equal(ran + countRows(svc.dbPath, `SELECT count(*) n FROM audit WHERE event = 'PAUSED'`), 80);
      assert.equal(executions(svc), ran);
      await svc.stop({ remove: true });
    });
  }
});

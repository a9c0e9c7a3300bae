import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type RecordedRequest } from '../helpers/http-target.js';
import { receiversOf, useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * What startup recovery owes the people after a kill -9 (real processes) or a stop:
 * approval requests whose notification never got out are told again.
 */

const HOLD = { status: 200, delayMs: 120_000 };

const asked = (base: string) => `runbooks:
  ask:
    risk: HIGH
    owner: db-team
    triggers: [scary]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${base}/act/{service}"}
    rollback:
      http: {method: POST, url: "${base}/undo/{service}"}
`;

const RESENT = ' (sent again after a restart: no delivery of this request was recorded before rectify stopped)';

describe('approval requests whose notification was lost are told again at startup', () => {
  const rig = useRectifyProcesses('rectify-crash-notify-', asked);
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`]);
  const body = (r: RecordedRequest) => r.json() as Record<string, any>;
  const hookFor = (approvalId: string, since = 0) => rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => body(r).approval_id === approvalId });
  const notified = async (p: RectifyProcess, incidentId: string) =>
    (await p.get(`/api/v1/audit?incident_id=${incidentId}&event=NOTIFIED`)).body.events.filter((e: any) => e.details.about === 'APPROVAL_REQUIRED');
  const ask = async (p: RectifyProcess, id: string, service: string): Promise<string> => {
    const r = await p.post('/api/v1/incidents', { id, root_cause: 'scary', service, confidence: 1 });
    assert.equal(r.body.action, 'approval_required');
    return r.body.approval_id as string;
  };

  it('kill -9 with a request still queued: told once more after the restart, as first told (its notification_id and Idempotency-Key too) and marked; a delivered one is not', async () => {
    rig.target.route('POST', '/hook', { status: 204 });
    let proc = await start();
    // Delivered and recorded before the crash: not told again.
    const delivered = await ask(proc, 'A1', 'shop');
    await hookFor(delivered);
    await until('A1 NOTIFIED', async () => ((await notified(proc!, 'A1')).length === 1 ? true : undefined));

    // The receiver holds the next request: it is in flight (in memory only) when rectify dies.
    rig.target.route('POST', '/hook', HOLD);
    const lost = await ask(proc, 'B1', 'db');
    const firstRequest = await hookFor(lost);
    const first = body(firstRequest);
    await proc.kill9();

    rig.target.route('POST', '/hook', { status: 204 });
    const since = Date.now();
    proc = await start();
    // A new request after startup: the queue sends approval requests in order, so anything
    // recovery told comes before it.
    const barrier = await ask(proc, 'C1', 'web');
    await hookFor(barrier, since);
    const toldRequests = rig.target.requests('/hook').filter((r) => r.at >= since);
    const told = toldRequests.map(body);
    assert.deepEqual(told.map((t) => [t.event, t.approval_id]), [
      ['APPROVAL_REQUIRED', lost],
      ['APPROVAL_REQUIRED', barrier],
    ]);
    const again = told[0]!;
    assert.deepEqual(
      [again.incident_id, again.runbook, again.service, again.outcome, again.owner, again.execution_id],
      ['B1', 'ask', 'db', 'approval_required', 'db-team', null],
    );
    assert.deepEqual(again.plan, { actions: [`POST ${rig.target.url}/act/db`], rollback: [`POST ${rig.target.url}/undo/db`] });
    assert.deepEqual(again.plan, first.plan, 'the plan the first notification showed');
    assert.equal(again.reason, `${first.reason}${RESENT}`);
    assert.equal(first.reason, 'risk HIGH requires approval');
    // The receiver may have had the first telling (rectify died before recording it): the
    // same id and Idempotency-Key let it drop the repeat.
    assert.equal(again.notification_id, `ntf_${lost}`);
    assert.equal(first.notification_id, `ntf_${lost}`);
    assert.equal(toldRequests[0]!.headers['idempotency-key'], firstRequest.headers['idempotency-key']);
    assert.equal(firstRequest.headers['idempotency-key'], `ntf_${lost}`);
    assert.notEqual(told[1]!.notification_id, again.notification_id, 'another request, another notification');
    assert.equal((await proc.get(`/api/v1/approvals/${lost}`)).body.status, 'pending');
    await until('B1 and C1 NOTIFIED', async () => ((await notified(proc!, 'B1')).length === 1 && (await notified(proc!, 'C1')).length === 1 ? true : undefined));

    // Once delivered and recorded, a further restart tells nobody again.
    await proc.kill9();
    const since2 = Date.now();
    proc = await start();
    const last = await ask(proc, 'D1', 'cache');
    await hookFor(last, since2);
    assert.deepEqual(rig.target.requests('/hook').filter((r) => r.at >= since2).map((r) => body(r).approval_id), [last]);
    for (const id of ['A1', 'B1', 'C1']) assert.equal((await notified(proc, id)).length, 1, `${id}: one delivery recorded`);
    const v = await proc.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
    await proc.stop();
  });

  it('kill -9 with a request delivered to one receiver and in flight to the other: told again to the one that lacks it alone, with the same notification_id', async () => {
    rig.target.reset();
    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/slack', HOLD);
    const startTwo = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`, '--slack-webhook-url', `${rig.target.url}/slack`], join(rig.dir, 'two-receivers.db'));
    let proc = await startTwo();
    const [hook, slack] = receiversOf(proc);
    const id = await ask(proc, 'T1', 'db');
    await rig.target.waitForRequest('/slack', { timeoutMs: 20_000 });
    await until('T1 NOTIFIED to the webhook', async () => ((await notified(proc!, 'T1')).length === 1 ? true : undefined));
    assert.deepEqual((await notified(proc, 'T1')).map((e: any) => [e.details.notifier, e.details.notification_id]), [[hook, `ntf_${id}`]]);
    await proc.kill9();

    rig.target.route('POST', '/slack', { status: 200 });
    const since = Date.now();
    proc = await startTwo();
    await until('T1 NOTIFIED to Slack', async () => ((await notified(proc!, 'T1')).length === 2 ? true : undefined));
    assert.equal(rig.target.requests('/hook').filter((r) => r.at >= since).length, 0, 'the webhook had it: not told again');
    const again = rig.target.requests('/slack').filter((r) => r.at >= since);
    assert.equal(again.length, 1);
    assert.ok(String(body(again[0]!).text).includes('sent again after a restart'));
    assert.deepEqual(
      (await notified(proc, 'T1')).map((e: any) => [e.details.notifier, e.details.notification_id]).sort(),
      [
        [hook, `ntf_${id}`],
        [slack, `ntf_${id}`],
      ].sort(),
    );
    await proc.stop();
  });

  it('a stop with requests in flight (cut off) and queued (not sent: rectify shut down first): each told again at the next start', async () => {
    rig.target.reset();
    rig.target.route('POST', '/hook', HOLD);
    let svc = await startTestService({ runbooks: asked(rig.target.url), args: ['--notify-webhook', `${rig.target.url}/hook`] });
    const inFlight = (await svc.post('/api/v1/incidents', { id: 'S1', root_cause: 'scary', service: 'shop', confidence: 1 })).body.approval_id as string;
    await hookFor(inFlight);
    const queued = (await svc.post('/api/v1/incidents', { id: 'S2', root_cause: 'scary', service: 'web', confidence: 1 })).body.approval_id as string;
    rig.target.route('POST', '/hook', { status: 204 });
    svc = await svc.restart();
    await svc.service.drainNotifications();
    const told = rig.target.requests('/hook').map(body);
    assert.deepEqual(told.map((t) => [t.event, t.approval_id, t.reason, t.notification_id]), [
      ['APPROVAL_REQUIRED', inFlight, 'risk HIGH requires approval', `ntf_${inFlight}`],
      ['APPROVAL_REQUIRED', inFlight, `risk HIGH requires approval${RESENT}`, `ntf_${inFlight}`],
      ['APPROVAL_REQUIRED', queued, `risk HIGH requires approval${RESENT}`, `ntf_${queued}`],
    ]);
    const rows = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events.concat((await svc.get('/api/v1/audit?event=NOTIFY_FAILED')).body.events);
    assert.deepEqual(
      rows.map((e: any) => [e.incident_id, e.event, e.details.about, e.details.detail]).sort(),
      [
        ['S1', 'NOTIFIED', 'APPROVAL_REQUIRED', 'delivered'],
        ['S1', 'NOTIFY_FAILED', 'APPROVAL_REQUIRED', 'cut off: rectify shut down during delivery'],
        ['S2', 'NOTIFIED', 'APPROVAL_REQUIRED', 'delivered'],
        ['S2', 'NOTIFY_FAILED', 'APPROVAL_REQUIRED', 'not sent: rectify shut down first'],
      ],
    );
    await svc.stop({ remove: true });
  });
});

const rollingBack = (base: string) =>
  runbooksFile(
    httpRunbook('fix', {
      trigger: 'broken',
      url: `${base}/act/{service}`,
      more: `    rollback:
      http: {method: POST, url: "${base}/undo/{service}", timeout_seconds: 60}
`,
    }),
  );

describe('a run killed during its rollback counts against the breaker, as a stop there does', () => {
  const rig = useRectifyProcesses('rectify-crash-breaker-', rollingBack);
  let proc: RectifyProcess | undefined;
  before(() => rig.target.route('POST', '/hook', { status: 204 }));

  const start = () => rig.start(['--circuit-failure-threshold', '2', '--notify-webhook', `${rig.target.url}/hook`]);
  const told = (since: number) => rig.target.requests('/hook').filter((r) => r.at >= since).map((r) => r.json() as Record<string, any>);
  /** A run whose action fails, killed while its rollback waits on the target. */
  async function crashInRollback(service: string): Promise<string> {
    rig.target.route('POST', `/act/${service}`, { status: 500 });
    rig.target.route('POST', `/undo/${service}`, HOLD);
    proc ??= await start();
    const r = await proc.post('/api/v1/incidents', { root_cause: 'broken', service, confidence: 1 });
    assert.equal(r.body.action, 'executed');
    await rig.target.waitForRequest(`/undo/${service}`, { timeoutMs: 20_000 });
    await proc.kill9();
    proc = undefined;
    return r.body.execution_id as string;
  }
  const events = async (p: RectifyProcess, executionId: string) =>
    (await p.get(`/api/v1/audit?execution_id=${executionId}&limit=100`)).body.events.reverse().filter((e: any) => !e.event.startsWith('NOTIF'));
  const circuit = async (p: RectifyProcess) => {
    const c = (await p.get('/api/v1/runbooks/fix')).body.circuit;
    return { state: c.state, failures: c.failures };
  };

  it('two kills in rollbacks trip the breaker (threshold 2): CIRCUIT_TRIPPED audited and told, the next alert is blocked', async () => {
    const first = await crashInRollback('s1');
    const since1 = Date.now();
    proc = await start();
    assert.deepEqual(await circuit(proc), { state: 'closed', failures: 1 });
    const rows1 = await events(proc, first);
    assert.deepEqual(rows1.map((e: any) => e.event), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'INTERRUPTED']);
    assert.equal(rows1.at(-1).details.failure, `action 1 failed: POST ${rig.target.url}/act/s1 → 500, expected 200-299`);
    await rig.target.waitForRequest('/hook', { since: since1, timeoutMs: 20_000, where: (r) => (r.json() as any).execution_id === first });

    const second = await crashInRollback('s2');
    const since2 = Date.now();
    proc = await start();
    assert.deepEqual(await circuit(proc), { state: 'open', failures: 2 });
    const rows2 = await events(proc, second);
    assert.deepEqual(rows2.map((e: any) => e.event), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'INTERRUPTED', 'CIRCUIT_TRIPPED']);
    const { notification_id: tripId, told: trip, ...tripped } = rows2.at(-1).details;
    assert.deepEqual(tripped, { reason: '2 consecutive failures (threshold 2)', failures: 2 });
    // The row records the notification telling the trip (told again after a restart if never delivered).
    assert.deepEqual(trip, {
      to: receiversOf(proc),
      outcome: 'circuit open',
      reason: 'runbook fix stopped acting on its own after repeated failures',
      service: 's2',
      approval_id: null,
    });
    const blocked = await proc.post('/api/v1/incidents', { root_cause: 'broken', service: 's3', confidence: 1 });
    assert.equal(blocked.body.event, 'CIRCUIT_OPEN');
    await rig.target.waitForRequest('/hook', { since: since2, timeoutMs: 20_000, where: (r) => (r.json() as any).incident_id === blocked.body.incident_id });
    assert.deepEqual(
      told(since1).map((t) => [t.event, t.execution_id ?? t.incident_id, t.reason.startsWith('runbook') ? t.reason : '']),
      [
        ['INTERRUPTED', first, ''],
        ['INTERRUPTED', second, ''],
        ['CIRCUIT_TRIPPED', second, 'runbook fix stopped acting on its own after repeated failures'],
        ['CIRCUIT_OPEN', blocked.body.incident_id, ''],
      ],
    );
    assert.equal(told(since1).find((t) => t.event === 'CIRCUIT_TRIPPED')!.notification_id, tripId);
    assert.equal(rig.target.calls('/act/s3'), 0);
    for (const s of ['s1', 's2']) assert.deepEqual([rig.target.calls(`/act/${s}`), rig.target.calls(`/undo/${s}`)], [1, 1], `${s}: never re-run`);
    const v = await proc.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
    await proc.stop();
  });
});

describe('a run killed during its rollback that started before the circuit last closed is not counted at recovery, and its INTERRUPTED row says why', () => {
  const rig = useRectifyProcesses('rectify-crash-closed-', (base) =>
    runbooksFile(
      httpRunbook('fix', {
        trigger: 'broken',
        url: `${base}/act/{service}`,
        more: `    blast_radius_limit: 10
    rollback:
      http: {method: POST, url: "${base}/undo/{service}", timeout_seconds: 60}
`,
      }),
    ),
  );
  before(() => rig.target.route('POST', '/hook', { status: 204 }));

  it('tripped (threshold 1) by a run started after it, closed by hand, then kill -9: closed at the restart, 0 failures', async () => {
    const start = () => rig.start(['--circuit-failure-threshold', '1', '--notify-webhook', `${rig.target.url}/hook`]);
    let proc = await start();
    const circuit = async (p: RectifyProcess) => (({ state, failures }) => ({ state, failures }))((await p.get('/api/v1/runbooks/fix')).body.circuit);
    rig.target.route('POST', '/act/s', { status: 500 });
    rig.target.route('POST', '/undo/s', HOLD);
    const slow = await proc.post('/api/v1/incidents', { root_cause: 'broken', service: 's', confidence: 1 });
    assert.equal(slow.body.action, 'executed');
    await rig.target.waitForRequest('/undo/s', { timeoutMs: 20_000 });
    rig.target.route('POST', '/act/a', { status: 500 });
    rig.target.route('POST', '/undo/a', { status: 200 });
    assert.equal((await proc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'a', confidence: 1 })).body.rolled_back, true);
    assert.deepEqual(await circuit(proc), { state: 'open', failures: 1 });
    assert.equal((await proc.post('/api/v1/runbooks/fix/circuit/close', { reason: 'target fixed', by: 'ops' })).status, 200);
    await proc.kill9();

    proc = await start();
    assert.deepEqual(await circuit(proc), { state: 'closed', failures: 0 });
    const rows = (await proc.get(`/api/v1/audit?execution_id=${slow.body.execution_id}&limit=100`)).body.events.reverse().filter((e: any) => !e.event.startsWith('NOTIF'));
    assert.deepEqual(rows.map((e: any) => e.event), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'INTERRUPTED']);
    assert.equal(rows.at(-1).details.failure, `action 1 failed: POST ${rig.target.url}/act/s → 500, expected 200-299`);
    assert.equal(
      rows.at(-1).details.circuit,
      'not counted: the run started before the circuit last closed (its trial succeeded, or a person closed it), so its failure says nothing of the runbook since',
    );
    const breaker = (await proc.get('/api/v1/audit?runbook=fix&limit=1000')).body.events.filter((e: any) => e.event.startsWith('CIRCUIT_')).reverse();
    assert.deepEqual(
      breaker.map((e: any) => [e.event, e.details.failures]),
      [
        ['CIRCUIT_TRIPPED', 1],
        ['CIRCUIT_CLOSED', 1],
      ],
    );
    assert.deepEqual([rig.target.calls('/act/s'), rig.target.calls('/undo/s')], [1, 1], 'never re-run');
    assert.equal((await proc.get('/api/v1/audit/verify')).body.ok, true);
    await proc.stop();
  });
});

const REOPENED_AUDIT = 'the trial run was cut off before it ended, which proves nothing: the circuit opens again and the next trial waits the recovery time again';
const REOPENED_TOLD = 'the trial run of runbook fix was cut off (rectify stopped) before it ended: the circuit is open again, and the next trial waits the circuit recovery time again';

describe("a half-open circuit's trial cut off re-opens it with a new recovery wait, audited and told: by a kill -9 and by a stop alike", () => {
  const rig = useRectifyProcesses('rectify-crash-trial-', rollingBack);
  before(() => rig.target.route('POST', '/hook', { status: 204 }));

  const told = (since = 0) => rig.target.requests('/hook').filter((r) => r.at >= since).map((r) => r.json() as Record<string, any>);
  const breakerRows = (events: any[]) =>
    events.filter((e) => e.event.startsWith('CIRCUIT') || e.event === 'INTERRUPTED').map((e) => [e.event, e.details.reason]).reverse();

  it('kill -9 during the trial action', async () => {
    // 2 s to reach the trial quickly; after the crash 60 s, so that a slow machine's
    // restart cannot outlast the fresh wait before the next alert tests it.
    const start = (recovery: string) => rig.start(['--circuit-failure-threshold', '1', '--circuit-recovery', recovery, '--notify-webhook', `${rig.target.url}/hook`]);
    let proc = await start('2s');
    rig.target.route('POST', '/act/t1', { status: 500 });
    rig.target.route('POST', '/undo/t1', { status: 200 });
    const failed = await proc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 't1', confidence: 1 });
    assert.equal(failed.body.rolled_back, true);
    assert.equal((await proc.get('/api/v1/runbooks/fix')).body.circuit.state, 'open');
    await new Promise((r) => setTimeout(r, 2_100));
    rig.target.route('POST', '/act/t2', HOLD);
    const trial = await proc.post('/api/v1/incidents', { root_cause: 'broken', service: 't2', confidence: 1 });
    assert.equal(trial.body.action, 'executed');
    await rig.target.waitForRequest('/act/t2', { timeoutMs: 20_000 });
    assert.equal((await proc.get('/api/v1/runbooks/fix')).body.circuit.state, 'half_open');
    await proc.kill9();

    const since = Date.now();
    proc = await start('60s');
    const c = (await proc.get('/api/v1/runbooks/fix')).body.circuit;
    assert.deepEqual([c.state, c.failures], ['open', 1]);
    assert.ok(Date.parse(c.opened_at) >= since, 'opened again at recovery, not when the trial began');
    const rows = (await proc.get('/api/v1/audit?runbook=fix&limit=1000')).body.events;
    assert.deepEqual(breakerRows(rows), [
      ['CIRCUIT_TRIPPED', '1 consecutive failures (threshold 1)'],
      ['CIRCUIT_HALF_OPEN', 'recovery timeout passed: one trial run allowed'],
      ['INTERRUPTED', 'rectify stopped while this execution ran; its outcome is unknown and it will not be re-run: a human must check'],
      ['CIRCUIT_TRIPPED', REOPENED_AUDIT],
    ]);
    assert.equal(rows[0].execution_id, trial.body.execution_id);
    // A new trial waits the recovery time again: the next alert is blocked.
    const next = await proc.post('/api/v1/incidents', { root_cause: 'broken', service: 't3', confidence: 1 });
    assert.equal(next.body.event, 'CIRCUIT_OPEN');
    assert.match(next.body.reason, /^Circuit OPEN \(too many failures\); trial allowed in (5\d|60)s$/);
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => (r.json() as any).incident_id === next.body.incident_id });
    assert.deepEqual(
      told(since).map((t) => [t.event, t.execution_id, t.event === 'CIRCUIT_TRIPPED' ? t.reason : '']),
      [
        ['INTERRUPTED', trial.body.execution_id, ''],
        ['CIRCUIT_TRIPPED', trial.body.execution_id, REOPENED_TOLD],
        ['CIRCUIT_OPEN', null, ''],
      ],
    );
    assert.equal(rig.target.calls('/act/t2'), 1);
    assert.equal(rig.target.calls('/act/t3'), 0);
  });

  it('a stop during the trial action (graceful): the same rows, the same new wait', async () => {
    rig.target.reset();
    rig.target.route('POST', '/act/t1', { status: 500 });
    rig.target.route('POST', '/undo/t1', { status: 200 });
    rig.target.route('POST', '/act/t2', { status: 200, delayMs: 5_000 });
    let svc = await startTestService({
      runbooks: rollingBack(rig.target.url),
      args: ['--circuit-failure-threshold', '1', '--shutdown-grace', '200ms', '--notify-webhook', `${rig.target.url}/hook`],
    });
    try {
      const failed = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 't1', confidence: 1 });
      assert.equal(failed.body.rolled_back, true);
      svc.clock.advance(5 * 60_000);
      const trial = await svc.post('/api/v1/incidents', { root_cause: 'broken', service: 't2', confidence: 1 });
      assert.equal(trial.body.action, 'executed');
      await rig.target.waitForRequest('/act/t2');
      const stoppedAt = svc.clock.now();
      svc = await svc.restart();
      const c = (await svc.get('/api/v1/runbooks/fix')).body.circuit;
      assert.deepEqual([c.state, c.failures, c.opened_at], ['open', 1, new Date(stoppedAt).toISOString()]);
      assert.deepEqual(breakerRows((await svc.get('/api/v1/audit?runbook=fix&limit=1000')).body.events), [
        ['CIRCUIT_TRIPPED', '1 consecutive failures (threshold 1)'],
        ['CIRCUIT_HALF_OPEN', 'recovery timeout passed: one trial run allowed'],
        ['INTERRUPTED', 'rectify was shutting down during an action; a human must check the state'],
        ['CIRCUIT_TRIPPED', REOPENED_AUDIT],
      ]);
      assert.deepEqual(
        told().filter((t) => t.execution_id === trial.body.execution_id).map((t) => [t.event, t.event === 'CIRCUIT_TRIPPED' ? t.reason : '']),
        [
          ['INTERRUPTED', ''],
          ['CIRCUIT_TRIPPED', REOPENED_TOLD],
        ],
      );
      // Not a new trial at once: the recovery wait starts again from the stop.
      const next = await svc.post('/api/v1/incidents', { root_cause: 'broken', service: 't3', confidence: 1 });
      assert.equal(next.body.event, 'CIRCUIT_OPEN');
      assert.equal(next.body.reason, 'Circuit OPEN (too many failures); trial allowed in 300s');
      assert.equal(rig.target.calls('/act/t3'), 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

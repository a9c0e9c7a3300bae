import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { bearer, issueToken, writeTokensFile } from '../helpers/tokens.js';

/**
 * A person ends a guardrail's wait by hand, over real HTTP on a real SQLite file:
 * a runbook's open circuit (CIRCUIT_CLOSED) and a cooldown (COOLDOWN_CLEARED), each
 * with the role, the reason, the audit row, the notification, and the next alert
 * decided as if the wait were over; kept across a restart.
 */
const MIN = 60_000;
const ingest = issueToken('alertmanager', ['ingest']);
const alice = issueToken('alice', ['approver']);
const val = issueToken('val', ['viewer']);

const runbooks = (target: string) => `runbooks:
  flaky:
    risk: LOW
    triggers: [flaky]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    blast_radius_limit: 10
    action:
      http: {method: POST, url: "${target}/flaky/{service}"}
  cool:
    risk: LOW
    triggers: [cool]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 30
    blast_radius_limit: 10
    action:
      http: {method: POST, url: "${target}/cool/{service}"}
`;

interface Rig {
  svc: TestService;
  base: string;
}

async function call(rig: Rig, path: string, body: unknown, token = alice): Promise<{ status: number; body: any }> {
  const res = await fetch(`${rig.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token) }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function read(rig: Rig, path: string): Promise<any> {
  const res = await fetch(`${rig.base}${path}`, { headers: bearer(val) });
  assert.equal(res.status, 200);
  return res.json();
}

/**
 * rectify_operator_resets_total as GET /metrics gives it over HTTP: every runbook in
 * force and kind from the start, at 0 until counted (so `increase()` sees the first).
 */
const resetSamples = (counts: { flaky?: number; cool?: number } = {}): string[] => [
  `rectify_operator_resets_total{runbook="flaky",kind="circuit_close"} ${counts.flaky ?? 0}`,
  'rectify_operator_resets_total{runbook="flaky",kind="cooldown_clear"} 0',
  'rectify_operator_resets_total{runbook="cool",kind="circuit_close"} 0',
  `rectify_operator_resets_total{runbook="cool",kind="cooldown_clear"} ${counts.cool ?? 0}`,
];

/** The samples of `rectify_operator_resets_total` as GET /metrics gives them over HTTP. */
async function resets(rig: Rig): Promise<string[]> {
  const res = await fetch(`${rig.base}/metrics`, { headers: bearer(val) });
  assert.equal(res.status, 200);
  return (await res.text()).split('\n').filter((l) => l.startsWith('rectify_operator_resets_total'));
}

const alert = (rig: Rig, root: string, service: string) => call(rig, '/api/v1/incidents?wait=true', { root_cause: root, service, confidence: 0.9 }, ingest);

/** The audit rows of one event, oldest first, as stored. */
function auditRows(dbPath: string, event: string): Array<{ actor: string; runbook: string; details: any }> {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT actor, runbook, details FROM audit WHERE event = ? ORDER BY seq').all(event) as Array<{ actor: string; runbook: string; details: string }>).map((r) => ({
      ...r,
      details: JSON.parse(r.details),
    }));
  } finally {
    db.close();
  }
}

describe('operator resets: closing a circuit, ending a cooldown', { timeout: 120_000 }, () => {
  let target: HttpTarget;
  let tokensDir: string;
  let tokens: string;
  before(async () => {
    target = await startHttpTarget();
    tokensDir = mkdtempSync(join(tmpdir(), 'rectify-tokens-'));
    tokens = writeTokensFile(tokensDir, [ingest, alice, val]);
  });
  after(async () => {
    await target.close();
    rmSync(tokensDir, { recursive: true, force: true });
  });
  let running: TestService[] = [];
  afterEach(async () => {
    for (const svc of running.reverse()) await svc.stop({ remove: true }).catch(() => {});
    running = [];
  });
  const listen = async (svc: TestService): Promise<Rig> => {
    running.push(svc);
    const addr = await svc.service.listen();
    return { svc, base: addr.startsWith('http') ? addr : `http://${addr}` };
  };
  const start = async () =>
    listen(await startTestService({ runbooks: runbooks(target.url), args: ['--listen', '127.0.0.1:0', '--tokens', tokens, '--notify-webhook', `${target.url}/hook`] }));

  it('an open circuit closed by hand: role, reason, 404, 409, audited and told, kept across a restart, and the next alert runs', async () => {
    target.reset();
    target.route('POST', '/flaky/a', { status: 500 });
    target.route('POST', '/hook', { status: 200 });
    let rig = await start();
    assert.deepEqual(await resets(rig), resetSamples(), 'at 0 from the start: an alert on increase() hears the first reset');
    for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
    const trippedAt = rig.svc.clock.now();
    // A clock stepped back an hour: the wait is longer by the step.
    rig.svc.clock.advance(-60 * MIN);
    const blocked = await alert(rig, 'flaky', 'a');
    assert.equal(blocked.body.event, 'CIRCUIT_OPEN');
    assert.match(blocked.body.reason, /trial allowed in 3900s .*was the clock set back\?/);
    // A second alert held off, with its own id (re-sent below), and a manual run the circuit
    // refused: a person was answered at once, so it is no alert held off.
    const held = { root_cause: 'flaky', service: 'b', confidence: 0.9, id: 'held-b' };
    assert.equal((await call(rig, '/api/v1/incidents?wait=true', held, ingest)).body.event, 'CIRCUIT_OPEN');
    const manual = await call(rig, '/api/v1/runbooks/flaky/run', { params: { service: 'a' } });
    assert.deepEqual([manual.status, manual.body.event], [202, 'CIRCUIT_OPEN']);

    const closeUrl = '/api/v1/runbooks/flaky/circuit/close';
    assert.equal((await call(rig, closeUrl, { reason: 'target fixed' }, val)).status, 403, 'a viewer may not');
    const noReason = await call(rig, closeUrl, {});
    assert.equal(noReason.status, 400);
    assert.match(JSON.stringify(noReason.body), /reason/);
    assert.equal((await call(rig, closeUrl, { reason: '   ' })).status, 400, 'a blank reason is none');
    const unknown = await call(rig, '/api/v1/runbooks/flakey/circuit/close', { reason: 'target fixed' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /flaky/, 'did you mean');
    assert.equal(auditRows(rig.svc.dbPath, 'CIRCUIT_CLOSED').length, 0, 'the refusals changed nothing');
    assert.equal((await read(rig, '/api/v1/runbooks/flaky')).circuit.state, 'open');
    assert.deepEqual(await resets(rig), resetSamples(), 'the refusals count nothing');

    const closed = await call(rig, closeUrl, { reason: 'the clock was set back; target fixed', by: 'mallory' });
    assert.equal(closed.status, 200);
    assert.deepEqual(closed.body, { runbook: 'flaky', state: 'closed', was: 'open', failures: 3, opened_at: new Date(trippedAt).toISOString(), held_while_open: 2 });
    const rows = auditRows(rig.svc.dbPath, 'CIRCUIT_CLOSED');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, 'alice', 'the token names the actor, not the body');
    assert.equal(rows[0]!.runbook, 'flaky');
    assert.equal(rows[0]!.details.reason, 'the clock was set back; target fixed');
    assert.equal(rows[0]!.details.by_hand, true);
    assert.equal(rows[0]!.details.was, 'open');
    assert.equal(rows[0]!.details.failures, 3);
    assert.equal(rows[0]!.details.held_while_open, 2);
    await rig.svc.service.drainNotifications();
    const told = target.requests('/hook', 'POST').map((r) => r.json() as any).filter((n) => n.event === 'CIRCUIT_CLOSED');
    assert.equal(told.length, 1);
    assert.equal(told[0].runbook, 'flaky');
    assert.equal(
      told[0].reason,
      'the circuit of flaky was closed by hand by alice: the clock was set back; target fixed; 2 alerts were held off while the circuit was open: rectify does not decide them again (a re-delivery is a duplicate), so act by hand on those still firing',
    );
    const resent = await call(rig, '/api/v1/incidents?wait=true', held, ingest);
    assert.deepEqual([resent.body.action, resent.body.event], ['duplicate', 'DUPLICATE'], 'a held-off alert is not decided again');
    assert.equal(rows[0]!.details.notification_id, told[0].notification_id, 'the row records its notification');

    const again = await call(rig, closeUrl, { reason: 'again' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.message, 'the circuit of runbook flaky is closed (0 failures in a row): there is nothing to close');
    assert.deepEqual(await resets(rig), resetSamples({ flaky: 1 }), 'counted once committed; the 409 adds none');

    // Kept across a restart: the next alert, after it, runs.
    const svc = await rig.svc.restart();
    rig = await listen(svc);
    assert.deepEqual((await read(rig, '/api/v1/runbooks/flaky')).circuit, { state: 'closed', failures: 0, opened_at: null });
    target.route('POST', '/flaky/a', { status: 200 });
    const next = await alert(rig, 'flaky', 'a');
    assert.equal(next.body.action, 'executed');
    assert.equal(next.body.event, 'SUCCESS');
    assert.equal(target.calls('/flaky/a', 'POST'), 4);
  });

  it('a half-open circuit closed by hand: its trial still ends as a run does', async () => {
    target.reset();
    target.route('POST', '/flaky/a', { status: 500 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const rig = await start();
    for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
    rig.svc.clock.advance(5 * MIN);
    target.route('POST', '/flaky/a', async () => {
      await gate;
      return { status: 200 };
    });
    const trial = alert(rig, 'flaky', 'a');
    await target.waitForRequest('/flaky/a');
    assert.equal((await read(rig, '/api/v1/runbooks/flaky')).circuit.state, 'half_open');
    const closed = await call(rig, '/api/v1/runbooks/flaky/circuit/close', { reason: 'target fixed' });
    assert.equal(closed.status, 200);
    assert.equal(closed.body.was, 'half_open');
    assert.equal(auditRows(rig.svc.dbPath, 'CIRCUIT_CLOSED')[0]!.details.was, 'half_open');
    release();
    assert.equal((await trial).body.event, 'SUCCESS');
    assert.deepEqual((await read(rig, '/api/v1/runbooks/flaky')).circuit, { state: 'closed', failures: 0, opened_at: null });
  });

  it('closed by hand: a run in flight since before the trip that fails after the close is not counted, its FAILED row says why; the trial found under way still decides', async () => {
    target.reset();
    target.route('POST', '/flaky/a', { status: 500 });
    const rig = await start();
    const releaseSlow = holdCalls(target, 'POST', '/flaky/slow', 500);
    const releaseTrial = holdCalls(target, 'POST', '/flaky/t', 500);
    try {
      const circuit = async () => (({ state, failures, opened_at }) => ({ state, failures, opened_at }))((await read(rig, '/api/v1/runbooks/flaky')).circuit);
      const slow = alert(rig, 'flaky', 'slow');
      await target.waitForRequest('/flaky/slow');
      for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      rig.svc.clock.advance(5 * MIN);
      const trial = alert(rig, 'flaky', 't');
      await target.waitForRequest('/flaky/t');
      assert.equal((await circuit()).state, 'half_open');
      assert.equal((await call(rig, '/api/v1/runbooks/flaky/circuit/close', { reason: 'target fixed' })).status, 200);

      releaseSlow();
      const s = (await slow).body;
      assert.deepEqual([s.action, s.event], ['executed', 'FAILED']);
      assert.deepEqual(await circuit(), { state: 'closed', failures: 0, opened_at: null }, 'not counted');
      const failedRow = auditRows(rig.svc.dbPath, 'FAILED').at(-1)!;
      assert.equal(failedRow.details.reason, `action 1 failed: POST ${target.url}/flaky/slow → 500, expected 200-299`);
      assert.equal(
        failedRow.details.circuit,
        'not counted: the run started before the circuit last closed (its trial succeeded, or a person closed it), so its failure says nothing of the runbook since',
      );

      // The trial the person closed the circuit under: its failure is the verdict, and opens it.
      const trialFailedAt = rig.svc.clock.now();
      releaseTrial();
      assert.equal((await trial).body.event, 'FAILED');
      assert.deepEqual(await circuit(), { state: 'open', failures: 1, opened_at: new Date(trialFailedAt).toISOString() });
      assert.equal(auditRows(rig.svc.dbPath, 'FAILED').at(-1)!.details.circuit, undefined);
      assert.deepEqual(
        ['CIRCUIT_TRIPPED', 'CIRCUIT_WAIT_RESTARTED'].map((e) => auditRows(rig.svc.dbPath, e).map((r) => [r.details.failures, r.details.reason])),
        [
          [
            [3, '3 consecutive failures (threshold 3)'],
            [1, 'the trial run failed: the circuit opens again'],
          ],
          [],
        ],
      );
    } finally {
      releaseSlow();
      releaseTrial();
    }
  });

  it('closed by hand: a run in flight since before the trip that succeeds after the close leaves the failures in a row as they were, its SUCCESS row says why', async () => {
    target.reset();
    target.route('POST', '/flaky/a', { status: 500 });
    const rig = await start();
    const releaseSlow = holdCalls(target, 'POST', '/flaky/slow', 200);
    try {
      const circuit = async () => (({ state, failures, opened_at }) => ({ state, failures, opened_at }))((await read(rig, '/api/v1/runbooks/flaky')).circuit);
      const slow = alert(rig, 'flaky', 'slow');
      await target.waitForRequest('/flaky/slow');
      for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      assert.equal((await call(rig, '/api/v1/runbooks/flaky/circuit/close', { reason: 'target fixed' })).status, 200);
      // Runs started since the close fail again: 2 of 3.
      for (let i = 0; i < 2; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      assert.deepEqual(await circuit(), { state: 'closed', failures: 2, opened_at: null });

      releaseSlow();
      const s = (await slow).body;
      assert.deepEqual([s.action, s.event], ['executed', 'SUCCESS']);
      assert.deepEqual(await circuit(), { state: 'closed', failures: 2, opened_at: null }, 'not counted: the failures in a row stand');
      const successRow = auditRows(rig.svc.dbPath, 'SUCCESS').at(-1)!;
      assert.deepEqual([successRow.details.steps, successRow.details.told.service], [1, 'slow']);
      assert.equal(
        successRow.details.circuit,
        'not counted: the run started before the circuit last closed (its trial succeeded, or a person closed it), so its success says nothing of the runbook since: the failures in a row stay as they were',
      );

      // The next failure of a run started since the close is the third in a row: it trips.
      const trippedAt = rig.svc.clock.now();
      assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      assert.deepEqual(await circuit(), { state: 'open', failures: 3, opened_at: new Date(trippedAt).toISOString() });
      assert.deepEqual(
        ['CIRCUIT_TRIPPED', 'CIRCUIT_WAIT_RESTARTED'].map((e) => auditRows(rig.svc.dbPath, e).map((r) => [r.details.failures, r.details.reason])),
        [
          [
            [3, '3 consecutive failures (threshold 3)'],
            [3, '3 consecutive failures (threshold 3)'],
          ],
          [],
        ],
      );
    } finally {
      releaseSlow();
    }
  });

  it('closed by hand: the trial found under way that succeeds after the close ends the failures in a row, as any run started since does', async () => {
    target.reset();
    target.route('POST', '/flaky/a', { status: 500 });
    const rig = await start();
    const releaseTrial = holdCalls(target, 'POST', '/flaky/t', 200);
    try {
      const circuit = async () => (({ state, failures, opened_at }) => ({ state, failures, opened_at }))((await read(rig, '/api/v1/runbooks/flaky')).circuit);
      for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      rig.svc.clock.advance(5 * MIN);
      const trial = alert(rig, 'flaky', 't');
      await target.waitForRequest('/flaky/t');
      assert.equal((await call(rig, '/api/v1/runbooks/flaky/circuit/close', { reason: 'target fixed' })).status, 200);
      for (let i = 0; i < 2; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      assert.deepEqual(await circuit(), { state: 'closed', failures: 2, opened_at: null });
      releaseTrial();
      assert.equal((await trial).body.event, 'SUCCESS');
      assert.deepEqual(await circuit(), { state: 'closed', failures: 0, opened_at: null }, 'the verdict the circuit waited for');
      const successRow = auditRows(rig.svc.dbPath, 'SUCCESS').at(-1)!;
      assert.deepEqual([successRow.details.told.service, successRow.details.circuit], ['t', undefined]);
    } finally {
      releaseTrial();
    }
  });

  it('a trial closed by hand that fails once the circuit has tripped again restarts the wait: no second CIRCUIT_TRIPPED', async () => {
    target.reset();
    target.route('POST', '/flaky/a', { status: 500 });
    const rig = await start();
    const release = holdCalls(target, 'POST', '/flaky/t', 500);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      rig.svc.clock.advance(5 * MIN);
      const trial = alert(rig, 'flaky', 't');
      await target.waitForRequest('/flaky/t');
      assert.equal((await call(rig, '/api/v1/runbooks/flaky/circuit/close', { reason: 'target fixed' })).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
      const trippedAgain = rig.svc.clock.now();
      rig.svc.clock.advance(10_000);
      release();
      assert.equal((await trial).body.event, 'FAILED');
      const rows = ['CIRCUIT_TRIPPED', 'CIRCUIT_WAIT_RESTARTED'].map((e) => auditRows(rig.svc.dbPath, e).map((r) => [r.details.failures, r.details.reason]));
      assert.deepEqual(rows, [
        [
          [3, '3 consecutive failures (threshold 3)'],
          [3, '3 consecutive failures (threshold 3)'],
        ],
        [[4, 'a run that started before the circuit opened failed while it is open: the recovery wait starts again from this failure']],
      ]);
      assert.deepEqual((await read(rig, '/api/v1/runbooks/flaky')).circuit, {
        state: 'open',
        failures: 4,
        opened_at: new Date(trippedAgain + 10_000).toISOString(),
        trial_from: new Date(trippedAgain + 10_000 + 5 * MIN).toISOString(),
        trial_allowed: false,
      });
    } finally {
      release();
    }
  });

  it("a cooldown ended by hand, on one service then on all: audited and told, the next alert runs, a later run's cooldown holds again", async () => {
    target.reset();
    for (const s of ['a', 'b']) target.route('POST', `/cool/${s}`, { status: 200 });
    target.route('POST', '/hook', { status: 200 });
    let rig = await start();
    assert.equal((await alert(rig, 'cool', 'a')).body.event, 'SUCCESS');
    assert.equal((await alert(rig, 'cool', 'b')).body.event, 'SUCCESS');
    const startedAt = rig.svc.clock.now();
    rig.svc.clock.advance(-2 * 60 * MIN); // a clock stepped back two hours: the cooldown would hold 2h30
    const held = await alert(rig, 'cool', 'a');
    assert.equal(held.body.event, 'RATE_LIMITED');
    assert.match(held.body.reason, /^Cooldown active \(9000s remaining; .*was the clock set back\?\)$/);

    const url = '/api/v1/runbooks/cool/cooldown/clear';
    assert.equal((await call(rig, url, { reason: 'x', service: 'a' }, val)).status, 403);
    assert.equal((await call(rig, url, { service: 'a' })).status, 400);
    assert.equal((await call(rig, '/api/v1/runbooks/nope/cooldown/clear', { reason: 'x' })).status, 404);
    const none = await call(rig, url, { reason: 'x', service: 'c' });
    assert.equal(none.status, 409);
    assert.equal(none.body.error.message, 'runbook cool has no cooldown in force on service c: there is nothing to end');
    const noCooldown = await call(rig, '/api/v1/runbooks/flaky/cooldown/clear', { reason: 'x' });
    assert.equal(noCooldown.status, 409);
    assert.equal(noCooldown.body.error.message, 'runbook flaky has no cooldown (cooldown_minutes: 0): there is nothing to end');
    assert.equal(auditRows(rig.svc.dbPath, 'COOLDOWN_CLEARED').length, 0);
    assert.deepEqual(await resets(rig), resetSamples(), 'the refusals count nothing');

    const cleared = await call(rig, url, { reason: 'clock stepped back', service: 'a' });
    assert.equal(cleared.status, 200);
    const until = new Date(startedAt + 30 * MIN).toISOString();
    assert.deepEqual(cleared.body, { runbook: 'cool', cleared: [{ kind: 'service', subject: 'a', last_started_at: new Date(startedAt).toISOString(), until }] });
    let rows = auditRows(rig.svc.dbPath, 'COOLDOWN_CLEARED');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, 'alice');
    assert.equal(rows[0]!.details.reason, 'clock stepped back');
    assert.equal(rows[0]!.details.service, 'a');
    assert.deepEqual(rows[0]!.details.cleared, cleared.body.cleared);
    await rig.svc.service.drainNotifications();
    const told = target.requests('/hook', 'POST').map((r) => r.json() as any).filter((n) => n.event === 'COOLDOWN_CLEARED');
    assert.deepEqual(told.map((n) => [n.runbook, n.service, n.reason]), [['cool', 'a', 'the cooldown of cool on service a was ended by hand by alice: clock stepped back']]);
    assert.deepEqual((await read(rig, '/api/v1/runbooks/cool')).cooldowns.map((c: any) => c.service), ['b'], 'the one ended is not listed');
    assert.equal((await call(rig, url, { reason: 'x', service: 'a' })).status, 409, 'ended already');
    assert.deepEqual(await resets(rig), resetSamples({ cool: 1 }));

    // Kept across a restart; b still holds.
    rig = await listen(await rig.svc.restart());
    assert.equal((await alert(rig, 'cool', 'b')).body.event, 'RATE_LIMITED');
    const next = await alert(rig, 'cool', 'a');
    assert.equal(next.body.action, 'executed');
    assert.equal(next.body.event, 'SUCCESS');
    assert.equal(target.calls('/cool/a', 'POST'), 2);
    // The run just started has its cooldown again, from its own start: the clock is still
    // two hours back, and the run before the step (stamped later) is not the last one.
    assert.equal((await alert(rig, 'cool', 'a')).body.reason, 'Cooldown active (1800s remaining)');
    assert.deepEqual(
      (await read(rig, '/api/v1/runbooks/cool')).cooldowns.find((c: any) => c.service === 'a')?.until,
      new Date(rig.svc.clock.now() + 30 * MIN).toISOString(),
      'listed from the run just started',
    );
    rig.svc.clock.advance(30 * MIN);
    assert.equal((await alert(rig, 'cool', 'a')).body.event, 'SUCCESS', 'its cooldown over: not the step again');
    assert.equal(target.calls('/cool/a', 'POST'), 3);

    // Without a service: every cooldown in force ends.
    const all = await call(rig, url, { reason: 'both fixed' });
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.cleared.map((c: any) => [c.kind, c.subject]), [['service', 'a'], ['service', 'b']]);
    rows = auditRows(rig.svc.dbPath, 'COOLDOWN_CLEARED');
    assert.equal(rows.length, 2);
    assert.equal(rows[1]!.details.service, null);
    // One clearing, however many cooldowns it ended; this process's count starts at its start.
    assert.deepEqual(await resets(rig), resetSamples({ cool: 1 }));
    assert.equal((await alert(rig, 'cool', 'a')).body.event, 'SUCCESS');
    assert.equal((await alert(rig, 'cool', 'b')).body.event, 'SUCCESS');
    assert.equal((await call(rig, '/api/v1/runbooks/cool/cooldown/clear', { reason: 'x', service: 'a' })).status, 200, 'the newest run on a: in force again, and ended again');
  });

  it('a blank service is refused at intake and on a manual run; a cooldown on a service named by a filler character is ended by naming it as stored', async () => {
    target.reset();
    target.route('POST', '/cool', { status: 200 });
    target.route('POST', '/hook', { status: 200 });
    // The action's URL names no service: a blank one cannot be put in a URL.
    const rb = runbooks(target.url).replace(`"${target.url}/cool/{service}"`, `"${target.url}/cool"`);
    const rig = await listen(await startTestService({ runbooks: rb, args: ['--listen', '127.0.0.1:0', '--tokens', tokens, '--notify-webhook', `${target.url}/hook`] }));
    const blank = await alert(rig, 'cool', ' ');
    assert.deepEqual([blank.status, blank.body.error.details], [400, [{ path: 'body.service', message: 'blank: give the name of the service' }]]);
    const blankRun = await call(rig, '/api/v1/runbooks/cool/run?wait=true', { params: { service: ' ' } });
    assert.deepEqual([blankRun.status, blankRun.body.error.details], [400, [{ path: 'body.params.service', message: 'blank: give a service, or none' }]]);
    const run = await call(rig, '/api/v1/runbooks/cool/run?wait=true', { service: '\u3164' });
    assert.deepEqual([run.status, run.body.event], [202, 'SUCCESS']);
    assert.deepEqual((await read(rig, '/api/v1/runbooks/cool')).cooldowns.map((c: any) => c.service), ['\u3164']);

    const url = '/api/v1/runbooks/cool/cooldown/clear';
    const empty = await call(rig, url, { reason: 'x', service: '' });
    assert.deepEqual([empty.status, empty.body.error.details], [400, [{ path: 'body.service', message: 'Too small: expected string to have >=1 characters' }]]);
    const filler = await call(rig, url, { reason: 'fixed', service: '\u3164' });
    assert.deepEqual(filler.body.cleared?.map((c: any) => [c.kind, c.subject]), [['service', '\u3164']]);
    assert.deepEqual((await read(rig, '/api/v1/runbooks/cool')).cooldowns, []);
    assert.deepEqual(auditRows(rig.svc.dbPath, 'COOLDOWN_CLEARED').map((r) => [r.actor, r.details.service]), [['alice', '\u3164']]);
  });

  it('a key the body does not have is refused, naming it, and nothing ends: {"services": "a"} would have ended every cooldown', async () => {
    target.reset();
    for (const s of ['a', 'b']) target.route('POST', `/cool/${s}`, { status: 200 });
    target.route('POST', '/flaky/a', { status: 500 });
    target.route('POST', '/hook', { status: 200 });
    const rig = await start();
    for (const s of ['a', 'b']) assert.equal((await alert(rig, 'cool', s)).body.event, 'SUCCESS');
    const typo = await call(rig, '/api/v1/runbooks/cool/cooldown/clear', { reason: 'fixed a', services: 'a' });
    const cooldownWhy = `unknown key (did you mean "service"?): a cooldown clear's body has by, reason, service`;
    assert.deepEqual([typo.status, typo.body], [400, { error: { code: 'VALIDATION_FAILED', message: `invalid body: body.services: ${cooldownWhy}`, details: [{ path: 'body.services', message: cooldownWhy }] } }]);
    assert.equal(auditRows(rig.svc.dbPath, 'COOLDOWN_CLEARED').length, 0);
    assert.deepEqual((await read(rig, '/api/v1/runbooks/cool')).cooldowns.map((c: any) => c.service).sort(), ['a', 'b'], 'both cooldowns still in force');

    for (let i = 0; i < 3; i++) assert.equal((await alert(rig, 'flaky', 'a')).body.event, 'FAILED');
    const close = await call(rig, '/api/v1/runbooks/flaky/circuit/close', { reason: 'fixed', force: true });
    const closeWhy = "unknown key: a circuit close's body has by, reason";
    assert.deepEqual([close.status, close.body], [400, { error: { code: 'VALIDATION_FAILED', message: `invalid body: body.force: ${closeWhy}`, details: [{ path: 'body.force', message: closeWhy }] } }]);
    assert.equal(auditRows(rig.svc.dbPath, 'CIRCUIT_CLOSED').length, 0);
    assert.equal((await read(rig, '/api/v1/runbooks/flaky')).circuit.state, 'open');
  });
});

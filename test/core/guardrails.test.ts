import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { holdCalls, holdFirstCall, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService } from '../helpers/service.js';

const MIN = 60_000;

function runbook(base: string, id: string, extra: string, opts: { trigger?: string; path?: string; minConfidence?: number } = {}): string {
  return `
  ${id}:
    risk: LOW
    triggers: [${opts.trigger ?? id}]
    min_confidence: ${opts.minConfidence ?? 0.5}
    action:
      http: {method: POST, url: "${base}${opts.path ?? `/${id}/{service}`}"}
${extra}`;
}

const incident = (root: string, service: string, extra: Record<string, unknown> = {}) => ({ root_cause: root, service, confidence: 0.9, ...extra });

describe('guardrails', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('200 concurrent incidents for one service with max_per_hour 5 give exactly 5 executions, every run', async () => {
    for (let round = 0; round < 3; round++) {
      target.reset();
      const svc = await startTestService({
        runbooks: `runbooks:${runbook(target.url, 'flood', '    max_per_hour: 5\n    cooldown_minutes: 0\n    blast_radius_limit: 1')}`,
        args: ['--max-concurrent-executions', '1000'],
      });
      const answers = await Promise.all(Array.from({ length: 200 }, () => svc.post('/api/v1/incidents?wait=true', incident('flood', 'api'))));
      const actions = answers.map((a) => a.body.action);
      assert.equal(actions.filter((a) => a === 'executed').length, 5, `round ${round}`);
      assert.equal(actions.filter((a) => a === 'blocked').length, 195);
      assert.ok(answers.filter((a) => a.body.action === 'blocked').every((a) => a.body.event === 'RATE_LIMITED' && a.body.reason === 'Rate limit exceeded (5/hour)'));
      assert.equal(target.calls('/flood/api', 'POST'), 5);
      await svc.stop({ remove: true });
    }
  });

  it('with the default limit never more than 3 executions run at once', async () => {
    target.reset();
    let running = 0;
    let peak = 0;
    target.route('POST', '/slow/api', async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 150));
      running--;
      return { status: 200 };
    });
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'slow', '    max_per_hour: 100\n    cooldown_minutes: 0', { path: '/slow/{service}' })}`,
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => svc.post('/api/v1/incidents?wait=true', incident('slow', 'api'))));
    const executed = answers.filter((a) => a.body.action === 'executed').length;
    const blast = answers.filter((a) => a.body.event === 'BLAST_LIMITED');
    assert.equal(executed, 3);
    assert.equal(blast.length, 17);
    assert.equal(blast[0]!.body.reason, 'Max concurrent actions (3) reached');
    assert.ok(peak <= 3, `peak ${peak}`);
    assert.equal(target.calls('/slow/api', 'POST'), 3);
    // Slots are released when executions end.
    const again = await svc.post('/api/v1/incidents?wait=true', incident('slow', 'api'));
    assert.equal(again.body.action, 'executed');
    await svc.stop({ remove: true });
  });

  it('cooldown per runbook and service, then allowed again after it ends', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'cool', '    max_per_hour: 10\n    cooldown_minutes: 5')}` });
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('cool', 'a'))).body.action, 'executed');
    svc.clock.advance(2 * MIN);
    const blocked = await svc.post('/api/v1/incidents?wait=true', incident('cool', 'a'));
    assert.equal(blocked.body.action, 'blocked');
    assert.equal(blocked.body.event, 'RATE_LIMITED');
    assert.equal(blocked.body.reason, 'Cooldown active (180s remaining)');
    // Another service is not in cooldown.
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('cool', 'b'))).body.action, 'executed');
    svc.clock.advance(3 * MIN);
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('cool', 'a'))).body.action, 'executed');
    assert.equal(target.calls('/cool/a', 'POST'), 2);
    await svc.stop({ remove: true });
  });

  // Regression: the cooldown counted only from a run's start, so a run that outlasted
  // it (slow checks, a rollback) was overlapped by the next one on the same service.
  it('a cooldown lasts while the last run still runs: no second run on the same service overlaps it', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/long/a', 200);
    target.route('POST', '/long/b', { status: 200 });
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'long', '    max_per_hour: 10\n    cooldown_minutes: 5\n    blast_radius_limit: 2')}` });
    const first = svc.post('/api/v1/incidents?wait=true', incident('long', 'a'));
    await target.waitForRequest('/long/a');
    svc.clock.advance(6 * MIN);
    const second = await svc.post('/api/v1/incidents', incident('long', 'a'));
    assert.deepEqual([second.body.action, second.body.event, second.body.reason], ['blocked', 'RATE_LIMITED', 'Cooldown active (the last run of long on a is still running)']);
    // Another service is not held by it.
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('long', 'b'))).body.action, 'executed');
    release();
    assert.equal((await first).body.action, 'executed');
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('long', 'a'))).body.action, 'executed');
    assert.equal(target.calls('/long/a', 'POST'), 2);
    await svc.stop({ remove: true });
  });

  // Regression: the still-running check read the last run's rate-limit row, which
  // housekeeping prunes after an hour (and the longest cooldown) and a minute; a run
  // lasting longer than that was overlapped by the next alert's run on its service.
  it('a run still under way holds off the next on its service however long it lasts, its rate-limit row pruned', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/longer/a', 200);
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'longer', '    max_per_hour: 10\n    cooldown_minutes: 5\n    blast_radius_limit: 2')}` });
    const first = svc.post('/api/v1/incidents?wait=true', incident('longer', 'a'));
    await target.waitForRequest('/longer/a');
    svc.clock.advance(30 * MIN);
    await svc.service.housekeep();
    const during = await svc.post('/api/v1/incidents', incident('longer', 'a'));
    assert.deepEqual([during.body.action, during.body.event, during.body.reason], ['blocked', 'RATE_LIMITED', 'Cooldown active (the last run of longer on a is still running)']);
    svc.clock.advance(32 * MIN);
    const pruned = await svc.service.housekeep();
    assert.equal(pruned.rateEvents, 1, 'the first run is past the rate-limit rows kept');
    const after = await svc.post('/api/v1/incidents', incident('longer', 'a'));
    assert.deepEqual([after.body.action, after.body.event, after.body.reason], ['blocked', 'RATE_LIMITED', 'Cooldown active (the last run of longer on a is still running)']);
    release();
    assert.equal((await first).body.action, 'executed');
    assert.equal(target.calls('/longer/a', 'POST'), 1);
    // Ended, the run holds nothing off.
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('longer', 'a'))).body.action, 'executed');
    assert.equal(target.calls('/longer/a', 'POST'), 2);
    await svc.stop({ remove: true });
  });

  it('the rate-limit window slides: an execution older than an hour no longer counts', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'hourly', '    max_per_hour: 2\n    cooldown_minutes: 0')}` });
    const send = () => svc.post('/api/v1/incidents?wait=true', incident('hourly', 'a'));
    assert.equal((await send()).body.action, 'executed');
    svc.clock.advance(30 * MIN);
    assert.equal((await send()).body.action, 'executed');
    svc.clock.advance(20 * MIN);
    assert.equal((await send()).body.event, 'RATE_LIMITED');
    svc.clock.advance(10 * MIN + 1);
    assert.equal((await send()).body.action, 'executed', 'the first one left the window');
    await svc.stop({ remove: true });
  });

  it('blast_radius_limit caps the services one runbook acts on at once', async () => {
    target.reset();
    const release = holdCalls(target, 'POST', '/wide/a');
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'wide', '    max_per_hour: 10\n    cooldown_minutes: 0\n    blast_radius_limit: 1')}` });
    const first = svc.post('/api/v1/incidents?wait=true', incident('wide', 'a'));
    // Wait until the first run is in flight.
    await target.waitForRequest('/wide/a');
    const second = await svc.post('/api/v1/incidents', incident('wide', 'b'));
    assert.equal(second.body.action, 'blocked');
    assert.equal(second.body.event, 'BLAST_LIMITED');
    assert.equal(second.body.reason, 'Max services (1) already affected by wide');
    release();
    assert.equal((await first).body.action, 'executed');
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('wide', 'b'))).body.action, 'executed');
    await svc.stop({ remove: true });
  });

  it('circuit breaker: 3 failures open it, after the recovery timeout one trial runs, success closes it', async () => {
    target.reset();
    target.route('POST', '/flaky/a', { status: 500 });
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'flaky', '    max_per_hour: 100\n    cooldown_minutes: 0')}` });
    const send = () => svc.post('/api/v1/incidents?wait=true', incident('flaky', 'a'));
    for (let i = 0; i < 3; i++) {
      const r = await send();
      assert.equal(r.body.action, 'executed');
      assert.equal(r.body.success, false);
      assert.equal(r.body.event, 'FAILED');
    }
    const open = await send();
    assert.equal(open.body.action, 'blocked');
    assert.equal(open.body.event, 'CIRCUIT_OPEN');
    assert.equal(open.body.reason, 'Circuit OPEN (too many failures); trial allowed in 300s');
    assert.equal(target.calls('/flaky/a', 'POST'), 3);
    let rb = await svc.get('/api/v1/runbooks/flaky');
    assert.equal(rb.body.circuit.state, 'open');
    assert.equal(rb.body.circuit.failures, 3);

    // After the recovery timeout: one trial, which fails → open again.
    svc.clock.advance(5 * MIN);
    const trial = await send();
    assert.equal(trial.body.action, 'executed');
    assert.equal(trial.body.success, false);
    assert.equal((await send()).body.event, 'CIRCUIT_OPEN');

    // Next trial succeeds → closed.
    svc.clock.advance(5 * MIN);
    target.route('POST', '/flaky/a', { status: 200 });
    const ok = await send();
    assert.equal(ok.body.success, true);
    rb = await svc.get('/api/v1/runbooks/flaky');
    assert.equal(rb.body.circuit.state, 'closed');
    assert.equal(rb.body.circuit.failures, 0);
    const audit = await svc.get('/api/v1/audit?runbook=flaky&limit=200');
    const events = audit.body.events.map((e: any) => e.event);
    assert.equal(events.filter((e: string) => e === 'CIRCUIT_TRIPPED').length, 2);
    assert.equal(events.filter((e: string) => e === 'CIRCUIT_HALF_OPEN').length, 2);
    assert.equal(events.filter((e: string) => e === 'CIRCUIT_CLOSED').length, 1);
    // The two alerts the breaker held off (before each trial), in the row that closes it.
    assert.equal(audit.body.events.find((e: any) => e.event === 'CIRCUIT_CLOSED').details.held_while_open, 2);
    await svc.stop({ remove: true });
  });

  it('circuit breaker: a run that started before the trip and succeeds after it does not close it', async () => {
    target.reset();
    const release = holdCalls(target, 'POST', '/late/slow');
    target.route('POST', '/late/a', { status: 500 });
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'late', '    max_per_hour: 100\n    cooldown_minutes: 0\n    blast_radius_limit: 10')}`,
      args: ['--max-concurrent-executions', '10'],
    });
    const slow = svc.post('/api/v1/incidents?wait=true', incident('late', 'slow'));
    await target.waitForRequest('/late/slow', { since: 0 });
    for (let i = 0; i < 3; i++) assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('late', 'a'))).body.event, 'FAILED');
    assert.equal((await svc.get('/api/v1/runbooks/late')).body.circuit.state, 'open');
    release();
    assert.equal((await slow).body.success, true);
    const rb = (await svc.get('/api/v1/runbooks/late')).body;
    assert.deepEqual([rb.circuit.state, rb.circuit.failures], ['open', 3], 'only a trial run, after the recovery timeout, may close it');
    assert.equal((await svc.post('/api/v1/incidents', incident('late', 'a'))).body.event, 'CIRCUIT_OPEN');
    const events = (await svc.get('/api/v1/audit?runbook=late&limit=200')).body.events.map((e: any) => e.event);
    assert.equal(events.filter((e: string) => e === 'CIRCUIT_CLOSED').length, 0);
    await svc.stop({ remove: true });
  });

  it('circuit breaker: runs in flight that fail after the trip restart the recovery wait from the last failure', async () => {
    target.reset();
    target.route('POST', '/wait/a', { status: 500 });
    const gates = new Map<string, () => void>();
    for (const service of ['s1', 's2']) {
      const opened = new Promise<void>((r) => gates.set(service, r));
      target.route('POST', `/wait/${service}`, async () => (await opened, { status: 500 }));
    }
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'wait', '    max_per_hour: 100\n    cooldown_minutes: 0\n    blast_radius_limit: 10')}`,
      args: ['--max-concurrent-executions', '10'],
    });
    try {
      const inFlight = ['s1', 's2'].map((service) => svc.post('/api/v1/incidents?wait=true', incident('wait', service)));
      for (const service of ['s1', 's2']) await target.waitForRequest(`/wait/${service}`, { since: 0 });
      for (let i = 0; i < 3; i++) assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('wait', 'a'))).body.event, 'FAILED');
      const trippedAt = svc.clock.now();
      // The recovery wait as opened_at says it (trial_from, trial_allowed: test/cli/oncall.test.ts).
      const circuit = async () => (({ state, failures, opened_at }) => ({ state, failures, opened_at }))((await svc.get('/api/v1/runbooks/wait')).body.circuit);
      assert.deepEqual(await circuit(), { state: 'open', failures: 3, opened_at: new Date(trippedAt).toISOString() });

      // The 4th and 5th failures, 60 s and 61 s after the trip: each starts the wait again.
      svc.clock.advance(60_000);
      gates.get('s1')!();
      assert.equal((await inFlight[0]!).body.event, 'FAILED');
      svc.clock.advance(1_000);
      gates.get('s2')!();
      assert.equal((await inFlight[1]!).body.event, 'FAILED');
      const lastFailure = trippedAt + 61_000;
      assert.deepEqual(await circuit(), { state: 'open', failures: 5, opened_at: new Date(lastFailure).toISOString() });
      const rows = (await svc.get('/api/v1/audit?runbook=wait&limit=200')).body.events.filter((e: any) => e.event.startsWith('CIRCUIT_'));
      assert.deepEqual(
        rows.map((e: any) => [e.event, e.at, e.details.failures, e.details.reason]).reverse(),
        [
          ['CIRCUIT_TRIPPED', new Date(trippedAt).toISOString(), 3, '3 consecutive failures (threshold 3)'],
          ...[60_000, 61_000].map((ms, i) => [
            'CIRCUIT_WAIT_RESTARTED',
            new Date(trippedAt + ms).toISOString(),
            4 + i,
            'a run that started before the circuit opened failed while it is open: the recovery wait starts again from this failure',
          ]),
        ],
      );

      // 5 minutes after the trip is not enough: 5 minutes after the last failure is.
      svc.clock.set(trippedAt + 5 * MIN);
      const early = await svc.post('/api/v1/incidents', incident('wait', 'a'));
      assert.deepEqual([early.body.event, early.body.reason], ['CIRCUIT_OPEN', 'Circuit OPEN (too many failures); trial allowed in 61s']);
      svc.clock.set(lastFailure + 5 * MIN);
      target.route('POST', '/wait/a', { status: 200 });
      const trial = await svc.post('/api/v1/incidents?wait=true', incident('wait', 'a'));
      assert.deepEqual([trial.body.action, trial.body.success], ['executed', true]);
      assert.deepEqual(await circuit(), { state: 'closed', failures: 0, opened_at: null });
    } finally {
      for (const open of gates.values()) open();
      await svc.stop({ remove: true });
    }
  });

  for (const trialStatus of [200, 500]) {
    it(`circuit breaker: a run that started before the trip and fails while half-open restarts the wait but leaves the trial to decide (trial ${trialStatus === 200 ? 'succeeds: closed' : 'fails: open again'})`, async () => {
      target.reset();
      const releaseSlow = holdCalls(target, 'POST', '/half/slow', 500);
      target.route('POST', '/half/a', { status: 500 });
      const releaseTrial = holdCalls(target, 'POST', '/half/t', trialStatus);
      const svc = await startTestService({
        runbooks: `runbooks:${runbook(target.url, 'half', '    max_per_hour: 100\n    cooldown_minutes: 0\n    blast_radius_limit: 10')}`,
        args: ['--max-concurrent-executions', '10'],
      });
      try {
        // The recovery wait as opened_at says it (trial_from, trial_allowed: test/cli/oncall.test.ts).
        const circuit = async () => (({ state, failures, opened_at }) => ({ state, failures, opened_at }))((await svc.get('/api/v1/runbooks/half')).body.circuit);
        const slow = svc.post('/api/v1/incidents?wait=true', incident('half', 'slow'));
        await target.waitForRequest('/half/slow', { since: 0 });
        for (let i = 0; i < 3; i++) assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('half', 'a'))).body.event, 'FAILED');
        const trippedAt = svc.clock.now();
        svc.clock.advance(5 * MIN);
        const trial = svc.post('/api/v1/incidents?wait=true', incident('half', 't'));
        await target.waitForRequest('/half/t', { since: 0 });
        assert.equal((await circuit()).state, 'half_open');

        // The pre-trip run fails 10 s into the trial: counted, the wait restarted, still half-open.
        svc.clock.advance(10_000);
        const lateFailure = svc.clock.now();
        releaseSlow();
        assert.equal((await slow).body.event, 'FAILED');
        assert.deepEqual(await circuit(), { state: 'half_open', failures: 4, opened_at: new Date(lateFailure).toISOString() });

        svc.clock.advance(10_000);
        const trialEnd = svc.clock.now();
        releaseTrial();
        const t = (await trial).body;
        assert.deepEqual([t.action, t.success], ['executed', trialStatus === 200]);
        const rows = (await svc.get('/api/v1/audit?runbook=half&limit=200')).body.events.filter((e: any) => e.event.startsWith('CIRCUIT_'));
        assert.deepEqual(
          rows.map((e: any) => [e.event, e.at, e.details.failures, e.details.reason]).reverse(),
          [
            ['CIRCUIT_TRIPPED', new Date(trippedAt).toISOString(), 3, '3 consecutive failures (threshold 3)'],
            ['CIRCUIT_HALF_OPEN', new Date(trippedAt + 5 * MIN).toISOString(), undefined, rows.find((e: any) => e.event === 'CIRCUIT_HALF_OPEN')?.details.reason],
            [
              'CIRCUIT_WAIT_RESTARTED',
              new Date(lateFailure).toISOString(),
              4,
              'a run that started before the circuit opened failed while its trial runs: the trial alone decides (its success closes the circuit, its failure opens it again); should the trial end without a verdict, the next trial waits the recovery time from this failure',
            ],
            trialStatus === 200
              ? ['CIRCUIT_CLOSED', new Date(trialEnd).toISOString(), undefined, 'the trial run succeeded: the circuit is closed again']
              : ['CIRCUIT_TRIPPED', new Date(trialEnd).toISOString(), 5, 'the trial run failed: the circuit opens again'],
          ],
        );
        if (trialStatus === 200) {
          assert.deepEqual(await circuit(), { state: 'closed', failures: 0, opened_at: null });
          assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('half', 't'))).body.success, true);
        } else {
          assert.deepEqual(await circuit(), { state: 'open', failures: 5, opened_at: new Date(trialEnd).toISOString() });
          const next = await svc.post('/api/v1/incidents', incident('half', 't'));
          assert.deepEqual([next.body.event, next.body.reason], ['CIRCUIT_OPEN', 'Circuit OPEN (too many failures); trial allowed in 300s']);
        }
      } finally {
        releaseSlow();
        releaseTrial();
        await svc.stop({ remove: true });
      }
    });
  }

  it('circuit breaker: runs in flight at the trip that fail after the trial closed it are not counted, their FAILED rows say why; a run started after the close counts', async () => {
    target.reset();
    const slow = ['s1', 's2', 's3'];
    const releases = new Map(slow.map((service) => [service, holdCalls(target, 'POST', `/stale/${service}`, 500)]));
    target.route('POST', '/stale/a', { status: 500 });
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'stale', '    max_per_hour: 100\n    cooldown_minutes: 0\n    blast_radius_limit: 10')}`,
      args: ['--max-concurrent-executions', '10'],
    });
    try {
      const circuit = async () => (({ state, failures, opened_at }) => ({ state, failures, opened_at }))((await svc.get('/api/v1/runbooks/stale')).body.circuit);
      const inFlight = slow.map((service) => svc.post('/api/v1/incidents?wait=true', incident('stale', service)));
      for (const service of slow) await target.waitForRequest(`/stale/${service}`, { since: 0 });
      for (let i = 0; i < 3; i++) assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('stale', 'a'))).body.event, 'FAILED');
      const trippedAt = svc.clock.now();
      assert.deepEqual(await circuit(), { state: 'open', failures: 3, opened_at: new Date(trippedAt).toISOString() });
      svc.clock.advance(5 * MIN);
      target.route('POST', '/stale/a', { status: 200 });
      const trial = await svc.post('/api/v1/incidents?wait=true', incident('stale', 'a'));
      assert.deepEqual([trial.body.action, trial.body.event], ['executed', 'SUCCESS']);
      assert.deepEqual(await circuit(), { state: 'closed', failures: 0, opened_at: null });

      // The three runs that started before the trip fail after the close, one after the
      // other: none is counted, the circuit stays closed.
      const ended: string[] = [];
      for (const [i, service] of slow.entries()) {
        svc.clock.advance(1_000);
        releases.get(service)!();
        const r = (await inFlight[i]!).body;
        assert.deepEqual([r.action, r.event, r.success], ['executed', 'FAILED', false], service);
        ended.push(r.execution_id as string);
        assert.deepEqual(await circuit(), { state: 'closed', failures: 0, opened_at: null }, `after ${service} failed`);
      }
      const after = async () => (await svc.get('/api/v1/audit?runbook=stale&limit=500')).body.events.reverse();
      let rows = await after();
      const notCounted = 'not counted: the run started before the circuit last closed (its trial succeeded, or a person closed it), so its failure says nothing of the runbook since';
      const failedRows = (all: any[]) => all.filter((e: any) => e.event === 'FAILED').map((e: any) => [e.execution_id, e.details.circuit]);
      const fast = rows.filter((e: any) => e.event === 'FAILED' && !ended.includes(e.execution_id)).map((e: any) => e.execution_id);
      assert.equal(fast.length, 3);
      assert.deepEqual(failedRows(rows), [...fast.map((id: string) => [id, undefined]), ...ended.map((id) => [id, notCounted])], 'audited as failures, each saying why it was not counted');
      const breakerRows = (all: any[]) => all.filter((e: any) => e.event.startsWith('CIRCUIT_')).map((e: any) => [e.event, e.details.failures, e.details.reason]);
      assert.deepEqual(breakerRows(rows), [
        ['CIRCUIT_TRIPPED', 3, '3 consecutive failures (threshold 3)'],
        ['CIRCUIT_HALF_OPEN', undefined, 'recovery timeout passed: one trial run allowed'],
        ['CIRCUIT_CLOSED', undefined, 'the trial run succeeded: the circuit is closed again'],
      ]);

      // A run started after the close counts as any run does: the third such failure trips it.
      target.route('POST', '/stale/a', { status: 500 });
      const afterClose: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const r = (await svc.post('/api/v1/incidents?wait=true', incident('stale', 'a'))).body;
        assert.equal(r.event, 'FAILED');
        afterClose.push(r.execution_id as string);
        if (i < 3) assert.deepEqual(await circuit(), { state: 'closed', failures: i, opened_at: null });
      }
      assert.deepEqual(await circuit(), { state: 'open', failures: 3, opened_at: new Date(svc.clock.now()).toISOString() });
      rows = await after();
      assert.deepEqual(failedRows(rows).slice(6), afterClose.map((id) => [id, undefined]));
      assert.deepEqual(breakerRows(rows).slice(3), [['CIRCUIT_TRIPPED', 3, '3 consecutive failures (threshold 3)']]);
      assert.equal(rows.filter((e: any) => e.event === 'CIRCUIT_TRIPPED').at(-1).execution_id, afterClose[2]);
    } finally {
      for (const release of releases.values()) release();
      await svc.stop({ remove: true });
    }
  });

  it('circuit breaker: a trial whose pre-check fails ends without a verdict: open again with the wait it had served, and its PRE_CHECK_FAILED row says so', async () => {
    target.reset();
    target.route('GET', '/gated/ready', { status: 200 });
    target.route('POST', '/gated/a', { status: 500 });
    target.route('POST', '/hook', { status: 204 });
    const gate = `    max_per_hour: 100\n    cooldown_minutes: 0\n    pre_checks:\n      - http: {url: "${target.url}/gated/ready", timeout_seconds: 1, interval_seconds: 1}`;
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'gated', gate)}`, args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      const send = () => svc.post('/api/v1/incidents?wait=true', incident('gated', 'a'));
      const circuit = async () => {
        const c = (await svc.get('/api/v1/runbooks/gated')).body.circuit;
        return { state: c.state, failures: c.failures, opened_at: c.opened_at };
      };
      for (let i = 0; i < 3; i++) assert.equal((await send()).body.event, 'FAILED');
      const served = { state: 'open', failures: 3, opened_at: new Date(svc.clock.now()).toISOString() };
      assert.deepEqual(await circuit(), served);

      // After the recovery wait the trial runs, and its pre-check fails: nothing ran.
      svc.clock.advance(5 * MIN);
      target.route('GET', '/gated/ready', { status: 503 });
      const trial = await send();
      assert.deepEqual([trial.body.action, trial.body.event, trial.body.success], ['aborted', 'PRE_CHECK_FAILED', false]);
      assert.equal(target.calls('/gated/a', 'POST'), 3, 'the trial ran no action');
      // Open again with the wait it had served: not counted, and no new wait.
      assert.deepEqual(await circuit(), served);
      await svc.service.drainNotifications();
      const audit = (await svc.get(`/api/v1/audit?execution_id=${trial.body.execution_id}`)).body.events.reverse();
      assert.deepEqual(
        audit.map((a: any) => a.event),
        ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'PRE_CHECK_FAILED', 'NOTIFIED'],
      );
      const check = `http GET ${target.url}/gated/ready`;
      const { notification_id: _id, told: _told, ...ended } = audit[4].details;
      assert.deepEqual(ended, {
        check,
        detail: audit[3].details.detail,
        circuit_trial:
          "it was the circuit's trial run, and it changed nothing, which says nothing about the runbook: the circuit is open again without a new recovery wait, and the next incident may be its trial",
      });
      const breakerRows = (await svc.get('/api/v1/audit?runbook=gated&limit=200')).body.events
        .filter((e: any) => e.event.startsWith('CIRCUIT_'))
        .map((e: any) => e.event)
        .reverse();
      assert.deepEqual(breakerRows, ['CIRCUIT_TRIPPED', 'CIRCUIT_HALF_OPEN'], 'no CIRCUIT_TRIPPED after the trial: no new wait');
      const told = target.requests('/hook', 'POST').map((q) => (q.json() as any).event as string);
      assert.deepEqual(told.sort(), ['CIRCUIT_TRIPPED', 'FAILED', 'FAILED', 'FAILED', 'PRE_CHECK_FAILED'], 'the trial told once, as PRE_CHECK_FAILED');

      // The next incident is the circuit's trial at once, and its success closes it.
      target.route('GET', '/gated/ready', { status: 200 });
      target.route('POST', '/gated/a', { status: 200 });
      const next = await send();
      assert.deepEqual([next.body.action, next.body.success], ['executed', true]);
      assert.deepEqual(await circuit(), { state: 'closed', failures: 0, opened_at: null });
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('circuit breaker: rectify_circuit_state follows every transition, half-open while the trial runs, across a restart and a reload', async () => {
    target.reset();
    const failing = { status: 500 };
    target.route('POST', '/gauge/a', failing);
    /** Answers the held trial request with a status; each trial holds its own. */
    const held: Array<(status: number) => void> = [];
    const other = `runbooks:${runbook(target.url, 'other', '    max_per_hour: 100')}`;
    const gauge = `runbooks:${runbook(target.url, 'gauge', '    max_per_hour: 100\n    cooldown_minutes: 0')}`;
    let svc = await startTestService({ runbooks: { 'gauge.yaml': gauge, 'other.yaml': other }, args: ['--shutdown-grace', '200ms'] });
    const metric = async () => /^rectify_circuit_state\{runbook="gauge"\} (\d+)$/m.exec(String((await svc.get('/metrics')).body))?.[1] ?? 'absent';
    const send = (wait = true) => svc.post(`/api/v1/incidents${wait ? '?wait=true' : ''}`, incident('gauge', 'a'));
    const trip = async () => {
      target.route('POST', '/gauge/a', failing);
      for (let i = 0; i < 3; i++) assert.equal((await send()).body.event, 'FAILED');
    };
    /** After the recovery wait, starts the trial and answers once its request is held at the target. */
    const startTrial = async (wait = true) => {
      svc.clock.advance(5 * MIN);
      target.route('POST', '/gauge/a', () => new Promise((r) => held.push((status) => r({ status }))));
      const trial = send(wait);
      // The next request (registered before the trial's can arrive): one `since` now could be the trip's last, in the same millisecond.
      await target.waitForRequest('/gauge/a');
      // Wrapped: an async function returning the promise itself would wait for the trial's end.
      return { trial };
    };
    try {
      assert.equal(await metric(), '0');
      await trip();
      assert.equal(await metric(), '1');

      // A trial that fails: half-open (2) while it runs, as the API and the audit say, then open (1) again.
      let { trial } = await startTrial();
      assert.equal((await svc.get('/api/v1/runbooks/gauge')).body.circuit.state, 'half_open');
      assert.equal((await svc.get('/api/v1/audit?runbook=gauge&event=CIRCUIT_HALF_OPEN')).body.events.length, 1);
      assert.equal(await metric(), '2', 'half-open while the trial runs');
      held.shift()!(500);
      assert.equal((await trial).body.success, false);
      assert.equal(await metric(), '1');

      // A trial that succeeds closes it (0).
      ({ trial } = await startTrial());
      assert.equal(await metric(), '2');
      held.shift()!(200);
      assert.equal((await trial).body.success, true);
      assert.equal(await metric(), '0');

      // A trial cut off by a stop re-opens the circuit; the next start reads the gauge from the store.
      await trip();
      await startTrial(false);
      assert.equal(await metric(), '2');
      svc = await svc.restart();
      held.shift()!(500);
      assert.equal((await svc.get('/api/v1/runbooks/gauge')).body.circuit.state, 'open');
      assert.equal(await metric(), '1', 'read from the store at startup');

      // A reload removes the runbook while its trial runs: the trial's end does not bring its series back.
      ({ trial } = await startTrial());
      assert.equal(await metric(), '2');
      rmSync(join(svc.runbooksDir, 'gauge.yaml'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: ['gauge'], changed: [], reordered: false });
      assert.equal(await metric(), 'absent');
      held.shift()!(200);
      assert.equal((await trial).body.success, true);
      assert.equal(await metric(), 'absent', 'a removed runbook has no series');
      // Added again: its state as the store has it (the trial closed it).
      writeFileSync(join(svc.runbooksDir, 'gauge.yaml'), gauge);
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: ['gauge'], removed: [], changed: [], reordered: false });
      assert.equal(await metric(), '0');
    } finally {
      for (const answer of held) answer(200);
      await svc.stop({ remove: true });
    }
  });

  it('pause blocks automatic runs until resume; both audited', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'pz', '    max_per_hour: 10\n    cooldown_minutes: 0')}` });
    const p = await svc.post('/api/v1/pause', { by: 'alice', reason: 'investigating' });
    assert.deepEqual(p.body, { paused: true, changed: true });
    const blocked = await svc.post('/api/v1/incidents?wait=true', incident('pz', 'a'));
    assert.equal(blocked.body.action, 'blocked');
    assert.equal(blocked.body.event, 'PAUSED');
    assert.equal(target.calls('/pz/a'), 0);
    assert.equal((await svc.post('/api/v1/resume', { by: 'alice' })).body.paused, false);
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('pz', 'a'))).body.action, 'executed');
    const audit = await svc.get('/api/v1/audit?event=SERVICE_PAUSED');
    assert.equal(audit.body.events[0].actor, 'alice');
    await svc.stop({ remove: true });
  });

  it('a resume says how many alerts the pause held off, per runbook, in its answer, audit row and notification: their re-deliveries stay duplicates', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    target.route('POST', '/py/a', { status: 200 });
    const rbs = `runbooks:${runbook(target.url, 'pz', '    max_per_hour: 10\n    cooldown_minutes: 0')}${runbook(target.url, 'py', '    max_per_hour: 10\n    cooldown_minutes: 0')}`;
    const svc = await startTestService({ runbooks: rbs, args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      const fire = (alertname: string, fingerprint: string) =>
        svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels: { alertname, service: 'a' }, fingerprint }]));
      // Held off before the pause: not counted.
      await svc.post('/api/v1/runbooks/py/pause', { by: 'ops' });
      assert.equal((await fire('py', 'f0')).body.results[0].event, 'PAUSED');
      svc.clock.advance(1000);
      await svc.post('/api/v1/runbooks/py/resume', { by: 'ops' });
      svc.clock.advance(1000);

      assert.equal((await svc.post('/api/v1/pause', { by: 'ops', reason: 'incident 42' })).status, 200);
      for (const [name, fp] of [['pz', 'f1'], ['pz', 'f2'], ['py', 'f3']] as const) assert.equal((await fire(name, fp)).body.results[0].event, 'PAUSED');
      // Its re-delivery is a duplicate: not counted twice.
      assert.equal((await fire('pz', 'f1')).body.results[0].action, 'duplicate');
      const resumed = await svc.post('/api/v1/resume', { by: 'ops' });
      const held = { alerts: 3, runbooks: [{ runbook: 'py', alerts: 1 }, { runbook: 'pz', alerts: 2 }] };
      assert.deepEqual(resumed.body, { paused: false, changed: true, held_while_paused: held, runbooks_paused: [] });
      const row = (await svc.get('/api/v1/audit?event=SERVICE_RESUMED')).body.events[0];
      assert.deepEqual(row.details.held_while_paused, held);
      await svc.service.drainNotifications();
      const told = target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.event === 'SERVICE_RESUMED');
      assert.deepEqual(
        told.map((n) => n.reason),
        [
          'automatic remediation resumed by ops; 3 alerts were held off while paused (py: 1, pz: 2): rectify does not decide them again (a re-delivery is a duplicate), so act by hand on those still firing',
        ],
      );
      // As the resume says: a re-delivery after it is still the occurrence decided PAUSED.
      const again = (await fire('pz', 'f2')).body.results[0];
      assert.deepEqual([again.action, again.reason], ['duplicate', 'already decided: blocked (PAUSED)']);
      assert.equal(target.calls('/pz/a'), 0);

      // One runbook's switch: its own alerts since it was paused.
      svc.clock.advance(1000);
      await svc.post('/api/v1/runbooks/pz/pause', { by: 'ops' });
      assert.equal((await fire('pz', 'f4')).body.results[0].event, 'PAUSED');
      assert.equal((await fire('py', 'f5')).body.results[0].event, 'SUCCESS');
      const own = await svc.post('/api/v1/runbooks/pz/resume', { by: 'ops' });
      assert.deepEqual([own.body.changed, own.body.held_while_paused], [true, { alerts: 1, runbooks: [{ runbook: 'pz', alerts: 1 }] }]);
      // Nothing held off: said as 0, the notification says nothing more.
      svc.clock.advance(1000);
      await svc.post('/api/v1/pause', { by: 'ops' });
      assert.deepEqual((await svc.post('/api/v1/resume', { by: 'ops' })).body, { paused: false, changed: true, held_while_paused: { alerts: 0, runbooks: [] }, runbooks_paused: [] });
      assert.deepEqual((await svc.post('/api/v1/resume', { by: 'ops' })).body, { paused: false, changed: false, runbooks_paused: [] });
      assert.deepEqual((await svc.post('/api/v1/pause', { by: 'ops' })).body, { paused: true, changed: true });
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a kill switch body with a key it does not have is refused, naming it; without tokens `by` is required', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'pz', '    max_per_hour: 10\n    cooldown_minutes: 0')}` });
    try {
      const refused = (path: string, message: string) => ({ error: { code: 'VALIDATION_FAILED', message: `invalid body: ${path}: ${message}`, details: [{ path, message }] } });
      const noBy = refused('body.by', 'required when no API tokens are configured (who is acting, for the audit log)');
      for (const url of ['/api/v1/pause', '/api/v1/runbooks/pz/pause']) {
        const empty = await svc.post(url, {});
        assert.deepEqual([empty.status, empty.body], [400, noBy], url);
        const none = await svc.app.inject({ method: 'POST', url });
        assert.deepEqual([none.statusCode, JSON.parse(none.body)], [400, noBy], `${url} without a body`);
      }
      const typo = await svc.post('/api/v1/pause', { by: 'ops', reasn: 'incident 42' });
      assert.deepEqual([typo.status, typo.body], [400, refused('body.reasn', 'unknown key (did you mean "reason"?): a kill switch\'s body has by, reason')]);
      assert.equal((await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events.length, 0, 'nothing paused');
      assert.equal((await svc.get('/api/v1/audit?event=RUNBOOK_PAUSED')).body.events.length, 0, 'nothing paused');

      assert.equal((await svc.post('/api/v1/pause', { by: 'ops', reason: 'incident 42' })).status, 200);
      // Meant for one runbook, sent to the global switch: refused, still paused.
      const one = await svc.post('/api/v1/resume', { by: 'ops', runbook: 'pz' });
      assert.deepEqual(
        [one.status, one.body],
        [400, refused('body.runbook', "unknown key: a kill switch's body has by, reason; one runbook has its own kill switch: POST /api/v1/runbooks/{id}/pause or /resume")],
      );
      assert.equal((await svc.get('/api/v1/audit?event=SERVICE_RESUMED')).body.events.length, 0);
      assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('pz', 'a'))).body.event, 'PAUSED');
      assert.deepEqual((await svc.post('/api/v1/resume', { by: 'ops' })).body, { paused: false, changed: true, held_while_paused: { alerts: 1, runbooks: [{ runbook: 'pz', alerts: 1 }] }, runbooks_paused: [] });
      const actors = (await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events.concat((await svc.get('/api/v1/audit?event=SERVICE_RESUMED')).body.events);
      assert.deepEqual(actors.map((e: any) => e.actor), ['ops', 'ops']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a kill switch turned on while an automatic run is in its pre-check stops it before its first action: PAUSED, told, not counted; a manual run goes on', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    const two = `runbooks:
  inflight:
    risk: LOW
    triggers: [inflight]
    max_per_hour: 100
    cooldown_minutes: 0
    pre_checks:
      - http: {url: "${target.url}/inflight/ready", timeout_seconds: 10}
    actions:
      - http: {method: POST, url: "${target.url}/inflight/{service}"}
      - http: {method: POST, url: "${target.url}/inflight2/{service}"}
`;
    const svc = await startTestService({ runbooks: two, args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      target.route('POST', '/inflight/a', { status: 200 });
      target.route('POST', '/inflight2/a', { status: 200 });
      // Each run's pre-check is held until the kill switch is on.
      const inPreCheck = async (send: () => Promise<any>, pause: () => Promise<unknown>) => {
        const release = holdCalls(target, 'GET', '/inflight/ready');
        const since = Date.now();
        const answer = send();
        await target.waitForRequest('/inflight/ready', { since, timeoutMs: 5000 });
        await pause();
        release();
        return (await answer).body;
      };

      // The global pause.
      const global = await inPreCheck(
        () => svc.post('/api/v1/incidents?wait=true', incident('inflight', 'a')),
        () => svc.post('/api/v1/pause', { by: 'alice', reason: 'investigating' }),
      );
      const globalWhy = 'paused before action 1: rectify is paused: automatic remediation is off (POST /api/v1/resume); nothing was changed';
      assert.deepEqual([global.action, global.event, global.reason, global.success], ['blocked', 'PAUSED', globalWhy, false]);
      assert.equal(target.calls('/inflight/a', 'POST') + target.calls('/inflight2/a', 'POST'), 0, 'no action ran');
      const exe = (await svc.get(`/api/v1/executions/${global.execution_id}`)).body;
      assert.deepEqual([exe.state, exe.outcome, exe.steps.map((s: any) => s.phase)], ['aborted', globalWhy, ['pre_check']]);
      await svc.service.drainNotifications();
      const rows = (await svc.get(`/api/v1/audit?execution_id=${global.execution_id}`)).body.events.reverse();
      assert.deepEqual(
        rows.map((a: any) => a.event),
        ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'PAUSED', 'NOTIFIED'],
      );
      const told = target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.execution_id === global.execution_id);
      assert.deepEqual(told.map((n) => [n.event, n.outcome, n.reason]), [['PAUSED', 'aborted', globalWhy]]);
      // Its row records its notification, as the other outcomes' do: told again after a restart if never delivered.
      assert.deepEqual(rows[3].details, {
        reason: globalWhy,
        action: `POST ${target.url}/inflight/a`,
        steps: 1,
        notification_id: told[0].notification_id,
        told: { to: [...svc.service.receivers], outcome: 'aborted', reason: globalWhy, service: 'a', approval_id: null, needs_human: false },
      });
      assert.equal(rows[4].details.notification_id, told[0].notification_id);

      // A manual run goes on: a person chose it.
      const manual = await inPreCheck(
        () => svc.post('/api/v1/runbooks/inflight/run?wait=true', { by: 'bob', params: { service: 'a' } }),
        async () => undefined,
      );
      assert.deepEqual([manual.action, manual.event], ['executed', 'SUCCESS']);
      assert.equal(target.calls('/inflight2/a', 'POST'), 1);
      await svc.post('/api/v1/resume', { by: 'alice' });

      // The runbook's own switch, on the circuit's trial run: the trial ends without a
      // verdict (open again with the wait it had served), no failure counted.
      target.route('POST', '/inflight/a', { status: 500 });
      for (let i = 0; i < 3; i++) assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('inflight', 'a'))).body.event, 'FAILED');
      const circuit = async () => {
        const c = (await svc.get('/api/v1/runbooks/inflight')).body.circuit;
        return { state: c.state, failures: c.failures, opened_at: c.opened_at };
      };
      const served = await circuit();
      assert.equal(served.state, 'open');
      svc.clock.advance(5 * MIN);
      const trial = await inPreCheck(
        () => svc.post('/api/v1/incidents?wait=true', incident('inflight', 'a')),
        () => svc.post('/api/v1/runbooks/inflight/pause', { by: 'carol', reason: 'bad deploy' }),
      );
      const ownWhy = 'paused before action 1: runbook inflight is paused by carol (bad deploy): it does not run automatically (POST /api/v1/runbooks/inflight/resume); nothing was changed';
      assert.deepEqual([trial.action, trial.event, trial.reason], ['blocked', 'PAUSED', ownWhy]);
      assert.equal(target.calls('/inflight/a', 'POST'), 4, 'the trial ran no action');
      assert.deepEqual(await circuit(), served, 'open again, not counted, no new wait');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('time windows: outside them nothing runs by itself', async () => {
    target.reset();
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'night', '    max_per_hour: 10\n    cooldown_minutes: 0\n    windows:\n      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "22:00", end: "06:00", timezone: UTC}')}`,
    });
    // The test clock starts at 03:00 UTC: inside the wrapping window.
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('night', 'a'))).body.action, 'executed');
    svc.clock.advance(9 * 60 * MIN); // 12:00 UTC
    const r = await svc.post('/api/v1/incidents?wait=true', incident('night', 'a'));
    assert.equal(r.body.action, 'blocked');
    assert.equal(r.body.event, 'OUTSIDE_WINDOW');
    assert.equal(r.body.reason, "outside the runbook's allowed windows (mon, tue, wed, thu, fri, sat, sun 22:00–06:00 UTC)");
    await svc.stop({ remove: true });
  });

  it('time windows with outside_windows: approval: outside them a person is asked, at any risk, and the other guardrails still apply', async () => {
    target.reset();
    target.route('GET', '/others-healthy', { status: 200 });
    const night = '    windows:\n      - {start: "22:00", end: "06:00"}\n';
    const ask = `${night}    outside_windows: approval\n`;
    const guarded = (risk: string) =>
      `    risk: ${risk}\n    guardrails:\n      - http: {url: "${target.url}/others-healthy", timeout_seconds: 1, interval_seconds: 1}\n`;
    const svc = await startTestService({
      runbooks: `runbooks:${[
        runbook(target.url, 'low', `    max_per_hour: 10\n    cooldown_minutes: 0\n${ask}`),
        runbook(target.url, 'blocks', `    max_per_hour: 10\n    cooldown_minutes: 0\n${night}    outside_windows: block\n`),
        runbook(target.url, 'once', `    max_per_hour: 1\n${ask}`),
        runbook(target.url, 'rehearse', `    mode: dry_run\n${ask}`),
      ].join('')}
  medium:
${guarded('MEDIUM')}    triggers: [medium]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
${ask}    action:
      http: {method: POST, url: "${target.url}/medium/{service}"}
  high:
    risk: HIGH
    triggers: [high]
    min_confidence: 0.5
${ask}    action:
      http: {method: POST, url: "${target.url}/high/{service}"}
`,
    });
    try {
      const post = async (root: string) => (await svc.post('/api/v1/incidents?wait=true', incident(root, 'a'))).body;
      // 03:00 UTC, inside the window: as without the option.
      assert.deepEqual([(await post('low')).action, (await post('medium')).action], ['executed', 'executed']);
      assert.equal((await post('high')).reason, 'risk HIGH requires approval');
      svc.clock.advance(9 * 60 * MIN); // 12:00 UTC, outside it
      const windows = "outside the runbook's allowed windows (every day 22:00–06:00 UTC)";
      const low = await post('low');
      assert.deepEqual([low.action, low.event, low.reason], ['approval_required', 'APPROVAL_REQUIRED', `risk LOW: ${windows}`]);
      assert.ok(low.approval_id);
      const medium = await post('medium');
      assert.deepEqual([medium.action, medium.event, medium.reason], ['approval_required', 'APPROVAL_REQUIRED', `risk MEDIUM: ${windows}`]);
      target.route('GET', '/others-healthy', { status: 503 });
      const failing = await svc.post('/api/v1/incidents?wait=true', incident('medium', 'b'));
      assert.equal(failing.body.action, 'approval_required');
      assert.match(failing.body.reason, new RegExp(`^risk MEDIUM: ${windows.replace(/[()]/g, '\\$&')}; guardrail failed: http: `));
      const high = await post('high');
      assert.deepEqual([high.action, high.reason], ['approval_required', `risk HIGH requires approval; ${windows}`]);
      // Written out, block is the default: blocked, nobody asked.
      const blocks = await post('blocks');
      assert.deepEqual([blocks.action, blocks.event, blocks.reason, blocks.approval_id], ['blocked', 'OUTSIDE_WINDOW', windows, null]);
      // The rate limit holds as for any alert: blocked, not asked (its one run this hour by hand).
      assert.equal((await svc.post('/api/v1/runbooks/once/run?wait=true', { params: { service: 'a' }, by: 'alice' })).body.action, 'executed');
      const once = await post('once');
      assert.deepEqual([once.action, once.event], ['blocked', 'RATE_LIMITED']);
      // A dry run asks nobody: it says a real run would ask, and why.
      const rehearse = await post('rehearse');
      assert.deepEqual(
        [rehearse.action, rehearse.approval_id, rehearse.reason],
        ['dry_run', null, `runbook mode is dry_run: nothing was executed (a real run would ask for approval first: risk LOW: ${windows})`],
      );
      assert.deepEqual([target.calls('/low/a'), target.calls('/medium/a'), target.calls('/medium/b'), target.calls('/high/a'), target.calls('/blocks/a')], [1, 1, 0, 0, 0]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('time windows: the reason names each window\'s days, as the runbook writes them, with its hours and time zone', async () => {
    target.reset();
    const windows = {
      // Saturday 23:00 is outside weeknights 22:00–06:00, though 23:00 is not.
      weeknights: '[{days: mon-fri, start: "22:00", end: "06:00"}]',
      named: '[{days: [Monday, wed-thu], start: "09:00", end: "17:00", timezone: Europe/Paris}, {start: "01:00", end: "02:00"}]',
      wrapping: '[{days: fri-mon, start: "08:00", end: "12:00", timezone: UTC}, {days: sat, start: "00:00", end: "06:00", timezone: America/New_York}]',
    };
    const svc = await startTestService({
      runbooks: `runbooks:${Object.entries(windows)
        .map(([id, w]) => runbook(target.url, id, `    max_per_hour: 10\n    windows: ${w}`))
        .join('')}`,
    });
    try {
      svc.clock.set(Date.UTC(2026, 10, 28, 23, 0)); // Saturday 23:00 UTC (18:00 in New York, Sunday 00:00 in Paris)
      const reasons: Record<string, string> = {};
      for (const id of Object.keys(windows)) {
        const r = await svc.post('/api/v1/incidents', incident(id, 'a'));
        assert.equal(r.body.event, 'OUTSIDE_WINDOW');
        reasons[id] = r.body.reason;
      }
      assert.deepEqual(reasons, {
        weeknights: "outside the runbook's allowed windows (mon–fri 22:00–06:00 UTC)",
        named: "outside the runbook's allowed windows (Monday, wed–thu 09:00–17:00 Europe/Paris; every day 01:00–02:00 UTC)",
        wrapping: "outside the runbook's allowed windows (fri–mon 08:00–12:00 UTC; sat 00:00–06:00 America/New_York)",
      });
      assert.equal(target.calls('/weeknights/a') + target.calls('/named/a') + target.calls('/wrapping/a'), 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('low confidence goes to a human; dry-run mode records and runs nothing', async () => {
    target.reset();
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'sure', '    max_per_hour: 10', { minConfidence: 0.8 })}${runbook(target.url, 'rehearse', '    mode: dry_run')}`,
    });
    const low = await svc.post('/api/v1/incidents', incident('sure', 'a', { confidence: 0.6 }));
    assert.equal(low.body.action, 'manual');
    assert.equal(low.body.event, 'LOW_CONFIDENCE');
    assert.equal(low.body.reason, 'Confidence 0.6 < 0.8');
    const dry = await svc.post('/api/v1/incidents?wait=true', incident('rehearse', 'a'));
    assert.equal(dry.body.action, 'dry_run');
    assert.equal(dry.body.event, 'DRY_RUN');
    assert.equal(target.calls('/rehearse/a'), 0);
    const audit = await svc.get(`/api/v1/audit?incident_id=${dry.body.incident_id}`);
    assert.deepEqual(audit.body.events[0].details.actions, [`POST ${target.url}/rehearse/a`]);
    await svc.stop({ remove: true });
  });

  // Regression: a manual run of a runbook whose match: excludes kube-system restarted a
  // kube-system deployment, though the same alert finds no runbook.
  it("a manual run keeps the runbook's exclusions (negative match: matchers on the values it gives); positive matchers are not required", async () => {
    target.reset();
    target.route('POST', '/k-restart/kube-system/coredns', { status: 200 });
    target.route('POST', '/k-restart/shop/web', { status: 200 });
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'k-restart', `    match: ['namespace!~"kube-system|kube-public"', 'service!="payments"', 'alertname="KubeDeploymentReplicasMismatch"']\n    max_per_hour: 10\n    cooldown_minutes: 0\n`, { path: '/k-restart/{namespace}/{deployment}' })}`,
    });
    const alert = await svc.post('/api/v1/incidents', incident('k-restart', 'coredns', { context: { deployment: 'coredns', namespace: 'kube-system' } }));
    assert.equal(alert.body.event, 'NO_RUNBOOK');
    const fix = 'a manual run keeps the runbook\'s exclusions, and nothing overrides them; to act there, use a runbook whose match: allows it (a reviewed change to the runbooks), or act by hand outside rectify';
    const r = await svc.post('/api/v1/runbooks/k-restart/run?wait=true', { by: 'alice', params: { deployment: 'coredns', namespace: 'kube-system' } });
    assert.deepEqual([r.body.action, r.body.event, r.body.execution_id], ['blocked', 'PARAM_REFUSED', null]);
    assert.equal(r.body.reason, `runbook k-restart excludes namespace "kube-system" (match: namespace!~"kube-system|kube-public"): ${fix}`);
    const dry = await svc.post('/api/v1/runbooks/k-restart/run', { by: 'alice', dry_run: true, params: { deployment: 'coredns', namespace: 'kube-public' } });
    assert.equal(dry.body.event, 'PARAM_REFUSED');
    const payments = await svc.post('/api/v1/runbooks/k-restart/run', { by: 'alice', service: 'payments', params: { deployment: 'web', namespace: 'shop' } });
    assert.equal(payments.body.reason, `runbook k-restart excludes service "payments" (match: service!="payments"): ${fix}`);
    assert.equal(target.requests().length, 0, 'nothing was called');
    const audit = (await svc.get(`/api/v1/audit?incident_id=${r.body.incident_id}`)).body.events.map((e: { event: string }) => e.event).reverse();
    assert.deepEqual(audit, ['MANUAL_RUN', 'PARAM_REFUSED']);
    // Elsewhere it runs, without the alertname a manual run does not carry.
    const ok = await svc.post('/api/v1/runbooks/k-restart/run?wait=true', { by: 'alice', params: { deployment: 'web', namespace: 'shop' } });
    assert.deepEqual([ok.body.action, ok.body.success], ['executed', true], ok.body.reason);
    assert.equal(target.calls('/k-restart/shop/web'), 1);
    await svc.stop({ remove: true });
  });

  it('global --dry-run runs nothing', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'g', '')}`, args: ['--dry-run'] });
    const r = await svc.post('/api/v1/incidents?wait=true', incident('g', 'a'));
    assert.equal(r.body.action, 'dry_run');
    assert.equal(r.body.reason, 'rectify runs with --dry-run: nothing was executed');
    assert.equal(target.calls('/g/a'), 0);
    await svc.stop({ remove: true });
  });

  // Regression: a HIGH runbook in mode: dry_run, or a MEDIUM one whose guardrail failed,
  // opened an approval request (its owner was paged), and approving it ran nothing.
  it('a dry run asks nobody for approval: it records that a real run would ask, and why', async () => {
    target.reset();
    target.route('GET', '/others-healthy', { status: 503 });
    const rehearsed = `runbooks:
  rehearse-high:
    risk: HIGH
    mode: dry_run
    triggers: [rehearse_high]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${target.url}/high/{service}"}
  rehearse-medium:
    risk: MEDIUM
    mode: dry_run
    triggers: [rehearse_medium]
    min_confidence: 0.5
    guardrails:
      - http: {url: "${target.url}/others-healthy", timeout_seconds: 0.2, interval_seconds: 0.1}
    action:
      http: {method: POST, url: "${target.url}/medium/{service}"}
`;
    const svc = await startTestService({ runbooks: rehearsed });
    const high = await svc.post('/api/v1/incidents?wait=true', incident('rehearse_high', 'a'));
    assert.deepEqual([high.body.action, high.body.event, high.body.approval_id], ['dry_run', 'DRY_RUN', null]);
    assert.equal(high.body.reason, 'runbook mode is dry_run: nothing was executed (a real run would ask for approval first: risk HIGH requires approval)');
    const med = await svc.post('/api/v1/incidents?wait=true', incident('rehearse_medium', 'a'));
    assert.deepEqual([med.body.action, med.body.event, med.body.approval_id], ['dry_run', 'DRY_RUN', null]);
    assert.match(med.body.reason, /^runbook mode is dry_run: nothing was executed \(a real run would ask for approval first: risk MEDIUM: guardrail failed: http: /);
    assert.deepEqual((await svc.get('/api/v1/approvals?status=pending')).body.approvals, []);
    assert.equal((await svc.get('/api/v1/audit?event=APPROVAL_REQUIRED')).body.events.length, 0);
    assert.equal(target.calls('/high/a') + target.calls('/medium/a'), 0);
    await svc.stop({ remove: true });

    // The same under --dry-run, for a runbook that would otherwise ask.
    const g = await startTestService({ runbooks: rehearsed.replace(/ {4}mode: dry_run\n/g, ''), args: ['--dry-run'] });
    const r = await g.post('/api/v1/incidents?wait=true', incident('rehearse_high', 'b'));
    assert.deepEqual([r.body.action, r.body.approval_id], ['dry_run', null]);
    assert.equal(r.body.reason, 'rectify runs with --dry-run: nothing was executed (a real run would ask for approval first: risk HIGH requires approval)');
    assert.deepEqual((await g.get('/api/v1/approvals?status=pending')).body.approvals, []);
    await g.stop({ remove: true });
  });

  it('MEDIUM risk runs when its guardrail conditions hold, asks approval when one fails', async () => {
    target.reset();
    target.route('GET', '/others-healthy', { status: 200 });
    const svc = await startTestService({
      runbooks: `runbooks:
  restart-service:
    risk: MEDIUM
    triggers: [service_unhealthy]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    guardrails:
      - http: {url: "${target.url}/others-healthy", timeout_seconds: 1, interval_seconds: 1}
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
`,
    });
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('service_unhealthy', 'a'))).body.action, 'executed');
    target.route('GET', '/others-healthy', { status: 503 });
    const r = await svc.post('/api/v1/incidents?wait=true', incident('service_unhealthy', 'a'));
    assert.equal(r.body.action, 'approval_required');
    assert.match(r.body.reason, /^risk MEDIUM: guardrail failed: http: /);
    assert.equal(target.calls('/restart/a', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  const medium = (guardrail: string) => `runbooks:
  restart-service:
    risk: MEDIUM
    triggers: [service_unhealthy]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    guardrails:
      - ${guardrail}
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
`;

  // A guardrail polls like any check: when the next interval falls past its timeout,
  // the last attempt is made at the timeout (it was made only at 0 s, and the run
  // went to a person).
  it('a guardrail whose timeout is shorter than its interval is tried again at its timeout', async () => {
    target.reset();
    let first: number | undefined;
    target.route('GET', '/warming', () => {
      first ??= Date.now();
      return { status: Date.now() - first >= 100 ? 200 : 503 };
    });
    const svc = await startTestService({ runbooks: medium(`http: {url: "${target.url}/warming", timeout_seconds: 0.4, interval_seconds: 0.5}`) });
    const r = await svc.post('/api/v1/incidents?wait=true', incident('service_unhealthy', 'a'));
    assert.equal(r.body.action, 'executed', r.body.reason);
    const [a, b] = target.requests('/warming').map((q) => q.at);
    assert.equal(target.calls('/warming'), 2);
    // At the timeout (400 ms after the check began), not at once and not after the
    // interval; the first request's arrival may lag its start by a new connection.
    assert.ok(b! - a! >= 300 && b! - a! < 700, `second attempt ${b! - a!}ms after the first`);
    await svc.stop({ remove: true });
  });

  // The budget still holds: with the default timeout (cut to the budget) and an interval
  // past it, the last attempt is made at 14 s and has the last second of the 15.
  it('a guardrail that never answers is stopped within the 15 s budget, its last attempt in its last second', async () => {
    target.reset();
    target.route('GET', '/hangs', { status: 200, delayMs: 60_000 });
    const svc = await startTestService({ runbooks: medium(`http: {url: "${target.url}/hangs", interval_seconds: 20}`) });
    const started = Date.now();
    const r = await svc.post('/api/v1/incidents?wait=true', incident('service_unhealthy', 'a'));
    const took = Date.now() - started;
    assert.equal(r.body.action, 'approval_required');
    assert.match(r.body.reason, /^risk MEDIUM: guardrail failed: http: no answer within (9\d\dms|1s) after 2 attempts$/);
    // The bounds are wide where a loaded machine can only move the figures one way: a
    // late first arrival (a new connection) shortens the gap between the two requests,
    // a slow event loop lengthens the answer. The reason above pins the last attempt's
    // own timeout to the budget's last second.
    assert.ok(took >= 14_900 && took < 16_500, `decided after ${took}ms`);
    const [a, b] = target.requests('/hangs').map((q) => q.at);
    assert.ok(b! - a! >= 13_000 && b! - a! < 15_000, `last attempt ${b! - a!}ms after the first`);
    assert.equal(target.calls('/restart/a', 'POST'), 0);
    await svc.stop({ remove: true });
  });
});

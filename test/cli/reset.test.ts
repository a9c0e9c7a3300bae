import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cli } from './capture.js';

const runbooks = (base: string) => `runbooks:
  flaky:
    risk: LOW
    triggers: [flaky]
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/flaky/{service}"}
  cool:
    risk: LOW
    triggers: [cool]
    max_per_hour: 100
    cooldown_minutes: 30
    action:
      http: {method: POST, url: "${base}/cool/{service}"}
`;

describe('rectify circuit close and rectify cooldown clear against a running service', () => {
  let target: HttpTarget;
  let svc: TestService;
  let env: Record<string, string>;
  before(async () => {
    target = await startHttpTarget();
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--listen', '127.0.0.1:0'] });
    env = { RECTIFY_SERVER: await svc.service.listen() };
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });
  const alert = (root: string, service: string) => svc.post('/api/v1/incidents?wait=true', { root_cause: root, service, confidence: 0.9 });

  it('circuit close: usage mistakes exit 2 and send nothing, an unknown runbook and a closed circuit exit 1, a close exits 0 and the next alert runs', async () => {
    target.route('POST', '/flaky/a', { status: 500 });
    for (let i = 0; i < 3; i++) assert.equal((await alert('flaky', 'a')).body.event, 'FAILED');
    assert.equal((await alert('flaky', 'a')).body.event, 'CIRCUIT_OPEN');

    const noReason = await cli(['circuit', 'close', 'flaky'], { env });
    assert.deepEqual([noReason.code, noReason.err], [2, ['rectify circuit close: --reason: required (why, for the audit log)', 'see: rectify circuit --help']]);
    const noReasonJson = await cli(['circuit', 'close', 'flaky', '--json'], { env });
    assert.equal(noReasonJson.code, 2);
    assert.equal(noReasonJson.json().error.message, 'rectify circuit close: --reason: required (why, for the audit log)');
    const typo = await cli(['circuit', 'clsoe', 'flaky', '--reason', 'fixed'], { env });
    assert.deepEqual([typo.code, typo.err[0]], [2, 'rectify circuit: unknown subcommand "clsoe" (did you mean "circuit close"?)']);
    const unknown = await cli(['circuit', 'close', 'flaky-x', '--reason', 'fixed'], { env });
    assert.deepEqual([unknown.code, unknown.err], [1, ['rectify: NOT_FOUND: no runbook "flaky-x" is loaded (did you mean "flaky"?)']]);
    assert.equal((await svc.get('/api/v1/runbooks/flaky')).body.circuit.state, 'open', 'nothing was changed');

    const closed = await cli(['circuit', 'close', 'flaky', '--reason', 'upstream fixed', '--by', 'carol'], { env });
    assert.equal(closed.code, 0, closed.err.join('\n'));
    assert.match(closed.out[0]!, /^closed the circuit of flaky \(it was open since .+, 3 failures\): its next alert is decided as usual$/);
    const rows = (await svc.get('/api/v1/audit?event=CIRCUIT_CLOSED')).body.events;
    assert.deepEqual(
      rows.map((r: any) => [r.actor, r.runbook, r.details.reason, r.details.was]),
      [['carol', 'flaky', 'upstream fixed', 'open']],
    );
    const again = await cli(['circuit', 'close', 'flaky', '--reason', 'again', '--json'], { env });
    assert.equal(again.code, 1);
    assert.equal(again.json().error.code, 'CONFLICT');
    assert.equal(again.json().error.message, 'the circuit of runbook flaky is closed (0 failures in a row): there is nothing to close');

    target.route('POST', '/flaky/a', { status: 200 });
    const next = await alert('flaky', 'a');
    assert.deepEqual([next.body.action, next.body.event], ['executed', 'SUCCESS']);
  });

  it('cooldown clear: one service, --json; nothing in force exits 1', async () => {
    target.route('POST', '/cool/a', { status: 200 });
    assert.equal((await alert('cool', 'a')).body.event, 'SUCCESS');
    assert.equal((await alert('cool', 'a')).body.event, 'RATE_LIMITED');
    const noReason = await cli(['cooldown', 'clear', 'cool', '--service', 'a'], { env });
    assert.equal(noReason.code, 2);
    const cleared = await cli(['cooldown', 'clear', 'cool', '--service', 'a', '--reason', 'fixed by hand', '--by', 'dave', '--json'], { env });
    assert.equal(cleared.code, 0, cleared.err.join('\n'));
    assert.deepEqual(
      cleared.json().cleared.map((c: any) => [c.kind, c.subject]),
      [['service', 'a']],
    );
    const rows = (await svc.get('/api/v1/audit?event=COOLDOWN_CLEARED')).body.events;
    assert.deepEqual(
      rows.map((r: any) => [r.actor, r.details.reason, r.details.service]),
      [['dave', 'fixed by hand', 'a']],
    );
    const none = await cli(['cooldown', 'clear', 'cool', '--service', 'a', '--reason', 'again'], { env });
    assert.deepEqual([none.code, none.err], [1, ['rectify: CONFLICT: runbook cool has no cooldown in force on service a: there is nothing to end']]);
    assert.equal((await alert('cool', 'a')).body.event, 'SUCCESS');
    const text = await cli(['cooldown', 'clear', 'cool', '--reason', 'all of them'], { env });
    assert.equal(text.code, 0, text.err.join('\n'));
    assert.equal(text.out[0], 'ended the cooldown of cool:');
    assert.match(text.out[1]!, /^ {2}service a \(it held until .+\)$/);
  });

  it('a run still under way past its cooldown, and past a clearing: listed as holding it, "while exe_… runs", a clearing refused saying why; gone once the run ends', async () => {
    const MIN = 60_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const release = holdCalls(target, 'POST', '/cool/long');
    try {
      const startedAt = svc.clock.now();
      const first = alert('cool', 'long');
      await target.waitForRequest('/cool/long');
      const view = async () => (({ cooldowns, cooldown_end }) => ({ cooldowns, cooldown_end }))((await svc.get('/api/v1/runbooks/cool')).body);
      const held = (await view()).cooldowns[0];
      const run: string = held?.while_running;
      assert.match(run, /^exe_/);
      // Within its time: the wait's end, then the run.
      assert.deepEqual(await view(), { cooldowns: [{ service: 'long', until: iso(startedAt + 30 * MIN), while_running: run }], cooldown_end: iso(startedAt + 30 * MIN) });

      // Ended by hand while the run goes on: the wait is over, the run still holds, and is listed so.
      const cleared = await cli(['cooldown', 'clear', 'cool', '--service', 'long', '--reason', 'fixed', '--by', 'dave'], { env });
      assert.equal(cleared.code, 0, cleared.err.join('\n'));
      const until = iso(startedAt + 30 * MIN);
      assert.deepEqual(cleared.out, [
        'ended the cooldown of cool:',
        `  service long (it held until ${until.replace(/\.\d{3}Z$/, 'Z')}; still held while ${run} runs: a clear does not end a run's hold)`,
      ]);
      // The answer's `cleared`, as audited: the run that still holds is named.
      const clearedRow = (await svc.get('/api/v1/audit?event=COOLDOWN_CLEARED')).body.events[0];
      assert.deepEqual([clearedRow.details.reason, clearedRow.details.cleared], ['fixed', [{ kind: 'service', subject: 'long', last_started_at: iso(startedAt), until, while_running: run }]]);
      svc.clock.advance(MIN);
      assert.deepEqual(await view(), { cooldowns: [{ service: 'long', until: iso(svc.clock.now()), while_running: run }], cooldown_end: iso(svc.clock.now()) });
      assert.equal((await alert('cool', 'long')).body.reason, 'Cooldown active (the last run of cool on long is still running)');

      // Past its time: the same.
      svc.clock.advance(40 * MIN);
      assert.deepEqual(await view(), { cooldowns: [{ service: 'long', until: iso(svc.clock.now()), while_running: run }], cooldown_end: iso(svc.clock.now()) });
      const blocked = await alert('cool', 'long');
      assert.deepEqual([blocked.body.action, blocked.body.event, blocked.body.reason], ['blocked', 'RATE_LIMITED', 'Cooldown active (the last run of cool on long is still running)']);
      const one = await svc.post('/api/v1/runbooks/cool/cooldown/clear', { by: 'dave', reason: 'again', service: 'long' });
      assert.equal(one.status, 409);
      assert.equal(
        one.body.error.message,
        `runbook cool has no cooldown on service long that a clear can end: the last run of cool on long (${run}) is still running, and a clear does not end a run's hold; it ends when the run does`,
      );
      const all = await svc.post('/api/v1/runbooks/cool/cooldown/clear', { by: 'dave', reason: 'again' });
      assert.equal(all.status, 409);
      assert.equal(
        all.body.error.message,
        `runbook cool has no cooldown in force that a clear can end: its runs still under way hold off the next on their services (long: ${run}), and a clear does not end a run's hold; it ends when the run does`,
      );
      const refused = await cli(['cooldown', 'clear', 'cool', '--service', 'long', '--reason', 'again'], { env });
      assert.deepEqual([refused.code, refused.err], [1, [`rectify: CONFLICT: ${one.body.error.message}`]]);

      const table = await cli(['runbooks'], { env });
      assert.equal(table.code, 0, table.err.join('\n'));
      const header = table.out[0]!.split(/ {2,}/);
      const row = table.out.find((l) => l.startsWith('cool '))!.split(/ {2,}/);
      assert.equal(row[header.indexOf('COOLDOWN')], `while ${run} runs`);
      const detail = await cli(['runbooks', 'cool'], { env });
      assert.equal(detail.code, 0, detail.err.join('\n'));
      assert.deepEqual(
        detail.out.filter((l) => l.startsWith('cooldown ')).map((l) => l.replace(/ {2,}/, '|')),
        [`cooldown|30m; active: long until ${iso(svc.clock.now()).replace(/\.\d{3}Z$/, 'Z')}, then while ${run} runs`],
      );

      release();
      const ended = (await first).body;
      assert.deepEqual([ended.execution_id, ended.event], [run, 'SUCCESS']);
      assert.deepEqual(await view(), { cooldowns: [], cooldown_end: null }, 'its time over, and the run ended');
      const after = await cli(['runbooks'], { env });
      assert.equal(after.out.find((l) => l.startsWith('cool '))!.split(/ {2,}/)[header.indexOf('COOLDOWN')], '-');
      assert.equal((await alert('cool', 'long')).body.event, 'SUCCESS');
    } finally {
      release();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
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
});

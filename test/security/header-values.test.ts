import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

/**
 * A label value rendered into an HTTP header that the client cannot send (Node and
 * undici refuse anything outside Latin-1, or a control character) made the action
 * fail before any request left, yet the run was "executed": its rollback was sent
 * for a change that never happened, and the failure counted against the breaker, so
 * whoever can fire alerts could undo a change nobody made and switch off the
 * runbook. Such a value is refused before any step, like any other unsafe value.
 */
describe('alert values in HTTP headers', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    // An operator's secret the HTTP client cannot put in a header (not Latin-1).
    process.env.RECTIFY_TEST_HDR_TOKEN = 'ключ';
    target = await startHttpTarget();
    target.route('POST', '/hdr-action', { status: 200 });
    target.route('POST', '/hdr-rollback', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  probe-hdr:
    risk: LOW
    triggers: [ProbeHdr]
    max_per_hour: 100
    cooldown_minutes: 0
    params: {team: the team that owns the service}
    action:
      http: {method: POST, url: "${target.url}/hdr-action", headers: {X-Team: "{team}"}}
    rollback:
      http: {method: POST, url: "${target.url}/hdr-rollback"}
  probe-secret:
    risk: LOW
    triggers: [ProbeSecret]
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/hdr-action", headers: {X-Token: "\${env:RECTIFY_TEST_HDR_TOKEN}"}}
    rollback:
      http: {method: POST, url: "${target.url}/hdr-rollback"}
`,
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
    delete process.env.RECTIFY_TEST_HDR_TOKEN;
  });

  const fire = (service: string, team: string, fingerprint: string) =>
    svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels: { alertname: 'ProbeHdr', service, team }, fingerprint }]));

  it('a value no header can carry is refused (PARAM_REFUSED): nothing is sent, no rollback, the circuit stays closed', async () => {
    const values = [
      ['платежи', '"платежи"'],
      // A bidi override is shown escaped: raw, it would reorder the reason around it.
      ['\u202e', '"\\u202e"'],
      ['．．', '"．．"'],
    ] as const;
    for (const [i, [team, quoted]] of values.entries()) {
      const r = await fire(`svc-${i}`, team, `fa11ed000000000${i}`);
      assert.equal(r.status, 202);
      const [result] = r.body.results;
      assert.deepEqual([result.action, result.event, result.execution_id], ['blocked', 'PARAM_REFUSED', null], team);
      assert.equal(
        result.reason,
        `placeholder {team} in action 1: value ${quoted} expected an HTTP header value (printable ASCII: letters, digits, spaces and punctuation)`,
      );
    }
    assert.equal(target.calls('/hdr-action', 'POST'), 0);
    assert.equal(target.calls('/hdr-rollback', 'POST'), 0);
    const rb = await svc.get('/api/v1/runbooks/probe-hdr');
    assert.deepEqual([rb.body.circuit.state, rb.body.circuit.failures], ['closed', 0]);

    // The next incident, for another service, runs as usual and sends the header.
    const ok = await fire('billing', 'payments', 'fa11ed00000000ff');
    const [done] = ok.body.results;
    assert.deepEqual([done.action, done.event, done.success], ['executed', 'SUCCESS', true], done.reason);
    assert.equal(target.calls('/hdr-action', 'POST'), 1);
    assert.equal(target.requests('/hdr-action', 'POST')[0]?.headers['x-team'], 'payments');
    assert.equal(target.calls('/hdr-rollback', 'POST'), 0);
  });

  it('a request the client refuses to send changes nothing: the run fails without sending its rollback', async () => {
    target.reset();
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels: { alertname: 'ProbeSecret', service: 'shop' }, fingerprint: '5ec7e7000000000a' }]));
    const [result] = r.body.results;
    assert.deepEqual([result.action, result.event, result.success, result.rolled_back], ['executed', 'FAILED', false, false]);
    assert.equal(result.reason, `action 1 failed: POST ${target.url}/hdr-action not sent: invalid X-Token header; nothing was changed: no rollback`);
    assert.equal(target.calls('/hdr-action', 'POST'), 0);
    assert.equal(target.calls('/hdr-rollback', 'POST'), 0);
    // A request that can never be sent is the runbook's own fault and recurs on every
    // run: it counts against the breaker like any failure (only a target's "not now" does not).
    const rb = await svc.get('/api/v1/runbooks/probe-secret');
    assert.deepEqual([rb.body.circuit.state, rb.body.circuit.failures], ['closed', 1]);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { startFakeEnv } from './setup.js';

/**
 * A runbook's steps may name their Kubernetes object from other values than the
 * service its rate limit and cooldown count per (`{deployment}`), and alerts about one
 * deployment may carry several services. The object acted on is counted too: alerts
 * naming one deployment under a new service each time do not restart it past the
 * runbook's max_per_hour or inside its cooldown.
 */
const NS = 'production';
const MIN = 60_000;
const patches = (fake: KubeFake, name: string): number => fake.count('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/${name}`);

describe('the Kubernetes object a run acts on is counted, whatever the service', { timeout: 60_000 }, () => {
  let fake: KubeFake;
  let svc: TestService;
  before(async () => {
    const env = await startFakeEnv();
    fake = env.fake;
    for (const d of ['checkout', 'cart', 'search', 'orders', 'payments', 'ledger', 'billing', 'stock']) fake.addDeployment(NS, d, 3);
    svc = await startTestService({
      runbooks: `runbooks:
  restart-limited:
    risk: LOW
    triggers: [limited]
    max_per_hour: 1
    cooldown_minutes: 0
    action: kubectl rollout restart deployment {deployment} -n {namespace}
  restart-cooled:
    risk: LOW
    triggers: [cooled]
    max_per_hour: 10
    cooldown_minutes: 5
    action: kubectl rollout restart deployment {deployment} -n {namespace}
  restart-approved:
    risk: HIGH
    triggers: [approved]
    max_per_hour: 1
    cooldown_minutes: 0
    action: kubectl rollout restart deployment {deployment} -n {namespace}
`,
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig],
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await fake.close();
  });

  const incident = (rootCause: string, service: string, deployment: string) => ({ root_cause: rootCause, service, context: { deployment, namespace: NS } });

  it('max_per_hour holds per deployment across services (generic incidents and Alertmanager alerts)', async () => {
    const first = await svc.post('/api/v1/incidents?wait=true', incident('limited', 'checkout-api', 'checkout'));
    assert.deepEqual([first.body.action, first.body.success], ['executed', true]);
    const second = await svc.post('/api/v1/incidents?wait=true', incident('limited', 'checkout-web', 'checkout'));
    assert.deepEqual(
      [second.body.action, second.body.event, second.body.reason],
      ['blocked', 'RATE_LIMITED', `Rate limit exceeded (1/hour) on deployment ${NS}/checkout, counting the runs for every service`],
    );
    const am = await svc.post(
      '/api/v1/webhooks/alertmanager?wait=true',
      amWebhook([{ labels: { alertname: 'limited', service: 'checkout-worker', deployment: 'checkout', namespace: NS }, fingerprint: 'target0000000001' }]),
    );
    assert.equal(am.body.results[0].event, 'RATE_LIMITED');
    assert.equal(patches(fake, 'checkout'), 1);
    // Another deployment is not held off by it.
    const other = await svc.post('/api/v1/incidents?wait=true', incident('limited', 'cart', 'cart'));
    assert.deepEqual([other.body.action, other.body.success], ['executed', true]);
    assert.equal(patches(fake, 'cart'), 1);
  });

  it('the cooldown holds per deployment across services, and ends as it does per service', async () => {
    const first = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'search-api', 'search'));
    assert.deepEqual([first.body.action, first.body.success], ['executed', true]);
    svc.clock.advance(2 * MIN);
    const second = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'search-web', 'search'));
    assert.deepEqual(
      [second.body.action, second.body.event, second.body.reason],
      ['blocked', 'RATE_LIMITED', `Cooldown active on deployment ${NS}/search (180s remaining; it counts the runs for every service)`],
    );
    assert.equal(patches(fake, 'search'), 1);
    assert.equal((await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'orders', 'orders'))).body.action, 'executed');
    svc.clock.advance(3 * MIN);
    const later = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'search-web', 'search'));
    assert.deepEqual([later.body.action, later.body.success], ['executed', true]);
    assert.equal(patches(fake, 'search'), 2);
  });

  it('an approval is decided again when approved: a second request for the deployment under another service is held off (409, it stays pending)', async () => {
    const one = await svc.post('/api/v1/incidents', incident('approved', 'payments-api', 'payments'));
    const two = await svc.post('/api/v1/incidents', incident('approved', 'payments-web', 'payments'));
    assert.deepEqual([one.body.action, two.body.action], ['approval_required', 'approval_required']);
    assert.notEqual(one.body.approval_id, two.body.approval_id);
    const first = await svc.post(`/api/v1/approvals/${one.body.approval_id}/approve?wait=true`, { by: 'alice' });
    assert.deepEqual([first.body.result.action, first.body.result.success], ['executed', true]);
    const second = await svc.post(`/api/v1/approvals/${two.body.approval_id}/approve?wait=true`, { by: 'alice' });
    assert.equal(second.status, 409);
    assert.match(second.body.error.message, new RegExp(`would not run it: Rate limit exceeded \\(1/hour\\) on deployment ${NS}/payments, counting the runs for every service \\(RATE_LIMITED\\); the request stays pending`));
    assert.equal(patches(fake, 'payments'), 1);
  });

  it('manual runs (the API, rectify run) count the deployment too, whatever service each names', async () => {
    const run = (service: string) => svc.post('/api/v1/runbooks/restart-limited/run?wait=true', { service, by: 'alice', params: { deployment: 'ledger', namespace: NS } });
    const first = await run('ledger-api');
    assert.deepEqual([first.status, first.body.action, first.body.success], [202, 'executed', true]);
    const second = await run('ledger-web');
    assert.deepEqual(
      [second.status, second.body.action, second.body.reason],
      [202, 'blocked', `Rate limit exceeded (1/hour) on deployment ${NS}/ledger, counting the runs for every service`],
    );
    assert.equal(patches(fake, 'ledger'), 1);
  });

  it("the runbook's live state lists its services' cooldowns and its objects' apart", async () => {
    const rb = (await svc.get('/api/v1/runbooks/restart-cooled')).body;
    assert.deepEqual(rb.cooldowns.map((c: { service: string }) => c.service), ['orders', 'search-web']);
    // The deployments' own, whichever service ran last on each: orders at 03:02, search (search-web) at 03:05.
    assert.deepEqual(rb.object_cooldowns, [
      { object: `deployment ${NS}/orders`, until: '2026-11-24T03:07:00.000Z' },
      { object: `deployment ${NS}/search`, until: '2026-11-24T03:10:00.000Z' },
    ]);
    const text = JSON.stringify(rb);
    assert.ok(!text.includes('\\u0000'), text);
  });
  it("a cooldown ended by hand without a service ends the deployment's too; with a service, only that service's", async () => {
    svc.clock.advance(10 * MIN); // the cooldowns of the runs above are over
    const first = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'billing-api', 'billing'));
    assert.deepEqual([first.body.action, first.body.success], ['executed', true]);
    const held = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'billing-web', 'billing'));
    assert.equal(held.body.reason, `Cooldown active on deployment ${NS}/billing (300s remaining; it counts the runs for every service)`);
    const none = await svc.post('/api/v1/runbooks/restart-cooled/cooldown/clear', { by: 'alice', reason: 'fixed', service: 'billing-web' });
    assert.deepEqual([none.status, none.body.error.message], [409, 'runbook restart-cooled has no cooldown in force on service billing-web: there is nothing to end']);
    const cleared = await svc.post('/api/v1/runbooks/restart-cooled/cooldown/clear', { by: 'alice', reason: 'fixed' });
    assert.equal(cleared.status, 200);
    assert.deepEqual(
      cleared.body.cleared.map((c: any) => [c.kind, c.subject]),
      [
        ['service', 'billing-api'],
        ['object', `deployment ${NS}/billing`],
      ],
    );
    const next = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'billing-web', 'billing'));
    assert.deepEqual([next.body.action, next.body.success], ['executed', true]);
    assert.equal(patches(fake, 'billing'), 2);
    // The run just started holds the deployment off again, for every service.
    const again = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'billing-api', 'billing'));
    assert.equal(again.body.reason, `Cooldown active on deployment ${NS}/billing (300s remaining; it counts the runs for every service)`);
  });

  // Last: it steps the service's clock a day forward.
  it("after a forward step, the deployment's cooldown states the wall-clock time it really has left", async () => {
    svc.clock.step(24 * 60 * MIN);
    // Seen by the housekeeping pass that follows it; taken as the time once it has held for
    // an hour and a minute (the hour is the longest window here).
    await svc.service.housekeep();
    svc.clock.advance(5 * MIN);
    const first = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'stock-api', 'stock'));
    assert.deepEqual([first.body.action, first.body.success], ['executed', true]);
    // Stamped a day ahead of the time passed, its five minutes end when the step is taken as
    // the time, 56 minutes from now: that is the time left, not a day.
    const note = (s: number) =>
      `; the clock reads 86400s ahead of the time passed, so the time passed is what counts until the step is taken as the time in ${s}s: was it stepped forward?`;
    const held = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'stock-web', 'stock'));
    assert.deepEqual(
      [held.body.action, held.body.event, held.body.reason],
      ['blocked', 'RATE_LIMITED', `Cooldown active on deployment ${NS}/stock (3360s remaining; it counts the runs for every service${note(3360)})`],
    );
    svc.clock.advance(56 * MIN - 1);
    const last = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'stock-web', 'stock'));
    assert.equal(last.body.reason, `Cooldown active on deployment ${NS}/stock (1s remaining; it counts the runs for every service${note(1)})`);
    svc.clock.advance(1);
    const next = await svc.post('/api/v1/incidents?wait=true', incident('cooled', 'stock-web', 'stock'));
    assert.deepEqual([next.body.action, next.body.success], ['executed', true]);
    assert.equal(patches(fake, 'stock'), 2);
  });
});

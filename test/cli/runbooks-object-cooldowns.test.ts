import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { startFakeEnv } from '../kubernetes/setup.js';
import { cli } from './capture.js';

/**
 * `rectify runbooks` and `rectify runbooks <id>` show the cooldowns of the Kubernetes
 * objects a runbook's runs act on (object_cooldowns) as they show the services': the run
 * under way that holds one, with the service it is for, and the object's own cooldown
 * once its service's is ended by hand.
 */
const NS = 'production';
const MIN = 60_000;
const runbooks = (base: string) => `runbooks:
  restart-cooled:
    description: restart and wait
    risk: LOW
    triggers: [cooled]
    max_per_hour: 10
    cooldown_minutes: 5
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    post_checks:
      - http: {url: "${base}/healthy", timeout_seconds: 30, interval_seconds: 1}
  restart-pair:
    risk: LOW
    triggers: [paired]
    max_per_hour: 10
    cooldown_minutes: 5
    blast_radius_limit: 5
    actions:
      - kubectl rollout restart deployment {deployment} -n {namespace}
      - kubectl rollout restart deployment {deployment}-cache -n {namespace}
    post_checks:
      - http: {url: "${base}/healthy/{deployment}", timeout_seconds: 30, interval_seconds: 1}
`;
const incident = (service: string) => ({ root_cause: 'cooled', service, context: { deployment: 'checkout', namespace: NS } });
const runningOn = (dbPath: string, service: string): string => {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare("SELECT id FROM executions WHERE state = 'running' AND service = ?").pluck().get(service) as string;
  } finally {
    db.close();
  }
};

describe('rectify runbooks shows the cooldowns of Kubernetes objects', { timeout: 60_000 }, () => {
  let target: HttpTarget;
  let fake: KubeFake;
  let svc: TestService;
  let env: Record<string, string>;
  before(async () => {
    target = await startHttpTarget();
    const kube = await startFakeEnv();
    fake = kube.fake;
    for (const name of ['checkout', 'checkout-cache', 'orders', 'orders-cache']) fake.addDeployment(NS, name, 3);
    svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', kube.kubeconfig, '--max-concurrent-executions', '10', '--listen', '127.0.0.1:0'],
    });
    env = { RECTIFY_SERVER: await svc.service.listen() };
  });
  after(async () => {
    await svc.stop({ remove: true });
    await fake.close();
    await target.close();
  });
  /** The table's header, and the runbook's row, cell by cell. */
  const listed = async (runbook = 'restart-cooled') => {
    const r = await cli(['runbooks'], { env });
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(r.out.length, 3, r.out.join('\n'));
    return [r.out[0]!, r.out.find((l) => l.startsWith(`${runbook} `))!].map((l) => l.split(/ {2,}/));
  };
  const detail = async () => {
    const r = await cli(['runbooks', 'restart-cooled'], { env });
    assert.equal(r.code, 0, r.err.join('\n'));
    return r.out;
  };
  const HEADER = ['RUNBOOK', 'RISK', 'MODE', 'PAUSED', 'EXECUTABLE', 'CIRCUIT', 'LAST HOUR', 'COOLDOWN', 'OBJECT COOLDOWN', 'SUCCESS'];
  /** The detail view's lines: its labels padded to the longest one shown, then two spaces. */
  const lines = (rows: Array<[string, string]>) => {
    const width = Math.max(...rows.map(([label]) => label.length));
    return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  };
  const common = async (): Promise<Array<[string, string]>> => [
    ['runbook', 'restart-cooled'],
    ['description', 'restart and wait'],
    ['file', (await svc.get('/api/v1/runbooks/restart-cooled')).body.file],
    ['risk / mode', 'LOW / auto'],
    ['paused', 'no'],
    ['triggers', 'cooled'],
    ['actions', 'kubectl rollout restart deployment {deployment} -n {namespace}'],
    ['executable', 'yes'],
    ['circuit', 'closed'],
    ['last hour', '1 of 10 for checkout-api (the busiest service; the limit is per service)'],
  ];

  it('a run under way, then the object held after its service is cleared, then nothing', async () => {
    const release = holdCalls(target, 'GET', '/healthy', 200);
    try {
      const first = svc.post('/api/v1/incidents?wait=true', incident('checkout-api'));
      await target.waitForRequest('/healthy');
      const id = runningOn(svc.dbPath, 'checkout-api');
      assert.match(id, /^exe_/);

      // Under way: the run holds its service and its deployment; the detail names the service it is for.
      assert.deepEqual(await listed(), [HEADER, ['restart-cooled', 'LOW', 'auto', 'no', 'yes', 'closed', '1/10', `while ${id} runs`, `while ${id} runs`, '-']]);
      assert.deepEqual(
        await detail(),
        lines([
          ...(await common()),
          ['cooldown', `5m; active: checkout-api until 2026-11-24T03:05:00Z, then while ${id} runs`],
          ['object cooldowns', `deployment production/checkout until 2026-11-24T03:05:00Z, then while ${id} runs for checkout-api`],
          ['blast radius', '1 service(s) at once'],
          ['success rate', '-'],
        ]),
      );
      const json = await cli(['runbooks', 'restart-cooled', '--json'], { env });
      assert.equal(json.code, 0, json.err.join('\n'));
      assert.deepEqual(json.json().object_cooldowns, [{ object: `deployment ${NS}/checkout`, until: '2026-11-24T03:05:00.000Z', while_running: id, running_for: 'checkout-api' }]);
      const page = await cli(['runbooks', '--json'], { env });
      assert.deepEqual(page.json().runbooks[0].object_cooldowns, json.json().object_cooldowns);

      release();
      assert.equal((await first).body.event, 'SUCCESS');
      // The service's cooldown ended by hand: the deployment's holds on, for every service.
      const cleared = await cli(['cooldown', 'clear', 'restart-cooled', '--service', 'checkout-api', '--reason', 'checked'], { env });
      assert.equal(cleared.code, 0, cleared.err.join('\n'));
      const blocked = await svc.post('/api/v1/incidents', incident('checkout-api'));
      assert.equal(blocked.body.reason, `Cooldown active on deployment ${NS}/checkout (300s remaining; it counts the runs for every service)`);
      assert.deepEqual(await listed(), [HEADER, ['restart-cooled', 'LOW', 'auto', 'no', 'yes', 'closed', '1/10', '-', 'until 2026-11-24T03:05:00Z', '100% of 1']]);
      assert.deepEqual(
        await detail(),
        lines([
          ...(await common()),
          ['cooldown', '5m'],
          ['object cooldowns', 'deployment production/checkout until 2026-11-24T03:05:00Z'],
          ['blast radius', '1 service(s) at once'],
          ['success rate', '100% of 1'],
        ]),
      );

      // Over: no line, and "-".
      svc.clock.advance(5 * MIN);
      assert.deepEqual(await listed(), [HEADER, ['restart-cooled', 'LOW', 'auto', 'no', 'yes', 'closed', '1/10', '-', '-', '100% of 1']]);
      assert.deepEqual(
        await detail(),
        lines([...(await common()), ['cooldown', '5m'], ['blast radius', '1 service(s) at once'], ['success rate', '100% of 1']]),
      );
    } finally {
      release();
    }
  });

  it('one run on two objects is one run holding them; a second run on others is "+1 more"', async () => {
    const releaseCheckout = holdCalls(target, 'GET', '/healthy/checkout', 200);
    const releaseOrders = holdCalls(target, 'GET', '/healthy/orders', 200);
    try {
      const paired = (service: string, deployment: string) =>
        svc.post('/api/v1/incidents?wait=true', { root_cause: 'paired', service, context: { deployment, namespace: NS } });
      const until = new Date(svc.clock.now() + 5 * MIN).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const first = paired('checkout-api', 'checkout');
      await target.waitForRequest('/healthy/checkout');
      const one = runningOn(svc.dbPath, 'checkout-api');
      assert.deepEqual((await listed('restart-pair'))[1], ['restart-pair', 'LOW', 'auto', 'no', 'yes', 'closed', '1/10', `while ${one} runs`, `while ${one} runs`, '-']);
      const second = paired('orders', 'orders');
      await target.waitForRequest('/healthy/orders');
      const two = runningOn(svc.dbPath, 'orders');
      assert.deepEqual((await listed('restart-pair'))[1], ['restart-pair', 'LOW', 'auto', 'no', 'yes', 'closed', '1/10, 2 in all', `while ${one} runs (+1 more)`, `while ${one} runs (+1 more)`, '-']);
      assert.deepEqual(
        (await cli(['runbooks', 'restart-pair'], { env })).out.filter((l) => l.startsWith('object cooldowns ')),
        [
          `object cooldowns  deployment production/checkout until ${until}, then while ${one} runs for checkout-api, ` +
            `deployment production/checkout-cache until ${until}, then while ${one} runs for checkout-api, ` +
            `deployment production/orders until ${until}, then while ${two} runs for orders, ` +
            `deployment production/orders-cache until ${until}, then while ${two} runs for orders`,
        ],
      );
      releaseCheckout();
      releaseOrders();
      assert.deepEqual([(await first).body.event, (await second).body.event], ['SUCCESS', 'SUCCESS']);
    } finally {
      releaseCheckout();
      releaseOrders();
    }
  });
});

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { startFakeEnv } from './setup.js';

/**
 * A run still under way on a Kubernetes object holds off the next run of the runbook on
 * that object, whichever service either is for, past the cooldown's time (a long
 * post-check), as it holds off the next on its own service: two runs never verify, or
 * roll back, one object at once. It holds until the run ends; a run a crash cut off holds
 * nothing once it is INTERRUPTED at the next start.
 */
const NS = 'production';
const MIN = 60_000;
const OBJECT = `deployment ${NS}/checkout`;
const patches = (fake: KubeFake): number => fake.count('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/checkout`);
const incident = (service: string) => ({ root_cause: 'cooled', service, context: { deployment: 'checkout', namespace: NS } });
const runbooks = (base: string, cooldown: number) => `runbooks:
  restart-cooled:
    risk: LOW
    triggers: [cooled]
    max_per_hour: 10
    cooldown_minutes: ${cooldown}
    blast_radius_limit: 5
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    post_checks:
      - http: {url: "${base}/healthy", timeout_seconds: 30, interval_seconds: 1}
`;
/** The id of the one run under way, as recorded. */
const runningOn = (dbPath: string): string => {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare("SELECT id FROM executions WHERE state = 'running'").pluck().get() as string;
  } finally {
    db.close();
  }
};
const heldReason = (executionId: string) =>
  `Cooldown active on ${OBJECT} (the last run of restart-cooled on it, ${executionId}, is still running for checkout-api; it counts the runs for every service)`;

describe('a run under way on a Kubernetes object holds it for every service', { timeout: 60_000 }, () => {
  let target: HttpTarget;
  let fake: KubeFake;
  let kubeconfig: string;
  before(async () => {
    target = await startHttpTarget();
    const env = await startFakeEnv();
    fake = env.fake;
    kubeconfig = env.kubeconfig;
    fake.addDeployment(NS, 'checkout', 3);
  });
  after(async () => {
    await fake.close();
    await target.close();
  });
  const args = () => ['--kubernetes', 'kubeconfig', '--kubeconfig', kubeconfig, '--max-concurrent-executions', '10'];

  it('past the cooldown, another service on the object is held off until the run ends, then runs', async () => {
    target.reset();
    const release = holdCalls(target, 'GET', '/healthy', 200);
    const svc = await startTestService({ runbooks: runbooks(target.url, 5), args: args() });
    try {
      const before = patches(fake);
      const first = svc.post('/api/v1/incidents?wait=true', incident('checkout-api'));
      await target.waitForRequest('/healthy');
      const id = runningOn(svc.dbPath);
      svc.clock.advance(6 * MIN);

      const same = await svc.post('/api/v1/incidents', incident('checkout-api'));
      assert.deepEqual([same.body.action, same.body.event, same.body.reason], ['blocked', 'RATE_LIMITED', 'Cooldown active (the last run of restart-cooled on checkout-api is still running)']);
      const other = await svc.post('/api/v1/incidents', incident('checkout-web'));
      assert.deepEqual([other.body.action, other.body.event, other.body.reason, other.body.execution_id], ['blocked', 'RATE_LIMITED', heldReason(id), null]);
      assert.equal(patches(fake) - before, 1, 'one PATCH of the deployment while its first run still verifies it');

      release();
      const done = await first;
      assert.deepEqual([done.body.action, done.body.execution_id], ['executed', id]);
      const next = await svc.post('/api/v1/incidents?wait=true', incident('checkout-web'));
      assert.equal(next.body.action, 'executed', JSON.stringify(next.body));
      assert.equal(patches(fake) - before, 2);
    } finally {
      release();
      await svc.stop({ remove: true });
    }
  });

  it("the runbook's live state lists the object: held while the run is under way, its cooldown after, nothing once over", async () => {
    target.reset();
    let release = holdCalls(target, 'GET', '/healthy', 200);
    const svc = await startTestService({ runbooks: runbooks(target.url, 5), args: [...args(), '--listen', '127.0.0.1:0'] });
    try {
      const addr = await svc.service.listen();
      const base = addr.startsWith('http') ? addr : `http://${addr}`;
      const view = async () => {
        const res = await fetch(`${base}/api/v1/runbooks/restart-cooled`);
        assert.equal(res.status, 200);
        const body = (await res.json()) as { cooldowns: unknown; object_cooldowns: unknown };
        return { cooldowns: body.cooldowns, object_cooldowns: body.object_cooldowns };
      };
      const t0 = svc.clock.now();
      const at = (ms: number) => new Date(ms).toISOString();

      const first = svc.post('/api/v1/incidents?wait=true', incident('checkout-api'));
      await target.waitForRequest('/healthy');
      const id = runningOn(svc.dbPath);
      assert.deepEqual(await view(), {
        cooldowns: [{ service: 'checkout-api', until: at(t0 + 5 * MIN), while_running: id }],
        object_cooldowns: [{ object: OBJECT, until: at(t0 + 5 * MIN), while_running: id, running_for: 'checkout-api' }],
      });
      // Past the cooldown's time the run still holds the object: until is the time of the answer.
      svc.clock.advance(6 * MIN);
      assert.deepEqual(await view(), {
        cooldowns: [{ service: 'checkout-api', until: at(t0 + 6 * MIN), while_running: id }],
        object_cooldowns: [{ object: OBJECT, until: at(t0 + 6 * MIN), while_running: id, running_for: 'checkout-api' }],
      });
      release();
      assert.equal((await first).body.execution_id, id);
      assert.deepEqual(await view(), { cooldowns: [], object_cooldowns: [] });

      // A run that ends within its cooldown leaves the cooldown on the object, for every service.
      release = holdCalls(target, 'GET', '/healthy', 200);
      const t1 = svc.clock.now();
      const second = svc.post('/api/v1/incidents?wait=true', incident('checkout-web'));
      await target.waitForRequest('/healthy', { since: Date.now() });
      const id2 = runningOn(svc.dbPath);
      assert.notEqual(id2, id);
      assert.deepEqual((await view()).object_cooldowns, [{ object: OBJECT, until: at(t1 + 5 * MIN), while_running: id2, running_for: 'checkout-web' }]);
      release();
      assert.equal((await second).body.execution_id, id2);
      assert.deepEqual(await view(), {
        cooldowns: [{ service: 'checkout-web', until: at(t1 + 5 * MIN) }],
        object_cooldowns: [{ object: OBJECT, until: at(t1 + 5 * MIN) }],
      });
      const blocked = await svc.post('/api/v1/incidents', incident('checkout-api'));
      assert.equal(blocked.body.reason, `Cooldown active on ${OBJECT} (300s remaining; it counts the runs for every service)`);
      svc.clock.advance(5 * MIN);
      assert.deepEqual(await view(), { cooldowns: [], object_cooldowns: [] });
    } finally {
      release();
      await svc.stop({ remove: true });
    }
  });

  it('a runbook with no cooldown is not held off by a run under way on its object', async () => {
    target.reset();
    const release = holdCalls(target, 'GET', '/healthy', 200);
    const svc = await startTestService({ runbooks: runbooks(target.url, 0), args: args() });
    try {
      const before = patches(fake);
      const first = svc.post('/api/v1/incidents?wait=true', incident('checkout-api'));
      await target.waitForRequest('/healthy');
      const other = svc.post('/api/v1/incidents?wait=true', incident('checkout-web'));
      await target.waitForRequest('/healthy', { where: () => patches(fake) - before === 2 });
      release();
      assert.deepEqual([(await first).body.action, (await other).body.action], ['executed', 'executed']);
      assert.equal(patches(fake) - before, 2);
    } finally {
      release();
      await svc.stop({ remove: true });
    }
  });

  it('a run a crash cut off holds its object no more once it is INTERRUPTED', async () => {
    target.reset();
    const release = holdCalls(target, 'GET', '/healthy', 200);
    const svc = await startTestService({ runbooks: runbooks(target.url, 5), args: args() });
    const crashed = mkdtempSync(join(tmpdir(), 'rectify-crashed-'));
    try {
      const before = patches(fake);
      const first = svc.post('/api/v1/incidents?wait=true', incident('checkout-api'));
      await target.waitForRequest('/healthy');
      const id = runningOn(svc.dbPath);
      // The database as a crash would leave it: the run under way, its claim and object held.
      mkdirSync(join(crashed, 'data'));
      cpSync(svc.runbooksDir, join(crashed, 'runbooks'), { recursive: true });
      const live = new Database(svc.dbPath, { readonly: true });
      try {
        await live.backup(join(crashed, 'data', 'rectify.db'));
      } finally {
        live.close();
      }
      release();
      await first;
      const copy = new Database(join(crashed, 'data', 'rectify.db'), { readonly: true });
      const held = copy.prepare('SELECT runbook, object, service FROM run_objects').all();
      copy.close();
      assert.deepEqual(held, [{ runbook: 'restart-cooled', object: OBJECT, service: 'checkout-api' }]);

      svc.clock.advance(6 * MIN);
      const after = await startTestService({ dir: crashed, clock: svc.clock, args: args() });
      try {
        assert.equal((await after.get(`/api/v1/executions/${id}`)).body.state, 'interrupted');
        const check = new Database(after.dbPath, { readonly: true });
        assert.deepEqual([check.prepare('SELECT COUNT(*) AS n FROM blast_claims').get(), check.prepare('SELECT COUNT(*) AS n FROM run_objects').get()], [{ n: 0 }, { n: 0 }]);
        check.close();
        const next = await after.post('/api/v1/incidents?wait=true', incident('checkout-web'));
        assert.equal(next.body.action, 'executed', JSON.stringify(next.body));
        assert.equal(patches(fake) - before, 2);
      } finally {
        await after.stop();
      }
    } finally {
      release();
      await svc.stop({ remove: true });
      rmSync(crashed, { recursive: true, force: true });
    }
  });
});

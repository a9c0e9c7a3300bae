import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createKubernetesActionExecutor, type KubeClients } from '../../src/execute/actions/kubernetes.js';
import { PENDING_REMOVAL_MS } from '../../src/execute/actions/disruptions.js';
import type { ActionOutcome } from '../../src/execute/ports.js';
import { createKubeClients } from '../../src/checks/kubernetes.js';
import { startKubeFake, writeKubeconfig, type KubeFake } from '../helpers/kube-fake/index.js';
import { EVICTION, kubeAction, startFakeEnv, stepContext, useServiceOnFake, waitFor } from './setup.js';

/**
 * Runs of one rectify under way together, each removing a pod of the same workload: the
 * last ready replica and `max_unavailable` hold across them. Each run used to read the
 * workload before the other's eviction landed, and both evicted.
 */
const NS = 'production';
const SCALE = `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`;

const readyPods = (fake: KubeFake): string[] =>
  fake
    .list('pods', NS)
    .filter((p) => !p.metadata.deletionTimestamp && ((p.status?.conditions ?? []) as Array<{ type: string; status: string }>).some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => p.metadata.name as string)
    .sort();

/** The one of two outcomes that went through and the one refused, with the refused pod's name. */
function oneEach(outs: ActionOutcome[], pods: string[]): { done: ActionOutcome; refused: ActionOutcome; donePod: string; refusedPod: string } {
  assert.equal(outs.filter((o) => o.ok).length, 1, JSON.stringify(outs));
  const i = outs.findIndex((o) => o.ok);
  return { done: outs[i]!, refused: outs[1 - i]!, donePod: pods[i]!, refusedPod: pods[1 - i]! };
}

describe('two runs evicting pods of one workload at once (executor)', () => {
  let fake: KubeFake;
  let clients: KubeClients;
  beforeEach(async () => {
    ({ fake, clients } = await startFakeEnv({ readyDelayMs: 60_000 }));
    fake.addNode('node-a');
  });
  afterEach(async () => {
    await fake.close();
  });

  it('takes one of 2 ready replicas, never the last', async () => {
    const uids = new Map(fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] }).pods.map((p) => [p.metadata.name as string, p.metadata.uid as string]));
    const exec = createKubernetesActionExecutor(clients);
    const pods = ['web-aaa', 'web-bbb'];
    const outs = await Promise.all(pods.map((p) => exec.run(kubeAction('evict_pod', 'pod', p, NS), stepContext())));
    const { done, refused, donePod, refusedPod } = oneEach(outs, pods);
    assert.deepEqual(done, { ok: true, detail: `evicted pod ${NS}/${donePod} through the Eviction API`, facts: { pod_uid: uids.get(donePod) } });
    assert.deepEqual(refused, {
      ok: false,
      notNow: true,
      unchanged: true,
      detail: `refused: pod ${NS}/${refusedPod} is the last ready replica of Deployment ${NS}/web (ready 1/2); rectify never removes it`,
    });
    assert.equal(fake.count('POST', EVICTION), 1);
    assert.deepEqual(readyPods(fake), [refusedPod]);
  });

  it('holds max_unavailable 1 of 4 across two runs', async () => {
    fake.addDeployment(NS, 'api', 4, { podNames: ['api-aaa', 'api-bbb', 'api-ccc', 'api-ddd'] });
    const exec = createKubernetesActionExecutor(clients);
    const pods = ['api-aaa', 'api-bbb'];
    const outs = await Promise.all(pods.map((p) => exec.run(kubeAction('evict_pod', 'pod', p, NS, { max_unavailable: '1' }), stepContext())));
    const { done, refused, donePod, refusedPod } = oneEach(outs, pods);
    assert.equal(done.detail, `evicted pod ${NS}/${donePod} through the Eviction API`);
    assert.deepEqual(refused, {
      ok: false,
      notNow: true,
      unchanged: true,
      detail: `refused: max_unavailable 1 allows 1 of 4 replicas of Deployment ${NS}/api to be unavailable; 1 already are, removing ready pod ${NS}/${refusedPod} would make it 2`,
    });
    assert.equal(fake.count('POST', EVICTION), 1);
    assert.equal(readyPods(fake).length, 3);
  });

  it('a delete and an eviction of one workload at once: one goes through', async () => {
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    const exec = createKubernetesActionExecutor(clients);
    const outs = await Promise.all([
      exec.run(kubeAction('delete_pod', 'pod', 'web-aaa', NS), stepContext()),
      exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext()),
    ]);
    const { refused, refusedPod } = oneEach(outs, ['web-aaa', 'web-bbb']);
    assert.equal(refused.detail, `refused: pod ${NS}/${refusedPod} is the last ready replica of Deployment ${NS}/web (ready 1/2); rectify never removes it`);
    assert.deepEqual(readyPods(fake), [refusedPod]);
  });

  it('lets the next eviction through once the first run ended and its replacement is ready', async () => {
    fake.readyDelayMs = 30;
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    const exec = createKubernetesActionExecutor(clients);
    const first = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    assert.equal(first.ok, true, first.detail);
    // The replacement ready, web-aaa gone: the API shows 2 ready again.
    await waitFor('a replacement ready', () => readyPods(fake).length === 2 && !fake.get('pods', NS, 'web-aaa'));
    const second = await exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext());
    assert.equal(second.detail, `evicted pod ${NS}/web-bbb through the Eviction API`);
    assert.equal(fake.count('POST', EVICTION), 2);
  });

  it('counts a pod whose eviction may have landed as unavailable, though the API shows it ready, until the bound passes', async () => {
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    let t = 1_000_000;
    const exec = createKubernetesActionExecutor(clients, { clock: { now: () => t } });
    // web-aaa's eviction loses its answer (not applied), and the read after it fails: nobody can tell whether it landed.
    fake.injectReset('POST', /\/pods\/web-aaa\/eviction$/, {
      applied: false,
      then: () => fake.injectError('GET', `/api/v1/namespaces/${NS}/pods/web-aaa`, 500, 'InternalError', 'etcd unavailable'),
    });
    const lost = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    assert.equal(lost.ok, false);
    assert.equal(lost.unconfirmed, true, lost.detail);
    assert.deepEqual(readyPods(fake), ['web-aaa', 'web-bbb']);
    const refused = await exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext());
    assert.deepEqual(refused, {
      ok: false,
      notNow: true,
      unchanged: true,
      detail: `refused: pod ${NS}/web-bbb is the last ready replica of Deployment ${NS}/web (ready 1/2); rectify never removes it`,
    });
    t += PENDING_REMOVAL_MS - 1;
    assert.equal((await exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext())).notNow, true);
    // Past the bound the API's view is trusted again: web-aaa still there, ready, not terminating.
    t += 1;
    const after = await exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext());
    assert.equal(after.detail, `evicted pod ${NS}/web-bbb through the Eviction API`);
  });

  it('a drain and an eviction at once leave the last ready replica', async () => {
    fake.addNode('node-b');
    // web-aaa on node-a (drained), web-bbb on node-b (evicted by another run).
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'], nodeName: ['node-a', 'node-b'] });
    const exec = createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 10 });
    // web-bbb's eviction is held at the API server a while: the drain starts while it is under way.
    fake.injectDelay('POST', /\/pods\/web-bbb\/eviction$/, 300);
    const evicting = exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext());
    await waitFor('the eviction of web-bbb sent', () => fake.count('POST', EVICTION) === 1);
    const drained = await exec.run(kubeAction('drain', 'node', 'node-a', null, {}, 1_000), stepContext());
    const evicted = await evicting;
    const outs = JSON.stringify([drained.detail, evicted.detail]);
    assert.equal(fake.count('POST', EVICTION), 1, outs);
    assert.equal(readyPods(fake).length, 1, outs);
    const last = (pod: string) => `pod ${NS}/${pod} is the last ready replica of Deployment ${NS}/web (ready 1/2); rectify never removes it`;
    assert.equal(evicted.detail, `evicted pod ${NS}/web-bbb through the Eviction API`);
    assert.equal(
      drained.detail,
      `drain node node-a: 1 pod(s) not evicted within 900ms (the drain's 1s timeout less 100ms the step keeps to report): ${NS}/web-aaa (${last('web-aaa')}); evicted 0; the node stays cordoned`,
    );
  });

  it('a scale-down waits for an eviction under way and keeps a ready pod', async () => {
    // An evicted pod stays terminating (its grace period), as a real one does.
    fake.terminationDelayMs = 60_000;
    fake.addStatefulSet(NS, 'db', 3);
    const exec = createKubernetesActionExecutor(clients);
    // db-0's eviction is held at the API server a while: the scale-down (keeping db-0 only) starts while it is under way.
    fake.injectDelay('POST', /\/pods\/db-0\/eviction$/, 300);
    const evicting = exec.run(kubeAction('evict_pod', 'pod', 'db-0', NS), stepContext());
    await waitFor('the eviction of db-0 sent', () => fake.count('POST', EVICTION) === 1);
    const scaled = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '1' }), stepContext());
    assert.equal((await evicting).detail, `evicted pod ${NS}/db-0 through the Eviction API`);
    assert.deepEqual(scaled, {
      ok: false,
      refused: true,
      unchanged: true,
      detail: `refused: scaling StatefulSet ${NS}/db from 3 to 1 would leave it no ready pod: ready now 2 (db-1, db-2), and the scale-down removes db-1, db-2, keeping none of its pods; nothing was written: a person must check it`,
    });
    assert.equal(fake.get('statefulsets', NS, 'db')?.spec.replicas, 3);
  });

  it('a scale-down counts a pod whose eviction may have landed as not ready', async () => {
    fake.addStatefulSet(NS, 'db', 2);
    const exec = createKubernetesActionExecutor(clients);
    fake.injectReset('POST', /\/pods\/db-0\/eviction$/, {
      applied: false,
      then: () => fake.injectError('GET', `/api/v1/namespaces/${NS}/pods/db-0`, 500, 'InternalError', 'etcd unavailable'),
    });
    assert.equal((await exec.run(kubeAction('evict_pod', 'pod', 'db-0', NS), stepContext())).unconfirmed, true);
    const scaled = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '1' }), stepContext());
    assert.equal(
      scaled.detail,
      `refused: scaling StatefulSet ${NS}/db from 2 to 1 would leave it no ready pod: ready now 1 (db-1), and the scale-down removes db-1, keeping db-0, none ready; nothing was written: a person must check it`,
    );
  });
});

describe('two runbooks evicting pods of one deployment at once (service)', { timeout: 60_000 }, () => {
  const rb = (id: string, trigger: string, cooldown: number) => `  ${id}:
    risk: LOW
    triggers: [${trigger}]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: ${cooldown}
    action: kubectl delete pod {pod_name} -n {namespace}
`;
  const on = useServiceOnFake({
    runbooks: () => `runbooks:\n${rb('evict-crashloop', 'crashloop', 10)}${rb('evict-oom', 'oom', 10)}${rb('evict-any', 'any', 0)}`,
    prepare: (fake) => {
      fake.addNode('node-a');
      // Replacements take a while to become ready, as real ones do.
      fake.cluster.readyDelayMs = 60_000;
      fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    },
  });
  const alert = (rootCause: string, pod: string) => on.svc.post('/api/v1/incidents?wait=true', { root_cause: rootCause, service: 'web', confidence: 1, context: { pod_name: pod, namespace: NS } });
  const refusal = (pod: string) => `refused: pod ${NS}/${pod} is the last ready replica of Deployment ${NS}/web (ready 1/2); rectify never removes it`;

  for (const [what, causes] of [
    ['two runbooks with cooldowns', ['crashloop', 'oom']],
    ['one runbook without a cooldown', ['any', 'any']],
  ] as const) {
    it(`${what}: one run evicts, the other is refused, and a ready pod stays`, async () => {
      const pods = ['web-aaa', 'web-bbb'];
      const [a, b] = await Promise.all([alert(causes[0], pods[0]!), alert(causes[1], pods[1]!)]);
      const bodies = [a.body, b.body];
      const ok = bodies.findIndex((x) => x.success === true);
      assert.notEqual(ok, -1, JSON.stringify(bodies));
      const pick = (x: Record<string, unknown>) => [x.action, x.event, x.reason, x.success];
      assert.deepEqual(pick(bodies[ok]), ['executed', 'SUCCESS', 'risk LOW: guardrails passed', true]);
      assert.deepEqual(pick(bodies[1 - ok]), ['blocked', 'DISRUPTION_BLOCKED', `blocked: ${refusal(pods[1 - ok]!)}`, false]);
      assert.equal(on.fake.count('POST', EVICTION), 1);
      assert.deepEqual(readyPods(on.fake), [pods[1 - ok]]);
    });
  }
});

describe('the workload lock and the ledger of pods removed', () => {
  let fake: KubeFake;
  let clients: KubeClients;
  beforeEach(async () => {
    ({ fake, clients } = await startFakeEnv({ readyDelayMs: 60_000 }));
    fake.addNode('node-a');
  });
  afterEach(async () => {
    fake.releaseDelays();
    await fake.close();
  });

  it('a second run evicting the same pod, judged once the first evicted it, finds it terminating: not the last ready replica', async () => {
    fake.terminationDelayMs = 60_000;
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    const exec = createKubernetesActionExecutor(clients);
    fake.injectDelay('POST', /\/pods\/web-aaa\/eviction$/, 300, 1);
    const a = exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    await waitFor('first eviction sent', () => fake.count('POST', EVICTION) === 1);
    const b = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    const first = await a;
    assert.equal(first.detail, `evicted pod ${NS}/web-aaa through the Eviction API`);
    assert.equal(b.ok, true, b.detail);
    assert.equal(b.unchanged, true, b.detail);
    assert.match(b.detail, new RegExp(`^pod ${NS}/web-aaa was already terminating \\(deletionTimestamp .* when read again once its workload's turn came\\): nothing to evict; done without effect$`));
    assert.equal(fake.count('POST', EVICTION), 1);
  });

  it('a scale the API server refused (403) leaves nothing for the rollback: a scale a person made since stays', async () => {
    fake.addDeployment(NS, 'web', 3);
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    fake.injectError('PUT', SCALE, 403, 'Forbidden', 'deployments.apps "web" is forbidden: cannot update resource "deployments/scale"');
    const up = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '4' }), stepContext({ memo }));
    assert.equal(up.ok, false);
    assert.equal(up.unchanged, true, up.detail);
    assert.equal(memo.size, 0);
    // A person then scales it to 4 (what the refused step was to do).
    const person = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '4' }), stepContext());
    assert.equal(person.detail, `scaled Deployment ${NS}/web from 3 to 4 replicas`);
    const back = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '3' }), stepContext({ memo, phase: 'rollback' }));
    assert.equal(back.detail, `Deployment ${NS}/web left as it is: this run did not scale it`);
    assert.equal(fake.get('deployments', NS, 'web')?.spec.replicas, 4);
  });

  it('an eviction answered 500 that a read shows did not land leaves the pod serving: the other pod may be evicted', async () => {
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    const exec = createKubernetesActionExecutor(clients);
    fake.injectError('POST', /\/pods\/web-aaa\/eviction$/, 500, 'InternalError', 'Internal error occurred: failed calling webhook');
    const first = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    assert.equal(first.ok, false);
    assert.equal(first.unchanged, true, first.detail);
    assert.match(first.detail, /a read then found that the write did not land \(pod production\/web-aaa \(uid [^)]*\) is still there, not terminating\)$/);
    const second = await exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext());
    assert.equal(second.detail, `evicted pod ${NS}/web-bbb through the Eviction API`);
  });

  it('an eviction whose connection was reset before it was applied, a read showing it did not land, leaves the pod serving', async () => {
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    const exec = createKubernetesActionExecutor(clients);
    fake.injectReset('POST', /\/pods\/web-aaa\/eviction$/, { applied: false });
    const first = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    assert.equal(first.ok, false);
    assert.equal(first.unchanged, true, first.detail);
    const second = await exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext());
    assert.equal(second.detail, `evicted pod ${NS}/web-bbb through the Eviction API`);
  });

  it("a read showing one run's eviction did not land leaves the pod counted while another run's eviction of it may have", async () => {
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    const exec = createKubernetesActionExecutor(clients);
    const POD = `/api/v1/namespaces/${NS}/pods/web-aaa`;
    // The first run's eviction of web-aaa is cut before it is applied; its read after the
    // cut is held at the API server while a second run evicts web-aaa.
    fake.injectReset('POST', /\/pods\/web-aaa\/eviction$/, { applied: false, then: () => fake.injectDelay('GET', POD, 60_000, 1) });
    const first = exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    await waitFor("the first run's read after the cut held", () => fake.count('GET', POD) === 2);
    // The second run's eviction is cut too, and its read after it fails: nobody can tell whether it landed.
    fake.injectReset('POST', /\/pods\/web-aaa\/eviction$/, { applied: false, then: () => fake.injectError('GET', POD, 500, 'InternalError', 'etcd unavailable') });
    const second = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    assert.equal(second.ok, false);
    assert.equal(second.unconfirmed, true, second.detail);
    // The first run's read then shows web-aaa as before: its own eviction did not land.
    fake.releaseDelays();
    const one = await first;
    assert.equal(one.ok, false);
    assert.equal(one.unchanged, true, one.detail);
    assert.match(one.detail, /a read then found that the write did not land/);
    // The second run's eviction may still have landed: web-aaa counts as unavailable.
    const third = await exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS), stepContext());
    assert.deepEqual(third, {
      ok: false,
      notNow: true,
      unchanged: true,
      detail: `refused: pod ${NS}/web-bbb is the last ready replica of Deployment ${NS}/web (ready 1/2); rectify never removes it`,
    });
    assert.equal(fake.count('POST', EVICTION), 2);
  });

  it("a rollback's scale back up is not held behind another run's eviction of the workload", async () => {
    fake.addDeployment(NS, 'web', 3, { podNames: ['web-aaa', 'web-bbb', 'web-ccc'] });
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    const down = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '2' }), stepContext({ memo }));
    assert.equal(down.detail, `scaled Deployment ${NS}/web from 3 to 2 replicas`);
    // Its controller removes the extra pod; another run's eviction of a pod it keeps is slow at the API server.
    await waitFor('the scale-down carried out', () => fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp).length === 2);
    const pod = fake.list('pods', NS).find((p) => !p.metadata.deletionTimestamp)!.metadata.name as string;
    fake.injectDelay('POST', EVICTION, 4_000, 1);
    const other = exec.run(kubeAction('evict_pod', 'pod', pod, NS, {}, 10_000), stepContext());
    await waitFor('eviction sent', () => fake.count('POST', EVICTION) === 1);
    const back = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '3' }, 1_000), stepContext({ memo, phase: 'rollback' }));
    fake.releaseDelays();
    await other;
    assert.equal(back.detail, `scaled Deployment ${NS}/web from 2 to 3 replicas (the count it had before this run's scale)`);
    assert.equal(fake.get('deployments', NS, 'web')?.spec.replicas, 3);
  });

  it('a run stopped while waiting for its turn at the workload says so, not that its step time ran out', async () => {
    fake.addDeployment(NS, 'web', 3, { podNames: ['web-aaa', 'web-bbb', 'web-ccc'] });
    const exec = createKubernetesActionExecutor(clients);
    fake.injectDelay('POST', /\/pods\/web-aaa\/eviction$/, 60_000, 1);
    const a = exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    await waitFor('first eviction sent', () => fake.count('POST', EVICTION) === 1);
    const ac = new AbortController();
    const b = exec.run(kubeAction('evict_pod', 'pod', 'web-bbb', NS, {}, 30_000), stepContext({ signal: ac.signal }));
    // Its pod's owner read (the last before it waits for the workload), answered.
    await waitFor('second run read its owner', () => fake.count('GET', /\/replicasets\//) === 2);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort(new Error('rectify is stopping'));
    const out = await b;
    fake.releaseDelays();
    await a;
    assert.equal(out.ok, false);
    assert.equal(out.unchanged, true);
    assert.equal(
      out.detail,
      `refused: another run of this rectify was judging or removing pods of Deployment ${NS}/web, and the run was stopped while this step waited for its turn (rectify is stopping); nothing was removed`,
    );
    assert.equal(fake.count('POST', EVICTION), 1);
  });
});

describe('an eviction right after a scale-down', () => {
  let fake: KubeFake;
  afterEach(async () => {
    fake.releaseDelays();
    await fake.close();
  });

  it('counts no more replicas serving than the workload is to have: the last pod it keeps is not evicted', async () => {
    // Its ReplicaSet controller removes the extra pod a while after the scale (well after the eviction is judged).
    fake = await startKubeFake({ readyDelayMs: 60_000, controllerDelayMs: 5_000 });
    const clients = await createKubeClients({ mode: 'kubeconfig', kubeconfigPath: await writeKubeconfig(fake.url), callTimeoutMs: 5_000 });
    fake.addNode('node-a');
    fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
    fake.terminationDelayMs = 60_000;
    const exec = createKubernetesActionExecutor(clients);
    const scaled = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '1' }), stepContext());
    assert.equal(scaled.detail, `scaled Deployment ${NS}/web from 2 to 1 replicas`);
    // Judged at once: its listing is made before the controller acted on the scale.
    const evicted = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), stepContext());
    assert.equal(evicted.notNow, true, evicted.detail);
    assert.equal(evicted.detail, `refused: pod ${NS}/web-aaa is the last ready replica of Deployment ${NS}/web (ready 1/1); rectify never removes it`);
    assert.equal(fake.count('POST', EVICTION), 0);
  });
});

describe('the ledger of pods removed', () => {
  it('lets go of the entries past the bound of every workload when it records another, not only of the workload judged', async () => {
    const { createDisruptionLedger } = await import('../../src/execute/actions/disruptions.js');
    const { createManualClock } = await import('../../src/lib/clock.js');
    const clock = createManualClock();
    const ledger = createDisruptionLedger(clock, 1_000);
    ledger.record('Deployment/a/web', 'uid-1');
    ledger.record('Deployment/b/api', 'uid-2');
    assert.equal(ledger.tracked(), 2);
    clock.advance(999);
    ledger.record('Deployment/c/db', 'uid-3');
    assert.equal(ledger.tracked(), 3);
    clock.advance(1);
    // Deployment/a/web and Deployment/b/api are never judged again (deleted, say).
    ledger.record('Deployment/c/db', 'uid-4');
    assert.equal(ledger.tracked(), 1);
    assert.deepEqual([...ledger.pending('Deployment/c/db')].sort(), ['uid-3', 'uid-4']);
  });

  it('lets go of one removal of a pod only: another recorded of the same pod keeps it counted', async () => {
    const { createDisruptionLedger } = await import('../../src/execute/actions/disruptions.js');
    const { createManualClock } = await import('../../src/lib/clock.js');
    const ledger = createDisruptionLedger(createManualClock(), 1_000);
    const first = ledger.record('Deployment/a/web', 'uid-1');
    const second = ledger.record('Deployment/a/web', 'uid-1');
    first();
    first();
    assert.deepEqual([...ledger.pending('Deployment/a/web')], ['uid-1']);
    second();
    assert.deepEqual([...ledger.pending('Deployment/a/web')], []);
    assert.equal(ledger.tracked(), 0);
  });
});

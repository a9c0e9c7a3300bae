import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createKubeClients, type KubeClients } from '../../src/checks/kubernetes.js';
import { createNamedCheckRunner } from '../../src/checks/named.js';
import { allowedUnavailable, createKubernetesActionExecutor } from '../../src/execute/actions/kubernetes.js';
import { createManualClock } from '../../src/lib/index.js';
import type { KObj } from '../helpers/kube-fake/cluster.js';
import type { Json } from '../helpers/kube-fake/patch.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { EVICTION, POD_PATH, kubeAction, namedCheck, startFakeEnv, stepContext, waitFor } from './setup.js';

const NS = 'production';
const DEP_PATH = (name: string): string => `/apis/apps/v1/namespaces/${NS}/deployments/${name}`;
const POD_PATH_OF = (name: string): string => `/api/v1/namespaces/${NS}/pods/${name}`;

describe('kubernetes actions against the API fake', () => {
  let fake: KubeFake;
  let clients: KubeClients;
  let kubeconfig: string;
  // Clients whose API calls time out sooner: a drain retries a refused eviction only while a
  // whole call's answer wait fits before its deadline, so tests of its retries use these
  // within a deadline of a few seconds.
  const quickClients = (callTimeoutMs = 1_000): Promise<KubeClients> => createKubeClients({ mode: 'kubeconfig', kubeconfigPath: kubeconfig, callTimeoutMs });

  beforeEach(async () => {
    ({ fake, clients, kubeconfig } = await startFakeEnv());
    fake.addNode('node-a');
    fake.addNode('node-b');
  });
  afterEach(async () => {
    await fake.close();
  });

  it('evicts INC001 pod through the Eviction API and the replacement (new name) becomes Ready', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'], restartCount: 1 });
    const exec = createKubernetesActionExecutor(clients);
    const ctx = stepContext();
    const out = await exec.run(kubeAction('evict_pod', 'pod', 'api-server-abc123', NS), ctx);
    assert.deepEqual(out.ok, true, out.detail);
    assert.equal(out.detail, 'evicted pod production/api-server-abc123 through the Eviction API');
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/api-server-abc123/eviction`), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    const ev = fake.requests.find((r) => EVICTION.test(r.path))!;
    assert.equal(ev.contentType, 'application/json');
    const body = ev.body as { kind: string; apiVersion: string; deleteOptions: { preconditions: { uid: string } } };
    assert.equal(body.kind, 'Eviction');
    assert.equal(body.apiVersion, 'policy/v1');
    assert.equal(body.deleteOptions.preconditions.uid, out.facts?.pod_uid);
    assert.ok(ev.authorization, 'the kubeconfig token is sent');

    const check = await createNamedCheckRunner({ kube: clients }).run(
      namedCheck('pod_becomes_ready', { namespace: NS, pod_name: 'api-server-abc123', deployment: 'api-server' }),
      ctx,
    );
    assert.equal(check.ok, true, check.detail);
    const pods = fake.list('pods', NS).map((p) => p.metadata.name);
    assert.equal(pods.length, 3);
    assert.ok(!pods.includes('api-server-abc123'));
    assert.match(check.detail, /new: api-server-[a-z0-9]+-[a-z0-9]{5}/);
  });

  // Regression: the eviction kept the uid it acted on only as a fact, not in the run's memo.
  // With no pre-check having read the pod, pod_becomes_ready's first read found web-0
  // already recreated by its StatefulSet, took it for the evicted pod, and never passed.
  it('pod_becomes_ready after a StatefulSet pod is evicted or deleted with no pre-check: the pod recreated under its name is the new one', async () => {
    fake.addStatefulSet(NS, 'web', 3, { nodeName: 'node-a' });
    const exec = createKubernetesActionExecutor(clients);
    const checks = createNamedCheckRunner({ kube: clients });
    for (const [verb, pod] of [['evict_pod', 'web-0'], ['delete_pod', 'web-1']] as const) {
      const uid = fake.get('pods', NS, pod)!.metadata.uid;
      const memo = new Map<string, unknown>();
      const ctx = stepContext({ memo, phase: 'action' });
      const out = await exec.run(kubeAction(verb, 'pod', pod, NS), ctx);
      assert.deepEqual([out.ok, out.facts], [true, { pod_uid: uid }], out.detail);
      await waitFor(`${pod} recreated and ready`, () => {
        const now = fake.get('pods', NS, pod);
        return now !== undefined && now.metadata.uid !== uid && fake.get('statefulsets', NS, 'web')!.status?.readyReplicas === 3;
      });
      const check = await checks.run(namedCheck('pod_becomes_ready', { namespace: NS, pod, statefulset: 'web' }), { ...stepContext({ memo }), startedAt: ctx.startedAt });
      assert.equal(check.ok, true, check.detail);
      // Which other pods count as new depends on when the fake made them: the recreated one always does.
      assert.match(check.detail, new RegExp(`^StatefulSet ${NS}/web: ready 3/3, updated 3, total 3; 3 ready pod\\(s\\) counted; new: (web-\\d, )*${pod}(, web-\\d)*$`), verb);
    }
  });

  it('a PodDisruptionBudget with no disruptions allowed fails the step: no DELETE, no second eviction', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, disruptionsAllowed: 0 });
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('evict_pod', 'pod', 'api-server-abc123', NS), stepContext());
    assert.equal(out.ok, false);
    assert.match(out.detail, /^eviction refused by PodDisruptionBudget \(429\): Cannot evict pod as it would violate the pod's disruption budget\.$/);
    assert.equal(fake.count('POST', EVICTION), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.ok(fake.get('pods', NS, 'api-server-abc123'), 'the pod is still there');
  });

  it('a budget computed from the pods (minAvailable = replicas) also refuses', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, minAvailable: 3 });
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('evict_pod', 'pod', 'api-server-abc123', NS), stepContext());
    assert.equal(out.ok, false);
    assert.match(out.detail, /^eviction refused by PodDisruptionBudget \(429\)/);
    assert.equal(fake.count('DELETE', /.*/), 0);
  });

  it('a 429 from the API server throttling (no budget named) is not called a PodDisruptionBudget: not now, sent once, never a delete', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    fake.injectError('POST', EVICTION, 429, 'TooManyRequests', 'Too many requests, please try again later.', 1, { 'retry-after': '1' });
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('evict_pod', 'pod', 'api-server-abc123', NS), stepContext());
    assert.deepEqual(out, {
      ok: false,
      notNow: true,
      detail: 'eviction refused by the API server (429 TooManyRequests), not by a PodDisruptionBudget: Too many requests, please try again later.',
      unchanged: true,
    });
    assert.equal(fake.count('POST', EVICTION), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.ok(fake.get('pods', NS, 'api-server-abc123'), 'the pod is still there');
  });

  it('force_delete (delete_pod) sends one DELETE with a uid precondition and no eviction', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, disruptionsAllowed: 0 });
    const uid = fake.get('pods', NS, 'api-server-abc123')!.metadata.uid;
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('delete_pod', 'pod', 'api-server-abc123', NS), stepContext());
    assert.equal(out.ok, true, out.detail);
    assert.equal(fake.count('DELETE', `/api/v1/namespaces/${NS}/pods/api-server-abc123`), 1);
    assert.equal(fake.count('POST', EVICTION), 0);
    const del = fake.requests.find((r) => r.method === 'DELETE')!;
    assert.deepEqual((del.body as { preconditions: unknown }).preconditions, { uid });
    assert.equal(fake.get('pods', NS, 'api-server-abc123'), undefined);
  });

  it('never evicts the last ready replica, with or without max_unavailable', async () => {
    fake.addDeployment(NS, 'solo', 1, { podNames: ['solo-aaaaa'] });
    const exec = createKubernetesActionExecutor(clients);
    const out = await exec.run(kubeAction('evict_pod', 'pod', 'solo-aaaaa', NS), stepContext());
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'refused: pod production/solo-aaaaa is the last ready replica of Deployment production/solo (ready 1/1); rectify never removes it');
    // Two replicas, one ready: the ready one is protected, the crashing one may go.
    fake.addDeployment(NS, 'pair', 2, { podNames: ['pair-ready', 'pair-broken'], readyReplicas: 1 });
    const ready = await exec.run(kubeAction('delete_pod', 'pod', 'pair-ready', NS), stepContext());
    assert.equal(ready.ok, false);
    assert.match(ready.detail, /last ready replica of Deployment production\/pair/);
    // force_delete skips PodDisruptionBudgets, not these limits, and their refusal is "not now" like an eviction's.
    assert.deepEqual([out.notNow, ready.notNow, ready.unchanged], [true, true, true]);
    const broken = await exec.run(kubeAction('evict_pod', 'pod', 'pair-broken', NS), stepContext());
    assert.equal(broken.ok, true, broken.detail);
    assert.equal(fake.count('POST', EVICTION), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
  });

  it('max_unavailable 25% allows one disruption of four replicas and refuses a second', async () => {
    fake.readyDelayMs = 60_000; // the replacement stays unready for the whole test
    const { pods } = fake.addDeployment(NS, 'web', 4);
    const exec = createKubernetesActionExecutor(clients);
    const first = await exec.run(kubeAction('evict_pod', 'pod', pods[0]!.metadata.name, NS, { max_unavailable: '25%' }), stepContext());
    assert.equal(first.ok, true, first.detail);
    await waitFor('replacement created', () => fake.list('pods', NS).length === 4);
    await waitFor('status updated', () => fake.get('deployments', NS, 'web')!.status.readyReplicas === 3);
    const second = await exec.run(kubeAction('evict_pod', 'pod', pods[1]!.metadata.name, NS, { max_unavailable: '25%' }), stepContext());
    assert.equal(second.ok, false);
    assert.equal(
      second.detail,
      `refused: max_unavailable 25% allows 1 of 4 replicas of Deployment production/web to be unavailable; 1 already are, removing ready pod production/${pods[1]!.metadata.name} would make it 2`,
    );
    assert.equal(fake.count('POST', EVICTION), 1);
    const forced = await exec.run(kubeAction('delete_pod', 'pod', pods[1]!.metadata.name, NS, { max_unavailable: '25%' }), stepContext());
    assert.deepEqual([forced.ok, forced.notNow, forced.unchanged], [false, true, true]);
    assert.match(forced.detail, /^refused: max_unavailable 25% allows 1 of 4 replicas/);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal(allowedUnavailable('25%', 3), 0);
    assert.equal(allowedUnavailable('1', 3), 1);
  });

  it('refuses to evict or delete a pod no controller would replace: for good (a plain failure), not "not now"', async () => {
    fake.addPod(NS, 'bare', { nodeName: 'node-a' });
    const exec = createKubernetesActionExecutor(clients);
    for (const verb of ['evict_pod', 'delete_pod'] as const) {
      const out = await exec.run(kubeAction(verb, 'pod', 'bare', NS), stepContext());
      assert.deepEqual([out.ok, out.notNow, out.unchanged], [false, undefined, true], verb);
      assert.equal(out.detail, 'refused: pod production/bare has no controller: nothing would replace it');
    }
    assert.equal(fake.count('POST', EVICTION), 0);
    assert.equal(fake.count('DELETE', `/api/v1/namespaces/${NS}/pods/bare`), 0);
  });

  it('a pod already gone (404) before its eviction or delete is done without effect: nothing sent, nothing changed', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    const exec = createKubernetesActionExecutor(clients);
    for (const verb of ['evict_pod', 'delete_pod'] as const) {
      const out = await exec.run(kubeAction(verb, 'pod', 'api-server-gone', NS), stepContext());
      const what = verb === 'evict_pod' ? 'evict' : 'delete';
      assert.deepEqual(out, { ok: true, unchanged: true, detail: `pod ${NS}/api-server-gone was already gone (404 when read): nothing to ${what}; done without effect` });
    }
    assert.equal(fake.count('POST', EVICTION), 0);
    assert.equal(fake.count('DELETE', /.*/), 0);
    // Gone between the read and the eviction: the eviction's 404, confirmed by a read.
    fake.injectDelay('POST', EVICTION, 30_000);
    const racing = exec.run(kubeAction('evict_pod', 'pod', 'api-server-abc123', NS), stepContext());
    await waitFor('the eviction sent', () => fake.count('POST', EVICTION) === 1);
    fake.cluster.remove('pods', NS, 'api-server-abc123');
    fake.releaseDelays();
    assert.deepEqual(await racing, { ok: true, unchanged: true, detail: `pod ${NS}/api-server-abc123 was already gone (404 to its eviction): nothing to evict; done without effect` });
    // A 404 while the pod is still there (a path the API server does not serve) is no such answer.
    const [still] = fake.list('pods', NS).map((p) => p.metadata.name as string);
    fake.injectError('POST', EVICTION, 404, 'NotFound', 'the server could not find the requested resource');
    const odd = await exec.run(kubeAction('evict_pod', 'pod', still!, NS), stepContext());
    assert.deepEqual([odd.ok, odd.detail], [false, `evict_pod pod ${NS}/${still}: 404 NotFound: the server could not find the requested resource`]);
  });

  it('a 409 because a new pod took the name (a StatefulSet recreated it) is done without effect, naming the new pod; a 409 for the same pod still fails', async () => {
    fake.addStatefulSet(NS, 'web', 3);
    const exec = createKubernetesActionExecutor(clients);
    const POD = (name: string): string => `/api/v1/namespaces/${NS}/pods/${name}`;
    for (const verb of ['evict_pod', 'delete_pod'] as const) {
      const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
      const [method, path] = verb === 'evict_pod' ? ['POST', `${POD('web-0')}/eviction`] : ['DELETE', POD('web-0')];
      fake.clearRequests();
      // Read by rectify, then deleted by someone else before its request lands: the
      // StatefulSet recreates web-0, a new pod under the same name.
      fake.injectDelay(method, path, 30_000);
      const racing = exec.run(kubeAction(verb, 'pod', 'web-0', NS), stepContext());
      await waitFor('the request sent', () => fake.count(method, path) === 1);
      fake.deletePod(NS, 'web-0');
      await waitFor('the successor created', () => (fake.get('pods', NS, 'web-0')?.metadata.uid ?? old) !== old);
      const successor = fake.get('pods', NS, 'web-0')!.metadata.uid;
      fake.releaseDelays();
      const request = verb === 'evict_pod' ? 'eviction' : 'delete';
      const what = verb === 'evict_pod' ? 'evict' : 'delete';
      assert.deepEqual(await racing, {
        ok: true,
        unchanged: true,
        detail: `pod ${NS}/web-0 (uid ${old}) was already gone: a new pod (uid ${successor}) now holds the name (409 to its ${request}, whose uid precondition left the new pod alone): nothing to ${what}; done without effect`,
      });
      // The new pod is left alone.
      assert.equal(fake.count(method, path), 1);
      assert.equal(fake.get('pods', NS, 'web-0')!.metadata.uid, successor);
      assert.equal(fake.get('pods', NS, 'web-0')!.metadata.deletionTimestamp, undefined);
      await waitFor('web-0 ready again', () => fake.list('statefulsets', NS)[0]!.status.readyReplicas === 3);
    }

    // A 409 to the request, the pod gone by the read after it (a Deployment's pod: its
    // replacement has another name): gone too.
    fake.addDeployment(NS, 'api', 3, { podNames: ['api-p1'] });
    const gone = fake.get('pods', NS, 'api-p1')!.metadata.uid;
    fake.injectDelay('POST', `${POD('api-p1')}/eviction`, 30_000);
    fake.injectError('POST', `${POD('api-p1')}/eviction`, 409, 'Conflict', `Precondition failed: UID in precondition: ${gone}, UID in object meta: other`);
    const racing = exec.run(kubeAction('evict_pod', 'pod', 'api-p1', NS), stepContext());
    await waitFor('the eviction sent', () => fake.count('POST', `${POD('api-p1')}/eviction`) === 1);
    fake.deletePod(NS, 'api-p1');
    fake.releaseDelays();
    assert.deepEqual(await racing, {
      ok: true,
      unchanged: true,
      detail: `pod ${NS}/api-p1 (uid ${gone}) was already gone (409 to its eviction, then 404 when read): nothing to evict; done without effect`,
    });

    // A 409 while the same pod (its uid) is still there, not terminating: the failure stands.
    const conflict = 'Operation cannot be fulfilled on pods "web-2": the object has been modified; please apply your changes to the latest version and try again';
    fake.injectError('POST', `${POD('web-2')}/eviction`, 409, 'Conflict', conflict);
    const evict = await exec.run(kubeAction('evict_pod', 'pod', 'web-2', NS), stepContext());
    assert.deepEqual([evict.ok, evict.unchanged, evict.detail], [false, true, `pod ${NS}/web-2 changed before eviction (409): ${conflict}`]);
    fake.injectError('DELETE', POD('web-2'), 409, 'Conflict', conflict);
    const del = await exec.run(kubeAction('delete_pod', 'pod', 'web-2', NS), stepContext());
    assert.deepEqual([del.ok, del.unchanged, del.detail], [false, true, `delete_pod pod ${NS}/web-2: 409 Conflict: ${conflict}`]);
    assert.ok(fake.get('pods', NS, 'web-2'));
    assert.equal(fake.get('pods', NS, 'web-2')!.metadata.deletionTimestamp, undefined);
  });

  // Regression: a 429 to the eviction while a same-named successor held the name (the API
  // server asks the budget about the pod holding the name, the new one not ready yet, before
  // it checks the uid precondition) failed the step as "not now": the run was blocked on a
  // pod that no longer existed. So was a 429 after which the pod was simply gone.
  it('a 429 to an eviction after which another pod holds the name, or none, is done without effect naming what was found, never a delete; a 429 for the same pod stays "not now"', async () => {
    fake.addStatefulSet(NS, 'web', 3);
    fake.addPdb(NS, 'web-pdb', { matchLabels: { app: 'web' }, maxUnavailable: 1 });
    // The successor stays unready: with it, the budget has no room (2 healthy of the 2 it needs).
    fake.readyDelayMs = 60_000;
    const exec = createKubernetesActionExecutor(clients);
    const POD = (name: string): string => `/api/v1/namespaces/${NS}/pods/${name}`;
    const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
    // Read by rectify, then deleted by someone else before its eviction lands: the
    // StatefulSet recreates web-0, a new pod under the same name.
    fake.injectDelay('POST', `${POD('web-0')}/eviction`, 30_000);
    const racing = exec.run(kubeAction('evict_pod', 'pod', 'web-0', NS), stepContext());
    await waitFor('the eviction sent', () => fake.count('POST', `${POD('web-0')}/eviction`) === 1);
    fake.deletePod(NS, 'web-0');
    await waitFor('the successor created', () => (fake.get('pods', NS, 'web-0')?.metadata.uid ?? old) !== old);
    const successor = fake.get('pods', NS, 'web-0')!.metadata.uid;
    fake.releaseDelays();
    assert.deepEqual(await racing, {
      ok: true,
      unchanged: true,
      detail: `pod ${NS}/web-0 (uid ${old}) was already gone: a new pod (uid ${successor}) now holds the name (429 to its eviction, which removed nothing): nothing to evict; done without effect`,
    });
    // The budget answered about the successor, before the uid precondition, as the API server does.
    assert.deepEqual(fake.requests.filter((r) => EVICTION.test(r.path)).map((r) => r.status), [429]);
    // Read once before the eviction and once after its 429; no delete, no second eviction.
    assert.equal(fake.count('GET', POD('web-0')), 2);
    assert.equal(fake.count('POST', EVICTION), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal(fake.get('pods', NS, 'web-0')!.metadata.uid, successor);
    assert.equal(fake.get('pods', NS, 'web-0')!.metadata.deletionTimestamp, undefined);

    // A 429 naming the budget, the pod gone by the read after it (a Deployment's pod: its
    // replacement has another name): gone too.
    fake.readyDelayMs = 30;
    fake.addDeployment(NS, 'api', 3, { podNames: ['api-p1'] });
    const gone = fake.get('pods', NS, 'api-p1')!.metadata.uid;
    fake.clearRequests();
    fake.injectDelay('POST', `${POD('api-p1')}/eviction`, 30_000);
    fake.injectError('POST', `${POD('api-p1')}/eviction`, 429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.");
    const vanishing = exec.run(kubeAction('evict_pod', 'pod', 'api-p1', NS), stepContext());
    await waitFor('the eviction sent', () => fake.count('POST', `${POD('api-p1')}/eviction`) === 1);
    fake.deletePod(NS, 'api-p1');
    fake.releaseDelays();
    assert.deepEqual(await vanishing, {
      ok: true,
      unchanged: true,
      detail: `pod ${NS}/api-p1 (uid ${gone}) was already gone (429 to its eviction, then 404 when read): nothing to evict; done without effect`,
    });
    assert.deepEqual([fake.count('GET', POD('api-p1')), fake.count('POST', EVICTION), fake.count('DELETE', /.*/)], [2, 1, 0]);

    // A 429 while the same pod (its uid) is still there, not terminating: "not now" stands.
    fake.clearRequests();
    fake.injectError('POST', `${POD('web-2')}/eviction`, 429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.");
    const refused = await exec.run(kubeAction('evict_pod', 'pod', 'web-2', NS), stepContext());
    assert.deepEqual(refused, {
      ok: false,
      notNow: true,
      unchanged: true,
      detail: "eviction refused by PodDisruptionBudget (429): Cannot evict pod as it would violate the pod's disruption budget.",
    });
    assert.deepEqual([fake.count('GET', POD('web-2')), fake.count('POST', EVICTION), fake.count('DELETE', /.*/)], [2, 1, 0]);
    assert.equal(fake.get('pods', NS, 'web-2')!.metadata.deletionTimestamp, undefined);
  });

  it('the fake deletes a pod gracefully, as the API server does: terminating (deletionTimestamp) and replaced, gone once its kubelet confirms; a second delete changes nothing unless shorter', async () => {
    fake.addDeployment(NS, 'api-server', 2, { podNames: ['api-server-abc123'] });
    fake.terminationDelayMs = 60_000;
    const before = Date.now();
    const answer = await clients.core.deleteNamespacedPod({ namespace: NS, name: 'api-server-abc123', gracePeriodSeconds: 45 });
    const due = answer.metadata?.deletionTimestamp?.getTime() ?? 0;
    assert.ok(due >= before + 44_000 && due <= Date.now() + 46_000, `deletionTimestamp ${answer.metadata?.deletionTimestamp?.toISOString()}`);
    assert.equal(answer.metadata?.deletionGracePeriodSeconds, 45);
    const read = await clients.core.readNamespacedPod({ namespace: NS, name: 'api-server-abc123' });
    assert.equal(read.metadata?.deletionTimestamp?.getTime(), due);
    // Its ReplicaSet no longer counts it: a replacement comes while it terminates.
    await waitFor('replacement created', () => fake.list('pods', NS).length === 3);
    // Deleted again with a longer grace period: answered with the pod as it is.
    const again = await clients.core.deleteNamespacedPod({ namespace: NS, name: 'api-server-abc123', gracePeriodSeconds: 120 });
    assert.equal(again.metadata?.deletionTimestamp?.getTime(), due);
    // An eviction of it asks no budget (it disrupts nothing more): accepted, and changes nothing either.
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, disruptionsAllowed: 0 });
    await clients.core.createNamespacedPodEviction({ namespace: NS, name: 'api-server-abc123', body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'api-server-abc123', namespace: NS } } });
    assert.equal(fake.get('pods', NS, 'api-server-abc123')!.metadata.deletionGracePeriodSeconds, 45);
    // A shorter one shortens it; 0 removes it.
    const shorter = await clients.core.deleteNamespacedPod({ namespace: NS, name: 'api-server-abc123', gracePeriodSeconds: 10 });
    assert.equal(shorter.metadata?.deletionGracePeriodSeconds, 10);
    assert.ok((shorter.metadata?.deletionTimestamp?.getTime() ?? Infinity) < due);
    await clients.core.deleteNamespacedPod({ namespace: NS, name: 'api-server-abc123', gracePeriodSeconds: 0 });
    assert.equal(fake.get('pods', NS, 'api-server-abc123'), undefined);
    // A kubelet that confirms at once: the pod is gone within the delete.
    fake.terminationDelayMs = 0;
    const [other] = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp);
    await clients.core.deleteNamespacedPod({ namespace: NS, name: other!.metadata.name });
    assert.equal(fake.get('pods', NS, other!.metadata.name), undefined);
  });

  it('a pod already terminating (its deletionTimestamp set) before its eviction or delete is done without effect: nothing sent, nothing changed', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123', 'api-server-def456'] });
    // Someone else deleted it; its kubelet is still stopping it.
    fake.terminationDelayMs = 60_000;
    fake.deletePod(NS, 'api-server-abc123', 30);
    const ts = new Date(fake.get('pods', NS, 'api-server-abc123')!.metadata.deletionTimestamp!).toISOString();
    const exec = createKubernetesActionExecutor(clients);
    fake.clearRequests();
    for (const verb of ['evict_pod', 'delete_pod'] as const) {
      const out = await exec.run(kubeAction(verb, 'pod', 'api-server-abc123', NS), stepContext());
      const what = verb === 'evict_pod' ? 'evict' : 'delete';
      assert.deepEqual(out, { ok: true, unchanged: true, detail: `pod ${NS}/api-server-abc123 was already terminating (deletionTimestamp ${ts} when read): nothing to ${what}; done without effect` });
    }
    assert.equal(fake.count('POST', EVICTION), 0);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal(fake.get('pods', NS, 'api-server-abc123')!.metadata.deletionGracePeriodSeconds, 30, 'its deletion is left as it was');

    // Deleted between the read and the eviction, on an API server that asks the budget even
    // for a terminating pod (429): a read shows that same pod terminating.
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, disruptionsAllowed: 0 });
    fake.injectDelay('POST', EVICTION, 30_000);
    const refusal = "Cannot evict pod as it would violate the pod's disruption budget.";
    fake.injectError('POST', EVICTION, 429, 'TooManyRequests', refusal);
    const racing = exec.run(kubeAction('evict_pod', 'pod', 'api-server-def456', NS), stepContext());
    await waitFor('the eviction sent', () => fake.count('POST', EVICTION) === 1);
    fake.deletePod(NS, 'api-server-def456', 30);
    const ts2 = new Date(fake.get('pods', NS, 'api-server-def456')!.metadata.deletionTimestamp!).toISOString();
    fake.releaseDelays();
    assert.deepEqual(await racing, {
      ok: true,
      unchanged: true,
      detail: `pod ${NS}/api-server-def456 was already terminating (deletionTimestamp ${ts2} on a read after the 429 to its eviction): nothing to evict; done without effect`,
    });
    // A 429 for a pod that is not terminating stays the budget's "not now". The replacements
    // become Ready a moment after their pods were deleted: wait for them, or the pod asked for
    // would be the last ready replica, which rectify refuses before asking the budget.
    const ready = () => fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp && p.status.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
    await waitFor('the replacements ready', () => ready().length >= 3);
    const [running] = ready();
    const blocked = await exec.run(kubeAction('evict_pod', 'pod', running!.metadata.name, NS), stepContext());
    assert.deepEqual([blocked.ok, blocked.notNow, blocked.detail], [false, true, `eviction refused by PodDisruptionBudget (429): ${refusal}`]);
    assert.equal(fake.count('DELETE', /.*/), 0);
  });

  it('a pod stuck terminating (past its deletionTimestamp by more than 30 s) fails its eviction or delete, naming it; one within its grace, or just past it, is done without effect', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123', 'api-server-def456'] });
    fake.terminationDelayMs = 600_000;
    fake.deletePod(NS, 'api-server-abc123', 30);
    // Its grace period ended two minutes ago and it is still there (a finalizer, a kubelet gone).
    const past = new Date(Date.now() - 120_000).toISOString();
    fake.get('pods', NS, 'api-server-abc123')!.metadata.deletionTimestamp = past;
    const exec = createKubernetesActionExecutor(clients);
    fake.clearRequests();
    for (const verb of ['evict_pod', 'delete_pod'] as const) {
      const out = await exec.run(kubeAction(verb, 'pod', 'api-server-abc123', NS), stepContext());
      assert.equal(out.ok, false, out.detail);
      assert.match(out.detail, new RegExp(`^pod ${NS}/api-server-abc123 is stuck terminating since ${past.replace(/[.]/g, '[.]')} \\(deletionTimestamp when read: its grace period ended 120s ago`));
    }
    assert.equal(fake.count('POST', EVICTION), 0);
    assert.equal(fake.count('DELETE', /.*/), 0);
    // Just past its grace (the kubelet is still reporting): on its way out, done without effect.
    fake.deletePod(NS, 'api-server-def456', 30);
    const recent = new Date(Date.now() - 10_000).toISOString();
    fake.get('pods', NS, 'api-server-def456')!.metadata.deletionTimestamp = recent;
    const out = await exec.run(kubeAction('evict_pod', 'pod', 'api-server-def456', NS), stepContext());
    assert.deepEqual(out, { ok: true, unchanged: true, detail: `pod ${NS}/api-server-def456 was already terminating (deletionTimestamp ${recent} when read): nothing to evict; done without effect` });
  });

  /**
   * api-server-abc123 of a deployment of 3, its deletion asked with a 30 s grace and never
   * done (the fake holds it terminating), and an executor on rectify's clock stopped at `rectify`.
   */
  const stuckPod = () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    fake.terminationDelayMs = 600_000;
    fake.deletePod(NS, 'api-server-abc123', 30);
    const rectify = Date.UTC(2026, 0, 2, 3, 0, 0);
    return { pod: fake.get('pods', NS, 'api-server-abc123')!, rectify, exec: createKubernetesActionExecutor(clients, { clock: createManualClock(rectify) }) };
  };
  const iso = (ms: number): string => new Date(ms).toISOString();

  it("a pod stuck terminating is judged by the API server's clock (its Date header), not rectify's; without the header, by rectify's", async () => {
    const { pod, rectify, exec } = stuckPod();
    // rectify's clock, and the API server's, each stopped, 120 s apart.
    const run = (verb: 'evict_pod' | 'delete_pod') => exec.run(kubeAction(verb, 'pod', 'api-server-abc123', NS), stepContext());
    const what = { evict_pod: 'evict', delete_pod: 'delete' } as const;

    // The server's clock 120 s ahead: a deletionTimestamp 40 s old by it is 80 s ahead of rectify's.
    fake.serverNow = () => rectify + 120_000;
    pod.metadata.deletionTimestamp = iso(rectify + 80_000);
    for (const verb of ['evict_pod', 'delete_pod'] as const) {
      assert.deepEqual(await run(verb), {
        ok: false,
        unchanged: true,
        detail:
          `pod ${NS}/api-server-abc123 is stuck terminating since ${iso(rectify + 80_000)} (deletionTimestamp when read: its grace period ended 40s ago by the API server's clock ` +
          `(120s ahead of rectify's, by its Date header) and it is still there, a finalizer or its kubelet holding it): nothing to ${what[verb]}; a person must check it`,
      });
    }
    // No Date header: judged by rectify's clock, as before: not due yet.
    fake.dateHeader = false;
    assert.deepEqual(await run('evict_pod'), {
      ok: true,
      unchanged: true,
      detail: `pod ${NS}/api-server-abc123 was already terminating (deletionTimestamp ${iso(rectify + 80_000)} when read): nothing to evict; done without effect`,
    });

    // And the other way: the server's clock 120 s behind; 40 s old by rectify's clock, its
    // grace (120 s, asked 160 s before rectify's now) still runs by the server's.
    fake.dateHeader = true;
    fake.serverNow = () => rectify - 120_000;
    pod.metadata.deletionTimestamp = iso(rectify - 40_000);
    pod.metadata.deletionGracePeriodSeconds = 120;
    for (const verb of ['evict_pod', 'delete_pod'] as const) {
      assert.deepEqual(await run(verb), {
        ok: true,
        unchanged: true,
        detail: `pod ${NS}/api-server-abc123 was already terminating (deletionTimestamp ${iso(rectify - 40_000)} when read): nothing to ${what[verb]}; done without effect`,
      });
    }
    fake.dateHeader = false;
    const out = await run('evict_pod');
    assert.deepEqual([out.ok, out.detail], [
      false,
      `pod ${NS}/api-server-abc123 is stuck terminating since ${iso(rectify - 40_000)} (deletionTimestamp when read: its grace period ended 40s ago and it is still there, a finalizer or its kubelet holding it): nothing to evict; a person must check it`,
    ]);
    assert.equal(fake.count('POST', EVICTION), 0);
    assert.equal(fake.count('DELETE', /.*/), 0);
  });

  it("a Date header that cannot be the API server's clock is not believed: a stuck pod is still found stuck, by rectify's clock", async () => {
    const { pod, rectify, exec } = stuckPod();
    pod.metadata.deletionGracePeriodSeconds = 30;
    const cases: Array<[header: string, endedAgoMs: number]> = [
      // Not RFC 9110's form: Date.parse reads "1" as 2001-01-01, "garbage 12" as 2001-12-01.
      ['1', 3_600_000],
      ['garbage 12', 3_600_000],
      // The epoch: further apart than any clock is believed to be (10 minutes).
      [new Date(0).toUTCString(), 3_600_000],
      // 9 minutes behind: within the bound, but before the deletion was asked (90 s ago
      // by rectify's clock), which the server stamped by its own.
      [new Date(rectify - 9 * 60_000).toUTCString(), 60_000],
    ];
    for (const [header, endedAgoMs] of cases) {
      fake.dateHeader = header;
      pod.metadata.deletionTimestamp = iso(rectify - endedAgoMs);
      const out = await exec.run(kubeAction('delete_pod', 'pod', 'api-server-abc123', NS), stepContext());
      assert.deepEqual([header, out.ok, out.detail], [
        header,
        false,
        `pod ${NS}/api-server-abc123 is stuck terminating since ${iso(rectify - endedAgoMs)} (deletionTimestamp when read: its grace period ended ${endedAgoMs / 1000}s ago and it is still there, a finalizer or its kubelet holding it): nothing to delete; a person must check it`,
      ]);
    }
    // And ahead: a pod whose grace ends in a minute by rectify's clock is on its way out,
    // not stuck, whatever a header not in RFC 9110's form (an ISO time 5 minutes ahead) or
    // a day ahead says.
    pod.metadata.deletionTimestamp = iso(rectify + 60_000);
    for (const header of [iso(rectify + 5 * 60_000), new Date(rectify + 86_400_000).toUTCString()]) {
      fake.dateHeader = header;
      const out = await exec.run(kubeAction('delete_pod', 'pod', 'api-server-abc123', NS), stepContext());
      assert.deepEqual([header, out.ok, out.detail], [
        header,
        true,
        `pod ${NS}/api-server-abc123 was already terminating (deletionTimestamp ${iso(rectify + 60_000)} when read): nothing to delete; done without effect`,
      ]);
    }
    assert.equal(fake.count('DELETE', /.*/), 0);
  });

  it('delete_pod with a grace period shorter than a terminating pod\'s shortens it, the uid precondition sent; a longer one or none changes nothing', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    fake.terminationDelayMs = 600_000;
    fake.deletePod(NS, 'api-server-abc123', 300);
    const uid = fake.get('pods', NS, 'api-server-abc123')!.metadata.uid;
    const exec = createKubernetesActionExecutor(clients);
    fake.clearRequests();
    const longer = await exec.run(kubeAction('delete_pod', 'pod', 'api-server-abc123', NS, { grace_period_seconds: '600' }), stepContext());
    assert.deepEqual([longer.ok, longer.unchanged], [true, true], longer.detail);
    assert.equal(fake.count('DELETE', /.*/), 0);
    const out = await exec.run(kubeAction('delete_pod', 'pod', 'api-server-abc123', NS, { grace_period_seconds: '5' }), stepContext());
    assert.deepEqual(out, { ok: true, detail: `shortened the grace period of terminating pod ${NS}/api-server-abc123 from 300s to 5s`, facts: { pod_uid: uid } });
    const [del] = fake.requests.filter((r) => r.method === 'DELETE');
    assert.equal((del!.body as { preconditions?: { uid?: string } }).preconditions?.uid, uid);
    assert.equal(fake.get('pods', NS, 'api-server-abc123')!.metadata.deletionGracePeriodSeconds, 5);
    // Stuck past its grace, it is still shortened when asked: that is how a person gets it out.
    fake.get('pods', NS, 'api-server-abc123')!.metadata.deletionTimestamp = new Date(Date.now() - 120_000).toISOString();
    const zero = await exec.run(kubeAction('delete_pod', 'pod', 'api-server-abc123', NS, { grace_period_seconds: '0' }), stepContext());
    assert.equal(zero.ok, true, zero.detail);
    assert.equal(fake.get('pods', NS, 'api-server-abc123'), undefined);
  });

  it('validates names read back from the API before using them', async () => {
    fake.addPod(NS, 'odd', { owner: { kind: 'ReplicaSet', name: 'Bad_Name/../x' } });
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('evict_pod', 'pod', 'odd', NS), stepContext());
    assert.equal(out.ok, false);
    assert.match(out.detail, /ReplicaSet owner "Bad_Name\/\.\.\/x" expected a Kubernetes name/);
    assert.equal(fake.count('GET', /replicasets/), 0);
    assert.equal(fake.count('POST', EVICTION), 0);
  });

  it('scales worker 3 → 5 through the scale subresource, records old_replicas, and a scale to it restores', async () => {
    fake.addDeployment(NS, 'worker', 3);
    const exec = createKubernetesActionExecutor(clients);
    const up = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '5' }), stepContext());
    assert.equal(up.ok, true, up.detail);
    assert.equal(up.detail, 'scaled Deployment production/worker from 3 to 5 replicas');
    assert.deepEqual(up.facts, { old_replicas: '3', new_replicas: '5' });
    assert.equal(fake.count('GET', `${DEP_PATH('worker')}/scale`), 1);
    assert.equal(fake.count('PUT', `${DEP_PATH('worker')}/scale`), 1);
    const put = fake.requests.find((r) => r.method === 'PUT')!;
    assert.equal((put.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion !== undefined, true);
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 5);
    await waitFor('5 pods', () => fake.list('pods', NS).length === 5);

    const back = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: up.facts!.old_replicas! }), stepContext());
    assert.equal(back.ok, true, back.detail);
    assert.deepEqual(back.facts, { old_replicas: '5', new_replicas: '3' });
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 3);
    await waitFor('3 pods', () => fake.list('pods', NS).length === 3);
  });

  it('a scale the workload has moved past since its plan (planned_from) is refused when it would go the other way; nothing is written', async () => {
    // Planned 3 → 4 (a scale-up); an autoscaler has raised it to 6 since: 4 would remove two replicas.
    fake.addDeployment(NS, 'busy', 6);
    const exec = createKubernetesActionExecutor(clients);
    const out = await exec.run(kubeAction('scale', 'deployment', 'busy', NS, { replicas: '4', planned_from: '3' }), stepContext({ phase: 'action' }));
    assert.deepEqual([out.ok, out.refused], [false, true]);
    assert.equal(
      out.detail,
      'refused: Deployment production/busy has 6 replicas, not the 3 this plan was made from: it was scaled since (an autoscaler, a person), and scaling it to 4 now would lower it, the other way from the plan; nothing was written',
    );
    assert.equal(fake.count('PUT', `${DEP_PATH('busy')}/scale`), 0);
    assert.equal(fake.get('deployments', NS, 'busy')!.spec.replicas, 6);
    // Moved, but the write still goes the plan's way (3 → 4 planned, 2 now): it scales.
    fake.addDeployment(NS, 'calm', 2);
    const up = await exec.run(kubeAction('scale', 'deployment', 'calm', NS, { replicas: '4', planned_from: '3' }), stepContext({ phase: 'action' }));
    assert.equal(up.ok, true, up.detail);
    assert.equal(fake.get('deployments', NS, 'calm')!.spec.replicas, 4);
  });

  it("a rollback's scale restores the count the run's own scale read, not the count its plan names", async () => {
    fake.addDeployment('shop', 'checkout', 8);
    const exec = createKubernetesActionExecutor(clients);
    const SCALE = '/apis/apps/v1/namespaces/shop/deployments/checkout/scale';
    // Each write waits for the controller's status updates, which move the resourceVersion (a 409, retried).
    const settled = (n: number) =>
      waitFor(`checkout at ${n}`, () => {
        const d = fake.get('deployments', 'shop', 'checkout')!;
        return d.status?.replicas === n && d.status?.readyReplicas === n && fake.list('pods', 'shop').filter((p) => p.metadata.name.startsWith('checkout-')).length === n;
      });
    const memo = new Map<string, unknown>();
    const up = await exec.run(kubeAction('scale', 'deployment', 'checkout', 'shop', { replicas: '9' }), stepContext({ memo, phase: 'action' }));
    assert.equal(up.ok, true, up.detail);
    assert.deepEqual(up.facts, { old_replicas: '8', new_replicas: '9' });
    await settled(9);
    // A second scale in the same run does not move what the rollback restores.
    const again = await exec.run(kubeAction('scale', 'deployment', 'checkout', 'shop', { replicas: '10' }), stepContext({ memo, phase: 'action' }));
    assert.deepEqual(again.facts, { old_replicas: '9', new_replicas: '10' });
    await settled(10);
    // The rendered rollback says 1 (an alert's old_replicas label, say): the run read 8.
    const back = await exec.run(kubeAction('scale', 'deployment', 'checkout', 'shop', { replicas: '1' }), stepContext({ memo, phase: 'rollback' }));
    assert.equal(back.ok, true, back.detail);
    assert.equal(back.detail, "scaled Deployment shop/checkout from 10 to 8 replicas (the count it had before this run's scale, not the rollback's --replicas=1)");
    assert.deepEqual(back.facts, { old_replicas: '10', new_replicas: '8' });
    assert.equal(fake.get('deployments', 'shop', 'checkout')!.spec.replicas, 8);
    assert.deepEqual(
      fake.requests.filter((r) => r.method === 'PUT' && r.path === SCALE).map((r) => (r.body as { spec: { replicas: number } }).spec.replicas),
      [9, 10, 8],
    );

    // Another workload, one this run never scaled: its count is someone else's, left as it is.
    fake.addDeployment('shop', 'cart', 4);
    const other = await exec.run(kubeAction('scale', 'deployment', 'cart', 'shop', { replicas: '3' }), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual([other.ok, other.unchanged, other.detail], [true, true, 'Deployment shop/cart left as it is: this run did not scale it']);
    assert.equal(fake.get('deployments', 'shop', 'cart')!.spec.replicas, 4);
    assert.equal(fake.count('PUT', '/apis/apps/v1/namespaces/shop/deployments/cart/scale'), 0);
  });

  it('a rollback puts back the 0 replicas its own scale read (a label could never choose that 0)', async () => {
    fake.addDeployment('shop', 'batch', 0);
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    const up = await exec.run(kubeAction('scale', 'deployment', 'batch', 'shop', { replicas: '1' }), stepContext({ memo, phase: 'action' }));
    assert.equal(up.ok, true, up.detail);
    const back = await exec.run(kubeAction('scale', 'deployment', 'batch', 'shop', { replicas: '0' }), stepContext({ memo, phase: 'rollback' }));
    assert.equal(back.ok, true, back.detail);
    assert.equal(fake.get('deployments', 'shop', 'batch')!.spec.replicas, 0);
    // Without a count read by the run, a 0 (a label's) scales nothing: the run did not scale it.
    const label = await exec.run(kubeAction('scale', 'deployment', 'batch', 'shop', { replicas: '0' }), stepContext({ memo: new Map(), phase: 'rollback' }));
    assert.deepEqual([label.ok, label.detail], [true, 'Deployment shop/batch left as it is: this run did not scale it']);
    // As an action, 0 is still refused.
    const zero = await exec.run(kubeAction('scale', 'deployment', 'batch', 'shop', { replicas: '0' }), stepContext({ memo: new Map(), phase: 'action' }));
    assert.equal(zero.ok, false);
    assert.match(zero.detail, /^refused: scaling deployment shop\/batch to 0 would remove every replica/);
  });

  it('a scale that made no change still pins its rollback to the count it read', async () => {
    fake.addDeployment('shop', 'checkout', 8);
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    const same = await exec.run(kubeAction('scale', 'deployment', 'checkout', 'shop', { replicas: '8' }), stepContext({ memo, phase: 'action' }));
    assert.equal(same.detail, 'Deployment shop/checkout already has 8 replicas');
    const back = await exec.run(kubeAction('scale', 'deployment', 'checkout', 'shop', { replicas: '1' }), stepContext({ memo, phase: 'rollback' }));
    assert.equal(back.ok, true, back.detail);
    assert.equal(back.detail, "Deployment shop/checkout already has 8 replicas (the count it had before this run's scale, not the rollback's --replicas=1)");
    assert.equal(fake.count('PUT', /.*/), 0);
    assert.equal(fake.get('deployments', 'shop', 'checkout')!.spec.replicas, 8);
  });

  // Regression: a scale refused after its read (here max_unavailable) still recorded the
  // count it read, so its rollback judged the workload as if the run had scaled it: a
  // person's scale since was "not the 1 this run set", a rollback failure left to a human.
  it('a scale refused before its write leaves nothing for its rollback: the workload is left as it is', async () => {
    fake.addDeployment(NS, 'worker', 4);
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    const down = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '1', max_unavailable: '1' }), stepContext({ memo, phase: 'action' }));
    assert.deepEqual([down.ok, down.refused], [false, true], down.detail);
    const d = JSON.parse(JSON.stringify(fake.get('deployments', NS, 'worker')));
    d.spec.replicas = 6; // a person scales it meanwhile
    fake.cluster.put('deployments', d);
    const back = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '4' }), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual([back.ok, back.unchanged, back.detail], [true, true, `Deployment ${NS}/worker left as it is: this run did not scale it`]);
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 6);
    assert.equal(fake.count('PUT', /.*/), 0);
  });

  it('scale refuses 0 replicas and a scale-down beyond max_unavailable, sending no write', async () => {
    fake.addDeployment(NS, 'worker', 4);
    const exec = createKubernetesActionExecutor(clients);
    const zero = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '0' }), stepContext());
    assert.equal(zero.ok, false);
    assert.match(zero.detail, /^refused: scaling deployment production\/worker to 0/);
    const down = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '2', max_unavailable: '25%' }), stepContext());
    assert.equal(down.ok, false);
    assert.equal(down.detail, 'refused: max_unavailable 25% allows removing 1 of 4 replicas of Deployment production/worker; scaling to 2 would leave 2 ready');
    assert.equal(fake.count('PUT', /.*/), 0);
    const ok = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '3', max_unavailable: '25%' }), stepContext());
    assert.equal(ok.ok, true, ok.detail);
  });

  // Regression: the scale-down guard counted replicas already not ready as disruption,
  // so the rollback of a scale-up whose new pod never became ready (3 → 4, 2 ready) was
  // refused under max_unavailable 25% ("would leave 2 ready"), and the extra replica stayed.
  it('max_unavailable counts only the ready replicas a scale-down removes: a failed scale-up is rolled back', async () => {
    fake.readyDelayMs = 60_000; // the new pods never become ready during the test
    fake.addDeployment(NS, 'web', 3, { readyReplicas: 2 });
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    const up = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '4', max_unavailable: '25%', planned_from: '3' }), stepContext({ memo, phase: 'action' }));
    assert.equal(up.detail, `scaled Deployment ${NS}/web from 3 to 4 replicas`);
    await waitFor('the new pod', () => fake.get('deployments', NS, 'web')!.status?.replicas === 4);
    const back = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '3', max_unavailable: '25%' }), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual([back.ok, back.refused, back.detail], [true, undefined, `scaled Deployment ${NS}/web from 4 to 3 replicas (the count it had before this run's scale)`]);
    assert.equal(fake.get('deployments', NS, 'web')!.spec.replicas, 3);
    // Ready replicas are still guarded: 3 ready of 3, scaling to 1 removes 2 where 25% allows 0.
    fake.addDeployment(NS, 'full', 3);
    const down = await exec.run(kubeAction('scale', 'deployment', 'full', NS, { replicas: '1', max_unavailable: '25%' }), stepContext());
    assert.deepEqual([down.ok, down.refused, down.detail], [false, true, `refused: max_unavailable 25% allows removing 0 of 3 replicas of Deployment ${NS}/full; scaling to 1 would leave 1 ready`]);
    assert.equal(fake.get('deployments', NS, 'full')!.spec.replicas, 3);
  });

  it('a StatefulSet scale-down removes its highest ordinals whatever their state: their ready pods are what max_unavailable counts', async () => {
    fake.readyDelayMs = 60_000;
    fake.addStatefulSet(NS, 'db', 4);
    fake.setPodReady(NS, 'db-0', false);
    const exec = createKubernetesActionExecutor(clients);
    // db-2 and db-3 go, both ready: two where 1 is allowed, though one replica (db-0) is not ready.
    const two = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '2', max_unavailable: '1' }), stepContext());
    assert.deepEqual([two.ok, two.refused, two.detail], [false, true, `refused: max_unavailable 1 allows removing 1 of 4 replicas of StatefulSet ${NS}/db; scaling to 2 would leave 1 ready`]);
    const one = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '3', max_unavailable: '1' }), stepContext());
    assert.equal(one.detail, `scaled StatefulSet ${NS}/db from 4 to 3 replicas`);
    await waitFor('db-3 removed', () => fake.get('pods', NS, 'db-3') === undefined);
    // A scale-up whose new pod (db-3, the highest ordinal) never became ready is rolled back: it removes no ready pod.
    const memo = new Map<string, unknown>();
    const up = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '4', max_unavailable: '1' }), stepContext({ memo, phase: 'action' }));
    assert.equal(up.detail, `scaled StatefulSet ${NS}/db from 3 to 4 replicas`);
    await waitFor('db-3 created', () => fake.get('pods', NS, 'db-3') !== undefined);
    fake.setPodReady(NS, 'db-0', true);
    fake.setPodReady(NS, 'db-1', false);
    // Now db-1 is not ready either: the rollback still removes only db-3, which serves nothing.
    const back = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '3', max_unavailable: '0' }), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual([back.ok, back.detail], [true, `scaled StatefulSet ${NS}/db from 4 to 3 replicas (the count it had before this run's scale)`]);
  });

  // Counted by list position, a StatefulSet of 3 missing db-1 "removed" nothing when scaled
  // to 2 (its pods db-0 and db-2 are the first two listed), and ready db-2 went under max_unavailable 0.
  it('a StatefulSet scale-down counts the pods by their ordinal, not their place in the list: a missing pod hides none', async () => {
    fake.cluster.controllerDelayMs = 600_000; // db-1 is not recreated while the test runs
    fake.addStatefulSet(NS, 'db', 3);
    fake.cluster.remove('pods', NS, 'db-1');
    const exec = createKubernetesActionExecutor(clients);
    const refused = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '2', max_unavailable: '0' }), stepContext());
    assert.deepEqual([refused.ok, refused.refused, refused.detail], [false, true, `refused: max_unavailable 0 allows removing 0 of 3 replicas of StatefulSet ${NS}/db; scaling to 2 would leave 1 ready`]);
    assert.equal(fake.count('PUT', `/apis/apps/v1/namespaces/${NS}/statefulsets/db/scale`), 0);
    assert.equal(fake.get('statefulsets', NS, 'db')!.spec.replicas, 3);
    const one = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '2', max_unavailable: '1' }), stepContext());
    assert.deepEqual([one.ok, one.detail], [true, `scaled StatefulSet ${NS}/db from 3 to 2 replicas`]);
  });

  // Regression: without max_unavailable nothing counted the ready pods a scale-down removes,
  // and scaling db (db-0 and db-1 not ready) from 3 to 2 removed db-2, its one ready pod.
  it("a StatefulSet scale-down that removes every ready pod is refused before any write, with max_unavailable or without; one that keeps a ready pod goes on", async () => {
    fake.readyDelayMs = 60_000;
    fake.cluster.controllerDelayMs = 600_000; // the pods stay as set while the test runs
    fake.addStatefulSet(NS, 'db', 3);
    fake.setPodReady(NS, 'db-0', false);
    fake.setPodReady(NS, 'db-1', false);
    const exec = createKubernetesActionExecutor(clients);
    const writes = (): number => fake.count('PUT', /.*/) + fake.count('PATCH', /.*/) + fake.count('POST', /.*/) + fake.count('DELETE', /.*/);
    const out = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '2' }), stepContext());
    assert.deepEqual(
      [out.ok, out.refused, out.notNow, out.detail],
      [false, true, undefined, `refused: scaling StatefulSet ${NS}/db from 3 to 2 would leave it no ready pod: ready now 1 (db-2), and the scale-down removes db-2, keeping db-0, db-1, none ready; nothing was written: a person must check it`],
    );
    assert.equal(writes(), 0);
    assert.equal(fake.get('statefulsets', NS, 'db')!.spec.replicas, 3);
    // Down to 1 removes db-1 and db-2: the same.
    const one = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '1' }), stepContext());
    assert.equal(one.detail, `refused: scaling StatefulSet ${NS}/db from 3 to 1 would leave it no ready pod: ready now 1 (db-2), and the scale-down removes db-1, db-2, keeping db-0, none ready; nothing was written: a person must check it`);
    assert.equal(writes(), 0);
    // A cap that allows removing that one ready pod does not lift the rule: cap or not.
    const capped = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '2', max_unavailable: '1' }), stepContext());
    assert.deepEqual(
      [capped.ok, capped.refused, capped.detail],
      [false, true, `refused: scaling StatefulSet ${NS}/db from 3 to 2 would leave it no ready pod: ready now 1 (db-2), and the scale-down removes db-2, keeping db-0, db-1, none ready; nothing was written: a person must check it`],
    );
    assert.equal(writes(), 0);
    // With db-0 ready too, scaling to 2 keeps it: the scale goes on, as before.
    fake.setPodReady(NS, 'db-0', true);
    const kept = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '2' }), stepContext());
    assert.deepEqual([kept.ok, kept.detail], [true, `scaled StatefulSet ${NS}/db from 3 to 2 replicas`]);
    assert.equal(fake.count('PUT', `/apis/apps/v1/namespaces/${NS}/statefulsets/db/scale`), 1);
    assert.equal(writes(), 1);
    assert.equal(fake.get('statefulsets', NS, 'db')!.spec.replicas, 2);
    // A set with no ready pod has none to lose: its scale-down goes on.
    fake.addStatefulSet(NS, 'idle', 3, { readyReplicas: 0 });
    const idle = await exec.run(kubeAction('scale', 'statefulset', 'idle', NS, { replicas: '1' }), stepContext());
    assert.deepEqual([idle.ok, idle.detail], [true, `scaled StatefulSet ${NS}/idle from 3 to 1 replicas`]);
  });

  it("without max_unavailable the rollback of a scale-up is refused too when the new pod is the only ready one: it is left for a person", async () => {
    fake.addStatefulSet(NS, 'grow', 3, { readyReplicas: 0 });
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    const up = await exec.run(kubeAction('scale', 'statefulset', 'grow', NS, { replicas: '4', planned_from: '3' }), stepContext({ memo, phase: 'action' }));
    assert.equal(up.detail, `scaled StatefulSet ${NS}/grow from 3 to 4 replicas`);
    await waitFor('grow-3 ready', () => fake.get('statefulsets', NS, 'grow')!.status?.readyReplicas === 1);
    const back = await exec.run(kubeAction('scale', 'statefulset', 'grow', NS, { replicas: '3' }), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual(
      [back.ok, back.refused, back.detail],
      [false, true, `refused: scaling StatefulSet ${NS}/grow from 4 to 3 would leave it no ready pod: ready now 1 (grow-3), and the scale-down removes grow-3, keeping grow-0, grow-1, grow-2, none ready; nothing was written: a person must check it`],
    );
    assert.equal(fake.count('PUT', /.*/) + fake.count('PATCH', /.*/), 1, 'the scale-up only');
    assert.equal(fake.get('statefulsets', NS, 'grow')!.spec.replicas, 4);
  });

  it('without max_unavailable a StatefulSet whose pods cannot be told apart is not scaled down past its ready count; a failed listing writes nothing', async () => {
    fake.cluster.controllerDelayMs = 600_000;
    fake.addStatefulSet(NS, 'db', 3, { readyReplicas: 1 });
    delete fake.get('statefulsets', NS, 'db')!.spec.selector; // no selector: no listing rectify would trust
    const exec = createKubernetesActionExecutor(clients);
    const out = await exec.run(kubeAction('scale', 'statefulset', 'db', NS, { replicas: '2' }), stepContext());
    assert.deepEqual(
      [out.ok, out.refused, out.detail],
      [false, true, `refused: scaling StatefulSet ${NS}/db from 3 to 2 may remove its ready pods: its status says 1 ready, and with no selector rectify cannot list its pods to tell which; nothing was written: a person must check it`],
    );
    // The pods' listing fails: the step fails on that read (the target's failure), having written nothing.
    fake.addStatefulSet(NS, 'cache', 3);
    fake.injectError('GET', `/api/v1/namespaces/${NS}/pods`, 500, 'InternalError', 'etcdserver: request timed out');
    const failed = await exec.run(kubeAction('scale', 'statefulset', 'cache', NS, { replicas: '2' }), stepContext());
    assert.deepEqual([failed.ok, failed.refused, failed.unchanged, failed.detail], [false, undefined, true, `scale statefulset ${NS}/cache: 500 InternalError: etcdserver: request timed out`]);
    assert.equal(fake.count('PUT', /.*/) + fake.count('PATCH', /.*/), 0);
    assert.deepEqual([fake.get('statefulsets', NS, 'db')!.spec.replicas, fake.get('statefulsets', NS, 'cache')!.spec.replicas], [3, 3]);
  });

  it("without max_unavailable a Deployment's scale-down keeps a ready pod through its one ReplicaSet, and is refused mid-rollout when the ReplicaSets with no ready pod could hold every replica left", async () => {
    fake.readyDelayMs = 60_000;
    fake.cluster.controllerDelayMs = 600_000;
    const exec = createKubernetesActionExecutor(clients);
    const writes = (): number => fake.count('PUT', /.*/) + fake.count('PATCH', /.*/);
    // One ReplicaSet, 1 of 3 ready: it removes its not-ready pods first, so scaling to 1 keeps the ready one.
    fake.addDeployment(NS, 'worker', 3, { readyReplicas: 1 });
    const few = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '1' }), stepContext());
    assert.deepEqual([few.ok, few.detail], [true, `scaled Deployment ${NS}/worker from 3 to 1 replicas`]);
    const put = fake.requests.find((r) => r.method === 'PUT' && r.path === `${DEP_PATH('worker')}/scale`);
    assert.equal((put?.body as { spec: { replicas: number } }).spec.replicas, 1);
    assert.equal(writes(), 1);

    // A rollout under way: the old ReplicaSet has 2 ready pods, the new one 2 that are not.
    const { replicaSets } = fake.addDeployment(NS, 'api', 2, { revisions: 2, readyReplicas: 0 });
    const [oldRs, newRs] = replicaSets as [(typeof replicaSets)[0], (typeof replicaSets)[0]];
    fake.get('replicasets', NS, oldRs.metadata.name)!.spec.replicas = 2;
    fake.get('deployments', NS, 'api')!.spec.replicas = 4;
    for (const name of ['api-old-a', 'api-old-b']) {
      fake.addPod(NS, name, { labels: { ...oldRs.spec.template.metadata.labels }, owner: { kind: 'ReplicaSet', name: oldRs.metadata.name, uid: oldRs.metadata.uid }, ready: true });
    }
    // To 2: the split may leave both replicas to the new ReplicaSet's not-ready pods.
    const two = await exec.run(kubeAction('scale', 'deployment', 'api', NS, { replicas: '2' }), stepContext());
    const sets = [
      `${oldRs.metadata.name}: 2 replicas, 2 ready`,
      `${newRs.metadata.name}: 2 replicas, none ready`,
    ].sort().join('; ');
    assert.deepEqual(
      [two.ok, two.refused, two.detail],
      [
        false,
        true,
        `refused: scaling Deployment ${NS}/api from 4 to 2 may leave it no ready pod: ready now 2 (api-old-a, api-old-b); the Deployment controller splits a scale-down among its ReplicaSets by their size, not by readiness (${sets}), and those with no ready pod can hold the 2 replicas left, so every ready pod may be removed; nothing was written: a person must check it`,
      ],
    );
    assert.equal(writes(), 1, 'no write but the first scale');
    assert.equal(fake.get('deployments', NS, 'api')!.spec.replicas, 4);
    // To 3: the new ReplicaSet's 2 replicas cannot hold all 3, so a ready pod stays whatever the split.
    const three = await exec.run(kubeAction('scale', 'deployment', 'api', NS, { replicas: '3' }), stepContext());
    assert.deepEqual([three.ok, three.detail], [true, `scaled Deployment ${NS}/api from 4 to 3 replicas`]);
    assert.equal(writes(), 2);
    assert.equal(fake.get('deployments', NS, 'api')!.spec.replicas, 3);
  });

  it('a StatefulSet scale-down counts ordinals from spec.ordinals.start, and a pod whose name is not an ordinal of the set as removed', async () => {
    fake.addStatefulSet(NS, 'ledger', 3, { ordinalsStart: 5 });
    const exec = createKubernetesActionExecutor(clients);
    // ledger-5 and ledger-6 stay; only ledger-7 goes: one, as allowed.
    const down = await exec.run(kubeAction('scale', 'statefulset', 'ledger', NS, { replicas: '2', max_unavailable: '1' }), stepContext());
    assert.deepEqual([down.ok, down.detail], [true, `scaled StatefulSet ${NS}/ledger from 3 to 2 replicas`]);
    await waitFor('ledger-7 removed', () => fake.get('pods', NS, 'ledger-7') === undefined);
    assert.deepEqual(fake.list('pods', NS).map((p) => p.metadata.name).filter((n) => n.startsWith('ledger-')).sort(), ['ledger-5', 'ledger-6']);

    fake.cluster.controllerDelayMs = 600_000; // the pods below are not reconciled away while the test runs
    // vault-3 to vault-5, vault-4 missing: scaling to 2 keeps vault-3 and vault-4, so ready vault-5 goes.
    fake.addStatefulSet(NS, 'vault', 3, { ordinalsStart: 3 });
    fake.cluster.remove('pods', NS, 'vault-4');
    const vault = await exec.run(kubeAction('scale', 'statefulset', 'vault', NS, { replicas: '2', max_unavailable: '0' }), stepContext());
    assert.deepEqual([vault.refused, vault.detail], [true, `refused: max_unavailable 0 allows removing 0 of 3 replicas of StatefulSet ${NS}/vault; scaling to 2 would leave 1 ready`]);

    const { statefulSet } = fake.addStatefulSet(NS, 'cache', 2);
    for (const name of ['cache-blue', 'cache-01']) fake.addPod(NS, name, { labels: { app: 'cache' }, owner: { kind: 'StatefulSet', name: 'cache', uid: statefulSet.metadata.uid }, ready: true });
    // cache-1 goes; cache-blue and cache-01 are not ordinals rectify can place: counted as going too.
    const cache = await exec.run(kubeAction('scale', 'statefulset', 'cache', NS, { replicas: '1', max_unavailable: '2' }), stepContext());
    assert.equal(cache.refused, true, cache.detail);
    assert.match(cache.detail, new RegExp(`^refused: max_unavailable 2 allows removing 2 of 2 replicas of StatefulSet ${NS}/cache; scaling to 1 would leave 1 ready$`));
    assert.equal(fake.count('PUT', `/apis/apps/v1/namespaces/${NS}/statefulsets/cache/scale`), 0);
  });

  it('scales to 0 only when the runbook itself wrote --replicas=0 (allow_zero, set by rendering)', async () => {
    fake.addDeployment(NS, 'payments', 3);
    const exec = createKubernetesActionExecutor(clients);
    const out = await exec.run(kubeAction('scale', 'deployment', 'payments', NS, { replicas: '0', allow_zero: 'true' }), stepContext());
    assert.equal(out.ok, true, out.detail);
    assert.equal(out.detail, 'scaled Deployment production/payments from 3 to 0 replicas');
    assert.deepEqual(out.facts, { old_replicas: '3', new_replicas: '0' });
    assert.equal(fake.get('deployments', NS, 'payments')!.spec.replicas, 0);
    assert.equal(fake.count('PUT', /.*/), 1);
  });

  it('a 409 conflict is re-read and retried, then succeeds', async () => {
    fake.addDeployment(NS, 'worker', 3);
    fake.injectConflict('PUT', `${DEP_PATH('worker')}/scale`, { resource: 'deployments', namespace: NS, name: 'worker' });
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '5' }), stepContext());
    assert.equal(out.ok, true, out.detail);
    assert.equal(fake.count('GET', `${DEP_PATH('worker')}/scale`), 2);
    assert.equal(fake.count('PUT', `${DEP_PATH('worker')}/scale`), 2);
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 5);
  });

  it('conflicts are retried a bounded number of times', async () => {
    fake.addDeployment(NS, 'worker', 3);
    fake.injectConflict('PUT', `${DEP_PATH('worker')}/scale`, { resource: 'deployments', namespace: NS, name: 'worker' }, 100);
    const out = await createKubernetesActionExecutor(clients, { conflictRetries: 2 }).run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '5' }), stepContext());
    assert.equal(out.ok, false);
    assert.match(out.detail, /^scale deployment production\/worker: scale Deployment production\/worker: still conflicting after 3 attempts: /);
    assert.equal(fake.count('PUT', `${DEP_PATH('worker')}/scale`), 3);
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 3);
  });

  it('rollout restart patches the restartedAt annotation (strategic merge, RFC 3339) and a new revision rolls out', async () => {
    fake.addDeployment(NS, 'api-server', 2);
    const clock = createManualClock(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    const out = await createKubernetesActionExecutor(clients, { clock }).run(kubeAction('rollout_restart', 'deployment', 'api-server', NS), stepContext());
    assert.equal(out.ok, true, out.detail);
    assert.deepEqual(out.facts, { restarted_at: '2026-01-02T03:04:05Z' });
    assert.equal(fake.count('PATCH', DEP_PATH('api-server')), 1);
    const patch = fake.requests.find((r) => r.method === 'PATCH')!;
    assert.equal(patch.contentType, 'application/strategic-merge-patch+json');
    assert.deepEqual(patch.body, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-02T03:04:05Z' } } } } });
    assert.equal(fake.get('deployments', NS, 'api-server')!.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'], '2026-01-02T03:04:05Z');
    await waitFor('revision 2', () => fake.get('deployments', NS, 'api-server')!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2');
  });

  it('rollout undo goes to the previous revision’s template without its pod-template-hash', async () => {
    const { replicaSets } = fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
    const v1 = replicaSets[0]!;
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext());
    assert.equal(out.ok, true, out.detail);
    assert.equal(out.detail, `rolled deployment production/checkout back from revision 2 to revision 1 (ReplicaSet ${v1.metadata.name})`);
    assert.deepEqual(out.facts, { from_revision: '2', to_revision: '1' });
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 1);
    const patch = fake.requests.find((r) => r.method === 'PATCH')!;
    assert.equal(patch.contentType, 'application/json-patch+json');
    const ops = patch.body as Array<{ op: string; path: string; value: { metadata: { labels: Record<string, string> } } }>;
    assert.deepEqual(ops.map((o) => `${o.op} ${o.path}`), ['replace /spec/template', 'replace /metadata/resourceVersion']);
    assert.deepEqual(ops[0]!.value.metadata.labels, { app: 'checkout' });
    const dep = fake.get('deployments', NS, 'checkout')!;
    assert.equal(dep.spec.template.spec.containers[0].image, 'example/checkout:v1');
    // The controller reuses revision 1's ReplicaSet as revision 3, as Kubernetes does.
    await waitFor('revision 3', () => fake.get('replicasets', NS, v1.metadata.name)!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3');

    // Undo the undo (the seed's rollback): back to v2.
    const again = await createKubernetesActionExecutor(clients).run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext());
    assert.equal(again.ok, true, again.detail);
    assert.deepEqual(again.facts, { from_revision: '3', to_revision: '2' });
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v2');
  });

  /** Whether the deployment's rollout is over: its status no longer changes (nor its resourceVersion with it). */
  const rolledOut = (name: string, replicas: number): boolean => {
    const d = fake.get('deployments', NS, name);
    const s = d?.status;
    return s?.observedGeneration === d?.metadata.generation && s?.updatedReplicas === replicas && s?.readyReplicas === replicas && s?.replicas === replicas;
  };

  it('rollout undo fails clearly with only one revision, and with an unknown to_revision', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 1 });
    const exec = createKubernetesActionExecutor(clients);
    const out = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext());
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'deployment production/checkout has no previous revision to roll back to (revisions: 1; current 1)');
    const to = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '7' }), stepContext());
    assert.equal(to.ok, false);
    assert.equal(to.detail, 'deployment production/checkout has no revision 7 (revisions: 1)');
    assert.equal(fake.count('PATCH', /.*/), 0);
  });

  it('rollout undo to_revision and a conflicting writer: re-read, then patched', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 3 });
    // Its rollout over: a status update between the re-read and the patch would be another conflict.
    await waitFor('settled', () => rolledOut('checkout', 3));
    fake.injectConflict('PATCH', DEP_PATH('checkout'), { resource: 'deployments', namespace: NS, name: 'checkout' });
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '1' }), stepContext());
    assert.equal(out.ok, true, out.detail);
    assert.deepEqual(out.facts, { from_revision: '3', to_revision: '1' });
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 2);
    assert.equal(fake.count('GET', DEP_PATH('checkout')), 2);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v1');
  });

  describe("a run's relative rollout undo and a rollout made after its alert was received", () => {
    const at = (t: string): number => Date.parse(`2026-03-01T${t}Z`);
    const ALERT = at('10:05:00.250');
    const exec = () => createKubernetesActionExecutor(clients);
    const inRun = (memo = new Map<string, unknown>()) => ({ ...stepContext({ memo, phase: 'action' }), alertReceivedAt: ALERT });
    const writes = () => fake.requests.filter((r) => r.method === 'PATCH' || r.method === 'PUT' || r.method === 'POST').length;
    const revisionSet = (rev: string) => fake.list('replicasets', NS).find((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision'] === rev)!;
    const image = () => fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image;
    /** A person ships a hotfix at `when` (the API server's time): revision 3. */
    const hotfix = async (when: number): Promise<void> => {
      fake.serverNow = () => when;
      const tpl = JSON.parse(JSON.stringify(fake.get('deployments', NS, 'checkout')!.spec.template));
      tpl.spec.containers[0].image = 'example/checkout:v3-hotfix';
      await clients.apps.patchNamespacedDeployment({ namespace: NS, name: 'checkout', body: [{ op: 'replace', path: '/spec/template', value: tpl }] } as never);
      await waitFor('the hotfix rolled out', () => rolledOut('checkout', 3) && fake.get('deployments', NS, 'checkout')!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3');
    };
    const tail = 'nothing was written: a person must check the deployment';
    const received = "the alert this run acts for was received at 2026-03-01T10:05:00.250Z (its received time: rectify does not keep an alert's startsAt)";

    it('a hotfix rolled out after the alert was received (the run waited for an approval): refused before any write, the hotfix stays', async () => {
      // The bad rollout, revision 2, at 10:00:00; the alert is received at 10:05:00.250.
      fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('10:00:00') });
      await waitFor('settled', () => rolledOut('checkout', 3));
      // While the run waits, a person rolls out a hotfix at 10:12:00.
      await hotfix(at('10:12:00'));
      const rs3 = revisionSet('3').metadata.name;
      fake.clearRequests();
      const memo = new Map<string, unknown>();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun(memo));
      assert.deepEqual([out.ok, out.refused, out.unchanged, out.detail], [
        false,
        true,
        true,
        `refused: deployment ${NS}/checkout was rolled out after the alert began: its revision 3 (ReplicaSet ${rs3}) was created at 2026-03-01T10:12:00.000Z, and ${received}; a relative undo from there would roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; ${tail}`,
      ]);
      assert.equal(writes(), 0);
      assert.equal(image(), 'example/checkout:v3-hotfix');
      // The run's rollback (had an earlier action changed something) finds the template it read: nothing to restore.
      const back = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), { ...stepContext({ memo, phase: 'rollback' }), alertReceivedAt: ALERT });
      assert.deepEqual([back.ok, back.unchanged], [true, true], back.detail);
      assert.equal(writes(), 0);
      // An undo naming its revision is absolute, and runs as written.
      const named = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '1' }), inRun());
      assert.deepEqual([named.ok, named.facts], [true, { from_revision: '3', to_revision: '1' }], named.detail);
      assert.equal(image(), 'example/checkout:v1');
    });

    it('a revision rolled out in the second the alert was received counts as after it (the creation time holds whole seconds): refused, nothing written', async () => {
      fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('10:00:00') });
      await waitFor('settled', () => rolledOut('checkout', 3));
      await hotfix(at('10:05:00'));
      fake.clearRequests();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
      assert.deepEqual([out.ok, out.refused, out.detail], [
        false,
        true,
        `refused: deployment ${NS}/checkout was rolled out after the alert began: its revision 3 (ReplicaSet ${revisionSet('3').metadata.name}) was created at 2026-03-01T10:05:00.000Z, and ${received}; a relative undo from there would roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; ${tail}`,
      ]);
      assert.equal(writes(), 0);
    });

    it('a revision rolled out before the alert was received is undone as before: the previous template written, once', async () => {
      // Revision 2 (the bad rollout) created at 10:04:59, the second before the alert.
      const { replicaSets } = fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('10:04:59') });
      assert.equal(new Date(replicaSets[1]!.metadata.creationTimestamp).toISOString(), '2026-03-01T10:04:59.000Z');
      await waitFor('settled', () => rolledOut('checkout', 3));
      fake.clearRequests();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
      assert.deepEqual([out.ok, out.detail, out.facts], [true, `rolled deployment ${NS}/checkout back from revision 2 to revision 1 (ReplicaSet ${replicaSets[0]!.metadata.name})`, { from_revision: '2', to_revision: '1' }]);
      assert.equal(writes(), 1);
      const patch = fake.requests.find((r) => r.method === 'PATCH')!;
      assert.deepEqual((patch.body as Array<{ op: string; path: string; value: unknown }>)[0], {
        op: 'replace',
        path: '/spec/template',
        value: { metadata: { labels: { app: 'checkout' } }, spec: { containers: [{ name: 'checkout', image: 'example/checkout:v1' }] } },
      });
      assert.equal(image(), 'example/checkout:v1');
    });

    it('a hotfix the controller has not recorded yet (the deployment holds a template its current ReplicaSet does not): refused, nothing written', async () => {
      const { replicaSets } = fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('10:00:00') });
      await waitFor('settled', () => rolledOut('checkout', 3));
      // The controller is slow to notice: the deployment's annotation still says revision 2.
      fake.cluster.controllerDelayMs = 60_000;
      const d = JSON.parse(JSON.stringify(fake.get('deployments', NS, 'checkout')));
      d.spec.template.spec.containers[0].image = 'example/checkout:v3-hotfix';
      fake.cluster.put('deployments', d);
      fake.clearRequests();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
      assert.deepEqual([out.ok, out.refused, out.unchanged, out.detail], [
        false,
        true,
        true,
        `refused: deployment ${NS}/checkout is on revision 2, whose ReplicaSet ${replicaSets[1]!.metadata.name} does not hold the deployment's template (a rollout the controller has not recorded yet), so rectify cannot tell whether it was rolled out before ${received}; a relative undo from there could roll back a rollout made since instead of the one the alert is about; ${tail}`,
      ]);
      assert.equal(writes(), 0);
      assert.equal(image(), 'example/checkout:v3-hotfix');
    });

    it('a current ReplicaSet whose creation time cannot be read: refused, nothing written (unknown is not "before")', async () => {
      const { replicaSets } = fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('10:00:00') });
      await waitFor('settled', () => rolledOut('checkout', 3));
      const rs2 = JSON.parse(JSON.stringify(fake.get('replicasets', NS, replicaSets[1]!.metadata.name)));
      delete rs2.metadata.creationTimestamp;
      fake.cluster.put('replicasets', rs2);
      fake.clearRequests();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
      assert.deepEqual([out.ok, out.refused, out.unchanged, out.detail], [
        false,
        true,
        true,
        `refused: deployment ${NS}/checkout is on revision 2, whose ReplicaSet ${replicaSets[1]!.metadata.name} has no creation time that can be read, so rectify cannot tell whether it was rolled out before ${received}; a relative undo from there could roll back a rollout made since instead of the one the alert is about; ${tail}`,
      ]);
      assert.equal(writes(), 0);
      assert.equal(image(), 'example/checkout:v2');
    });

    it("a hotfix stamped by an API server whose clock is behind rectify's is judged by the server's clock (its Date header): refused", async () => {
      // rectify's clock at 10:10:00; the API server's two minutes behind. The alert was received at 10:09:00 (rectify's).
      const rectify = at('10:10:00');
      const alert = at('10:09:00');
      fake.serverNow = () => rectify - 120_000;
      fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('09:55:00') });
      await waitFor('settled', () => rolledOut('checkout', 3));
      // The hotfix, 30 s before rectify reads (10:09:30 by rectify's clock, after the alert): 10:07:30 by the server's.
      await hotfix(rectify - 150_000);
      fake.serverNow = () => rectify - 120_000;
      fake.clearRequests();
      const skewed = createKubernetesActionExecutor(clients, { clock: createManualClock(rectify) });
      const out = await skewed.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), { ...stepContext({ phase: 'action' }), alertReceivedAt: alert });
      assert.deepEqual([out.ok, out.refused, out.detail], [
        false,
        true,
        `refused: deployment ${NS}/checkout was rolled out after the alert began: its revision 3 (ReplicaSet ${revisionSet('3').metadata.name}) was created at 2026-03-01T10:07:30.000Z, ` +
          "and the alert this run acts for was received at 2026-03-01T10:09:00.000Z (its received time: rectify does not keep an alert's startsAt), 2026-03-01T10:07:00.000Z by the API server's clock (120s behind rectify's, by its Date header); " +
          `a relative undo from there would roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; ${tail}`,
      ]);
      assert.equal(writes(), 0);
      assert.equal(image(), 'example/checkout:v3-hotfix');
    });

    /** Someone rolls the deployment back to revision `rev`'s template at `when` (the API server's time): the controller reuses its ReplicaSet. */
    const rollBackTo = async (rs: KObj, when: number, revision: string): Promise<void> => {
      fake.serverNow = () => when;
      const tpl = JSON.parse(JSON.stringify(rs.spec!.template));
      delete tpl.metadata.labels['pod-template-hash'];
      await clients.apps.patchNamespacedDeployment({ namespace: NS, name: 'checkout', body: [{ op: 'replace', path: '/spec/template', value: tpl }] } as never);
      await waitFor(`revision ${revision}`, () => rolledOut('checkout', 3) && fake.get('deployments', NS, 'checkout')!.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision);
    };
    /** The deployment controller's managedFields entry of a ReplicaSet (manager kube-controller-manager, Update, the main resource). */
    const controllerEntry = (name: string) =>
      fake.get('replicasets', NS, name)!.metadata.managedFields!.find((e) => e.manager === 'kube-controller-manager' && e.operation === 'Update' && e.subresource === undefined)!;
    const mayHaveBeen = (revision: number, rs: string, before: string, changedAt: string) =>
      `refused: deployment ${NS}/checkout may have been rolled out after the alert began: its revision ${revision} is a rollout back to ReplicaSet ${rs} (revision ${before} before), which the deployment controller last changed at ${changedAt} (its managedFields entry's time: it rewrites the revision annotation when it rolls back to a ReplicaSet, and that time moves on too when it changes another field of it, as in a scale), and ${received}; a relative undo from there could roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; ${tail}`;

    it("a person's rollback after the alert reuses an old ReplicaSet (its creation time is not when it was rolled out again): dated by the deployment controller's managedFields entry, refused, nothing written", async () => {
      const { replicaSets } = fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('10:00:00') });
      await waitFor('settled', () => rolledOut('checkout', 3));
      // kubectl rollout undo by a person at 10:12: revision 1's ReplicaSet (created 09:59) becomes revision 3.
      await rollBackTo(replicaSets[0]!, at('10:12:00'), '3');
      const rs1 = fake.get('replicasets', NS, replicaSets[0]!.metadata.name)!;
      assert.equal(rs1.metadata.annotations?.['deployment.kubernetes.io/revision-history'], '1');
      assert.equal(rs1.metadata.creationTimestamp, '2026-03-01T09:59:00.000Z');
      assert.equal(controllerEntry(rs1.metadata.name).time, '2026-03-01T10:12:00Z');
      fake.clearRequests();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
      assert.deepEqual([out.ok, out.refused, out.unchanged, out.detail], [false, true, true, mayHaveBeen(3, rs1.metadata.name, '1', '2026-03-01T10:12:00.000Z')]);
      assert.equal(writes(), 0);
      assert.equal(image(), 'example/checkout:v1');
    });

    /**
     * v1 at 09:00, v2 at 09:01, a revert to v1 at 09:30 (revision 3, v1's ReplicaSet), and a
     * revert of that revert at `rollout` (revision 4, v2's ReplicaSet again): the bad rollout.
     */
    const revertOfRevert = async (rollout: number) => {
      const { replicaSets } = fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: at('09:01:00') });
      const [v1, v2] = [replicaSets[0]!, replicaSets[1]!];
      await waitFor('settled', () => rolledOut('checkout', 3));
      await rollBackTo(v1, at('09:30:00'), '3');
      await rollBackTo(v2, rollout, '4');
      assert.equal(fake.get('replicasets', NS, v2.metadata.name)!.metadata.annotations?.['deployment.kubernetes.io/revision-history'], '2');
      return { v1: v1.metadata.name, v2: v2.metadata.name };
    };

    it("a rollout back to an older ReplicaSet before the alert (a revert of a revert), its controller's entry dated before it: undone to the revision before, once; the status entry's later time is not read", async () => {
      const { v1, v2 } = await revertOfRevert(at('10:02:00'));
      assert.equal(controllerEntry(v2).time, '2026-03-01T10:02:00Z');
      // At 10:12, after the alert, a pod of v2's ReplicaSet is replaced: its status (the status subresource's entry) changes then.
      fake.serverNow = () => at('10:12:00');
      const pod = fake.list('pods', NS).find((p) => p.metadata.ownerReferences?.some((o) => o.name === v2))!;
      fake.deletePod(NS, pod.metadata.name, 0);
      const statusAt = () => fake.get('replicasets', NS, v2)!.metadata.managedFields!.find((e) => e.manager === 'kube-controller-manager' && e.subresource === 'status')?.time;
      await waitFor('the status entry moved on', () => statusAt() === '2026-03-01T10:12:00Z' && rolledOut('checkout', 3));
      assert.equal(controllerEntry(v2).time, '2026-03-01T10:02:00Z');
      const rv = fake.get('deployments', NS, 'checkout')!.metadata.resourceVersion;
      fake.clearRequests();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
      assert.deepEqual([out.ok, out.refused, out.detail, out.facts], [true, undefined, `rolled deployment ${NS}/checkout back from revision 4 to revision 3 (ReplicaSet ${v1})`, { from_revision: '4', to_revision: '3' }]);
      assert.deepEqual(
        fake.requests.map((r) => `${r.method} ${r.path}`),
        [`GET ${DEP_PATH('checkout')}`, `GET /apis/apps/v1/namespaces/${NS}/replicasets`, `PATCH ${DEP_PATH('checkout')}`],
      );
      const patch = fake.requests.find((r) => r.method === 'PATCH')!;
      assert.equal(patch.contentType, 'application/json-patch+json');
      assert.deepEqual(patch.body, [
        { op: 'replace', path: '/spec/template', value: { metadata: { labels: { app: 'checkout' } }, spec: { containers: [{ name: 'checkout', image: 'example/checkout:v1' }] } } },
        { op: 'replace', path: '/metadata/resourceVersion', value: rv },
      ]);
      assert.equal(image(), 'example/checkout:v1');
    });

    it("a rollout back to an older ReplicaSet in the second the alert was received (its controller's entry holds whole seconds): refused, nothing written", async () => {
      const { v2 } = await revertOfRevert(at('10:05:00'));
      fake.clearRequests();
      const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
      assert.deepEqual([out.ok, out.refused, out.unchanged, out.detail], [false, true, true, mayHaveBeen(4, v2, '2', '2026-03-01T10:05:00.000Z')]);
      assert.equal(writes(), 0);
      assert.equal(image(), 'example/checkout:v2');
    });

    it("a rollout back to an older ReplicaSet dated by an API server whose clock is behind rectify's is judged by the server's clock (its Date header): refused", async () => {
      // rectify's clock at 10:10:00; the API server's two minutes behind. The alert was received at 10:09:00 (rectify's).
      const rectify = at('10:10:00');
      // The revert of the revert, 30 s before rectify reads (10:09:30 by rectify's clock, after the alert): 10:07:30 by the server's.
      const { v2 } = await revertOfRevert(rectify - 150_000);
      fake.serverNow = () => rectify - 120_000;
      fake.clearRequests();
      const skewed = createKubernetesActionExecutor(clients, { clock: createManualClock(rectify) });
      const out = await skewed.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), { ...stepContext({ phase: 'action' }), alertReceivedAt: at('10:09:00') });
      assert.deepEqual([out.ok, out.refused, out.detail], [
        false,
        true,
        `refused: deployment ${NS}/checkout may have been rolled out after the alert began: its revision 4 is a rollout back to ReplicaSet ${v2} (revision 2 before), which the deployment controller last changed at 2026-03-01T10:07:30.000Z (its managedFields entry's time: it rewrites the revision annotation when it rolls back to a ReplicaSet, and that time moves on too when it changes another field of it, as in a scale), ` +
          "and the alert this run acts for was received at 2026-03-01T10:09:00.000Z (its received time: rectify does not keep an alert's startsAt), 2026-03-01T10:07:00.000Z by the API server's clock (120s behind rectify's, by its Date header); " +
          `a relative undo from there could roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; ${tail}`,
      ]);
      assert.equal(writes(), 0);
      assert.equal(image(), 'example/checkout:v2');
    });

    it("a rollout back to an older ReplicaSet with no managedFields, no entry of the deployment controller's owning its revision annotation, or one with no time: refused, nothing written", async () => {
      // Before the alert: with its controller's entry it would be undone.
      const { v2 } = await revertOfRevert(at('10:02:00'));
      const who = 'manager kube-controller-manager, operation Update, not the status subresource';
      const annotation = 'its deployment.kubernetes.io/revision annotation';
      const noEntry = `and no entry of its managedFields is the deployment controller's (${who}) owning ${annotation}, by which rectify dates such a rollout`;
      const entry = controllerEntry(v2);
      const fields = entry.fieldsV1 as { 'f:metadata': { 'f:annotations': Record<string, Json> } };
      const { ['f:deployment.kubernetes.io/revision']: revisionField, ...otherAnnotations } = fields['f:metadata']['f:annotations'];
      assert.deepEqual(revisionField, {});
      const cases: Array<[string, (m: KObj['metadata']) => void, string]> = [
        ['no managedFields', (m) => delete m.managedFields, `and it lists no managedFields, by which rectify dates such a rollout (the deployment controller's entry: ${who}, owning ${annotation})`],
        [
          'the annotation taken over by another writer',
          (m) => {
            const taken = { ...entry, fieldsV1: { ...fields, 'f:metadata': { ...fields['f:metadata'], 'f:annotations': otherAnnotations } } };
            m.managedFields = [taken, { manager: 'kubectl-annotate', operation: 'Update', apiVersion: 'apps/v1', time: '2026-03-01T09:40:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } } } }];
          },
          noEntry,
        ],
        ['only the status subresource\'s entry lists it', (m) => (m.managedFields = [{ ...entry, subresource: 'status' }]), noEntry],
        ['another manager\'s entry', (m) => (m.managedFields = [{ ...entry, manager: 'argocd-controller' }]), noEntry],
        ['an Apply entry', (m) => (m.managedFields = [{ ...entry, operation: 'Apply' }]), noEntry],
        ['no time', (m) => (m.managedFields = [{ ...entry, time: undefined }]), `and the deployment controller's entry of its managedFields (${who}) owning ${annotation} has no time that can be read`],
        ['an unreadable time', (m) => (m.managedFields = [{ ...entry, time: 'at ten past ten' }]), `and the deployment controller's entry of its managedFields (${who}) owning ${annotation} has no time that can be read`],
      ];
      for (const [what, change, why] of cases) {
        const rs = JSON.parse(JSON.stringify(fake.get('replicasets', NS, v2)!)) as KObj;
        rs.metadata.managedFields = [entry];
        change(rs.metadata);
        fake.cluster.put('replicasets', rs);
        fake.clearRequests();
        const out = await exec().run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), inRun());
        assert.deepEqual(
          [out.ok, out.refused, out.unchanged, out.detail],
          [
            false,
            true,
            true,
            `refused: deployment ${NS}/checkout is on revision 4, a rollout back to ReplicaSet ${v2} (revision 2 before), whose creation time is not when it was rolled out again, ${why}, so rectify cannot tell whether it was rolled out before ${received}; a relative undo from there could roll back a rollout made since instead of the one the alert is about; ${tail}`,
          ],
          what,
        );
        assert.equal(writes(), 0, what);
      }
      assert.equal(image(), 'example/checkout:v2');
    });
  });

  it('a relative rollout undo whose patch meets a rollout made meanwhile (409) is refused, not aimed again from the new revision; a 409 that left the template alone is retried', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 }); // v1, then v2 (current)
    await waitFor('settled', () => fake.get('deployments', NS, 'checkout')!.status?.readyReplicas === 3);
    // rectify's patch is held until a person's hotfix has rolled out: it then carries a stale resourceVersion.
    fake.injectDelay('PATCH', DEP_PATH('checkout'), 60_000, 1);
    const memo = new Map<string, unknown>();
    const pending = createKubernetesActionExecutor(clients).run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo, phase: 'action' }));
    await waitFor('patch held', () => fake.count('PATCH', DEP_PATH('checkout')) === 1);
    const tpl = JSON.parse(JSON.stringify(fake.get('deployments', NS, 'checkout')!.spec.template));
    tpl.spec.containers[0].image = 'example/checkout:v3-hotfix';
    await clients.apps.patchNamespacedDeployment({ namespace: NS, name: 'checkout', body: [{ op: 'replace', path: '/spec/template', value: tpl }] } as never);
    await waitFor('revision 3', () => fake.get('deployments', NS, 'checkout')!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3');
    fake.releaseDelays();
    const out = await pending;
    assert.deepEqual([out.ok, out.refused, out.unchanged, out.detail], [
      false,
      true,
      true,
      `refused: deployment ${NS}/checkout was rolled out while rectify undid it (revision 2 when read, revision 3 now): a relative undo from there would roll back that rollout instead; nothing was written: a person must check the deployment`,
    ]);
    // rectify's one patch (refused with 409) and the hotfix's: no second patch of rectify's.
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 2);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v3-hotfix');
    // A conflict from a change that left the template alone is retried as before, once the
    // hotfix's rollout is over (its status updates would be conflicts of their own).
    await waitFor('the hotfix rolled out', () => rolledOut('checkout', 3));
    fake.clearRequests();
    fake.injectConflict('PATCH', DEP_PATH('checkout'), { resource: 'deployments', namespace: NS, name: 'checkout' });
    const again = await createKubernetesActionExecutor(clients).run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext());
    assert.deepEqual([again.ok, again.facts], [true, { from_revision: '3', to_revision: '2' }]);
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 2);
  });

  it("a person's undo to the same revision during rectify's held patch: rectify is refused, and its rollback leaves the person's template (no PATCH)", async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 }); // v1, then v2 (current)
    await waitFor('settled', () => fake.get('deployments', NS, 'checkout')!.status?.readyReplicas === 3);
    const rs1 = fake.list('replicasets', NS).find((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision'] === '1')!;
    const v1 = JSON.parse(JSON.stringify(rs1.spec.template));
    delete v1.metadata.labels['pod-template-hash'];
    fake.injectDelay('PATCH', DEP_PATH('checkout'), 60_000, 1);
    const memo = new Map<string, unknown>();
    const exec = createKubernetesActionExecutor(clients);
    const pending = exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo, phase: 'action' }));
    await waitFor('patch held', () => fake.count('PATCH', DEP_PATH('checkout')) === 1);
    // A person runs kubectl rollout undo meanwhile: the very template rectify is writing.
    await clients.apps.patchNamespacedDeployment({ namespace: NS, name: 'checkout', body: [{ op: 'replace', path: '/spec/template', value: v1 }] } as never);
    await waitFor('revision 3', () => fake.get('deployments', NS, 'checkout')!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3');
    fake.releaseDelays();
    const out = await pending;
    assert.deepEqual([out.ok, out.refused, out.unchanged], [false, true, true]);
    assert.equal(
      out.detail,
      `refused: deployment ${NS}/checkout was rolled out while rectify undid it (revision 2 when read, revision 3 now): a relative undo from there would roll back that rollout instead; nothing was written: a person must check the deployment`,
    );
    fake.clearRequests();
    const back = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual([back.ok, back.detail, back.facts], [
      false,
      `refused: deployment ${NS}/checkout is on revision 3, whose template is not the one before this run's undo, which wrote nothing: someone else rolled it out since, and rectify does not put revision 2's template back over it: a person must check the deployment`,
      { from_revision: '3', to_revision: '2' },
    ]);
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 0);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v1');
  });

  it("a rollback's undo after an undo whose patch was lost before it landed, and whose read after it failed: no second undo, nothing changed, and it says so", async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    fake.injectReset('PATCH', DEP_PATH('checkout'), { applied: false, then: () => fake.injectError('GET', DEP_PATH('checkout'), 500, 'InternalError', 'etcd timeout') });
    const undo = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo, phase: 'action' }));
    assert.deepEqual(
      [undo.ok, undo.unchanged, undo.unconfirmed, undo.detail],
      [
        false,
        undefined,
        true,
        `rollout_undo deployment production/checkout: request to ${fake.url}${DEP_PATH('checkout')} failed, reason: socket hang up (a write may have reached the cluster; a read after it could not tell: the read failed: 500 InternalError: etcd timeout)`,
      ],
    );
    // Its rollback would put the bad deploy back on no evidence: held for a person.
    assert.equal(undo.holdRollback, "the undo's answer was lost and rectify could not tell whether it landed; the rollback would put back revision 2's template, the one the undo was taking away, on no evidence");
    // The rendered rollback is the seed's relative undo (and names a revision, ignored): the run read revision 2.
    const back = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '1' }), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual(back, {
      ok: true,
      detail: "deployment production/checkout is still on revision 2 (the revision before this run's undo, not the rollback's --to-revision=1): nothing to roll back",
      facts: { from_revision: '2', to_revision: '2' },
      unchanged: true,
    });
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 1, 'only the failed one');
    const dep = fake.get('deployments', NS, 'checkout')!;
    assert.equal(dep.spec.template.spec.containers[0].image, 'example/checkout:v2');
    assert.equal(dep.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
  });

  it("a rollback's undo after an undo that landed restores the template the run read, once, even after a second undo", async () => {
    const { replicaSets } = fake.addDeployment(NS, 'checkout', 3, { revisions: 3 });
    const v3 = replicaSets[2]!;
    const exec = createKubernetesActionExecutor(clients);
    // Each write waits for the rollout to settle: the controller's status updates move the
    // resourceVersion, and a write racing them gets a 409 and is sent again (an extra PATCH).
    const rolledOut = (rev: number) =>
      waitFor(`checkout at revision ${rev}`, () => {
        const d = fake.get('deployments', NS, 'checkout')!;
        const pods = fake.list('pods', NS).filter((p) => p.metadata.name.startsWith('checkout-'));
        return d.metadata.annotations?.['deployment.kubernetes.io/revision'] === String(rev) && d.status?.updatedReplicas === 3 && d.status?.readyReplicas === 3 && pods.length === 3;
      });
    await rolledOut(3);
    const memo = new Map<string, unknown>();
    const undo = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '1' }), stepContext({ memo, phase: 'action' }));
    assert.equal(undo.ok, true, undo.detail);
    await rolledOut(4);
    // A second undo in the same run does not move what the rollback restores.
    const again = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo, phase: 'action' }));
    assert.deepEqual(again.facts, { from_revision: '4', to_revision: '3' });
    await rolledOut(5);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v3');
    // A relative undo now would go to v1; the rollback goes back to what the run found: v3… which it is on.
    const back = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual([back.ok, back.unchanged, back.detail], [true, true, "deployment production/checkout is on revision 5, still the template of revision 3 (the revision before this run's undo): nothing to roll back"]);
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 2);

    // Another run: its undo lands (v3 → v2), its rollback restores v3 (a relative undo would too, here) in one PATCH.
    const run2 = new Map<string, unknown>();
    const undo2 = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '2' }), stepContext({ memo: run2, phase: 'action' }));
    assert.deepEqual(undo2.facts, { from_revision: '5', to_revision: '2' });
    await rolledOut(6);
    const back2 = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo: run2, phase: 'rollback' }));
    assert.deepEqual([back2.ok, back2.unchanged, back2.detail], [true, undefined, "rolled deployment production/checkout back from revision 6 to the template of revision 5 (the revision before this run's undo)"]);
    assert.deepEqual(back2.facts, { from_revision: '6', to_revision: '5' });
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 4);
    const patch = fake.requests.filter((r) => r.method === 'PATCH').at(-1)!;
    assert.equal(patch.contentType, 'application/json-patch+json');
    assert.deepEqual((patch.body as Array<{ value: { metadata: { labels: Record<string, string> } } }>)[0]!.value.metadata.labels, { app: 'checkout' });
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v3');
    // The controller reuses revision 3's ReplicaSet.
    await waitFor('revision 7', () => fake.get('replicasets', NS, v3.metadata.name)!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '7');
  });

  it("a rollback's undo after the run's undo wrote nothing (already there) leaves a rollout someone made since: refused, no patch", async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
    const exec = createKubernetesActionExecutor(clients);
    const memo = new Map<string, unknown>();
    const undo = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '2' }), stepContext({ memo, phase: 'action' }));
    assert.deepEqual([undo.ok, undo.unchanged, undo.detail], [true, true, `deployment ${NS}/checkout is already at revision 2`]);
    // A person ships a hotfix: revision 3.
    const tpl = JSON.parse(JSON.stringify(fake.get('deployments', NS, 'checkout')!.spec.template));
    tpl.spec.containers[0].image = 'example/checkout:v3-hotfix';
    await clients.apps.patchNamespacedDeployment({ namespace: NS, name: 'checkout', body: [{ op: 'replace', path: '/spec/template', value: tpl }] } as never);
    await waitFor('revision 3', () => fake.get('deployments', NS, 'checkout')!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3');
    fake.clearRequests();
    const back = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ memo, phase: 'rollback' }));
    assert.deepEqual([back.ok, back.unchanged, back.detail], [
      false,
      true,
      `refused: deployment ${NS}/checkout is on revision 3, whose template is not the one before this run's undo, which wrote nothing: someone else rolled it out since, and rectify does not put revision 2's template back over it: a person must check the deployment`,
    ]);
    assert.equal(fake.count('PATCH', /.*/), 0);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v3-hotfix');
  });

  it("a rollback's relative undo without the run's own read is refused for a human, before any request; one naming its revision runs", async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
    const exec = createKubernetesActionExecutor(clients);
    // Each write waits for the rollout to settle: the controller's status updates move the
    // resourceVersion, and a write racing them gets a 409 and is sent again (an extra PATCH).
    const rolledOut = (rev: number) =>
      waitFor(`checkout at revision ${rev}`, () => {
        const d = fake.get('deployments', NS, 'checkout')!;
        const pods = fake.list('pods', NS).filter((p) => p.metadata.name.startsWith('checkout-'));
        return d.metadata.annotations?.['deployment.kubernetes.io/revision'] === String(rev) && d.status?.updatedReplicas === 3 && d.status?.readyReplicas === 3 && pods.length === 3;
      });
    const back = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ phase: 'rollback' }));
    assert.deepEqual(back, {
      ok: false,
      detail:
        'refused: this run has no record of the template deployment production/checkout had before it changed it, so it cannot tell what to restore; rectify does not undo once more blindly (that could make the very change that failed): a person must check the deployment',
      unchanged: true,
    });
    assert.equal(fake.requests.length, 0, 'not even read');
    await rolledOut(2);
    const named = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, { to_revision: '1' }), stepContext({ phase: 'rollback' }));
    assert.equal(named.ok, true, named.detail);
    assert.deepEqual(named.facts, { from_revision: '2', to_revision: '1' });
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v1');
    await rolledOut(3);
    // As an action, the relative undo is what the runbook asks for.
    const action = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS), stepContext({ phase: 'action' }));
    assert.equal(action.ok, true, action.detail);
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 2);
  });

  it('cordon and uncordon patch spec.unschedulable; repeating one sends no patch', async () => {
    const exec = createKubernetesActionExecutor(clients);
    const c = await exec.run(kubeAction('cordon', 'node', 'node-a', null), stepContext());
    assert.equal(c.ok, true, c.detail);
    assert.equal(c.detail, 'cordoned node node-a');
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
    const again = await exec.run(kubeAction('cordon', 'node', 'node-a', null), stepContext());
    assert.equal(again.detail, 'node node-a was already cordoned');
    assert.equal(fake.count('PATCH', '/api/v1/nodes/node-a'), 1);
    const u = await exec.run(kubeAction('uncordon', 'node', 'node-a', null), stepContext());
    assert.equal(u.ok, true, u.detail);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, undefined);
    assert.equal(fake.count('PATCH', '/api/v1/nodes/node-a'), 2);
    assert.deepEqual(
      fake.requests.filter((r) => r.method === 'PATCH').map((r) => [r.contentType, r.body]),
      [
        ['application/strategic-merge-patch+json', { spec: { unschedulable: true } }],
        ['application/strategic-merge-patch+json', { spec: { unschedulable: null } }],
      ],
    );
  });

  it("within one run, uncordon (a rollback) undoes the run's own cordon, never an operator's from before it", async () => {
    const exec = createKubernetesActionExecutor(clients);
    // The run cordons a schedulable node, fails, rolls back: uncordoned.
    const run1 = stepContext();
    await exec.run(kubeAction('cordon', 'node', 'node-a', null), run1);
    assert.equal((await exec.run(kubeAction('uncordon', 'node', 'node-a', null), run1)).detail, 'uncordoned node node-a');
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, undefined);
    // An operator had cordoned it: the run's cordon and drain find it so, and its rollback leaves it.
    await exec.run(kubeAction('cordon', 'node', 'node-a', null), stepContext());
    fake.clearRequests();
    const run2 = stepContext();
    assert.equal((await exec.run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '2' }), run2)).ok, true);
    const rollback = await exec.run(kubeAction('uncordon', 'node', 'node-a', null), run2);
    assert.deepEqual([rollback.ok, rollback.detail], [true, 'node node-a left cordoned: it was cordoned before this run']);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
    assert.equal(fake.count('PATCH', '/api/v1/nodes/node-a'), 0);
  });

  it('a rollback uncordon leaves alone a node this run never cordoned (its drain never ran); as an action it uncordons', async () => {
    fake.addNode('node-c', { unschedulable: true });
    const exec = createKubernetesActionExecutor(clients);
    const rollback = await exec.run(kubeAction('uncordon', 'node', 'node-c', null), { ...stepContext(), phase: 'rollback' });
    assert.deepEqual(rollback, { ok: true, detail: 'node node-c left as it is: this run did not cordon it', unchanged: true });
    assert.equal(fake.get('nodes', undefined, 'node-c')!.spec.unschedulable, true);
    assert.equal(fake.requests.length, 0, 'not even read');
    // A runbook whose action is the uncordon means it.
    const action = await exec.run(kubeAction('uncordon', 'node', 'node-c', null), { ...stepContext(), phase: 'action' });
    assert.deepEqual([action.ok, action.detail, action.unchanged], [true, 'uncordoned node node-c', undefined]);
    assert.equal(fake.get('nodes', undefined, 'node-c')!.spec.unschedulable, undefined);
  });

  it('a cordon whose patch got no answer is remembered: the rollback uncordons the node it may have cordoned', async () => {
    const exec = createKubernetesActionExecutor(clients);
    fake.injectDelay('PATCH', '/api/v1/nodes/node-a', 10_000);
    const run = stepContext();
    const cordon = await exec.run(kubeAction('cordon', 'node', 'node-a', null, {}, 300), run);
    assert.deepEqual([cordon.ok, cordon.detail, cordon.unchanged], [false, 'cordon node node-a: timed out after 300ms (a write may have reached the cluster)', undefined]);
    fake.releaseDelays();
    await waitFor('the late patch landed', () => fake.get('nodes', undefined, 'node-a')!.spec.unschedulable === true);
    const rollback = await exec.run(kubeAction('uncordon', 'node', 'node-a', null), { ...run, phase: 'rollback' });
    assert.equal(rollback.detail, 'uncordoned node node-a');
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, undefined);
  });

  // Regression: a cordon (or drain) recorded the node as schedulable before its patch, so a
  // patch the API server refused still left "this run cordoned it" for the rollback, whose
  // uncordon then undid an operator's cordon made since.
  it("a cordon whose patch was refused (403) is not remembered: the rollback leaves an operator's cordon since", async () => {
    const exec = createKubernetesActionExecutor(clients);
    fake.injectError('PATCH', '/api/v1/nodes/node-a', 403, 'Forbidden', 'nodes "node-a" is forbidden');
    const run = stepContext();
    const cordon = await exec.run(kubeAction('cordon', 'node', 'node-a', null), run);
    assert.deepEqual([cordon.ok, cordon.unchanged], [false, true], cordon.detail);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, undefined);
    // An operator cordons it meanwhile.
    const n = JSON.parse(JSON.stringify(fake.get('nodes', undefined, 'node-a')));
    n.spec.unschedulable = true;
    fake.cluster.put('nodes', n);
    const rollback = await exec.run(kubeAction('uncordon', 'node', 'node-a', null), { ...run, phase: 'rollback' });
    assert.deepEqual([rollback.ok, rollback.detail], [true, 'node node-a left as it is: this run did not cordon it']);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
    assert.equal(fake.count('PATCH', '/api/v1/nodes/node-a'), 1, 'the refused cordon only');
  });

  it('a step reports unchanged only when no write may have landed: reads, refusals and 4xx answers to writes', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
    fake.addDeployment(NS, 'worker', 3);
    const exec = createKubernetesActionExecutor(clients);
    const run = async (action: ReturnType<typeof kubeAction>) => {
      const out = await exec.run(action, stepContext());
      return [out.ok, out.unchanged === true, out.detail];
    };
    // A read that fails before any write.
    fake.injectError('GET', DEP_PATH('checkout'), 500, 'InternalError', 'etcdserver: request timed out');
    assert.deepEqual(await run(kubeAction('rollout_undo', 'deployment', 'checkout', NS)), [false, true, 'rollout_undo deployment production/checkout: 500 InternalError: etcdserver: request timed out']);
    // rectify's own refusal, and the API server's refusal of the write (4xx: not persisted).
    assert.deepEqual(await run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '0' })), [false, true, 'refused: scaling deployment production/worker to 0 would remove every replica; rectify does not do that']);
    fake.injectError('PATCH', DEP_PATH('checkout'), 403, 'Forbidden', 'deployments.apps "checkout" is forbidden');
    assert.deepEqual(await run(kubeAction('rollout_undo', 'deployment', 'checkout', NS)), [false, true, 'rollout_undo deployment production/checkout: 403 Forbidden: deployments.apps "checkout" is forbidden']);
    // Nothing to do is nothing done.
    assert.deepEqual(await run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '3' })), [true, true, 'Deployment production/worker already has 3 replicas']);
    // Only rectify's own rules mark a step refused (no breaker failure): not a failed read.
    const refusedBy = async (action: ReturnType<typeof kubeAction>) => (await exec.run(action, stepContext())).refused === true;
    assert.equal(await refusedBy(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '0' })), true);
    assert.equal(await refusedBy(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '1', max_unavailable: '1' })), true);
    fake.injectError('GET', DEP_PATH('checkout'), 500, 'InternalError', 'etcdserver: request timed out');
    assert.equal(await refusedBy(kubeAction('rollout_undo', 'deployment', 'checkout', NS)), false);
    // A write answered 5xx may have been persisted all the same.
    fake.injectError('PUT', `${DEP_PATH('worker')}/scale`, 500, 'InternalError', 'etcdserver: leader changed');
    // Unless a read after it finds what it asked for, or what there was before.
    assert.deepEqual(
      await run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '4' })),
      [false, true, 'scale deployment production/worker: 500 InternalError: etcdserver: leader changed; a read then found that the write did not land (Deployment production/worker has 3 replicas)'],
    );
    assert.deepEqual(await run(kubeAction('rollout_undo', 'deployment', 'checkout', NS)), [true, false, expectedUndo()]);
    assert.equal(fake.count('PATCH', DEP_PATH('checkout')), 2);

    function expectedUndo(): string {
      const v1 = fake.list('replicasets', NS).find((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision'] === '1')!;
      return `rolled deployment production/checkout back from revision 2 to revision 1 (ReplicaSet ${v1.metadata.name})`;
    }
  });

  const etcd = (path: string | RegExp) => () => fake.injectError('GET', path, 500, 'InternalError', 'etcdserver: request timed out');

  it('a write whose answer is lost, and whose read after it fails, is sent once and reported as possibly landed', async () => {
    fake.addDeployment(NS, 'worker', 3);
    fake.addDeployment(NS, 'checkout', 3);
    const exec = createKubernetesActionExecutor(clients);
    fake.injectReset('PUT', `${DEP_PATH('worker')}/scale`, { applied: true, then: etcd(`${DEP_PATH('worker')}/scale`) });
    const out = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '4' }), stepContext());
    assert.deepEqual(
      [out.ok, out.unchanged, out.unconfirmed, out.detail],
      [
        false,
        undefined,
        true,
        `scale deployment production/worker: request to ${fake.url}${DEP_PATH('worker')}/scale failed, reason: socket hang up (a write may have reached the cluster; a read after it could not tell: the read failed: 500 InternalError: etcdserver: request timed out)`,
      ],
    );
    // Not retried: the write did land, and rectify cannot know it.
    assert.equal(fake.count('PUT', `${DEP_PATH('worker')}/scale`), 1);
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 4);
  });

  // Regression: every write whose answer was lost failed its step as unconfirmed, though
  // one read of its target could tell: a rollback then undid what had landed, or undid what
  // never had, and the post-checks never judged a change that was in place.
  it('a write whose answer is lost is judged by one read of its target: landed, the step is done; not landed, it failed having changed nothing', async () => {
    fake.addDeployment(NS, 'worker', 3);
    fake.addDeployment(NS, 'checkout', 3);
    fake.addDeployment(NS, 'api', 3, { podNames: ['api-a', 'api-b', 'api-c'] });
    const exec = createKubernetesActionExecutor(clients);
    const run = async (action: ReturnType<typeof kubeAction>) => {
      const out = await exec.run(action, stepContext());
      return [out.ok, out.unchanged ?? null, out.unconfirmed ?? null, out.detail];
    };
    const cut = (path: string) => `request to ${fake.url}${path} failed, reason: socket hang up`;
    const NODE = '/api/v1/nodes/node-a';
    const landed = (detail: string, path: string, found: string) => [true, null, null, `${detail} (its answer was lost: ${cut(path)}; a read then found that the write landed: ${found})`];
    const notLanded = (what: string, path: string, found: string) => [false, true, null, `${what}: ${cut(path)}; a read then found that the write did not land (${found})`];

    fake.injectReset('PATCH', NODE, { applied: true });
    assert.deepEqual(await run(kubeAction('cordon', 'node', 'node-a', null)), landed('cordoned node node-a', NODE, 'node node-a is cordoned'));
    fake.injectReset('PATCH', NODE, { applied: false });
    assert.deepEqual(await run(kubeAction('uncordon', 'node', 'node-a', null)), notLanded('uncordon node node-a', NODE, 'node node-a is cordoned'));
    fake.injectReset('PATCH', NODE, { applied: true });
    assert.deepEqual(await run(kubeAction('uncordon', 'node', 'node-a', null)), landed('uncordoned node node-a', NODE, 'node node-a is schedulable'));
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, undefined);

    const SCALE = `${DEP_PATH('worker')}/scale`;
    fake.injectReset('PUT', SCALE, { applied: false });
    assert.deepEqual(await run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '4' })), notLanded('scale deployment production/worker', SCALE, 'Deployment production/worker has 3 replicas'));
    fake.injectError('PUT', SCALE, 500, 'InternalError', 'etcdserver: leader changed');
    assert.deepEqual(
      await run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '4' })),
      [false, true, null, 'scale deployment production/worker: 500 InternalError: etcdserver: leader changed; a read then found that the write did not land (Deployment production/worker has 3 replicas)'],
    );

    // A 504 is the API server's own deadline: the write may still be under way there, so a
    // read finding the count as it was proves nothing, and the step stays unconfirmed.
    fake.injectError('PUT', SCALE, 504, 'Timeout', 'request did not complete within the allotted timeout');
    assert.deepEqual(
      await run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '4' })),
      [
        false,
        null,
        true,
        'scale deployment production/worker: 504 Timeout: request did not complete within the allotted timeout (a write may have reached the cluster; a read after it found it as before (Deployment production/worker has 3 replicas), but a write whose deadline passed may still land)',
      ],
    );

    fake.injectReset('PATCH', DEP_PATH('checkout'), { applied: true });
    const restarted = await exec.run(kubeAction('rollout_restart', 'deployment', 'checkout', NS), stepContext());
    const at = fake.get('deployments', NS, 'checkout')!.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'];
    assert.deepEqual(
      [restarted.ok, restarted.unconfirmed ?? null, restarted.detail, restarted.facts],
      [
        true,
        null,
        `restarted Deployment production/checkout (kubectl.kubernetes.io/restartedAt=${at}) (its answer was lost: ${cut(DEP_PATH('checkout'))}; a read then found that the write landed: Deployment production/checkout has kubectl.kubernetes.io/restartedAt=${at})`,
        { restarted_at: at },
      ],
    );

    const pod = (name: string) => `/api/v1/namespaces/${NS}/pods/${name}`;
    const uidA = fake.get('pods', NS, 'api-a')!.metadata.uid;
    fake.injectReset('POST', `${pod('api-a')}/eviction`, { applied: false });
    assert.deepEqual(
      await run(kubeAction('evict_pod', 'pod', 'api-a', NS)),
      notLanded('evict_pod pod production/api-a', `${pod('api-a')}/eviction`, `pod production/api-a (uid ${uidA}) is still there, not terminating`),
    );
    fake.terminationDelayMs = 60_000;
    fake.injectReset('POST', `${pod('api-a')}/eviction`, { applied: true });
    assert.deepEqual(
      await run(kubeAction('evict_pod', 'pod', 'api-a', NS)),
      landed('evicted pod production/api-a through the Eviction API', `${pod('api-a')}/eviction`, `pod production/api-a (uid ${uidA}) is terminating`),
    );
    fake.terminationDelayMs = 0;
    fake.injectReset('DELETE', pod('api-b'), { applied: true });
    assert.deepEqual(
      await run(kubeAction('delete_pod', 'pod', 'api-b', NS)),
      landed('deleted pod production/api-b (force_delete: PodDisruptionBudgets not consulted)', pod('api-b'), 'pod production/api-b is gone (404)'),
    );
    assert.equal(fake.count('POST', /eviction$/) + fake.count('DELETE', /.*/), 3, 'each write sent once');
  });

  it('a drain whose eviction answer was lost tries that pod again (its uid or none), and counts it evicted when it is gone', async () => {
    fake.addDeployment(NS, 'api-server', 4, { nodeName: ['node-a', 'node-b'] });
    const onA = fake.list('pods', NS).filter((p) => p.spec.nodeName === 'node-a').map((p) => p.metadata.name);
    fake.injectReset('POST', EVICTION, { applied: true });
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 20 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5' }), stepContext());
    assert.deepEqual(out, { ok: true, detail: 'drained node node-a: evicted 2 pod(s)', facts: { was_unschedulable: 'false', evicted: '2' } });
    // The pod whose answer was lost was asked once more, with its uid: the answer (404) says it is gone.
    assert.equal(fake.count('POST', EVICTION), 3);
    const first = fake.requests.find((r) => r.method === 'POST' && EVICTION.test(r.path))!;
    const again = fake.requests.filter((r) => r.path === first.path);
    assert.equal(again.length, 2);
    assert.deepEqual(
      again.map((r) => (r.body as { deleteOptions: { preconditions: { uid: string } } }).deleteOptions.preconditions.uid),
      [0, 1].map(() => (first.body as { deleteOptions: { preconditions: { uid: string } } }).deleteOptions.preconditions.uid),
    );
    assert.deepEqual(fake.list('pods', NS).filter((p) => onA.includes(p.metadata.name)), []);
  });

  it('a drain whose eviction answers stay lost until its timeout says the pod may have been evicted, and is unconfirmed', async () => {
    fake.addDeployment(NS, 'api-server', 4, { nodeName: ['node-a', 'node-b'], podNames: ['api-server-p1', 'api-server-p2', 'api-server-p3', 'api-server-p4'] });
    const onA = fake.list('pods', NS).find((p) => p.spec.nodeName === 'node-a')!.metadata.name;
    const path = `/api/v1/namespaces/${NS}/pods/${onA}/eviction`;
    fake.injectReset('POST', path, { applied: true, times: 1000 });
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 100 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }, 5_000),
      stepContext(),
    );
    // The other pod on node-a was evicted early and is gone: not reported as still terminating.
    assert.deepEqual(
      [out.ok, out.detail],
      [false, `drain node node-a: 1 pod(s) not evicted within 1000ms: ${NS}/${onA} (connection reset (its eviction may have been carried out)); evicted 1; the node stays cordoned`],
    );
    // As every write whose answer never came: what it changed is not known.
    assert.deepEqual([out.unchanged, out.unconfirmed], [undefined, true]);
  });

  it('a drain whose evictions answer 404 while their pods are still there (a path the API server does not serve) fails naming them, the pods still on the node', async () => {
    fake.addDeployment(NS, 'api-server', 4, { nodeName: ['node-a', 'node-b'], podNames: ['api-server-p1', 'api-server-p2', 'api-server-p3', 'api-server-p4'] });
    fake.injectError('POST', EVICTION, 404, 'NotFound', 'the server could not find the requested resource', 1000);
    const exec = createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 100 });
    const out = await exec.run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }, 5_000), stepContext());
    const why = '404 NotFound: the server could not find the requested resource';
    assert.deepEqual(
      [out.ok, out.detail, out.facts],
      [
        false,
        `drain node node-a: 2 pod(s) not evicted within 1000ms: ${NS}/api-server-p1 (${why}); ${NS}/api-server-p3 (${why}); evicted 0; the node stays cordoned`,
        { was_unschedulable: 'false', evicted: '0' },
      ],
    );
    assert.deepEqual([out.unchanged, out.unconfirmed], [undefined, undefined]);
    assert.deepEqual(
      fake.list('pods', NS).filter((p) => p.spec.nodeName === 'node-a' && !p.metadata.deletionTimestamp).map((p) => p.metadata.name),
      ['api-server-p1', 'api-server-p3'],
    );
  });

  it("a drain lets go a pod gone between its listing and its eviction: the eviction's 404, confirmed by a read", async () => {
    fake.addDeployment(NS, 'api-server', 4, { nodeName: ['node-a', 'node-b'], podNames: ['api-server-p1', 'api-server-p2', 'api-server-p3', 'api-server-p4'] });
    const exec = createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 20 });
    fake.injectDelay('POST', EVICTION, 30_000, 1);
    const racing = exec.run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5' }), stepContext());
    await waitFor('the eviction sent', () => fake.count('POST', EVICTION) === 1);
    fake.cluster.remove('pods', NS, 'api-server-p1');
    fake.releaseDelays();
    const after = await racing;
    assert.deepEqual([after.ok, after.detail], [true, 'drained node node-a: evicted 1 pod(s)']);
  });

  it('a drain whose evictions are forbidden (RBAC 403) stops at the first refusal, not asking again each round until its timeout', async () => {
    fake.addDeployment(NS, 'api-server', 4, { nodeName: ['node-a', 'node-b'], podNames: ['api-server-p1', 'api-server-p2', 'api-server-p3', 'api-server-p4'] });
    fake.injectError('POST', EVICTION, 403, 'Forbidden', 'pods "api-server-p1" is forbidden: User "system:serviceaccount:rectify:rectify" cannot create resource "pods/eviction"', 1000);
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 20 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '30' }, 60_000), stepContext());
    assert.equal(fake.count('POST', EVICTION), 1);
    assert.deepEqual(
      [out.ok, out.detail],
      [
        false,
        `drain node node-a: 2 pod(s) not evicted (stopped: evictions are forbidden to rectify): ${NS}/api-server-p1 (403 Forbidden: pods "api-server-p1" is forbidden: User "system:serviceaccount:rectify:rectify" cannot create resource "pods/eviction"); ${NS}/api-server-p3 (not tried); evicted 0; the node stays cordoned`,
      ],
    );
  });

  it('a drain whose pod list fails after its cordon landed: the detail says a write reached the cluster, and its answer was not lost', async () => {
    fake.addDeployment(NS, 'api-server', 4, { nodeName: ['node-a', 'node-b'] });
    // The listing after the cordon fails (the one before it, for refusals, went through).
    fake.injectDelay('PATCH', '/api/v1/nodes/node-a', 5_000, 1);
    const running = createKubernetesActionExecutor(clients).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5' }), stepContext());
    await waitFor('the cordon sent', () => fake.count('PATCH', '/api/v1/nodes/node-a') === 1);
    fake.injectError('GET', '/api/v1/pods', 503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    fake.releaseDelays();
    const out = await running;
    assert.equal(fake.count('GET', '/api/v1/pods'), 2);
    assert.deepEqual(out, { ok: false, detail: 'drain node node-a: 503 ServiceUnavailable: the server is currently unable to handle the request (a write may have reached the cluster)' });
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
  });

  it('drain cordons, evicts every pod (Job pods too) but DaemonSet and mirror pods, and waits for them to go', async () => {
    fake.addDeployment(NS, 'api-server', 4, { nodeName: ['node-a', 'node-b'] });
    fake.addPod('kube-system', 'fluentd-x1', { nodeName: 'node-a', owner: { kind: 'DaemonSet', name: 'fluentd' } });
    fake.addPod('kube-system', 'kube-apiserver-node-a', { nodeName: 'node-a', mirror: true });
    fake.addPod('batch', 'report-x7', { nodeName: 'node-a', owner: { kind: 'Job', name: 'report' } });
    const onA = fake.list('pods', NS).filter((p) => p.spec.nodeName === 'node-a').map((p) => p.metadata.name);
    assert.equal(onA.length, 2);
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 20 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5', ignore_daemonsets: 'true', grace_period_seconds: '30' }),
      stepContext(),
    );
    assert.equal(out.ok, true, out.detail);
    assert.equal(out.detail, 'drained node node-a: evicted 3 pod(s); skipped kube-system/fluentd-x1 (DaemonSet), kube-system/kube-apiserver-node-a (mirror)');
    for (const r of fake.requests.filter((q) => q.method === 'POST' && EVICTION.test(q.path))) {
      assert.equal((r.body as { deleteOptions: { gracePeriodSeconds?: number } }).deleteOptions.gracePeriodSeconds, 30, 'grace_period_seconds reaches the eviction');
    }
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
    assert.equal(fake.count('POST', EVICTION), 3);
    assert.equal(fake.count('POST', '/api/v1/namespaces/batch/pods/report-x7/eviction'), 1);
    for (const name of onA) assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/${name}/eviction`), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    // Listed twice: for what it would refuse before the cordon, then what to evict after it.
    assert.deepEqual(fake.requests.filter((r) => r.path === '/api/v1/pods').map((r) => r.query), ['?fieldSelector=spec.nodeName%3Dnode-a', '?fieldSelector=spec.nodeName%3Dnode-a']);
    // Replacements land on the schedulable node only.
    await waitFor('replacements', () => fake.list('pods', NS).length === 4);
    assert.ok(fake.list('pods', NS).every((p) => p.spec.nodeName === 'node-b'));
  });

  it('drain waits for a pod that begins terminating while a budget holds its eviction until it is gone, as for an evicted one', async () => {
    fake.addDeployment(NS, 'api-server', 3, { nodeName: ['node-a', 'node-b', 'node-b'], podNames: ['api-server-p1', 'api-server-p2', 'api-server-p3'] });
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, disruptionsAllowed: 0 });
    fake.terminationDelayMs = 60_000;
    let finished = false;
    const draining = createKubernetesActionExecutor(await quickClients(), { drainRetryIntervalMs: 50 })
      .run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5' }), stepContext())
      .finally(() => (finished = true));
    await waitFor('the budget refused the eviction', () => fake.count('POST', EVICTION) >= 1);
    // Someone else deletes it; its kubelet takes its time.
    fake.deletePod(NS, 'api-server-p1', 30);
    await waitFor('the drain read it terminating', () => fake.count('GET', `/api/v1/namespaces/${NS}/pods/api-server-p1`) >= 2);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(finished, false, 'the drain is not done while the pod still runs on the node');
    assert.equal(fake.get('pods', NS, 'api-server-p1')!.metadata.deletionGracePeriodSeconds, 30, 'its deletion is left as it was');
    // Its kubelet confirms: the pod is gone, and only then is the drain done.
    fake.deletePod(NS, 'api-server-p1', 0);
    const out = await draining;
    assert.deepEqual([out.ok, out.detail], [true, `drained node node-a: evicted 0 pod(s); waited for ${NS}/api-server-p1 (already terminating) to go`]);
    assert.equal(fake.count('DELETE', /.*/), 0);
  });

  it('a drain lets go a pod whose eviction was refused (429 from its budget, or 409) after a new pod took its name: neither evicted nor refused nor waited for', async () => {
    // The successor stays unready: with it, a budget has no room (2 healthy of the 2 it needs).
    fake.readyDelayMs = 60_000;
    for (const [node, ns, budget] of [['node-a', 'with-budget', true], ['node-c', 'no-budget', false]] as const) {
      fake.addNode(node);
      fake.addStatefulSet(ns, 'web', 3, { nodeName: 'node-b' });
      // Only web-0 runs on the node drained.
      fake.get('pods', ns, 'web-0')!.spec.nodeName = node;
      if (budget) fake.addPdb(ns, 'web-pdb', { matchLabels: { app: 'web' }, maxUnavailable: 1 });
      fake.clearRequests();
      const EVICT = `/api/v1/namespaces/${ns}/pods/web-0/eviction`;
      const old = fake.get('pods', ns, 'web-0')!.metadata.uid;
      fake.injectDelay('POST', EVICT, 30_000);
      const draining = createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 20 }).run(kubeAction('drain', 'node', node, null, { timeout_seconds: '5' }), stepContext());
      await waitFor('the eviction sent', () => fake.count('POST', EVICT) === 1);
      fake.deletePod(ns, 'web-0');
      await waitFor('the successor created', () => (fake.get('pods', ns, 'web-0')?.metadata.uid ?? old) !== old);
      const successor = fake.get('pods', ns, 'web-0')!.metadata.uid;
      fake.releaseDelays();
      assert.deepEqual(await draining, { ok: true, detail: `drained node ${node}: evicted 0 pod(s)`, facts: { was_unschedulable: 'false', evicted: '0' } }, ns);
      // The budget had no room for the unready successor: 429; without a budget, the uid precondition: 409.
      assert.deepEqual(fake.requests.filter((r) => EVICTION.test(r.path)).map((r) => r.status), [budget ? 429 : 409]);
      // Read once, after the refusal; never a delete.
      assert.deepEqual([fake.count('GET', `/api/v1/namespaces/${ns}/pods/web-0`), fake.count('DELETE', /.*/)], [1, 0]);
      const now = fake.get('pods', ns, 'web-0')!;
      assert.deepEqual([now.metadata.uid, now.metadata.deletionTimestamp, now.spec.nodeName], [successor, undefined, 'node-b']);
    }
  });

  it('drain waits for a pod already terminating when listed, and fails naming it when it is still there at the deadline', async () => {
    fake.addDeployment(NS, 'api-server', 2, { nodeName: ['node-a', 'node-b'], podNames: ['api-server-p1', 'api-server-p2'] });
    fake.terminationDelayMs = 60_000;
    // Cordoned already, so its replacement lands on node-b.
    fake.get('nodes', undefined, 'node-a')!.spec.unschedulable = true;
    fake.deletePod(NS, 'api-server-p1', 30);
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 50 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }), stepContext());
    assert.equal(out.ok, false, out.detail);
    // Never evicted (it was on its way out already): counted as still terminating, not as "not evicted".
    assert.equal(out.detail, `drain node node-a: 1 pod(s) still terminating at the deadline (1000ms): ${NS}/api-server-p1 (terminating when the drain found it); evicted 0; the node stays cordoned`);
    assert.equal(fake.count('POST', EVICTION), 0, 'nothing to evict: it is on its way out');
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
  });

  it("a drain's failure counts and names the pods it leaves by what happened: not evicted, or still terminating at the deadline (evicted, or found terminating)", async () => {
    fake.addDeployment(NS, 'api-server', 2, { nodeName: ['node-a', 'node-b'], podNames: ['api-server-p1', 'api-server-p2'] });
    fake.addDeployment(NS, 'checkout', 2, { nodeName: ['node-a', 'node-b'], podNames: ['checkout-c1', 'checkout-c2'] });
    fake.addDeployment(NS, 'worker', 2, { nodeName: ['node-a', 'node-b'], podNames: ['worker-w1', 'worker-w2'] });
    fake.addPdb(NS, 'checkout-pdb', { matchLabels: { app: 'checkout' }, disruptionsAllowed: 0 });
    fake.terminationDelayMs = 60_000;
    // Cordoned already, so replacements land on node-b.
    fake.get('nodes', undefined, 'node-a')!.spec.unschedulable = true;
    fake.deletePod(NS, 'api-server-p1', 30);
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 50 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }), stepContext());
    assert.deepEqual([out.ok, out.detail], [
      false,
      `drain node node-a: 1 pod(s) not evicted within 1000ms: ${NS}/checkout-c1 (eviction refused by PodDisruptionBudget (429): Cannot evict pod as it would violate the pod's disruption budget.); ` +
        `2 pod(s) still terminating at the deadline (1000ms): ${NS}/worker-w1 (evicted); ${NS}/api-server-p1 (terminating when the drain found it); evicted 1; the node stays cordoned`,
    ]);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/worker-w1/eviction`), 1);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/api-server-p1/eviction`), 0);
  });

  it('drain refuses what kubectl drain refuses without its flags, before evicting anything or cordoning the node: DaemonSet pods, pods no controller recreates, emptyDir data', async () => {
    fake.addDeployment(NS, 'api-server', 2, { nodeName: 'node-a' });
    fake.addPod('kube-system', 'fluentd-x1', { nodeName: 'node-a', owner: { kind: 'DaemonSet', name: 'fluentd' } });
    fake.addPod(NS, 'scratch', { nodeName: 'node-a' });
    fake.addPod(NS, 'cache-0', { nodeName: 'node-a', owner: { kind: 'StatefulSet', name: 'cache' }, volumes: [{ name: 'tmp', emptyDir: {} }] });
    const run = (args: Record<string, string>) =>
      createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 20 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5', ...args }), stepContext());
    const out = await run({});
    assert.deepEqual([out.ok, out.refused, out.unchanged], [false, true, true]);
    assert.equal(
      out.detail,
      'drain node node-a: refused, nothing evicted: kube-system/fluentd-x1 (DaemonSet-managed: set ignore_daemonsets, as kubectl drain needs --ignore-daemonsets); ' +
        `${NS}/cache-0 (its emptyDir data would be lost: set delete_emptydir_data, as kubectl drain needs --delete-emptydir-data); ` +
        `${NS}/scratch (no controller would recreate it; rectify never forces that); the node was not cordoned`,
    );
    assert.equal(fake.count('POST', EVICTION), 0);
    // A refusal changes nothing: the node is left schedulable (cordoned first, a refused
    // drain was recorded as changing nothing while it left the node cordoned).
    assert.equal(fake.count('PATCH', '/api/v1/nodes/node-a'), 0);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, undefined);
    // With both flags only the pod nothing would recreate is left: still refused.
    const flagged = await run({ ignore_daemonsets: 'true', delete_emptydir_data: 'true' });
    assert.equal(flagged.detail, `drain node node-a: refused, nothing evicted: ${NS}/scratch (no controller would recreate it; rectify never forces that); the node was not cordoned`);
    assert.equal(fake.count('POST', EVICTION), 0);
    assert.equal(fake.count('PATCH', '/api/v1/nodes/node-a'), 0);
  });

  it('a pod drain would refuse, scheduled while the node is cordoned, fails the drain as changed: neither refused nor not now nor unchanged (what makes the runner roll it back and the breaker count it)', async () => {
    fake.addDeployment(NS, 'api-server', 2, { nodeName: 'node-a' });
    fake.injectDelay('PATCH', '/api/v1/nodes/node-a', 5_000, 1);
    const exec = createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 20 });
    const running = exec.run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5' }), stepContext());
    await waitFor('the cordon sent', () => fake.count('PATCH', '/api/v1/nodes/node-a') === 1);
    fake.addPod(NS, 'scratch', { nodeName: 'node-a' });
    fake.releaseDelays();
    const out = await running;
    assert.deepEqual([out.ok, out.refused, out.notNow, out.unchanged], [false, undefined, undefined, undefined]);
    assert.equal(out.detail, `drain node node-a: refused, nothing evicted: ${NS}/scratch (no controller would recreate it; rectify never forces that); the node stays cordoned`);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
    assert.equal(fake.count('POST', EVICTION), 0);
  });

  it("a drain counts the pods it evicted as not ready though the workload's status still does: it never evicts the last ready replica, nor beyond max_unavailable", async () => {
    // Replacements stay unready for the whole test; the status may still count an evicted pod ready.
    fake.readyDelayMs = 60_000;
    fake.addDeployment(NS, 'web', 2, { nodeName: 'node-a', podNames: ['web-w1', 'web-w2'] });
    fake.addDeployment(NS, 'api', 4, { nodeName: ['node-a', 'node-a', 'node-a', 'node-b'], podNames: ['api-a1', 'api-a2', 'api-a3', 'api-b1'] });
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 50 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1', max_unavailable: '1' }),
      stepContext(),
    );
    assert.deepEqual([out.ok, out.detail], [
      false,
      `drain node node-a: 3 pod(s) not evicted within 1000ms: ` +
        `${NS}/api-a2 (max_unavailable 1 allows 1 of 4 replicas of Deployment ${NS}/api to be unavailable; 1 already are, removing ready pod ${NS}/api-a2 would make it 2); ` +
        `${NS}/api-a3 (max_unavailable 1 allows 1 of 4 replicas of Deployment ${NS}/api to be unavailable; 1 already are, removing ready pod ${NS}/api-a3 would make it 2); ` +
        `${NS}/web-w2 (pod ${NS}/web-w2 is the last ready replica of Deployment ${NS}/web (ready 1/2); rectify never removes it); evicted 2; the node stays cordoned`,
    ]);
    assert.equal(fake.count('POST', EVICTION), 2);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/web-w1/eviction`), 1);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/api-a1/eviction`), 1);
    const readyOf = (app: string): string[] =>
      fake
        .list('pods', NS)
        .filter((p) => p.metadata.labels?.app === app && !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'))
        .map((p) => p.metadata.name);
    assert.deepEqual(readyOf('web'), ['web-w2']);
    assert.deepEqual(readyOf('api').sort(), ['api-a2', 'api-a3', 'api-b1']);
  });

  it("a drain counts only a workload's own pods as its ready replicas, not another's its selector also matches", async () => {
    fake.readyDelayMs = 60_000;
    // Two deployments with the same selector, one on each node.
    fake.addDeployment(NS, 'a', 3, { nodeName: 'node-a', podNames: ['a1', 'a2', 'a3'], labels: { app: 'web' } });
    fake.addDeployment(NS, 'b', 3, { nodeName: 'node-b', podNames: ['b1', 'b2', 'b3'], labels: { app: 'web' } });
    // Their controllers are slow to see the evictions: the statuses lag.
    fake.cluster.controllerDelayMs = 60_000;
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 50 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }),
      stepContext(),
    );
    assert.deepEqual([out.ok, out.detail], [
      false,
      `drain node node-a: 1 pod(s) not evicted within 1000ms: ` +
        `${NS}/a3 (pod ${NS}/a3 is the last ready replica of Deployment ${NS}/a (ready 1/3); rectify never removes it); evicted 2; the node stays cordoned`,
    ]);
    assert.equal(fake.count('POST', EVICTION), 2);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/a3/eviction`), 0);
    assert.equal(fake.get('pods', NS, 'a3')!.metadata.deletionTimestamp, undefined);
  });

  it("a drain lists a workload's pods once per round, however many of its pods the round judges", async () => {
    fake.readyDelayMs = 60_000;
    fake.addDeployment(NS, 'api', 6, { nodeName: ['node-a', 'node-a', 'node-a', 'node-b', 'node-b', 'node-b'], podNames: ['api-a1', 'api-a2', 'api-a3', 'api-b1', 'api-b2', 'api-b3'] });
    const evictionOf = (pod: string): string => `/api/v1/namespaces/${NS}/pods/${pod}/eviction`;
    // Round 1 judges api-a1, api-a2 (both answered 429) and api-a3 (evicted); round 2 judges api-a1 and api-a2 again.
    for (const pod of ['api-a1', 'api-a2']) fake.injectError('POST', evictionOf(pod), 429, 'TooManyRequests', 'Too many requests, please try again later.', 1);
    const out = await createKubernetesActionExecutor(await quickClients(), { drainRetryIntervalMs: 50 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '5' }),
      stepContext(),
    );
    assert.deepEqual([out.ok, out.detail], [true, 'drained node node-a: evicted 3 pod(s)']);
    assert.deepEqual(['api-a1', 'api-a2', 'api-a3'].map((pod) => fake.count('POST', evictionOf(pod))), [2, 2, 1]);
    // One listing of the pods, and of the ReplicaSets that tell the deployment's own pods, per round.
    assert.equal(fake.count('GET', `/api/v1/namespaces/${NS}/pods`), 2);
    assert.equal(fake.count('GET', `/apis/apps/v1/namespaces/${NS}/replicasets`), 2);
  });

  it("a pod a drain's round finds terminating after that round's listing no longer counts as ready: the last ready replica stays", async () => {
    fake.readyDelayMs = 60_000;
    fake.addDeployment(NS, 'api', 5, { nodeName: 'node-a', podNames: ['api-p1', 'api-p2', 'api-p3', 'api-p4', 'api-p5'] });
    fake.cluster.controllerDelayMs = 60_000;
    const evictionOf = (pod: string): string => `/api/v1/namespaces/${NS}/pods/${pod}/eviction`;
    for (const pod of ['api-p1', 'api-p2', 'api-p3']) fake.injectError('POST', evictionOf(pod), 429, 'TooManyRequests', 'Too many requests, please try again later.', 1);
    const running = createKubernetesActionExecutor(await quickClients(2_000), { drainRetryIntervalMs: 300 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '4' }, 10_000),
      stepContext(),
    );
    // Round 1: api-p1..3 answered 429, api-p4 and api-p5 evicted. Round 2 lists the pods to judge api-p1 (evicted),
    // then reads api-p2 again: held while a person deletes it.
    await waitFor('round 1 done', () => fake.count('POST', evictionOf('api-p5')) === 1);
    fake.injectDelay('GET', `/api/v1/namespaces/${NS}/pods/api-p2`, 60_000, 1);
    await waitFor('api-p2 read in round 2', () => fake.count('GET', `/api/v1/namespaces/${NS}/pods/api-p2`) === 2);
    assert.equal(fake.count('POST', evictionOf('api-p1')), 2);
    fake.terminationDelayMs = 60_000;
    await clients.core.deleteNamespacedPod({ namespace: NS, name: 'api-p2' });
    fake.releaseDelays();
    const out = await running;
    assert.equal(out.ok, false);
    // api-p3 is the one ready pod left: never evicted.
    assert.equal(fake.count('POST', evictionOf('api-p3')), 1);
    assert.equal(fake.count('POST', EVICTION), 6);
    assert.match(out.detail, new RegExp(`${NS}/api-p3 \\(pod ${NS}/api-p3 is the last ready replica of Deployment ${NS}/api \\(ready 1/5\\); rectify never removes it\\)`));
  });

  it('drain retries budget refusals while an answer fits before its deadline, then fails with the pods not evicted, nothing in flight', async () => {
    fake.addDeployment(NS, 'api-server', 2, { nodeName: 'node-a', podNames: ['api-server-p1', 'api-server-p2'] });
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, disruptionsAllowed: 0 });
    // API calls time out after 1 s: retries are sent until 1 s before the 3 s deadline, never after.
    const out = await createKubernetesActionExecutor(await quickClients(), { drainRetryIntervalMs: 100 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '3' }),
      stepContext(),
    );
    assert.equal(out.ok, false);
    assert.match(
      out.detail,
      /^drain node node-a: 2 pod\(s\) not evicted within 3000ms: production\/api-server-p1 \(eviction refused by PodDisruptionBudget \(429\): [^)]+\); production\/api-server-p2 \(eviction refused by PodDisruptionBudget \(429\): [^)]+\); evicted 0; the node stays cordoned$/,
    );
    // Every eviction was answered (refused): nothing of it is unknown.
    assert.equal(out.unconfirmed, undefined);
    const evictions = fake.requests.filter((r) => r.method === 'POST' && EVICTION.test(r.path));
    assert.ok(evictions.length >= 4, 'retried');
    assert.deepEqual(new Set(evictions.map((r) => r.status)), new Set([429]));
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true);
  });

  it('a drain sends no retry after a refusal without the time to hear its answer: refused, not unconfirmed', async () => {
    fake.addDeployment(NS, 'api-server', 2, { nodeName: 'node-a', podNames: ['api-server-p1', 'api-server-p2'] });
    fake.addPdb(NS, 'api-server-pdb', { matchLabels: { app: 'api-server' }, disruptionsAllowed: 0 });
    // A retry needs 2 s left (API calls time out after 5 s), the drain's deadline is 1 s: each
    // pod's first eviction is sent (and refused), no retry is.
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 100 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }), stepContext());
    assert.match(
      out.detail,
      /^drain node node-a: 2 pod\(s\) not evicted within 1000ms: production\/api-server-p1 \(eviction refused by PodDisruptionBudget \(429\): [^)]+\); production\/api-server-p2 \(eviction refused by PodDisruptionBudget \(429\): [^)]+\); evicted 0; the node stays cordoned$/,
    );
    assert.deepEqual([out.ok, out.unconfirmed, out.notNow], [false, undefined, undefined]);
    assert.deepEqual(
      fake.requests.filter((r) => r.method === 'POST' && EVICTION.test(r.path)).map((r) => [r.path, r.status]),
      ['api-server-p1', 'api-server-p2'].map((pod) => [`/api/v1/namespaces/${NS}/pods/${pod}/eviction`, 429]),
    );
  });

  it('a 12 s drain with 10 s API call timeouts asks again for an eviction its budget refused, once the budget allows it', async () => {
    // The budget needs 2 of web's 3 pods ready and web-b2 is not: web-a's eviction is refused.
    fake.addDeployment(NS, 'web', 3, { nodeName: ['node-a', 'node-b', 'node-b'], podNames: ['web-a', 'web-b1', 'web-b2'], readyReplicas: 2 });
    fake.addPdb(NS, 'web-pdb', { matchLabels: { app: 'web' }, minAvailable: 2 });
    fake.cluster.controllerDelayMs = 60_000;
    // The read after the refusal gets no answer; as it is made, web-b2 becomes ready, so the budget allows one eviction.
    fake.injectReset('GET', POD_PATH_OF('web-a'), { applied: true, then: () => fake.setPodReady(NS, 'web-b2', true) });
    // As in production: API calls time out after 10 s, a round every second.
    const out = await createKubernetesActionExecutor(await quickClients(10_000), { drainRetryIntervalMs: 1_000 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '12' }, 12_000),
      stepContext(),
    );
    assert.deepEqual([out.ok, out.detail, out.unconfirmed], [true, 'drained node node-a: evicted 1 pod(s)', undefined]);
    assert.deepEqual(
      fake.requests.filter((r) => r.method === 'POST' && EVICTION.test(r.path)).map((r) => r.status),
      [429, 201],
    );
    assert.equal(fake.get('pods', NS, 'web-a'), undefined);
  });

  it('a drain goes on reading a pod it has no time left to ask again: one someone else removed since is let go, the drain done', async () => {
    fake.addDeployment(NS, 'web', 3, { nodeName: ['node-a', 'node-b', 'node-b'], podNames: ['web-a', 'web-b1', 'web-b2'] });
    fake.addPdb(NS, 'web-pdb', { matchLabels: { app: 'web' }, disruptionsAllowed: 0 });
    fake.cluster.controllerDelayMs = 60_000;
    // The read after the refusal gets no answer; as it is made, someone else deletes web-a.
    fake.injectReset('GET', POD_PATH_OF('web-a'), { applied: true, then: () => fake.deletePod(NS, 'web-a') });
    // A retry needs 2 s left (API calls time out after 5 s), the deadline is 1 s: web-a is never asked again, only read.
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 100 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }), stepContext());
    assert.deepEqual([out.ok, out.detail, out.unconfirmed], [true, 'drained node node-a: evicted 0 pod(s)', undefined]);
    assert.deepEqual(
      fake.requests.filter((r) => r.method === 'POST' && EVICTION.test(r.path)).map((r) => [r.path, r.status]),
      [[`/api/v1/namespaces/${NS}/pods/web-a/eviction`, 429]],
    );
  });

  it('a drain judges a retry after a refusal right before sending it: reads that leave too little time send none, nothing in flight at the deadline', async () => {
    fake.addDeployment(NS, 'web', 3, { nodeName: ['node-a', 'node-b', 'node-b'], podNames: ['web-a', 'web-b1', 'web-b2'] });
    fake.addPdb(NS, 'web-pdb', { matchLabels: { app: 'web' }, disruptionsAllowed: 0 });
    fake.cluster.controllerDelayMs = 60_000;
    // API calls time out after 2 s, so a retry needs 2 s left of the 3 s deadline. The read after
    // the first refusal gets no answer; as it is made, the next round's workload read is slowed
    // to 1.5 s (the retry would be judged with about 1.4 s left) and its eviction to 1.9 s (it would
    // still be unanswered at the deadline).
    fake.injectReset('GET', POD_PATH_OF('web-a'), {
      applied: true,
      then: () => {
        fake.injectDelay('GET', /\/(replicasets|deployments)\//, 1_500, 1);
        fake.injectDelay('POST', EVICTION, 1_900, 1);
      },
    });
    const out = await createKubernetesActionExecutor(await quickClients(2_000), { drainRetryIntervalMs: 100 }).run(
      kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '3' }, 10_000),
      stepContext(),
    );
    assert.equal(out.ok, false);
    assert.match(
      out.detail,
      /^drain node node-a: 1 pod\(s\) not evicted within 3000ms: production\/web-a \(eviction refused by PodDisruptionBudget \(429\): [^)]+\); evicted 0; the node stays cordoned$/,
    );
    assert.equal(out.unconfirmed, undefined);
    assert.deepEqual(
      fake.requests.filter((r) => r.method === 'POST' && EVICTION.test(r.path)).map((r) => r.status),
      [429],
    );
    fake.releaseDelays();
  });

  it('a drain whose eviction is still unanswered at its deadline says it may have been carried out, and is unconfirmed', async () => {
    fake.addDeployment(NS, 'api-server', 2, { nodeName: 'node-a', podNames: ['api-server-p1', 'api-server-p2'] });
    fake.injectDelay('POST', EVICTION, 30_000, 1);
    const out = await createKubernetesActionExecutor(clients, { drainRetryIntervalMs: 100 }).run(kubeAction('drain', 'node', 'node-a', null, { timeout_seconds: '1' }), stepContext());
    assert.deepEqual(
      [out.ok, out.detail, out.facts],
      [
        false,
        `drain node node-a: 2 pod(s) not evicted within 1000ms: ${NS}/api-server-p1 (no answer to its eviction by the deadline (it may have been carried out)); ${NS}/api-server-p2 (not tried); evicted 0; the node stays cordoned`,
        { was_unschedulable: 'false', evicted: '0' },
      ],
    );
    assert.deepEqual([out.unchanged, out.unconfirmed], [undefined, true]);
    assert.equal(fake.count('POST', EVICTION), 1);
    fake.releaseDelays();
  });

  it('an abort really stops waiting for a hung API call; a step timeout fails the step', async () => {
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
    fake.injectDelay('GET', POD_PATH, 10_000, 2);
    const exec = createKubernetesActionExecutor(clients);
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    const out = await exec.run(kubeAction('evict_pod', 'pod', 'api-server-abc123', NS), stepContext({ signal: ac.signal }));
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'evict_pod pod production/api-server-abc123: aborted (shutting down)');
    assert.ok(Date.now() - t0 < 1_000, 'returned promptly');

    const t1 = Date.now();
    const timed = await exec.run(kubeAction('evict_pod', 'pod', 'api-server-abc123', NS, {}, 200), stepContext());
    assert.equal(timed.ok, false);
    assert.equal(timed.detail, 'evict_pod pod production/api-server-abc123: timed out after 200ms');
    assert.ok(Date.now() - t1 < 1_000);
    assert.equal(fake.count('POST', EVICTION), 0);
  });

  it('reports API errors with status and reason', async () => {
    fake.addDeployment(NS, 'worker', 3);
    fake.injectError('GET', `${DEP_PATH('worker')}/scale`, 403, 'Forbidden', 'deployments.apps "worker" is forbidden: User "system:serviceaccount:rectify:rectify" cannot get resource "deployments/scale"');
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: '4' }), stepContext());
    assert.equal(out.ok, false);
    assert.match(out.detail, /^scale deployment production\/worker: 403 Forbidden: deployments\.apps "worker" is forbidden/);
    // A pod that is not there is no error: see "a pod already gone".
    const missing = await createKubernetesActionExecutor(clients).run(kubeAction('evict_pod', 'pod', 'nope', NS), stepContext());
    assert.deepEqual([missing.ok, missing.detail], [true, 'pod production/nope was already gone (404 when read): nothing to evict; done without effect']);
  });

  it('rejects a verb on the wrong kind without calling the API', async () => {
    const out = await createKubernetesActionExecutor(clients).run(kubeAction('drain', 'deployment', 'api-server', NS), stepContext());
    assert.equal(out.detail, 'drain needs kind node, got deployment');
    assert.equal(fake.requests.length, 0);
  });
});

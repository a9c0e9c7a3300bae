import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { createNamedCheckRunner } from '../../src/checks/named.js';
import { podUidMemoKey, type KubeClients } from '../../src/checks/kubernetes.js';
import { loopRunbook, namedCheck, startFakeEnv, stepContext } from './setup.js';

/**
 * pod_becomes_ready after a `command:` action deleted a StatefulSet's pod, through the whole
 * service against the API fake, on real clocks (the creation-time rule reads them): the run
 * reads the pod's uid before its first action, so the pod recreated under its name is told
 * from the old one by its uid, however soon after the run's start it was created.
 */
const NS = 'pu';
const POD = `/api/v1/namespaces/${NS}/pods/web-0`;

describe('pod_becomes_ready after a command: action, the uid read before the actions', { timeout: 60_000 }, () => {
  let target: HttpTarget;
  let fake: KubeFake;
  let svc: TestService;

  // What `kubectl delete pod <name>` in a command: does: a DELETE through the API with its
  // token (node's fetch, so the test needs no HTTP client the machine may lack).
  const scripts = mkdtempSync(join(tmpdir(), 'rectify-pod-uid-'));
  const deleter = join(scripts, 'delete.mjs');
  writeFileSync(
    deleter,
    "const r = await fetch(process.argv[2], { method: 'DELETE', headers: { authorization: 'Bearer fake-token' } });\nprocess.exit(r.ok ? 0 : 1);\n",
  );
  after(() => rmSync(scripts, { recursive: true, force: true }));

  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());
  beforeEach(async () => {
    target.reset();
    const env = await startFakeEnv();
    fake = env.fake;
    fake.addNode('node-a');
    fake.addStatefulSet(NS, 'web', 3);
    // Created 10 minutes before the run.
    for (const p of fake.list('pods', NS)) p.metadata.creationTimestamp = new Date(Date.now() - 600_000).toISOString();
    const verify = `    post_checks:
      - {named: pod_becomes_ready, timeout_seconds: 2, interval_seconds: 0.1}
    rollback: null
`;
    const deleteWeb0 = `      - command: {argv: ["${process.execPath}", "${deleter}", "${fake.url}${POD}"], timeout_seconds: 5}\n`;
    svc = await startTestService({
      realClock: true,
      runbooks: `runbooks:
${loopRunbook('delete-by-command', 'PodStuck', `    actions:
${deleteWeb0}${verify}`)}${loopRunbook('delete-after-gate', 'PodGated', `    pre_checks:
      - http: {url: "${target.url}/gate", timeout_seconds: 2}
    actions:
${deleteWeb0}${verify}`)}${loopRunbook('touch-nothing', 'PodIdle', `    actions:
      - command: {argv: [/bin/true]}
${verify}`)}${loopRunbook('delete-checked-otherwise', 'PodOther', `    actions:
${deleteWeb0}    post_checks:
      - http: {url: "${target.url}/healthy", timeout_seconds: 2}
    rollback: null
`)}`,
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig],
    });
    fake.clearRequests();
  });
  afterEach(async () => {
    await svc.stop({ remove: true });
    await fake.close();
  });

  const alert = (rootCause: string) =>
    svc.post('/api/v1/incidents?wait=true', { root_cause: rootCause, service: 'web', confidence: 1, context: { namespace: NS, pod: 'web-0' } });
  const steps = async (id: string) => ((await svc.get(`/api/v1/executions/${id}`)).body.steps as Array<Record<string, unknown>>).map((s) => [s.phase, s.summary, s.ok]);
  const reads = () => fake.requests.filter((r) => r.method === 'GET' && r.path === POD).length;

  it('the pod deleted by the command and recreated at once under its name is the successor: ready, the run succeeds', async () => {
    const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
    const r = await alert('PodStuck');
    assert.deepEqual([r.body.action, r.body.runbook, r.body.success], ['executed', 'delete-by-command', true], r.body.reason);
    const now = fake.get('pods', NS, 'web-0')!;
    assert.notEqual(now.metadata.uid, old, 'web-0 was recreated');
    // Recreated within 2 s of the run's start: by creation time it would be taken for the old pod.
    const started = Date.parse((await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body.started_at);
    assert.ok(Date.parse(now.metadata.creationTimestamp) < started + 2_000, 'the successor was created within 2 s of the run start');
    // The read before the action is no step: the steps are the runbook's.
    assert.deepEqual(await steps(r.body.execution_id), [
      ['action', `${process.execPath} ${deleter} ${fake.url}${POD}`, true],
      ['post_check', 'pod_becomes_ready', true],
    ]);
    // Enrichment's read of the pod, then the run's read before its action.
    assert.equal(reads(), 2);
  });

  it('the same with no Date header (the API server clock unknown): the uid decides, the run succeeds', async () => {
    fake.dateHeader = false;
    // The cluster's clock 10 minutes behind, unseen without the header: by creation time
    // the successor was created long before the run, so only its uid tells it from the old pod.
    fake.serverNow = () => Date.now() - 600_000;
    const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
    const r = await alert('PodStuck');
    assert.deepEqual([r.body.action, r.body.success], ['executed', true], r.body.reason);
    assert.notEqual(fake.get('pods', NS, 'web-0')!.metadata.uid, old, 'web-0 was recreated');
  });

  it('the pod never deleted: the check fails, web-0 still present', async () => {
    const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
    const r = await alert('PodIdle');
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, false);
    assert.match(r.body.reason, new RegExp(`^verification failed: pod_becomes_ready: StatefulSet ${NS}/web: ready 3/3, updated 3, total 3; 2 ready pod\\(s\\) counted; pod web-0 still present after \\d+ attempts$`));
    assert.equal(fake.get('pods', NS, 'web-0')!.metadata.uid, old);
    assert.equal(reads(), 2);
  });

  for (const [status, reason] of [
    [404, 'NotFound'],
    [500, 'InternalError'],
  ] as const) {
    it(`the read before the action answered ${status}: no uid kept, the creation-time rule judges, and the successor created at once is taken for the old pod: failed`, async () => {
      // The pre-check, after enrichment read the pod, makes the next read of web-0 fail.
      target.route('GET', '/gate', () => {
        fake.injectError('GET', POD, status, reason, `pods "web-0" ${status === 404 ? 'not found' : 'could not be read'}`);
        return { status: 200 };
      });
      const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
      const r = await alert('PodGated');
      assert.equal(r.body.action, 'executed');
      assert.equal(r.body.success, false);
      assert.match(r.body.reason, new RegExp(`^verification failed: pod_becomes_ready: StatefulSet ${NS}/web: ready 3/3, updated 3, total 3; 2 ready pod\\(s\\) counted; pod web-0 still present after \\d+ attempts$`));
      assert.notEqual(fake.get('pods', NS, 'web-0')!.metadata.uid, old, 'web-0 was deleted and recreated');
      assert.deepEqual((await steps(r.body.execution_id)).map((s) => [s[0], s[2]]), [
        ['pre_check', true],
        ['action', true],
        ['post_check', false],
      ]);
      assert.equal(reads(), 2);
    });
  }

  it('a runbook without pod_becomes_ready reads nothing before its action', async () => {
    target.route('GET', '/healthy', { status: 200 });
    const r = await alert('PodOther');
    assert.deepEqual([r.body.action, r.body.runbook, r.body.success], ['executed', 'delete-checked-otherwise', true], r.body.reason);
    // Its runbook needs no value enrichment adds, so nothing read the pod: not the run either.
    assert.equal(reads(), 0);
  });
});

describe("pod_becomes_ready's read before the actions, on its own", () => {
  let fake: KubeFake;
  let clients: KubeClients;
  beforeEach(async () => {
    ({ fake, clients } = await startFakeEnv({ callTimeoutMs: 300 }));
    fake.addNode('node-a');
    fake.addStatefulSet(NS, 'web', 3);
    fake.clearRequests();
  });
  afterEach(async () => {
    fake.releaseDelays();
    await fake.close();
  });
  const check = (values: Record<string, string> = { namespace: NS, pod: 'web-0', statefulset: 'web' }, name = 'pod_becomes_ready') => namedCheck(name, values);
  const key = podUidMemoKey(NS, 'web-0');

  it('keeps the uid of the pod the check names', async () => {
    const ctx = stepContext();
    const uid = fake.get('pods', NS, 'web-0')!.metadata.uid;
    assert.deepEqual(await createNamedCheckRunner({ kube: clients }).beforeActions!(check(), ctx), { kept: true, detail: `pod ${NS}/web-0 has uid ${uid}` });
    assert.deepEqual([...ctx.memo], [[key, uid]]);
  });

  it('reads nothing when the run keeps a uid already (a pre-check read the pod), for another named check, or without the Kubernetes API', async () => {
    const ctx = stepContext();
    ctx.memo.set(key, 'uid-from-a-pre-check');
    assert.equal(await createNamedCheckRunner({ kube: clients }).beforeActions!(check(), ctx), undefined);
    assert.deepEqual([...ctx.memo], [[key, 'uid-from-a-pre-check']]);
    const other = stepContext();
    assert.equal(await createNamedCheckRunner({ kube: clients }).beforeActions!(check(undefined, 'recent_restarts_less_than_three'), other), undefined);
    assert.equal(await createNamedCheckRunner({}).beforeActions!(check(), other), undefined);
    assert.equal(await createNamedCheckRunner({ kube: clients }).beforeActions!(check({ namespace: NS, statefulset: 'web' }), other), undefined);
    assert.equal(other.memo.size, 0);
    assert.equal(fake.requests.length, 0);
  });

  it('a name that is not a Kubernetes name is never read', async () => {
    const ctx = stepContext();
    const out = await createNamedCheckRunner({ kube: clients }).beforeActions!(check({ namespace: NS, pod: '../nodes/x', statefulset: 'web' }), ctx);
    assert.equal(out?.kept, false);
    assert.match(out!.detail, /^not read: value pod "\.\.\/nodes\/x" /);
    assert.deepEqual([ctx.memo.size, fake.requests.length], [0, 0]);
  });

  it('no answer within the API call timeout, or the run aborted meanwhile: nothing kept', async () => {
    fake.injectDelay('GET', POD, 60_000);
    const ctx = stepContext();
    assert.deepEqual(await createNamedCheckRunner({ kube: clients }).beforeActions!(check(), ctx), { kept: false, detail: `pod ${NS}/web-0: API call timed out after 300ms` });
    assert.equal(ctx.memo.size, 0);

    fake.injectDelay('GET', POD, 60_000);
    const stop = new AbortController();
    const aborted = stepContext({ signal: stop.signal });
    const read = createNamedCheckRunner({ kube: clients }).beforeActions!(check(), aborted);
    stop.abort(new Error('shutting down'));
    assert.deepEqual(await read, { kept: false, detail: `pod ${NS}/web-0: shutting down` });
    assert.equal(aborted.memo.size, 0);
  });
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { startFakeEnv } from '../kubernetes/setup.js';
import { countRows, webhook } from './helpers.js';

/**
 * A storm must not become a storm of calls to the Kubernetes API (or Prometheus)
 * for alerts rectify will not act on. The runbooks here need enrichment: their
 * action names `{workload}`, which the alert does not carry and the enricher reads
 * from the Kubernetes API fake (the real client, the real REST protocol). Each
 * enrichment is one GET of the deployment, counted by the fake.
 */
const NS = 'production';
const DEPLOYMENT = `/apis/apps/v1/namespaces/${NS}/deployments/api`;

const runbooks = (targetUrl: string) => `runbooks:
  restart-api:
    risk: LOW
    triggers: [ApiDown]
    max_per_hour: 2
    cooldown_minutes: 0
    blast_radius_limit: 1000
    action:
      http: {method: POST, url: "${targetUrl}/restart/{workload}/{service}", expect_status: [200, 299], timeout_seconds: 10}
  restart-web:
    risk: LOW
    triggers: [WebDown]
    max_per_hour: 5
    cooldown_minutes: 0
    blast_radius_limit: 1000
    action:
      http: {method: POST, url: "${targetUrl}/restart/{workload}/{service}", expect_status: [200, 299], timeout_seconds: 10}
`;

let seq = 0;
/**
 * One alert; each carries its own `instance`, so the enricher is given different
 * values for each and every enrichment is a read of its own (alerts giving it the
 * same values share one read within a request: see `sameLabels`).
 */
function alert(alertname: string, service: string, sameLabels = false) {
  const n = seq++;
  return {
    status: 'firing' as const,
    labels: { alertname, service, namespace: NS, deployment: 'api', severity: 'critical', ...(sameLabels ? {} : { instance: `i-${n}` }) },
    annotations: {},
    startsAt: '2026-11-24T03:00:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: `prep-${n.toString(16).padStart(8, '0')}`,
  };
}

describe('storm: enrichment and guardrail checks only for alerts that could act', { timeout: 60_000 }, () => {
  let fake: KubeFake;
  let kubeconfig: string;
  let target: HttpTarget;
  let svc: TestService;
  let perEnrichment: number;
  const enrichments = () => fake.count('GET', DEPLOYMENT) / perEnrichment;

  before(async () => {
    const env = await startFakeEnv();
    fake = env.fake;
    kubeconfig = env.kubeconfig;
    fake.addDeployment(NS, 'api', 3);
    target = await startHttpTarget();
    svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', kubeconfig, '--max-concurrent-executions', '1000'],
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
    await fake?.close();
  });

  it('one alert: enriched, executed with the value the enricher read', async () => {
    fake.clearRequests();
    target.route('POST', '/restart/api/web-0', { status: 200 });
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([alert('WebDown', 'web-0')]));
    assert.equal(r.status, 202);
    assert.equal(r.body.results[0].event, 'SUCCESS', r.body.results[0].reason);
    assert.equal(target.calls('/restart/api/web-0', 'POST'), 1);
    perEnrichment = fake.count('GET', DEPLOYMENT);
    assert.ok(perEnrichment >= 1, 'the enricher read the deployment');
  });

  it('a storm for one service: only the alerts that may still run are enriched', async () => {
    fake.clearRequests();
    target.route('POST', '/restart/api/api', { status: 200 });
    const body = webhook(Array.from({ length: 40 }, () => alert('ApiDown', 'api')));
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', body);
    assert.equal(r.status, 202);
    const actions = r.body.results.map((x: any) => x.event);
    assert.equal(actions.filter((e: string) => e === 'SUCCESS').length, 2);
    assert.equal(actions.filter((e: string) => e === 'RATE_LIMITED').length, 38);
    assert.equal(target.calls('/restart/api/api', 'POST'), 2);
    assert.equal(enrichments(), 2, 'max_per_hour is 2: the other 38 are rate limited whatever the enricher finds');

    // Alertmanager sends the whole group again at every group_interval: no enrichment at all.
    const again = await svc.post('/api/v1/webhooks/alertmanager', body);
    assert.equal(again.status, 202);
    assert.equal(again.body.results.filter((x: any) => x.action === 'duplicate').length, 40);
    assert.equal(enrichments(), 2);
    assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'DUPLICATE'"), 40);
  });

  it('while paused, nothing is enriched and every alert is decided PAUSED', async () => {
    fake.clearRequests();
    assert.equal((await svc.post('/api/v1/pause', { by: 'oncall', reason: 'storm' })).status, 200);
    const r = await svc.post('/api/v1/webhooks/alertmanager', webhook(Array.from({ length: 10 }, (_, i) => alert('WebDown', `web-p${i}`))));
    assert.equal(r.status, 202);
    assert.deepEqual([...new Set(r.body.results.map((x: any) => x.event))], ['PAUSED']);
    assert.equal(fake.count('GET', DEPLOYMENT), 0);
    assert.equal((await svc.post('/api/v1/resume', { by: 'oncall' })).status, 200);
  });

  it('an alert left out while its runbook was paused, resumed before deciding, is enriched and acts after all', async () => {
    fake.clearRequests();
    assert.equal((await svc.post('/api/v1/runbooks/restart-web/pause', { by: 'oncall', reason: 'maintenance' })).status, 200);
    // The first alert's enrichment is slow; the second (restart-web, paused now) is left out by the screen.
    fake.injectDelay('GET', DEPLOYMENT, 600, 1);
    for (const service of ['api-late', 'web-late']) target.route('POST', `/restart/api/${service}`, { status: 200 });
    const pending = svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([alert('ApiDown', 'api-late'), alert('WebDown', 'web-late')]));
    for (let i = 0; i < 200 && fake.count('GET', DEPLOYMENT) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal((await svc.post('/api/v1/runbooks/restart-web/resume', { by: 'oncall' })).status, 200);
    const r = await pending;
    assert.equal(r.status, 202);
    assert.deepEqual(
      r.body.results.map((x: any) => [x.runbook, x.action, x.event]),
      [
        ['restart-api', 'executed', 'SUCCESS'],
        ['restart-web', 'executed', 'SUCCESS'],
      ],
    );
    assert.equal(target.calls('/restart/api/web-late', 'POST'), 1, 'run with the value the enricher read');
    assert.equal(enrichments(), 2);
    const audit = await svc.get(`/api/v1/audit?incident_id=${r.body.results[1].incident_id}`);
    // One decision for it, taken once it was prepared: no PAUSED row from the screen.
    assert.deepEqual(audit.body.events.map((e: any) => e.event).reverse(), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'SUCCESS']);
  });
});

/** A MEDIUM runbook entry whose guardrail is a GET of `health` on the local target; max_per_hour 2. */
const medium = (base: string, id: string, trigger: string, health: string) => `  ${id}:
    risk: MEDIUM
    triggers: [${trigger}]
    max_per_hour: 2
    cooldown_minutes: 0
    blast_radius_limit: 1000
    guardrails:
      - http: {url: "${base}/${health}", timeout_seconds: 1, interval_seconds: 1}
    action:
      http: {method: POST, url: "${base}/restart/{service}", expect_status: [200, 299], timeout_seconds: 10}
`;

describe('storm: MEDIUM guardrail conditions only for alerts that could run', { timeout: 60_000 }, () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('GET', '/healthy', { status: 200 });
    target.route('GET', '/unhealthy', { status: 503 });
    svc = await startTestService({
      runbooks: `runbooks:\n${medium(target.url, 'restart-when-healthy', 'ApiDown', 'healthy')}${medium(target.url, 'restart-when-unhealthy', 'WebDown', 'unhealthy')}`,
      args: ['--max-concurrent-executions', '1000'],
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });

  it('the conditions hold: checked for the two alerts that may run, the other 38 rate limited', async () => {
    target.route('POST', '/restart/api', { status: 200 });
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook(Array.from({ length: 40 }, () => alert('ApiDown', 'api'))));
    assert.equal(r.status, 202);
    const events = r.body.results.map((x: any) => x.event);
    assert.equal(events.filter((e: string) => e === 'SUCCESS').length, 2);
    assert.equal(events.filter((e: string) => e === 'RATE_LIMITED').length, 38);
    assert.equal(target.calls('/healthy', 'GET'), 2, 'not forty checks against the monitoring system in a storm');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
  });

  it('the conditions do not hold: checked twice per executions left, and every alert asks a person, in one request', async () => {
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook(Array.from({ length: 40 }, () => alert('WebDown', 'web'))));
    assert.equal(r.status, 202);
    assert.deepEqual([...new Set(r.body.results.map((x: any) => x.action))], ['approval_required']);
    // Two prepared by the screen, two more once the first two did not run: not forty.
    // Each failing check is tried twice: at 0 s and at its 1 s timeout.
    assert.equal(target.calls('/unhealthy', 'GET'), 4 * 2);
    const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals.filter((a: any) => a.runbook === 'restart-when-unhealthy');
    assert.deepEqual(pending.map((a: any) => a.alerts), [40]);
    assert.equal(target.calls('/restart/web', 'POST'), 0);
    const reasons = new Set(r.body.results.map((x: any) => x.reason.replace(/; the same plan .*$/, '')));
    assert.deepEqual([...reasons].sort(), [
      `risk MEDIUM: guardrail failed: http: GET ${target.url}/unhealthy: expected status 200, got 503 after 2 attempts`,
      'risk MEDIUM: its guardrail conditions were not checked in this alert storm (they were checked for the alerts before it, which did not all run): approval',
    ].sort());
  });
});

describe('storm: a MEDIUM runbook whose plan needs enrichment', { timeout: 60_000 }, () => {
  // The action names {workload}, which only the enricher gives (one GET of the deployment per enrichment).
  const mediumEnriched = (base: string, id: string, trigger: string, health: string) =>
    medium(base, id, trigger, health).replace('/restart/{service}"', '/restart/{workload}/{service}"');
  let fake: KubeFake;
  let target: HttpTarget;
  let svc: TestService;
  let per: number;
  const enrichments = () => fake.count('GET', DEPLOYMENT) / per;
  before(async () => {
    const env = await startFakeEnv();
    fake = env.fake;
    fake.addDeployment(NS, 'api', 3);
    target = await startHttpTarget();
    target.route('GET', '/healthy', { status: 200 });
    target.route('GET', '/unhealthy', { status: 503 });
    svc = await startTestService({
      runbooks: `runbooks:\n${mediumEnriched(target.url, 'restart-when-healthy', 'ApiDown', 'healthy')}${mediumEnriched(target.url, 'restart-when-unhealthy', 'WebDown', 'unhealthy')}`,
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig, '--max-concurrent-executions', '1000'],
    });
    // One alert alone, to learn how many reads of the deployment one enrichment makes.
    target.route('POST', '/restart/api/api-0', { status: 200 });
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([alert('ApiDown', 'api-0')]));
    assert.equal(r.body.results[0].event, 'SUCCESS', r.body.results[0].reason);
    per = fake.count('GET', DEPLOYMENT);
    assert.ok(per >= 1);
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
    await fake?.close();
  });

  it('the conditions hold: the two alerts that may run are enriched and checked, the other 38 rate limited without either', async () => {
    fake.clearRequests();
    const checks = target.calls('/healthy', 'GET');
    target.route('POST', '/restart/api/api', { status: 200 });
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook(Array.from({ length: 40 }, () => alert('ApiDown', 'api'))));
    assert.equal(r.status, 202);
    const events = r.body.results.map((x: any) => x.event);
    assert.equal(events.filter((e: string) => e === 'SUCCESS').length, 2);
    assert.equal(events.filter((e: string) => e === 'RATE_LIMITED').length, 38);
    assert.equal(target.calls('/healthy', 'GET') - checks, 2);
    assert.equal(enrichments(), 2);
    assert.equal(target.calls('/restart/api/api', 'POST'), 2, 'run with the value the enricher read');
  });

  it('the conditions do not hold: four checks, every alert enriched, and all ask a person with the plan the enricher filled, in one request', async () => {
    fake.clearRequests();
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook(Array.from({ length: 40 }, () => alert('WebDown', 'web'))));
    assert.equal(r.status, 202);
    assert.deepEqual([...new Set(r.body.results.map((x: any) => x.action))], ['approval_required']);
    assert.equal(target.calls('/unhealthy', 'GET'), 4 * 2, 'two prepared by the screen, two more once those did not run, each tried at 0 s and at its 1 s timeout');
    assert.equal(enrichments(), 40, 'the 36 left out of the checks are enriched for their plan');
    const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals.filter((a: any) => a.runbook === 'restart-when-unhealthy');
    assert.deepEqual(
      pending.map((a: any) => [a.alerts, a.actions]),
      [[40, [`POST ${target.url}/restart/api/web`]]],
    );
    const reasons = new Set(r.body.results.map((x: any) => x.reason.replace(/; the same plan .*$/, '')));
    assert.deepEqual([...reasons].sort(), [
      `risk MEDIUM: guardrail failed: http: GET ${target.url}/unhealthy: expected status 200, got 503 after 2 attempts`,
      'risk MEDIUM: its guardrail conditions were not checked in this alert storm (they were checked for the alerts before it, which did not all run): approval',
    ].sort());
    assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'DECISION_ERROR'"), 0);
  });

  it('alerts that give the enricher the same values share one read: 40 alerts for one deployment, one read of the cluster', async () => {
    fake.clearRequests();
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook(Array.from({ length: 40 }, () => alert('WebDown', 'web-same', true))));
    assert.equal(r.status, 202);
    assert.deepEqual([...new Set(r.body.results.map((x: any) => x.action))], ['approval_required']);
    assert.equal(enrichments(), 1, 'one read for the 4 alerts checked and the 36 left out');
    const pending = (await svc.get('/api/v1/approvals?status=pending')).body.approvals.filter((a: any) => a.service === 'web-same');
    assert.deepEqual(pending.map((a: any) => [a.alerts, a.actions]), [[40, [`POST ${target.url}/restart/api/web-same`]]]);
  });
});

describe('storm: MEDIUM guardrail checks in a dry run, and copies of one alert', { timeout: 60_000 }, () => {
  const runbook = (base: string) => `runbooks:\n${medium(base, 'restart-when-healthy', 'ApiDown', 'healthy')}`;

  it('--dry-run: nothing runs, so nothing is rate limited: every alert is checked and decided DRY_RUN', async () => {
    const target = await startHttpTarget();
    target.route('GET', '/healthy', { status: 200 });
    const svc = await startTestService({ runbooks: runbook(target.url), args: ['--dry-run'] });
    try {
      const r = await svc.post('/api/v1/webhooks/alertmanager', webhook(Array.from({ length: 10 }, () => alert('ApiDown', 'api'))));
      assert.equal(r.status, 202);
      assert.deepEqual([...new Set(r.body.results.map((x: any) => x.event))], ['DRY_RUN']);
      assert.equal(target.calls('/healthy', 'GET'), 10);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });

  it('a later copy of an alert in the same body takes no slot: the next alert is checked and runs instead', async () => {
    const target = await startHttpTarget();
    target.route('GET', '/healthy', { status: 200 });
    target.route('POST', '/restart/api', { status: 200 });
    const svc = await startTestService({ runbooks: runbook(target.url), args: ['--max-concurrent-executions', '1000'] });
    try {
      const x = alert('ApiDown', 'api');
      const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([x, x, x, alert('ApiDown', 'api'), alert('ApiDown', 'api')]));
      assert.equal(r.status, 202);
      assert.deepEqual(
        r.body.results.map((y: any) => y.action),
        ['executed', 'duplicate', 'duplicate', 'executed', 'blocked'],
      );
      assert.equal(r.body.results[4].event, 'RATE_LIMITED');
      assert.equal(target.calls('/healthy', 'GET'), 2, 'the two alerts that may run, once each');
      assert.equal(target.calls('/restart/api', 'POST'), 2);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

describe('storm: a runbook reload while a storm is being prepared', { timeout: 60_000 }, () => {
  it('the alerts matched again are screened again: only those that may still run are enriched again', async () => {
    const env = await startFakeEnv();
    env.fake.addDeployment(NS, 'api', 3);
    const target = await startHttpTarget();
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig, '--max-concurrent-executions', '1000'],
    });
    try {
      // One enrichment, to learn how many reads of the deployment it makes.
      target.route('POST', '/restart/api/web-x', { status: 200 });
      await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([alert('WebDown', 'web-x')]));
      const per = env.fake.count('GET', DEPLOYMENT);
      env.fake.clearRequests();

      // 40 alerts for one service, max_per_hour 2: the screen enriches 2, slowly; the
      // runbook changes (another action path) while they wait.
      target.route('POST', '/restart-v2/api/api', { status: 200 });
      // Held until the test releases them, after the reload: not a delay a slow machine could outrun.
      env.fake.injectDelay('GET', DEPLOYMENT, 60_000, 2);
      const answer = svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook(Array.from({ length: 40 }, () => alert('ApiDown', 'api'))));
      for (let i = 0; i < 2_000 && env.fake.count('GET', DEPLOYMENT) === 0; i++) await new Promise((r) => setTimeout(r, 5));
      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url).replace('/restart/{workload}/{service}", expect_status: [200, 299], timeout_seconds: 10}\n  restart-web', '/restart-v2/{workload}/{service}", expect_status: [200, 299], timeout_seconds: 10}\n  restart-web'));
      const reloaded = (await svc.service.reload()).runbooks;
      env.fake.releaseDelays();
      assert.deepEqual(reloaded, { ok: true, count: 2, added: [], removed: [], changed: ['restart-api'], reordered: false });
      const r = await answer;
      assert.equal(r.status, 202);
      const events = r.body.results.map((x: any) => x.event);
      assert.equal(events.filter((e: string) => e === 'SUCCESS').length, 2);
      assert.equal(events.filter((e: string) => e === 'RATE_LIMITED').length, 38);
      // Two enrichments before the reload; the two alerts prepared again after it reuse
      // their reads of this request (the enricher is given the same values): not forty.
      assert.equal(env.fake.count('GET', DEPLOYMENT) / per, 2);
      assert.equal(target.calls('/restart-v2/api/api', 'POST'), 2, 'run with the new runbook');
      assert.equal(target.calls('/restart/api/api', 'POST'), 0);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
      await env.fake.close();
    }
  });
});

describe('storm: alerts waiting for their I/O are bounded', { timeout: 60_000 }, () => {
  let fake: KubeFake;
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    const env = await startFakeEnv();
    fake = env.fake;
    fake.addDeployment(NS, 'api', 3);
    target = await startHttpTarget();
    svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig, '--max-pending', '3', '--max-concurrent-executions', '1000'],
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
    await fake?.close();
  });

  it('a body that would queue past --max-pending behind others is refused whole with 503, before any call; one alone past it is prepared', async () => {
    // Slow reads: the first body's 40 enrichments run 32 at once and 8 wait (more than 3).
    fake.injectDelay('GET', DEPLOYMENT, 1_000, 10_000);
    for (let i = 0; i < 40; i++) target.route('POST', `/restart/api/web-a${i}`, { status: 200 });
    const alone = svc.post('/api/v1/webhooks/alertmanager', webhook(Array.from({ length: 40 }, (_, i) => alert('WebDown', `web-a${i}`))));
    for (let i = 0; i < 2_000 && fake.count('GET', DEPLOYMENT) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const r = await svc.post('/api/v1/webhooks/alertmanager', webhook(Array.from({ length: 5 }, (_, i) => alert('WebDown', `web-o${i}`))));
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'OVERLOADED');
    // The backlog is the Kubernetes reads and Prometheus queries of alerts being prepared, not the disk.
    assert.equal(
      r.body.error.message,
      'more than 3 decisions would be waiting to be prepared (Kubernetes reads, Prometheus guardrail queries; --max-pending 3): 8 wait now and this request brings 5; nothing of this request was recorded: send it again shortly (Alertmanager retries by itself), or raise --max-pending',
    );
    fake.releaseDelays();
    // Alone past the bound (nothing waited when it came), it is prepared and decided: refused, it would be refused at every retry.
    const ok = await alone;
    assert.equal(ok.status, 202);
    assert.equal(ok.body.results.filter((x: any) => x.action === 'executed').length, 40);
    assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM incidents WHERE service LIKE 'web-o%'"), 0);
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 40);
  });
});

describe('storm: a body alone bigger than --max-pending', { timeout: 60_000 }, () => {
  it('140 MEDIUM alerts for 140 services with --max-pending 100: checked and decided at the first delivery', async () => {
    const target = await startHttpTarget();
    target.route('GET', '/healthy', { status: 200 });
    for (let i = 0; i < 140; i++) target.route('POST', `/restart/svc${i}`, { status: 200 });
    const svc = await startTestService({
      runbooks: `runbooks:
  rm:
    risk: MEDIUM
    triggers: [ApiDown]
    max_per_hour: 2
    blast_radius_limit: 1000
    guardrails:
      - http: {url: "${target.url}/healthy", timeout_seconds: 1}
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
`,
      args: ['--max-pending', '100', '--max-concurrent-executions', '1000'],
    });
    try {
      const alerts = Array.from({ length: 140 }, (_, i) => ({ labels: { alertname: 'ApiDown', service: `svc${i}` }, fingerprint: `f${i}` }));
      const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook(alerts));
      assert.equal(r.status, 202);
      assert.deepEqual(
        r.body.results.map((x: any) => `${x.action} ${x.event}`),
        alerts.map(() => 'executed SUCCESS'),
      );
      // Each alert's conditions were checked (none ran unchecked).
      assert.equal(target.calls('/healthy', 'GET'), 140);
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 140);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

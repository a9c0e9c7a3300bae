import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { countRows } from '../storm/helpers.js';

const fixture = (p: string) => JSON.parse(readFileSync(new URL(`../fixtures/payloads/${p.split("/").pop()}`, import.meta.url), 'utf8'));

describe('intake', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    for (const pod of ['api-server-7d4b9c6f8-x2x7q', 'api-server-7d4b9c6f8-9kq2m']) target.route('POST', `/evict/production/${pod}`, { status: 200 });
    target.route('POST', '/scale/worker', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  restart-pod:
    risk: LOW
    triggers: [CrashLoopBackOff]
    match: ['namespace=~"prod.*"']
    min_confidence: 0.8
    max_per_hour: 10
    cooldown_minutes: 0
    blast_radius_limit: 5
    action:
      http: {method: POST, url: "${target.url}/evict/{namespace}/{pod}"}
  any-confidence:
    risk: LOW
    triggers: [AnyConfidence]
    min_confidence: 0
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/any/{service}"}
  scale-up:
    risk: LOW
    triggers: [high_cpu]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/scale/{service}"}
  failover:
    risk: HIGH
    triggers: [primary_down]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/failover/{service}"}
`,
      args: ['--max-concurrent-executions', '50', '--body-limit', '64KiB'],
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('the Alertmanager sample: one incident per alert, root cause from reason, service label, context = labels', async () => {
    const res = await svc.post('/api/v1/webhooks/alertmanager?wait=true', fixture('alertmanager/crashloop-firing.json'));
    assert.equal(res.status, 202);
    assert.equal(res.body.results.length, 2);
    for (const r of res.body.results) {
      assert.equal(r.action, 'executed');
      assert.equal(r.runbook, 'restart-pod');
      assert.equal(r.success, true);
    }
    assert.equal(target.calls('/evict/production/api-server-7d4b9c6f8-x2x7q', 'POST'), 1);
    assert.equal(target.calls('/evict/production/api-server-7d4b9c6f8-9kq2m', 'POST'), 1);
    const view = await svc.get(`/api/v1/incidents/${res.body.results[0].incident_id}`);
    assert.equal(view.body.incident.root_cause, 'CrashLoopBackOff');
    assert.equal(view.body.incident.service, 'api-server');
    assert.equal(view.body.incident.confidence, 1);
    assert.deepEqual(view.body.incident.symptoms, ['KubePodCrashLooping']);
    assert.equal(view.body.incident.context.pod, 'api-server-7d4b9c6f8-x2x7q');
  });

  it('re-deliveries (HA pairs, retries) answer duplicate and run nothing again', async () => {
    const body = fixture('alertmanager/crashloop-firing.json');
    const first = await svc.post('/api/v1/webhooks/alertmanager', body);
    assert.deepEqual(first.body.results.map((r: any) => r.action), ['duplicate', 'duplicate']);
    // Its run ended (the first delivery waited for it): the answer says how.
    assert.equal(first.body.results[0].reason, `already decided: executed (EXECUTING); its run ${first.body.results[0].execution_id} succeeded`);
    assert.equal(target.calls('/evict/production/api-server-7d4b9c6f8-x2x7q', 'POST'), 1);
    const dupAudit = await svc.get('/api/v1/audit?event=DUPLICATE');
    assert.equal(dupAudit.body.events.length, 2);
    // The same alert inside one body twice: the second copy is a duplicate of the first.
    const twice = amWebhook([
      { labels: { alertname: 'X', reason: 'CrashLoopBackOff', namespace: 'dev', pod: 'p1', service: 's' }, fingerprint: '1111111111111111' },
      { labels: { alertname: 'X', reason: 'CrashLoopBackOff', namespace: 'dev', pod: 'p1', service: 's' }, fingerprint: '1111111111111111' },
    ]);
    const r = await svc.post('/api/v1/webhooks/alertmanager', twice);
    assert.deepEqual(r.body.results.map((x: any) => x.action), ['manual', 'duplicate']);
  });

  it('with ?wait=true the second copy of an alert in one body answers duplicate, not its first copy\'s run outcome', async () => {
    target.route('POST', '/scale/dup-wait', { status: 200 });
    const copy = { labels: { alertname: 'high_cpu', service: 'dup-wait' }, fingerprint: 'dupwait000000001' };
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([copy, copy]));
    const [first, second] = r.body.results;
    assert.deepEqual([first.action, first.event, first.success, first.rolled_back], ['executed', 'SUCCESS', true, false]);
    assert.deepEqual(second, {
      incident_id: first.incident_id,
      action: 'duplicate',
      runbook: 'scale-up',
      reason: 'already decided: executed (EXECUTING)',
      event: 'DUPLICATE',
      approval_id: null,
      execution_id: first.execution_id,
    });
    assert.equal(target.calls('/scale/dup-wait', 'POST'), 1);
  });

  it('a firing delivery decided after its own resolve acts on nothing; the next occurrence does', async () => {
    target.route('POST', '/evict/production/late-pod', { status: 200 });
    const labels = { alertname: 'PodCrash', reason: 'CrashLoopBackOff', namespace: 'production', pod: 'late-pod', service: 'late' };
    const occurrence = { labels, fingerprint: 'late0000000000ff', startsAt: '2026-11-24T02:00:00.000Z' };
    const resolved = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ ...occurrence, status: 'resolved' }]));
    assert.equal(resolved.body.results[0].action, 'resolved');
    const late = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([occurrence]));
    assert.deepEqual([late.body.results[0].action, late.body.results[0].event, late.body.results[0].runbook], ['resolved', 'RESOLVED', 'restart-pod']);
    assert.match(late.body.results[0].reason, /^the alert was resolved \(inc_\w+\) before this firing delivery was decided: nothing to fix$/);
    assert.equal(late.body.results[0].execution_id, null);
    assert.equal(target.calls('/evict/production/late-pod', 'POST'), 0);
    const again = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([occurrence]));
    assert.equal(again.body.results[0].action, 'duplicate');
    // The alert fires again later: a new occurrence, decided as usual.
    const next = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ ...occurrence, startsAt: '2026-11-24T03:00:00.000Z' }]));
    assert.equal(next.body.results[0].action, 'executed');
    assert.equal(target.calls('/evict/production/late-pod', 'POST'), 1);
  });

  it('match: matchers narrow a trigger (namespace dev does not match prod.*)', async () => {
    const r = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'KubePodCrashLooping', reason: 'CrashLoopBackOff', namespace: 'dev', pod: 'p', service: 's' }, fingerprint: '2222222222222222' }]));
    assert.equal(r.body.results[0].action, 'manual');
    assert.equal(r.body.results[0].event, 'NO_RUNBOOK');
  });

  it('confidence from a label or annotation; one that cannot be read leaves that alert to a person, the rest of the webhook is decided', async () => {
    const low = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'K', reason: 'CrashLoopBackOff', namespace: 'prod', pod: 'p2', service: 's' }, annotations: { confidence: '0.5' }, fingerprint: '3333333333333333' }]));
    assert.equal(low.body.results[0].event, 'LOW_CONFIDENCE');
    target.route('POST', '/evict/production/ok-pod', { status: 200 });
    target.route('POST', '/any/anysvc', { status: 200 });
    const crash = (pod: string, extra: Record<string, string> = {}) => ({ alertname: 'K', reason: 'CrashLoopBackOff', namespace: 'production', pod, service: pod, ...extra });
    const long = `0.9\n${'x'.repeat(200)}`;
    const body = amWebhook([
      { labels: crash('bad-label', { confidence: 'very' }), fingerprint: 'c0nf000000000001' },
      { labels: crash('ok-pod'), fingerprint: 'c0nf000000000002' },
      // Number() reads these as 1.0: only a plain decimal number is a confidence.
      { labels: crash('hex-pod'), annotations: { confidence: '0x1' }, fingerprint: 'c0nf000000000003' },
      { labels: crash('exp-pod', { confidence: '1e0' }), fingerprint: 'c0nf000000000004' },
      { labels: crash('long-pod', { confidence: long }), fingerprint: 'c0nf000000000005' },
      // min_confidence 0 lets any readable confidence through, never an unreadable one.
      { labels: { alertname: 'AnyConfidence', service: 'anysvc', confidence: 'abc' }, fingerprint: 'c0nf000000000006' },
      { labels: { alertname: 'AnyConfidence', service: 'anysvc', confidence: '.0' }, fingerprint: 'c0nf000000000007' },
    ]);
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', body);
    assert.equal(r.status, 202);
    const unreadable = (field: string, shown: string) => `Confidence unreadable: ${field} is ${shown}, not a decimal number from 0 to 1`;
    assert.deepEqual(
      r.body.results.map((x: any) => [x.action, x.event, x.runbook, x.reason, x.execution_id === null]),
      [
        ['manual', 'LOW_CONFIDENCE', 'restart-pod', unreadable('labels.confidence', '"very"'), true],
        ['executed', 'SUCCESS', 'restart-pod', 'risk LOW: guardrails passed', false],
        ['manual', 'LOW_CONFIDENCE', 'restart-pod', unreadable('annotations.confidence', '"0x1"'), true],
        ['manual', 'LOW_CONFIDENCE', 'restart-pod', unreadable('labels.confidence', '"1e0"'), true],
        ['manual', 'LOW_CONFIDENCE', 'restart-pod', unreadable('labels.confidence', `"0.9\\n${'x'.repeat(60)}…"`), true],
        ['manual', 'LOW_CONFIDENCE', 'any-confidence', unreadable('labels.confidence', '"abc"'), true],
        ['executed', 'SUCCESS', 'any-confidence', 'risk LOW: guardrails passed', false],
      ],
    );
    assert.equal(target.calls('/evict/production/ok-pod', 'POST'), 1);
    assert.equal(target.calls('/any/anysvc', 'POST'), 1);
    for (const pod of ['bad-label', 'hex-pod', 'exp-pod', 'long-pod']) assert.equal(target.calls(`/evict/production/${pod}`, 'POST'), 0);
    // Audited like any decision, and kept: a re-delivery is a duplicate.
    const audit = (await svc.get(`/api/v1/audit?incident_id=${r.body.results[0].incident_id}`)).body.events;
    assert.deepEqual(audit.map((e: any) => [e.event, e.details.reason]), [['LOW_CONFIDENCE', unreadable('labels.confidence', '"very"')]]);
    const view = await svc.get(`/api/v1/incidents/${r.body.results[0].incident_id}`);
    assert.equal(view.body.incident.confidence, 0);
    const again = await svc.post('/api/v1/webhooks/alertmanager', body);
    assert.deepEqual(again.body.results.map((x: any) => x.action), Array(7).fill('duplicate'));
  });

  it('an empty confidence label is no label (the annotation is read); an empty or blank annotation cannot be read', async () => {
    for (const pod of ['e-label-ann', 'e-ann', 'e-label', 'b-ann', 'e-both']) target.route('POST', `/evict/production/${pod}`, { status: 200 });
    const crash = (pod: string, extra: Record<string, string> = {}) => ({ alertname: 'K', reason: 'CrashLoopBackOff', namespace: 'production', pod, service: pod, ...extra });
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager?wait=true',
      amWebhook([
        { labels: crash('e-label-ann', { confidence: '' }), annotations: { confidence: '0.1' }, fingerprint: 'e0c0000000000001' },
        { labels: crash('e-ann'), annotations: { confidence: '' }, fingerprint: 'e0c0000000000002' },
        { labels: crash('e-label', { confidence: '' }), fingerprint: 'e0c0000000000003' },
        { labels: crash('b-ann'), annotations: { confidence: '  ' }, fingerprint: 'e0c0000000000004' },
        { labels: crash('e-both', { confidence: '' }), annotations: { confidence: '' }, fingerprint: 'e0c0000000000005' },
      ]),
    );
    assert.equal(r.status, 202);
    const unreadable = (field: string, shown: string) => `Confidence unreadable: ${field} is ${shown}, not a decimal number from 0 to 1`;
    assert.deepEqual(
      r.body.results.map((x: any) => [x.action, x.event, x.reason]),
      [
        ['manual', 'LOW_CONFIDENCE', 'Confidence 0.1 < 0.8'],
        ['manual', 'LOW_CONFIDENCE', unreadable('annotations.confidence', '""')],
        // Neither: absent, 1.0 as the README says.
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['manual', 'LOW_CONFIDENCE', unreadable('annotations.confidence', '"  "')],
        ['manual', 'LOW_CONFIDENCE', unreadable('annotations.confidence', '""')],
      ],
    );
    assert.deepEqual(
      ['e-label-ann', 'e-ann', 'e-label', 'b-ann', 'e-both'].map((pod) => target.calls(`/evict/production/${pod}`, 'POST')),
      [0, 0, 1, 0, 0],
    );
    const views = await Promise.all(r.body.results.map((x: any) => svc.get(`/api/v1/incidents/${x.incident_id}`)));
    assert.deepEqual(views.map((v: any) => v.body.incident.confidence), [0.1, 0, 1, 0, 0]);
  });

  it('an alert with no alertname, reason or root_cause label is left to a person (NO_RUNBOOK) and the rest of its body is decided; its resolve needs none', async () => {
    target.route('POST', '/scale/nrc-web', { status: 200 });
    const reason = 'No matching runbook: the alert has no alertname, reason or root_cause label, so nothing can match it; nothing was run (give the alert an alertname)';
    const alerts: Array<{ labels: Record<string, string>; fingerprint: string }> = [
      { labels: { alertname: 'high_cpu', service: 'nrc-web' }, fingerprint: 'nrc0000000000001' },
      { labels: { alertname: '', service: 'nrc-other', severity: 'warning' }, fingerprint: 'nrc0000000000002' },
      { labels: { service: 'nrc-third', severity: 'page' }, fingerprint: 'nrc0000000000003' },
    ];
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook(alerts));
    assert.equal(r.status, 202);
    assert.deepEqual(
      r.body.results.map((x: any) => [x.action, x.event, x.runbook, x.reason]),
      [
        ['executed', 'SUCCESS', 'scale-up', 'risk LOW: guardrails passed'],
        ['manual', 'NO_RUNBOOK', null, reason],
        ['manual', 'NO_RUNBOOK', null, reason],
      ],
    );
    assert.equal(target.calls('/scale/nrc-web', 'POST'), 1);
    const odd = (await svc.get(`/api/v1/incidents/${r.body.results[2].incident_id}`)).body.incident;
    assert.deepEqual([odd.root_cause, odd.service, odd.status], ['', 'nrc-third', 'firing']);
    // Its resolve, with no root cause either, resolves it.
    const resolved = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ ...alerts[2]!, status: 'resolved' }]));
    assert.equal(resolved.status, 202);
    assert.deepEqual(resolved.body.results.map((x: any) => [x.action, x.event]), [['resolved', 'RESOLVED']]);
  });

  // Regression: only the exact key `confidence` was read; `Confidence: "0.1"` or an annotation
  // `confidence_score: "0.1"` was read as absent, 1.0, and the runbook acted.
  it('a confidence label or annotation under another spelling of the key is not read: the alert is left to a person (LOW_CONFIDENCE naming the key), never decided at 1.0', async () => {
    const pods = ['lk-case', 'lk-upper', 'lk-score', 'lk-ann', 'lk-both', 'lk-exact', 'lk-level'];
    for (const pod of pods) target.route('POST', `/evict/production/${pod}`, { status: 200 });
    const crash = (pod: string, extra: Record<string, string> = {}) => ({ alertname: 'K', reason: 'CrashLoopBackOff', namespace: 'production', pod, service: pod, ...extra });
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager?wait=true',
      amWebhook([
        { labels: crash('lk-case', { Confidence: '0.1' }), fingerprint: 'c0a1000000000001' },
        { labels: crash('lk-upper', { CONFIDENCE: '0.95' }), fingerprint: 'c0a1000000000002' },
        { labels: crash('lk-score', { 'confidence-score': '0.1' }), fingerprint: 'c0a1000000000003' },
        { labels: crash('lk-ann'), annotations: { confidence_score: '0.1' }, fingerprint: 'c0a1000000000004' },
        // Beside the key that is read, another spelling is still not read: the alert is not decided on either.
        { labels: crash('lk-both', { confidence: '0.9' }), annotations: { ConfidenceScore: '0.1' }, fingerprint: 'c0a1000000000005' },
        { labels: crash('lk-exact'), annotations: { confidence: '0.9' }, fingerprint: 'c0a1000000000006' },
        // Another word altogether is another label, ignored as any is.
        { labels: crash('lk-level', { confidence_level: 'high' }), fingerprint: 'c0a1000000000007' },
      ]),
    );
    assert.equal(r.status, 202);
    const notRead = (field: string, shown: string) => `Confidence unreadable: ${field} is ${shown}, a key rectify does not read (only "confidence", a label or else an annotation)`;
    assert.deepEqual(
      r.body.results.map((x: any) => [x.action, x.event, x.reason]),
      [
        ['manual', 'LOW_CONFIDENCE', notRead('labels.Confidence', '"0.1"')],
        ['manual', 'LOW_CONFIDENCE', notRead('labels.CONFIDENCE', '"0.95"')],
        ['manual', 'LOW_CONFIDENCE', notRead('labels.confidence-score', '"0.1"')],
        ['manual', 'LOW_CONFIDENCE', notRead('annotations.confidence_score', '"0.1"')],
        ['manual', 'LOW_CONFIDENCE', 'Confidence unreadable: annotations.ConfidenceScore is "0.1", but labels.confidence is "0.9": two different confidences'],
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
      ],
    );
    assert.deepEqual(pods.map((pod) => target.calls(`/evict/production/${pod}`, 'POST')), [0, 0, 0, 0, 0, 1, 1]);
    const views = await Promise.all(r.body.results.map((x: any) => svc.get(`/api/v1/incidents/${x.incident_id}`)));
    assert.deepEqual(views.map((v: any) => v.body.incident.confidence), [0, 0, 0, 0, 0, 0.9, 1]);
  });

  // Regression: beside a readable `confidence`, another spelling holding the same number
  // (`confidence: "0.95"`, `confidence_score: "0.95"`) made the alert LOW_CONFIDENCE.
  it('beside a readable confidence, another spelling of the key that holds the same number is passed over; one holding another (or none) leaves the alert to a person', async () => {
    const pods = ['ag-ann', 'ag-text', 'ag-low', 'ag-annconf', 'df-ann', 'df-word', 'df-second'];
    for (const pod of pods) target.route('POST', `/evict/production/${pod}`, { status: 200 });
    const crash = (pod: string, extra: Record<string, string> = {}) => ({ alertname: 'K', reason: 'CrashLoopBackOff', namespace: 'production', pod, service: pod, ...extra });
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager?wait=true',
      amWebhook([
        { labels: crash('ag-ann', { confidence: '0.95' }), annotations: { confidence_score: '0.95' }, fingerprint: 'a9e0000000000001' },
        { labels: crash('ag-text', { confidence: '0.9', Confidence: '0.90' }), fingerprint: 'a9e0000000000002' },
        { labels: crash('ag-low', { confidence: '0.5' }), annotations: { confidence_score: '.5' }, fingerprint: 'a9e0000000000003' },
        { labels: crash('ag-annconf', { CONFIDENCE: '0.9' }), annotations: { confidence: '0.9' }, fingerprint: 'a9e0000000000004' },
        { labels: crash('df-ann', { confidence: '0.95' }), annotations: { confidence_score: '0.1' }, fingerprint: 'a9e0000000000005' },
        { labels: crash('df-word', { confidence: '0.95' }), annotations: { confidence_score: 'high' }, fingerprint: 'a9e0000000000006' },
        // One agreeing look-alike does not hide a second that disagrees.
        { labels: crash('df-second', { confidence: '0.95', Confidence: '0.95' }), annotations: { confidenceScore: '0.2' }, fingerprint: 'a9e0000000000007' },
      ]),
    );
    assert.equal(r.status, 202);
    const differs = (field: string, shown: string, read: string) => `Confidence unreadable: ${field} is ${shown}, but ${read}: two different confidences`;
    assert.deepEqual(
      r.body.results.map((x: any) => [x.action, x.event, x.reason]),
      [
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['manual', 'LOW_CONFIDENCE', 'Confidence 0.5 < 0.8'],
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['manual', 'LOW_CONFIDENCE', differs('annotations.confidence_score', '"0.1"', 'labels.confidence is "0.95"')],
        ['manual', 'LOW_CONFIDENCE', differs('annotations.confidence_score', '"high"', 'labels.confidence is "0.95"')],
        ['manual', 'LOW_CONFIDENCE', differs('annotations.confidenceScore', '"0.2"', 'labels.confidence is "0.95"')],
      ],
    );
    assert.deepEqual(pods.map((pod) => target.calls(`/evict/production/${pod}`, 'POST')), [1, 1, 0, 1, 0, 0, 0]);
    const views = await Promise.all(r.body.results.map((x: any) => svc.get(`/api/v1/incidents/${x.incident_id}`)));
    assert.deepEqual(views.map((v: any) => v.body.incident.confidence), [0.95, 0.9, 0.5, 0.9, 0, 0, 0]);
  });

  it('plain decimal confidences are read as they are', async () => {
    const at = (confidence: string, i: number) => ({ labels: { alertname: 'K', reason: 'CrashLoopBackOff', namespace: 'prod', pod: `dec${i}`, service: `dec${i}`, confidence }, fingerprint: `dec0${i}`.padEnd(16, '0') });
    for (const pod of ['dec0', 'dec1', 'dec2']) target.route('POST', `/evict/prod/${pod}`, { status: 200 });
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([at('0.8', 0), at('1', 1), at(' 1.0 ', 2), at('.5', 3), at('0.79', 4)]));
    assert.deepEqual(
      r.body.results.map((x: any) => [x.action, x.event, x.reason]),
      [
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['executed', 'SUCCESS', 'risk LOW: guardrails passed'],
        ['manual', 'LOW_CONFIDENCE', 'Confidence 0.5 < 0.8'],
        ['manual', 'LOW_CONFIDENCE', 'Confidence 0.79 < 0.8'],
      ],
    );
  });

  it('POST /api/v1/incidents still refuses a confidence that is not a number from 0 to 1 (400 naming the field), and stores nothing', async () => {
    const before = (await svc.get('/api/v1/audit?limit=1000')).body.events.length;
    for (const confidence of ['0x1', 'abc', 1.5]) {
      const bad = await svc.post('/api/v1/incidents', { id: `BADCONF${String(confidence).replace(/\W/g, '')}`, root_cause: 'CrashLoopBackOff', service: 's', confidence });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
      assert.deepEqual(bad.body.error.details.map((d: any) => d.path), ['body.confidence']);
    }
    assert.equal((await svc.get('/api/v1/audit?limit=1000')).body.events.length, before, 'a refused request changes nothing');
  });

  // Regression: only the top-level confidence is read; one given in context or labels was
  // ignored, the incident decided at 1.0, and the runbook acted.
  it('POST /api/v1/incidents: a confidence in context or labels without the top-level one, or other than it, is a 400 naming it, and stores nothing', async () => {
    const rows = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = rows();
    target.route('POST', '/scale/conf-web', { status: 200 });
    const notRead = `not read: an incident's confidence is the top-level "confidence" (1.0 when absent, as it is here); give it there`;
    const differs = (c: number) => `differs from confidence ${c}: an incident has one confidence, the top-level "confidence"; give it once (or the same in both)`;
    const cases: Array<[Record<string, unknown>, Array<[string, string]>]> = [
      [{ labels: { confidence: '0.1' } }, [['body.labels.confidence', notRead]]],
      [{ context: { confidence: 0.1 } }, [['body.context.confidence', notRead]]],
      [{ context: { Confidence_Score: '0.1' } }, [['body.context.Confidence_Score', notRead]]],
      [{ labels: { confidence: '1' } }, [['body.labels.confidence', notRead]]],
      [{ confidence: 0.9, labels: { confidence: '0.1' } }, [['body.labels.confidence', differs(0.9)]]],
      [{ confidence: 0.9, context: { confidence: 'high' } }, [['body.context.confidence', differs(0.9)]]],
      [{ confidence: 0.9, context: { confidenceScore: true } }, [['body.context.confidenceScore', differs(0.9)]]],
    ];
    for (const [extra, details] of cases) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'high_cpu', service: 'conf-web', ...extra });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.equal(r.body.error.code, 'VALIDATION_FAILED');
      assert.deepEqual(r.body.error.details.map((d: any) => [d.path, d.message]), details, JSON.stringify(extra));
    }
    assert.equal(rows(), before, 'nothing stored');
    assert.equal(target.calls('/scale/conf-web', 'POST'), 0, 'nothing ran');
    // The same confidence in both (as a number or a plain decimal) is one confidence; other keys are other values.
    const same = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'high_cpu', service: 'conf-web', confidence: 0.9, context: { confidence: 0.9 }, labels: { confidence: '0.90', confidence_level: 'high' } });
    assert.deepEqual([same.status, same.body.action], [202, 'executed']);
  });

  // Regression: a resolve without an id was given a new one, resolved nothing, and answered "alert resolved".
  it('POST /api/v1/incidents: a resolve without an id is a 400 naming body.id, and stores nothing', async () => {
    const rows = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = rows();
    const r = await svc.post('/api/v1/incidents', { root_cause: 'primary_down', service: 'db-noid', status: 'resolved' });
    const message = 'required when status is resolved: a resolve names the incident it resolves by its id';
    assert.deepEqual(
      { status: r.status, body: r.body },
      { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: body.id: ${message}`, details: [{ path: 'body.id', message }] } } },
    );
    assert.equal(rows(), before, 'nothing stored');
  });

  it('missing required fields are a 400 with the field paths; unknown fields are ignored', async () => {
    const noAlerts = await svc.post('/api/v1/webhooks/alertmanager', { version: '4' });
    assert.equal(noAlerts.status, 400);
    assert.equal(noAlerts.body.error.details[0].path, 'body.alerts');
    const noLabels = await svc.post('/api/v1/webhooks/alertmanager', { alerts: [{ status: 'firing' }] });
    assert.equal(noLabels.status, 400);
    assert.equal(noLabels.body.error.details[0].path, 'body.alerts.0.labels');
    // A key that is not plain is written quoted with escapes, as `rectify replay` names it: raw, `a.b` reads as two keys.
    const dotted = await svc.post('/api/v1/webhooks/alertmanager', { alerts: [{ status: 'firing', labels: { alertname: 'X', 'app.kubernetes.io/name': 5, 'a\nb': 6 } }] });
    assert.equal(dotted.status, 400);
    assert.deepEqual(
      dotted.body.error.details.map((d: { path: string }) => d.path),
      ['body.alerts.0.labels["app.kubernetes.io/name"]', 'body.alerts.0.labels["a\\nb"]'],
    );
    const inc = await svc.post('/api/v1/incidents', { root_cause: 'x' });
    assert.equal(inc.status, 400);
    assert.equal(inc.body.error.details[0].path, 'body.service');
    const extra = await svc.post('/api/v1/incidents', { root_cause: 'nothing', service: 'a', surprise: { deep: true } });
    assert.equal(extra.status, 202);
    assert.equal(extra.body.action, 'manual');
  });

  it('a misspelt confidence or status (or a known key in another case) is a 400 naming it: read as absent, its default would let a runbook act', async () => {
    const rows = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = rows();
    const auditBefore = svc.service.store.auditHighWater();
    const callsBefore = target.calls('/scale/web', 'POST');
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ confidnce: 0.1 }, 'confidnce', 'confidence'],
      [{ Confidence: 0.1 }, 'Confidence', 'confidence'],
      [{ confidence_score: 0.1 }, 'confidence_score', 'confidence'],
      [{ state: 'resolved' }, 'state', 'status'],
      [{ stauts: 'resolved' }, 'stauts', 'status'],
      [{ Service: 'api' }, 'Service', 'service'],
    ];
    for (const [extra, key, known] of cases) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'high_cpu', service: 'web', ...extra });
      const message = `unknown key (did you mean "${known}"?): it would be ignored, and the incident decided without it`;
      assert.deepEqual(
        { status: r.status, body: r.body },
        { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: body.${key}: ${message}`, details: [{ path: `body.${key}`, message }] } } },
        key,
      );
    }
    // A slip for a required key is named beside the missing key it stands for.
    const slipped = await svc.post('/api/v1/incidents?wait=true', { rootCause: 'high_cpu', service: 'web' });
    assert.equal(slipped.status, 400);
    assert.deepEqual(
      slipped.body.error.details.map((d: { path: string; message: string }) => [d.path, d.message]).sort(),
      [
        ['body.rootCause', 'unknown key (did you mean "root_cause"?): it would be ignored, and the incident decided without it'],
        ['body.root_cause', 'Invalid input: expected string, received undefined'],
      ],
    );
    assert.equal(target.calls('/scale/web', 'POST'), callsBefore, 'nothing ran');
    assert.equal(rows(), before, 'nothing stored');
    // One audit row per route and reason a minute at most (INTAKE_REFUSED); no decision.
    const audit = (await svc.get('/api/v1/audit?limit=1000')).body.events.filter((e: { seq: number }) => e.seq > auditBefore);
    assert.deepEqual([...new Set(audit.map((e: { event: string }) => e.event))].filter((e) => e !== 'INTAKE_REFUSED'), []);

    // Other unknown keys are extensions, ignored as before (the seed's incidents carry `expected`).
    const ok = await svc.post('/api/v1/incidents', { root_cause: 'nothing-matches', service: 'web', title: 't', severity: 'critical', expected: { action: 'manual' }, ts: 1 });
    assert.deepEqual([ok.status, ok.body.action], [202, 'manual']);
  });

  it('a label map or context of more than 1,000 entries is a 400 naming it, and stores nothing; 1,000 are taken', async () => {
    const map = (n: number, prefix: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));
    const rows = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = rows();
    const cases: Array<[string, unknown, string]> = [
      ['/api/v1/incidents', { root_cause: 'nothing', service: 'a', context: map(1_001, 'k') }, 'body.context'],
      ['/api/v1/incidents', { root_cause: 'nothing', service: 'a', labels: map(1_001, 'k') }, 'body.labels'],
      ['/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'Nothing', service: 'a', ...map(1_000, 'k') }, fingerprint: 'b16b16b16b16b16b' }]), 'body.alerts.0.labels'],
      ['/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'Nothing', service: 'a' }, annotations: map(1_001, 'a'), fingerprint: 'b17b17b17b17b17b' }]), 'body.alerts.0.annotations'],
    ];
    for (const [url, body, path] of cases) {
      const r = await svc.post(url, body);
      assert.equal(r.status, 400, path);
      assert.deepEqual(r.body.error.details.map((d: { path: string; message: string }) => [d.path, d.message]), [[path, 'at most 1000 entries']], path);
    }
    assert.equal(rows(), before, 'nothing stored');
    const most = await svc.post('/api/v1/incidents', { root_cause: 'nothing', service: 'a', context: map(1_000, 'k') });
    assert.equal(most.status, 202);
  });

  it('more than 100 services (or symptoms) is a 400 naming the field, and stores nothing; 100 are taken', async () => {
    const rows = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = rows();
    const many = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);
    for (const field of ['services', 'symptoms']) {
      const r = await svc.post('/api/v1/incidents', { root_cause: 'nothing', service: 's0', [field]: many(101) });
      assert.equal(r.status, 400, field);
      assert.deepEqual(r.body.error.details, [{ path: `body.${field}`, message: 'Too big: expected array to have <=100 items' }], field);
    }
    assert.equal(rows(), before, 'nothing stored');
    const most = await svc.post('/api/v1/incidents', { root_cause: 'nothing', service: 's0', services: many(100), symptoms: many(100) });
    assert.equal(most.status, 202);
  });

  it('an alert without a service label is still decided, so its group is not lost', async () => {
    // Alertmanager does not retry a 4xx: refusing one alert would drop its whole group.
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager',
      amWebhook([
        { labels: { alertname: 'CPUThrottlingHigh', namespace: 'prod', pod: 'api-1', container: 'api' } },
        { labels: { alertname: 'Watchdog' } },
        { labels: { alertname: 'HighLatency', service: 'checkout' } },
      ]),
    );
    assert.equal(r.status, 202);
    assert.deepEqual(r.body.results.map((x: any) => x.action), ['manual', 'manual', 'manual']);
    const services = [];
    for (const x of r.body.results) services.push((await svc.get(`/api/v1/incidents/${x.incident_id}`)).body.incident.service);
    assert.deepEqual(services, ['api', 'unknown', 'checkout']);
  });

  it('a blank service is refused on POST /api/v1/incidents (400 naming the field); a blank service label is passed over as a missing one is; a blank PagerDuty service summary is refused as a missing one is', async () => {
    for (const [body, path] of [
      [{ root_cause: 'x', service: '' }, 'body.service'],
      [{ root_cause: 'x', service: '  ' }, 'body.service'],
      [{ root_cause: 'x', services: ['web', '\t'] }, 'body.services.1'],
    ] as const) {
      const r = await svc.post('/api/v1/incidents', body);
      assert.deepEqual([r.status, r.body.error.details], [400, [{ path, message: 'blank: give the name of the service' }]], JSON.stringify(body));
    }
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager',
      amWebhook([
        { labels: { alertname: 'Blank1', service: '  ', deployment: 'cart' }, fingerprint: 'blank000000001' },
        { labels: { alertname: 'Blank2', service: ' ' }, fingerprint: 'blank000000002' },
      ]),
    );
    assert.equal(r.status, 202);
    const services = [];
    for (const x of r.body.results) services.push((await svc.get(`/api/v1/incidents/${x.incident_id}`)).body.incident.service);
    assert.deepEqual(services, ['cart', 'unknown']);
    const blank = fixture('pagerduty/incident-triggered.json');
    blank.event.id = '01BLANKSUMMARY';
    blank.event.data.id = 'PBLANK1';
    blank.event.data.service.summary = '   ';
    const pd = await svc.post('/api/v1/webhooks/pagerduty', blank);
    assert.deepEqual([pd.status, pd.body.error.details[0].path], [400, 'body.event.data.service.summary']);
  });

  // Regression: kube-prometheus' pod and node alerts carry the exporter's job: keyed to
  // it, every crash-looping pod in the cluster shared one rate limit and one cooldown.
  it("an exporter's job or Service (kube-state-metrics, node-exporter, kubelet) is not the service: the labels after it are", async () => {
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager',
      amWebhook(
        ([
          { labels: { alertname: 'KubePodCrashLooping', job: 'kube-state-metrics', namespace: 'shop', pod: 'cart-7d9f8-x2x4q', container: 'cart' } },
          { labels: { alertname: 'KubePodCrashLooping', job: 'kube-state-metrics', service: 'kube-state-metrics', namespace: 'shop', pod: 'web-5c6d-abcde' } },
          { labels: { alertname: 'KubeDeploymentReplicasMismatch', job: 'kube-state-metrics', namespace: 'shop', deployment: 'checkout' } },
          { labels: { alertname: 'NodeFilesystemSpaceFillingUp', job: 'node-exporter', instance: '10.0.0.7:9100', device: '/dev/sda1' } },
          { labels: { alertname: 'KubeletTooManyPods', job: 'kubelet', node: 'node-a' } },
          // A service of its own is the service, whatever reported it; another job is the service.
          { labels: { alertname: 'KubePodCrashLooping', job: 'kube-state-metrics', service: 'api-server', container: 'api' } },
          { labels: { alertname: 'HighLatency', job: 'payments', container: 'app' } },
        ] as Array<{ labels: Record<string, string> }>).map((a, i) => ({ ...a, fingerprint: `exporter${i}` })),
      ),
    );
    assert.equal(r.status, 202);
    const services = [];
    for (const x of r.body.results) services.push((await svc.get(`/api/v1/incidents/${x.incident_id}`)).body.incident.service);
    assert.deepEqual(services, ['cart', 'shop', 'checkout', '10.0.0.7:9100', 'node-a', 'api-server', 'payments']);
  });

  it('--exporter-jobs names the exporters whose job is not the service, in place of the default', async () => {
    const own = await startTestService({ args: ['--exporter-jobs', 'ksm, blackbox'] });
    try {
      const r = await own.post(
        '/api/v1/webhooks/alertmanager',
        amWebhook(
          ([
            { labels: { alertname: 'KubePodCrashLooping', job: 'ksm', namespace: 'shop', container: 'cart' } },
            { labels: { alertname: 'ProbeFailed', service: 'blackbox', instance: 'https://shop.example' } },
            // No longer in the list: kube-state-metrics is the service, as any job is.
            { labels: { alertname: 'KubePodCrashLooping', job: 'kube-state-metrics', container: 'web' } },
          ] as Array<{ labels: Record<string, string> }>).map((a, i) => ({ ...a, fingerprint: `own-exporter${i}` })),
        ),
      );
      assert.equal(r.status, 202);
      const services = [];
      for (const x of r.body.results) services.push((await own.get(`/api/v1/incidents/${x.incident_id}`)).body.incident.service);
      assert.deepEqual(services, ['cart', 'https://shop.example', 'kube-state-metrics']);
      assert.deepEqual(own.config.exporterJobs, ['ksm', 'blackbox']);
    } finally {
      await own.stop({ remove: true });
    }
  });

  it('413 over the body limit, 415 for a non-JSON content type, 400 for broken JSON', async () => {
    const big = amWebhook(Array.from({ length: 400 }, (_, i) => ({ labels: { alertname: 'Big', service: 's', pad: 'x'.repeat(200), n: String(i) } })));
    const tooBig = await svc.post('/api/v1/webhooks/alertmanager', big);
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error.code, 'PAYLOAD_TOO_LARGE');
    const text = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: 'root_cause=x', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.statusCode, 415);
    assert.equal(JSON.parse(text.body).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    const broken = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: '{"root_cause": ', headers: { 'content-type': 'application/json' } });
    assert.equal(broken.statusCode, 400);
    assert.equal(JSON.parse(broken.body).error.code, 'BAD_REQUEST');
    // Valid JSON with a prototype key is refused too, and the message says that may be why.
    const proto = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: '{"root_cause": "x", "__proto__": {"a": 1}}', headers: { 'content-type': 'application/json' } });
    assert.equal(proto.statusCode, 400);
    assert.match(JSON.parse(proto.body).error.message, /"__proto__"/);
  });

  it('PagerDuty: triggered decides by the title words, re-delivery is a duplicate, resolved is recorded', async () => {
    const body = fixture('pagerduty/incident-triggered.json');
    const r = await svc.post('/api/v1/webhooks/pagerduty?wait=true', body);
    assert.equal(r.status, 202);
    assert.equal(r.body.results[0].runbook, 'scale-up');
    assert.equal(r.body.results[0].action, 'executed');
    assert.equal(target.calls('/scale/worker', 'POST'), 1);
    const again = await svc.post('/api/v1/webhooks/pagerduty', body);
    assert.equal(again.body.results[0].action, 'duplicate');
    const resolved = structuredClone(body);
    resolved.event.event_type = 'incident.resolved';
    resolved.event.id = '01DEN3FCXPWDF4G6VQ1QDYLK3U';
    const rr = await svc.post('/api/v1/webhooks/pagerduty', resolved);
    assert.equal(rr.body.results[0].action, 'resolved');
    assert.equal(rr.body.results[0].incident_id, r.body.results[0].incident_id);
    const ack = structuredClone(body);
    ack.event.event_type = 'incident.acknowledged';
    const ra = await svc.post('/api/v1/webhooks/pagerduty', ack);
    assert.equal(ra.status, 202);
    assert.deepEqual(ra.body.results, []);
    // PagerDuty's own test event carries no incident: acknowledged, not a 400.
    const ping = await svc.post('/api/v1/webhooks/pagerduty', { event: { id: '01PING', event_type: 'pagey.ping', resource_type: 'pagey', data: { type: 'ping', message: 'Hello from your friend Pagey!' } } });
    assert.equal(ping.status, 202);
    assert.deepEqual(ping.body.results, []);
    const noId = structuredClone(body);
    delete noId.event.data.id;
    const refused = await svc.post('/api/v1/webhooks/pagerduty', noId);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.details[0].path, 'body.event.data.id');
  });

  it('PagerDuty: a huge title is cut to 256 characters and 100 symptoms, not refused (the alert is kept)', async () => {
    const body = fixture('pagerduty/incident-triggered.json');
    body.event.data.id = 'PHUGE01';
    body.event.data.title = Array.from({ length: 5_000 }, (_, i) => `w${i}`).join(' ');
    body.event.data.service.summary = 'x'.repeat(1_000);
    const r = await svc.post('/api/v1/webhooks/pagerduty', body);
    assert.equal(r.status, 202);
    const stored = (await svc.get(`/api/v1/incidents/${r.body.results[0].incident_id}`)).body.incident;
    assert.equal(stored.root_cause.length, 256);
    assert.ok(stored.root_cause.endsWith('…'));
    assert.equal(stored.symptoms.length, 100);
    assert.equal(stored.service.length, 253);
  });

  it('an incident posted twice with the same id is a duplicate; without an id each post is new', async () => {
    const a = await svc.post('/api/v1/incidents', { id: 'DUP-1', root_cause: 'nothing-matches', service: 'x' });
    const b = await svc.post('/api/v1/incidents', { id: 'DUP-1', root_cause: 'nothing-matches', service: 'x' });
    assert.equal(a.body.action, 'manual');
    assert.equal(b.body.action, 'duplicate');
    assert.equal(b.body.incident_id, 'DUP-1');
    const c = await svc.post('/api/v1/incidents', { root_cause: 'nothing-matches', service: 'x' });
    const d = await svc.post('/api/v1/incidents', { root_cause: 'nothing-matches', service: 'x' });
    assert.notEqual(c.body.incident_id, d.body.incident_id);
    assert.equal(d.body.action, 'manual');
    const badId = await svc.post('/api/v1/incidents', { id: '../etc/passwd', root_cause: 'x', service: 'x' });
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.details[0].path, 'body.id');
  });

  it('an id posted again with another report (root cause, service, confidence, context…) is a 409 naming what differs, not a duplicate, and records nothing', async () => {
    const first = await svc.post('/api/v1/incidents?wait=true', { id: 'REUSED-1', root_cause: 'nothing-matches', service: 'web', context: { namespace: 'shop' } });
    assert.deepEqual([first.status, first.body.action], [202, 'manual']);
    const rows = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = rows();
    const auditBefore = (await svc.get('/api/v1/audit?incident_id=REUSED-1')).body.events.length;
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ root_cause: 'high_cpu', service: 'web', context: { namespace: 'shop' } }, 'root_cause', ' ("nothing-matches" then, "high_cpu" now)'],
      [{ root_cause: 'nothing-matches', service: 'db', context: { namespace: 'shop' } }, 'service', ' ("web" then, "db" now)'],
      [{ root_cause: 'nothing-matches', service: 'web', confidence: 0.5, context: { namespace: 'shop' } }, 'confidence', ' ("1" then, "0.5" now)'],
      [{ root_cause: 'nothing-matches', service: 'web', context: { namespace: 'kube-system' } }, 'context', ''],
    ];
    for (const [body, field, values] of cases) {
      const r = await svc.post('/api/v1/incidents?wait=true', { id: 'REUSED-1', ...body });
      assert.deepEqual(
        { status: r.status, body: r.body },
        {
          status: 409,
          body: {
            error: {
              code: 'CONFLICT',
              message: `incident REUSED-1 was posted before with another ${field}${values} and decided then (manual, NO_RUNBOOK); an id names one incident, decided once: post this one with another id, or none`,
              details: [{ path: `body.${field}`, message: 'differs from the incident posted before with id REUSED-1' }],
            },
          },
        },
        field,
      );
    }
    assert.equal(target.calls('/scale/web', 'POST') + target.calls('/scale/db', 'POST'), 0, 'nothing ran');
    assert.equal(rows(), before, 'nothing stored');
    assert.equal((await svc.get('/api/v1/audit?incident_id=REUSED-1')).body.events.length, auditBefore, 'nothing audited');

    // The same report again (a retry) is still a duplicate; so is a resolve, whatever it says.
    const again = await svc.post('/api/v1/incidents', { id: 'REUSED-1', root_cause: 'nothing-matches', service: 'web', context: { namespace: 'shop' } });
    assert.deepEqual([again.status, again.body.action], [202, 'duplicate']);
    const resolved = await svc.post('/api/v1/incidents', { id: 'REUSED-1', root_cause: 'whatever', service: 'other', status: 'resolved' });
    assert.deepEqual([resolved.status, resolved.body.action, resolved.body.incident_id], [202, 'resolved', 'REUSED-1']);
    // A resolve is matched by its id alone: posted again, saying something else, the alert is resolved already.
    const resolvedAgain = await svc.post('/api/v1/incidents', { id: 'REUSED-1', root_cause: 'another', service: 'web', status: 'resolved' });
    assert.deepEqual([resolvedAgain.status, resolvedAgain.body.action, resolvedAgain.body.reason], [202, 'duplicate', 'already decided: resolved (RESOLVED)']);
  });

  it('a lone surrogate in an incident is stored as one U+FFFD, and the same body sent again is a duplicate', async () => {
    // JSON text, as a client would send it: "\ud800" is a lone surrogate, which no UTF-8 column holds.
    const payload = '{"id":"LONE-1","root_cause":"nothing\\ud800x","service":"s\\udc00","symptoms":["a\\ud800"],"context":{"k\\ud800":"v\\ud800"}}';
    const send = async () => {
      const res = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload, headers: { 'content-type': 'application/json' } });
      return { status: res.statusCode, body: JSON.parse(res.body) };
    };
    const first = await send();
    assert.deepEqual([first.status, first.body.action], [202, 'manual']);
    const stored = (await svc.get('/api/v1/incidents/LONE-1')).body.incident;
    assert.deepEqual(
      [stored.root_cause, stored.service, stored.symptoms, stored.context],
      ['nothing\ufffdx', 's\ufffd', ['a\ufffd'], { 'k\ufffd': 'v\ufffd' }],
    );
    const again = await send();
    assert.deepEqual([again.status, again.body.action], [202, 'duplicate']);
  });

  it('a lone surrogate in a PagerDuty event is stored as one U+FFFD, and its re-delivery is a duplicate', async () => {
    const body = fixture('pagerduty/incident-triggered.json');
    body.event.id = 'EV-LONE\ud800';
    body.event.data.id = 'PLONE\udc00';
    body.event.data.title = 'nothing-matches\ud800 here';
    body.event.data.service.summary = 'svc\ud800';
    // As PagerDuty would send it: JSON text with "\ud800" escapes.
    const payload = JSON.stringify(body);
    assert.match(payload, /\\ud800/);
    const send = async () => {
      const res = await svc.app.inject({ method: 'POST', url: '/api/v1/webhooks/pagerduty', payload, headers: { 'content-type': 'application/json' } });
      return { status: res.statusCode, body: JSON.parse(res.body) };
    };
    const first = await send();
    assert.deepEqual([first.status, first.body.results[0].action], [202, 'manual']);
    const stored = (await svc.get(`/api/v1/incidents/${first.body.results[0].incident_id}`)).body.incident;
    assert.deepEqual(
      [stored.root_cause, stored.service, stored.labels.pagerduty_incident, stored.labels.pagerduty_event],
      ['nothing-matches\ufffd here', 'svc\ufffd', 'PLONE\ufffd', 'EV-LONE\ufffd'],
    );
    const again = await send();
    assert.deepEqual([again.status, again.body.results[0].action], [202, 'duplicate']);
  });

  it("an id another alert has already is a 409 naming body.id, firing or resolved, and records nothing", async () => {
    const am = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'Unmatched', service: 'y' }, fingerprint: 'taken-id-fp' }]));
    const taken = am.body.results[0].incident_id as string;
    // The id rectify gave a resolve's own record is no alert's a resolve could name.
    await svc.post('/api/v1/incidents', { id: 'TAKEN-RES-1', root_cause: 'nothing-matches', service: 'x' });
    await svc.post('/api/v1/incidents', { id: 'TAKEN-RES-1', root_cause: 'nothing-matches', service: 'x', status: 'resolved' });
    const ownRecord = (await svc.get('/api/v1/incidents/TAKEN-RES-1')).body.resolution.incident_id as string;
    // One posted without an id has one rectify gave: posted firing with it, it is that incident's id taken.
    const idless = (await svc.post('/api/v1/incidents', { root_cause: 'nothing-matches', service: 'x' })).body.incident_id as string;
    const rows = () => [countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM audit')];
    const before = rows();
    for (const [id, statuses] of [[taken, ['firing', 'resolved']], [ownRecord, ['firing', 'resolved']], [idless, ['firing']]] as const) {
      for (const status of statuses) {
        const r = await svc.post('/api/v1/incidents', { id, root_cause: 'nothing-matches', service: 'x', status });
        assert.equal(r.status, 409, `${id} ${status}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'CONFLICT');
        assert.equal(r.body.error.message, `incident ${id} exists already, for another alert: post this one with another id, or none`);
        assert.deepEqual(r.body.error.details, [{ path: 'body.id', message: 'an incident with this id exists already' }]);
      }
    }
    assert.deepEqual(rows(), before, 'no incident row, no audit row');
    const stored = (await svc.get(`/api/v1/incidents/${taken}`)).body;
    assert.equal(stored.incident.source, 'alertmanager', 'the alert that has the id keeps it');
    assert.equal(stored.incident.status, 'firing');
    assert.equal(stored.resolution, null);
  });

  it('an incident posted without an id is resolved by a resolve posted with the id rectify gave it: its pending approval is cancelled', async () => {
    const fired = await svc.post('/api/v1/incidents', { root_cause: 'primary_down', service: 'db-idless' });
    assert.deepEqual([fired.status, fired.body.action, fired.body.runbook], [202, 'approval_required', 'failover']);
    const id = fired.body.incident_id as string;
    const approvalId = fired.body.approval_id as string;
    assert.match(id, /^inc_/);
    const resolved = await svc.post('/api/v1/incidents', { id, root_cause: 'primary_down', service: 'db-idless', status: 'resolved' });
    assert.equal(resolved.status, 202, JSON.stringify(resolved.body));
    assert.deepEqual(
      [resolved.body.incident_id, resolved.body.action, resolved.body.runbook, resolved.body.reason],
      [id, 'resolved', 'failover', 'alert resolved; 1 pending approval(s) cancelled'],
    );
    assert.equal((await svc.get(`/api/v1/approvals/${approvalId}`)).body.status, 'cancelled');
    const events = (await svc.get(`/api/v1/audit?incident_id=${id}`)).body.events as { event: string; details: Record<string, unknown> }[];
    assert.deepEqual(events.map((e) => e.event), ['RESOLVED', 'CANCELLED', 'APPROVAL_REQUIRED'], 'newest first');
    assert.deepEqual([events[1]!.details.approval_id, events[1]!.details.reason], [approvalId, 'alert resolved before approval']);
    const view = (await svc.get(`/api/v1/incidents/${id}`)).body;
    assert.deepEqual([view.incident.status, view.decision.action, view.resolution.reason], ['resolved', 'approval_required', 'alert resolved; 1 pending approval(s) cancelled']);
    assert.equal(view.resolution.incident_id, events[0]!.details.resolved_incident_id);
    // Posted again, the resolve is a duplicate; nothing ran.
    const again = await svc.post('/api/v1/incidents', { id, root_cause: 'primary_down', service: 'db-idless', status: 'resolved' });
    assert.deepEqual([again.status, again.body.action], [202, 'duplicate']);
    assert.equal(target.calls('/failover/db-idless', 'POST'), 0);
  });

  // Regression: a resolve typed by hand ({"id": …, "status": "resolved"}) was a 400 naming
  // body.root_cause, and its pending approval was never cancelled; one without an id named
  // root_cause too, not the id it lacks.
  it('a resolve needs only its id: it cancels the pending approval; without an id it is a 400 naming body.id first', async () => {
    const fired = await svc.post('/api/v1/incidents', { id: 'INC004', root_cause: 'primary_down', service: 'db-byhand' });
    assert.deepEqual([fired.status, fired.body.action, fired.body.runbook], [202, 'approval_required', 'failover']);
    const approvalId = fired.body.approval_id as string;
    const resolved = await svc.post('/api/v1/incidents', { id: 'INC004', status: 'resolved' });
    assert.deepEqual(
      { status: resolved.status, body: resolved.body },
      { status: 202, body: { incident_id: 'INC004', action: 'resolved', runbook: 'failover', reason: 'alert resolved; 1 pending approval(s) cancelled', event: 'RESOLVED', approval_id: null, execution_id: null } },
    );
    assert.equal((await svc.get(`/api/v1/approvals/${approvalId}`)).body.status, 'cancelled');
    const view = (await svc.get('/api/v1/incidents/INC004')).body;
    assert.deepEqual([view.incident.status, view.resolution.reason], ['resolved', 'alert resolved; 1 pending approval(s) cancelled']);
    const again = await svc.post('/api/v1/incidents', { id: 'INC004', status: 'resolved' });
    assert.deepEqual([again.status, again.body.action], [202, 'duplicate']);
    assert.equal(target.calls('/failover/db-byhand', 'POST'), 0);

    const rows = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = rows();
    const message = 'required when status is resolved: a resolve names the incident it resolves by its id';
    const noId = await svc.post('/api/v1/incidents', { status: 'resolved' });
    assert.deepEqual(
      { status: noId.status, body: noId.body },
      { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: body.id: ${message}`, details: [{ path: 'body.id', message }] } } },
    );
    // Fields a resolve gives are still validated, as a firing report's are; the missing id is named first.
    const cases: Array<[Record<string, unknown>, Array<[string, string]>]> = [
      [{ status: 'resolved', confidence: 2 }, [['body.id', message], ['body.confidence', 'Too big: expected number to be <=1']]],
      [{ id: 'INC 4', status: 'resolved' }, [['body.id', 'expected 1–128 characters of A–Z, a–z, 0–9, ".", "_", ":" or "-"']]],
      [{ id: 'INC004', status: 'resolved', rootCause: 'x' }, [['body.rootCause', 'unknown key (did you mean "root_cause"?): it would be ignored, and the incident decided without it']]],
      [{ id: 'INC004', status: 'resolved', service: ' ' }, [['body.service', 'blank: give the name of the service']]],
    ];
    for (const [body, details] of cases) {
      const r = await svc.post('/api/v1/incidents', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual(r.body.error.details.map((d: { path: string; message: string }) => [d.path, d.message]), details, JSON.stringify(body));
      assert.equal(r.body.error.message, `invalid body: ${details[0]![0]}: ${details[0]![1]}`);
    }
    assert.equal(rows(), before, 'nothing stored');
  });

  it('a firing report still needs root_cause and service, refused as before', async () => {
    const missing = 'Invalid input: expected string, received undefined';
    const cases: Array<[Record<string, unknown>, Array<[string, string]>]> = [
      [{}, [['body.root_cause', missing]]],
      [{ service: 'web' }, [['body.root_cause', missing]]],
      [{ status: 'firing', service: 'web' }, [['body.root_cause', missing]]],
      [{ root_cause: 'x' }, [['body.service', 'required: give "service" or "services"']]],
      [{ id: 'INC 4', confidence: 2, service: 'web' }, [['body.id', 'expected 1–128 characters of A–Z, a–z, 0–9, ".", "_", ":" or "-"'], ['body.root_cause', missing], ['body.confidence', 'Too big: expected number to be <=1']]],
      [{ rootCause: 'x', confidence: 2 }, [['body.root_cause', missing], ['body.confidence', 'Too big: expected number to be <=1'], ['body.rootCause', 'unknown key (did you mean "root_cause"?): it would be ignored, and the incident decided without it']]],
      [{ root_cause: 'x', service: 'web', status: 'done' }, [['body.status', 'Invalid option: expected one of "firing"|"resolved"']]],
      [{ service: 'web', status: 'done' }, [['body.root_cause', missing], ['body.status', 'Invalid option: expected one of "firing"|"resolved"']]],
    ];
    for (const [body, details] of cases) {
      const r = await svc.post('/api/v1/incidents', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual(r.body.error.details.map((d: { path: string; message: string }) => [d.path, d.message]), details, JSON.stringify(body));
      assert.equal(r.body.error.message, `invalid body: ${details[0]![0]}: ${details[0]![1]}`);
    }
  });

  it('a resolve posted with the id of an incident posted firing resolves it; one for an id nothing was posted with is recorded, and that id posted firing after it acts on nothing', async () => {
    const firing = await svc.post('/api/v1/incidents', { id: 'RES-OWN-1', root_cause: 'nothing-matches', service: 'x' });
    assert.equal(firing.status, 202);
    const resolved = await svc.post('/api/v1/incidents', { id: 'RES-OWN-1', root_cause: 'nothing-matches', service: 'x', status: 'resolved' });
    assert.deepEqual([resolved.status, resolved.body.action, resolved.body.incident_id], [202, 'resolved', 'RES-OWN-1']);
    assert.equal((await svc.get('/api/v1/incidents/RES-OWN-1')).body.incident.status, 'resolved');
    target.route('POST', '/scale/res-early', { status: 200 });
    const early = await svc.post('/api/v1/incidents', { id: 'RES-EARLY-1', root_cause: 'high_cpu', service: 'res-early', status: 'resolved' });
    // No incident has that id: the answer says the resolve ended nothing, and that it is kept for the firing report to come.
    assert.deepEqual(
      [early.status, early.body.action, early.body.event, early.body.reason],
      [202, 'resolved', 'RESOLVED', 'no incident RES-EARLY-1 is known: nothing was resolved; recorded, so a firing report of RES-EARLY-1 arriving later is not acted on'],
    );
    const late = await svc.post('/api/v1/incidents?wait=true', { id: 'RES-EARLY-1', root_cause: 'high_cpu', service: 'res-early' });
    assert.deepEqual(
      [late.status, late.body.action, late.body.execution_id, late.body.reason],
      [202, 'resolved', null, `the alert was resolved (${early.body.incident_id}) before this firing delivery was decided: nothing to fix`],
    );
    assert.equal(target.calls('/scale/res-early', 'POST'), 0);
  });

  it('a resolve of a mistyped id says it resolved nothing, and the approval request of the incident meant stays pending', async () => {
    const firing = await svc.post('/api/v1/incidents', { id: 'TYPO-104', root_cause: 'primary_down', service: 'db-typo' });
    assert.deepEqual([firing.status, firing.body.action], [202, 'approval_required']);
    const typo = await svc.post('/api/v1/incidents', { id: 'TYPO-1004', status: 'resolved' });
    assert.deepEqual(
      [typo.status, typo.body.action, typo.body.event, typo.body.reason],
      [202, 'resolved', 'RESOLVED', 'no incident TYPO-1004 is known: nothing was resolved; recorded, so a firing report of TYPO-1004 arriving later is not acted on'],
    );
    assert.equal((await svc.get(`/api/v1/approvals/${firing.body.approval_id}`)).body.status, 'pending');
    // The right id resolves it, and says so.
    const right = await svc.post('/api/v1/incidents', { id: 'TYPO-104', status: 'resolved' });
    assert.deepEqual([right.status, right.body.action, right.body.incident_id, right.body.reason], [202, 'resolved', 'TYPO-104', 'alert resolved; 1 pending approval(s) cancelled']);
  });
});

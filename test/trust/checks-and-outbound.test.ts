import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseRunbooksText } from '../../src/runbooks/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';

const rb = (body: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 1000
    cooldown_minutes: 0
${body}`;
const broken = (service: string, context: Record<string, string> = {}) => ({ root_cause: 'broken', service, confidence: 1, context });

describe('a check that errors or times out is a failed check, never a pass', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('an http post-check that times out fails verification, and the rollback runs once', async () => {
    target.route('POST', '/act', { status: 200 });
    target.route('POST', '/undo', { status: 200 });
    target.route('GET', '/slow', { status: 200, delayMs: 30_000 });
    const svc = await startTestService({
      runbooks: rb(`    action:\n      http: {method: POST, url: "${target.url}/act"}\n    post_checks:\n      - http: {url: "${target.url}/slow", timeout_seconds: 1, interval_seconds: 0.2}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken('shop'));
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, false);
    assert.equal(r.body.rolled_back, true);
    assert.equal(r.body.event, 'FAILED');
    assert.match(r.body.reason, /^verification failed: http GET .*\/slow: /);
    assert.equal(target.calls('/act'), 1);
    assert.equal(target.calls('/undo'), 1);
    const e = await svc.get(`/api/v1/executions/${r.body.execution_id}`);
    assert.deepEqual(e.body.steps.map((s: any) => [s.phase, s.ok]), [['action', true], ['post_check', false], ['rollback', true]]);
    await svc.stop({ remove: true });
  });

  it('a promql post-check against an unreachable Prometheus fails verification, and the rollback runs', async () => {
    target.reset();
    // A port nothing listens on: the target's own port after it is closed is not reused in time, so use a fresh one.
    const gone = await startHttpTarget();
    const deadUrl = gone.url;
    await gone.close();
    const svc = await startTestService({
      args: ['--prometheus-url', deadUrl],
      runbooks: rb(`    action:\n      http: {method: POST, url: "${target.url}/act"}\n    post_checks:\n      - promql: {query: 'max(errors{service="{service}"})', expect: "< 0.05", timeout_seconds: 1, interval_seconds: 0.2}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken('shop'));
    assert.equal(r.body.success, false);
    assert.equal(r.body.rolled_back, true);
    assert.match(r.body.reason, /^verification failed: promql max\(errors\{service="shop"\}\) < 0.05: /);
    assert.equal(target.calls('/act'), 1);
    assert.equal(target.calls('/undo'), 1);
    await svc.stop({ remove: true });
  });

  it('a pre-check whose target refuses connections aborts the run before any action', async () => {
    target.reset();
    const gone = await startHttpTarget();
    const deadUrl = gone.url;
    await gone.close();
    const svc = await startTestService({
      runbooks: rb(`    pre_checks:\n      - http: {url: "${deadUrl}/ready", timeout_seconds: 1, interval_seconds: 0.2}\n    action:\n      http: {method: POST, url: "${target.url}/act"}\n`),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken('shop'));
    assert.equal(r.body.action, 'aborted');
    assert.equal(r.body.event, 'PRE_CHECK_FAILED');
    assert.equal(target.calls('/act'), 0);
    await svc.stop({ remove: true });
  });
});

describe('outbound calls go only where the runbook says', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  const tricks = [
    'evil.com',
    'http://evil',
    'https://evil.com/x',
    '@evil.com',
    'user@evil.com',
    '..%2f..%2fadmin',
    '%2e%2e',
    '..',
    '.',
    '//evil.com',
    '\\\\evil.com',
    'evil.com:80',
    'a/../../b',
    '?x=1',
    '#frag',
    'a b',
    '%0d%0aHost: evil.com',
    'ｅｖｉｌ.com',
    'xn--vil-8na.com',
    '${env:HOME}',
    '$(curl evil.com)',
    '`id`',
    '\u202egro.live',
    'a\u0000b',
    '0x7f.1',
    '[::1]',
    'localhost:22',
  ];

  it('label values full of URL tricks are refused or stay inside the runbook\'s origin and path', async () => {
    target.route('*', '/act', { status: 200 });
    const svc = await startTestService({
      // Every allowed call answers 404 (no route below /act): the breaker must not open and hide later values.
      args: ['--circuit-failure-threshold', '1000'],
      runbooks: rb(`    action:\n      http: {method: POST, url: "${target.url}/act/{target}?q={target}", headers: {X-Note: "{note}"}, body: {note: "{note}"}}\n`),
    });
    let executed = 0;
    for (const value of tricks) {
      const before = target.requests().length;
      const r = await svc.post('/api/v1/incidents?wait=true', broken('shop', { target: value, note: value }));
      assert.equal(r.status, 202, value);
      const arrived = target.requests().slice(before);
      if (r.body.action === 'executed') {
        executed++;
        // It reached the only listener, on the runbook's path, with the value as one segment.
        assert.equal(r.body.success, false, 'no route below /act/<segment> on the target: 404, so the call was made to the target');
        assert.equal(arrived.length, 1, value);
        assert.equal(arrived[0]!.path, `/act/${value}`, value);
        assert.equal(arrived[0]!.query.q, value);
      } else {
        assert.equal(r.body.event, 'PARAM_REFUSED', value);
        assert.equal(arrived.length, 0, value);
      }
    }
    // The plain names are allowed through (they are just strings in the runbook's own URL).
    assert.equal(executed, 3, 'evil.com, xn--vil-8na.com and 0x7f.1 are plain segments; everything else is refused');
    assert.ok(target.requests().every((q) => q.path.startsWith('/act/')));
    await svc.stop({ remove: true });
  });

  it('a runbook cannot take a URL\'s scheme or host from a placeholder', () => {
    for (const url of ['http://{host}/x', '{base}/x', 'http://127.0.0.1:{port}/x', 'http{s}://example.com/x', 'http://user:{pw}@example.com/x']) {
      const { runbooks, problems } = parseRunbooksText(rb(`    action:\n      http: {method: POST, url: "${url}"}\n`), 'r.yaml');
      assert.equal(runbooks.length, 0, url);
      assert.ok(problems.some((p) => p.path.endsWith('url')), `${url}: ${problems.map((p) => p.message).join('; ')}`);
    }
  });
});

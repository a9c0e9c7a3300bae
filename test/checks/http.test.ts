import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import type { RenderedHttpCheck } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { createHttpCheckRunner, displayUrl } from '../../src/checks/http.js';
import { sequence, startHttpTarget, startTricklingServer, type HttpTarget } from '../helpers/http-target.js';

function ctx(signal: AbortSignal = new AbortController().signal): StepContext {
  return { signal, log: pino({ level: 'silent' }), startedAt: Date.now(), memo: new Map() };
}

describe('http check', () => {
  let target: HttpTarget;
  const check = (over: Partial<RenderedHttpCheck> = {}): RenderedHttpCheck => ({
    type: 'http',
    method: 'GET',
    url: `${target.url}/health`,
    headers: {},
    expectStatus: [200, 200],
    timeoutMs: 2_000,
    intervalMs: 50,
    ...over,
  });
  before(async () => {
    target = await startHttpTarget();
  });
  after(() => target.close());
  beforeEach(() => target.reset());

  it('passes on 200 at the first attempt', async () => {
    target.route('GET', '/health', { status: 200, body: 'ok' });
    const out = await createHttpCheckRunner().run(check(), ctx());
    assert.deepEqual(out, { ok: true, detail: `GET ${target.url}/health → 200`, observed: '200', attempts: 1 });
    assert.equal(target.calls('/health'), 1);
  });

  it('polls until the target turns healthy', async () => {
    target.route('GET', '/health', sequence([{ status: 503 }, { status: 503 }, { status: 500 }, { status: 200 }]));
    const out = await createHttpCheckRunner().run(check(), ctx());
    assert.equal(out.ok, true);
    assert.equal(out.attempts, 4);
    assert.equal(target.calls('/health'), 4);
  });

  it('fails when the target stays unhealthy until the timeout', async () => {
    target.route('GET', '/health', { status: 503 });
    const out = await createHttpCheckRunner().run(check({ timeoutMs: 500, intervalMs: 100 }), ctx());
    // At 0, 100, …, 400 ms, and the last at the timeout, 500 ms; one fewer when a loaded
    // machine's timers ran so late that the one at 400 ms would have had next to no time
    // before the timeout (the last one, at the timeout, is made instead).
    assert.ok(out.attempts === 6 || out.attempts === 5, `attempts ${out.attempts}`);
    assert.deepEqual(out, {
      ok: false,
      detail: `GET ${target.url}/health: expected status 200, got 503 after ${out.attempts} attempts`,
      observed: '503',
      attempts: out.attempts,
    });
    assert.equal(target.calls('/health'), out.attempts);
  });

  it('a target slower than the timeout fails, it does not hang', async () => {
    target.route('GET', '/health', { status: 200, delayMs: 5_000 });
    const started = Date.now();
    const out = await createHttpCheckRunner({ attemptTimeoutMs: 400 }).run(check({ timeoutMs: 300, intervalMs: 1_000 }), ctx());
    assert.ok(Date.now() - started < 1_500);
    // The first request is cut off at the timeout (300 ms); the last, made there, has its own 400 ms.
    assert.deepEqual(out, { ok: false, detail: 'no answer within 400ms after 2 attempts', attempts: 2 });
  });

  // Regression: the first attempt hung until the deadline, and a second one started
  // there anyway, planned one interval after the first, with a 1 ms budget: the detail
  // read "no answer within 1ms after 2 attempts" for a target that hung 600 ms. The
  // attempt made at the timeout has its own time.
  it('a target that hangs past the deadline is reported with the time it was given, not a 1 ms leftover', async () => {
    target.route('GET', '/health', { status: 200, delayMs: 5_000 });
    const out = await createHttpCheckRunner({ attemptTimeoutMs: 600 }).run(check({ timeoutMs: 600, intervalMs: 300 }), ctx());
    assert.deepEqual(out, { ok: false, detail: 'no answer within 600ms after 2 attempts', attempts: 2 });
    assert.equal(target.calls('/health'), 2);
  });

  it('judges the status as soon as it comes: a body trickled a byte at a time is not waited for, and its connection is closed', async (t) => {
    // Its own server: the status and headers at once, then one byte every 50 ms, forever.
    const { base, closed } = await startTricklingServer(t, (url) => (url === '/down' ? 503 : 200));
    const started = Date.now();
    const up = await createHttpCheckRunner().run(check({ url: `${base}/health`, timeoutMs: 3_000, intervalMs: 1_000 }), ctx());
    const took = Date.now() - started;
    assert.deepEqual(up, { ok: true, detail: `GET ${base}/health → 200`, observed: '200', attempts: 1 });
    assert.ok(took < 800, `took ${took}ms: the body was waited for`);
    // A failing status is told as itself, not as "no answer within …".
    const down = await createHttpCheckRunner().run(check({ url: `${base}/down`, timeoutMs: 300, intervalMs: 1_000 }), ctx());
    assert.equal(down.ok, false);
    assert.match(down.detail, new RegExp(`^GET ${base}/down: expected status 200, got 503`));
    // The bodies still trickling are cut off within the discard's second.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(closed(), 1 + (down.attempts ?? 0));
  });

  it('does not follow redirects', async () => {
    target.route('GET', '/health', { status: 302, headers: { location: '/login' } });
    target.route('GET', '/login', { status: 200 });
    const out = await createHttpCheckRunner().run(check({ timeoutMs: 150, intervalMs: 100 }), ctx());
    assert.equal(out.ok, false);
    assert.equal(out.observed, '302');
    assert.equal(target.calls('/login'), 0);
    // …and a runbook that expects the redirect can say so.
    const expect3xx = await createHttpCheckRunner().run(check({ expectStatus: [300, 399] }), ctx());
    assert.equal(expect3xx.ok, true);
  });

  it('an unreachable target fails with "connection refused"', async () => {
    const gone = await startHttpTarget();
    await gone.close();
    const out = await createHttpCheckRunner().run(check({ url: `${gone.url}/health`, timeoutMs: 150, intervalMs: 500 }), ctx());
    // At 0 ms, and the last at the timeout, 150 ms (how many fit is poll's to test).
    assert.deepEqual(out, { ok: false, detail: `GET ${gone.url}/health: connection refused after 2 attempts`, attempts: 2 });
  });

  it('resolves header secrets; a missing one fails without a request', async () => {
    target.route('GET', '/health', { status: 200 });
    const ok = await createHttpCheckRunner({ env: { T: 'tok' } }).run(check({ headers: { authorization: 'Bearer ${env:T}' } }), ctx());
    assert.equal(ok.ok, true);
    assert.equal(target.requests('/health')[0]?.headers.authorization, 'Bearer tok');
    target.reset();
    const missing = await createHttpCheckRunner().run(check({ headers: { authorization: 'Bearer ${env:T}' } }), ctx());
    assert.deepEqual(missing, { ok: false, detail: `GET ${target.url}/health: header authorization: secret \${env:T} is not set`, attempts: 0 });
    assert.equal(target.calls('/health'), 0);
  });

  it('stops when the execution is aborted', async () => {
    target.route('GET', '/health', { status: 503 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 120);
    const out = await createHttpCheckRunner().run(check({ timeoutMs: 10_000 }), ctx(ac.signal));
    assert.equal(out.ok, false);
    assert.match(out.detail, new RegExp(`^aborted after \\d attempts?(; last: GET ${target.url}/health: expected status 200, got 503)?$`));
  });

  it('shows URLs without credentials or query strings', () => {
    assert.equal(displayUrl('https://u:p@example.com:8443/a/b?token=x#f'), 'https://example.com:8443/a/b?…');
    assert.equal(displayUrl('not a url'), '<invalid url>');
  });
});

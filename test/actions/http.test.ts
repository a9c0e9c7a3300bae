import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import pino from 'pino';
import type { RenderedHttpAction } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { createHttpActionExecutor } from '../../src/execute/actions/http.js';
import { RequestNotSentError } from '../../src/checks/http-client.js';
import { parseRunbooksText, renderPlan } from '../../src/runbooks/index.js';
import { startHttpTarget, startTricklingServer, type HttpTarget } from '../helpers/http-target.js';

function ctx(signal: AbortSignal = new AbortController().signal): StepContext {
  return { signal, log: pino({ level: 'silent' }), startedAt: Date.now(), memo: new Map() };
}

describe('http action', () => {
  let target: HttpTarget;
  const action = (over: Partial<RenderedHttpAction> = {}): RenderedHttpAction => ({
    type: 'http',
    method: 'POST',
    url: `${target.url}/restart`,
    headers: {},
    body: undefined,
    expectStatus: [200, 299],
    timeoutMs: 2_000,
    ...over,
  });
  before(async () => {
    target = await startHttpTarget();
  });
  after(() => target.close());
  beforeEach(() => target.reset());

  it('sends exactly the method, path, headers and JSON body, once', async () => {
    target.route('POST', '/api/restart', { status: 200, body: { restarted: true } });
    const out = await createHttpActionExecutor().run(
      action({
        url: `${target.url}/api/restart?service=api-server`,
        headers: { 'X-Request-Source': 'rectify' },
        body: { service: 'api-server', replicas: 3, force: false },
      }),
      ctx(),
    );
    assert.deepEqual(out, { ok: true, detail: `POST ${target.url}/api/restart?… → 200`, facts: { status: '200' } });
    assert.equal(target.calls('/api/restart'), 1);
    const [req] = target.requests('/api/restart');
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.deepEqual(req.query, { service: 'api-server' });
    assert.equal(req.headers['x-request-source'], 'rectify');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(req.json(), { service: 'api-server', replicas: 3, force: false });
  });

  it('sends no body and no content-type when body is undefined', async () => {
    target.route('DELETE', '/cache', { status: 204 });
    const out = await createHttpActionExecutor().run(action({ method: 'delete', url: `${target.url}/cache` }), ctx());
    assert.equal(out.detail, `DELETE ${target.url}/cache → 204`);
    const [req] = target.requests('/cache');
    assert.equal(req?.body, '');
    assert.equal(req?.headers['content-type'], undefined);
  });

  it('a runbook action with no body (none written, or `body:` left empty) sends none: no content-type, no length, whatever the method', async () => {
    for (const [method, body] of [['POST', ''], ['GET', ''], ['DELETE', ''], ['PUT', ', body: '], ['POST', ', body: null']] as const) {
      target.reset();
      target.route(method, '/restart/api', { status: 200 });
      const text = `runbooks:\n  t:\n    risk: LOW\n    triggers: [X]\n    action:\n      http: {method: ${method}, url: "${target.url}/restart/{service}"${body}}\n    rollback: none\n    rollback_reason: idempotent\n`;
      const { runbooks, problems } = parseRunbooksText(text, 'inline.yaml');
      assert.deepEqual(problems, []);
      const rendered = renderPlan(runbooks[0]!, { service: 'api' });
      assert.ok(rendered.ok);
      const spec = rendered.plan.actions[0]!.spec as RenderedHttpAction;
      assert.equal(spec.body, undefined, `${method}${body}`);
      const out = await createHttpActionExecutor().run(spec, ctx());
      assert.equal(out.detail, `${method} ${target.url}/restart/api → 200`);
      const reqs = target.requests('/restart/api');
      assert.equal(reqs.length, 1);
      assert.equal(reqs[0]?.method, method);
      assert.equal(reqs[0]?.body, '', `${method}${body}`);
      assert.equal(reqs[0]?.headers['content-type'], undefined, `${method}${body}`);
      assert.ok([undefined, '0'].includes(reqs[0]?.headers['content-length']), `${method}${body}: ${reqs[0]?.headers['content-length']}`);
      assert.equal(reqs[0]?.headers['transfer-encoding'], undefined);
    }
    // A step stored with the body null (as the loader once wrote it) sends none either.
    target.reset();
    target.route('POST', '/restart', { status: 200 });
    await createHttpActionExecutor().run(action({ body: null }), ctx());
    assert.deepEqual([target.requests('/restart')[0]?.body, target.requests('/restart')[0]?.headers['content-type']], ['', undefined]);
  });

  it('keeps a content-type the runbook set', async () => {
    target.route('PUT', '/cfg', { status: 200 });
    await createHttpActionExecutor().run(action({ method: 'PUT', url: `${target.url}/cfg`, headers: { 'Content-Type': 'application/merge-patch+json' }, body: {} }), ctx());
    assert.equal(target.requests('/cfg')[0]?.headers['content-type'], 'application/merge-patch+json');
  });

  it('fails on a status outside expect_status, without retrying', async () => {
    target.route('POST', '/restart', { status: 503, body: 'upstream says: token=abc' });
    const out = await createHttpActionExecutor().run(action(), ctx());
    assert.deepEqual(out, { ok: false, detail: `POST ${target.url}/restart → 503, expected 200-299`, facts: { status: '503' } });
    assert.equal(target.calls('/restart'), 1);
  });

  it("a 502 or 504 to a write is a gateway's answer, not the target's: unconfirmed; to a GET, or as the expected status, it is judged as any other", async () => {
    for (const status of [502, 504]) {
      target.reset();
      target.route('POST', '/restart', { status });
      const out = await createHttpActionExecutor().run(action(), ctx());
      assert.deepEqual(out, {
        ok: false,
        detail: `POST ${target.url}/restart → ${status}, expected 200-299 (a gateway answered: the request may have reached the target)`,
        facts: { status: String(status) },
        unconfirmed: true,
      });
      target.route('GET', '/restart', { status });
      const read = await createHttpActionExecutor().run(action({ method: 'GET' }), ctx());
      assert.deepEqual(read, { ok: false, detail: `GET ${target.url}/restart → ${status}, expected 200-299`, facts: { status: String(status) }, unchanged: true });
      const expected = await createHttpActionExecutor().run(action({ expectStatus: [status, status] }), ctx());
      assert.deepEqual(expected, { ok: true, detail: `POST ${target.url}/restart → ${status}`, facts: { status: String(status) } });
    }
    target.reset();
    target.route('POST', '/restart', { status: 500 });
    const own = await createHttpActionExecutor().run(action(), ctx());
    assert.equal(own.unconfirmed, undefined, 'a 500 is the target\'s own answer');
  });

  it('accepts any status inside the expect_status range', async () => {
    target.route('POST', '/restart', { status: 202 });
    const exec = createHttpActionExecutor();
    assert.equal((await exec.run(action({ expectStatus: [202, 202] }), ctx())).ok, true);
    assert.equal((await exec.run(action({ expectStatus: [200, 201] }), ctx())).detail, `POST ${target.url}/restart → 202, expected 200-201`);
  });

  it('does not follow redirects: a 302 is judged as itself', async () => {
    target.route('POST', '/restart', { status: 302, headers: { location: '/elsewhere' } });
    const out = await createHttpActionExecutor().run(action(), ctx());
    assert.equal(out.detail, `POST ${target.url}/restart → 302, expected 200-299`);
    assert.equal(target.calls('/elsewhere'), 0);
  });

  it('times out: fails, and the request was sent exactly once', async () => {
    target.route('POST', '/restart', { status: 200, delayMs: 5_000 });
    const started = Date.now();
    const out = await createHttpActionExecutor().run(action({ timeoutMs: 300 }), ctx());
    assert.ok(Date.now() - started < 2_000);
    // Sent, and no answer said whether it was applied.
    assert.deepEqual(out, { ok: false, detail: `POST ${target.url}/restart: timed out after 300ms (the request may have reached the target)`, unconfirmed: true });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(target.calls('/restart'), 1);
  });

  it('resolves ${env:X} into the header the target receives, and never reports it', async () => {
    target.route('POST', '/restart', { status: 401, body: { echoed: 'Bearer tok-XYZ-123' } });
    const exec = createHttpActionExecutor({ env: { RESTART_TOKEN: 'tok-XYZ-123' } });
    const out = await exec.run(action({ headers: { Authorization: 'Bearer ${env:RESTART_TOKEN}' }, body: { note: 'by ${env:RESTART_TOKEN}' } }), ctx());
    const [req] = target.requests('/restart');
    assert.equal(req?.headers.authorization, 'Bearer tok-XYZ-123');
    assert.deepEqual(req?.json(), { note: 'by tok-XYZ-123' });
    assert.equal(out.ok, false);
    assert.ok(!JSON.stringify(out).includes('tok-XYZ-123'), JSON.stringify(out));
  });

  it('a missing secret fails the step without calling the target', async () => {
    target.route('POST', '/restart', { status: 200 });
    const exec = createHttpActionExecutor({ env: { OTHER: 'x' } });
    const out = await exec.run(action({ headers: { Authorization: 'Bearer ${env:RESTART_TOKEN}' } }), ctx());
    assert.deepEqual(out, { ok: false, detail: `POST ${target.url}/restart not sent: header Authorization: secret \${env:RESTART_TOKEN} is not set`, unchanged: true });
    const body = await exec.run(action({ body: { token: '${file:/nonexistent/rectify-token}' } }), ctx());
    assert.deepEqual(body, { ok: false, detail: `POST ${target.url}/restart not sent: body: cannot read secret \${file:/nonexistent/rectify-token}: ENOENT (file not found)`, unchanged: true });
    assert.equal(target.calls('/restart'), 0);
  });

  // Regression: a header the client refuses to encode failed the step before any byte
  // left, but the outcome did not say so, and the runner rolled back a change that
  // never happened.
  it('a header value the client cannot send fails as not sent (unchanged), and the target sees nothing', async () => {
    target.route('POST', '/restart', { status: 200 });
    const exec = createHttpActionExecutor({ env: { BAD_TOKEN: 'tok\r\nX-Admin: 1' } });
    for (const team of ['платежи', '\u202e', '．．']) {
      const out = await exec.run(action({ headers: { 'X-Team': team } }), ctx());
      assert.deepEqual(out, { ok: false, detail: `POST ${target.url}/restart not sent: invalid X-Team header`, unchanged: true }, team);
    }
    // A secret resolved into a header is checked by the client too; its value is never reported.
    const secret = await exec.run(action({ headers: { Authorization: 'Bearer ${env:BAD_TOKEN}' } }), ctx());
    assert.deepEqual(secret, { ok: false, detail: `POST ${target.url}/restart not sent: invalid Authorization header`, unchanged: true });
    assert.equal(target.calls('/restart'), 0);
  });

  it('only the client\'s "not sent" refusal is unchanged: any other failure of the request may have reached the target', async () => {
    const failing = (err: unknown) => createHttpActionExecutor({ request: () => Promise.reject(err) });
    const notSent = await failing(new RequestNotSentError(new Error('invalid request method'))).run(action(), ctx());
    assert.deepEqual(notSent, { ok: false, detail: `POST ${target.url}/restart not sent: invalid request method`, unchanged: true });
    // A socket closed after the request was written: it may have restarted the service.
    const reset = await failing(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })).run(action(), ctx());
    assert.deepEqual(reset, { ok: false, detail: `POST ${target.url}/restart: connection closed by the server`, unconfirmed: true });
    // A read whose connection was closed changed nothing either way.
    const readReset = await failing(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })).run(action({ method: 'GET' }), ctx());
    assert.deepEqual(readReset, { ok: false, detail: `GET ${target.url}/restart: connection closed by the server`, unchanged: true });
  });

  it('a request whose connection the target closes once it has read it is unconfirmed: sent, and no answer said whether it was applied', async (t) => {
    let got = '';
    const server = createNetServer((socket) => {
      socket.on('data', (chunk) => {
        got += chunk.toString('latin1');
        if (got.includes('\r\n\r\n')) socket.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/restart`;
    const out = await createHttpActionExecutor().run(action({ url }), ctx());
    assert.ok(got.startsWith('POST /restart HTTP/1.1'), got);
    assert.equal(out.ok, false);
    assert.equal(out.unconfirmed, true, out.detail);
    assert.equal(out.unchanged, undefined);
  });

  // Regression: a refused connection was reported as a request that may have reached
  // the target, and the runner rolled back a change that never happened.
  it('a refused connection or an unknown host is "not sent" (unchanged): the request never left', async () => {
    const closed = await startHttpTarget();
    await closed.close();
    const out = await createHttpActionExecutor().run(action({ url: `${closed.url}/restart?token=abc` }), ctx());
    assert.deepEqual(out, { ok: false, detail: `POST ${closed.url}/restart?… not sent: connection refused`, unchanged: true });
    // What the client reports for a host name that does not resolve, as the executor sees it.
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND no-such-host.invalid'), { code: 'ENOTFOUND', syscall: 'getaddrinfo' });
    const unknown = await createHttpActionExecutor({ request: () => Promise.reject(new RequestNotSentError(dns)) }).run(action({ url: 'http://no-such-host.invalid/x/a' }), ctx());
    assert.deepEqual(unknown, { ok: false, detail: 'POST http://no-such-host.invalid/x/a not sent: host not found', unchanged: true });
  });

  it('a GET changes nothing, whatever its answer: its outcome is unchanged (a failed read is nothing to roll back)', async () => {
    target.route('GET', '/status', { status: 500 });
    target.route('GET', '/fine', { status: 200 });
    const exec = createHttpActionExecutor();
    assert.deepEqual(await exec.run(action({ method: 'GET', url: `${target.url}/status` }), ctx()), {
      ok: false,
      detail: `GET ${target.url}/status → 500, expected 200-299`,
      facts: { status: '500' },
      unchanged: true,
    });
    assert.deepEqual(await exec.run(action({ method: 'GET', url: `${target.url}/fine` }), ctx()), { ok: true, detail: `GET ${target.url}/fine → 200`, facts: { status: '200' }, unchanged: true });
    // Any other method's error answer may have changed something.
    target.route('POST', '/status', { status: 500 });
    assert.deepEqual(await exec.run(action({ url: `${target.url}/status` }), ctx()), { ok: false, detail: `POST ${target.url}/status → 500, expected 200-299`, facts: { status: '500' } });
  });

  it('a deadline that passes before the request was handed to a connection is "not sent", and says so', async () => {
    const waitsThenNotSent = (_url: string | URL, init: { signal: AbortSignal }) =>
      new Promise<never>((_resolve, reject) => init.signal.addEventListener('abort', () => reject(new RequestNotSentError(init.signal.reason)), { once: true }));
    const out = await createHttpActionExecutor({ request: waitsThenNotSent }).run(action({ timeoutMs: 50 }), ctx());
    assert.deepEqual(out, { ok: false, detail: `POST ${target.url}/restart not sent: timed out after 50ms while connecting`, unchanged: true });
  });

  // Regression: fetch refuses such URLs with an error message that quotes the URL,
  // password included, which went straight into the detail.
  it('refuses credentials in the URL without echoing them', async () => {
    const out = await createHttpActionExecutor().run(action({ url: `http://user:pw-secret@${target.hostPort}/restart` }), ctx());
    assert.deepEqual(out, {
      ok: false,
      detail: `POST ${target.url}/restart not sent: credentials in the URL are not supported: send them in a header, e.g. Authorization: Basic \${env:NAME}`,
      unchanged: true,
    });
    assert.equal(target.calls('/restart'), 0);
  });

  it('at most maxInFlightPerOrigin requests to one origin at once; the rest wait their turn and all are sent once', async () => {
    let inFlight = 0;
    let most = 0;
    let received = 0;
    const server = createServer((req, res) => {
      received++;
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end();
      }, 60);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const exec = createHttpActionExecutor({ maxInFlightPerOrigin: 2 });
      const outs = await Promise.all(Array.from({ length: 7 }, (_, i) => exec.run(action({ url: `${url}/restart/${i}` }), ctx())));
      assert.deepEqual(outs.map((o) => o.ok), [true, true, true, true, true, true, true]);
      assert.equal(received, 7);
      assert.equal(most, 2);
    } finally {
      server.close();
    }
  });

  it('a request whose deadline passes while it waits for a slot is not sent, and says so', async () => {
    let received = 0;
    const server = createServer((_req, res) => {
      received++;
      setTimeout(() => res.writeHead(200).end(), 400);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const exec = createHttpActionExecutor({ maxInFlightPerOrigin: 1 });
      const first = exec.run(action({ url: `${url}/slow` }), ctx());
      const second = await exec.run(action({ url: `${url}/queued`, timeoutMs: 100 }), ctx());
      assert.deepEqual(second, { ok: false, detail: `POST ${url}/queued not sent: timed out after 100ms waiting behind 1 requests in flight to ${url}`, unchanged: true });
      assert.equal((await first).ok, true);
      assert.equal(received, 1, 'the queued request never left');
      // The slot it waited for is not lost: the next request goes through.
      assert.equal((await exec.run(action({ url: `${url}/after` }), ctx())).ok, true);
      assert.equal(received, 2);
    } finally {
      server.close();
    }
  });

  it('judges the status as soon as it comes: a body trickled a byte at a time is not waited for, and its connection is closed within a second', async (t) => {
    // Its own server: the status and headers at once, then one byte every 50 ms, forever.
    const { base, closed } = await startTricklingServer(t, (url) => (url === '/fail' ? 500 : 202));
    const started = Date.now();
    const ok = await createHttpActionExecutor().run(action({ url: `${base}/restart`, timeoutMs: 3_000 }), ctx());
    const took = Date.now() - started;
    assert.deepEqual(ok, { ok: true, detail: `POST ${base}/restart → 202`, facts: { status: '202' } });
    assert.ok(took < 800, `took ${took}ms: the body was waited for`);
    // A failing status is told as itself, not as "timed out … (the request may have reached the target)".
    const failed = await createHttpActionExecutor().run(action({ url: `${base}/fail`, timeoutMs: 3_000 }), ctx());
    assert.deepEqual(failed, { ok: false, detail: `POST ${base}/fail → 500, expected 200-299`, facts: { status: '500' } });
    // Both bodies still trickling are cut off within the discard's second.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(closed(), 2);
  });
});

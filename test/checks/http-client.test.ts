import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent, buildConnector, errors, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { httpRequest, RequestNotSentError } from '../../src/checks/http-client.js';

/**
 * The HTTP client of actions, checks and notifications, against a real local
 * server: redirects are answers, not hops; a small body let go leaves the
 * connection for the next request; a body past the limit is refused; a deadline
 * ends a request that never answers.
 */
describe('http client', () => {
  let server: Server;
  let base: string;
  const connections: number[] = [];
  const requests: Array<{ method: string; url: string; body: string; contentType: string | undefined }> = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        requests.push({ method: req.method!, url: req.url!, body, contentType: req.headers['content-type'] });
        if (req.url === '/moved') {
          res.writeHead(302, { location: '/elsewhere' });
          res.end();
        } else if (req.url === '/big') {
          res.end('x'.repeat(200_000));
        } else if (req.url === '/silent') {
          // Never answers.
        } else res.end('ok');
      });
    });
    let n = 0;
    server.on('connection', () => connections.push(++n));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('answers a 3xx as itself and never follows it', async () => {
    requests.length = 0;
    const res = await httpRequest(`${base}/moved`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 302);
    assert.equal(res.header('Location'), '/elsewhere');
    await res.discard();
    assert.deepEqual(requests, [{ method: 'POST', url: '/moved', body: '{"a":1}', contentType: 'application/json' }], 'one request, to the URL given');
  });

  it('a small body let go leaves the connection for the next request', async () => {
    const before = connections.length;
    for (let i = 0; i < 3; i++) {
      const res = await httpRequest(`${base}/ok`, { method: 'GET', signal: AbortSignal.timeout(5_000) });
      assert.equal(res.status, 200);
      await res.discard();
    }
    assert.ok(connections.length - before <= 1, `three requests in turn used ${connections.length - before} new connections`);
  });

  it('reads a body within the limit and refuses one past it, with the caller’s message', async () => {
    const ok = await httpRequest(`${base}/ok`, { method: 'GET', signal: AbortSignal.timeout(5_000) });
    assert.equal(await ok.text(1_000, 'too large'), 'ok');
    const big = await httpRequest(`${base}/big`, { method: 'GET', signal: AbortSignal.timeout(5_000) });
    await assert.rejects(big.text(100_000, 'answer larger than 100 kB'), /^Error: answer larger than 100 kB$/);
  });

  it('ends a request that never answers at its deadline, as a TimeoutError', async () => {
    await assert.rejects(httpRequest(`${base}/silent`, { method: 'GET', signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
  });

  it('a request refused while it is built rejects as RequestNotSentError, and nothing reaches the server', async () => {
    const before = requests.length;
    const signal = AbortSignal.timeout(5_000);
    const notSent = (message: string) => (err: unknown) => {
      assert.ok(err instanceof RequestNotSentError, String(err));
      assert.equal(err.code, 'REQUEST_NOT_SENT');
      assert.equal(err.message, message);
      return true;
    };
    await assert.rejects(httpRequest(`${base}/ok`, { method: 'POST', headers: { 'X-Team': 'платежи' }, signal }), notSent('invalid X-Team header'));
    await assert.rejects(httpRequest(`${base}/ok`, { method: 'POST', headers: { 'X-Note': 'a\r\nX-Admin: 1' }, signal }), notSent('invalid X-Note header'));
    // Thrown by the client before it returns (the URL is parsed first).
    await assert.rejects(httpRequest('http://[bad', { method: 'GET', signal }), notSent('Invalid URL'));
    assert.equal(requests.length, before);
    // A timeout is not "not sent": the request may have been written.
    await assert.rejects(httpRequest(`${base}/silent`, { method: 'GET', signal: AbortSignal.timeout(200) }), (err: unknown) => !(err instanceof RequestNotSentError));
  });

  const notSentAs = (message: string) => (err: unknown) => {
    assert.ok(err instanceof RequestNotSentError, String(err));
    assert.equal(err.message, message);
    return true;
  };

  // Regression: a refused connection or an unknown host was reported as "may have
  // been sent", so the runner rolled back a change that never happened.
  it('a request that never got a connection rejects as RequestNotSentError: connection refused, host not found', async () => {
    const signal = AbortSignal.timeout(5_000);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(httpRequest(`http://127.0.0.1:${port}/x`, { method: 'POST', body: '{}', signal }), notSentAs('connection refused'));
    await assert.rejects(httpRequest(`http://localhost:${port}/x`, { method: 'POST', body: '{}', signal }), notSentAs('connection refused'));
  });

  describe('with the connect phase of the client stood in for', () => {
    let saved: Dispatcher;
    before(() => {
      saved = getGlobalDispatcher();
    });
    after(() => setGlobalDispatcher(saved));
    const connectingWith = (connect: buildConnector.connector): void => setGlobalDispatcher(new Agent({ connect }));
    const fails = (err: Error): buildConnector.connector => (_opts, cb) => setImmediate(() => cb(err, null));

    it('every error of the connect phase is "not sent": DNS, connect timeout, a TLS handshake, anything the connector reports', async () => {
      const signal = AbortSignal.timeout(5_000);
      const cases: Array<[Error, string]> = [
        [Object.assign(new Error('getaddrinfo ENOTFOUND no-such-host.invalid'), { code: 'ENOTFOUND', syscall: 'getaddrinfo' }), 'host not found'],
        [Object.assign(new Error('getaddrinfo EAI_AGAIN api.shop'), { code: 'EAI_AGAIN', syscall: 'getaddrinfo' }), 'host lookup failed (try again)'],
        [new errors.ConnectTimeoutError(), 'connection timed out'],
        [Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'self-signed certificate'],
        // A reset during connect is still before the request was written.
        [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }), 'connection reset'],
      ];
      const before = requests.length;
      for (const [err, message] of cases) {
        connectingWith(fails(err));
        await assert.rejects(httpRequest(`${base}/ok`, { method: 'POST', body: '{}', signal }), notSentAs(message), message);
      }
      assert.equal(requests.length, before);
    });

    it('a deadline that passes while the connection is being made: not sent, even when the connection comes after', async () => {
      const real = buildConnector({});
      connectingWith((opts, cb) => setTimeout(() => real(opts, cb), 300));
      const before = requests.length;
      await assert.rejects(httpRequest(`${base}/ok`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(50) }), (err: unknown) => {
        assert.ok(err instanceof RequestNotSentError, String(err));
        assert.equal((err.cause as Error).name, 'TimeoutError');
        return true;
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(requests.length, before, 'nothing reached the server');
    });

    // Regression: the client records a deadline that passes while it connects and acts
    // on it only once the connection is made or its own 10 s connect timeout fires, so
    // an action to a host that drops SYNs waited 10 s whatever its timeout_seconds.
    it('a connection that never comes: rejected at the deadline, not sent, and the connection is not used when it comes', async () => {
      const real = buildConnector({});
      connectingWith((opts, cb) => setTimeout(() => real(opts, cb), 1_500));
      const before = requests.length;
      const started = performance.now();
      const settled = await Promise.race([
        httpRequest(`${base}/ok`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(100) }).then(
          () => 'answered',
          (err: unknown) => (err instanceof RequestNotSentError && (err.cause as Error).name === 'TimeoutError' ? 'not sent' : String(err)),
        ),
        new Promise((r) => setTimeout(() => r('still waiting at 1 s'), 1_000)),
      ]);
      assert.equal(settled, 'not sent');
      assert.ok(performance.now() - started < 1_000);
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(requests.length, before, 'nothing reached the server');
    });
  });

  it('a connection lost after the request was written may have been sent: a reset on a reused socket, on a fresh one, a deadline', async () => {
    let n = 0;
    const flaky = createServer((req, res) => {
      n++;
      if (req.url === '/first') return void res.end('ok');
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    try {
      const signal = AbortSignal.timeout(5_000);
      const first = await httpRequest(`${url}/first`, { method: 'GET', signal });
      await first.discard();
      const maybeSent = (err: unknown) => !(err instanceof RequestNotSentError);
      // The keep-alive socket of the first request, closed after the second was written.
      await assert.rejects(httpRequest(`${url}/reused`, { method: 'POST', body: '{}', signal }), maybeSent);
      await assert.rejects(httpRequest(`${url}/fresh`, { method: 'POST', body: '{}', signal }), maybeSent);
      assert.equal(n, 3, 'each request reached the server');
      await assert.rejects(httpRequest(`${base}/silent`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(200) }), maybeSent);
    } finally {
      flaky.closeAllConnections();
      flaky.close();
    }
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { createErrorHandler } from '../../src/api/errors.js';

/** A server whose POST /x reads its body, waits, then fails; what the error handler did with it. */
async function server(): Promise<{ port: number; logs: Array<{ level: number; msg: string }>; abandoned: () => number; close: () => Promise<void> }> {
  const logs: Array<{ level: number; msg: string }> = [];
  const app = Fastify({ logger: { level: 'debug', stream: { write: (l: string) => logs.push(JSON.parse(l)) } } });
  let abandoned = 0;
  app.setErrorHandler(createErrorHandler({ bodyLimitBytes: 1e6, onAbandoned: () => abandoned++ }));
  app.post('/x', async () => {
    await new Promise((r) => setTimeout(r, 300));
    throw new TypeError("Cannot read properties of undefined (reading 'id')");
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, logs, abandoned: () => abandoned, close: () => app.close() };
}

describe('a request whose sender closed the connection', () => {
  it('after its body arrived whole, then failed: logged as the failure it is, not taken for an abandoned send', async () => {
    const s = await server();
    try {
      const req = request({ host: '127.0.0.1', port: s.port, method: 'POST', path: '/x', headers: { 'content-type': 'application/json' } });
      req.on('error', () => {});
      req.end('{"a":1}');
      // The caller's own timeout, while the handler still works.
      setTimeout(() => req.destroy(), 100);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(s.abandoned(), 0);
      assert.deepEqual(
        s.logs.filter((l) => l.level >= 50 || /closed by its sender|closed the connection/.test(l.msg)).map((l) => [l.level, l.msg]),
        [[50, 'unexpected error']],
      );
    } finally {
      await s.close();
    }
  });

  it('mid-body: an abandoned send, not a failure', async () => {
    const s = await server();
    try {
      const socket = connect(s.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":');
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(s.abandoned(), 1);
      assert.deepEqual(s.logs.filter((l) => l.level >= 50), []);
    } finally {
      await s.close();
    }
  });
});

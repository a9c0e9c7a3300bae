import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTokenAuth, installAuth } from '../../src/api/auth.js';
import { createTestLogger, type TestLogger } from '../../src/observability/logger.js';
import { issueToken } from '../helpers/tokens.js';
import { until } from '../helpers/until.js';

/**
 * Requests refused 401 are logged at most once per reason and sender address per window:
 * a scanner, or a sender with a wrong token, would otherwise write a warning per request.
 * The ones in between are counted and told in one line when the window ends. The answers
 * are the same for every request.
 */

const WINDOW_MS = 1_500;
const NOW = 'request refused: not authenticated';
const MISSING = 'an API token is required: send "Authorization: Bearer <token>"';
const INVALID = 'the API token is not valid';
const MALFORMED = 'the Authorization header must be "Bearer <token>"';
const more = (n: number) => `${n} more requests refused: not authenticated, in the last 1.5 s`;

describe('the log of unauthenticated requests', () => {
  let app: FastifyInstance;
  let log: TestLogger;
  let port: number;
  const viewer = issueToken('grafana', ['viewer']);

  before(async () => {
    log = createTestLogger({ capture: true });
    app = Fastify();
    installAuth(app, createTokenAuth([{ name: viewer.name, roles: ['viewer'], sha256: viewer.sha256 }]), log.logger, { windowMs: WINDOW_MS, maxKeys: 3 });
    app.get('/api/v1/audit', async () => ({ ok: true }));
    app.get('/readyz', async () => ({ status: 'ready' }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(async () => app.close());

  /** A real request from `from` (any 127.x address reaches the loopback listener). */
  function get(headers: Record<string, string> = {}, from = '127.0.0.1', path = '/api/v1/audit'): Promise<{ status: number; body: string; auth: string | undefined }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers, localAddress: from, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, auth: res.headers['www-authenticate'] as string | undefined }));
      });
      req.on('error', reject);
      req.end();
    });
  }
  const fresh = (since: number) => log.records().slice(since).filter((r) => r.msg !== undefined && String(r.msg).includes('refused'));
  const shown = (r: Record<string, unknown>) => [r.msg, r.reason, r.remote_address, r.more ?? null];

  it('a flood from one sender: the first told at once, the rest counted into one line a window, every answer a 401', async () => {
    const start = log.lines.length;
    for (let i = 0; i < 5; i++) {
      const r = await get();
      assert.deepEqual([r.status, JSON.parse(r.body).error.code, JSON.parse(r.body).error.message, r.auth], [401, 'UNAUTHORIZED', MISSING, 'Bearer realm="rectify"']);
    }
    // Another reason from the same sender is a key of its own: told at once.
    assert.equal((await get({ authorization: 'Bearer rct_wrong' })).status, 401);
    assert.equal((await get({ authorization: 'Bearer rct_wrong' })).status, 401);
    assert.equal((await get({ authorization: 'Basic x' })).status, 401);
    assert.equal((await get({ authorization: `Bearer ${viewer.token}` })).status, 200);
    assert.deepEqual(fresh(start).map(shown), [
      [NOW, MISSING, '127.0.0.1', null],
      [NOW, INVALID, '127.0.0.1', null],
      [NOW, MALFORMED, '127.0.0.1', null],
    ]);
    const first = fresh(start)[0]!;
    assert.deepEqual([first.route, typeof first.reqId, first.level], ['GET /api/v1/audit', 'string', 'warn']);
    // The window ends: one line for each key that counted some.
    await until('the window to end', async () => (fresh(start).length === 5 ? true : undefined), 10_000);
    assert.deepEqual(fresh(start).slice(3).map(shown).sort(), [
      [more(1), INVALID, '127.0.0.1', 1],
      [more(4), MISSING, '127.0.0.1', 4],
    ]);
    assert.deepEqual([fresh(start)[3]!.window_s, fresh(start)[3]!.last_route, fresh(start)[3]!.level], [1.5, 'GET /api/v1/audit', 'warn']);

    // The flood goes on into the next window: counted, not told at once.
    const next = log.lines.length;
    for (let i = 0; i < 2; i++) assert.equal((await get()).status, 401);
    assert.deepEqual(fresh(next), []);
    await until('the next window to end', async () => (fresh(next).length === 1 ? true : undefined), 10_000);
    assert.deepEqual(fresh(next).map(shown), [[more(2), MISSING, '127.0.0.1', 2]]);
    // A window with none ends it: the next refusal is told at once again.
    await new Promise((r) => setTimeout(r, WINDOW_MS * 2 + 100));
    const quiet = log.lines.length;
    assert.equal((await get()).status, 401);
    assert.deepEqual(fresh(quiet).map(shown), [[NOW, MISSING, '127.0.0.1', null]]);
    await new Promise((r) => setTimeout(r, WINDOW_MS * 2 + 100));
    assert.deepEqual(fresh(quiet).length, 1, 'nothing counted, nothing summed up');
  });

  it('keys are bounded: past the cap, new addresses are counted together under "*"', async () => {
    await new Promise((r) => setTimeout(r, WINDOW_MS * 2 + 100));
    const start = log.lines.length;
    // Three keys at most: 127.0.0.1 .2 .3 take them; .4, .5 and .6 share one.
    for (const from of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.4']) {
      assert.equal((await get({}, from)).status, 401);
    }
    assert.deepEqual(fresh(start).map(shown), [
      [NOW, MISSING, '127.0.0.1', null],
      [NOW, MISSING, '127.0.0.2', null],
      [NOW, MISSING, '127.0.0.3', null],
      [NOW, MISSING, '127.0.0.4', null],
    ]);
    await until('the window to end', async () => (fresh(start).length === 5 ? true : undefined), 10_000);
    assert.deepEqual(fresh(start).slice(4).map(shown), [[more(3), MISSING, '*', 3]]);
  });

  it('a wrong token at a probe is logged as at any route, counted the same way; the probe is answered all the same, and a probe without a token or with a valid one is not logged', async () => {
    await new Promise((r) => setTimeout(r, WINDOW_MS * 2 + 100));
    const start = log.lines.length;
    for (let i = 0; i < 5; i++) assert.deepEqual([(await get({ authorization: `Bearer rct_guess${i}` }, '127.0.0.1', '/readyz')).status], [200]);
    assert.equal((await get({}, '127.0.0.1', '/readyz')).status, 200);
    assert.equal((await get({ authorization: `Bearer ${viewer.token}` }, '127.0.0.1', '/readyz')).status, 200);
    assert.deepEqual(fresh(start).map(shown), [[NOW, INVALID, '127.0.0.1', null]]);
    assert.equal(fresh(start)[0]!.route, 'GET /readyz');
    await until('the window to end', async () => (fresh(start).length === 2 ? true : undefined), 10_000);
    assert.deepEqual(fresh(start).slice(1).map(shown), [[more(4), INVALID, '127.0.0.1', 4]]);
    assert.equal(fresh(start)[1]!.last_route, 'GET /readyz');
    assert.ok(!log.lines.slice(start).join('\n').includes('rct_guess'));
  });

  it('what is counted when the app closes is told then', async () => {
    await new Promise((r) => setTimeout(r, WINDOW_MS * 2 + 100));
    const start = log.lines.length;
    for (let i = 0; i < 3; i++) assert.equal((await get({ authorization: 'Bearer rct_wrong' })).status, 401);
    await app.close();
    assert.deepEqual(fresh(start).map(shown), [
      [NOW, INVALID, '127.0.0.1', null],
      [more(2), INVALID, '127.0.0.1', 2],
    ]);
  });
});

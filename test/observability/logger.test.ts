import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configSummary, loadConfig } from '../../src/config/index.js';
import { createLogger, createTestLogger, redactSecrets, REDACTED } from '../../src/observability/index.js';
import { startTestService } from '../helpers/service.js';
import { bearer, issueToken, writeTokensFile } from '../helpers/tokens.js';

describe('logger redaction', () => {
  it('redacts an Authorization header on a request and never writes the secret', () => {
    const t = createTestLogger();
    t.logger.info(
      { req: { method: 'POST', url: '/api/v1/pause', headers: { authorization: 'Bearer s3cr3t-bearer', host: 'x' } } },
      'request received',
    );
    const all = t.lines.join('\n');
    assert.doesNotMatch(all, /s3cr3t-bearer/);
    const rec = t.records()[0]!;
    assert.equal(rec['msg'], 'request received');
    assert.equal(rec['level'], 'info');
    assert.deepEqual(rec['req'], {
      method: 'POST',
      url: '/api/v1/pause',
      headers: { authorization: REDACTED, host: 'x' },
    });
  });

  it('redacts tokens, passwords, secrets and api keys at the nestings call sites use', () => {
    const t = createTestLogger();
    t.logger.warn(
      {
        token: 'tok-0',
        approval: { id: 'apr_1', token: 'tok-1' },
        step: { action: { password: 'pw-2', http: { headers: { Authorization: 'Basic b-3', 'x-api-key': 'key-4' } } } },
        target: { secret: 'sec-5' },
      },
      'step failed',
    );
    const all = t.lines.join('\n');
    for (const secret of ['tok-0', 'tok-1', 'pw-2', 'b-3', 'key-4', 'sec-5']) assert.doesNotMatch(all, new RegExp(secret));
    const rec = t.records()[0]!;
    assert.deepEqual(rec['approval'], { id: 'apr_1', token: REDACTED });
  });

  it('redacts in child loggers too', () => {
    const t = createTestLogger();
    t.logger.child({ executionId: 'exe_1' }).error({ headers: { authorization: 'Bearer child-secret' } }, 'call failed');
    assert.doesNotMatch(t.lines.join('\n'), /child-secret/);
    assert.equal(t.records()[0]!['executionId'], 'exe_1');
  });

  it('redacts by key at any depth and in any letter case, inside arrays too', () => {
    const t = createTestLogger();
    t.logger.info(
      {
        a: { b: { c: { d: { e: { Token: 'deep-1', kept: 'visible-1' } } } } },
        list: [{ password: 'arr-2' }, 'plain'],
        req: { headers: { 'Proxy-Authorization': 'p-3', 'Set-Cookie': 'c-4', 'X-API-KEY': 'k-5', accept: 'json' } },
        ApiKey: 'k-6',
      },
      'many nestings',
    );
    const all = t.lines.join('\n');
    for (const secret of ['deep-1', 'arr-2', 'p-3', 'c-4', 'k-5', 'k-6']) assert.doesNotMatch(all, new RegExp(secret));
    const rec = t.records()[0]! as any;
    assert.deepEqual(rec.a.b.c.d.e, { Token: REDACTED, kept: 'visible-1' });
    assert.deepEqual(rec.list, [{ password: REDACTED }, 'plain']);
    assert.deepEqual(rec.req.headers, { 'Proxy-Authorization': REDACTED, 'Set-Cookie': REDACTED, 'X-API-KEY': REDACTED, accept: 'json' });
  });

  it('an error keeps its type and message, and a secret it carries is redacted', () => {
    const t = createTestLogger();
    const err = Object.assign(new Error('call failed'), { code: 'E_TARGET', headers: { authorization: 'Bearer err-7' } });
    t.logger.error({ err }, 'action failed');
    t.logger.error(new Error('bare error'));
    assert.doesNotMatch(t.lines.join('\n'), /err-7/);
    const [first, second] = t.records() as any[];
    assert.equal(first.err.type, 'Error');
    assert.equal(first.err.message, 'call failed');
    assert.equal(first.err.code, 'E_TARGET');
    assert.deepEqual(first.err.headers, { authorization: REDACTED });
    assert.match(first.err.stack, /call failed/);
    assert.equal(second.err.type, 'Error');
    assert.equal(second.msg, 'bare error');
    // The error itself is not changed.
    assert.equal(err.headers.authorization, 'Bearer err-7');
  });

  it("bytes an error or a line carries (a parse error's rawPacket, a typed array) are written as their length, never their content", () => {
    const t = createTestLogger();
    const raw = Buffer.from('GET / HTTP/1.1\r\nAuthorization: Bearer rct_bytes-secret-8\r\n\r\n');
    const err = Object.assign(new Error('Parse Error: Invalid header token'), { code: 'HPE_INVALID_HEADER_TOKEN', rawPacket: raw });
    t.logger.debug({ err }, 'request refused before it could be read');
    t.logger.debug({ error: err, packet: { bytes: new Uint8Array(raw), view: new DataView(raw.buffer, raw.byteOffset, raw.byteLength) }, list: [raw.buffer] }, 'other');
    const all = t.lines.join('\n');
    assert.doesNotMatch(all, /bytes-secret-8/);
    // Nor as the numbers JSON would write a Buffer's or typed array's bytes as ("Bearer" = 66,101,97,114,101,114).
    assert.doesNotMatch(all, /66,101,97,114,101,114|"0":/);
    const [first, second] = t.records() as any[];
    assert.deepEqual([first.err.code, first.err.message, first.err.rawPacket], ['HPE_INVALID_HEADER_TOKEN', 'Parse Error: Invalid header token', `[${raw.length} bytes]`]);
    assert.equal(second.error.rawPacket, `[${raw.length} bytes]`);
    assert.deepEqual(second.packet, { bytes: `[${raw.length} bytes]`, view: `[${raw.length} bytes]` });
    assert.equal(second.list[0], `[${raw.buffer.byteLength} bytes]`);
    // The error itself is not changed.
    assert.equal(err.rawPacket, raw);
  });

  it('secrets inside an AggregateError and a cause chain, secret-named keys of every spelling, and credentials in a URL are not written', () => {
    const t = createTestLogger();
    const inner = Object.assign(new Error('connect refused'), { headers: { authorization: 'Bearer agg-1' } });
    const cause = Object.assign(new Error('upstream'), { config: { client_secret: 'cause-2' } });
    t.logger.error({ err: new AggregateError([inner], 'all addresses failed', { cause }) }, 'request failed');
    t.logger.warn(
      {
        'x-slack-signature': 'v0=sig-3',
        'x-auth-token': 'tok-4',
        access_token: 'tok-5',
        signingSecret: 'sec-6',
        webhookUrl: 'https://hooks.example/T/B/hook-7',
        bearer: 'b-8',
        target: new URL('https://user:pw-9@api.example/path?q=1'),
        token_name: 'ci-bot',
        tokens: ['ci-bot', 'oncall'],
      },
      'many keys',
    );
    const text = t.lines.join('\n');
    for (const secret of ['agg-1', 'cause-2', 'sig-3', 'tok-4', 'tok-5', 'sec-6', 'hook-7', 'b-8', 'pw-9']) assert.doesNotMatch(text, new RegExp(secret), secret);
    const second = (t.records() as any[])[1];
    assert.equal(second.target, 'https://api.example/path?…');
    assert.equal(second.token_name, 'ci-bot', 'a name is not a secret');
    assert.deepEqual(second.tokens, ['ci-bot', 'oncall']);
  });

  it('the startup summary line says of each secret null (not set) or "set", never [REDACTED] for one not configured', () => {
    const hook = 'https://hooks.slack.com/services/T0/B0/hookSECRET';
    const cases: Array<[string[], unknown]> = [
      [[], null],
      [['--slack-signing-secret', '0123456789abcdef0123456789abcdef', '--slack-webhook-url', hook, '--audit-key', 'k'.repeat(32)], 'set'],
      [['--slack-signing-secret', '${file:/run/secrets/slack-signing-secret}'], '${file:/run/secrets/slack-signing-secret}'],
    ];
    for (const [argv, shown] of cases) {
      const loaded = loadConfig(argv, {}, { cwd: '/' });
      assert.ok('config' in loaded, JSON.stringify(loaded));
      const t = createTestLogger();
      t.logger.info({ config: configSummary(loaded.config) }, 'rectify serving');
      const config = t.records()[0]!['config'] as Record<string, unknown>;
      assert.equal(config['slackSigningSecret'], shown, argv.join(' '));
      const set = argv.length > 2;
      assert.deepEqual([config['slackWebhookUrl'], config['auditKey']], set ? ['set', 'set'] : [null, null]);
      assert.doesNotMatch(t.lines.join('\n'), /0123456789abcdef|hookSECRET|kkkk/);
    }
    // A null under a secret key holds nothing to hide; a value still is hidden.
    assert.deepEqual(redactSecrets({ token: null, secret: 'x' }), { token: null, secret: REDACTED });
  });

  it("never changes the caller's objects, and returns them as they are when nothing is secret", () => {
    const t = createTestLogger();
    const line = { token: 'own-8', nested: { password: 'own-9', n: 1 } };
    t.logger.info(line, 'logged');
    assert.deepEqual(line, { token: 'own-8', nested: { password: 'own-9', n: 1 } });
    assert.deepEqual(t.records()[0]!['nested'], { password: REDACTED, n: 1 });
    const clean = { a: { b: [1, 2, { c: 'x' }] } };
    assert.equal(redactSecrets(clean), clean);
    const secret = { a: { token: 't' }, b: { c: 1 } };
    const out = redactSecrets(secret);
    assert.notEqual(out, secret);
    assert.equal(out.b, secret.b, 'branches without a secret are shared, not copied');
  });

  it('censors what is nested too deep to walk, and a cycle ends', () => {
    const t = createTestLogger();
    let deep: Record<string, unknown> = { token: 'too-deep-10' };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    t.logger.info({ deep, cyclic }, 'deep');
    assert.doesNotMatch(t.lines.join('\n'), /too-deep-10/);
    let node = (t.records()[0] as any).deep;
    let levels = 0;
    while (typeof node === 'object') {
      node = node.next;
      levels++;
    }
    assert.equal(node, REDACTED);
    assert.equal(levels, 11);
  });

  it('leaves class instances to their serializer or toJSON (Fastify logs its request and reply objects)', () => {
    const t = createTestLogger();
    class RequestLike {
      raw = { headers: { host: 'x' } };
      get method(): string {
        return 'POST';
      }
      get url(): string {
        return '/api/v1/incidents';
      }
    }
    class Box {
      inner = { kept: 1 };
      toJSON(): unknown {
        return { kind: 'box' };
      }
    }
    const fastifyLike = t.logger.child({}, { serializers: { req: (r: RequestLike) => ({ method: r.method, url: r.url }) } });
    fastifyLike.error({ req: new RequestLike(), box: new Box(), err: new Error('handler failed') }, 'request errored');
    const rec = t.records()[0] as any;
    assert.deepEqual(rec.req, { method: 'POST', url: '/api/v1/incidents' });
    assert.deepEqual(rec.box, { kind: 'box' });
    assert.equal(rec.err.message, 'handler failed');
  });

  it("redacts a child logger's own bindings", () => {
    const t = createTestLogger();
    t.logger.child({ execution_id: 'exe_2', token: 'bind-11', 'Set-Cookie': 'sc-12', API_KEY: 'ak-13', Password: 'pw-14' }).info('bound');
    for (const secret of ['bind-11', 'sc-12', 'ak-13', 'pw-14']) assert.doesNotMatch(t.lines.join('\n'), new RegExp(secret));
    assert.equal(t.records()[0]!['token'], REDACTED);
    assert.equal(t.records()[0]!['execution_id'], 'exe_2');
  });

  it('respects the level and can be silent', () => {
    const info = createTestLogger({ level: 'info' });
    info.logger.debug('hidden');
    info.logger.info('shown');
    assert.deepEqual(info.records().map((r) => r['msg']), ['shown']);
    const silent = createTestLogger({ capture: false });
    silent.logger.error('nothing');
    assert.deepEqual(silent.lines, []);
  });

  it('createLogger writes JSON lines to a given destination', () => {
    const out: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void out.push(s) } });
    log.info({ n: 1 }, 'hello');
    assert.equal(out.length, 1);
    const rec = JSON.parse(out[0]!) as Record<string, unknown>;
    assert.equal(rec['n'], 1);
    assert.match(String(rec['time']), /^\d{4}-\d\d-\d\dT/);
  });
});

describe('5xx log lines', () => {
  it('name the request: its id, method, route and caller; the cause is in the err, not an empty field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-5xx-'));
    const ingest = issueToken('alertmanager', ['ingest', 'viewer']);
    const svc = await startTestService({ captureLogs: true, args: ['--tokens', writeTokensFile(dir, [ingest])] });
    try {
      // The database file gone: intake answers 503, told by the first such answer's line.
      renameSync(svc.dbPath, `${svc.dbPath}.gone`);
      const r = await svc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: { root_cause: 'Broken', service: 'web', confidence: 1 }, headers: bearer(ingest) });
      assert.equal(r.statusCode, 503);
      const failed = svc.log.records().filter((l) => String(l.msg).startsWith('requests are answered 503 STORE_UNAVAILABLE'));
      assert.equal(failed.length, 1);
      const { reqId, method, route, caller } = failed[0]!;
      assert.deepEqual({ method, route, caller }, { method: 'POST', route: '/api/v1/incidents', caller: 'alertmanager' });
      assert.equal(typeof reqId, 'string');
      assert.equal(failed[0]!.err !== undefined, true);
      // Its cause is in the err (the serializer writes it), and said as text beside it, never an Error under a key of its own written as {}.
      assert.match(String(failed[0]!.cause), /^the database file .* was removed while rectify ran/);
      assert.match((failed[0]!.err as { stack: string }).stack, /\ncaused by: Error: the database file .* was removed while rectify ran/);
      renameSync(`${svc.dbPath}.gone`, svc.dbPath);
      // The store closed under a read: 500, logged as "unexpected error".
      svc.service.store.close();
      const g = await svc.app.inject({ method: 'GET', url: '/api/v1/incidents/inc_1', headers: bearer(ingest) });
      assert.equal(g.statusCode, 500);
      const unexpected = svc.log.records().filter((l) => l.msg === 'unexpected error');
      assert.equal(unexpected.length, 1);
      assert.deepEqual(
        { method: unexpected[0]!.method, route: unexpected[0]!.route, caller: unexpected[0]!.caller, reqId: unexpected[0]!.reqId },
        { method: 'GET', route: '/api/v1/incidents/:id', caller: 'alertmanager', reqId: JSON.parse(g.body).error.message.match(/request (\S+)\)/)[1] },
      );
    } finally {
      await svc.stop({ remove: true }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a request Node cannot read', () => {
  it('is logged with why it was refused, never its bytes: a bearer token it carried is not in the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-rawpacket-'));
    const viewer = issueToken('dashboard', ['viewer']);
    // At trace, as --log-level trace|debug would write it.
    const svc = await startTestService({ captureLogs: true, args: ['--tokens', writeTokensFile(dir, [viewer])] });
    try {
      await svc.app.listen({ host: '127.0.0.1', port: 18500 });
      const sent = `GET /api/v1/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${viewer.token}\r\nBad Header: y\r\n\r\n`;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(18500, '127.0.0.1', () => socket.write(sent));
        let got = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (got += d));
        socket.on('error', reject);
        socket.on('close', () => resolve(got));
      });
      assert.match(answer, /^HTTP\/1\.1 400 /);
      const all = svc.log.lines.join('\n');
      assert.doesNotMatch(all, new RegExp(viewer.token));
      // Nor its bytes, as JSON writes a Buffer ("Bearer" = 66,101,97,114,101,114), nor base64 of them.
      assert.doesNotMatch(all, /66,101,97,114,101,114|"type":"Buffer"|rawPacket/);
      assert.doesNotMatch(all, new RegExp(Buffer.from(viewer.token).toString('base64').slice(0, 16)));
      const refused = svc.log.records().filter((l) => l.msg === 'request refused before it could be read');
      assert.equal(refused.length, 1);
      assert.deepEqual({ status: refused[0]!.status, client_error: refused[0]!.client_error, err: refused[0]!.err }, {
        status: 400,
        client_error: { code: 'HPE_INVALID_HEADER_TOKEN', reason: 'Invalid header token', message: 'Parse Error: Invalid header token', bytes_parsed: (refused[0]!.client_error as { bytes_parsed: number }).bytes_parsed },
        err: undefined,
      });
      assert.equal(typeof (refused[0]!.client_error as { bytes_parsed: unknown }).bytes_parsed, 'number');
    } finally {
      await svc.stop({ remove: true }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

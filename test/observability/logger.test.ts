import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, createTestLogger, REDACTED } from '../../src/observability/index.js';

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

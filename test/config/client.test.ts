import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadClientArgs, loadConfig } from '../../src/config/index.js';

describe('client settings', () => {
  it('flag over environment over the loopback default; command flags collected in order', () => {
    const def = loadClientArgs(['x', '--param', 'a=1', '--param', 'b=2'], {}, { param: 'string' });
    assert.ok(!('problems' in def));
    assert.deepEqual(def.client, { server: 'http://127.0.0.1:9095', token: undefined, timeoutMs: 10_000, actingTimeoutMs: 180_000, json: false });
    assert.deepEqual(def.flags, { param: ['a=1', 'b=2'] });
    assert.deepEqual(def.args, ['x']);
    const env = { RECTIFY_SERVER: 'https://rectify.example:8443/', RECTIFY_TOKEN: 'tok' };
    const fromEnv = loadClientArgs(['--json', '--timeout', '30s'], env);
    assert.ok(!('problems' in fromEnv));
    assert.deepEqual(fromEnv.client, { server: 'https://rectify.example:8443', token: 'tok', timeoutMs: 30_000, actingTimeoutMs: 30_000, json: true });
    const fromFlag = loadClientArgs(['--server', 'http://10.0.0.1:9095', '--token', 'other'], env);
    assert.ok(!('problems' in fromFlag));
    assert.equal(fromFlag.client.server, 'http://10.0.0.1:9095');
    assert.equal(fromFlag.client.token, 'other');
  });

  it('reports every problem at once, naming its source and never echoing a token', () => {
    const r = loadClientArgs(['--server', 'nope', '--timeout', 'soon', '--json=perhaps'], { RECTIFY_TOKEN: 'has space' });
    assert.ok('problems' in r);
    assert.deepEqual(
      r.problems.map((p) => `${p.file}: ${p.message}`),
      [
        '--json: expected true or false, got "perhaps"',
        '--server: expected an http:// or https:// URL, got a value that is not scheme://host (not shown: it may hold a secret)',
        'RECTIFY_TOKEN: expected a token without spaces or line breaks',
        '--timeout: expected a positive duration such as 30s, 5m or 1h, got "soon"',
      ],
    );
  });

  it('host:port without its scheme, the usual slip, is shown with the scheme it needs; a value that may hold a secret still is not', () => {
    const problems = (argv: string[], env: Record<string, string> = {}): string[] => {
      const r = loadClientArgs(argv, env);
      return 'problems' in r ? r.problems.map((p) => `${p.file}: ${p.message}`) : [];
    };
    assert.deepEqual(problems(['--server', 'localhost:9095']), ['--server: expected an http:// or https:// URL, got "localhost:9095" (with its scheme: http://localhost:9095)']);
    assert.deepEqual(problems([], { RECTIFY_SERVER: '[::1]:9095' }), ['RECTIFY_SERVER: expected an http:// or https:// URL, got "[::1]:9095" (with its scheme: http://[::1]:9095)']);
    assert.deepEqual(problems(['--server', 'alice:s3cret@rectify:9095']), ['--server: expected an http:// or https:// URL, got a value that is not scheme://host (not shown: it may hold a secret)']);
  });

  it('the service knows the client variables: not unknown ones, but read by the client commands only (RECTIFY_TOKEN set for serve is most likely RECTIFY_TOKENS)', () => {
    const loaded = loadConfig([], { RECTIFY_SERVER: 'http://x:1', RECTIFY_TOKEN: 't', RECTIFY_WRAPPER_HOME: '/opt' }, { cwd: '/nonexistent-dir' });
    assert.ok('config' in loaded);
    assert.deepEqual(
      loaded.config.warnings.map((w) => [w.file, w.message.startsWith('read by the client commands only')]),
      [['RECTIFY_SERVER', true], ['RECTIFY_TOKEN', true], ['RECTIFY_WRAPPER_HOME', false]],
    );
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { bearer, issueToken, tokensYaml } from '../helpers/tokens.js';

/**
 * A refused reload of the tokens file, the TLS pair or a `${file:}` Slack signing secret
 * keeps the previous one in force: said at /readyz (to a valid token) and counted in
 * rectify_setting_reloads_total, as a refused runbook reload is, never with a value.
 */

const RUNBOOK = 'runbooks:\n  fix:\n    risk: LOW\n    triggers: [Broken]\n    action:\n      http: {method: POST, url: "http://127.0.0.1:9/act"}\n';
const SECRET = 'slack-signing-secret-0123456789abcdef';
const viewer = issueToken('grafana', ['viewer']);

async function get(svc: TestService, url: string, token?: string) {
  const res = await svc.app.inject({ method: 'GET', url, headers: token ? bearer(token) : {} });
  return { status: res.statusCode, body: res.body };
}

const counts = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('rectify_setting_reloads_total{'))
    .sort();

describe('a refused reload of the tokens file, the TLS pair or the Slack signing secret', () => {
  it('is shown at /readyz, naming what was refused and that the previous one stays, and counted; never with a value; a reload that loads ends it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-settings-reload-'));
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=rectify', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const goodCert = readFileSync(cert, 'utf8');
    const tokens = join(dir, 'tokens.yaml');
    writeFileSync(tokens, tokensYaml([viewer]));
    const secret = join(dir, 'slack-secret');
    writeFileSync(secret, `${SECRET}\n`);
    const svc = await startTestService({
      runbooks: { 'r.yaml': RUNBOOK },
      args: ['--tokens', tokens, '--tls-cert', cert, '--tls-key', key, '--slack-signing-secret', `\${file:${secret}}`, '--slack-webhook-url', 'http://127.0.0.1:9/hook'],
    });
    try {
      const zero = [
        'rectify_setting_reloads_total{part="slack_signing_secret",outcome="ok"} 0',
        'rectify_setting_reloads_total{part="slack_signing_secret",outcome="refused"} 0',
        'rectify_setting_reloads_total{part="tls",outcome="ok"} 0',
        'rectify_setting_reloads_total{part="tls",outcome="refused"} 0',
        'rectify_setting_reloads_total{part="tokens",outcome="ok"} 0',
        'rectify_setting_reloads_total{part="tokens",outcome="refused"} 0',
      ];
      assert.deepEqual(counts((await get(svc, '/metrics', viewer.token)).body), zero);
      assert.equal(JSON.parse((await get(svc, '/readyz', viewer.token)).body).settings_reload_refused, undefined);

      // Three broken edits: a role that does not exist, a certificate that is not one, an emptied secret.
      writeFileSync(tokens, tokensYaml([{ ...viewer, roles: ['root'] }]));
      writeFileSync(cert, 'not a certificate\n');
      writeFileSync(secret, '\n');
      const report = await svc.service.reload();
      assert.equal(report.tokens?.ok, false);
      assert.equal(report.tls?.ok, false);
      assert.equal(report.slackSigningSecret?.ok, false);
      const at = new Date(svc.clock.now()).toISOString();
      const ready = await get(svc, '/readyz', viewer.token);
      assert.equal(ready.status, 200);
      const body = JSON.parse(ready.body);
      assert.deepEqual(body.settings_reload_refused, [
        { part: 'tokens', at, problems: (report.tokens as { problems: string[] }).problems, in_force: 'the previous API tokens stay in force' },
        { part: 'tls', at, problems: [(report.tls as { problem: string }).problem], in_force: 'the previous TLS certificate and key stay in force' },
        { part: 'slack_signing_secret', at, problems: [(report.slackSigningSecret as { problem: string }).problem], in_force: 'the previous Slack signing secret stays in force' },
      ]);
      assert.match(body.settings_reload_refused[0].problems[0], /tokens\.yaml/);
      assert.match(body.settings_reload_refused[1].problems[0], /tls\.crt.* holds no certificate/);
      assert.match(body.settings_reload_refused[2].problems[0], /slack-secret" is empty/);
      // No value shown: the token, its hash, the secret in force, the key.
      for (const value of [viewer.token, viewer.sha256, SECRET, readFileSync(key, 'utf8').split('\n')[1]!]) assert.ok(!ready.body.includes(value), value);
      // The previous tokens are in force (the viewer still reads), and a caller without one sees no detail.
      const anonymous = JSON.parse((await get(svc, '/readyz')).body);
      assert.deepEqual([anonymous.settings_reload_refused, anonymous.detail_withheld], [undefined, true]);
      assert.deepEqual(
        counts((await get(svc, '/metrics', viewer.token)).body),
        zero.map((l) => (l.includes('refused') ? l.replace(/ 0$/, ' 1') : l)),
      );

      // Fixed: a reload that loads each ends its refusal.
      writeFileSync(tokens, tokensYaml([viewer]));
      writeFileSync(cert, goodCert);
      writeFileSync(secret, `${SECRET}\n`);
      const fixed = await svc.service.reload();
      assert.deepEqual([fixed.tokens?.ok, fixed.tls, fixed.slackSigningSecret], [true, { ok: true }, { ok: true }]);
      assert.equal(JSON.parse((await get(svc, '/readyz', viewer.token)).body).settings_reload_refused, undefined);
      assert.deepEqual(counts((await get(svc, '/metrics', viewer.token)).body), zero.map((l) => l.replace(/ 0$/, ' 1')));
    } finally {
      await svc.stop({ remove: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

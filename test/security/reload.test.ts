import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRectifyProcess, type RectifyProcess } from '../helpers/process.js';
import { startTestService } from '../helpers/service.js';
import { aliasBomb, bearer, issueToken, tokensYaml } from '../helpers/tokens.js';

/** Resolves once `text` has appeared `count` times in the process output. */
async function waitForLog(p: RectifyProcess, text: string, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (p.output().split(text).length - 1 < count) {
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear ${count} time(s):\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('SIGHUP re-reads the tokens file (a real process)', () => {
  let dir: string;
  let p: RectifyProcess;
  const alice = issueToken('alice', ['viewer']);
  const bob = issueToken('bob', ['viewer', 'admin']);
  let tokensFile: string;

  const status = async (token: { token: string } | null, path = '/api/v1/runbooks', method = 'GET') => {
    const res = await fetch(p.url + path, { method, headers: token ? { ...bearer(token.token), 'content-type': 'application/json' } : {}, ...(method === 'POST' ? { body: '{}' } : {}) });
    await res.body?.cancel();
    return res.status;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-reload-'));
    mkdirSync(join(dir, 'runbooks'));
    // One runbook: the process is ready (and the helper waits for that) only with one loaded.
    writeFileSync(join(dir, 'runbooks', 'r.yaml'), 'runbooks:\n  fix:\n    risk: LOW\n    triggers: [Broken]\n    min_confidence: 0.5\n    action:\n      http: {method: POST, url: "http://127.0.0.1:9/act"}\n    rollback: none\n    rollback_reason: test\n');
    tokensFile = join(dir, 'tokens.yaml');
    writeFileSync(tokensFile, tokensYaml([alice]));
    p = await startRectifyProcess({ db: join(dir, 'rectify.db'), runbooks: join(dir, 'runbooks'), args: ['--tokens', tokensFile, '--log-level', 'debug'] });
  });
  after(async () => {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a new file takes effect at once: a revoked token is refused, a new one accepted, a changed role applies', async () => {
    assert.equal(await status(alice), 200);
    assert.equal(await status(bob), 401);
    assert.equal(await status(null, '/healthz'), 200);

    writeFileSync(tokensFile, tokensYaml([bob]));
    process.kill(p.pid, 'SIGHUP');
    await waitForLog(p, '"API tokens reloaded"', 1);
    assert.equal(await status(alice), 401, 'alice was revoked');
    assert.equal(await status(bob), 200);
    assert.equal(await status(bob, '/api/v1/pause', 'POST'), 200);
  });

  it('a broken file on reload keeps the previous tokens and logs an error naming the problem', async () => {
    writeFileSync(tokensFile, 'tokens:\n  - name: bob\n    roles: [root]\n    sha256: nothex\n');
    process.kill(p.pid, 'SIGHUP');
    await waitForLog(p, '"API tokens file refused on reload: the previous tokens stay in force"', 1);
    const line = p.output().split('\n').find((l) => l.includes('refused on reload'))!;
    const rec = JSON.parse(line);
    assert.equal(rec.level, 'error');
    assert.deepEqual(rec.problems, [
      `${tokensFile}: tokens[0].roles[0]: unknown role "root"; roles are ingest, viewer, approver, admin`,
      `${tokensFile}: tokens[0].sha256: expected the token's SHA-256 as 64 hex digits (printf %s "$TOKEN" | sha256sum); the value is not shown`,
    ]);
    assert.equal(await status(bob), 200, 'the previous tokens are still in force');
    assert.equal(await status(alice), 401);

    rmSync(tokensFile);
    process.kill(p.pid, 'SIGHUP');
    await waitForLog(p, '"API tokens file refused on reload: the previous tokens stay in force"', 2);
    assert.equal(await status(bob), 200, 'a deleted file does not lock everyone out either');

    writeFileSync(tokensFile, 'tokens: []\n');
    process.kill(p.pid, 'SIGHUP');
    await waitForLog(p, '"API tokens reloaded"', 2);
    assert.equal(await status(bob), 401, 'an explicit empty list revokes everyone');
    assert.equal(await status(null, '/readyz'), 200, 'probes still answer');
  });

  it('no token and no hash ever reached the output', () => {
    const out = p.output();
    for (const t of [alice, bob]) {
      assert.ok(!out.includes(t.token), `${t.name}'s token is in the output`);
      assert.ok(!out.includes(t.sha256), `${t.name}'s hash is in the output`);
    }
    assert.match(out, /"msg":"API tokens loaded"/);
  });
});

describe('a reload is reported part by part', () => {
  it('a tokens file expanding too many aliases is refused naming the file; the previous tokens stay and the Slack secret is still re-read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-reload-'));
    const alice = issueToken('alice', ['viewer']);
    const tokens = join(dir, 'tokens.yaml');
    writeFileSync(tokens, tokensYaml([alice]));
    const secret = join(dir, 'slack-secret');
    writeFileSync(secret, 'a'.repeat(32) + '\n');
    const runbooks = { 'r.yaml': readFileSync(new URL('../../runbooks/restart-service.yaml', import.meta.url), 'utf8') };
    const svc = await startTestService({ runbooks, args: ['--tokens', tokens, '--slack-signing-secret', `\${file:${secret}}`] });
    try {
      writeFileSync(tokens, aliasBomb());
      writeFileSync(secret, 'b'.repeat(32) + '\n');
      const report = await svc.service.reload();
      assert.deepEqual(report.tokens, { ok: false, problems: [`${tokens}: invalid YAML: Excessive alias count indicates a resource exhaustion attack`] });
      assert.deepEqual(report.slackSigningSecret, { ok: true });
      assert.equal(report.runbooks?.ok, true);
      const res = await svc.app.inject({ method: 'GET', url: '/api/v1/runbooks', headers: bearer(alice) });
      assert.equal(res.statusCode, 200, 'the previous tokens stay in force');
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

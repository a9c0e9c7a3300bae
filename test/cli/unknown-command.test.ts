import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli } from './capture.js';

describe('a mistyped command', () => {
  it('is told in two lines on stderr with the nearest command, exit 2 (it printed the whole usage, a hundred lines of settings)', async () => {
    const r = await cli(['aprove', 'apr_1']);
    assert.deepEqual([r.code, r.out, r.err], [2, [], ['rectify: unknown command "aprove" (did you mean "approve"?)', 'see: rectify --help']]);
    const list = await cli(['approval']);
    assert.deepEqual(list.err, ['rectify: unknown command "approval" (did you mean "approvals"?)', 'see: rectify --help']);
  });

  it('a command the API has but the CLI shows elsewhere says where', async () => {
    const r = await cli(['executions', 'exe_1']);
    assert.deepEqual([r.code, r.err], [2, ["rectify: unknown command \"executions\"; an execution's steps and outcome: rectify audit --execution-id <id>", 'see: rectify --help']]);
    const s = await cli(['status']);
    assert.deepEqual(s.err, ['rectify: unknown command "status"; the live state: rectify runbooks (circuits, rate limits, cooldowns) and rectify approvals (pending requests)', 'see: rectify --help']);
  });

  it('nothing near: the commands are listed on one line; the name is shown on one line', async () => {
    const r = await cli(['frobnicate\u001b[2J']);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [
      String.raw`rectify: unknown command "frobnicate\u001b[2J"; the commands are serve, lint, test, openapi, audit-verify, audit-export, run, replay, approvals, approve, reject, audit, pause, resume, runbooks, circuit, cooldown, version`,
      'see: rectify --help',
    ]);
  });

  it('a mistyped --version or version is told the nearest', async () => {
    const flag = await cli(['--verison']);
    assert.deepEqual([flag.code, flag.out, flag.err], [2, [], ['rectify: unknown flag "--verison" (did you mean "--version"?)', 'see: rectify --help']]);
    const word = await cli(['verison']);
    assert.deepEqual([word.code, word.err], [2, ['rectify: unknown command "verison" (did you mean "version"?)', 'see: rectify --help']]);
  });

  it('a flag before the command says the command comes first', async () => {
    const r = await cli(['--server', 'http://x', 'approvals']);
    assert.deepEqual([r.code, r.err], [2, ['rectify: "--server" before a command: the command comes first, then its flags (rectify approvals --server …)', 'see: rectify --help']]);
  });

  it('a flag before the command is named without what follows its =, which may be a secret', async () => {
    const r = await cli(['-slack-signing-secret=SUPERSECRET', 'serve']);
    assert.deepEqual([r.code, r.err], [2, ['rectify: "-slack-signing-secret" before a command: the command comes first, then its flags (rectify approvals --server …)', 'see: rectify --help']]);
    const v = await cli(['--verison=SUPERSECRET']);
    assert.deepEqual([v.code, v.err], [2, ['rectify: unknown flag "--verison" (did you mean "--version"?)', 'see: rectify --help']]);
  });

  it('a mistyped word after audit is a mistyped verify or export', async () => {
    const r = await cli(['audit', 'verfy', 'rectify.db']);
    assert.deepEqual([r.code, r.out, r.err], [2, [], ['rectify audit: unknown subcommand "verfy" (did you mean "audit verify"?)', 'see: rectify audit --help']]);
    const e = await cli(['audit', 'exprot']);
    assert.deepEqual(e.err, ['rectify audit: unknown subcommand "exprot" (did you mean "audit export"?)', 'see: rectify audit --help']);
  });

  it('--help still prints the whole usage on stdout, exit 0', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.ok(r.out.includes('  audit-verify walk the audit hash chain and name the first row that does not fit (also: audit verify)'), r.out.join('\n'));
    // The settings table comes once, under one heading that says whose settings they are.
    const text = r.out.join('\n');
    assert.equal(text.match(/^settings/gim)?.length, 1, text);
    assert.match(text, /^For rectify serve \(the client commands take --server, --token and --timeout: see rectify <command> --help\):\nSettings \(a flag wins/m);
  });
});

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
      String.raw`rectify: unknown command "frobnicate\u001b[2J"; the commands are serve, lint, test, openapi, audit-verify, audit-export, backup, restore, run, replay, approvals, approve, reject, audit, pause, resume, runbooks, circuit, cooldown, version`,
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

  it('help <command> is <command> --help (it printed the general usage); no command at all is a usage mistake, on stderr', async () => {
    for (const argv of [['approve'], ['run'], ['audit', 'verify'], ['serve']]) {
      const help = await cli(['help', ...argv]);
      const own = await cli([...argv, '--help']);
      assert.deepEqual([help.code, help.out, help.err], [0, own.out, []], argv.join(' '));
      assert.match(help.out[0]!, new RegExp(`^usage: rectify ${argv.join(' ')} `), argv.join(' '));
    }
    const unknown = await cli(['help', 'aprove']);
    assert.deepEqual([unknown.code, unknown.err], [2, ['rectify: unknown command "aprove" (did you mean "approve"?)', 'see: rectify --help']]);
    const usage = (await cli(['help'])).out;
    assert.equal(usage[0], 'usage: rectify <command> [flags]');
    const none = await cli([]);
    assert.deepEqual([none.code, none.out, none.err], [2, [], usage]);
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

/**
 * A `--flag=value` copied from a document whose typesetting joined the two hyphens into a
 * dash (en, em, figure dash, horizontal bar, minus sign) was no flag: it was echoed whole,
 * a secret after `=` included, as an unknown command, an unexpected argument, a path or
 * a --runbooks suggestion. It is a mistyped flag, named up to its `=`; and no unknown or
 * unexpected argument is shown past its `=`.
 */
describe('a flag with a typographic dash, and what follows = in an argument', () => {
  const SECRET = 'S3CRETVAL';
  const noSecret = (r: { out: string[]; err: string[] }) => assert.ok(!(r.out.join('\n') + r.err.join('\n')).includes(SECRET), r.err.join('\n'));

  it('each dash is a mistyped --, named without its value, with the flag meant', async () => {
    const cases: [string[], string[]][] = [
      [['—slack-signing-secret=S3CRETVAL', 'serve'], ['rectify: unknown flag "—slack-signing-secret": — is not -- (a dash copied from a document?); the command comes first, then its flags (rectify serve --name …)', 'see: rectify --help']],
      [['serve', '—slack-signing-secret=S3CRETVAL'], ['—slack-signing-secret: unknown flag: — is not -- (a dash copied from a document?); did you mean "--slack-signing-secret"?']],
      [['approvals', '\u2013token=S3CRETVAL'], ['\u2013token: unknown flag: \u2013 is not -- (a dash copied from a document?); did you mean "--token"?', 'see: rectify approvals --help']],
      [['approve', 'apr_1', '\u2012token=S3CRETVAL'], ['\u2012token: unknown flag: \u2012 is not -- (a dash copied from a document?); did you mean "--token"?', 'see: rectify approve --help']],
      [['audit', '\u2212\u2212token=S3CRETVAL'], ['\u2212\u2212token: unknown flag: \u2212\u2212 is not -- (a dash copied from a document?); did you mean "--token"?', 'see: rectify audit --help']],
      [['run', '--local', 'x', '\u2015slack-signing-secret=S3CRETVAL'], ['\u2015slack-signing-secret: unknown flag: \u2015 is not -- (a dash copied from a document?); did you mean "--slack-signing-secret"?', 'see: rectify run --help']],
      [['lint', '—audit-key=S3CRETVAL'], ['rectify lint: —audit-key: unknown flag: — is not -- (a dash copied from a document?); usage: rectify lint [dir|file] [--runbooks dir] [--config file]']],
      [['test', '—token=S3CRETVAL', 'x'], ['rectify test: unknown option —token: — is not -- (a dash copied from a document?) (usage: rectify test <tests.yaml|folder>…)']],
    ];
    for (const [argv, err] of cases) {
      const r = await cli(argv);
      assert.deepEqual([r.code, r.err], [2, err], argv.join(' '));
      noSecret(r);
    }
  });

  it('an unknown command, an unexpected argument or a serve argument is shown up to its =', async () => {
    const cases: [string[], string][] = [
      [['token=S3CRETVAL'], 'rectify: unknown command "token=…"; the commands are serve, lint, test, openapi, audit-verify, audit-export, backup, restore, run, replay, approvals, approve, reject, audit, pause, resume, runbooks, circuit, cooldown, version'],
      [['serve', 'token=S3CRETVAL'], 'rectify serve takes no arguments (got "token=…"); settings are flags (--name=value), see rectify serve --help'],
      [['serve', 'a', 'token=S3CRETVAL'], 'rectify serve takes no arguments (got "a", "token=…"); settings are flags, see rectify serve --help'],
      [['version', 'token=S3CRETVAL'], 'rectify version: takes no arguments, got "token=…"'],
      [['audit', 'token=S3CRETVAL'], 'rectify audit: unexpected argument "token=…" (see: rectify audit --help)'],
      [['approve', 'apr_1', 'token=S3CRETVAL'], 'rectify approve: unexpected argument "token=…" (see: rectify approve --help)'],
      [['openapi', 'a', 'token=S3CRETVAL'], 'rectify openapi: name one file (got "a", "token=…"); usage: rectify openapi [file] [--check]'],
      [['test', '--token=S3CRETVAL'], 'rectify test: unknown option --token (usage: rectify test <tests.yaml|folder>…)'],
    ];
    for (const [argv, line] of cases) {
      const r = await cli(argv);
      assert.deepEqual([r.code, r.err[0]], [2, line], argv.join(' '));
      noSecret(r);
    }
  });
});

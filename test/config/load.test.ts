'use strict';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { formatProblem } from '../../src/domain/errors.js';
import { configOnReload, configSummary, HELP, loadConfig, serveConfigProblems, type Config } from '../../src/config/index.js';
import { fileKeyName, SETTING_NAMES, SETTINGS } from '../../src/config/settings.js';
import { database, path } from '../../src/config/values.js';
import { loadClientArgs } from '../../src/config/client.js';

const root = mkdtempSync(join(tmpdir(), 'rectify-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh working directory, optionally holding a rectify.yaml. */
function workdir(yaml?: string): string {
  const dir = join(root, `w${dirCount++}`);
  mkdirSync(dir);
  if (yaml !== undefined) writeFileSync(join(dir, 'rectify.yaml'), yaml);
  return dir;
}

function ok(argv: string[], env: Record<string, string | undefined> = {}, cwd = workdir()): Config {
  const r = loadConfig(argv, env, { cwd });
  if ('problems' in r) assert.fail(`unexpected problems:\n${r.problems.map(formatProblem).join('\n')}`);
  return r.config;
}

function lines(argv: string[], env: Record<string, string | undefined> = {}, cwd = workdir()): string[] {
  const r = loadConfig(argv, env, { cwd });
  if ('config' in r) assert.fail('expected problems, got a config');
  return r.problems.map(formatProblem);
}

describe('defaults', () => {
  it('fills every setting from the table when nothing is given', () => {
    const cwd = workdir();
    const c = ok([], {}, cwd);
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9095 });
    assert.deepEqual(c.db, { kind: 'sqlite', path: join(cwd, 'data/rectify.db') });
    assert.equal(c.runbooks, join(cwd, 'runbooks'));
    assert.equal(c.configFile, undefined);
    assert.equal(c.prometheusUrl, undefined);
    assert.equal(c.tokens, undefined);
    assert.equal(c.maxConcurrentExecutions, 3);
    assert.equal(c.dryRun, false);
    assert.equal(c.approvalTtlMs, 3_600_000);
    assert.equal(c.circuitFailureThreshold, 3);
    assert.equal(c.circuitRecoveryMs, 300_000);
    assert.equal(c.bodyLimitBytes, 5 * 1024 * 1024);
    assert.equal(c.shutdownGraceMs, 30_000);
    assert.equal(c.maxPendingDecisions, 20_000);
    assert.equal(c.maxPendingApprovals, 100);
    assert.equal(c.dedupRetentionMs, 86_400_000);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.kubernetes, 'auto');
    assert.equal(c.kubeconfig, undefined);
    assert.deepEqual(c.commandEnv, []);
    assert.deepEqual(c.args, []);
    assert.equal(c.help, false);
    assert.deepEqual(c.sources.listen, { kind: 'default', file: 'default', path: '' });
    assert.deepEqual(c.warnings, []);
  });
});

describe('precedence: flag > env > file > default', () => {
  const yaml = 'listen: 10.0.0.1:7000\nmax_concurrent_executions: 7\nlog_level: warn\napproval_ttl: 2h\n';

  it('file beats default', () => {
    const c = ok([], {}, workdir(yaml));
    assert.deepEqual(c.listen, { host: '10.0.0.1', port: 7000 });
    assert.equal(c.maxConcurrentExecutions, 7);
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.approvalTtlMs, 7_200_000);
    assert.deepEqual(c.sources.listen, { kind: 'file', file: 'rectify.yaml', path: 'listen', line: 1 });
  });

  it('env beats file', () => {
    const env = { RECTIFY_LISTEN: '10.0.0.2:7001', RECTIFY_MAX_CONCURRENT_EXECUTIONS: '8', RECTIFY_LOG_LEVEL: 'debug' };
    const c = ok([], env, workdir(yaml));
    assert.deepEqual(c.listen, { host: '10.0.0.2', port: 7001 });
    assert.equal(c.maxConcurrentExecutions, 8);
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.approvalTtlMs, 7_200_000, 'untouched by env, still from the file');
    assert.deepEqual(c.sources.listen, { kind: 'env', file: 'RECTIFY_LISTEN', path: '' });
  });

  it('flag beats env, in both --flag value and --flag=value forms', () => {
    const env = { RECTIFY_LISTEN: '10.0.0.2:7001', RECTIFY_MAX_CONCURRENT_EXECUTIONS: '8', RECTIFY_LOG_LEVEL: 'debug' };
    const c = ok(['--listen', '0.0.0.0:9095', '--max-concurrent-executions=9', '--log-level', 'error'], env, workdir(yaml));
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 9095 });
    assert.equal(c.maxConcurrentExecutions, 9);
    assert.equal(c.logLevel, 'error');
    assert.deepEqual(c.sources.maxConcurrentExecutions, { kind: 'flag', file: '--max-concurrent-executions', path: '' });
  });

  it('an empty env variable counts as unset', () => {
    const c = ok([], { RECTIFY_LISTEN: '', RECTIFY_TOKENS: '' }, workdir(yaml));
    assert.deepEqual(c.listen, { host: '10.0.0.1', port: 7000 });
    assert.equal(c.tokens, undefined);
  });

  it('dry-run: bare flag, =false, env and file', () => {
    assert.equal(ok(['--dry-run']).dryRun, true);
    assert.equal(ok(['--dry-run=false'], { RECTIFY_DRY_RUN: 'true' }).dryRun, false);
    assert.equal(ok([], { RECTIFY_DRY_RUN: 'true' }, workdir('dry_run: false\n')).dryRun, true);
    assert.equal(ok([], {}, workdir('dry_run: true\n')).dryRun, true);
  });

  it('a file key a flag or a variable sets to another value is a warning naming the key, its line and the winner', () => {
    // A container image's ENV RECTIFY_DB silently replaced a mounted file's db:.
    const cwd = workdir('listen: 10.0.0.1:7000\ndb: sqlite:/srv/file.db\nrunbooks: /srv/rb\naudit_key: file-key-0123456789abcdef0123456789abcdef\ndry_run: true\n');
    const c = ok(['--runbooks', '/srv/flag-rb', '--dry-run=true'], { RECTIFY_DB: 'sqlite:/srv/env.db', RECTIFY_RUNBOOKS: '/srv/env-rb', RECTIFY_AUDIT_KEY: 'env-key-0123456789abcdef0123456789abcdef', RECTIFY_LISTEN: '10.0.0.1:7000' }, cwd);
    assert.deepEqual([c.db.kind === 'sqlite' && c.db.path, c.runbooks], ['/srv/env.db', '/srv/flag-rb']);
    assert.deepEqual(c.warnings.map(formatProblem), [
      "rectify.yaml:2: db: overridden by RECTIFY_DB, which sets another value: the file's value is not in force",
      "rectify.yaml:3: runbooks: overridden by --runbooks, which sets another value: the file's value is not in force",
      // Named, never shown: it is a secret.
      "rectify.yaml:4: audit_key: overridden by RECTIFY_AUDIT_KEY, which sets another value: the file's value is not in force",
    ]);
    // The same value from a higher source (listen, dry_run above), a key the file leaves empty, $KUBECONFIG (below
    // the file) and a key only the file sets: nothing to say.
    assert.deepEqual(ok(['--db', 'sqlite:data/x.db'], { KUBECONFIG: '/k/env', RECTIFY_TOKENS: '' }, workdir('db: sqlite:data/x.db\ntokens:\nkubeconfig: /k/file\n')).warnings, []);
  });

  it('KUBECONFIG is honoured below rectify.yaml and RECTIFY_KUBECONFIG', () => {
    const cwd = workdir();
    assert.equal(ok([], { KUBECONFIG: '/k/a' }, cwd).kubeconfig, '/k/a');
    assert.equal(ok([], { KUBECONFIG: '/k/a' }, workdir('kubeconfig: /k/file\n')).kubeconfig, '/k/file');
    assert.equal(ok([], { KUBECONFIG: '/k/a', RECTIFY_KUBECONFIG: '/k/env' }, cwd).kubeconfig, '/k/env');
    assert.equal(ok(['--kubeconfig', '/k/flag'], { RECTIFY_KUBECONFIG: '/k/env' }, cwd).kubeconfig, '/k/flag');
  });
});

describe('relative paths', () => {
  /** A config file in etc/ of a fresh folder, and a working directory beside it (not its parent). */
  function layout(yaml: string): { etc: string; cwd: string } {
    const top = workdir();
    const etc = join(top, 'etc');
    const cwd = join(top, 'elsewhere');
    mkdirSync(etc);
    mkdirSync(cwd);
    writeFileSync(join(etc, 'rectify.yaml'), yaml);
    return { etc, cwd };
  }
  const yaml = [
    'runbooks: rb',
    'db: sqlite:data/r.db',
    'tokens: ./secrets/tokens.yaml',
    'tls_cert: tls/cert.pem',
    'tls_key: tls/key.pem',
    'kubeconfig: kube/config',
    '',
  ].join('\n');

  it('in the config file resolve against its folder, whatever the working directory', () => {
    const { etc, cwd } = layout(yaml);
    for (const c of [ok(['--config', '../etc/rectify.yaml'], {}, cwd), ok([], { RECTIFY_CONFIG: join(etc, 'rectify.yaml') }, cwd)]) {
      assert.equal(c.configFile, join(etc, 'rectify.yaml'));
      assert.equal(c.runbooks, join(etc, 'rb'));
      assert.deepEqual(c.db, { kind: 'sqlite', path: join(etc, 'data/r.db') });
      assert.equal(c.tokens, join(etc, 'secrets/tokens.yaml'));
      assert.equal(c.tlsCert, join(etc, 'tls/cert.pem'));
      assert.equal(c.tlsKey, join(etc, 'tls/key.pem'));
      assert.equal(c.kubeconfig, join(etc, 'kube/config'));
    }
    // An absolute path and the in-memory database are left as written.
    const abs = layout('runbooks: /srv/rb\ndb: "sqlite::memory:"\n');
    const c = ok(['--config', join(abs.etc, 'rectify.yaml')], {}, abs.cwd);
    assert.equal(c.runbooks, '/srv/rb');
    assert.deepEqual(c.db, { kind: 'sqlite', path: ':memory:' });
  });

  it('in flags, environment variables and defaults resolve against the working directory', () => {
    const { etc, cwd } = layout('max_pending: 7\n');
    const config = ['--config', join(etc, 'rectify.yaml')];
    const flags = ok([...config, '--runbooks', 'rb', '--db', 'sqlite:data/r.db', '--tokens', 't.yaml', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--kubeconfig', 'kc'], {}, cwd);
    assert.equal(flags.runbooks, join(cwd, 'rb'));
    assert.deepEqual(flags.db, { kind: 'sqlite', path: join(cwd, 'data/r.db') });
    assert.deepEqual([flags.tokens, flags.tlsCert, flags.tlsKey, flags.kubeconfig], [join(cwd, 't.yaml'), join(cwd, 'c.pem'), join(cwd, 'k.pem'), join(cwd, 'kc')]);
    const env = ok(config, { RECTIFY_RUNBOOKS: 'rb', RECTIFY_DB: 'sqlite:d.db', RECTIFY_TOKENS: 't.yaml', KUBECONFIG: 'kc' }, cwd);
    assert.deepEqual([env.runbooks, env.db, env.tokens, env.kubeconfig], [join(cwd, 'rb'), { kind: 'sqlite', path: join(cwd, 'd.db') }, join(cwd, 't.yaml'), join(cwd, 'kc')]);
    const dflt = ok(config, {}, cwd);
    assert.equal(dflt.maxPendingDecisions, 7);
    assert.equal(dflt.runbooks, join(cwd, 'runbooks'));
    assert.deepEqual(dflt.db, { kind: 'sqlite', path: join(cwd, 'data/rectify.db') });
  });

  it('the test above covers every file key whose value holds a path', () => {
    const written = new Set(yaml.split('\n').filter(Boolean).map((l) => l.split(':')[0]));
    for (const n of SETTING_NAMES) {
      const s = SETTINGS[n];
      if (!s.fileKey || (s.parser !== path && s.parser !== database)) continue;
      assert.ok(written.has(fileKeyName(s.flag)), `${fileKeyName(s.flag)} is a path: add it to the relative paths test`);
    }
    // Secrets read from files take only ${file:/absolute/path}, so have no relative form to resolve.
    assert.deepEqual(lines([], {}, workdir('audit_key: ${file:keys/audit}\n')), ['rectify.yaml:1: audit_key: expected ${file:/absolute/path}, got a relative path "keys/audit"']);
  });
});

describe('problems', () => {
  it('reports every problem at once, each naming its source', () => {
    const cwd = workdir(
      [
        'listen: localhost',
        'max_concurent_executions: 4',
        'approval_ttl: 3600',
        'body_limit: lots',
        'command_env: [HOME, "bad-name"]',
        '',
      ].join('\n'),
    );
    const got = lines(
      ['--max-concurrent-executions', 'x', '--lsiten', 'a:1', '--log-level=verbose', '--kubernetes', 'incluster'],
      { RECTIFY_MAX_CONCURRENT_EXECUTIONS: 'five', RECTIFY_DB: 'mysql://db', RECTIFY_CIRCUIT_RECOVERY: '0s' },
      cwd,
    );
    assert.deepEqual(got, [
      '--lsiten: unknown flag (did you mean "--listen"?)',
      '--max-concurrent-executions: expected a positive integer, got "x"',
      '--log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      '--kubernetes: expected one of auto, off, in-cluster, kubeconfig, got "incluster" (did you mean "in-cluster"?)',
      'RECTIFY_DB: expected sqlite:<path>, sqlite::memory: or postgres://user@host/db, got "mysql://db"',
      'RECTIFY_MAX_CONCURRENT_EXECUTIONS: expected a positive integer, got "five"',
      'RECTIFY_CIRCUIT_RECOVERY: expected a positive duration such as 30s, 5m or 1h, got "0s"',
      'rectify.yaml:1: listen: expected host:port such as 127.0.0.1:9095 or [::1]:9095, got "localhost"',
      'rectify.yaml:2: max_concurent_executions: unknown key (did you mean "max_concurrent_executions"?)',
      'rectify.yaml:3: approval_ttl: expected a positive duration such as 30s, 5m or 1h, got 3600',
      'rectify.yaml:4: body_limit: expected a size such as 1048576, 512KiB or 5MiB, got "lots"',
      'rectify.yaml:5: command_env: expected environment variable names (letters, digits and _, not starting with a digit), comma-separated, got "bad-name"',
    ]);
  });

  it('a duration with a unit twice or out of order is refused wherever it is given, naming where and what it adds up to', () => {
    const cwd = workdir('approval_ttl: 1m1m\n');
    assert.deepEqual(lines(['--circuit-recovery', '30m1h'], { RECTIFY_DEDUP_RETENTION: '1h2d' }, cwd), [
      '--circuit-recovery: expected a positive duration such as 30s, 5m or 1h, got "30m1h" (each unit at most once, largest first; this adds up to 1h30m)',
      'RECTIFY_DEDUP_RETENTION: expected a positive duration such as 30s, 5m or 1h, got "1h2d" (each unit at most once, largest first; this adds up to 2d1h)',
      'rectify.yaml:1: approval_ttl: expected a positive duration such as 30s, 5m or 1h, got "1m1m" (each unit at most once, largest first; this adds up to 2m)',
    ]);
  });

  it('keeps the YAML line of a bad key', () => {
    const r = loadConfig([], {}, { cwd: workdir('# comment\nlisten: 127.0.0.1:1\nmax_pending: 0\n') });
    assert.ok('problems' in r);
    assert.deepEqual(r.problems, [
      { file: 'rectify.yaml', path: 'max_pending', message: 'expected a positive integer, got 0', line: 3 },
    ]);
  });

  it('an explicitly named missing config file is a problem, by flag or by env', () => {
    assert.deepEqual(lines(['--config', 'nope.yaml']), ['--config: cannot read "nope.yaml": ENOENT (file not found)']);
    assert.deepEqual(lines([], { RECTIFY_CONFIG: 'conf/r.yaml' }), [
      'RECTIFY_CONFIG: cannot read "conf/r.yaml": ENOENT (file not found)',
    ]);
  });

  it('a config file that is too large, not UTF-8 or not a regular file is refused, naming it', () => {
    const cwd = workdir();
    writeFileSync(join(cwd, 'big.yaml'), `# ${'x'.repeat(1024 * 1024)}\ndry_run: true\n`);
    writeFileSync(join(cwd, 'latin1.yaml'), Buffer.concat([Buffer.from('dry_run: false\nrunbooks: /srv/caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    execFileSync('mkfifo', [join(cwd, 'pipe.yaml')]);
    assert.deepEqual(lines(['--config', 'big.yaml'], {}, cwd), ['--config: cannot read "big.yaml": is larger than the 1 MiB a YAML file may be (1048593 bytes)']);
    assert.deepEqual(lines(['--config', 'latin1.yaml'], {}, cwd), ['--config: cannot read "latin1.yaml": is not UTF-8 text: invalid bytes at line 2 (save the file as UTF-8)']);
    assert.deepEqual(lines(['--config', 'pipe.yaml'], {}, cwd), ['--config: cannot read "pipe.yaml": is not a regular file (a FIFO, a socket or a device)']);
  });

  it('a default ./rectify.yaml that is a symlink to nothing is a problem naming it and its target; a missing one is no file', () => {
    const cwd = workdir();
    symlinkSync('/nonexistent/rectify.yaml', join(cwd, 'rectify.yaml'));
    assert.deepEqual(lines([], {}, cwd), ['rectify.yaml: cannot read "rectify.yaml": ENOENT (file not found): it is a symlink to "/nonexistent/rectify.yaml", which does not exist']);
    symlinkSync('gone.yaml', join(cwd, 'other.yaml'));
    assert.deepEqual(lines(['--config', 'other.yaml'], {}, cwd), ['--config: cannot read "other.yaml": ENOENT (file not found): it is a symlink to "gone.yaml", which does not exist']);
    assert.equal(ok([], {}, workdir()).configFile, undefined);
  });

  it('a tag, a %YAML 1.1 directive, a leading-zero number, a duplicate key or a second document is refused like in a runbook file', () => {
    const at = (yaml: string): string[] => lines([], {}, workdir(yaml));
    // dry_run: !foo false ran for real with the tag ignored; %YAML 1.1 made 010 eight.
    assert.deepEqual(at('dry_run: !foo false\n'), [
      'rectify.yaml:1: dry_run: YAML tag !foo is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
    ]);
    assert.deepEqual(at('%YAML 1.1\n---\nmax_concurrent_executions: 010\n'), [
      'rectify.yaml:1: %YAML 1.1: rectify reads YAML 1.2 (in YAML 1.1, yes, no, on and off are booleans, 010 is 8 and 1:30 is 90); remove the directive',
    ]);
    assert.deepEqual(at('max_concurrent_executions: 010\n'), [
      'rectify.yaml:1: max_concurrent_executions: 010 has a leading zero: YAML 1.2 reads it as 10, YAML 1.1 as an octal number; write 10, or quote it for text',
    ]);
    assert.deepEqual(at('dry_run: true\nmax_pending: 5\ndry_run: false\n'), [
      'rectify.yaml:3: dry_run: key "dry_run" is given twice in one map (first at line 1); give it once: neither value is taken',
    ]);
    assert.deepEqual(at('dry_run: false\nrunbooks: /srv/\u202eanil\n'), [
      'rectify.yaml:2: line 2, column 16: an invisible character, U+202E: what is shown is not what is read; remove it, or write it as the escape "\\u202e" in a double-quoted string if it is meant',
    ]);
    assert.deepEqual(at('dry_run: true\n---\ndry_run: false\n'), [
      'rectify.yaml:2: invalid YAML at line 2: a second YAML document begins here (after "---"): a file holds one document; merge it into the first or move it to a file of its own',
    ]);
  });

  it('labels problems with the config file path as given', () => {
    const cwd = workdir();
    mkdirSync(join(cwd, 'conf'));
    writeFileSync(join(cwd, 'conf/r.yaml'), 'max_pending: many\n');
    assert.deepEqual(lines(['--config=conf/r.yaml'], {}, cwd), [
      'conf/r.yaml:1: max_pending: expected a positive integer, got "many"',
    ]);
    // Overridden is not excused: the broken line would bite the day the flag is dropped.
    assert.deepEqual(lines(['--config=conf/r.yaml', '--max-pending=5'], {}, cwd), [
      'conf/r.yaml:1: max_pending: expected a positive integer, got "many"',
    ]);
    writeFileSync(join(cwd, 'conf/r.yaml'), 'max_pending: 7\n');
    const c = ok(['--config=conf/r.yaml'], {}, cwd);
    assert.equal(c.maxPendingDecisions, 7);
    assert.equal(c.configFile, join(cwd, 'conf/r.yaml'));
  });

  it('an unknown key close to a real one is told which it resembles, with the file, key and line', () => {
    const cwd = workdir(['listen_addr: 127.0.0.1:1', 'dryRun: true', 'runbooks_dir: rb', 'max_concurrent: 2', 'db-path: x', 'tls: on', 'colour: blue', ''].join('\n'));
    const r = loadConfig([], {}, { cwd });
    assert.ok('problems' in r);
    assert.deepEqual(r.problems.map((p) => [formatProblem(p), p.line]), [
      ['rectify.yaml:1: listen_addr: unknown key (did you mean "listen"?)', 1],
      ['rectify.yaml:2: dryRun: unknown key (did you mean "dry_run"?)', 2],
      ['rectify.yaml:3: runbooks_dir: unknown key (did you mean "runbooks"?)', 3],
      ['rectify.yaml:4: max_concurrent: unknown key (did you mean "max_concurrent_executions"?)', 4],
      ['rectify.yaml:5: db-path: unknown key (did you mean "db"?)', 5],
      // Two keys fit (tls_cert, tls_key): no guess. Nothing fits: none.
      ['rectify.yaml:6: tls: unknown key', 6],
      ['rectify.yaml:7: colour: unknown key', 7],
    ]);
  });

  it('invalid YAML is a problem with its line', () => {
    const r = loadConfig([], {}, { cwd: workdir('listen: 127.0.0.1:1\ndb: [unclosed\n') });
    assert.ok('problems' in r);
    assert.equal(r.problems.length, 1);
    const p = r.problems[0]!;
    assert.equal(p.file, 'rectify.yaml');
    assert.equal(p.line, 3);
    assert.match(formatProblem(p), /^rectify\.yaml:3: invalid YAML at line 3: /);
  });

  it('a syntax error is told once, at the first error, with how many followed it', () => {
    const r = loadConfig([], {}, { cwd: workdir('listen: 127.0.0.1:1\nrunbooks: [a, b}}]\nlog_level: info\n') });
    assert.ok('problems' in r);
    assert.deepEqual(
      r.problems.map((p) => [formatProblem(p), p.line]),
      [['rectify.yaml:2: invalid YAML at line 2: Flow sequence in block collection must be sufficiently indented and end with a ] (5 more syntax errors after it, not listed: they likely follow from this one)', 2]],
    );
  });

  it('a syntax error by an unquoted {x} names no placeholder: rectify.yaml has none', () => {
    const r = loadConfig([], {}, { cwd: workdir('listen: 127.0.0.1:1\nnotify_webhooks: [http://a/x, {url}}]\n') });
    assert.ok('problems' in r);
    assert.deepEqual(
      r.problems.map((p) => [formatProblem(p), p.line]),
      [['rectify.yaml:2: invalid YAML at line 2: Flow sequence in block collection must be sufficiently indented and end with a ] (1 more syntax error after it, not listed: it likely follows from this one)', 2]],
    );
  });

  it('a file that expands too many aliases is a problem naming the file, not a crash', () => {
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) laughs.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => (i === 1 ? '*a' : `*l${i - 1}`)).join(', ')}]`);
    const out = lines([], {}, workdir(`${laughs.join('\n')}\n`));
    assert.equal(out.length, 1);
    assert.match(out[0]!, /^rectify\.yaml:1: invalid YAML: Excessive alias count/);
  });

  it('a malformed Slack webhook URL is refused without echoing it (its path is its token)', () => {
    const out = lines(['--slack-webhook-url', 'hooks.slack.com/services/T000/B000/s3cr3tT0ken'], {});
    assert.deepEqual(out, ['--slack-webhook-url: expected an http:// or https:// URL, got a value that is not scheme://host (not shown: it may hold a secret)']);
    assert.equal(out.join('\n').includes('s3cr3tT0ken'), false);
    assert.deepEqual(lines(['--slack-webhook-url', 'ftp://hooks.slack.com/services/T000/B000/s3cr3tT0ken'], {}), [
      '--slack-webhook-url: expected an http:// or https:// URL, got "ftp://hooks.slack.com" (the rest is left out: it may hold a secret)',
    ]);
  });

  it('a refused URL setting shows only its scheme and host, from every source, and says the rest was left out', () => {
    const cwd = workdir('notify_webhook: ftp://hooks.example.com/secret-token-123\nprometheus_url: "gopher://admin:hunter2@prom.example:9090/api?token=secret-token-456"\n');
    const out = lines(['--public-url', 'file:///etc/secret-token-789', '--db', 'mysql://rectify:secret-pw@db.example/rectify'], { RECTIFY_NOTIFY_WEBHOOK: 'hooks.example.com/secret-token-000' }, cwd);
    assert.deepEqual([...out].sort(), [
      '--db: expected sqlite:<path>, sqlite::memory: or postgres://user@host/db, got "mysql://db.example" (the rest is left out: it may hold a secret)',
      '--public-url: expected an http:// or https:// URL, got a value that is not scheme://host (not shown: it may hold a secret)',
      'RECTIFY_NOTIFY_WEBHOOK: expected an http:// or https:// URL, got a value that is not scheme://host (not shown: it may hold a secret)',
      'rectify.yaml:2: prometheus_url: expected an http:// or https:// URL, got "gopher://prom.example:9090" (the rest is left out: it may hold a secret)',
      'rectify.yaml:1: notify_webhook: expected an http:// or https:// URL, got "ftp://hooks.example.com" (the rest is left out: it may hold a secret)',
    ].sort());
    assert.doesNotMatch(out.join('\n'), /secret-|hunter2|admin/);
    // Nothing beyond scheme and host: shown as given.
    assert.deepEqual(lines(['--prometheus-url', 'ftp://prom:9090']), ['--prometheus-url: expected an http:// or https:// URL, got "ftp://prom:9090"']);
  });

  it('a notify webhook, Prometheus or public URL with user:password@ is refused, naming the setting: the credentials would never be sent, or be posted in every link', () => {
    const cwd = workdir('notify_webhook: https://rectify:hunter2@hooks.example.com/notify\n');
    assert.deepEqual(lines([], {}, cwd), [
      'rectify.yaml:1: notify_webhook: expected a URL without user:password@ (credentials in the URL are not sent: give the receiver a URL with its token in the path or query), got "https://hooks.example.com" (the rest is left out: it may hold a secret)',
    ]);
    assert.deepEqual(lines(['--notify-webhook', 'https://token@hooks.example.com/'], {}), [
      '--notify-webhook: expected a URL without user:password@ (credentials in the URL are not sent: give the receiver a URL with its token in the path or query), got "https://hooks.example.com" (the rest is left out: it may hold a secret)',
    ]);
    assert.equal(lines(['--slack-webhook-url', 'https://x:y@hooks.slack.com/services/T/B/s'], {})[0]!.startsWith('--slack-webhook-url: expected a URL without user:password@'), true);
    assert.deepEqual(lines(['--prometheus-url', 'https://rectify:hunter2@prometheus.example.com/'], {}), [
      '--prometheus-url: expected a URL without user:password@ (credentials in the URL are not sent: put rectify beside Prometheus, or behind a proxy that adds them), got "https://prometheus.example.com" (the rest is left out: it may hold a secret)',
    ]);
    // --public-url: every notification link starts with it, so its credentials would be posted with each one.
    assert.deepEqual(lines([], { RECTIFY_PUBLIC_URL: 'https://ops:hunter2@rectify.example.com' }, workdir('public_url: https://ops@rectify.example.com/\n')), [
      'RECTIFY_PUBLIC_URL: expected a URL without user:password@ (every notification link starts with this URL, so its credentials would be posted with each one: give the address without them), got "https://rectify.example.com" (the rest is left out: it may hold a secret)',
      'rectify.yaml:1: public_url: expected a URL without user:password@ (every notification link starts with this URL, so its credentials would be posted with each one: give the address without them), got "https://rectify.example.com" (the rest is left out: it may hold a secret)',
    ]);
    assert.equal(ok(['--public-url', 'https://rectify.example.com/']).publicUrl, 'https://rectify.example.com');
    // A token in the path or query is how such receivers take one, and stays accepted.
    assert.equal(ok(['--notify-webhook', 'https://hooks.example.com/notify/secret-token-123?key=abc']).notifyWebhook, 'https://hooks.example.com/notify/secret-token-123?key=abc');
  });

  it('a Prometheus or public URL with a query or fragment is refused, naming the setting, shown by scheme and host only: each use adds a path after it', () => {
    const prom = (got: string): string =>
      "expected the Prometheus address without a query (?…) or fragment (#…) (each query's API path is added to its path, and a query or fragment in it is never sent: put rectify beside Prometheus, or behind a proxy that adds what it needs); got " + got;
    const pub = (got: string): string =>
      "expected rectify's address without a query (?…) or fragment (#…) (every notification link is this URL with the link's path added, so a query or fragment in it would break each one); got " + got;
    const hidden = (host: string): string => `"${host}" (the rest is left out: it may hold a secret)`;
    const refused = lines(['--prometheus-url', 'http://prom:9090/prom?token=SECRETQ'], { RECTIFY_PUBLIC_URL: 'https://rectify.example.com/#SECRETQ' });
    assert.deepEqual(refused, [`--prometheus-url: ${prom(hidden('http://prom:9090'))}`, `RECTIFY_PUBLIC_URL: ${pub(hidden('https://rectify.example.com'))}`]);
    assert.equal(refused.join('\n').includes('SECRETQ'), false);
    assert.deepEqual(lines([], { RECTIFY_PROMETHEUS_URL: 'http://prom:9090?' }, workdir('public_url: https://rectify.example.com/ops?tenant=a\n')), [
      `RECTIFY_PROMETHEUS_URL: ${prom('"http://prom:9090?"')}`,
      `rectify.yaml:1: public_url: ${pub(hidden('https://rectify.example.com'))}`,
    ]);
  });

  it('a base URL loses its trailing slashes; a webhook URL is kept exactly as written; only ASCII spaces around either are dropped', () => {
    // Base URLs: the service appends /api/v1/..., so a trailing / would make //api.
    assert.equal(ok(['--public-url', ' https://rectify.example.com/ops//\t']).publicUrl, 'https://rectify.example.com/ops');
    assert.equal(ok(['--prometheus-url', 'http://prom:9090/\r\n']).prometheusUrl, 'http://prom:9090');
    assert.equal(ok([], { RECTIFY_PROMETHEUS_URL: 'http://prom:9090/prometheus/' }).prometheusUrl, 'http://prom:9090/prometheus');
    const server = loadClientArgs(['--server', 'http://127.0.0.1:9095/ '], {});
    assert.ok('client' in server);
    assert.equal(server.client.server, 'http://127.0.0.1:9095');
    const serverEnv = loadClientArgs([], { RECTIFY_SERVER: 'https://rectify.example.com/base//' });
    assert.ok('client' in serverEnv);
    assert.equal(serverEnv.client.server, 'https://rectify.example.com/base');
    // Webhooks: the receiver's route, a query token or a fragment ending in / is the receiver's business.
    for (const url of ['https://hooks.example.com/hooks/rectify/', 'https://hooks.example.com/notify?token=ab+c/', 'https://hooks.example.com/notify#frag/', 'https://hooks.example.com/x\u3000']) {
      assert.equal(ok(['--notify-webhook', url]).notifyWebhook, url);
      assert.equal(ok(['--slack-webhook-url', url]).slackWebhookUrl, url);
    }
    assert.equal(ok(['--notify-webhook', ' http://example.com/hook/ \n']).notifyWebhook, 'http://example.com/hook/');
    assert.equal(ok([], { RECTIFY_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/s/\t' }).slackWebhookUrl, 'https://hooks.slack.com/services/T/B/s/');
  });

  it('a file that is not a mapping is a problem', () => {
    assert.deepEqual(lines([], {}, workdir('- listen\n')), [
      'rectify.yaml:1: expected a mapping of settings at the top level',
    ]);
  });

  it('an empty file and empty values are fine', () => {
    assert.equal(ok([], {}, workdir('')).maxPendingDecisions, 20_000);
    assert.equal(ok([], {}, workdir('tokens:\n')).tokens, undefined);
  });

  it('a flag without its value', () => {
    assert.deepEqual(lines(['--listen']), ['--listen: expected a value']);
    assert.deepEqual(lines(['--listen', '--db', 'sqlite::memory:']), ['--listen: expected a value']);
    assert.deepEqual(lines(['--listen=']), [
      '--listen: expected host:port such as 127.0.0.1:9095 or [::1]:9095, got ""',
    ]);
  });

  it('TLS certificate and key come together', () => {
    assert.deepEqual(lines(['--tls-cert', 'c.pem']), [
      '--tls-cert: set both or neither of TLS certificate and key; the key is missing (--tls-key, RECTIFY_TLS_KEY, tls_key)',
    ]);
    const cwd = workdir();
    const c = ok(['--tls-cert', 'c.pem'], { RECTIFY_TLS_KEY: 'k.pem' }, cwd);
    assert.equal(c.tlsCert, join(cwd, 'c.pem'));
    assert.equal(c.tlsKey, join(cwd, 'k.pem'));
  });

  it('a bad boolean', () => {
    assert.deepEqual(lines(['--dry-run=maybe']), ['--dry-run: expected true or false, got "maybe"']);
  });
});

describe('listen addresses', () => {
  it('accepts IPv4, hostnames, bracketed IPv6 and :port', () => {
    assert.deepEqual(ok(['--listen', '0.0.0.0:9095']).listen, { host: '0.0.0.0', port: 9095 });
    assert.deepEqual(ok(['--listen', 'localhost:80']).listen, { host: 'localhost', port: 80 });
    assert.deepEqual(ok(['--listen', '[::1]:9095']).listen, { host: '::1', port: 9095 });
    assert.deepEqual(ok(['--listen', '[::]:0']).listen, { host: '::', port: 0 });
    assert.deepEqual(ok(['--listen', ':9095']).listen, { host: '0.0.0.0', port: 9095 });
  });

  for (const bad of ['127.0.0.1', '127.0.0.1:99999', '::1:9095', '[nothost]:1', 'a b:1', 'host:port']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.deepEqual(lines(['--listen', bad]), [
        `--listen: expected host:port such as 127.0.0.1:9095 or [::1]:9095, got ${JSON.stringify(bad)}`,
      ]);
    });
  }

  it('serve refuses a non-loopback address without tokens, naming the fix', () => {
    const open = ok([], { RECTIFY_LISTEN: '0.0.0.0:9095' });
    assert.deepEqual(serveConfigProblems(open).map(formatProblem), [
      'RECTIFY_LISTEN: refusing to listen on non-loopback address 0.0.0.0 without API tokens; set --tokens (RECTIFY_TOKENS, tokens) or listen on 127.0.0.1',
    ]);
    assert.deepEqual(serveConfigProblems(ok(['--listen', '0.0.0.0:1', '--tokens', 't.yaml'])), []);
    assert.deepEqual(serveConfigProblems(ok(['--listen', '[::1]:1'])), []);
    assert.deepEqual(serveConfigProblems(ok([])), []);
  });
});

describe('database', () => {
  it('resolves a sqlite path against cwd', () => {
    const cwd = workdir();
    assert.deepEqual(ok(['--db', 'sqlite:state/r.db'], {}, cwd).db, { kind: 'sqlite', path: join(cwd, 'state/r.db') });
    assert.deepEqual(ok(['--db', 'sqlite:/var/lib/r.db'], {}, cwd).db, { kind: 'sqlite', path: '/var/lib/r.db' });
    assert.deepEqual(ok(['--db', 'sqlite::memory:'], {}, cwd).db, { kind: 'sqlite', path: ':memory:' });
  });

  it('accepts postgres:// and postgresql:// URLs unchanged', () => {
    assert.deepEqual(ok(['--db', 'postgres://u:pw@db:5432/rectify']).db, {
      kind: 'postgres',
      url: 'postgres://u:pw@db:5432/rectify',
    });
    assert.deepEqual(ok([], { RECTIFY_DB: 'postgresql://db/rectify' }).db, {
      kind: 'postgres',
      url: 'postgresql://db/rectify',
    });
  });

  it('refuses an empty sqlite path and other schemes', () => {
    assert.deepEqual(lines(['--db', 'sqlite:', '--prometheus-url', 'ftp://x']), [
      '--db: expected sqlite:<path>, sqlite::memory: or postgres://user@host/db, got "sqlite:"',
      '--prometheus-url: expected an http:// or https:// URL, got "ftp://x"',
    ]);
  });

  it('a bare path, the usual slip, is refused saying how to write it', () => {
    assert.deepEqual(lines(['--db', './data/rectify.db']), ['--db: expected sqlite:<path>, sqlite::memory: or postgres://user@host/db, got "./data/rectify.db" (a file is written sqlite:./data/rectify.db)']);
    assert.deepEqual(lines([], { RECTIFY_DB: '/var/lib/rectify/rectify.db' }), [
      'RECTIFY_DB: expected sqlite:<path>, sqlite::memory: or postgres://user@host/db, got "/var/lib/rectify/rectify.db" (a file is written sqlite:/var/lib/rectify/rectify.db)',
    ]);
    // A value a line could not show as it is gets no suggestion repeating it.
    assert.deepEqual(lines(['--db', '/tmp/x\ny']), ['--db: expected sqlite:<path>, sqlite::memory: or postgres://user@host/db, got "/tmp/x\\ny"']);
  });
});

describe('a database given empty', () => {
  const EMPTY_DB =
    'set but empty: it names no database, and rectify would record its decisions in the default sqlite:./data/rectify.db, which may not be the one meant: name the database (sqlite:<path>), or unset it to use the default';

  it('refuses RECTIFY_DB= and db: with nothing after it, naming where, whatever else sets the database: an empty variable is otherwise unset', () => {
    assert.deepEqual(lines([], { RECTIFY_DB: '' }), [`RECTIFY_DB: ${EMPTY_DB}`]);
    for (const yaml of ['db:\n', 'db: ~\n']) assert.deepEqual(lines([], {}, workdir(yaml)), [`rectify.yaml:1: db: ${EMPTY_DB}`]);
    // Every source is checked, as a broken value is, even where a higher one sets it.
    assert.deepEqual(lines(['--db', 'sqlite:/var/lib/rectify/rectify.db'], { RECTIFY_DB: '' }), [`RECTIFY_DB: ${EMPTY_DB}`]);
    assert.deepEqual(lines([], { RECTIFY_DB: '' }, workdir('db: sqlite:./r.db\n')), [`RECTIFY_DB: ${EMPTY_DB}`]);
    // Other settings given empty are still unset.
    assert.deepEqual(ok([], { RECTIFY_DB: 'sqlite::memory:', RECTIFY_LISTEN: '' }).db, { kind: 'sqlite', path: ':memory:' });
  });

  it('serve with RECTIFY_DB= starts nothing: exit 2, the line naming it, no database made', async () => {
    // A missing tokens file and runbooks folder are not read: the database is the one line.
    const cwd = workdir();
    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--tokens', 'missing.yaml', '--runbooks', 'missing'], { out: () => {}, err: (l) => err.push(l), env: { RECTIFY_DB: '' }, cwd });
    assert.deepEqual([code, err], [2, [`RECTIFY_DB: ${EMPTY_DB}`]]);
    assert.equal(existsSync(join(cwd, 'data')), false, 'no database was made at the default path');
  });
});

describe('a database this build cannot open', () => {
  it('serve refuses postgres:// naming where it was set, before the tokens file, the TLS pair or the runbooks are read', async () => {
    const pg = 'postgres://rectify@db.internal/rectify';
    assert.deepEqual(serveConfigProblems(ok([], {}, workdir(`db: ${pg}\n`))).map(formatProblem), ['rectify.yaml: db: only sqlite: databases are supported by this build']);
    assert.deepEqual(serveConfigProblems(ok([], { RECTIFY_DB: pg })).map(formatProblem), ['RECTIFY_DB: only sqlite: databases are supported by this build']);
    assert.deepEqual(serveConfigProblems(ok(['--db', pg])).map(formatProblem), ['--db: only sqlite: databases are supported by this build']);
    // A missing tokens file and runbooks folder are not read: the database is the one line.
    const cwd = workdir(`db: ${pg}\n`);
    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--tokens', 'missing.yaml', '--runbooks', 'missing'], { out: () => {}, err: (l) => err.push(l), env: {}, cwd });
    assert.deepEqual([code, err], [2, ['rectify.yaml: db: only sqlite: databases are supported by this build']]);
  });
});

describe('durations and sizes', () => {
  it('parses durations from every source', () => {
    const c = ok(['--circuit-recovery', '90s'], { RECTIFY_SHUTDOWN_GRACE: '0s' }, workdir('dedup_retention: 1h30m\n'));
    assert.equal(c.circuitRecoveryMs, 90_000);
    assert.equal(c.shutdownGraceMs, 0, 'zero grace is allowed: shut down at once');
    assert.equal(c.dedupRetentionMs, 5_400_000);
  });

  it('refuses a duration above ten years, from every source: approval_ttl: 100000000000h answered every alert needing approval 500', () => {
    assert.deepEqual(lines(['--circuit-recovery', '3651d'], { RECTIFY_SHUTDOWN_GRACE: '100000000000h' }, workdir('approval_ttl: 100000000000h\n')), [
      '--circuit-recovery: expected a positive duration of at most 3650d (ten years), got "3651d"',
      'RECTIFY_SHUTDOWN_GRACE: expected a duration of at most 3650d (ten years), got "100000000000h"',
      'rectify.yaml:1: approval_ttl: expected a positive duration of at most 3650d (ten years), got "100000000000h"',
    ]);
    assert.equal(ok([], {}, workdir('approval_ttl: 3650d\n')).approvalTtlMs, 3650 * 86_400_000);
  });

  it("refuses a database busy timeout above SQLite's 32-bit limit, from every source: 30d wrapped to 0 and a locked write failed at once", () => {
    assert.deepEqual(lines(['--db-busy-timeout', '25d'], { RECTIFY_DB_BUSY_TIMEOUT: '30d' }, workdir('db_busy_timeout: 3650d\n')), [
      `--db-busy-timeout: expected a duration of at most 24d (SQLite's limit), got "25d"`,
      `RECTIFY_DB_BUSY_TIMEOUT: expected a duration of at most 24d (SQLite's limit), got "30d"`,
      `rectify.yaml:1: db_busy_timeout: expected a duration of at most 24d (SQLite's limit), got "3650d"`,
    ]);
    assert.equal(ok(['--db-busy-timeout', '24d']).dbBusyTimeoutMs, 24 * 86_400_000);
    assert.equal(ok(['--db-busy-timeout', '2147483647ms']).dbBusyTimeoutMs, 2_147_483_647);
    assert.equal(lines(['--db-busy-timeout', '2147483648ms']).length, 1);
  });

  it('refuses a setting flag given twice with different values, whatever the values: the last one is not silently taken', () => {
    assert.deepEqual(lines(['--dry-run', '--dry-run=false', '--listen', '127.0.0.1:1', '--listen=127.0.0.1:2', '--audit-key', 'a'.repeat(32), '--audit-key', 'b'.repeat(32)]), [
      '--dry-run: given twice, with different values: give it once (no value is taken over the other)',
      '--listen: given twice, with different values: give it once (no value is taken over the other)',
      '--audit-key: given twice, with different values: give it once (no value is taken over the other)',
    ]);
    // The same value twice, however written, is that value.
    const c = ok(['--dry-run', '--dry-run=yes', '--body-limit', '1MiB', '--body-limit', '1048576', '--exporter-jobs', 'a,b', '--exporter-jobs', 'a b']);
    assert.deepEqual([c.dryRun, c.bodyLimitBytes], [true, 1_048_576]);
    // A bad second value is reported as any bad value is.
    assert.deepEqual(lines(['--max-pending', '5', '--max-pending', 'five']), ['--max-pending: expected a positive integer, got "five"']);
  });

  it('refuses a retention under 1h, from every source: a run INTERRUPTED at startup, waiting for a person, was pruned seconds later', () => {
    assert.deepEqual(lines(['--history-retention', '1s'], { RECTIFY_DEDUP_RETENTION: '59m' }, workdir('history_retention: 30m\n')), [
      '--history-retention: expected a positive duration of at least 1h, got "1s"',
      'RECTIFY_DEDUP_RETENTION: expected a positive duration of at least 1h, got "59m"',
      'rectify.yaml:1: history_retention: expected a positive duration of at least 1h, got "30m"',
    ]);
    assert.deepEqual(lines([], {}, workdir('dedup_retention: 59m59s\nhistory_retention: 30m\n')), [
      'rectify.yaml:1: dedup_retention: expected a positive duration of at least 1h, got "59m59s"',
      'rectify.yaml:2: history_retention: expected a positive duration of at least 1h, got "30m"',
    ]);
    const c = ok(['--history-retention', '1h', '--dedup-retention', '3600s']);
    assert.deepEqual([c.historyRetentionMs, c.dedupRetentionMs], [3_600_000, 3_600_000]);
  });

  it('refuses counts, sizes and waits no deployment means, from every source, naming the bound', () => {
    assert.deepEqual(
      lines(
        ['--body-limit', '100GiB', '--max-concurrent-executions', '1000000', '--max-pending', '9007199254740991', '--notify-timeout', '1ms', '--circuit-recovery', '999ms', '--approval-ttl', '59s'],
        { RECTIFY_NOTIFY_REPEAT_SERVICES: '1000000000' },
        workdir('body_limit: 1\n'),
      ),
      [
        '--body-limit: expected a size between 1KiB and 1GiB, got "100GiB"',
        '--max-concurrent-executions: expected a positive integer of at most 100000, got "1000000"',
        '--max-pending: expected a positive integer of at most 1000000, got "9007199254740991"',
        '--notify-timeout: expected a positive duration of at least 100ms, got "1ms"',
        '--circuit-recovery: expected a positive duration of at least 1s, got "999ms"',
        '--approval-ttl: expected a positive duration of at least 1m, got "59s"',
        'RECTIFY_NOTIFY_REPEAT_SERVICES: expected a positive integer of at most 10000, got "1000000000"',
        'rectify.yaml:1: body_limit: expected a size between 1KiB and 1GiB, got 1',
      ],
    );
    // The bounds themselves are accepted.
    const low = ok(['--body-limit', '1KiB', '--notify-timeout', '100ms', '--circuit-recovery', '1s', '--approval-ttl', '1m', '--max-concurrent-executions', '100000', '--max-pending', '1000000', '--notify-repeat-services', '10000']);
    assert.deepEqual(
      [low.bodyLimitBytes, low.notifyTimeoutMs, low.circuitRecoveryMs, low.approvalTtlMs, low.maxConcurrentExecutions, low.maxPendingDecisions, low.notifyRepeatServices],
      [1024, 100, 1000, 60_000, 100_000, 1_000_000, 10_000],
    );
    assert.equal(ok(['--body-limit', '1GiB']).bodyLimitBytes, 1024 ** 3);
  });

  it('--max-pending-approvals: from the flag, the environment and the file, between 1 and 100000', () => {
    assert.deepEqual(
      [
        ok(['--max-pending-approvals', '3']).maxPendingApprovals,
        ok([], { RECTIFY_MAX_PENDING_APPROVALS: '100000' }).maxPendingApprovals,
        ok([], {}, workdir('max_pending_approvals: 1\n')).maxPendingApprovals,
      ],
      [3, 100_000, 1],
    );
    assert.deepEqual(lines(['--max-pending-approvals', '0'], { RECTIFY_MAX_PENDING_APPROVALS: '100001' }, workdir('max_pending_approvals: many\n')), [
      '--max-pending-approvals: expected a positive integer, got "0"',
      'RECTIFY_MAX_PENDING_APPROVALS: expected a positive integer of at most 100000, got "100001"',
      'rectify.yaml:1: max_pending_approvals: expected a positive integer, got "many"',
    ]);
  });

  it('parses sizes as bytes or with binary and decimal units', () => {
    assert.equal(ok(['--body-limit', '1048576']).bodyLimitBytes, 1_048_576);
    assert.equal(ok(['--body-limit', '512KiB']).bodyLimitBytes, 524_288);
    assert.equal(ok(['--body-limit', '1MB']).bodyLimitBytes, 1_000_000);
    assert.equal(ok([], {}, workdir('body_limit: 2048\n')).bodyLimitBytes, 2048);
    assert.deepEqual(lines(['--body-limit', '5XB']), [
      '--body-limit: expected a size such as 1048576, 512KiB or 5MiB, got "5XB"',
    ]);
  });
});

describe('Slack approvers', () => {
  it('comma- or space-separated from a flag or the environment, a list in the file; duplicates once', () => {
    assert.deepEqual(ok(['--slack-approvers', 'U012AB3CD,W0XYZ  U012AB3CD']).slackApprovers, ['U012AB3CD', 'W0XYZ']);
    assert.deepEqual(ok([], { RECTIFY_SLACK_APPROVERS: 'U1AB' }).slackApprovers, ['U1AB']);
    assert.deepEqual(ok([], {}, workdir('slack_approvers: [U1AB, U2CD]\n')).slackApprovers, ['U1AB', 'U2CD']);
    assert.equal(ok([]).slackApprovers, undefined);
  });

  it('a name or anything but a Slack user id is refused, naming its source', () => {
    const expected = "expected Slack user ids such as U012AB3CD, each optionally =the person's rectify name (U012AB3CD=alice), comma-separated";
    assert.deepEqual(lines(['--slack-approvers', 'U1AB,alice']), [`--slack-approvers: ${expected}, got "alice" (a user id, not a name: names can be changed)`]);
    assert.deepEqual(lines(['--slack-approvers', 'U1AB=al!ce,U2CD']), [`--slack-approvers: ${expected}, got "U1AB=al!ce"`]);
    assert.deepEqual(lines(['--slack-approvers', 'U1AB=']), [`--slack-approvers: ${expected}, got "U1AB="`]);
    // A Slack click's actor: never a name rectify keeps for its own audit entries.
    assert.deepEqual(lines(['--slack-approvers', 'U1AB=alice,U2CD=Rectify']), ['--slack-approvers: U2CD=Rectify: "Rectify" is reserved for rectify\'s own audit entries; choose another name']);
    assert.deepEqual(lines([], {}, workdir('slack_approvers: [U1AB, 42]\n')), [`rectify.yaml:1: slack_approvers: ${expected}, got 42`]);
    assert.deepEqual(lines([], {}, workdir('slack_approvers: []\n')), [`rectify.yaml:1: slack_approvers: ${expected}, got a list`]);
  });

  it('an id may name the rectify name the same person acts under, once', () => {
    assert.deepEqual(ok(['--slack-approvers', 'U012AB3CD=alice,W0XYZ,U012AB3CD=alice']).slackApprovers, ['U012AB3CD=alice', 'W0XYZ']);
    assert.deepEqual(lines(['--slack-approvers', 'U012AB3CD=alice,U012AB3CD']), ['--slack-approvers: U012AB3CD is given twice with different rectify names ("alice" and none): give it once']);
    assert.deepEqual(lines(['--slack-approvers', 'U012AB3CD=alice,U012AB3CD=bob']), ['--slack-approvers: U012AB3CD is given twice with different rectify names ("alice" and "bob"): give it once']);
  });

});

describe('exporter jobs', () => {
  it('default kube-state-metrics, node-exporter, kubelet; a flag, variable or file list replaces it; empty is none', () => {
    assert.deepEqual(ok([]).exporterJobs, ['kube-state-metrics', 'node-exporter', 'kubelet']);
    assert.deepEqual(ok(['--exporter-jobs', 'ksm, node-exporter ksm']).exporterJobs, ['ksm', 'node-exporter']);
    assert.deepEqual(ok([], { RECTIFY_EXPORTER_JOBS: 'blackbox' }).exporterJobs, ['blackbox']);
    assert.deepEqual(ok([], {}, workdir('exporter_jobs: [ksm, cadvisor]\n')).exporterJobs, ['ksm', 'cadvisor']);
    assert.deepEqual(ok(['--exporter-jobs', '']).exporterJobs, []);
    assert.deepEqual(ok([], {}, workdir('exporter_jobs: []\n')).exporterJobs, []);
    // The variable too, though an empty variable is otherwise unset: '' kept the default list.
    const none = ok([], { RECTIFY_EXPORTER_JOBS: '' }, workdir('exporter_jobs: [ksm]\n'));
    assert.deepEqual([none.exporterJobs, none.sources.exporterJobs.file], [[], 'RECTIFY_EXPORTER_JOBS']);
  });

  it('a value that cannot be a job label is refused, naming its source', () => {
    assert.deepEqual(lines([], {}, workdir('exporter_jobs: [ksm, 42]\n')), [
      'rectify.yaml:1: exporter_jobs: expected label values (each 1-253 characters, no spaces or control characters), comma-separated, got 42',
    ]);
    assert.deepEqual(lines([], {}, workdir('exporter_jobs: {a: b}\n')), ['rectify.yaml:1: exporter_jobs: expected label values, comma-separated, got a mapping']);
    assert.deepEqual(lines(['--exporter-jobs', 'a\u0007b']), [
      '--exporter-jobs: expected label values (each 1-253 characters, no spaces or control characters), comma-separated, got "a\\u0007b"',
    ]);
  });
});

describe('command env', () => {
  it('a flag, a variable or a file list names the variables passed to command actions: flag over variable over file', () => {
    assert.deepEqual(ok([]).commandEnv, []);
    assert.deepEqual(ok(['--command-env', 'QUEUE_TOKEN, HOME QUEUE_TOKEN']).commandEnv, ['QUEUE_TOKEN', 'HOME']);
    assert.deepEqual(ok([], { RECTIFY_COMMAND_ENV: 'QUEUE_TOKEN,_X1' }).commandEnv, ['QUEUE_TOKEN', '_X1']);
    assert.deepEqual(ok([], {}, workdir('command_env: [HOME, QUEUE_TOKEN]\n')).commandEnv, ['HOME', 'QUEUE_TOKEN']);
    assert.deepEqual(ok([], {}, workdir('command_env: []\n')).commandEnv, []);
    // The flag over the variable over the file, each named as the source; the file's key it overrides is said.
    const file = workdir('command_env: [FROM_FILE]\n');
    const byFlag = ok(['--command-env', 'FROM_FLAG'], { RECTIFY_COMMAND_ENV: 'FROM_ENV' }, file);
    assert.deepEqual([byFlag.commandEnv, byFlag.sources.commandEnv.file], [['FROM_FLAG'], '--command-env']);
    assert.deepEqual(byFlag.warnings.map(formatProblem), [
      "rectify.yaml:1: command_env: overridden by --command-env, which sets another value: the file's value is not in force",
    ]);
    const byEnv = ok([], { RECTIFY_COMMAND_ENV: 'FROM_ENV' }, file);
    assert.deepEqual([byEnv.commandEnv, byEnv.sources.commandEnv.file], [['FROM_ENV'], 'RECTIFY_COMMAND_ENV']);
    assert.deepEqual(byEnv.warnings.map(formatProblem), [
      "rectify.yaml:1: command_env: overridden by RECTIFY_COMMAND_ENV, which sets another value: the file's value is not in force",
    ]);
    const byFile = ok([], {}, file);
    assert.deepEqual([byFile.commandEnv, byFile.sources.commandEnv.path, byFile.warnings], [['FROM_FILE'], 'command_env', []]);
    // '' from the flag is none, over the file; from the variable too, though an empty variable is otherwise
    // unset: the file's names are not passed, and the override is said.
    assert.deepEqual(ok(['--command-env', ''], {}, file).commandEnv, []);
    const noneByEnv = ok([], { RECTIFY_COMMAND_ENV: '' }, file);
    assert.deepEqual([noneByEnv.commandEnv, noneByEnv.sources.commandEnv.file], [[], 'RECTIFY_COMMAND_ENV']);
    assert.deepEqual(noneByEnv.warnings.map(formatProblem), [
      "rectify.yaml:1: command_env: overridden by RECTIFY_COMMAND_ENV, which sets another value: the file's value is not in force",
    ]);
    // Given twice: the same names are harmless, other ones refused.
    assert.deepEqual(ok(['--command-env', 'A,B', '--command-env', 'A B']).commandEnv, ['A', 'B']);
    assert.deepEqual(lines(['--command-env', 'A', '--command-env', 'B']), [
      '--command-env: given twice, with different values: give it once (no value is taken over the other)',
    ]);
  });

  it('a name that cannot be a variable is refused, from every source, naming it', () => {
    const expected = 'expected environment variable names (letters, digits and _, not starting with a digit), comma-separated, got';
    assert.deepEqual(lines(['--command-env', 'HOME,bad-name'], { RECTIFY_COMMAND_ENV: '1ST' }, workdir('command_env: [HOME, 42]\n')), [
      `--command-env: ${expected} "bad-name"`,
      `RECTIFY_COMMAND_ENV: ${expected} "1ST"`,
      `rectify.yaml:1: command_env: ${expected} 42`,
    ]);
    assert.deepEqual(lines([], {}, workdir('command_env: {a: b}\n')), ['rectify.yaml:1: command_env: expected environment variable names, comma-separated, got a mapping']);
  });

  it('a reload says a change in the file takes effect at a restart, and nothing when the flag or the variable wins over it', () => {
    const AT_RESTART = "it takes effect only at a restart (a reload does not apply the config file's settings; the value in force stays)";
    const again = (inForce: Config, argv: string[], env: Record<string, string>) => configOnReload(inForce, argv, env).changed.map(formatProblem);
    const cwd = workdir('command_env: [A]\n');
    const byFile = ok([], {}, cwd);
    const byFlag = ok(['--command-env', 'B'], {}, cwd);
    const byEnv = ok([], { RECTIFY_COMMAND_ENV: 'B' }, cwd);
    writeFileSync(join(cwd, 'rectify.yaml'), 'command_env: [A, C]\n');
    assert.deepEqual(again(byFile, [], {}), [`rectify.yaml: command_env: changed in the file: ${AT_RESTART}`]);
    assert.deepEqual(again(byFlag, ['--command-env', 'B'], {}), []);
    assert.deepEqual(again(byEnv, [], { RECTIFY_COMMAND_ENV: 'B' }), []);
  });

  it('is in --help with its flag, variable and key', () => {
    assert.match(HELP, /--command-env <NAME,\.\.\.> +RECTIFY_COMMAND_ENV +command_env +- /);
  });
});

describe('arguments', () => {
  it('returns positionals and subcommand flags', () => {
    const r = loadConfig(['restart-pod', '--param', 'a=1', '--yes', '--param=b=2', '--', '--not-a-flag'], {}, {
      cwd: workdir(),
      extraFlags: { param: 'string', yes: 'boolean' },
    });
    assert.ok('config' in r);
    assert.deepEqual(r.config.args, ['restart-pod', '--not-a-flag']);
    assert.deepEqual(r.config.extraFlags, { param: ['a=1', 'b=2'], yes: true });
  });

  it('undeclared subcommand flags are unknown', () => {
    assert.deepEqual(lines(['--param', 'a=1', '-x']), [
      '--param: unknown flag',
      '-x: unknown flag (flags are spelled --name)',
    ]);
  });

  it('an unknown single-dash flag is named without what follows its =, which may be a secret', () => {
    assert.deepEqual(lines(['-slack-signing-secret=SUPERSECRET', '--slack-signing-secre=SUPERSECRET']), [
      '-slack-signing-secret: unknown flag (flags are spelled --name)',
      '--slack-signing-secre: unknown flag (did you mean "--slack-signing-secret"?)',
    ]);
  });

  it('recognises --help and -h', () => {
    assert.equal(ok(['--help']).help, true);
    assert.equal(ok(['-h']).help, true);
  });

  it("warns about the client commands' RECTIFY_TOKEN and RECTIFY_SERVER, which the service ignores: RECTIFY_TOKEN is most likely RECTIFY_TOKENS misnamed", () => {
    const c = ok([], { RECTIFY_TOKEN: '/etc/rectify/tokens.yaml', RECTIFY_SERVER: 'http://rectify:9095' });
    assert.equal(c.tokens, undefined);
    assert.deepEqual(c.warnings.map(formatProblem), [
      'RECTIFY_SERVER: read by the client commands only (rectify approvals, approve, run…), not by the service; the service listens where RECTIFY_LISTEN says',
      'RECTIFY_TOKEN: read by the client commands only (rectify approvals, approve, run…), not by the service; did you mean RECTIFY_TOKENS (the API tokens file)?',
    ]);
    assert.deepEqual(ok([], { RECTIFY_TOKEN: '', RECTIFY_SERVER: '' }).warnings, [], 'empty counts as unset');
  });

  it('warns about a safety setting given empty, which is unset: dry_run: with nothing after it is live mode', () => {
    for (const yaml of ['dry_run:\n', 'dry_run: ~\n']) {
      const c = ok([], {}, workdir(yaml));
      assert.equal(c.dryRun, false);
      assert.deepEqual(c.warnings.map(formatProblem), ['rectify.yaml:1: dry_run: set but empty: rectify runs remediations for real (live mode)']);
    }
    const env = ok([], { RECTIFY_DRY_RUN: '' });
    assert.deepEqual([env.dryRun, env.warnings.map(formatProblem)], [false, ['RECTIFY_DRY_RUN: set but empty: rectify runs remediations for real (live mode)']]);
    const approvers = ok([], {}, workdir('listen: 127.0.0.1:9095\nslack_approvers:\n'));
    assert.deepEqual([approvers.slackApprovers, approvers.warnings.map(formatProblem)], [
      undefined,
      ['rectify.yaml:2: slack_approvers: set but empty: anyone who can see an approval message can approve or reject it with the Slack buttons'],
    ]);
    // Set by another source, the empty one changes nothing: no warning.
    assert.deepEqual(ok(['--dry-run'], { RECTIFY_DRY_RUN: '' }, workdir('dry_run:\n')).warnings, []);
    // Other settings given empty are unset, as ever, without a word.
    assert.deepEqual(ok([], { RECTIFY_TOKENS: '' }, workdir('tokens:\n')).warnings, []);
  });

  it('warns about unknown RECTIFY_ variables that are no near miss of a setting, without failing', () => {
    // Another tool's variables may share the prefix: a wrapper's own, a short name that only
    // looks like a short setting (RECTIFY_ID is not RECTIFY_DB), an empty one (counts as unset).
    const c = ok([], { RECTIFY_WRAPPER_HOME: '/opt', RECTIFY_ID: '7', RECTIFY_TLS_CA: 'ca.pem', RECTIFY_DRYRUN: '', PATH: '/bin' });
    assert.deepEqual(c.warnings.map(formatProblem), [
      'RECTIFY_DRYRUN: not a rectify setting (did you mean "RECTIFY_DRY_RUN"?)',
      'RECTIFY_ID: not a rectify setting (did you mean "RECTIFY_DB"?)',
      'RECTIFY_TLS_CA: not a rectify setting (did you mean "RECTIFY_TLS_CERT"?)',
      'RECTIFY_WRAPPER_HOME: not a rectify setting',
    ]);
  });

  it('refuses a near miss of a known RECTIFY_ variable, naming both: ignored, RECTIFY_DRYRUN=true would run for real', () => {
    const refusal = (key: string, meant: string) =>
      `${key}: not a rectify setting, but so close to ${meant} that it was surely meant for it (rectify would run without it): rename it ${meant}, or unset it`;
    const cases: Array<[string, string]> = [
      ['RECTIFY_DRYRUN', 'RECTIFY_DRY_RUN'], // the same letters
      ['rectify_dry_run', 'RECTIFY_DRY_RUN'], // in another case
      ['RECTIFY_DRY_RUM', 'RECTIFY_DRY_RUN'], // one letter off
      ['RECTIFY_DYR_RUN', 'RECTIFY_DRY_RUN'], // two
      ['RECTIFY_LISTN', 'RECTIFY_LISTEN'],
      ['RECTIFY_LOGLEVEL', 'RECTIFY_LOG_LEVEL'],
      ['RECTIFY_TLS_CRT', 'RECTIFY_TLS_CERT'],
      ['RECTIFY_TOKN', 'RECTIFY_TOKEN'], // the client's variables are known too
    ];
    for (const [key, meant] of cases) {
      assert.deepEqual(lines([], { [key]: 'true' }), [refusal(key, meant)], key);
    }
    // With every other problem, in one go.
    assert.deepEqual(lines(['--max-pending', '0'], { RECTIFY_DRYRUN: 'true', RECTIFY_AUDITKEY: 'k', RECTIFY_WRAPPER: 'x' }), [
      '--max-pending: expected a positive integer, got "0"',
      refusal('RECTIFY_AUDITKEY', 'RECTIFY_AUDIT_KEY'),
      refusal('RECTIFY_DRYRUN', 'RECTIFY_DRY_RUN'),
    ]);
  });
});

describe('a setting\'s variable with a word added or left off', () => {
  const refusal = (key: string, meant: string, how: 'added' | 'left off') =>
    `${key}: not a rectify setting, but ${meant} with a word ${how}, surely meant for it (rectify would run without it): rename it ${meant}, or unset it`;

  it('is refused, naming the setting: RECTIFY_DRY_RUN_MODE=true was a warning, and serve ran live', () => {
    const cases: Array<[string, string, 'added' | 'left off']> = [
      ['RECTIFY_DRY_RUN_MODE', 'RECTIFY_DRY_RUN', 'added'],
      ['RECTIFY_RUNBOOKS_DIR', 'RECTIFY_RUNBOOKS', 'added'],
      ['RECTIFY_LISTEN_ADDR', 'RECTIFY_LISTEN', 'added'],
      ['RECTIFY_DB_PATH', 'RECTIFY_DB', 'added'],
      ['rectify_dry_run_enabled', 'RECTIFY_DRY_RUN', 'added'],
      ['RECTIFY_MAX_CONCURRENT', 'RECTIFY_MAX_CONCURRENT_EXECUTIONS', 'left off'],
      ['RECTIFY_SLACK_WEBHOOK', 'RECTIFY_SLACK_WEBHOOK_URL', 'left off'],
    ];
    for (const [key, meant, how] of cases) assert.deepEqual(lines([], { [key]: 'true' }), [refusal(key, meant, how)], key);
  });

  it('is only warned when it fits several settings, has a word before the name, or is empty; other names as before', () => {
    // RECTIFY_TLS: TLS_CERT or TLS_KEY; RECTIFY_TEST_KUBECONFIG: rectify's own tests' variable.
    const c = ok([], { RECTIFY_TLS: 'x', RECTIFY_NOTIFY_REPEAT: '5m', RECTIFY_TEST_KUBECONFIG: '/k', RECTIFY_DB_PATH: '', RECTIFY_ID: '7', RECTIFY_STEP_ID: 's1' });
    assert.deepEqual(c.warnings.map((w) => w.file), ['RECTIFY_DB_PATH', 'RECTIFY_ID', 'RECTIFY_NOTIFY_REPEAT', 'RECTIFY_STEP_ID', 'RECTIFY_TEST_KUBECONFIG', 'RECTIFY_TLS']);
  });

  it('names every setting an unknown variable begins when it begins several, not the nearest spelling of another', () => {
    const c = ok([], { RECTIFY_TLS: 'x' });
    assert.deepEqual(
      c.warnings.filter((w) => w.file === 'RECTIFY_TLS').map((w) => w.message),
      ['not a rectify setting (did you mean one of "RECTIFY_TLS_CERT", "RECTIFY_TLS_KEY"?)'],
    );
  });

  it('a file key with the same slip is refused too, as it was', () => {
    assert.deepEqual(lines([], {}, workdir('dry_run_mode: true\n')), ['rectify.yaml:1: dry_run_mode: unknown key (did you mean "dry_run"?)']);
  });
});

describe('the configuration read again on SIGHUP (configOnReload)', () => {
  const AT_RESTART = "it takes effect only at a restart (a reload does not apply the config file's settings; the value in force stays)";
  const again = (inForce: Config, argv: string[] = [], env: Record<string, string> = {}) => {
    const r = configOnReload(inForce, argv, env);
    return { changed: r.changed.map(formatProblem), problems: r.problems.map(formatProblem) };
  };

  it('names each key whose value differs from the one in force, never the value; an unchanged file says nothing', () => {
    const cwd = workdir('max_concurrent_executions: 3\naudit_key: first-key-0123456789abcdef0123456789abcd\nlisten: 127.0.0.1:9095\n');
    const inForce = ok([], { RECTIFY_LISTEN: '127.0.0.1:9096' }, cwd);
    assert.deepEqual(again(inForce, [], { RECTIFY_LISTEN: '127.0.0.1:9096' }), { changed: [], problems: [] });
    // listen changed in the file too, but the variable wins over it as before: nothing would change at a restart.
    writeFileSync(join(cwd, 'rectify.yaml'), 'max_concurrent_executions: 5\naudit_key: other-key-0123456789abcdef0123456789abcd\nlisten: 127.0.0.1:9097\ndry_run: true\ncommand_env: [HOME]\n');
    const r = again(inForce, [], { RECTIFY_LISTEN: '127.0.0.1:9096' });
    assert.deepEqual(r, {
      changed: [
        `rectify.yaml: max_concurrent_executions: changed in the file: ${AT_RESTART}`,
        `rectify.yaml: dry_run: set in the file: ${AT_RESTART}`,
        `rectify.yaml: audit_key: changed in the file: ${AT_RESTART}`,
        `rectify.yaml: command_env: set in the file: ${AT_RESTART}`,
      ],
      problems: [],
    });
    assert.doesNotMatch(JSON.stringify(r), /other-key/);
  });

  it('a file that no longer loads is its problems; a ./rectify.yaml gone is said, with the keys it set', () => {
    const cwd = workdir('runbooks: rb\n');
    const inForce = ok([], {}, cwd);
    writeFileSync(join(cwd, 'rectify.yaml'), 'runbooks: rb\nmax_concurrent_executions: five\n');
    assert.deepEqual(again(inForce), { changed: [], problems: ['rectify.yaml:2: max_concurrent_executions: expected a positive integer, got "five"'] });
    rmSync(join(cwd, 'rectify.yaml'));
    assert.deepEqual(again(inForce).changed, [
      `${join(cwd, 'rectify.yaml')}: no longer there: the settings read from it stay in force until a restart`,
      `rectify.yaml: runbooks: no longer set in the file: ${AT_RESTART}`,
    ]);
    // One named by --config must be there, as at a start.
    const named = workdir();
    writeFileSync(join(named, 'etc.yaml'), 'dry_run: true\n');
    const byFlag = ok(['--config', 'etc.yaml'], {}, named);
    rmSync(join(named, 'etc.yaml'));
    assert.deepEqual(again(byFlag, ['--config', 'etc.yaml']).problems, ['--config: cannot read "etc.yaml": ENOENT (file not found)']);
  });
});

describe('the result', () => {
  it('is deep-frozen: mutation throws in strict mode', () => {
    const c = ok([], {}, workdir('command_env: [HOME]\n'));
    assert.throws(() => {
      (c as { dryRun: boolean }).dryRun = true;
    }, TypeError);
    assert.throws(() => {
      (c.listen as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (c.commandEnv as string[]).push('SECRET');
    }, TypeError);
    assert.equal(Object.isFrozen(c.sources.listen), true);
  });

  it('summary hides passwords in URLs', () => {
    // (A Prometheus URL with user:password@ is refused: its credentials would not be sent.)
    const c = ok(['--db', 'postgres://rectify:s3cr3t@db/rectify', '--prometheus-url', 'https://prom:9090/']);
    const s = configSummary(c);
    assert.equal(s['db'], 'postgres://rectify:REDACTED@db/rectify');
    assert.equal(s['prometheusUrl'], 'https://prom:9090');
    assert.doesNotMatch(JSON.stringify(s), /s3cr3t/);
  });

  it('the summary names every setting (the TLS pair as tls): --db-busy-timeout was left out', () => {
    const s = configSummary(ok(['--db-busy-timeout', '30s']));
    const keyOf = (n: string): string => (n === 'tlsCert' || n === 'tlsKey' ? 'tls' : n);
    assert.deepEqual(SETTING_NAMES.filter((n) => !(keyOf(n) in s)), []);
    assert.equal(s['dbBusyTimeoutMs'], 30_000);
  });

  it('HELP lists every flag with its env var and key', () => {
    assert.match(HELP, /--max-concurrent-executions <n> +RECTIFY_MAX_CONCURRENT_EXECUTIONS +max_concurrent_executions +3 /);
    assert.match(HELP, /--config <path> +RECTIFY_CONFIG +- +- /);
    assert.match(HELP, /command_env/);
  });
});

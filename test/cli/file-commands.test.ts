import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createManualClock } from '../../src/lib/index.js';
import { startTestService } from '../helpers/service.js';
import { cli } from './capture.js';

/**
 * The commands that read files directly (serve, lint, test, openapi, audit verify,
 * audit export): what they accept, what they refuse before doing anything, and what
 * their --help says.
 */

const root = mkdtempSync(join(tmpdir(), 'rectify-file-commands-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('rectify serve', () => {
  // A folder that does not exist: were an argument let through, startup would stop on it (exit 2, another message) instead of serving.
  const safe = ['--listen', '127.0.0.1:0', '--db', `sqlite:${join(root, 'serve.db')}`, '--runbooks', join(root, 'no-such-folder')];

  it('refuses a positional argument, naming the flag that was meant, before starting anything', async () => {
    const r = await cli(['serve', 'prod', ...safe], { cwd: root });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: ['rectify serve takes no arguments; did you mean --runbooks prod?'] });
    const file = await cli(['serve', ...safe, 'rectify.yaml'], { cwd: root });
    assert.deepEqual(file.err, ['rectify serve takes no arguments; did you mean --config rectify.yaml?']);
    const two = await cli(['serve', 'a', 'b', ...safe], { cwd: root });
    assert.equal(two.code, 2);
    assert.deepEqual(two.err, ['rectify serve takes no arguments (got "a", "b"); settings are flags, see rectify serve --help']);
  });

  it('`--dry-run false` is refused with the spelling that says false, not taken for a runbooks folder', async () => {
    const r = await cli(['serve', '--dry-run', 'false', ...safe], { cwd: root });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: ['rectify serve takes no arguments; did you mean --dry-run=false?'] });
  });

  it('`--dry-run --dry-run=false` is refused (exit 2), not taken as live mode, the last one given', async () => {
    const r = await cli(['serve', '--dry-run', '--dry-run=false', ...safe], { cwd: root });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: ['--dry-run: given twice, with different values: give it once (no value is taken over the other)'] });
  });
});

describe('rectify serve with an in-memory database', () => {
  it('is refused (exit 2) where it was set, before anything starts: a crash would lose the audit log, the decided alerts and the runs to recover', async () => {
    const dir = mkdtempSync(join(root, 'memory-'));
    mkdirSync(join(dir, 'runbooks'));
    const said = 'an in-memory database is refused for rectify serve: the audit log, the alerts already decided (so a re-delivery is not run again) and the recovery of runs a crash cut off need a file that outlives the process; give sqlite:<path>';
    const flag = await cli(['serve', '--listen', '127.0.0.1:0', '--db', 'sqlite::memory:'], { cwd: dir, signal: AbortSignal.timeout(10_000) });
    assert.deepEqual({ code: flag.code, out: flag.out, err: flag.err }, { code: 2, out: [], err: [`--db: ${said}`] });
    const env = await cli(['serve', '--listen', '127.0.0.1:0'], { cwd: dir, env: { RECTIFY_DB: 'sqlite::memory:' }, signal: AbortSignal.timeout(10_000) });
    assert.deepEqual({ code: env.code, err: env.err }, { code: 2, err: [`RECTIFY_DB: ${said}`] });
    writeFileSync(join(dir, 'rectify.yaml'), 'db: "sqlite::memory:"\n');
    const file = await cli(['serve', '--listen', '127.0.0.1:0'], { cwd: dir, signal: AbortSignal.timeout(10_000) });
    assert.deepEqual({ code: file.code, err: file.err }, { code: 2, err: [`rectify.yaml: db: ${said}`] });
    assert.deepEqual(readdirSync(dir).sort(), ['rectify.yaml', 'runbooks'], 'nothing was created');
    // --help offers a database file only.
    const help = await cli(['serve', '--help'], { cwd: dir });
    assert.match(help.out.join('\n'), /--db <url> +RECTIFY_DB +db +sqlite:\.\/data\/rectify\.db +database file: sqlite:<path> \(this build opens SQLite only\)/);
    assert.doesNotMatch(help.out.join('\n'), /:memory:/);
  });
});

describe('rectify serve with a misspelt RECTIFY_ variable', () => {
  it('RECTIFY_DRYRUN=true stops the start (exit 2) naming RECTIFY_DRY_RUN, before the database is created', async () => {
    const dir = mkdtempSync(join(root, 'dryrun-'));
    mkdirSync(join(dir, 'runbooks'));
    const db = join(dir, 'r.db');
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${db}`], { cwd: dir, env: { RECTIFY_DRYRUN: 'true' }, signal: AbortSignal.timeout(10_000) });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, {
      code: 2,
      out: [],
      err: ['RECTIFY_DRYRUN: not a rectify setting, but so close to RECTIFY_DRY_RUN that it was surely meant for it (rectify would run without it): rename it RECTIFY_DRY_RUN, or unset it'],
    });
    assert.equal(existsSync(db), false);
  });
});

describe('rectify lint finds the runbooks folder as rectify serve does', () => {
  const OK = 'runbooks:\n  fine:\n    risk: LOW\n    triggers: [x]\n    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n    rollback: none\n    rollback_reason: a test\n    post_checks: [{http: {url: "http://127.0.0.1:9/ok"}}]\n';
  const BROKEN = 'runbooks:\n  broken:\n    risk: LOW\n    triggers: [x]\n    max_per_hour: five\n    action: kubectl delete pod p -n n\n';
  function project(): string {
    const dir = mkdtempSync(join(root, 'lint-'));
    mkdirSync(join(dir, 'runbooks'));
    mkdirSync(join(dir, 'prod'));
    writeFileSync(join(dir, 'runbooks', 'ok.yaml'), OK);
    writeFileSync(join(dir, 'prod', 'bad.yaml'), BROKEN);
    writeFileSync(join(dir, 'rectify.yaml'), 'runbooks: ./prod\n');
    writeFileSync(join(dir, 'other.yaml'), 'runbooks: ./runbooks\n');
    return dir;
  }
  const problem = (dir: string) => `${join(dir, 'prod', 'bad.yaml')}:5: runbooks.broken.max_per_hour: expected a positive integer, got "five"`;

  it('reads runbooks: from ./rectify.yaml or --config, as serve does, and says where the folder came from', async () => {
    const dir = project();
    const prod = join(dir, 'prod');
    for (const argv of [[], ['--config', 'rectify.yaml'], ['--config=rectify.yaml']]) {
      const r = await cli(['lint', ...argv], { cwd: dir });
      assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 1, out: [], err: [problem(dir), `1 problem(s) and 0 warning(s) in ${prod} (set by runbooks in rectify.yaml)`] }, argv.join(' '));
    }
    // The service resolves the same folder and refuses to start on it.
    const config = loadConfig([], {}, { cwd: dir });
    assert.ok('config' in config);
    assert.equal(config.config.runbooks, prod);
    const serve = await cli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'data', 'rectify.db')}`], { cwd: dir });
    assert.equal(serve.code, 2);
    assert.deepEqual(serve.err, [problem(dir)]);
  });

  it('reads runbooks: in a config file relative to that file, started from any folder', async () => {
    const dir = project();
    const elsewhere = mkdtempSync(join(root, 'cwd-'));
    // An empty ./prod where rectify is started from must not be the one read.
    mkdirSync(join(elsewhere, 'prod'));
    for (const [argv, env] of [[['--config', join(dir, 'rectify.yaml')], {}], [[], { RECTIFY_CONFIG: join(dir, 'rectify.yaml') }]] as const) {
      const r = await cli(['lint', ...argv], { cwd: elsewhere, env });
      assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 1, out: [], err: [problem(dir), `1 problem(s) and 0 warning(s) in ${join(dir, 'prod')} (set by runbooks in ${join(dir, 'rectify.yaml')})`] });
    }
  });

  it('takes the folder with serve\'s precedence: argument, --runbooks, RECTIFY_RUNBOOKS, RECTIFY_CONFIG or --config, ./rectify.yaml, ./runbooks', async () => {
    const dir = project();
    const good = join(dir, 'runbooks');
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['runbooks'], {}, `1 runbook(s) OK in ${good}`],
      [['--runbooks', 'runbooks'], { RECTIFY_RUNBOOKS: 'prod' }, `1 runbook(s) OK in ${good} (set by --runbooks)`],
      [['--runbooks', 'runbooks', '--config', 'rectify.yaml'], {}, `1 runbook(s) OK in ${good} (set by --runbooks)`],
      [[], { RECTIFY_RUNBOOKS: 'runbooks' }, `1 runbook(s) OK in ${good} (set by RECTIFY_RUNBOOKS)`],
      [['--config', 'other.yaml'], {}, `1 runbook(s) OK in ${good} (set by runbooks in other.yaml)`],
      [[], { RECTIFY_CONFIG: 'other.yaml' }, `1 runbook(s) OK in ${good} (set by runbooks in other.yaml)`],
    ];
    for (const [argv, env, line] of cases) {
      const r = await cli(['lint', ...argv], { cwd: dir, env });
      assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 0, out: [line], err: [] }, `${argv.join(' ')} ${JSON.stringify(env)}`);
    }
    rmSync(join(dir, 'rectify.yaml'));
    const dflt = await cli(['lint'], { cwd: dir });
    assert.deepEqual({ code: dflt.code, out: dflt.out }, { code: 0, out: [`1 runbook(s) OK in ${good} (the default)`] });
  });

  it('refuses what it would not read, and a configuration serve would refuse, before linting', async () => {
    const dir = project();
    const usage = 'usage: rectify lint [dir|file] [--runbooks dir] [--config file]';
    const refused: Array<[string[], string]> = [
      [['runbooks', '--config', 'rectify.yaml'], `rectify lint: name the runbooks either as an argument or through --config, not both (got "runbooks" and --config "rectify.yaml"); ${usage}`],
      [['--confg', 'rectify.yaml'], `rectify lint: --confg: unknown flag (did you mean "--config"?); ${usage}`],
      [['--config'], `rectify lint: --config: expected a value; ${usage}`],
    ];
    for (const [argv, line] of refused) {
      const r = await cli(['lint', ...argv], { cwd: dir });
      assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: [line] }, argv.join(' '));
    }
    // A name with nothing at it, or a file serve would not load, is a wrong name: exit 2 naming it,
    // not a lint finding (exit 1), and a log file is not parsed as YAML line by line.
    writeFileSync(join(dir, 'app.log'), 'GET /x 200\n\tpanic: {oops\n'.repeat(500));
    writeFileSync(join(dir, 'fine.test.yaml'), 'tests: []\n');
    writeFileSync(join(dir, '.hidden.yml'), OK);
    const names: Array<[string[], Record<string, string>, string]> = [
      [['nonexist.yaml'], {}, `rectify lint: no folder or file at ${join(dir, 'nonexist.yaml')}; name a runbooks folder or a .yaml/.yml runbook file`],
      [['--runbooks', 'gone'], {}, `rectify lint: no folder or file at ${join(dir, 'gone')} (set by --runbooks); name a runbooks folder or a .yaml/.yml runbook file`],
      [[], { RECTIFY_RUNBOOKS: 'gone' }, `rectify lint: no folder or file at ${join(dir, 'gone')} (set by RECTIFY_RUNBOOKS); name a runbooks folder or a .yaml/.yml runbook file`],
      [['app.log'], {}, `rectify lint: ${join(dir, 'app.log')} is not a runbook file: lint reads .yaml and .yml files, the ones rectify serve loads from a runbooks folder`],
      [['fine.test.yaml'], {}, `rectify lint: ${join(dir, 'fine.test.yaml')} is a runbook test file, which rectify serve does not load; run it with: rectify test ${join(dir, 'fine.test.yaml')}`],
      [['.hidden.yml'], {}, `rectify lint: ${join(dir, '.hidden.yml')} is a hidden file, which rectify serve does not load from a runbooks folder; rename it without the leading dot`],
    ];
    for (const [argv, env, line] of names) {
      const r = await cli(['lint', ...argv], { cwd: dir, env });
      assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: [line] }, `${argv.join(' ')} ${JSON.stringify(env)}`);
    }
    // The default folder, when there is none, is named with where it came from.
    rmSync(join(dir, 'rectify.yaml'));
    rmSync(join(dir, 'runbooks'), { recursive: true });
    const noDefault = await cli(['lint'], { cwd: dir });
    assert.deepEqual({ code: noDefault.code, err: noDefault.err }, { code: 2, err: [`rectify lint: no folder or file at ${join(dir, 'runbooks')} (the default); name a runbooks folder or a .yaml/.yml runbook file`] });
    // A runbook file named by itself is still read.
    const one = await cli(['lint', 'prod/bad.yaml'], { cwd: dir });
    assert.deepEqual({ code: one.code, err: one.err }, { code: 1, err: [problem(dir), `1 problem(s) and 0 warning(s) in ${join(dir, 'prod', 'bad.yaml')}`] });

    const missing = await cli(['lint', '--config', 'nope.yaml'], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.deepEqual(missing.err, [
      '--config: cannot read "nope.yaml": ENOENT (file not found)',
      'rectify lint: the configuration that names the runbooks folder has 1 problem(s) (rectify serve would refuse it too); fix them, or name the folder: rectify lint <dir>',
    ]);
  });
});

describe('rectify serve on an address already taken', () => {
  it('exits 1 with one line naming the address and the fix, and leaves nothing running', async () => {
    const taken = createServer();
    await new Promise<void>((ok) => taken.listen(0, '127.0.0.1', ok));
    const port = (taken.address() as { port: number }).port;
    const dir = mkdtempSync(join(root, 'taken-'));
    mkdirSync(join(dir, 'runbooks'));
    try {
      const r = await cli(['serve', '--listen', `127.0.0.1:${port}`, '--db', `sqlite:${join(dir, 'data', 'rectify.db')}`, '--log-level', 'silent'], { cwd: dir });
      assert.deepEqual({ code: r.code, err: r.err }, { code: 1, err: [`rectify: cannot listen on 127.0.0.1:${port}: EADDRINUSE (another process listens there: stop it, or set --listen)`] });
    } finally {
      await new Promise((ok) => taken.close(ok));
    }
  });
});

describe('rectify serve --kubernetes in-cluster outside a cluster', () => {
  // Were it to start, it would serve until the test's timeout fails it.
  it('exits 2 naming what a pod would have, and serves nothing', { timeout: 30_000 }, async (t) => {
    // This machine is no pod; the variables are cleared in case the tests run in one.
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    t.after(() => {
      if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
    });
    if (existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return t.skip('a service-account token is mounted here');
    const dir = mkdtempSync(join(root, 'in-cluster-'));
    mkdirSync(join(dir, 'runbooks'));
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'r.db')}`, '--kubernetes', 'in-cluster', '--log-level', 'silent'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(
      r.err.find((l) => l.includes('--kubernetes')),
      '--kubernetes: kubernetes: not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT not set and no service-account token at /var/run/secrets/kubernetes.io/serviceaccount/token; set --kubeconfig, or --kubernetes off',
    );
    // Exit 2 started nothing: the Kubernetes client is set up before the database is opened, so none was created.
    assert.deepEqual(readdirSync(dir).sort(), ['runbooks']);
  });
});

describe('rectify openapi', () => {
  it('refuses an unknown flag or a second name before writing any file', async () => {
    const dir = join(root, 'openapi');
    mkdirSync(dir);
    const typo = await cli(['openapi', '--chek'], { cwd: dir });
    assert.deepEqual({ code: typo.code, out: typo.out, err: typo.err }, {
      code: 2,
      out: [],
      err: ['rectify openapi: --chek: unknown flag (did you mean "--check"?); usage: rectify openapi [file] [--check]'],
    });
    const two = await cli(['openapi', 'out1.yaml', 'out2.yaml', '--bogus'], { cwd: dir });
    assert.equal(two.code, 2);
    assert.deepEqual(two.err, [
      'rectify openapi: --bogus: unknown flag; usage: rectify openapi [file] [--check]',
      'rectify openapi: name one file (got "out1.yaml", "out2.yaml"); usage: rectify openapi [file] [--check]',
    ]);
    assert.deepEqual(readdirSync(dir), [], 'nothing was written');

    // What it is for still works: one name, then --check against it (also as --check=true).
    const wrote = await cli(['openapi', 'out.yaml'], { cwd: dir });
    assert.deepEqual({ code: wrote.code, out: wrote.out }, { code: 0, out: [`wrote ${join(dir, 'out.yaml')}`] });
    const checked = await cli(['openapi', '--check=true', 'out.yaml'], { cwd: dir });
    assert.deepEqual({ code: checked.code, out: checked.out }, { code: 0, out: [`${join(dir, 'out.yaml')} is up to date`] });
    assert.equal(existsSync(join(dir, 'openapi.yaml')), false);
  });
});

describe('--help of the commands that read files', () => {
  it('gives each its usage, arguments, its own flags and its own exit codes', async () => {
    const own: Record<string, { flags: string[]; exits: string[] }> = {
      serve: { flags: ['--runbooks <path>', '--config <path>', '--listen <host:port>', '--shutdown-grace <duration>'], exits: ['  0  stopped cleanly', '  1  could not start', '  2  usage:'] },
      lint: { flags: ['--runbooks <dir>', '--config <file>'], exits: ['  0  every runbook loads', '  1  a problem or a warning', '  2  usage:'] },
      test: { flags: [], exits: ['  0  every test passed', '  1  a test failed', '  2  usage:'] },
      openapi: { flags: ['--check'], exits: ['  0  written', '  1  with --check the file differs', '  2  usage:'] },
      'audit verify': { flags: ['--db <sqlite:path>', '--audit-key <key>', '--audit-previous-keys <key,…>'], exits: ['  0  the chain holds', '  1  the chain is broken', '  2  not verified'] },
      'audit export': { flags: ['--db <sqlite:path>', '--since <t>', '--after-seq <n>'], exits: ['  0  exported', '  1  the database file is damaged', '  2  usage:'] },
    };
    for (const [name, want] of Object.entries(own)) {
      for (const flag of ['--help', '-h']) {
        const r = await cli([...name.split(' '), flag], { cwd: root });
        assert.equal(r.code, 0, name);
        assert.ok(r.out[0]!.startsWith(`usage: rectify ${name}`), `${name}: ${r.out[0]}`);
        assert.ok(r.out.some((l) => l.startsWith('Arguments')), `${name} names its arguments`);
        for (const f of want.flags) assert.ok(r.out.some((l) => l.trimStart().startsWith(f)), `${name} describes ${f}`);
        if (!want.flags.length) assert.ok(r.out.includes('Flags: none'), name);
        const exits = r.out.slice(r.out.indexOf('Exit codes:') + 1);
        assert.ok(r.out.includes('Exit codes:'), name);
        assert.deepEqual(exits.map((l) => l.slice(0, 5)), want.exits.map((e) => e.slice(0, 5)), `${name}: its own exit codes only`);
        want.exits.forEach((e, i) => assert.ok(exits[i]!.startsWith(e), `${name}: ${exits[i]}`));
      }
    }
  });
});

describe('rectify audit export and verify', () => {
  it('a file that is not rectify\'s database is a wrong input (exit 2, naming it), never a broken chain (exit 1)', async () => {
    const dir = mkdtempSync(join(root, 'not-a-db-'));
    writeFileSync(join(dir, 'x.txt'), 'line 1\nline 2\n'.repeat(100));
    const other = join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE t (a)');
    db.close();
    const fix = 'name rectify\'s database file (set --db sqlite:<path>)';
    const cases: Array<[string[], string]> = [
      [['x.txt'], `rectify audit: cannot open ${join(dir, 'x.txt')}: not a SQLite database (file is not a database); ${fix}`],
      [['--db', 'sqlite:x.txt'], `rectify audit: cannot open ${join(dir, 'x.txt')}: not a SQLite database (file is not a database); ${fix}`],
      [['other.db'], `rectify audit: cannot open ${other}: a SQLite database without an audit table (not a rectify database); ${fix}`],
      [['.'], `rectify audit: ${dir} is a folder, not a database file (set --db sqlite:<path>)`],
    ];
    for (const command of ['verify', 'export']) {
      for (const [argv, line] of cases) {
        const r = await cli(['audit', command, ...argv], { cwd: dir });
        assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: [line] }, `${command} ${argv.join(' ')}`);
      }
    }
  });

  it('a damaged database file: verify fails naming the last row read (CLI exit 1, API 200 ok:false), export stops with an error line (exit 1), never a stack trace', async () => {
    const svc = await startTestService({});
    let live: Awaited<ReturnType<typeof startTestService>> | null = svc;
    try {
      // Rows 2 to 12001 (row 1 is the service's own start), each marked so its page can be found in the file.
      const writes: Array<Promise<unknown>> = [];
      for (let i = 2; i <= 12_001; i++) {
        writes.push(svc.service.store.transact((tx) => tx.appendAudit({ at: Date.now(), event: 'SERVICE_PAUSED', actor: 'ops', details: { mark: `ROW-${String(i).padStart(5, '0')}`, pad: 'y'.repeat(40) } })));
      }
      await Promise.all(writes);
      await svc.stop();
      live = null;
      // The page holding row 7500 overwritten with garbage, as a failing disk or a bad copy leaves it.
      const file = readFileSync(svc.dbPath);
      const at = file.indexOf('ROW-07500');
      assert.ok(at > 0, 'row 7500 is in the database file (checkpointed on close)');
      const pageSize = 4096;
      const pageStart = Math.floor(at / pageSize) * pageSize;
      // The first row on that page (the seq of its lowest mark): every row before it is on pages that still read.
      const marks = [...file.subarray(pageStart, pageStart + pageSize).toString('latin1').matchAll(/ROW-\d{5}/g)].map((m) => m[0]).sort();
      const db = new Database(svc.dbPath, { readonly: true });
      const firstLost = db.prepare("SELECT seq FROM audit WHERE json_extract(details, '$.mark') = ?").pluck().get(marks[0]) as number;
      db.close();
      assert.ok(firstLost > 7000 && firstLost <= 7500, `the page holds rows from ${firstLost}`);
      const fd = openSync(svc.dbPath, 'r+');
      writeSync(fd, Buffer.alloc(pageSize, 0xab), 0, pageSize, pageStart);
      closeSync(fd);

      const damaged = (n: number) => `the database file is damaged after row ${n} (SQLite: database disk image is malformed): restore a backup`;
      // Named at the first row that does not read, not at the start of the 5,000-row page that failed.
      const verified = await cli(['audit', 'verify', svc.dbPath], { cwd: svc.dir });
      assert.deepEqual({ code: verified.code, out: verified.out, err: verified.err }, { code: 1, out: [], err: [`audit chain BROKEN at seq ${firstLost}: ${damaged(firstLost - 1)}`] });

      const exported = await cli(['audit', 'export', svc.dbPath], { cwd: svc.dir });
      assert.equal(exported.code, 1);
      assert.deepEqual(exported.err, [`rectify audit export: ${damaged(7000)}; the lines printed are the rows up to row 7000`]);
      assert.deepEqual(exported.out.map((l) => JSON.parse(l).seq), Array.from({ length: 7000 }, (_, k) => k + 1));

      live = await svc.restart();
      const v = await live.get('/api/v1/audit/verify');
      assert.equal(v.status, 200);
      assert.deepEqual({ ok: v.body.ok, first_bad_seq: v.body.first_bad_seq, reason: v.body.reason }, { ok: false, first_bad_seq: firstLost, reason: damaged(firstLost - 1) });

      // Over HTTP the 200 is sent with the first rows: the stream ends with one error line, not cut off without a word.
      const streamed = await live.app.inject({ method: 'GET', url: '/api/v1/audit/export' });
      assert.equal(streamed.statusCode, 200);
      const lines = streamed.body.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq?: number; error?: unknown });
      assert.deepEqual(lines.slice(0, -1).map((l) => l.seq), Array.from({ length: 7000 }, (_, k) => k + 1));
      assert.deepEqual(lines.at(-1), {
        error: { code: 'AUDIT_LOG_DAMAGED', message: `${damaged(7000)}; the lines sent are the rows up to row 7000`, details: [] },
      });
    } finally {
      await live?.stop();
      rmSync(svc.dir, { recursive: true, force: true });
    }
  });

  it('a truncated copy of rectify\'s database (a copy cut short, its header kept) is damaged: exit 1, restore a backup; never "name rectify\'s database file"', async () => {
    const svc = await startTestService({});
    try {
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < 2_000; i++) writes.push(svc.service.store.transact((tx) => tx.appendAudit({ at: Date.now(), event: 'SERVICE_PAUSED', actor: 'ops', details: { pad: 'y'.repeat(60) } })));
      await Promise.all(writes);
      await svc.stop();
      const whole = readFileSync(svc.dbPath);
      const malformed = 'database disk image is malformed';
      const cases: Array<[string, number, string]> = [
        ['half.db', Math.floor(whole.length / 2), malformed],
        ['first-page.db', 4096, malformed],
        // Cut inside the header: SQLite says "file is not a database", yet it begins as one.
        ['header.db', 16, 'file is not a database'],
      ];
      for (const [name, length, sqlite] of cases) {
        const copy = join(svc.dir, name);
        writeFileSync(copy, whole.subarray(0, length));
        for (const command of ['verify', 'export']) {
          const r = await cli(['audit', command, copy], { cwd: svc.dir });
          assert.deepEqual(
            { code: r.code, out: r.out, err: r.err },
            { code: 1, out: [], err: [`rectify audit: cannot open ${copy}: the database file is damaged (SQLite: ${sqlite}): restore a backup`] },
            `${command} ${name}`,
          );
        }
      }
    } finally {
      rmSync(svc.dir, { recursive: true, force: true });
    }
  });

  it('export --since takes a duration back from now, as rectify audit does, or an RFC 3339 time; neither takes settings it does not read', async () => {
    const hour = 3_600_000;
    const clock = createManualClock(Date.now() - 2 * hour);
    const svc = await startTestService({ clock });
    let running = true;
    try {
      await svc.post('/api/v1/incidents', { id: 'OLD', root_cause: 'nothing matches', service: 'shop' });
      clock.set(Date.now());
      await svc.post('/api/v1/incidents', { id: 'NEW', root_cause: 'nothing matches', service: 'shop' });
      await svc.stop();
      running = false;
      const db = `sqlite:${svc.dbPath}`;
      const incidents = (out: string[]) => [...new Set(out.map((l) => JSON.parse(l).incident_id))];

      const lastHour = await cli(['audit', 'export', '--db', db, '--since', '1h'], { cwd: svc.dir });
      assert.deepEqual(lastHour.err, []);
      assert.equal(lastHour.code, 0);
      assert.deepEqual(incidents(lastHour.out), ['NEW']);
      const threeHours = await cli(['audit', 'export', '--db', db, '--since', '3h'], { cwd: svc.dir });
      assert.deepEqual(incidents(threeHours.out), ['OLD', 'NEW']);
      const at = await cli(['audit', 'export', '--db', db, '--since', new Date(Date.now() - hour).toISOString()], { cwd: svc.dir });
      assert.deepEqual(at.out, lastHour.out);

      // Only its own flags: a service setting it does not read is refused, not ignored.
      const other = await cli(['audit', 'export', '--db', db, '--runbooks', 'prod', '--audit-key', 'k'.repeat(32)], { cwd: svc.dir });
      assert.deepEqual({ code: other.code, out: other.out, err: other.err }, {
        code: 2,
        out: [],
        err: ['rectify audit export: --runbooks: unknown flag; see: rectify audit export --help', 'rectify audit export: --audit-key: unknown flag; see: rectify audit export --help'],
      });
      const verifyOther = await cli(['audit', 'verify', '--db', db, '--listen', '127.0.0.1:1'], { cwd: svc.dir });
      assert.deepEqual({ code: verifyOther.code, err: verifyOther.err }, { code: 2, err: ['rectify audit verify: --listen: unknown flag; see: rectify audit verify --help'] });
      const verified = await cli(['audit', 'verify', '--config', 'none.yaml', db], { cwd: svc.dir });
      assert.deepEqual(verified.err, ['--config: cannot read "none.yaml": ENOENT (file not found)']);

      const bad = await cli(['audit', 'export', '--db', db, '--since', 'yesterday'], { cwd: svc.dir });
      assert.equal(bad.code, 2);
      assert.deepEqual(bad.err, ['--since: expected an RFC 3339 time (2026-11-24T03:00:00Z) or a duration back from now (1h, 30m), got "yesterday"']);
      assert.deepEqual(bad.out, []);
      const noSuchDay = await cli(['audit', 'export', '--db', db, '--since', '2026-04-31T00:00:00Z'], { cwd: svc.dir });
      assert.deepEqual([noSuchDay.code, noSuchDay.err, noSuchDay.out], [2, ['--since: 2026-04-31 does not exist: April 2026 has 30 days'], []]);
    } finally {
      if (running) await svc.stop();
      rmSync(svc.dir, { recursive: true, force: true });
    }
  });
});

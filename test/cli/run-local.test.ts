import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqliteAuditReader } from '../../src/store/sqlite/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { runCli } from '../../src/cli/index.js';
import { cli } from './capture.js';

describe('rectify run --local', () => {
  let dir: string;
  let target: HttpTarget;
  let db: string;
  let base: string[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-run-local-'));
    target = await startHttpTarget();
    target.route('POST', '/restart/api-1', { status: 200 });
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(
      join(dir, 'runbooks', 'runbooks.yaml'),
      `runbooks:
  restart-api:
    risk: LOW
    triggers: [CrashLoopBackOff]
    max_per_hour: 1
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{pod_name}"}
  slow-fix:
    risk: LOW
    triggers: [slow]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/slow/{pod_name}"}
  rollback-deployment:
    risk: HIGH
    triggers: [error_rate_spike_after_deploy]
    action:
      http: {method: POST, url: "${target.url}/undo/{deployment}"}
`,
    );
    db = join(dir, 'data', 'rectify.db');
    base = ['--db', `sqlite:${db}`, '--runbooks', join(dir, 'runbooks'), '--kubernetes', 'off'];
    // The database a service made: a local run uses one, it never makes one.
    await (await startTestService({ dir })).stop();
  });
  after(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs in this process through the guardrails, records the audit rows, and leaves the state for the next run', async () => {
    const r = await cli(['run', '--local', ...base, 'restart-api', '--param', 'pod_name=api-1', '--service', 'api', '--by', 'dave', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.err.join('\n'));
    const { result, execution } = r.json();
    assert.equal(result.action, 'executed');
    assert.equal(execution.state, 'succeeded');
    assert.equal(execution.actor, 'dave');
    assert.equal(target.calls('/restart/api-1', 'POST'), 1);

    const reader = openSqliteAuditReader(db);
    try {
      const rows = reader.auditRecords({ afterSeq: 0, limit: 100 });
      assert.deepEqual(
        rows.map((x) => [x.event, x.actor, x.incident_id]),
        [
          ['MANUAL_RUN', 'dave', result.incident_id],
          ['EXECUTING', 'dave', result.incident_id],
          ['STEP_STARTED', 'rectify', result.incident_id],
          ['STEP_FINISHED', 'rectify', result.incident_id],
          ['SUCCESS', 'rectify', result.incident_id],
        ],
      );
    } finally {
      reader.close();
    }

    // max_per_hour 1: the guardrail state is the database's, so a second run is refused.
    const again = await cli(['run', '--local', ...base, 'restart-api', '--param', 'pod_name=api-1', '--service', 'api', '--by', 'dave'], { cwd: dir });
    assert.equal(again.code, 1);
    assert.deepEqual(again.out, ['restart-api: blocked RATE_LIMITED: Rate limit exceeded (1/hour)']);
    assert.equal(target.calls('/restart/api-1', 'POST'), 1);

    // HIGH risk asks for approval, and the service on the same database sees the request.
    const high = await cli(['run', '--local', ...base, 'rollback-deployment', '--param', 'deployment=checkout'], { cwd: dir });
    assert.equal(high.code, 5);
    assert.match(high.out[0]!, /^rollback-deployment: approval required \(risk HIGH requires approval\); approval apr_\w+$/);
    const svc = await startTestService({ dir });
    try {
      const pending = await svc.get('/api/v1/approvals?status=pending');
      assert.equal(pending.body.approvals.length, 1);
      assert.equal(pending.body.approvals[0].runbook, 'rollback-deployment');
    } finally {
      await svc.stop();
    }

    const verify = await cli(['audit', 'verify', '--db', `sqlite:${db}`], { cwd: dir });
    assert.equal(verify.code, 0);
  });

  it('while it runs, a rectify serve on the database is refused (it would take the run for a crash leftover), and the run finishes', async () => {
    target.route('POST', '/slow/api-9', { status: 200, delayMs: 1_500 });
    const local = cli(['run', '--local', ...base, 'slow-fix', '--param', 'pod_name=api-9', '--service', 'slow', '--by', 'dave', '--json'], { cwd: dir });
    for (let i = 0; i < 400 && target.calls('/slow/api-9', 'POST') === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', ...base], { out: () => {}, err: (l) => err.push(l), env: {}, cwd: dir });
    assert.equal(code, 1);
    assert.equal(err.length, 1, err.join('\n'));
    assert.match(
      err[0]!,
      new RegExp(`^rectify: cannot start: the database .*rectify\\.db is in use by another rectify \\(rectify run --local, pid ${process.pid} on ${hostname()} since .+\\): stop that one first \\(or let it finish\\), or give this one its own --db$`),
    );
    const r = await local;
    assert.equal(r.code, 0, r.err.join('\n'));
    const out = JSON.parse(r.out.join('\n'));
    assert.deepEqual([out.result.action, out.execution.state], ['executed', 'succeeded']);
    const reader = openSqliteAuditReader(db);
    try {
      assert.equal(reader.auditRecords({ afterSeq: 0, limit: 1000 }).filter((x) => x.event === 'INTERRUPTED').length, 0);
    } finally {
      reader.close();
    }
  });

  it('does not recover executions another process may be running', async () => {
    // An execution left "running" (as a live service's would be) stays running after a local run.
    const svc = await startTestService({ dir });
    const running = svc.service.store.transact((tx) =>
      tx.insertExecution({
        id: 'exe_live',
        incident_id: null,
        runbook: 'restart-api',
        service: 'other',
        state: 'running',
        trigger: 'auto',
        actor: 'rectify',
        plan: {},
        steps: [],
        started_at: svc.clock.now(),
        finished_at: null,
        success: null,
        rolled_back: null,
        outcome: null,
        circuit_trial: false,
      }),
    );
    await running;
    await svc.stop();
    const r = await cli(['run', '--local', ...base, 'restart-api', '--param', 'pod_name=api-1', '--service', 'third', '--dry-run'], { cwd: dir });
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out[0]!, /^restart-api: dry run recorded, nothing executed/);
    const reader = openSqliteAuditReader(db);
    try {
      assert.equal(
        reader.auditRecords({ afterSeq: 0, limit: 1000 }).filter((x) => x.event === 'INTERRUPTED').length,
        0,
      );
    } finally {
      reader.close();
    }
  });

  it('is refused while a rectify serve holds the database (a restart of that serve would take the local run for a leftover)', async () => {
    const svc = await startTestService({ dir });
    try {
      const r = await cli(['run', '--local', ...base, 'restart-api', '--param', 'pod_name=api-1', '--service', 'fourth', '--dry-run'], { cwd: dir });
      assert.equal(r.code, 1);
      assert.deepEqual(r.out, []);
      assert.match(
        r.err.join('\n'),
        /^rectify run: cannot open .*rectify\.db: the database .*rectify\.db is in use by a rectify serve \(rectify serve, pid \d+ on .+ since .+\): run the runbook through it \(rectify run, without --local\)$/m,
      );
    } finally {
      await svc.stop();
    }
  });

  it('is refused on a database that is not there (a misspelt --db, the default of another folder): nothing runs, nothing is created', async () => {
    for (const [args, where] of [
      [['--db', `sqlite:${join(dir, 'data', 'rectfy.db')}`], `no database at ${join(dir, 'data', 'rectfy.db')} (set by --db)`],
      [[], `no database at ${join(dir, 'elsewhere', 'data', 'rectify.db')} (the default)`],
      [['--db', 'sqlite::memory:'], 'an in-memory database (set by --db)'],
    ] as const) {
      mkdirSync(join(dir, 'elsewhere'), { recursive: true });
      const r = await cli(['run', '--local', ...args, '--runbooks', join(dir, 'runbooks'), '--kubernetes', 'off', 'restart-api', '--param', 'pod_name=api-1', '--service', 'fifth'], {
        cwd: join(dir, 'elsewhere'),
      });
      assert.deepEqual(
        { code: r.code, out: r.out, err: r.err },
        {
          code: 2,
          out: [],
          err: [
            `rectify run: ${where}: a local run decides on the guardrail state and writes to the audit log of the database rectify serve uses; give its path with --db. Nothing was run`,
          ],
        },
      );
    }
    // Under --json, stdout holds the refusal as JSON (it was empty).
    const json = await cli(['run', '--local', '--db', `sqlite:${join(dir, 'data', 'rectfy.db')}`, '--runbooks', join(dir, 'runbooks'), 'restart-api', '--json'], { cwd: dir });
    const message = `rectify run: no database at ${join(dir, 'data', 'rectfy.db')} (set by --db): a local run decides on the guardrail state and writes to the audit log of the database rectify serve uses; give its path with --db. Nothing was run`;
    assert.deepEqual([json.code, json.err, json.json()], [2, [message], { error: { code: 'VALIDATION_FAILED', message, details: [] } }]);
    assert.equal(existsSync(join(dir, 'data', 'rectfy.db')), false);
    assert.equal(existsSync(join(dir, 'elsewhere', 'data')), false);
    assert.equal(target.calls('/restart/api-1', 'POST'), 1, 'only the first test ran it');
  });

  it('refuses flags that only make sense against a service, and names unknown runbooks', async () => {
    const both = await cli(['run', '--local', ...base, '--server', 'http://127.0.0.1:9095', 'restart-api'], { cwd: dir });
    assert.equal(both.code, 2);
    assert.deepEqual(both.err, ['--server: not with --local/--db (a local run happens in this process and always waits for its end)']);
    const unknown = await cli(['run', '--local', ...base, 'nope'], { cwd: dir });
    assert.equal(unknown.code, 1);
    // The service logs its runbook warnings to stderr first (these runbooks are minimal on purpose).
    assert.deepEqual(
      unknown.err.filter((l) => !l.includes('"runbook_warning"')),
      ['rectify run: no runbook "nope" is loaded'],
    );
    const badRunbooks = await cli(['run', '--local', '--db', `sqlite:${db}`, '--runbooks', join(dir, 'missing'), 'x'], { cwd: dir });
    assert.equal(badRunbooks.code, 2);
    assert.deepEqual(badRunbooks.err, [`${join(dir, 'missing')}: runbooks folder not found (set by --runbooks)`]);
  });

  it('blocked by executions a crashed serve left running, says which they are and that starting the serve frees them', async () => {
    target.route('POST', '/slow/api-7', { status: 200 });
    // What a serve killed with -9 leaves: an execution recorded as running that nobody runs.
    const svc = await startTestService({ dir });
    const started = Date.UTC(2026, 10, 24, 2, 0, 0);
    await svc.service.store.transact((tx) => {
      tx.insertExecution({
        id: 'exe_leftover',
        incident_id: null,
        runbook: 'slow-fix',
        service: 'shop',
        state: 'running',
        trigger: 'auto',
        actor: 'rectify',
        plan: {},
        steps: [],
        started_at: started,
        finished_at: null,
        success: null,
        rolled_back: null,
        outcome: null,
        circuit_trial: false,
      });
      tx.claimBlastRadius('exe_leftover', 'slow-fix', 'shop', started);
    });
    await svc.stop();
    const blocked = await cli(['run', '--local', ...base, 'slow-fix', '--param', 'pod_name=api-7', '--service', 'cart', '--json'], { cwd: dir });
    assert.equal(blocked.code, 1, JSON.stringify([blocked.out, blocked.err]));
    assert.deepEqual([blocked.json().result.action, blocked.json().result.event, blocked.json().result.reason], ['blocked', 'BLAST_LIMITED', 'Max services (1) already affected by slow-fix']);
    assert.deepEqual(blocked.err.filter((l) => !l.includes('"runbook_warning"')), [
      'rectify run: blocked by an execution recorded as running: exe_leftover (slow-fix on shop, since 2026-11-24T02:00:00.000Z). A local run never takes one over: if no rectify runs them any more (a rectify serve that stopped without recording them: a crash, kill -9), start rectify serve on this database: it records them INTERRUPTED for a human to check and frees their slots',
    ]);
    assert.equal(target.calls('/slow/api-7', 'POST'), 0);
    // The serve started again records it INTERRUPTED: the local run goes through.
    await (await startTestService({ dir })).stop();
    const ran = await cli(['run', '--local', ...base, 'slow-fix', '--param', 'pod_name=api-7', '--service', 'cart', '--json'], { cwd: dir });
    assert.equal(ran.code, 0, ran.err.join('\n'));
    assert.equal(ran.json().result.action, 'executed');
    assert.deepEqual(ran.err.filter((l) => !l.includes('"runbook_warning"')), []);
    assert.equal(target.calls('/slow/api-7', 'POST'), 1);
  });
});

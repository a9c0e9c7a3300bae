import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { holdDatabaseLock } from '../helpers/db-lock.js';
import { startRectifyProcess, type RectifyProcess } from '../helpers/process.js';

/**
 * `rectify serve` stopping as a real process: the stop is bounded and complete whatever
 * the operator or a client does meanwhile (a second SIGTERM or Ctrl-C, a request that
 * never finishes sending its body).
 */

const RUNBOOKS = `runbooks:
  slow-fix:
    risk: LOW
    triggers: [slow]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    actions:
      - command: {argv: [/bin/sleep, "31"], timeout_seconds: 60}
    rollback: none
    rollback_reason: sleeping changes nothing
`;

/** The exit code, or null when the process was ended by a signal; rejects past `ms`. */
function exitWithin(p: RectifyProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rectify did not exit within ${ms}ms:\n${p.output()}`)), ms);
    void p.stop().then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('stopping rectify serve', () => {
  let dir: string;
  let runbooks: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-stop-'));
    runbooks = join(dir, 'runbooks');
    mkdirSync(runbooks);
    writeFileSync(join(runbooks, 'slow.yaml'), RUNBOOKS);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a second SIGTERM while draining is logged, not obeyed: the running execution is still recorded INTERRUPTED and the exit is 0', { timeout: 60_000 }, async () => {
    const db = join(dir, 'twice.db');
    const p = await startRectifyProcess({ db, runbooks, args: ['--shutdown-grace', '2s'] });
    let code: number | null | undefined;
    try {
      const r = await p.post('/api/v1/incidents', { id: 'INC-slow', root_cause: 'slow', service: 'shop' });
      assert.equal(r.body.action, 'executed');
      await until('the action to start', async () => (await p.get('/api/v1/audit?event=STEP_STARTED')).body.events.length > 0);
      process.kill(p.pid, 'SIGTERM');
      await until('the stop to begin', () => p.output().includes('stopping: intake closed'));
      // The second one (stop() sends it), as an impatient operator or a second Ctrl-C would.
      code = await exitWithin(p, 30_000);
    } finally {
      if (code === undefined) await p.kill9();
    }
    assert.equal(code, 0, p.output());
    assert.match(p.output(), /"signal":"SIGTERM".*"already stopping/);
    const d = new Database(db, { readonly: true });
    try {
      const exe = d.prepare("SELECT state FROM executions WHERE incident_id = 'INC-slow'").get() as { state: string };
      assert.equal(exe.state, 'interrupted');
      const events = (d.prepare("SELECT event FROM audit WHERE incident_id = 'INC-slow' ORDER BY seq").all() as { event: string }[]).map((e) => e.event);
      assert.deepEqual(events, ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED']);
    } finally {
      d.close();
    }
  });

  /** The log lines of a process's output, parsed. */
  const logLines = (p: RectifyProcess): Array<Record<string, unknown>> =>
    p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  /** The slow run cut off by a SIGTERM while another process holds the database's write lock: started, locked, stopping. */
  async function stopWhileLocked(name: string): Promise<{ p: RectifyProcess; db: string; lock: Awaited<ReturnType<typeof holdDatabaseLock>> }> {
    const db = join(dir, `${name}.db`);
    const p = await startRectifyProcess({ db, runbooks, args: ['--shutdown-grace', '1s', '--db-busy-timeout', '200ms'] });
    const r = await p.post('/api/v1/incidents', { id: `INC-${name}`, root_cause: 'slow', service: 'shop' });
    assert.equal(r.body.action, 'executed');
    await until('the action to start', async () => (await p.get('/api/v1/audit?event=STEP_STARTED')).body.events.length > 0);
    const lock = await holdDatabaseLock(db, 40_000);
    process.kill(p.pid, 'SIGTERM');
    return { p, db, lock };
  }
  function executionOf(db: string, incident: string): { state: string; outcome: string | null } {
    const d = new Database(db, { readonly: true });
    try {
      return d.prepare('SELECT state, outcome FROM executions WHERE incident_id = ?').get(incident) as { state: string; outcome: string | null };
    } finally {
      d.close();
    }
  }

  it('a run whose INTERRUPTED the database cannot take while stopping (its write lock held elsewhere throughout) is logged at error level as not recorded, never as recorded, and the exit is 1', { timeout: 60_000 }, async () => {
    const { p, db, lock } = await stopWhileLocked('unrecorded');
    let code: number | null | undefined;
    try {
      code = await exitWithin(p, 40_000);
    } finally {
      if (code === undefined) await p.kill9();
      await lock.release();
    }
    assert.equal(code, 1, p.output());
    const lines = logLines(p);
    assert.ok(lines.some((l) => l.msg === 'the interruption could not be recorded yet; retrying'), p.output());
    assert.equal(lines.filter((l) => String(l.msg).includes('recorded as INTERRUPTED') && !String(l.msg).includes('could not be recorded')).length, 0, p.output());
    const notRecorded = lines.filter((l) => String(l.msg).startsWith('executions cut off by shutdown could not be recorded as INTERRUPTED'));
    assert.equal(notRecorded.length, 1, p.output());
    const exe = executionOf(db, 'INC-unrecorded');
    assert.deepEqual(
      [notRecorded[0]!.level, notRecorded[0]!.unrecorded, notRecorded[0]!.execution_ids, notRecorded[0]!.msg],
      ['error', 1, [lines.find((l) => l.msg === 'the interruption could not be recorded yet; retrying')!.execution_id], 'executions cut off by shutdown could not be recorded as INTERRUPTED (the database could not commit): they show as running; the next start records them INTERRUPTED; a person must check'],
    );
    assert.deepEqual(lines.at(-1) && [lines.at(-1)!.msg, lines.at(-1)!.exit_code], ['stopped', 1]);
    // The database still shows it running, with no outcome and no end told: the next start records it.
    assert.deepEqual(exe, { state: 'running', outcome: null });
  });

  it('a run whose INTERRUPTED the database cannot take at first while stopping keeps trying, not cut short by the stop: recorded once the lock goes, logged as recorded, and the exit is 0', { timeout: 60_000 }, async () => {
    const { p, db, lock } = await stopWhileLocked('late');
    let code: number | null | undefined;
    try {
      await until('a failed attempt to record the interruption', () => p.output().includes('the interruption could not be recorded yet; retrying'), 30_000);
      await lock.release();
      code = await exitWithin(p, 40_000);
    } finally {
      if (code === undefined) await p.kill9();
      await lock.release();
    }
    assert.equal(code, 0, p.output());
    const lines = logLines(p);
    const recorded = lines.filter((l) => l.msg === 'executions cut off by shutdown were recorded as INTERRUPTED');
    assert.deepEqual(recorded.map((l) => [l.level, l.interrupted]), [['warn', 1]], p.output());
    assert.equal(lines.some((l) => String(l.msg).includes('could not be recorded as INTERRUPTED')), false, p.output());
    const exe = executionOf(db, 'INC-late');
    assert.equal(exe.state, 'interrupted');
    assert.match(exe.outcome ?? '', /^recording failed.*[:;] the database could not commit \(SQLITE_BUSY: database is locked\)$/);
  });

  it('a request answered before its body arrived (refused by the Host check), whose body never comes, does not hold the stop: its connection is closed and the exit is 0', { timeout: 60_000 }, async () => {
    const p = await startRectifyProcess({ db: join(dir, 'slow-client.db'), runbooks, args: ['--shutdown-grace', '1s'] });
    const { hostname: host, port } = new URL(p.url);
    const socket = connect({ host, port: Number(port) });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // A Host that is not loopback is refused (403) before the body is read; the connection stays open for the rest of it.
    socket.write(`POST /api/v1/incidents HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"id": "INC-half`);
    let code: number | null | undefined;
    try {
      // Without a bound, Node's request timeout (five minutes) would hold it.
      code = await exitWithin(p, 25_000);
    } finally {
      if (code === undefined) await p.kill9();
      socket.destroy();
    }
    assert.equal(code, 0, p.output());
    await closed;
  });
});

describe('signals while rectify serve starts', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  let dir: string;
  let runbooks: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-start-'));
    runbooks = join(dir, 'runbooks');
    mkdirSync(runbooks);
    writeFileSync(join(runbooks, 'slow.yaml'), RUNBOOKS);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Starts `rectify serve` and sends `signal` as soon as it logs its first line: the warning
   * about an unknown RECTIFY_ variable, written before the database is opened, so the signal
   * lands while the start is under way. Resolves the exit code (null: ended by a signal) and the output.
   */
  async function signalWhileStarting(signal: NodeJS.Signals, db: string, then?: (output: () => string) => Promise<void>): Promise<{ code: number | null; signal: string | null; output: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--db', `sqlite:${db}`, '--runbooks', runbooks, '--listen', '127.0.0.1:0'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', RECTIFY_NOT_A_SETTING: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let sent = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!sent && out.includes('configuration warning')) {
        sent = true;
        child.kill(signal);
      }
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
    try {
      if (then) {
        await Promise.race([then(() => out), exited]);
        child.kill('SIGTERM');
      }
      return { ...(await exited), output: out };
    } finally {
      clearTimeout(killer);
    }
  }

  it('SIGHUP is kept until the start has ended, then reloads: the process serves on', { timeout: 60_000 }, async () => {
    let served = false;
    const r = await signalWhileStarting('SIGHUP', join(dir, 'hup.db'), async (output) => {
      await until('the reload', () => output().includes('runbooks reloaded'), 30_000);
      served = output().includes('"rectify serving"');
    });
    assert.deepEqual([r.code, r.signal], [0, null], r.output);
    assert.ok(served, r.output);
  });

  it('SIGTERM stops it as soon as the start has ended, with exit 0 and nothing listening', { timeout: 60_000 }, async () => {
    const r = await signalWhileStarting('SIGTERM', join(dir, 'term.db'));
    assert.deepEqual([r.code, r.signal], [0, null], r.output);
    assert.match(r.output, /"stopping as soon as the start has ended"/);
    assert.doesNotMatch(r.output, /"rectify serving"/);
    assert.match(r.output, /"exit_code":0,"msg":"stopped"/);
  });

  it('SIGTERM in the instant ten approvals are sent: each gets an answer (its result, or 503 SHUTTING_DOWN with Retry-After), none a reset, and each answer is what the database holds', { timeout: 120_000 }, async () => {
    writeFileSync(
      join(runbooks, 'undo.yaml'),
      'runbooks:\n  undo:\n    risk: HIGH\n    triggers: [Spike]\n    min_confidence: 0.5\n    action:\n      http: {method: POST, url: "http://127.0.0.1:9/undo/{service}"}\n',
    );
    const post = (url: string, body: unknown): Promise<{ status: number; retryAfter?: string; body: any } | { error: string }> =>
      new Promise((resolve) => {
        const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(text) }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
        req.end(JSON.stringify(body));
      });
    // Three stops: the race is the instant, so more than one instant is tried.
    for (let round = 0; round < 3; round++) {
      const db = join(dir, `instant-${round}.db`);
      const p = await startRectifyProcess({ db, runbooks, args: ['--shutdown-grace', '0s'] });
      let code: number | null | undefined;
      let got: Array<Awaited<ReturnType<typeof post>>> = [];
      const ids: string[] = [];
      try {
        for (let i = 0; i < 10; i++) ids.push((await p.post('/api/v1/incidents', { id: `I${i}`, root_cause: 'Spike', service: `svc-${i}` })).body.approval_id as string);
        const answers = ids.map((id) => post(`${p.url}/api/v1/approvals/${id}/approve`, { by: 'alice' }));
        process.kill(p.pid, 'SIGTERM');
        got = await Promise.all(answers);
        code = await exitWithin(p, 30_000);
      } finally {
        if (code === undefined) await p.kill9();
      }
      assert.equal(code, 0, p.output());
      const d = new Database(db, { readonly: true });
      try {
        for (const [i, g] of got.entries()) {
          assert.ok(!('error' in g), `round ${round}, approval ${i}: ${JSON.stringify(g)}`);
          const status = (d.prepare('SELECT status FROM approvals WHERE id = ?').get(ids[i]) as { status: string }).status;
          if (g.status === 200) assert.equal(status, 'approved');
          else if (g.status === 503) {
            assert.deepEqual([g.retryAfter, g.body.error.code, status], ['10', 'SHUTTING_DOWN', 'pending']);
          } else {
            // Refused by the guardrails run again (another approval's run took the slot): still pending.
            assert.deepEqual([g.status, g.body.error.code, status], [409, 'CONFLICT', 'pending']);
          }
        }
      } finally {
        d.close();
      }
    }
  });
});

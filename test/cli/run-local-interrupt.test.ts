import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { holdDatabaseLock } from '../helpers/db-lock.js';
import { startTestService } from '../helpers/service.js';

/**
 * `rectify run --local` stopped by Ctrl-C as a real process (the SIGINT goes to the
 * process, not to run(argv, io)): the run is recorded INTERRUPTED as a stop of the service
 * records it, and when the database cannot take that record (its write lock held by
 * another program throughout) the command says which run was not recorded and exits 1.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const RUNBOOKS = `runbooks:
  slow-fix:
    risk: LOW
    triggers: [slow]
    max_per_hour: 10
    cooldown_minutes: 0
    actions:
      - command: {argv: [/bin/sleep, "31"], timeout_seconds: 60}
    rollback: none
    rollback_reason: sleeping changes nothing
`;

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The executions of the database, as stored. */
function executions(db: string): Array<{ id: string; state: string; outcome: string | null }> {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare('SELECT id, state, outcome FROM executions ORDER BY started_at').all() as Array<{ id: string; state: string; outcome: string | null }>;
  } finally {
    d.close();
  }
}

describe('rectify run --local stopped by Ctrl-C', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-run-local-int-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'runbooks.yaml'), RUNBOOKS);
  });
  /** Every child started, killed at the end whatever a test did (SIGKILL to one gone is nothing). */
  const started: ChildProcess[] = [];
  after(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** A local run of slow-fix on a fresh database (made by a service, as a local run needs), once its command runs. */
  async function startRun(name: string) {
    const home = join(dir, name);
    mkdirSync(home);
    // startTestService with `dir` uses the runbooks folder given there; its own is not read here.
    mkdirSync(join(home, 'runbooks'));
    await (await startTestService({ dir: home })).stop();
    const db = join(home, 'data', 'rectify.db');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', 'run', '--local', '--db', `sqlite:${db}`, '--runbooks', join(dir, 'runbooks'), '--kubernetes', 'off', '--shutdown-grace', '1s', '--db-busy-timeout', '200ms', 'slow-fix', '--service', 'shop', '--by', 'dave'],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    void exited.then(() => clearTimeout(killer));
    started.push(child);
    await until('the command step to start', () => {
      const d = new Database(db, { readonly: true });
      try {
        return (d.prepare("SELECT COUNT(*) AS n FROM audit WHERE event = 'STEP_STARTED'").get() as { n: number }).n > 0;
      } finally {
        d.close();
      }
    });
    return { db, child, exited, out: () => stdout, err: () => stderr };
  }

  it('with the database free: the run is recorded INTERRUPTED and the exit is 1 (the run did not succeed)', { timeout: 60_000 }, async () => {
    const r = await startRun('free');
    r.child.kill('SIGINT');
    const code = await r.exited;
    assert.equal(code, 1, r.err());
    const [exe] = executions(r.db);
    assert.equal(exe?.state, 'interrupted', r.err());
    assert.equal(r.out().split('\n').at(-2), `execution ${exe!.id} interrupted: interrupted during an action (a human must check)`, r.out());
    assert.doesNotMatch(r.err(), /not recorded/, r.err());
  });

  it('with the write lock held elsewhere throughout: says which run was not recorded and what follows, and the exit is 1', { timeout: 60_000 }, async () => {
    const r = await startRun('locked');
    const lock = await holdDatabaseLock(r.db, 40_000);
    let code: number | null;
    try {
      r.child.kill('SIGINT');
      code = await r.exited;
    } finally {
      await lock.release();
    }
    const [exe] = executions(r.db);
    // The database still shows it running: the next start records it.
    assert.deepEqual(exe && [exe.state, exe.outcome], ['running', null], r.err());
    assert.equal(code, 1, `${r.out()}\n${r.err()}`);
    // Not "still running; follow it": nothing runs it any more.
    assert.equal(r.out().split('\n').at(-2), `execution ${exe!.id} stopped, not recorded as INTERRUPTED: the database shows it running (a human must check)`, r.out());
    const said = r.err().split('\n').filter((l) => l.startsWith('rectify run:') && l.includes('not recorded'));
    assert.deepEqual(
      said,
      [
        `rectify run: execution ${exe!.id} was stopped but not recorded as INTERRUPTED (the database could not commit (SQLITE_BUSY: database is locked)): it shows as running; the next start of rectify serve on this database records it INTERRUPTED; a person must check what it did`,
      ],
      r.err(),
    );
  });
});

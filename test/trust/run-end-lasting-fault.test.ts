import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * A run whose end the store refuses with a fault that lasts until a restart (here: another
 * rectify keyed the audit log with an audit key while this one, without it, ran) is not
 * retried: it is left unrecorded at once, for the next start to record INTERRUPTED, as a
 * stop leaves one the database could not take in time. Retrying would never succeed: the
 * run would show running, and a `run --local` wait, until someone pressed Ctrl-C. A fault
 * that clears by itself (a lock held elsewhere) is still retried until the end is recorded
 * (store-lock.test.ts).
 */

const KEY = 'c'.repeat(32) + '1'.repeat(32);
/** The refusal, as the run's log tells it (newest: the AUDIT_KEY_SET row the other rectify wrote). */
const refused = (newest: number) =>
  `the database could not commit (another rectify wrote to the audit log with an audit key while this one ran: the audit log's rows are hashed with an audit key (newest row ${newest}): start with --audit-key set to that key. Nothing of this write was recorded: its rows would break the audit chain)`;
const RETRYING = 'the interruption could not be recorded yet; retrying';
const GIVEN_UP = 'the interruption cannot be recorded until rectify restarts: the next start records it INTERRUPTED; a person must check';

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;

/** Another rectify, with an audit key, writes to the (plain) audit log of `path`: AUDIT_KEY_SET, as its start does. */
async function keyTheLog(path: string): Promise<void> {
  const keyed = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, auditKey: Buffer.from(KEY) });
  try {
    assert.equal(keyed.auditKeyRowNeeded(), 'AUDIT_KEY_SET');
    await keyed.transact((tx) => tx.appendAudit({ at: 1, event: 'AUDIT_KEY_SET', actor: 'rectify', details: {} }));
  } finally {
    keyed.close();
  }
}

function executions(db: string): Array<{ id: string; state: string; outcome: string | null }> {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare('SELECT id, state, outcome FROM executions ORDER BY started_at').all() as Array<{ id: string; state: string; outcome: string | null }>;
  } finally {
    d.close();
  }
}

describe("a run's end refused by a store fault that lasts until a restart", () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('is not retried: the run ends unrecorded at once, the cause logged once, the database showing it running for the next start', async () => {
    let go: () => void = () => {};
    const gate = new Promise<void>((r) => (go = r));
    target.route('POST', '/act/shop', async () => (await gate, { status: 200 }));
    const svc = await startTestService({ runbooks: runbooks(target.url), captureLogs: true });
    try {
      const run = svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'shop', confidence: 1, id: 'lasting-1' });
      await target.waitForRequest('/act/shop', { since: 0 });
      await keyTheLog(svc.dbPath);
      // Every write the store is asked for from now on: the step's end, then the run's.
      const store = svc.service.store as Store;
      const transact = store.transact.bind(store);
      let tries = 0;
      store.transact = ((...args: Parameters<Store['transact']>) => (tries++, transact(...args))) as Store['transact'];
      go();
      let answer: Awaited<typeof run> | undefined;
      void run.then((r) => (answer = r));
      const retried = () => svc.log.records().some((r) => r.msg === RETRYING);
      // Ends the test on a runner that retries (for ever): the stop below bounds it.
      const first = await until('the run to end, or its end to be retried', async () => answer ?? (retried() ? 'retried' : undefined));
      assert.notEqual(first, 'retried', 'the end was retried');
      const r = first as NonNullable<typeof answer>;
      assert.equal(r.status, 202);
      const id = r.body.execution_id as string;
      assert.deepEqual(
        [r.body.action, r.body.event, r.body.reason, r.body.success, r.body.rolled_back],
        ['aborted', 'INTERRUPTED', 'unrecorded', false, false],
      );
      // The step's end (refused, the fault then standing), and the run's end once: no retry.
      assert.equal(tries, 2);
      assert.equal(svc.service.store.faultKind(), 'lasting');
      const said = svc.log.records().filter((l) => l.msg === GIVEN_UP || l.msg === RETRYING);
      assert.deepEqual(
        said.map((l) => [l.level, l.msg, l.execution_id, l.err]),
        [['error', GIVEN_UP, id, refused(3)]],
      );
      assert.deepEqual(executions(svc.dbPath).map((e) => [e.id, e.state, e.outcome]), [[id, 'running', null]]);
    } finally {
      go();
      await svc.stop({ remove: true });
    }
  });

  describe('rectify run --local', () => {
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'rectify-lasting-local-'));
      mkdirSync(join(dir, 'runbooks'));
      writeFileSync(join(dir, 'runbooks', 'runbooks.yaml'), runbooks(target.url));
      await (await startTestService({ dir })).stop();
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('says which run was not recorded and what follows, and exits 1, without a Ctrl-C', async () => {
      let go: () => void = () => {};
      const gate = new Promise<void>((r) => (go = r));
      target.route('POST', '/act/local', async () => (await gate, { status: 200 }));
      const db = join(dir, 'data', 'rectify.db');
      const out: string[] = [];
      const err: string[] = [];
      const since = target.calls('/act/local', 'POST');
      let code: number | undefined;
      const running = runCli(
        ['run', '--local', '--db', `sqlite:${db}`, '--runbooks', join(dir, 'runbooks'), '--kubernetes', 'off', '--shutdown-grace', '1s', 'fix', '--service', 'local', '--by', 'dave'],
        { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, cwd: dir },
      ).then((c) => (code = c));
      try {
        await target.waitForRequest('/act/local', { since });
        await keyTheLog(db);
        go();
        const first = await until('the command to end, or the end to be retried', async () => code ?? (err.some((l) => l.includes(RETRYING)) ? 'retried' : undefined));
        assert.notEqual(first, 'retried', err.join('\n'));
        const [exe] = executions(db);
        assert.deepEqual(exe && [exe.state, exe.outcome], ['running', null], err.join('\n'));
        assert.equal(code, 1, `${out.join('\n')}\n${err.join('\n')}`);
        assert.equal(out.at(-1), `execution ${exe!.id} stopped, not recorded as INTERRUPTED: the database shows it running (a human must check)`, out.join('\n'));
        assert.deepEqual(
          err.filter((l) => l.startsWith('rectify run:') && l.includes('not recorded')),
          [
            `rectify run: execution ${exe!.id} was stopped but not recorded as INTERRUPTED (${refused(4)}): it shows as running; the next start of rectify serve on this database records it INTERRUPTED; a person must check what it did`,
          ],
        );
        const given = err.filter((l) => l.includes(GIVEN_UP)).map((l) => JSON.parse(l) as { err: string });
        assert.deepEqual(given.map((l) => l.err), [refused(4)]);
      } finally {
        go();
        // A command still retrying is stopped as Ctrl-C stops it (then bounded by the stop).
        if (code === undefined) process.emit('SIGINT');
        await running;
      }
    });
  });
});

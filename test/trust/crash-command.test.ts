import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, describe, it } from 'node:test';
import { STEP_MARKER_VAR } from '../../src/execute/actions/command.js';
import { useRectifyProcesses } from '../helpers/process.js';
import { until } from '../helpers/until.js';

/**
 * kill -9 of a real rectify process while a `command:` action runs: the program, in a
 * process group of its own, outlives rectify. The restart kills it before the run is
 * recorded INTERRUPTED and its blast-radius slot released, and says so.
 */

const runbooks = () => `runbooks:
  slow:
    risk: LOW
    triggers: [stuck]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    blast_radius_limit: 1
    action:
      command: {argv: [/bin/sleep, "60"], timeout_seconds: 120}
`;

/** Whether process `pid` runs (a zombie has exited: it only waits to be collected). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The processes whose environment holds the step marker of `executionId`'s first action. */
function markedBy(executionId: string): number[] {
  // The marker goes on with the rectify that started the step (`/<pid>.<start time>`).
  const needle = `${STEP_MARKER_VAR}=${executionId}/action/0/`;
  return readdirSync('/proc')
    .filter((n) => /^[0-9]+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/environ`, 'latin1').split('\0').some((v) => v.startsWith(needle));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('kill -9 while a command action runs (real processes)', () => {
  const rig = useRectifyProcesses('rectify-crash-command-', runbooks);
  /** The programs the runs started: any left running (the test failed) is killed at the end. */
  const started: number[] = [];
  after(() => {
    for (const pid of started.filter(running)) process.kill(pid, 'SIGKILL');
  });

  it('the restart kills the program still running before the slot is released, and the INTERRUPTED row and notice say so', async () => {
    rig.target.route('POST', '/hook', { status: 204 });
    const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`]);
    let proc = await start();
    const accepted = await proc.post('/api/v1/incidents', { id: 'cmd-1', root_cause: 'stuck', service: 'a', confidence: 1 });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.body.action, 'executed');
    const executionId = accepted.body.execution_id as string;
    const [sleep] = await until('the sleep carrying the step marker', async () => {
      const pids = markedBy(executionId);
      return pids.length === 1 ? pids : undefined;
    });
    assert.ok(sleep !== undefined);
    started.push(sleep);
    assert.equal(readFileSync(`/proc/${sleep}/cmdline`, 'latin1'), '/bin/sleep\u000060\u0000');
    await proc.kill9();
    assert.equal(running(sleep), true, 'the program outlives rectify');

    const since = Date.now();
    proc = await start();
    assert.equal(running(sleep), false, 'killed by the restart');
    const e = await proc.get(`/api/v1/executions/${executionId}`);
    assert.equal(e.body.state, 'interrupted');
    assert.equal(e.body.needs_human, true);
    const said = 'its command was still running and was killed (1 process, SIGKILL)';
    const events = (await proc.get(`/api/v1/audit?execution_id=${executionId}&event=INTERRUPTED`)).body.events;
    assert.equal(events.length, 1);
    assert.equal(events[0].details.left_running, said);
    assert.equal(
      events[0].details.reason,
      `rectify stopped while this execution ran; its outcome is unknown and it will not be re-run: a human must check; ${said}`,
    );
    const hook = await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => (r.json() as { event?: string }).event === 'INTERRUPTED' });
    assert.match((hook.json() as { reason: string }).reason, /; its outcome is unknown and it will not be re-run; its command was still running and was killed \(1 process, SIGKILL\): a person must check$/);

    // The slot is free, and nothing of the cut-off run acts beside the next one.
    const next = await proc.post('/api/v1/incidents', { id: 'cmd-2', root_cause: 'stuck', service: 'b', confidence: 1 });
    assert.equal(next.body.action, 'executed');
    await proc.kill9();
    proc = await start();
    // A restart with the marked process already gone says nothing of it.
    const second = (await proc.get(`/api/v1/audit?execution_id=${next.body.execution_id as string}&event=INTERRUPTED`)).body.events;
    assert.equal(second.length, 1);
    await proc.stop();
  });

  // A rectify SIGKILLed under a supervisor that collects its children late is a zombie for
  // a while: its pid and start time still read as the marker names them, but it runs
  // nothing, and what its run started is a crash's leftover all the same.
  it('a rectify killed but not yet collected by its parent (a zombie) runs nothing: the restart kills its program and says so', async () => {
    let proc = await rig.start([], undefined, { reapedLate: true });
    const accepted = await proc.post('/api/v1/incidents', { id: 'zombie-1', root_cause: 'stuck', service: 'z', confidence: 1 });
    assert.equal(accepted.body.action, 'executed');
    const executionId = accepted.body.execution_id as string;
    const [sleep] = await until('the sleep carrying the step marker', async () => {
      const pids = markedBy(executionId);
      return pids.length === 1 ? pids : undefined;
    });
    assert.ok(sleep !== undefined);
    started.push(sleep);
    const zombie = proc;
    await zombie.kill9();
    const state = readFileSync(`/proc/${zombie.pid}/stat`, 'utf8');
    assert.equal(state.slice(state.lastIndexOf(')') + 2).split(' ')[0], 'Z', 'the killed rectify is a zombie its parent has not collected');
    assert.equal(running(sleep), true, 'the program outlives rectify');

    proc = await rig.start();
    assert.equal(running(sleep), false, 'killed by the restart');
    const events = (await proc.get(`/api/v1/audit?execution_id=${executionId}&event=INTERRUPTED`)).body.events;
    assert.equal(events.length, 1);
    assert.equal(events[0].details.left_running, 'its command was still running and was killed (1 process, SIGKILL)');
    await zombie.release();
    await proc.stop();
  });

  // A copy of the database (a restored backup, a staging clone) holds the running
  // execution of the rectify it was copied from, under the same id: the copy's start
  // records it INTERRUPTED, but the program is the other rectify's, still running.
  it('a rectify started on a copy of a live database leaves the live one\'s program running', async () => {
    const proc = await rig.start();
    const accepted = await proc.post('/api/v1/incidents', { id: 'copy-1', root_cause: 'stuck', service: 'c', confidence: 1 });
    assert.equal(accepted.body.action, 'executed');
    const executionId = accepted.body.execution_id as string;
    const [sleep] = await until('the sleep carrying the step marker', async () => {
      const pids = markedBy(executionId);
      return pids.length === 1 ? pids : undefined;
    });
    assert.ok(sleep !== undefined);
    started.push(sleep);
    const copy = join(rig.dir, 'copy.db');
    const source = new Database(rig.db, { readonly: true });
    await source.backup(copy);
    source.close();

    const other = await rig.start([], copy);
    assert.equal(running(sleep), true, 'the live rectify\'s program is left alone');
    const events = (await other.get(`/api/v1/audit?execution_id=${executionId}&event=INTERRUPTED`)).body.events;
    assert.equal(events.length, 1);
    assert.equal(events[0].details.left_running, undefined);
    await other.stop();
    const live = await proc.get(`/api/v1/executions/${executionId}`);
    assert.equal(live.body.state, 'running');
    await proc.kill9();
  });
});

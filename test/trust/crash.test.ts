import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';

/**
 * kill -9 of a real rectify process at every step boundary of an execution. The
 * http target holds the request of the step under test, so the process is parked
 * exactly there when it dies. After each restart: the run is INTERRUPTED and waits
 * for a human, its blast-radius claim is free (one concurrent execution allowed,
 * and the next incident runs), nothing ran twice (exact call counts), and the audit
 * chain verifies with each execution's EXECUTING row exactly once.
 */

const HOLD = { status: 200, delayMs: 120_000 };

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    pre_checks:
      - http: {url: "${base}/pre/{service}", timeout_seconds: 20, interval_seconds: 1}
    action:
      http: {method: POST, url: "${base}/act/{service}", timeout_seconds: 60}
    post_checks:
      - http: {url: "${base}/post/{service}", timeout_seconds: 3, interval_seconds: 0.2}
    rollback:
      http: {method: POST, url: "${base}/undo/{service}", timeout_seconds: 60}
  free:
    risk: LOW
    triggers: [other]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/free/{service}"}
`;

interface Boundary {
  name: string;
  /** The request that parks the process at this boundary. */
  park: string;
  routes: Record<string, object>;
  calls: { pre: number; act: number; post: number | 'some'; undo: number };
  events: string[];
  lastStep: unknown;
}

const boundaries: Boundary[] = [
  {
    name: 'before the action (a slow pre-check)',
    park: '/pre/s1',
    routes: { 'GET /pre/s1': HOLD },
    calls: { pre: 1, act: 0, post: 0, undo: 0 },
    events: ['EXECUTING', 'STEP_STARTED', 'INTERRUPTED'],
    lastStep: { phase: 'pre_check', index: 0, finished: false },
  },
  {
    name: 'during the action',
    park: '/act/s2',
    routes: { 'GET /pre/s2': { status: 200 }, 'POST /act/s2': HOLD },
    calls: { pre: 1, act: 1, post: 0, undo: 0 },
    events: ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'INTERRUPTED'],
    lastStep: { phase: 'action', index: 0, finished: false },
  },
  {
    name: 'during verification (post-check polling)',
    park: '/post/s3',
    routes: { 'GET /pre/s3': { status: 200 }, 'POST /act/s3': { status: 200 }, 'GET /post/s3': HOLD },
    calls: { pre: 1, act: 1, post: 1, undo: 0 },
    events: ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'INTERRUPTED'],
    lastStep: { phase: 'post_check', index: 0, finished: false },
  },
  {
    name: 'during the rollback',
    park: '/undo/s4',
    routes: { 'GET /pre/s4': { status: 200 }, 'POST /act/s4': { status: 200 }, 'GET /post/s4': { status: 500 }, 'POST /undo/s4': HOLD },
    calls: { pre: 1, act: 1, post: 'some', undo: 1 },
    events: ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'INTERRUPTED'],
    lastStep: { phase: 'rollback', index: 0, finished: false },
  },
];

describe('kill -9 at every step boundary (real processes)', () => {
  const rig = useRectifyProcesses('rectify-crash-', runbooks);
  let proc: RectifyProcess | undefined;
  before(() => {
    for (const s of ['s1', 's2', 's3', 's4', 'z']) rig.target.route('POST', `/free/${s}`, { status: 200 });
  });

  const start = () => rig.start(['--max-concurrent-executions', '1']);
  const executions: string[] = [];

  for (const [i, b] of boundaries.entries()) {
    it(`killed ${b.name}: INTERRUPTED for a human, claim released, nothing ran twice, the audit chain holds`, async () => {
      for (const [key, response] of Object.entries(b.routes)) {
        const [method, path] = key.split(' ') as [string, string];
        rig.target.route(method, path, response);
      }
      const service = `s${i + 1}`;
      proc ??= await start();
      const accepted = await proc.post('/api/v1/incidents', { id: `crash-${service}`, root_cause: 'broken', service, confidence: 1 });
      assert.equal(accepted.status, 202);
      assert.equal(accepted.body.action, 'executed', 'the previous run released its slot (limit 1)');
      const executionId = accepted.body.execution_id as string;
      executions.push(executionId);
      await rig.target.waitForRequest(b.park, { timeoutMs: 20_000 });
      await proc.kill9();

      proc = await start();
      const e = await proc.get(`/api/v1/executions/${executionId}`);
      assert.equal(e.body.state, 'interrupted');
      assert.equal(e.body.needs_human, true);
      assert.equal(e.body.outcome, 'interrupted: rectify stopped while it ran');

      // The slot is free: another runbook's incident runs with one concurrent execution allowed.
      const other = await proc.post('/api/v1/incidents?wait=true', { root_cause: 'other', service, confidence: 1 });
      assert.equal(other.body.action, 'executed');
      assert.equal(other.body.success, true);
      // Redelivery of the same alert after the restart is a duplicate, not a second run.
      assert.equal((await proc.post('/api/v1/incidents', { id: `crash-${service}`, root_cause: 'broken', service, confidence: 1 })).body.action, 'duplicate');

      assert.equal(rig.target.calls(`/pre/${service}`), b.calls.pre, 'pre-check calls');
      assert.equal(rig.target.calls(`/act/${service}`), b.calls.act, 'action calls: never twice');
      if (b.calls.post === 'some') assert.ok(rig.target.calls(`/post/${service}`) >= 1);
      else assert.equal(rig.target.calls(`/post/${service}`), b.calls.post, 'post-check calls');
      assert.equal(rig.target.calls(`/undo/${service}`), b.calls.undo, 'rollback calls: never twice');
      assert.equal(rig.target.calls(`/free/${service}`), 1);

      const events = (await proc.get(`/api/v1/audit?execution_id=${executionId}&limit=100`)).body.events.reverse();
      assert.deepEqual(events.map((a: { event: string }) => a.event), b.events);
      const interrupted = events[events.length - 1].details;
      assert.deepEqual(interrupted.last_step === null ? null : { phase: interrupted.last_step.phase, index: interrupted.last_step.index, finished: interrupted.last_step.finished }, b.lastStep);

      const v = await proc.get('/api/v1/audit/verify');
      assert.equal(v.body.ok, true, v.body.reason);
      // Every execution so far: exactly one EXECUTING and one INTERRUPTED row, across all the kills.
      for (const id of executions) {
        const rows: string[] = (await proc.get(`/api/v1/audit?execution_id=${id}&limit=100`)).body.events.map((a: { event: string }) => a.event);
        assert.equal(rows.filter((x: string) => x === 'EXECUTING').length, 1, `${id}: one EXECUTING row`);
        assert.equal(rows.filter((x: string) => x === 'INTERRUPTED').length, 1, `${id}: one INTERRUPTED row`);
      }
    });
  }

  it('a last restart finds nothing left to interrupt and no row lost: the chain verifies from the CLI view too', async () => {
    proc ??= await start();
    const before = (await proc.get('/api/v1/audit/verify')).body;
    await proc.kill9();
    proc = await start();
    const afterRestart = (await proc.get('/api/v1/audit/verify')).body;
    assert.equal(afterRestart.ok, true);
    assert.deepEqual(afterRestart.head, before.head, 'a restart with nothing in flight writes no row');
    const exported = (await proc.get('/api/v1/audit/export')).body as string;
    const seqs = exported.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(seqs, Array.from({ length: before.rows }, (_, k) => k + 1), 'no gap, no duplicate');
    await proc.stop();
  });
});

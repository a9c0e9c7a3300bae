import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cli } from './capture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`gave up waiting for ${what}`);
}

/**
 * `run` and `approve` wait for the execution they start. While they wait, the decision
 * (which execution) is on the screen; Ctrl-C stops watching, not the run, and says how to
 * follow it (exit 5, as a --wait-timeout that ended). Before, nothing showed while it
 * waited and Ctrl-C ended with exit 130 and no word of the execution going on.
 */
describe('watching an execution: what shows while it runs, and Ctrl-C', () => {
  let target: HttpTarget;
  let svc: TestService;
  let env: Record<string, string>;
  let release: () => void = () => {};
  before(async () => {
    target = await startHttpTarget();
    // The action is held until the test lets it go: the execution is running meanwhile.
    target.route('POST', '/slow', () => new Promise((resolve) => (release = () => resolve({ status: 200 }))));
    svc = await startTestService({
      runbooks: `runbooks:
  slow-fix:
    risk: LOW
    triggers: [Slow]
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/slow", timeout_seconds: 600}
`,
      args: ['--listen', '127.0.0.1:0'],
    });
    env = { RECTIFY_SERVER: await svc.service.listen() };
  });
  after(async () => {
    release();
    await svc.stop({ remove: true });
    await target.close();
  });

  it('the decision shows before the end; stopping the watch exits 5 naming the execution, which goes on', async () => {
    const stop = new AbortController();
    const out: string[] = [];
    const running = cli(['run', 'slow-fix', '--by', 'carol'], { env, signal: stop.signal, out });
    await until(() => out.length === 1 && target.calls('/slow', 'POST') === 1, 'the decision line and the action');
    assert.match(out[0]!, /^slow-fix: executing \(manual run\), execution exe_\w+, incident man_\w+$/);
    const id = /execution (exe_\w+)/.exec(out[0]!)![1]!;
    stop.abort();
    const r = await running;
    assert.equal(r.code, 5);
    assert.deepEqual(r.err, [`rectify: waiting up to 10m for execution ${id} to end (--wait-timeout); Ctrl-C stops watching, not the run`]);
    // As in the real process below, the stop may come before the first view of the
    // execution came back: then no steps are shown, and the line says so.
    const viewed = [
      '  PHASE   #  RESULT   STEP' + ' '.repeat(target.url.length + 10 - 4) + '  DETAIL',
      `  action  1  running  POST ${target.url}/slow  -`,
      `execution ${id} is still running (started 2026-11-24T03:00:00Z); follow it: rectify audit --execution-id ${id} --follow`,
    ];
    const notViewed = [`stopped watching; execution ${id} goes on in the service: rectify audit --execution-id ${id} --follow`];
    assert.deepEqual(r.out.slice(1), r.out.length === 2 ? notViewed : viewed);
    release();
    await until(() => svc.service.store.read((tx) => tx.getExecution(id))?.state === 'succeeded', 'the execution to succeed in the service');
  });

  it('Ctrl-C in a real process: exit 5, the execution named, and it runs to its end in the service', { timeout: 60_000 }, async () => {
    target.route('POST', '/slow', () => new Promise((resolve) => (release = () => resolve({ status: 200 }))));
    const before = target.calls('/slow', 'POST');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'run', 'slow-fix', '--by', 'carol'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await until(() => stderr.includes('Ctrl-C stops watching') && target.calls('/slow', 'POST') === before + 1, 'the waiting note');
    child.kill('SIGINT');
    assert.equal(await exited, 5, stderr);
    const id = /execution (exe_\w+)/.exec(stdout)![1]!;
    // Which line depends on whether the first view of the execution came back before the
    // signal (the run's steps and "still running") or not ("stopped watching"): both name
    // the execution and how to follow it.
    const last = stdout.trimEnd().split('\n').at(-1);
    assert.ok(
      [
        `execution ${id} is still running (started 2026-11-24T03:00:00Z); follow it: rectify audit --execution-id ${id} --follow`,
        `stopped watching; execution ${id} goes on in the service: rectify audit --execution-id ${id} --follow`,
      ].includes(last!),
      stdout,
    );
    assert.equal(stderr, `rectify: waiting up to 10m for execution ${id} to end (--wait-timeout); Ctrl-C stops watching, not the run\n`);
    release();
    await until(() => svc.service.store.read((tx) => tx.getExecution(id))?.state === 'succeeded', 'the execution to succeed in the service');
  });
});

describe('watching an execution: the service stops answering meanwhile', () => {
  it('says the execution had started (it read as "the run did not happen"), and not to approve it again: exit 6, not 3 (try again)', async () => {
    const fake = await startHttpTarget();
    try {
      const env = { RECTIFY_SERVER: fake.url };
      fake.route('POST', '/api/v1/approvals/apr_1/approve', {
        status: 200,
        body: {
          id: 'apr_1', runbook: 'r', service: 's', status: 'approved', decided_by: 'carol', actions: [], requested_at: '2026-11-24T03:00:00Z', requested_by: 'x', expires_at: '2026-11-24T04:00:00Z', execution_id: 'exe_1', reason: 'risk HIGH requires approval',
          result: { incident_id: 'inc_1', action: 'executed', runbook: 'r', reason: 'approved', event: 'EXECUTING', approval_id: 'apr_1', execution_id: 'exe_1' },
        },
      });
      fake.route('GET', '/api/v1/executions/exe_1', { status: 503, body: { error: { code: 'STORE_UNAVAILABLE', message: 'the database is locked', details: [] } } });
      const r = await cli(['approve', 'apr_1', '--by', 'carol'], { env });
      assert.equal(r.code, 6);
      assert.deepEqual(r.out, ['approved apr_1 (r on s) as carol', 'r: executing (approved), execution exe_1, incident inc_1']);
      assert.deepEqual(r.err, [
        'rectify: waiting up to 10m for execution exe_1 to end (--wait-timeout); Ctrl-C stops watching, not the run',
        `rectify: rectify at ${fake.url} could not answer (503 STORE_UNAVAILABLE): the database is locked; that was watching execution exe_1, which had started, so do not run or approve it again: see how it went with rectify audit --execution-id exe_1`,
      ]);
      assert.equal(fake.calls('/api/v1/approvals/apr_1/approve', 'POST'), 1);
    } finally {
      await fake.close();
    }
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { startHttpTarget } from '../helpers/http-target.js';
import { cli } from './capture.js';

const EXECUTING = { incident_id: 'man_1', action: 'executed', runbook: 'r', reason: 'manual run', event: 'EXECUTING', approval_id: null, execution_id: 'exe_1' };

/**
 * A POST that may act and whose answer never came (late, or the connection closed under
 * it) may have been carried out: `rectify run` printed "no answer … within 10s" with exit
 * 3 (try again later) while the service went on to run the action, and a retry ran it
 * twice. It is now exit 6, saying the service may have acted and how to check; `run` and
 * `approve` wait 3 minutes by default, longer than a MEDIUM runbook's guardrail checks.
 */
describe('a POST whose answer is lost', () => {
  it('late past --timeout: exit 6, "may have acted" and how to check, one request sent', async () => {
    const fake = await startHttpTarget();
    try {
      fake.route('POST', '/api/v1/runbooks/r/run', { status: 202, delayMs: 5_000, body: EXECUTING });
      const r = await cli(['run', 'r', '--by', 'c', '--timeout', '1s'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 6);
      assert.deepEqual(r.out, []);
      assert.deepEqual(r.err, [
        `rectify: sent POST /api/v1/runbooks/r/run to rectify at ${fake.url}, but no answer within 1s (--timeout): the service may have acted on it. Do not send it again before checking what it did: rectify audit --runbook r --since 10m`,
      ]);
      assert.equal(fake.calls('/api/v1/runbooks/r/run', 'POST'), 1);

      const j = await cli(['run', 'r', '--by', 'c', '--timeout', '1s', '--json'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(j.code, 6);
      assert.equal(j.json().error.code, 'UNCONFIRMED');
      assert.equal(fake.calls('/api/v1/runbooks/r/run', 'POST'), 2);
    } finally {
      await fake.close();
    }
  });

  it('the connection closed before the answer: exit 6, one request sent', async () => {
    let posts = 0;
    const server: Server = createServer((req) => {
      posts++;
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await cli(['approve', 'apr_1', '--by', 'c'], { env: { RECTIFY_SERVER: url } });
      assert.equal(r.code, 6);
      assert.deepEqual(r.err, [
        `rectify: sent POST /api/v1/approvals/apr_1/approve to rectify at ${url}, but the connection was closed before the answer (UND_ERR_SOCKET): the service may have acted on it. Do not send it again before checking what it did: rectify approvals --status all, then rectify audit --since 10m`,
      ]);
      assert.equal(posts, 1);
    } finally {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  });

  it('run waits past 10 s by default: an answer after the guardrail checks of a MEDIUM runbook is read (exit 5: started, not watched)', async () => {
    const fake = await startHttpTarget();
    try {
      fake.route('POST', '/api/v1/runbooks/r/run', { status: 202, delayMs: 11_000, body: EXECUTING });
      const r = await cli(['run', 'r', '--by', 'c', '--no-wait'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 5, r.err.join('\n'));
      assert.deepEqual(r.out, ['r: executing (manual run), execution exe_1, incident man_1']);
      assert.equal(fake.calls('/api/v1/runbooks/r/run', 'POST'), 1);
    } finally {
      await fake.close();
    }
  });

  it('pause too: any POST may have been carried out; the check named is its audit event', async () => {
    const fake = await startHttpTarget();
    try {
      fake.route('POST', '/api/v1/pause', { status: 200, delayMs: 5_000, body: { paused: true, changed: true } });
      const r = await cli(['pause', '--by', 'c', '--timeout', '1s'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 6);
      assert.deepEqual(r.err, [
        `rectify: sent POST /api/v1/pause to rectify at ${fake.url}, but no answer within 1s (--timeout): the service may have acted on it. Do not send it again before checking what it did: rectify audit --event SERVICE_PAUSED --since 10m`,
      ]);
      assert.equal(fake.calls('/api/v1/pause', 'POST'), 1);
    } finally {
      await fake.close();
    }
  });

  it('a 5xx without rectify\'s error body (a proxy\'s 504 or 502) to run or approve: exit 6; rectify\'s own 503 and a GET stay exit 3', async () => {
    const fake = await startHttpTarget();
    try {
      fake.route('POST', '/api/v1/runbooks/r/run', { status: 504, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>504 Gateway Time-out</h1></body></html>' });
      fake.route('POST', '/api/v1/approvals/apr_1/approve', { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>502 Bad Gateway</html>' });
      fake.route('POST', '/api/v1/approvals/apr_2/approve', { status: 503, body: { error: { code: 'SHUTTING_DOWN', message: 'rectify is shutting down; send this to another replica or retry', details: [] } } });
      fake.route('GET', '/api/v1/runbooks', { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>502 Bad Gateway</html>' });
      const r = await cli(['run', 'r', '--by', 'c'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 6);
      assert.deepEqual(r.err, [
        `rectify: sent POST /api/v1/runbooks/r/run to rectify at ${fake.url}, but the answer was 504 Gateway Timeout without rectify's error body (from a proxy in front of it, say): the service may have acted on it. Do not send it again before checking what it did: rectify audit --runbook r --since 10m`,
      ]);
      const j = await cli(['approve', 'apr_1', '--by', 'c', '--json'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(j.code, 6);
      assert.equal(j.json().error.code, 'UNCONFIRMED');
      assert.equal(fake.calls('/api/v1/runbooks/r/run', 'POST'), 1);
      assert.equal(fake.calls('/api/v1/approvals/apr_1/approve', 'POST'), 1);

      const own = await cli(['approve', 'apr_2', '--by', 'c'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(own.code, 3);
      assert.deepEqual(own.err, [`rectify: rectify at ${fake.url} could not answer (503 SHUTTING_DOWN): rectify is shutting down; send this to another replica or retry`]);
      const get = await cli(['runbooks'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(get.code, 3);
      assert.deepEqual(get.err, [`rectify: rectify at ${fake.url} could not answer (502 HTTP_502): <html>502 Bad Gateway</html>`]);
    } finally {
      await fake.close();
    }
  });

  it('a GET that times out is still "try again later" (exit 3)', async () => {
    const fake = await startHttpTarget();
    try {
      fake.route('GET', '/api/v1/runbooks', { status: 200, delayMs: 5_000, body: { runbooks: [] } });
      const r = await cli(['runbooks', '--timeout', '1s'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 3);
      assert.deepEqual(r.err, [`rectify: no answer from rectify at ${fake.url} within 1s (raise --timeout, or check the service)`]);
    } finally {
      await fake.close();
    }
  });
});

/** Watching a run that was accepted fails: --json keeps what was accepted beside the error, exit 6. */
describe('run --json: the watching fails after the run was accepted', () => {
  it('prints the decision, its execution id and the error; exit 6', async () => {
    const fake = await startHttpTarget();
    try {
      fake.route('POST', '/api/v1/runbooks/r/run', { status: 202, body: EXECUTING });
      const locked = { code: 'STORE_UNAVAILABLE', message: 'the database is locked', details: [] };
      fake.route('GET', '/api/v1/executions/exe_1', { status: 503, body: { error: locked } });
      const r = await cli(['run', 'r', '--json', '--by', 'c'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 6);
      assert.deepEqual(r.json(), { result: EXECUTING, execution: null, error: locked });
      assert.equal(r.err.at(-1), `rectify: rectify at ${fake.url} could not answer (503 STORE_UNAVAILABLE): the database is locked; that was watching execution exe_1, which had started, so do not run or approve it again: see how it went with rectify audit --execution-id exe_1`);
      assert.equal(fake.calls('/api/v1/runbooks/r/run', 'POST'), 1);
    } finally {
      await fake.close();
    }
  });
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Ctrl-C while `run` or `approve` waits for the service's answer (a MEDIUM runbook's
 * guardrail checks hold it for minutes) ended the process at once, exit 130, with no
 * word, while the service went on to act. It stops the wait and is said as any answer
 * lost: exit 6, "may have acted", how to check. A real process: the signal is the process's.
 */
describe('Ctrl-C while a POST waits for its answer', () => {
  it('run, approve and pause: exit 6 naming the request and how to check, one request sent', { timeout: 60_000 }, async () => {
    const posts: string[] = [];
    // Holds every answer: the request is read, nothing comes back.
    const server: Server = createServer((req) => {
      req.resume();
      req.on('end', () => posts.push(`${req.method} ${req.url}`));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cases: Array<[string[], string, string]> = [
      [['run', 'r', '--by', 'c'], '/api/v1/runbooks/r/run', 'rectify audit --runbook r --since 10m'],
      [['approve', 'apr_1', '--by', 'c'], '/api/v1/approvals/apr_1/approve', 'rectify approvals --status all, then rectify audit --since 10m'],
      [['pause', '--by', 'c'], '/api/v1/pause', 'rectify audit --event SERVICE_PAUSED --since 10m'],
    ];
    try {
      for (const [argv, route, check] of cases) {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...argv], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', RECTIFY_SERVER: url },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const exited = new Promise<[number | null, string | null]>((resolve) => child.once('close', (code, sig) => resolve([code, sig])));
        try {
          for (let i = 0; i < 800 && !posts.includes(`POST ${route}`); i++) await new Promise((r) => setTimeout(r, 25));
          assert.ok(posts.includes(`POST ${route}`), `the request of ${argv[0]} never came`);
          child.kill('SIGINT');
          assert.deepEqual(await exited, [6, null], stderr);
        } finally {
          child.kill('SIGKILL');
        }
        assert.equal(stdout, '');
        assert.equal(
          stderr,
          `rectify: sent POST ${route} to rectify at ${url}, but the wait for its answer was interrupted (Ctrl-C): the service may have acted on it. Do not send it again before checking what it did: ${check}\n`,
        );
        assert.equal(posts.filter((p) => p === `POST ${route}`).length, 1, argv[0]);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  });
});

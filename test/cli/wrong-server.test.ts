import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { cli } from './capture.js';

async function withTarget(fn: (t: HttpTarget) => Promise<void>): Promise<void> {
  const t = await startHttpTarget();
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

/**
 * Another service at --server answers 2xx JSON that is not rectify's: `pause` said "already
 * paused" with exit 0, `runbooks` crashed on a field that was not there. Each answer is now
 * checked for what the command reads: "is --server a rectify service?", exit 3.
 */
describe('a 2xx JSON answer that is not rectify\'s', () => {
  it('pause, resume, pause --runbook, runbooks, approvals, audit, run: exit 3, the mismatch named', () =>
    withTarget(async (fake) => {
      for (const path of ['/api/v1/pause', '/api/v1/resume', '/api/v1/runbooks/db/pause', '/api/v1/runbooks', '/api/v1/approvals', '/api/v1/audit', '/api/v1/runbooks/db/run']) {
        fake.route('*', path, { status: 200, body: { status: 'ok' } });
      }
      const env = { RECTIFY_SERVER: fake.url };
      const cases: Array<[string[], string]> = [
        [['pause'], 'POST /api/v1/pause with 200 but not with what rectify answers (paused: Invalid input: expected boolean, received undefined)'],
        [['pause', '--json'], 'POST /api/v1/pause with 200 but not with what rectify answers (paused: Invalid input: expected boolean, received undefined)'],
        [['resume'], 'POST /api/v1/resume with 200 but not with what rectify answers (paused: Invalid input: expected boolean, received undefined)'],
        [['pause', '--runbook', 'db'], 'POST /api/v1/runbooks/db/pause with 200 but not with what rectify answers (paused: Invalid input: expected boolean, received undefined)'],
        [['runbooks'], 'GET /api/v1/runbooks with 200 but not with what rectify answers (runbooks: Invalid input: expected array, received undefined)'],
        [['approvals'], 'GET /api/v1/approvals with 200 but not with what rectify answers (approvals: Invalid input: expected array, received undefined)'],
        [['audit'], 'GET /api/v1/audit with 200 but not with what rectify answers (events: Invalid input: expected array, received undefined)'],
        [['run', 'db', '--by', 'c'], 'POST /api/v1/runbooks/db/run with 200 but not with what rectify answers (incident_id: Invalid input: expected string, received undefined)'],
      ];
      for (const [argv, said] of cases) {
        const r = await cli(argv, { env });
        const message = `rectify at ${fake.url} answered ${said}: is --server a rectify service?`;
        assert.equal(r.code, 3, argv.join(' '));
        assert.deepEqual(r.err, [`rectify: ${message}`], argv.join(' '));
        if (argv.includes('--json')) assert.deepEqual(r.json(), { error: { code: 'BAD_ANSWER', message, details: [] } });
        else assert.deepEqual(r.out, [], argv.join(' '));
      }
    }));

  it('an answer with more than the command reads is used as it came', () =>
    withTarget(async (fake) => {
      fake.route('POST', '/api/v1/pause', { status: 200, body: { paused: true, changed: false, since: 'newer field' } });
      const r = await cli(['pause', '--json'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 0);
      assert.deepEqual(r.json(), { paused: true, changed: false, since: 'newer field' });
    }));
});

/** A 403 that is no token's fault (separation of duties) was blamed on "the token", with no token sent. */
describe('a 403 says what the service said', () => {
  const sod = 'carol requested this run and cannot approve it (separation of duties): another approver must, or reject it to withdraw the request';
  it('separation of duties, no token: the service\'s reason, no word of a token; exit 4', () =>
    withTarget(async (fake) => {
      fake.route('POST', '/api/v1/approvals/apr_1/approve', { status: 403, body: { error: { code: 'FORBIDDEN', message: sod, details: [] } } });
      const r = await cli(['approve', 'apr_1', '--by', 'carol'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 4);
      assert.deepEqual(r.err, [`rectify: rectify at ${fake.url} refused POST /api/v1/approvals/apr_1/approve (403 FORBIDDEN): ${sod}`]);
      // With a token too: the refusal is of the person, not of the token's role.
      const t = await cli(['approve', 'apr_1'], { env: { RECTIFY_SERVER: fake.url, RECTIFY_TOKEN: 'tok' } });
      assert.deepEqual(t.err, [`rectify: rectify at ${fake.url} refused POST /api/v1/approvals/apr_1/approve (403 FORBIDDEN): ${sod}`]);
    }));

  it('a token whose role does not allow it: the token is named', () =>
    withTarget(async (fake) => {
      const role = 'token "ci" may not POST /api/v1/approvals/:id/approve: it needs the approver role (it has viewer)';
      fake.route('POST', '/api/v1/approvals/apr_1/approve', { status: 403, body: { error: { code: 'FORBIDDEN', message: role, details: [] } } });
      const r = await cli(['approve', 'apr_1'], { env: { RECTIFY_SERVER: fake.url, RECTIFY_TOKEN: 'tok' } });
      assert.equal(r.code, 4);
      assert.deepEqual(r.err, [`rectify: the token is not allowed to POST /api/v1/approvals/apr_1/approve: ${role}`]);
    }));
});

/** Mistakes of the client's own, each reported as "cannot reach rectify (is it running?)", exit 3. */
describe('client mistakes are named, not "is it running?"', () => {
  it('a trailing space in RECTIFY_SERVER is no part of the address', () =>
    withTarget(async (fake) => {
      fake.route('GET', '/api/v1/approvals', { status: 200, body: { approvals: [], next_cursor: null, total: 0 } });
      const r = await cli(['approvals'], { env: { RECTIFY_SERVER: `${fake.url} ` } });
      assert.equal(r.code, 0, r.err.join('\n'));
      assert.deepEqual(r.out, ['no pending approval requests']);
    }));

  it('a token with a character a header cannot carry: exit 2 naming where it came from, nothing sent', () =>
    withTarget(async (fake) => {
      const msg = 'expected a token of printable ASCII characters (it holds another character: a quote or dash pasted from a document?)';
      const r = await cli(['approvals'], { env: { RECTIFY_SERVER: fake.url, RECTIFY_TOKEN: 'tok\u201cen' } });
      assert.equal(r.code, 2);
      assert.deepEqual(r.err, [`RECTIFY_TOKEN: ${msg}`, 'see: rectify approvals --help']);
      const f = await cli(['approvals', '--token', 'tok\u00e9n'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(f.code, 2);
      assert.equal(f.err[0], `--token: ${msg}`);
      assert.equal(fake.calls('/api/v1/approvals'), 0);
    }));

  it('a port fetch refuses to connect to is named: exit 2', async () => {
    const r = await cli(['approvals', '--server', 'http://127.0.0.1:10080']);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [
      "rectify: cannot talk to rectify at http://127.0.0.1:10080: port 10080 is one Node's HTTP client (fetch) refuses to connect to, as browsers do (a port of another protocol); give the service another port (rectify serve --listen) and --server with it",
    ]);
  });

  it('a redirect is named with its target (scheme, host and path), not followed: exit 3', () =>
    withTarget(async (fake) => {
      fake.route('GET', '/api/v1/approvals', { status: 301, headers: { location: 'https://rectify.example/api/v1/approvals?secret=1' } });
      const r = await cli(['approvals'], { env: { RECTIFY_SERVER: fake.url } });
      assert.equal(r.code, 3);
      assert.deepEqual(r.err, [
        `rectify: rectify at ${fake.url} answered GET /api/v1/approvals with a redirect (301) to https://rectify.example/api/v1/approvals: rectify never redirects; if the service is there, give that address to --server`,
      ]);
      assert.equal(fake.calls('/api/v1/approvals'), 1);
    }));
});

/** An id longer than the service takes would be refused by it (400 naming params.id); the CLI says so itself. */
describe('an over-long id', () => {
  it('is refused before anything is sent: exit 2', () =>
    withTarget(async (fake) => {
      const env = { RECTIFY_SERVER: fake.url };
      const long = 'a'.repeat(129);
      const message = `an id of 129 characters is not an id: rectify's ids have at most 128 (got "${'a'.repeat(40)}"…)`;
      for (const argv of [['runbooks', long], ['approve', long, '--by', 'c'], ['pause', '--runbook', long], ['run', long, '--by', 'c']]) {
        const r = await cli([...argv, '--json'], { env });
        assert.equal(r.code, 2, argv[0]);
        assert.deepEqual(r.err, [`rectify: ${message}`]);
        assert.deepEqual(r.json(), { error: { code: 'VALIDATION_FAILED', message, details: [] } });
      }
      assert.deepEqual(fake.requests(), []);
      // 128 is still sent.
      fake.route('GET', `/api/v1/runbooks/${'a'.repeat(128)}`, { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no runbook', details: [] } } });
      assert.equal((await cli(['runbooks', 'a'.repeat(128)], { env })).code, 1);
    }));
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { issueToken, writeTokensFile } from '../helpers/tokens.js';
import { TOKEN_IN_ARGV } from '../../src/cli/client/command.js';
import { cli } from './capture.js';

/** The client commands against a service that checks tokens: exit codes scripts can trust. */
describe('client commands with API tokens', () => {
  const viewer = issueToken('vera', ['viewer']);
  const admin = issueToken('ada', ['admin']);
  const approver = issueToken('alice', ['approver']);
  let dir: string;
  let svc: TestService;
  let server: string;
  const paused = async () => {
    const res = await svc.app.inject({ method: 'GET', url: '/api/v1/audit?event=SERVICE_PAUSED', headers: { authorization: `Bearer ${admin.token}` } });
    assert.equal(res.statusCode, 200);
    return JSON.parse(res.body).events as Array<{ actor: string }>;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-cli-tokens-'));
    const file = writeTokensFile(dir, [viewer, admin, approver]);
    // Two people must approve; the action never runs here (one vote is cast).
    const runbooks = `runbooks:
  drop-replica:
    risk: HIGH
    approvals_required: 2
    triggers: [replica_lag]
    action:
      http: {method: POST, url: "http://127.0.0.1:9/drop/{deployment}"}
`;
    svc = await startTestService({ runbooks, args: ['--listen', '127.0.0.1:0', '--tokens', file] });
    server = await svc.service.listen();
  });
  after(async () => {
    await svc.stop({ remove: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('no token: exit 4 and a sentence naming --token / RECTIFY_TOKEN', async () => {
    const r = await cli(['approvals'], { env: { RECTIFY_SERVER: server } });
    assert.equal(r.code, 4, r.err.join('\n'));
    assert.match(r.err.join('\n'), /RECTIFY_TOKEN|--token/);
  });

  it('a wrong token: exit 4, and the token is not printed', async () => {
    const r = await cli(['approvals', '--json'], { env: { RECTIFY_SERVER: server, RECTIFY_TOKEN: 'rct_not-a-real-token' } });
    assert.equal(r.code, 4);
    assert.equal(r.json().error.code, 'UNAUTHORIZED');
    assert.ok(!`${r.out.join('\n')}${r.err.join('\n')}`.includes('rct_not-a-real-token'));
  });

  it('a viewer may read but not pause (403 → exit 4); nothing is paused', async () => {
    const read = await cli(['approvals', '--json'], { env: { RECTIFY_SERVER: server, RECTIFY_TOKEN: viewer.token } });
    assert.equal(read.code, 0, read.err.join('\n'));
    const pause = await cli(['pause', '--json'], { env: { RECTIFY_SERVER: server, RECTIFY_TOKEN: viewer.token } });
    assert.equal(pause.code, 4);
    assert.equal(pause.json().error.code, 'FORBIDDEN');
    assert.equal((await paused()).length, 0);
  });

  it('an admin pauses with --token; the audit actor is the token name, not --by', async () => {
    const r = await cli(['pause', '--by', 'mallory', '--reason', 'maintenance', '--token', admin.token], { env: { RECTIFY_SERVER: server } });
    assert.equal(r.code, 0, r.err.join('\n'));
    const ev = await paused();
    assert.equal(ev.length, 1);
    assert.equal(ev[0]?.actor, 'ada');
  });

  it("approve, a two-person request's first vote: the CLI says who the server recorded (the token's name), not --by", async () => {
    const asked = await cli(['run', 'drop-replica', '--param', 'deployment=db', '--no-wait', '--json', '--token', admin.token], { env: { RECTIFY_SERVER: server } });
    assert.equal(asked.code, 5, asked.err.join('\n'));
    const id = asked.json().result.approval_id as string;
    const vote = await cli(['approve', id, '--by', 'mallory', '--token', approver.token], { env: { RECTIFY_SERVER: server } });
    assert.deepEqual(
      [vote.code, vote.out, vote.err],
      [5, [`approved ${id} (drop-replica on drop-replica) as alice: vote 1 of 2, still pending until another approver approves`], [TOKEN_IN_ARGV]],
    );
  });

  it('a token given as --token works and is warned about on stderr (other users see it in ps); from RECTIFY_TOKEN, no word', async () => {
    const flag = await cli(['approvals', '--json', `--token=${viewer.token}`], { env: { RECTIFY_SERVER: server } });
    assert.deepEqual([flag.code, flag.err, flag.json().approvals.length], [0, ['rectify: warning: a --token on the command line can be read by other users of this host (ps) and stays in shell history; set RECTIFY_TOKEN instead'], 1]);
    assert.ok(!flag.err.join('\n').includes(viewer.token));
    const fromEnv = await cli(['approvals', '--json'], { env: { RECTIFY_SERVER: server, RECTIFY_TOKEN: viewer.token } });
    assert.deepEqual([fromEnv.code, fromEnv.err], [0, []]);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { slackSignature } from '../../src/api/slack-signature.js';
import { configSummary } from '../../src/config/index.js';
import { SHOWN_BY_CLICK_ANSWER, SUPERSEDED_BY_OUTCOME } from '../../src/notify/index.js';
import { holdDatabaseLock } from '../helpers/db-lock.js';
import { sequence, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { issueToken, writeTokensFile } from '../helpers/tokens.js';
import { approvalRunbooks, SLACK_RESPOND, SLACK_SECRET, slackClick, slackPayload, type SlackClick } from './setup.js';

const HOOK = '/services/T000/B000/hookSECRET';
const runbooks = (base: string): string => approvalRunbooks(base, { ticket: true });

describe('Slack interactive approvals', () => {
  let target: HttpTarget;
  let svc: TestService;
  let url: string;
  let secretFile: string;
  const am = issueToken('alertmanager', ['ingest']);

  /** A request as Slack sends it; `sign` overrides what is signed (to tamper), `at` the timestamp in seconds. */
  async function send(body: string, opts: { secret?: string; at?: number; signed?: string; contentType?: string; signature?: string } = {}) {
    const ts = String(opts.at ?? Math.floor(svc.clock.now() / 1000));
    const signature = opts.signature ?? slackSignature(opts.secret ?? SLACK_SECRET, ts, opts.signed ?? body);
    const res = await fetch(`${url}/api/v1/slack/interactions`, {
      method: 'POST',
      headers: { 'content-type': opts.contentType ?? 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signature },
      body,
    });
    return { status: res.status, body: (await res.json()) as any };
  }
  async function incident(id: string, rootCause = 'error_rate_spike_after_deploy', deployment = 'checkout'): Promise<string> {
    const res = await fetch(`${url}/api/v1/incidents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${am.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, root_cause: rootCause, service: deployment, context: { deployment, ticket: id } }),
    });
    const d = (await res.json()) as any;
    assert.equal(d.action, 'approval_required');
    return d.approval_id as string;
  }
  const approval = (id: string) => svc.service.store.read((tx) => tx.getApproval(id))!;

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/undo/checkout', { status: 200 });
    target.route('POST', '/drop/db', { status: 200 });
    target.route('POST', HOOK, { status: 200 });
    target.route('POST', SLACK_RESPOND, { status: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'rectify-slack-'));
    secretFile = join(dir, 'slack-signing-secret');
    writeFileSync(secretFile, `${SLACK_SECRET}\n`);
    svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--tokens', writeTokensFile(dir, [am]), '--listen', '127.0.0.1:0', '--slack-signing-secret', `\${file:${secretFile}}`, '--slack-webhook-url', target.url + HOOK],
      captureLogs: true,
      // The local target stands in for Slack's hooks.slack.com.
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
    });
    url = await svc.service.listen();
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('the approval message carries Approve and Reject buttons tied to that approval', async () => {
    const id = await incident('SL-BUTTONS');
    await svc.service.drainNotifications();
    const msg = target.requests(HOOK).map((r) => r.json() as any).find((m) => JSON.stringify(m).includes(id));
    const actions = msg.blocks.find((b: any) => b.type === 'actions');
    assert.deepEqual(
      actions.elements.map((e: any) => [e.action_id, e.value, e.style]),
      [
        ['rectify_approve', `${id}:approve`, 'primary'],
        ['rectify_reject', `${id}:reject`, 'danger'],
      ],
    );
  });

  it('a signed click approves as slack:<Slack user id> and runs the plan; no bearer token is needed', async () => {
    target.reset();
    const id = await incident('SL-OK');
    const r = await send(slackPayload({ value: `${id}:approve` }));
    assert.equal(r.status, 200);
    assert.equal(r.body.ok, true);
    assert.equal(r.body.response_type, 'ephemeral');
    assert.match(r.body.text, /^Approved by slack:U0ALICE: executed \(execution exe_[0-9A-Z]+\), /);
    assert.equal(approval(id).status, 'approved');
    assert.equal(approval(id).decided_by, 'slack:U0ALICE');
    await target.waitForRequest('/undo/checkout');
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);
    const ev = svc.service.store.queryAudit({ incident_id: 'SL-OK', event: 'APPROVED', limit: 5 });
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.actor, 'slack:U0ALICE');
    const details = ev[0]!.details as Record<string, unknown>;
    assert.deepEqual([details.slack_user_id, details.slack_username], ['U0ALICE', 'alice']);
  });

  it('refused: a wrong secret, a tampered body, a stale or future timestamp, a malformed or missing signature — and nothing changes', async () => {
    target.reset();
    // Five minutes on from the start: the window's edge is after it (a request signed before the start is refused).
    svc.clock.advance(300_000);
    const id = await incident('SL-BAD');
    const body = slackPayload({ value: `${id}:approve` });
    const now = Math.floor(svc.clock.now() / 1000);
    const cases: Array<[string, Awaited<ReturnType<typeof send>>, string]> = [
      ['wrong secret', await send(body, { secret: 'not-the-secret' }), 'the Slack signature does not match this request'],
      ['tampered', await send(slackPayload({ value: `${id}:approve`, user: { id: 'U0MALLORY', username: 'mallory' } }), { signed: body }), 'the Slack signature does not match this request'],
      ['stale', await send(body, { at: now - 301 }), 'stale Slack request: its timestamp is more than 5 minutes from now (check the clock, or it is a replay)'],
      ['future', await send(body, { at: now + 301 }), 'stale Slack request: its timestamp is more than 5 minutes from now (check the clock, or it is a replay)'],
      ['malformed', await send(body, { signature: 'v1=abc' }), 'X-Slack-Signature must be v0=<64 hex digits>'],
    ];
    for (const [what, r, message] of cases) {
      assert.equal(r.status, 401, what);
      assert.deepEqual(r.body.error, { code: 'UNAUTHORIZED', message, details: [] }, what);
    }
    const unsigned = await fetch(`${url}/api/v1/slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    assert.equal(unsigned.status, 401);
    assert.equal(((await unsigned.json()) as any).error.message, 'not signed by Slack: X-Slack-Request-Timestamp and X-Slack-Signature are required');
    // A doubled slash reaches the route, and so its signature check.
    const doubled = await fetch(`${url}//api/v1//slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    assert.equal(doubled.status, 401);
    assert.equal(((await doubled.json()) as any).error.message, 'not signed by Slack: X-Slack-Request-Timestamp and X-Slack-Signature are required');
    assert.equal(approval(id).status, 'pending');
    assert.deepEqual(approval(id).votes, []);
    assert.equal(target.calls('/undo/checkout'), 0);
    // Within the window, right at its edge, the same click is good.
    const edge = await send(body, { at: now - 300 });
    assert.equal(edge.status, 200);
    assert.equal(approval(id).status, 'approved');
    await target.waitForRequest('/undo/checkout');
  });

  it('a replayed request is refused (409) and carried out once', async () => {
    target.reset();
    const id = await incident('SL-REPLAY');
    const body = slackPayload({ value: `${id}:approve` });
    const at = Math.floor(svc.clock.now() / 1000);
    const first = await send(body, { at });
    assert.equal(first.status, 200);
    await target.waitForRequest('/undo/checkout');
    svc.clock.advance(60_000);
    const replay = await send(body, { at });
    assert.equal(replay.status, 409);
    assert.deepEqual(replay.body.error, { code: 'CONFLICT', message: 'this Slack request was already received: a replay is not carried out again', details: [] });
    svc.clock.advance(10 * 60_000);
    const late = await send(body, { at });
    assert.equal(late.status, 401, 'once outside the window it is stale, and so still refused');
    assert.equal(svc.service.store.queryAudit({ incident_id: 'SL-REPLAY', event: 'APPROVED', limit: 5 }).length, 1);
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);
  });

  it('the button is tied to one approval and one verb: a value that disagrees with its button is a 400', async () => {
    const id = await incident('SL-VERB');
    const r = await send(slackPayload({ action_id: 'rectify_reject', value: `${id}:approve` }));
    assert.equal(r.status, 400);
    assert.equal(r.body.error.message, 'invalid body: body.payload.actions.0.value: says approve but the button is rectify_reject');
    const other = await send(slackPayload({ action_id: 'delete_everything', value: `${id}:approve` }));
    assert.equal(other.status, 400);
    assert.equal(other.body.error.details[0].path, 'body.payload.actions.0.action_id');
    assert.equal(approval(id).status, 'pending');
    const reject = await send(slackPayload({ value: `${id}:reject`, user: { id: 'U0CAROL', username: 'carol' } }));
    assert.equal(reject.body.ok, true);
    assert.equal(reject.body.text, 'Rejected by slack:U0CAROL (carol): nothing will run.');
    assert.equal(approval(id).status, 'rejected');
  });

  // Regression: the payload's JSON was read with JSON.parse, which keeps the last of a key given twice.
  it('a payload giving a key twice (the clicking user\'s id) is a 400 naming it, and the approval stays pending', async () => {
    const id = await incident('SL-DUPKEY');
    const body = slackPayload({ value: `${id}:approve` }).replace(encodeURIComponent('{"id":"U0ALICE"'), encodeURIComponent('{"id":"U0EVE","id":"U0ALICE"'));
    assert.match(decodeURIComponent(body), /"id":"U0EVE","id":"U0ALICE"/);
    const r = await send(body);
    assert.equal(r.status, 400);
    const message = 'the key "id" is given twice in one object: which value is meant cannot be told; send each key once';
    assert.deepEqual(r.body, { error: { code: 'BAD_REQUEST', message: `invalid body: body.payload.user.id: ${message}`, details: [{ path: 'body.payload.user.id', message }] } });
    assert.equal(approval(id).status, 'pending');
  });

  it('a decided approval answers ok:false with the reason, as Slack shows it to the person', async () => {
    const id = await incident('SL-TWICE');
    assert.equal((await send(slackPayload({ value: `${id}:approve` }))).body.ok, true);
    const second = await send(slackPayload({ value: `${id}:reject`, user: { id: 'U0BOB', username: 'bob' } }));
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, { response_type: 'ephemeral', replace_original: false, ok: false, code: 'CONFLICT', text: `approval request ${id} is already approved by slack:U0ALICE` });
    const missing = await send(slackPayload({ value: 'apr_NOPE:approve' }));
    assert.equal(missing.body.code, 'NOT_FOUND');
  });

  it('Slack is told through the response_url: a deciding click replaces the message (no buttons left), a refused one is told to the clicker only', async () => {
    target.reset();
    const responseUrl = target.url + SLACK_RESPOND;
    const id = await incident('SL-RESPOND');
    const ok = await send(slackPayload({ value: `${id}:approve`, responseUrl }));
    assert.equal(ok.body.ok, true);
    await target.waitForRequest('/undo/checkout');
    await svc.service.drainNotifications();
    const told = target.requests(SLACK_RESPOND, 'POST').map((r) => r.json() as any);
    assert.equal(told.length, 1);
    assert.equal(told[0].replace_original, true);
    assert.equal(told[0].text, ok.body.text);
    assert.match(told[0].blocks[0].text.text, /^Approved by slack:U0ALICE: executed \(execution exe_[0-9A-Z]+\), /);
    assert.equal(told[0].blocks[1].elements[0].text, `approval ${id} · incident SL-RESPOND · runbook rollback-deployment · service checkout`);
    assert.equal(told.some((m) => JSON.stringify(m).includes('rectify_approve')), false, 'the buttons are gone');
    const late = await send(slackPayload({ value: `${id}:reject`, user: { id: 'U0BOB', username: 'bob' }, responseUrl }));
    assert.equal(late.body.ok, false);
    await svc.service.drainNotifications();
    const refused = target.requests(SLACK_RESPOND, 'POST').map((r) => r.json() as any);
    assert.equal(refused.length, 2);
    assert.deepEqual(refused[1], { response_type: 'ephemeral', replace_original: false, text: `approval request ${id} is already approved by slack:U0ALICE` });
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);
  });

  it("a response_url outside Slack's origins is not called, and the click is still carried out", async () => {
    target.reset();
    const id = await incident('SL-ELSEWHERE');
    const before = svc.log.lines.length;
    const r = await send(slackPayload({ value: `${id}:reject`, responseUrl: 'http://127.0.0.1:9/actions/x' }));
    assert.equal(r.body.ok, true);
    await svc.service.drainNotifications();
    assert.equal(approval(id).status, 'rejected');
    assert.equal(target.calls(SLACK_RESPOND), 0);
    const warned = svc.log.lines.slice(before).filter((l) => l.includes("response_url outside Slack's own origins: not called"));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /"origin":"http:\/\/127\.0\.0\.1:9"/);
  });

  it('two approvers from Slack: the same Slack user under a new username is still one person', async () => {
    target.reset();
    const id = await incident('SL-TWO', 'replica_lag', 'db');
    const first = await send(slackPayload({ value: `${id}:approve`, user: { id: 'U0ALICE', username: 'alice' } }));
    assert.equal(first.body.ok, true);
    assert.equal(first.body.text, 'slack:U0ALICE (alice) approved (1 of 2); another person must approve too.');
    const renamed = await send(slackPayload({ value: `${id}:approve`, user: { id: 'U0ALICE', username: 'not-alice' } }));
    assert.equal(renamed.body.ok, false);
    assert.equal(renamed.body.code, 'CONFLICT');
    assert.equal(target.calls('/drop/db'), 0);
    const bob = await send(slackPayload({ value: `${id}:approve`, user: { id: 'U0BOB', username: 'bob' } }));
    assert.equal(bob.body.ok, true);
    assert.equal(approval(id).decided_by, 'slack:U0ALICE, slack:U0BOB');
    await target.waitForRequest('/drop/db');
    assert.equal(target.calls('/drop/db', 'POST'), 1);
  });

  it('a Slack user id is taken as Slack spells it, U or W and uppercase: u0alice is refused (400), not counted as a second voter beside U0ALICE', async () => {
    target.reset();
    const id = await incident('SL-CASE', 'replica_lag', 'db');
    const first = await send(slackPayload({ value: `${id}:approve`, user: { id: 'U0ALICE', username: 'alice' } }));
    assert.equal(first.body.ok, true, first.body.text);
    const message = 'expected a Slack user id (U or W, then uppercase letters and digits)';
    for (const user of ['u0alice', 'U0alice', 'B0BOT', 'U0']) {
      const r = await send(slackPayload({ value: `${id}:approve`, user: { id: user, username: 'alice' } }));
      assert.equal(r.status, 400, user);
      assert.deepEqual(r.body.error, {
        code: 'VALIDATION_FAILED',
        message: `invalid body: body.payload.user.id: ${message}`,
        details: [{ path: 'body.payload.user.id', message }],
      }, user);
    }
    assert.deepEqual([approval(id).status, approval(id).votes.map((v) => v.by)], ['pending', ['slack:U0ALICE']]);
    assert.equal(target.calls('/drop/db', 'POST'), 0);
    const w = await send(slackPayload({ value: `${id}:approve`, user: { id: 'W0BOB', username: 'bob' } }));
    assert.equal(w.body.ok, true, w.body.text);
    assert.equal(approval(id).decided_by, 'slack:U0ALICE, slack:W0BOB');
    await target.waitForRequest('/drop/db');
  });

  it("two approvers from Slack: a first vote's answer retried after the second click's is not sent over the outcome; the buttons stay gone and the vote is recorded as shown by it", async () => {
    target.reset();
    // Alice's response_url fails once (tried again 500 ms later); Bob's answers at once.
    const ALICE_URL = '/actions/T000/1/alice';
    const BOB_URL = '/actions/T000/1/bob';
    target.route('POST', ALICE_URL, sequence([{ status: 500 }, { status: 200 }]));
    target.route('POST', BOB_URL, { status: 200 });
    const id = await incident('SL-ORDER', 'replica_lag', 'db');
    await svc.service.drainNotifications();
    const alice = await send(slackPayload({ value: `${id}:approve`, user: { id: 'U0ALICE', username: 'alice' }, responseUrl: target.url + ALICE_URL }));
    const bob = await send(slackPayload({ value: `${id}:approve`, user: { id: 'U0BOB', username: 'bob' }, responseUrl: target.url + BOB_URL }));
    assert.deepEqual([alice.body.ok, bob.body.ok], [true, true]);
    await target.waitForRequest('/drop/db');
    await svc.service.drainNotifications();
    assert.equal(approval(id).status, 'approved');
    // Alice's answer was tried once (refused), and not again once the request was settled.
    assert.equal(target.calls(ALICE_URL, 'POST'), 1);
    const told = target.requests(BOB_URL, 'POST').map((r) => r.json() as any);
    assert.equal(told.length, 1);
    assert.equal(told[0].text, bob.body.text);
    assert.equal(JSON.stringify(told[0]).includes('rectify_approve'), false, 'the buttons are gone');
    // The outcome replaced the message: Slack is not posted the vote nor the approval on their own.
    const posted = target.requests(HOOK, 'POST').map((r) => (r.json() as any).text as string);
    assert.deepEqual(posted.filter((t) => / rectify: (APPROVAL_VOTE|APPROVED) /.test(t)), []);
    const notified = svc.service.store.queryAudit({ incident_id: 'SL-ORDER', event: 'NOTIFIED', limit: 10 }).map((e) => {
      const d = e.details as Record<string, unknown>;
      return [d.about, d.detail];
    });
    assert.deepEqual(notified.filter(([about]) => about === 'APPROVAL_VOTE' || about === 'APPROVED').sort(), [
      ['APPROVAL_VOTE', SUPERSEDED_BY_OUTCOME],
      ['APPROVED', SHOWN_BY_CLICK_ANSWER],
    ]);
  });

  it('SIGHUP re-reads a ${file:} signing secret: the rotated one is accepted, the old refused; an empty file keeps the current one', async () => {
    const ROTATED = 'b1e6c0ffee9a4d2e8f10aa33cc55ee77';
    try {
      writeFileSync(secretFile, `${ROTATED}\n`);
      assert.deepEqual((await svc.service.reload()).slackSigningSecret, { ok: true });
      const id = await incident('SL-ROTATE');
      const old = await send(slackPayload({ value: `${id}:reject` }));
      assert.equal(old.status, 401);
      assert.equal(old.body.error.message, 'the Slack signature does not match this request');
      assert.equal(approval(id).status, 'pending');
      writeFileSync(secretFile, '\n');
      const broken = (await svc.service.reload()).slackSigningSecret;
      assert.equal(broken?.ok, false);
      assert.match((broken as { problem: string }).problem, /slack-signing-secret" is empty$/);
      const rotated = await send(slackPayload({ value: `${id}:reject` }), { secret: ROTATED });
      assert.equal(rotated.status, 200);
      assert.equal(approval(id).status, 'rejected');
    } finally {
      writeFileSync(secretFile, `${SLACK_SECRET}\n`);
      assert.deepEqual((await svc.service.reload()).slackSigningSecret, { ok: true });
    }
  });

  it('only the form Slack sends: a JSON body, even correctly signed, is a 415', async () => {
    const body = JSON.stringify({ payload: '{}' });
    const r = await send(body, { contentType: 'application/json' });
    assert.equal(r.status, 415);
    assert.equal(r.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('without --slack-approvers, startup warns that anyone who sees an approval message can click', () => {
    const warned = svc.log.lines.filter((l) => l.includes('Slack approval buttons are on for anyone who can see an approval message'));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /"level":"warn"/);
  });

  it('the signing secret is in no log line and not in the configuration summary', () => {
    const text = svc.log.lines.join('\n');
    assert.ok(!text.includes(SLACK_SECRET));
    assert.ok(!text.includes('hookSECRET'));
    const summary = JSON.stringify(configSummary(svc.config));
    assert.ok(!summary.includes(SLACK_SECRET));
    assert.match(summary, /"slackSigningSecret":"\$\{file:[^}]+slack-signing-secret\}"/);
  });
});

describe('Slack approvers (--slack-approvers)', () => {
  let target: HttpTarget;
  let svc: TestService;

  const click = (c: SlackClick) => slackClick(svc, c);
  async function pending(id: string): Promise<string> {
    const r = await svc.post('/api/v1/incidents', { id, root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: id } });
    assert.equal(r.body.action, 'approval_required');
    return r.body.approval_id as string;
  }
  const approval = (id: string) => svc.service.store.read((tx) => tx.getApproval(id))!;

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/undo/checkout', { status: 200 });
    target.route('POST', SLACK_RESPOND, { status: 200 });
    svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--slack-signing-secret', SLACK_SECRET, '--slack-approvers', 'U0ALICE, U0BOB'],
      captureLogs: true,
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('a correctly signed click by a Slack user not on the list is refused, told why, and changes nothing', async () => {
    const id = await pending('SA-MALLORY');
    for (const verb of ['approve', 'reject'] as const) {
      const r = await click({ value: `${id}:${verb}`, user: { id: 'U0MALLORY', username: 'mallory' }, responseUrl: target.url + SLACK_RESPOND });
      assert.equal(r.status, 200, 'Slack shows anything but a 200 as a broken app');
      assert.deepEqual(r.body, {
        response_type: 'ephemeral',
        replace_original: false,
        ok: false,
        code: 'FORBIDDEN',
        text: `slack:U0MALLORY (mallory) may not ${verb} from Slack: only the Slack users in --slack-approvers may. Ask one of them, or use the API with an approver token.`,
      });
    }
    await svc.service.drainNotifications();
    assert.deepEqual(
      target.requests(SLACK_RESPOND, 'POST').map((q) => q.json()),
      (['approve', 'reject'] as const).map((verb) => ({
        response_type: 'ephemeral',
        replace_original: false,
        text: `slack:U0MALLORY (mallory) may not ${verb} from Slack: only the Slack users in --slack-approvers may. Ask one of them, or use the API with an approver token.`,
      })),
      'told to mallory alone; the approval message is left as it is',
    );
    // A username that matches an approver's is not the approver: the id decides.
    const impostor = await click({ value: `${id}:approve`, user: { id: 'U0MALLORY', username: 'alice' } });
    assert.equal(impostor.body.code, 'FORBIDDEN');
    assert.equal(approval(id).status, 'pending');
    assert.deepEqual(approval(id).votes, []);
    assert.equal(svc.service.store.queryAudit({ incident_id: 'SA-MALLORY', limit: 50 }).filter((e) => e.event !== 'APPROVAL_REQUIRED').length, 0);
    assert.equal(target.calls('/undo/checkout'), 0);
    const refused = svc.log.lines.filter((l) => l.includes('Slack click refused: the user is not in --slack-approvers'));
    assert.equal(refused.length, 3);
    assert.match(refused[0]!, /"slack_user":"U0MALLORY"/);
  });

  it('a Slack user on the list approves, and the plan runs once', async () => {
    const id = await pending('SA-ALICE');
    const r = await click({ value: `${id}:approve`, user: { id: 'U0ALICE', username: 'alice' } });
    assert.equal(r.body.ok, true);
    assert.equal(approval(id).status, 'approved');
    assert.equal(approval(id).decided_by, 'slack:U0ALICE');
    await target.waitForRequest('/undo/checkout');
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);
    const other = await pending('SA-BOB');
    assert.equal((await click({ value: `${other}:reject`, user: { id: 'U0BOB', username: 'bob' } })).body.text, 'Rejected by slack:U0BOB (bob): nothing will run.');
    assert.equal(approval(other).status, 'rejected');
  });

  it('no startup warning about open buttons; the ids are in the configuration summary', () => {
    assert.equal(svc.log.lines.filter((l) => l.includes('Slack approval buttons are on for anyone')).length, 0);
    assert.deepEqual(configSummary(svc.config).slackApprovers, ['U0ALICE', 'U0BOB']);
  });
});

describe('Slack interactivity not configured', () => {
  it('answers 404 naming the setting; approval messages carry no buttons', async () => {
    const target = await startHttpTarget();
    target.route('POST', HOOK, { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--slack-webhook-url', target.url + HOOK] });
    const r = await svc.app.inject({ method: 'POST', url: '/api/v1/slack/interactions', payload: 'payload=%7B%7D', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.statusCode, 404);
    assert.equal(JSON.parse(r.body).error.message, 'Slack interactivity is not configured: set --slack-signing-secret (RECTIFY_SLACK_SIGNING_SECRET, slack_signing_secret)');
    await svc.post('/api/v1/incidents', { id: 'NB', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout' } });
    await svc.service.drainNotifications();
    const [msg] = target.requests(HOOK).map((q) => q.json() as any);
    assert.ok(msg);
    assert.equal(msg.blocks.some((b: any) => b.type === 'actions'), false);
    await svc.stop({ remove: true });
    await target.close();
  });

  it('a plain-value secret works; a relative ${file:} is refused at load without echoing anything else', async () => {
    const target = await startHttpTarget();
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--slack-signing-secret', SLACK_SECRET], overrides: { slackResponseOrigins: [] } });
    const r = await slackClick(svc, { value: 'apr_NONE:approve' });
    assert.equal(r.status, 200);
    assert.equal(r.body.code, 'NOT_FOUND');
    await svc.stop({ remove: true });
    await target.close();
    await assert.rejects(startTestService({ runbooks: runbooks('http://127.0.0.1:9'), args: ['--slack-signing-secret', '${file:secret.txt}'] }), /--slack-signing-secret: .*expected \$\{file:\/absolute\/path\}, got a relative path "secret\.txt"/);
  });
});

describe('Slack approvers mapped to rectify names (--slack-approvers U0ALICE=alice)', () => {
  let target: HttpTarget;
  let svc: TestService;
  const click = async (c: SlackClick) => (await slackClick(svc, c)).body;
  const approval = (id: string) => svc.service.store.read((tx) => tx.getApproval(id))!;
  const alice = { id: 'U0ALICE', username: 'alice' };
  const bob = { id: 'U0BOB', username: 'bob' };

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/undo/checkout', { status: 200 });
    target.route('POST', '/drop/checkout', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--slack-signing-secret', SLACK_SECRET, '--slack-approvers', 'U0ALICE=alice,U0BOB'] });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('who asked for a manual run cannot approve it from Slack either; a Slack user with no name cannot be told apart from them', async () => {
    const run = await svc.post('/api/v1/runbooks/rollback-deployment/run', { by: 'alice', params: { deployment: 'checkout', ticket: 'T1' }, service: 'checkout' });
    assert.equal(run.body.action, 'approval_required');
    const id = run.body.approval_id as string;
    const own = await click({ value: `${id}:approve`, user: alice });
    assert.equal(own.code, 'FORBIDDEN');
    assert.match(own.text, /^alice requested this run and cannot approve it \(separation of duties\)/);
    const unnamed = await click({ value: `${id}:approve`, user: bob });
    assert.deepEqual([unnamed.code, unnamed.text], [
      'FORBIDDEN',
      'slack:U0BOB cannot be told apart from alice, who asked for this run (separation of duties): give the Slack user its rectify name in --slack-approvers (U0BOB=<name>), or approve through the API',
    ]);
    assert.deepEqual([approval(id).status, approval(id).votes], ['pending', []]);
    assert.equal((await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'carol' })).status, 200);
    assert.equal(approval(id).status, 'approved');
  });

  it('two-person approval: an API vote and a Slack click by the same person are one vote; an unnamed Slack user cannot make the second', async () => {
    const r = await svc.post('/api/v1/incidents', { id: 'SM-2', root_cause: 'replica_lag', service: 'checkout', context: { deployment: 'checkout', ticket: 'SM-2' } });
    assert.equal(r.body.action, 'approval_required');
    const id = r.body.approval_id as string;
    assert.equal((await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'alice' })).status, 202);
    const again = await click({ value: `${id}:approve`, user: alice });
    assert.equal(again.code, 'CONFLICT');
    const unnamed = await click({ value: `${id}:approve`, user: bob });
    assert.equal(unnamed.code, 'FORBIDDEN');
    assert.match(unnamed.text, /^slack:U0BOB cannot be told apart from alice, who has approved it/);
    assert.deepEqual([approval(id).status, approval(id).votes.length], ['pending', 1]);
    assert.equal((await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'dave' })).status, 200);
    assert.equal(approval(id).status, 'approved');
  });

  it("two-person approval, Slack first: after an unnamed Slack user's vote, an API vote may be the same person and is refused; another Slack account may vote", async () => {
    const r = await svc.post('/api/v1/incidents', { id: 'SM-4', root_cause: 'replica_lag', service: 'checkout', context: { deployment: 'checkout', ticket: 'SM-4' } });
    const id = r.body.approval_id as string;
    const first = await click({ value: `${id}:approve`, user: bob });
    assert.equal(first.ok, true, first.text);
    const same = await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'bob' });
    assert.equal(same.status, 403);
    assert.equal(
      same.body.error.message,
      'bob cannot be told apart from slack:U0BOB, who has approved it from Slack with no rectify name (separation of duties): give that Slack user its name in --slack-approvers (<slack user id>=<name>), or let another Slack approver make the next vote',
    );
    assert.deepEqual([approval(id).status, approval(id).votes.length], ['pending', 1]);
    assert.equal(target.calls('/drop/checkout', 'POST'), 1, 'only SM-2 ran');
    // Another Slack account is another person, named or not: alice's click makes the second vote.
    const second = await click({ value: `${id}:approve`, user: alice });
    assert.equal(second.ok, true, second.text);
    assert.equal(approval(id).status, 'approved');
  });

  it('an alert-opened request with no votes: an unnamed Slack approver approves as before', async () => {
    const r = await svc.post('/api/v1/incidents', { id: 'SM-3', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SM-3' } });
    const done = await click({ value: `${r.body.approval_id}:approve`, user: bob });
    assert.equal(done.ok, true, done.text);
    assert.equal(approval(r.body.approval_id).status, 'approved');
  });

  const audit = (incident: string, event: 'APPROVAL_VOTE' | 'APPROVED') => svc.service.store.queryAudit({ incident_id: incident, event, limit: 5 }).map((e) => [e.actor, e.details]);

  it("a username decides nothing: an unnamed account calling itself alice votes as its Slack id, and the real alice still makes the second vote", async () => {
    const r = await svc.post('/api/v1/incidents', { id: 'SM-5', root_cause: 'replica_lag', service: 'checkout', context: { deployment: 'checkout', ticket: 'SM-5' } });
    const id = r.body.approval_id as string;
    const impostor = await click({ value: `${id}:approve`, user: { id: 'U0BOB', username: 'alice' } });
    assert.deepEqual([impostor.ok, impostor.text], [true, 'slack:U0BOB (alice) approved (1 of 2); another person must approve too.']);
    assert.deepEqual(approval(id).votes.map((v) => [v.by, v.slack_user_id]), [['slack:U0BOB', 'U0BOB']]);
    const real = await click({ value: `${id}:approve`, user: alice });
    assert.equal(real.ok, true, real.text);
    assert.deepEqual([approval(id).status, approval(id).decided_by], ['approved', 'slack:U0BOB, alice']);
    const view = (await svc.get(`/api/v1/approvals/${id}`)).body;
    assert.deepEqual(view.votes.map((v: any) => [v.by, v.slack_user_id]), [['slack:U0BOB', 'U0BOB'], ['alice', 'U0ALICE']]);
    assert.deepEqual(audit('SM-5', 'APPROVAL_VOTE'), [['slack:U0BOB', { approval_id: id, comment: null, votes: 1, approvals_required: 2, slack_user_id: 'U0BOB', slack_username: 'alice' }]]);
    assert.deepEqual(audit('SM-5', 'APPROVED'), [['alice', { approval_id: id, execution_id: approval(id).execution_id, comment: null, approvers: ['slack:U0BOB', 'alice'], slack_user_id: 'U0ALICE', slack_username: 'alice' }]]);
  });

  it("an unnamed account calling itself a mapped approver's name approves as its Slack id; a mapped approver renamed in Slack still acts as its rectify name", async () => {
    const one = await svc.post('/api/v1/incidents', { id: 'SM-6', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SM-6' } });
    const byImpostor = await click({ value: `${one.body.approval_id}:approve`, user: { id: 'U0BOB', username: 'alice' } });
    assert.match(byImpostor.text, /^Approved by slack:U0BOB: executed/);
    assert.deepEqual(audit('SM-6', 'APPROVED'), [['slack:U0BOB', { approval_id: one.body.approval_id, execution_id: approval(one.body.approval_id).execution_id, comment: null, slack_user_id: 'U0BOB', slack_username: 'alice' }]]);
    const two = await svc.post('/api/v1/incidents', { id: 'SM-7', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SM-7' } });
    const renamed = await click({ value: `${two.body.approval_id}:approve`, user: { id: 'U0ALICE', username: 'zed' } });
    assert.match(renamed.text, /^Approved by alice: executed/);
    assert.equal(approval(two.body.approval_id).decided_by, 'alice');
    assert.deepEqual(audit('SM-7', 'APPROVED'), [['alice', { approval_id: two.body.approval_id, execution_id: approval(two.body.approval_id).execution_id, comment: null, slack_user_id: 'U0ALICE', slack_username: 'zed' }]]);
    // Rejecting is recorded the same way.
    const three = await svc.post('/api/v1/incidents', { id: 'SM-8', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SM-8' } });
    assert.equal((await click({ value: `${three.body.approval_id}:reject`, user: { id: 'U0ALICE', username: 'zed' } })).text, 'Rejected by alice: nothing will run.');
    const rejected = svc.service.store.queryAudit({ incident_id: 'SM-8', event: 'REJECTED', limit: 5 }).map((e) => [e.actor, e.details]);
    assert.deepEqual(rejected, [['alice', { approval_id: three.body.approval_id, comment: null, slack_user_id: 'U0ALICE', slack_username: 'zed' }]]);
  });
});

describe('telling a click in Slack', () => {
  it('each attempt waits --notify-timeout for the response_url, then gives up and says so', async (t) => {
    const target = await startHttpTarget();
    // Answers only after 3 s: past a 300 ms timeout, well within the 5 s default.
    target.route('POST', SLACK_RESPOND, { status: 200, delayMs: 3_000 });
    target.route('POST', '/undo/checkout', { status: 200 });
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--slack-signing-secret', SLACK_SECRET, '--notify-timeout', '300ms'],
      captureLogs: true,
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
    });
    t.after(async () => {
      await svc.stop({ remove: true });
      await target.close();
    });
    const r = await svc.post('/api/v1/incidents', { id: 'SL-SLOW', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SL-SLOW' } });
    const done = await slackClick(svc, { value: `${r.body.approval_id}:reject`, responseUrl: target.url + SLACK_RESPOND });
    assert.equal(done.body.ok, true, done.body.text);
    await svc.service.drainNotifications();
    assert.equal(target.calls(SLACK_RESPOND, 'POST'), 2, 'both attempts timed out');
    assert.equal(svc.log.lines.filter((l) => l.includes("telling a Slack click's outcome failed (the click was carried out)")).length, 1);
  });
});

describe('a Slack request signed before rectify started', () => {
  it('is refused as stale after a restart (the signatures accepted before are not remembered across it), and nothing is carried out again; a click signed after the start is carried out', async (t) => {
    const target = await startHttpTarget();
    target.route('POST', '/undo/checkout', { status: 200 });
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--slack-signing-secret', SLACK_SECRET] });
    t.after(async () => {
      await svc.stop({ remove: true });
      await target.close();
    });
    /** The request as captured: its body, timestamp and signature sent again as they are. */
    const sendAsIs = async (s: TestService, body: string, ts: string) => {
      const r = await s.app.inject({
        method: 'POST',
        url: '/api/v1/slack/interactions',
        payload: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(SLACK_SECRET, ts, body) },
      });
      return { status: r.statusCode, body: JSON.parse(r.body) as any, headers: r.headers };
    };
    const incident = async (id: string) =>
      (await svc.post('/api/v1/incidents', { id, root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: id } })).body.approval_id as string;
    const first = await incident('SL-RESTART-1');
    const body = slackPayload({ value: `${first}:approve` });
    const ts = String(Math.floor(svc.clock.now() / 1000));
    const once = await sendAsIs(svc, body, ts);
    assert.deepEqual([once.status, once.body.ok], [200, true]);
    await target.waitForRequest('/undo/checkout');

    // A restart a minute later: well within the request's five minutes.
    svc.clock.advance(60_000);
    const before = svc;
    svc = await before.restart();
    const startedAt = new Date(svc.clock.now()).toISOString();
    svc.clock.advance(1_000);
    const replay = await sendAsIs(svc, body, ts);
    assert.equal(replay.status, 401, JSON.stringify(replay.body));
    assert.equal(replay.headers['www-authenticate'], 'Slack-Signature');
    assert.deepEqual(replay.body.error, {
      code: 'UNAUTHORIZED',
      message: `stale Slack request: signed before rectify started (${startedAt}), it may have been received before the restart, and a replay is not carried out again: click again`,
      details: [],
    });
    assert.equal(svc.service.store.queryAudit({ incident_id: 'SL-RESTART-1', event: 'APPROVED', limit: 5 }).length, 1);
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);

    // A click signed after the start is carried out.
    const second = await incident('SL-RESTART-2');
    const fresh = await slackClick(svc, { value: `${second}:reject` });
    assert.deepEqual([fresh.status, fresh.body.ok, fresh.body.text], [200, true, 'Rejected by slack:U0ALICE (alice): nothing will run.']);
  });
});

describe('a click the store cannot record', () => {
  it('the person who clicked is told through the response_url that nothing changed; the request stays pending, no vote is recorded; a click once the lock is gone approves', async (t) => {
    const target = await startHttpTarget();
    target.route('POST', SLACK_RESPOND, { status: 200 });
    target.route('POST', '/undo/checkout', { status: 200 });
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--slack-signing-secret', SLACK_SECRET, '--db-busy-timeout', '1s'],
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
    });
    t.after(async () => {
      await svc.stop({ remove: true });
      await target.close();
    });
    const r = await svc.post('/api/v1/incidents', { id: 'SL-LOCKED', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SL-LOCKED' } });
    const id = r.body.approval_id as string;
    assert.ok(id);
    await svc.service.drainNotifications();
    const responseUrl = target.url + SLACK_RESPOND;
    const lock = await holdDatabaseLock(svc.dbPath);
    let locked: { status: number; body: any };
    try {
      locked = await slackClick(svc, { value: `${id}:approve`, responseUrl });
    } finally {
      await lock.release();
    }
    await svc.service.drainNotifications();
    // Slack shows its own error for the 503; the person is told what happened.
    assert.deepEqual([locked.status, locked.body.error.code], [503, 'STORE_UNAVAILABLE']);
    assert.deepEqual(
      target.requests(SLACK_RESPOND, 'POST').map((q) => q.json()),
      [
        {
          response_type: 'ephemeral',
          replace_original: false,
          text: "slack:U0ALICE (alice)'s approve was not carried out: the database could not commit; nothing was recorded, retry later. Nothing changed: click Approve again shortly, or use the API.",
        },
      ],
    );
    const a = svc.service.store.read((tx) => tx.getApproval(id))!;
    assert.deepEqual([a.status, a.votes.length, a.decided_by], ['pending', 0, null]);
    assert.equal(svc.service.store.queryAudit({ incident_id: 'SL-LOCKED', event: 'APPROVED', limit: 5 }).length, 0);
    assert.equal(target.calls('/undo/checkout', 'POST'), 0);

    // A new click, a few seconds on (the same request sent again would be a replay).
    svc.clock.advance(5_000);
    const again = await slackClick(svc, { value: `${id}:approve`, responseUrl });
    assert.deepEqual([again.status, again.body.ok], [200, true]);
    assert.match(again.body.text, /^Approved by slack:U0ALICE: executed \(execution exe_[0-9A-Z]+\), /);
    await target.waitForRequest('/undo/checkout');
    await svc.service.drainNotifications();
    assert.equal(svc.service.store.read((tx) => tx.getApproval(id))!.status, 'approved');
    assert.equal(target.calls(SLACK_RESPOND, 'POST'), 2);
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);
  });

  it("a lock held past 2.5 s, within --db-busy-timeout (5 s): the click is answered 503 before Slack's 3 s are up, and nothing is carried out even once the lock is gone", async (t) => {
    const target = await startHttpTarget();
    target.route('POST', SLACK_RESPOND, { status: 200 });
    target.route('POST', '/undo/checkout', { status: 200 });
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--slack-signing-secret', SLACK_SECRET],
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
    });
    t.after(async () => {
      await svc.stop({ remove: true });
      await target.close();
    });
    const id = (await svc.post('/api/v1/incidents', { id: 'SL-LOCK-SHORT', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SL-LOCK-SHORT' } })).body.approval_id as string;
    await svc.service.drainNotifications();
    // Held 4 s, then let go by itself: longer than a click waits, shorter than --db-busy-timeout.
    const lock = await holdDatabaseLock(svc.dbPath, 4_000);
    let locked: { status: number; body: any };
    try {
      locked = await slackClick(svc, { value: `${id}:approve`, responseUrl: target.url + SLACK_RESPOND });
    } finally {
      await lock.release();
    }
    await svc.service.drainNotifications();
    assert.equal(locked.status, 503, JSON.stringify(locked.body));
    assert.equal(locked.body.error.code, 'STORE_UNAVAILABLE');
    assert.deepEqual(
      target.requests(SLACK_RESPOND, 'POST').map((q) => (q.json() as any).text),
      ["slack:U0ALICE (alice)'s approve was not carried out: the database could not commit; nothing was recorded, retry later. Nothing changed: click Approve again shortly, or use the API."],
    );
    const a = svc.service.store.read((tx) => tx.getApproval(id))!;
    assert.deepEqual([a.status, a.votes.length], ['pending', 0]);
    assert.equal(svc.service.store.queryAudit({ incident_id: 'SL-LOCK-SHORT', event: 'APPROVED', limit: 5 }).length, 0);
    assert.equal(target.calls('/undo/checkout', 'POST'), 0);
    // The lock gone, the request is decided as ever.
    const api = await svc.post(`/api/v1/approvals/${id}/reject`, { by: 'bob' });
    assert.equal(api.status, 200, JSON.stringify(api.body));
  });

  it('telling it fails (the response_url answers 404): the log says the click was not carried out', async (t) => {
    const target = await startHttpTarget();
    target.route('POST', SLACK_RESPOND, { status: 404 });
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--slack-signing-secret', SLACK_SECRET, '--db-busy-timeout', '1s'],
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
      captureLogs: true,
    });
    t.after(async () => {
      await svc.stop({ remove: true });
      await target.close();
    });
    const id = (await svc.post('/api/v1/incidents', { id: 'SL-LOCKED-404', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SL-LOCKED-404' } })).body.approval_id as string;
    await svc.service.drainNotifications();
    const lock = await holdDatabaseLock(svc.dbPath);
    let locked: { status: number; body: any };
    try {
      locked = await slackClick(svc, { value: `${id}:approve`, responseUrl: target.url + SLACK_RESPOND });
    } finally {
      await lock.release();
    }
    await svc.service.drainNotifications();
    assert.deepEqual([locked.status, locked.body.error.code], [503, 'STORE_UNAVAILABLE']);
    assert.equal(target.calls(SLACK_RESPOND, 'POST'), 1, 'a 404 is not tried again');
    const failed = svc.log.lines.filter((l) => l.includes("telling a Slack click's outcome failed")).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      failed.map((l) => [l.msg, l.carried_out, l.detail]),
      [["telling a Slack click's outcome failed (the click was not carried out)", false, 'answered 404']],
    );
    assert.equal(svc.log.lines.filter((l) => l.includes('was carried out')).length, 0);
  });
});

describe('a click while rectify stops', () => {
  it('a signed click gets the 503 and is told through its response_url that nothing changed (Slack origins only); an unsigned one calls nowhere; nothing is recorded', async (t) => {
    const target = await startHttpTarget();
    target.route('POST', SLACK_RESPOND, { status: 200 });
    // The first approval's run holds the stop in its drain while the clicks come in.
    target.route('POST', '/undo/held', { status: 200, delayMs: 3_000 });
    target.route('POST', '/undo/checkout', { status: 200 });
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--slack-signing-secret', SLACK_SECRET],
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
      captureLogs: true,
    });
    t.after(async () => {
      await svc.stop({ remove: true });
      await target.close();
    });
    const open = async (id: string, deployment: string) =>
      (await svc.post('/api/v1/incidents', { id, root_cause: 'error_rate_spike_after_deploy', service: deployment, context: { deployment, ticket: id } })).body.approval_id as string;
    const held = await open('SL-HELD', 'held');
    const id = await open('SL-STOP', 'checkout');
    const responseUrl = target.url + SLACK_RESPOND;
    assert.equal((await slackClick(svc, { value: `${held}:approve`, responseUrl })).status, 200);
    await target.waitForRequest('/undo/held');
    await svc.service.drainNotifications();
    target.reset();

    const closing = svc.service.close();
    // Not signed by Slack (a wrong secret): refused before anything else, and no URL is called.
    const body = slackPayload({ value: `${id}:approve`, responseUrl });
    const ts = String(Math.floor(svc.clock.now() / 1000));
    const unsigned = await svc.app.inject({
      method: 'POST',
      url: '/api/v1/slack/interactions',
      payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature('not-the-secret', ts, body) },
    });
    assert.deepEqual([unsigned.statusCode, JSON.parse(unsigned.body).error.code], [401, 'UNAUTHORIZED']);
    // Signed, with a response_url on another origin (the same server by another name): not called.
    const elsewhere = responseUrl.replace('127.0.0.1', 'localhost');
    assert.notEqual(new URL(elsewhere).origin, new URL(responseUrl).origin);
    const offOrigin = await slackClick(svc, { value: `${id}:reject`, responseUrl: elsewhere });
    assert.deepEqual([offOrigin.status, offOrigin.body.error.code], [503, 'SHUTTING_DOWN']);
    svc.clock.advance(1_000);
    const signed = await slackClick(svc, { value: `${id}:approve`, responseUrl });
    assert.deepEqual([signed.status, signed.body.error], [503, { code: 'SHUTTING_DOWN', message: 'rectify is shutting down; send this to another replica or retry', details: [] }]);
    // Nothing recorded: still pending, no vote, no decision.
    const a = svc.service.store.read((tx) => tx.getApproval(id))!;
    assert.deepEqual([a.status, a.votes.length, a.decided_by], ['pending', 0, null]);
    assert.equal(svc.service.store.queryAudit({ incident_id: 'SL-STOP', limit: 50 }).filter((e) => e.event === 'APPROVED' || e.event === 'REJECTED').length, 0);
    // The stop waits for the notice: it is delivered by the time the stop is done.
    await closing;
    assert.deepEqual(
      target.requests(undefined, 'POST').map((q) => [q.path, q.json()]),
      [
        [
          SLACK_RESPOND,
          {
            response_type: 'ephemeral',
            replace_original: false,
            text: "slack:U0ALICE (alice)'s approve was not carried out: rectify is stopping. Nothing changed: click Approve again shortly, or use the API.",
          },
        ],
      ],
    );
    assert.equal(svc.log.lines.filter((l) => l.includes('Slack click not carried out: rectify is stopping')).length, 2);
  });
});

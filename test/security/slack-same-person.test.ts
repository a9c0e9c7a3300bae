import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { postRunbook, runbooksFile } from '../helpers/runbooks.js';
import { bearer, issueToken, writeTokensFile, type IssuedToken } from '../helpers/tokens.js';
import { approvalRunbooks, SLACK_SECRET, slackClick } from './setup.js';

/**
 * Who counts as the same person across a Slack click and an API call: one Slack
 * account whatever name it acts under, a person's token against a Slack user given no
 * name, and a Slack approver's name against the token names.
 */
const ALICE = { id: 'U0ALICE', username: 'alice' };
const BOB = { id: 'U0BOB', username: 'bob' };

const restartRunbook = (base: string): string => postRunbook('restart-deployment', { trigger: 'pods_stuck', url: `${base}/restart/{deployment}` });
const runbooks = (base: string): string => approvalRunbooks(base, { ticket: true, more: [restartRunbook(base)] });

/** A signed Approve or Reject click as Slack sends it, through the app in process; Slack's answer body. */
async function click(svc: TestService, user: { id: string; username: string }, value: string): Promise<any> {
  const r = await slackClick(svc, { user, value });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** POST JSON through the app in process with `token`'s bearer; the status and the parsed body. */
const postAs = (svc: TestService, url: string, token: IssuedToken, body: unknown): Promise<{ status: number; body: any }> =>
  svc.app
    .inject({ method: 'POST', url, payload: body as object, headers: { 'content-type': 'application/json', ...bearer(token) } })
    .then((r) => ({ status: r.statusCode, body: JSON.parse(r.body) }));

/** What an unnamed Slack user's click is told on a request alice asked for. */
const UNNAMED_LIKE_ASKER =
  'slack:U0ALICE cannot be told apart from alice, who asked for this run (separation of duties): give the Slack user its rectify name in --slack-approvers (U0ALICE=<name>), or approve through the API';
/** What alice's own approval is told on a request an alert she sent joined. */
const ASKED_TOO = 'alice asked for this run too (an alert sent with that token joined the request) and cannot approve it (separation of duties): another approver must';

/** Request `id` is approved, decided by `decidedBy`, and its plan has run once: one POST to `path`. */
async function approvedAndRunOnce(svc: TestService, target: HttpTarget, id: string, decidedBy: string, path: string): Promise<void> {
  const a = svc.service.store.read((tx) => tx.getApproval(id))!;
  assert.deepEqual([a.status, a.decided_by], ['approved', decidedBy]);
  await target.waitForRequest(path);
  assert.equal(target.calls(path, 'POST'), 1);
}

const auditOf = (svc: TestService, incident: string, event: 'APPROVAL_VOTE' | 'APPROVED') =>
  svc.service.store.queryAudit({ incident_id: incident, event, limit: 5 }).map((e) => e.actor);

describe('one Slack account is one voter, whatever name --slack-approvers gives it', () => {
  let target: HttpTarget;
  let svc: TestService;
  const approval = (id: string) => svc.service.store.read((tx) => tx.getApproval(id))!;
  /** A restart on the same database with this --slack-approvers (none: not set). */
  async function restartWith(approvers?: string): Promise<void> {
    await svc.stop();
    svc = await startTestService({ dir: svc.dir, clock: svc.clock, args: ['--slack-signing-secret', SLACK_SECRET, ...(approvers ? ['--slack-approvers', approvers] : [])] });
  }

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/drop/checkout', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--slack-signing-secret', SLACK_SECRET] });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('a vote cast unnamed, then the account given a name, then renamed: its later clicks are refused (409) and nothing runs; another account makes the second vote', async () => {
    const r = await svc.post('/api/v1/incidents', { id: 'SP-1', root_cause: 'replica_lag', service: 'checkout', context: { deployment: 'checkout', ticket: 'SP-1' } });
    const id = r.body.approval_id as string;
    const votedAt = new Date(svc.clock.now()).toISOString();
    const first = await click(svc, ALICE, `${id}:approve`);
    assert.deepEqual([first.ok, first.text], [true, 'slack:U0ALICE (alice) approved (1 of 2); another person must approve too.']);

    // The advice rectify gives: name the Slack user in --slack-approvers.
    await restartWith('U0ALICE=alice,U0BOB=bob');
    const named = await click(svc, ALICE, `${id}:approve`);
    assert.deepEqual(
      [named.ok, named.code, named.text],
      [false, 'CONFLICT', `alice already approved request ${id} as slack:U0ALICE at ${votedAt}; it needs 2 distinct approvers, so another person must approve`],
    );
    // A name corrected, or given to someone else's account by mistake, later: still the same account.
    await restartWith('U0ALICE=alicia,U0BOB=bob');
    const renamed = await click(svc, ALICE, `${id}:approve`);
    assert.deepEqual([renamed.ok, renamed.code], [false, 'CONFLICT']);
    assert.deepEqual([approval(id).status, approval(id).votes.map((v) => [v.by, v.slack_user_id])], ['pending', [['slack:U0ALICE', 'U0ALICE']]]);
    assert.equal(target.calls('/drop/checkout', 'POST'), 0);
    assert.deepEqual(auditOf(svc, 'SP-1', 'APPROVAL_VOTE'), ['slack:U0ALICE']);
    assert.deepEqual(auditOf(svc, 'SP-1', 'APPROVED'), []);

    const other = await click(svc, BOB, `${id}:approve`);
    assert.equal(other.ok, true, other.text);
    await approvedAndRunOnce(svc, target, id, 'slack:U0ALICE, bob', '/drop/checkout');
  });

  it('a vote recorded before the Slack id was kept (the id only in its identity), then the account named: its click is refused (409) and nothing runs', async () => {
    await restartWith();
    const r = await svc.post('/api/v1/incidents', { id: 'SP-4', root_cause: 'replica_lag', service: 'checkout', context: { deployment: 'checkout', ticket: 'SP-4' } });
    const id = r.body.approval_id as string;
    const votedAt = svc.clock.now();
    // As an earlier release stored an unnamed click's vote: actor slack:<username>, identity slack-id:<id>, no slack_user_id.
    const old = [{ by: 'slack:alice', identity: 'slack-id:U0ALICE', at: votedAt, comment: null }];
    await svc.service.store.transact((tx) => tx.updateApproval(id, { votes: old }));
    const runs = target.calls('/drop/checkout', 'POST');

    await restartWith('U0ALICE=alice,U0BOB=bob');
    const named = await click(svc, ALICE, `${id}:approve`);
    assert.deepEqual(
      [named.ok, named.code, named.text],
      [false, 'CONFLICT', `alice already approved request ${id} as slack:alice at ${new Date(votedAt).toISOString()}; it needs 2 distinct approvers, so another person must approve`],
    );
    assert.deepEqual([approval(id).status, approval(id).votes], ['pending', old]);
    assert.deepEqual(auditOf(svc, 'SP-4', 'APPROVED'), []);
    assert.equal(target.calls('/drop/checkout', 'POST'), runs);
    // The API shows the account that cast it.
    assert.deepEqual((await svc.get(`/api/v1/approvals/${id}`)).body.votes.map((v: any) => [v.by, v.slack_user_id]), [['slack:alice', 'U0ALICE']]);
  });

  it('a vote cast under a name, then the name taken away: the unnamed account cannot be told apart from that name (403)', async () => {
    await restartWith('U0ALICE=alice,U0BOB=bob');
    const r = await svc.post('/api/v1/incidents', { id: 'SP-2', root_cause: 'replica_lag', service: 'checkout', context: { deployment: 'checkout', ticket: 'SP-2' } });
    const id = r.body.approval_id as string;
    assert.equal((await click(svc, ALICE, `${id}:approve`)).ok, true);
    await restartWith('U0ALICE');
    const again = await click(svc, ALICE, `${id}:approve`);
    assert.deepEqual([again.ok, again.code], [false, 'FORBIDDEN']);
    assert.match(again.text, /^slack:U0ALICE cannot be told apart from alice, who has approved it/);
    assert.deepEqual([approval(id).status, approval(id).votes.length], ['pending', 1]);
    assert.deepEqual(auditOf(svc, 'SP-2', 'APPROVED'), []);
  });
});

describe("a request a person's token opened: an unnamed Slack user cannot be told apart from them", () => {
  let target: HttpTarget;
  let svc: TestService;
  // A person's token may do more than send alerts (the README's advice: roles: [ingest, admin]).
  const alice = issueToken('alice', ['ingest', 'approver']);
  const am = issueToken('alertmanager', ['ingest']);
  const approval = (id: string) => svc.service.store.read((tx) => tx.getApproval(id))!;
  const post = async (url: string, token: IssuedToken, body: unknown): Promise<any> => (await postAs(svc, url, token, body)).body;

  let dir: string;
  /** An Alertmanager webhook sent with its ingest token; its one result. */
  const fromAm = async (body: unknown) => (await post('/api/v1/webhooks/alertmanager', am, body)).results[0];
  const amAlert = (service: string) => fromAm(amWebhook([{ labels: { alertname: 'pods_stuck', service, deployment: service }, fingerprint: `fp-${service}` }]));

  before(async () => {
    target = await startHttpTarget();
    for (const p of ['/undo/checkout', '/restart/cart', '/restart/shop', '/restart/web', '/undo/billing']) target.route('POST', p, { status: 200 });
    dir = mkdtempSync(join(tmpdir(), 'rectify-same-person-'));
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--tokens', writeTokensFile(dir, [alice, am]), '--slack-signing-secret', SLACK_SECRET] });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('an alert from Alertmanager (an ingest-only token): the same click approves it and the plan runs', async () => {
    const result = await fromAm(amWebhook([{ labels: { alertname: 'pods_stuck', service: 'cart', deployment: 'cart' } }]));
    assert.equal(result.action, 'approval_required');
    assert.equal(approval(result.approval_id).requested_by, 'alertmanager');
    const c = await click(svc, ALICE, `${result.approval_id}:approve`);
    assert.equal(c.ok, true, c.text);
    assert.equal(approval(result.approval_id).status, 'approved');
    await target.waitForRequest('/restart/cart');
    assert.equal(target.calls('/restart/cart', 'POST'), 1);
  });

  it('an incident posted with a person\'s token: the unnamed click is refused (403), nothing runs', async () => {
    const r = await post('/api/v1/incidents', alice, { id: 'SP-3', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: 'SP-3' } });
    assert.equal(r.action, 'approval_required', JSON.stringify(r));
    const id = r.approval_id as string;
    assert.equal(approval(id).requested_by, 'alice');
    const c = await click(svc, ALICE, `${id}:approve`);
    assert.deepEqual([c.ok, c.code, c.text], [false, 'FORBIDDEN', UNNAMED_LIKE_ASKER]);
    assert.deepEqual([approval(id).status, approval(id).votes], ['pending', []]);
    assert.equal(target.calls('/undo/checkout', 'POST'), 0);
    assert.deepEqual(auditOf(svc, 'SP-3', 'APPROVED'), []);
  });
  it("an alert sent with a person's token that joins Alertmanager's request: that person, and an unnamed Slack user, cannot approve it (403), nothing runs", async () => {
    const opened = await amAlert('shop');
    assert.equal(opened.action, 'approval_required');
    const id = opened.approval_id as string;
    assert.deepEqual(approval(id).asked_by, []);
    const joined = await post('/api/v1/incidents', alice, { id: 'SP-5', root_cause: 'pods_stuck', service: 'shop', context: { deployment: 'shop' } });
    assert.equal(joined.approval_id, id, JSON.stringify(joined));
    assert.deepEqual([approval(id).requested_by, approval(id).alerts, approval(id).asked_by], ['alertmanager', 2, ['alice']]);

    const c = await click(svc, ALICE, `${id}:approve`);
    assert.deepEqual([c.ok, c.code, c.text], [false, 'FORBIDDEN', UNNAMED_LIKE_ASKER]);
    const own = await postAs(svc, `/api/v1/approvals/${id}/approve`, alice, {});
    assert.equal(own.status, 403, JSON.stringify(own.body));
    assert.deepEqual([own.body.error.code, own.body.error.message], ['FORBIDDEN', ASKED_TOO]);
    assert.deepEqual([approval(id).status, approval(id).votes], ['pending', []]);
    assert.equal(target.calls('/restart/shop', 'POST'), 0);
    assert.deepEqual(svc.service.store.queryAudit({ event: 'APPROVED', limit: 10 }).filter((e) => (e.details as any).approval_id === id), []);
  });

  it('requests an earlier release recorded (no list of who asked): judged by who opened them; a person joining is added', async () => {
    const byAm = (await amAlert('legacy')).approval_id as string;
    const byAlice = (await post('/api/v1/incidents', alice, { id: 'SP-7', root_cause: 'error_rate_spike_after_deploy', service: 'ledger', context: { deployment: 'ledger', ticket: 'SP-7' } })).approval_id as string;
    await svc.service.store.transact((tx) => {
      for (const id of [byAm, byAlice]) tx.updateApproval(id, { asked_by: null });
    });
    const refused = await click(svc, ALICE, `${byAlice}:approve`);
    assert.deepEqual([refused.ok, refused.code], [false, 'FORBIDDEN']);
    assert.match(refused.text, /^slack:U0ALICE cannot be told apart from alice, who asked for this run /);
    assert.deepEqual([approval(byAlice).status, approval(byAlice).asked_by], ['pending', null]);

    const joined = await post('/api/v1/incidents', alice, { id: 'SP-8', root_cause: 'pods_stuck', service: 'legacy', context: { deployment: 'legacy' } });
    assert.equal(joined.approval_id, byAm, JSON.stringify(joined));
    assert.deepEqual([approval(byAm).alerts, approval(byAm).asked_by], [2, ['alice']]);
  });

  it('the tokens file reloaded between the request and the click: who asked is what it was when they asked', async () => {
    // Alertmanager's request, and one alice's token opened.
    const byAm = (await amAlert('web')).approval_id as string;
    const byAlice = (await post('/api/v1/incidents', alice, { id: 'SP-6', root_cause: 'error_rate_spike_after_deploy', service: 'billing', context: { deployment: 'billing', ticket: 'SP-6' } })).approval_id as string;
    assert.deepEqual([approval(byAm).asked_by, approval(byAlice).asked_by], [[], ['alice']]);
    // Alertmanager's token renamed, alice's narrowed to ingest alone.
    writeTokensFile(dir, [issueToken('alice', ['ingest']), issueToken('am', ['ingest'])]);
    assert.deepEqual((await svc.service.reload()).tokens, { ok: true, count: 2 });

    const refused = await click(svc, ALICE, `${byAlice}:approve`);
    assert.deepEqual([refused.ok, refused.code], [false, 'FORBIDDEN']);
    assert.match(refused.text, /^slack:U0ALICE cannot be told apart from alice, who asked for this run /);
    assert.deepEqual([approval(byAlice).status, approval(byAlice).votes], ['pending', []]);
    assert.equal(target.calls('/undo/billing', 'POST'), 0);

    const taken = await click(svc, ALICE, `${byAm}:approve`);
    assert.equal(taken.ok, true, taken.text);
    await approvedAndRunOnce(svc, target, byAm, 'slack:U0ALICE', '/restart/web');
  });
});

describe('--slack-approvers names against the API token names', () => {
  const alice = issueToken('alice', ['approver']);
  const runbooksText = runbooks('http://127.0.0.1:9');
  const warning = '--slack-approvers gives this Slack user a name no API token has: its clicks and any token caller count as different people';

  it('a name that is a token name only when case is ignored is refused at start, naming the flag and the entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-approver-names-'));
    await assert.rejects(
      startTestService({ runbooks: runbooksText, args: ['--tokens', writeTokensFile(dir, [alice]), '--slack-signing-secret', SLACK_SECRET, '--slack-approvers', 'U0BOB,U0ALICE=Alice'] }),
      {
        name: 'LoadError',
        message:
          '--slack-approvers: U0ALICE=Alice: "Alice" is the API token name "alice" only when case is ignored; names are compared exactly, so that Slack user and that token would count as two approvers: write U0ALICE=alice',
      },
    );
  });

  it('set in the config file, the refusal at start names its key there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-approver-names-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'runbooks.yaml'), runbooksText);
    writeFileSync(join(dir, 'rectify.yaml'), 'slack_approvers: U0BOB,U0ALICE=Alice\n');
    await assert.rejects(startTestService({ dir, args: ['--tokens', writeTokensFile(dir, [alice]), '--slack-signing-secret', SLACK_SECRET] }), {
      name: 'LoadError',
      message:
        'rectify.yaml: slack_approvers: U0ALICE=Alice: "Alice" is the API token name "alice" only when case is ignored; names are compared exactly, so that Slack user and that token would count as two approvers: write U0ALICE=alice',
    });
  });

  it('a name no token has is said at start, naming the Slack user and the name; an exact name is not', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-approver-names-'));
    const tokensFile = writeTokensFile(dir, [alice]);
    const svc = await startTestService({
      runbooks: runbooksText,
      args: ['--tokens', tokensFile, '--slack-signing-secret', SLACK_SECRET, '--slack-approvers', 'U0ALICE=alice,U0BOB=bob,U0CAROL'],
      captureLogs: true,
    });
    t.after(() => svc.stop({ remove: true }));
    const warned = () => svc.log.lines.filter((l) => l.includes(warning)).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      warned().map((l) => [l.level, l.slack_user, l.name]),
      [['warn', 'U0BOB', 'bob']],
    );

    // A reload that gives the token a name differing only in case is refused; the tokens in force stay.
    writeTokensFile(dir, [issueToken('Alice', ['approver'])]);
    const refused = await svc.service.reload();
    assert.deepEqual(refused.tokens, {
      ok: false,
      problems: [
        `${tokensFile}: token "Alice" differs only in case from "alice", the name --slack-approvers gives U0ALICE (U0ALICE=alice, set by --slack-approvers); names are compared exactly, so that Slack user and that token would count as two approvers: give the token its name "alice" back, or restart rectify with U0ALICE=Alice (--slack-approvers is read at start only)`,
      ],
    });
    const still = await svc.app.inject({ method: 'GET', url: '/api/v1/approvals', headers: bearer(alice) });
    assert.equal(still.statusCode, 200, 'the previous tokens are still in force');

    // A reload that leaves alice with no token is taken, and says so.
    writeTokensFile(dir, [issueToken('dave', ['approver'])]);
    assert.deepEqual((await svc.service.reload()).tokens, { ok: true, count: 1 });
    assert.deepEqual(
      warned().map((l) => [l.slack_user, l.name]),
      [
        ['U0BOB', 'bob'],
        ['U0ALICE', 'alice'],
        ['U0BOB', 'bob'],
      ],
    );
  });
});

describe('who asked for a request after approving it, or after Alertmanager asked: no approver of it', () => {
  let target: HttpTarget;
  let svc: TestService;
  const alice = issueToken('alice', ['ingest', 'approver']);
  const bob = issueToken('bob', ['ingest', 'approver']);
  const carol = issueToken('carol', ['ingest', 'approver']);
  const am = issueToken('alertmanager', ['ingest']);
  const approval = (id: string) => svc.service.store.read((tx) => tx.getApproval(id))!;
  const post = (url: string, t: IssuedToken, body: unknown) => postAs(svc, url, t, body);
  const approvedRows = (id: string) => svc.service.store.queryAudit({ event: 'APPROVED', limit: 50 }).filter((e) => (e.details as any).approval_id === id);
  const voteRows = (id: string) => svc.service.store.queryAudit({ event: 'APPROVAL_VOTE', limit: 50 }).filter((e) => (e.details as any).approval_id === id);
  const replicaLag = (service: string, alertname = 'replica_lag') => amWebhook([{ labels: { alertname, service, deployment: service }, fingerprint: `fp-${service}` }]);

  before(async () => {
    target = await startHttpTarget();
    for (const p of ['/drop/db', '/drop/cache', '/restart/x']) target.route('POST', p, { status: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'rectify-asked-after-'));
    svc = await startTestService({
      runbooks: runbooksFile(
        postRunbook('drop-replica', { trigger: 'replica_lag', approvalsRequired: 2, url: `${target.url}/drop/{deployment}` }),
        postRunbook('drop-cache-replica', { trigger: 'cache_lag', approvalsRequired: 2, url: `${target.url}/drop/{deployment}` }),
        restartRunbook(target.url),
      ),
      args: ['--tokens', writeTokensFile(dir, [alice, bob, carol, am]), '--slack-signing-secret', SLACK_SECRET, '--slack-approvers', 'U0ALICE,U0BOB=bob'],
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });

  it('a vote, then an alert the voter sent joins the request: that vote no longer counts, the next approval is a first vote, a third person runs it once', async () => {
    const opened = (await post('/api/v1/webhooks/alertmanager', am, replicaLag('db'))).body.results[0];
    const id = opened.approval_id as string;
    assert.deepEqual([opened.action, approval(id).asked_by], ['approval_required', []]);
    assert.equal((await post(`/api/v1/approvals/${id}/approve`, alice, {})).status, 202);
    const joined = await post('/api/v1/incidents', alice, { id: 'AA-1', root_cause: 'replica_lag', service: 'db', context: { deployment: 'db' } });
    assert.equal(joined.body.approval_id, id, JSON.stringify(joined.body));
    assert.deepEqual(approval(id).asked_by, ['alice']);

    const second = await post(`/api/v1/approvals/${id}/approve`, bob, {});
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.deepEqual([approval(id).status, approval(id).votes.map((v) => v.by)], ['pending', ['bob']]);
    assert.equal(target.calls('/drop/db', 'POST'), 0);
    assert.deepEqual(approvedRows(id), []);
    const vote = voteRows(id).find((e) => e.actor === 'bob')!;
    assert.deepEqual((vote.details as any).votes, 1);
    assert.deepEqual(
      (vote.details as any).votes_not_counted.map((v: any) => [v.by, v.reason]),
      [['alice', 'alice asked for this run after approving it (an alert sent with that token joined the request), so that vote no longer counts']],
    );

    const third = await post(`/api/v1/approvals/${id}/approve`, carol, {});
    assert.equal(third.status, 200, JSON.stringify(third.body));
    await approvedAndRunOnce(svc, target, id, 'bob, carol', '/drop/db');
    assert.equal(approvedRows(id).length, 1);
  });

  it('an unnamed Slack vote, then a person\'s alert joins: that vote no longer counts (it may be that person\'s), the named Slack approver after it is a first vote', async () => {
    const o = (await post('/api/v1/webhooks/alertmanager', am, replicaLag('cache', 'cache_lag'))).body.results[0];
    assert.equal(o.action, 'approval_required', JSON.stringify(o));
    const id = o.approval_id as string;
    const first = await click(svc, ALICE, `${id}:approve`);
    assert.equal(first.ok, true, first.text);
    assert.deepEqual(approval(id).votes.map((v) => v.by), ['slack:U0ALICE']);
    const joined = await post('/api/v1/incidents', alice, { id: 'AA-2', root_cause: 'cache_lag', service: 'cache', context: { deployment: 'cache' } });
    assert.equal(joined.body.approval_id, id, JSON.stringify(joined.body));

    const second = await click(svc, BOB, `${id}:approve`);
    assert.deepEqual(
      [second.ok, second.text],
      [
        true,
        'bob approved (1 of 2); slack:U0ALICE, a Slack user given no rectify name, cannot be told apart from alice, who asked for this run after that vote, so it no longer counts; another person must approve too.',
      ],
    );
    assert.deepEqual([approval(id).status, approval(id).votes.map((v) => v.by)], ['pending', ['bob']]);
    assert.equal(target.calls('/drop/cache', 'POST'), 0);
    assert.deepEqual(approvedRows(id), []);

    const third = await post(`/api/v1/approvals/${id}/approve`, carol, {});
    assert.equal(third.status, 200, JSON.stringify(third.body));
    await approvedAndRunOnce(svc, target, id, 'bob, carol', '/drop/cache');
  });

  it("Alertmanager's alert sent again with a person's token: a duplicate that adds that person to who asked; their approval is refused, nothing runs", async () => {
    const body = amWebhook([{ labels: { alertname: 'pods_stuck', service: 'x', deployment: 'x' }, fingerprint: 'fp-x' }]);
    const opened = (await post('/api/v1/webhooks/alertmanager', am, body)).body.results[0];
    const id = opened.approval_id as string;
    // Alertmanager repeating it adds no one.
    assert.equal((await post('/api/v1/webhooks/alertmanager', am, body)).body.results[0].action, 'duplicate');
    assert.deepEqual(approval(id).asked_by, []);
    const dup = (await post('/api/v1/webhooks/alertmanager', alice, body)).body.results[0];
    assert.deepEqual([dup.action, dup.approval_id], ['duplicate', id]);
    assert.deepEqual(approval(id).asked_by, ['alice']);
    assert.equal((await post('/api/v1/webhooks/alertmanager', alice, body)).body.results[0].action, 'duplicate');
    assert.deepEqual(approval(id).asked_by, ['alice']);

    const own = await post(`/api/v1/approvals/${id}/approve`, alice, {});
    assert.deepEqual([own.status, own.body.error.code, own.body.error.message], [403, 'FORBIDDEN', ASKED_TOO]);
    assert.deepEqual([approval(id).status, approval(id).votes], ['pending', []]);
    assert.equal(target.calls('/restart/x', 'POST'), 0);
    assert.deepEqual(approvedRows(id), []);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNotifyQueue, createSlackNotifier, createWebhookNotifier, HELD_BACK, NOT_TRIED, receiverName, SETTLED_MEANWHILE, TRIED_AGAIN_LATER, type NotificationEvent, type NotifyOutcome } from '../../src/notify/index.js';
import { unsettledPage, withoutShowing } from '../../src/engine/resend.js';
import type { ToldRow } from '../../src/store/ports.js';
import { createTestLogger } from '../../src/observability/index.js';
import { holdFirstCall, sequence, startHttpTarget, startTricklingServer, type HttpTarget } from '../helpers/http-target.js';
import { notification, receiver } from './events.js';
import { RETRY_AFTER_READ_MAX_MS, retryAfterMs, retryLaterDetail } from '../../src/notify/webhook.js';

/**
 * The notification queue against real local receivers: each notifier drains its own
 * lane, approval requests go first, a receiver that refuses for good is not retried,
 * and what is left at shutdown is recorded, not lost.
 */
const ev = notification;
type Outcome = NotifyOutcome;

describe('notification queue', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());
  const received = (path: string) => target.requests(path, 'POST').map((r) => (r.json() as { incident_id: string }).incident_id);
  /** A queue telling a webhook at each of `paths` on the target, what it records kept in order. */
  const queueTo = (paths: string[], opts: Partial<Parameters<typeof createNotifyQueue>[0]> = {}) => {
    const recorded: Outcome[] = [];
    const q = createNotifyQueue({
      notifiers: paths.map((path) => createWebhookNotifier(`${target.url}${path}`, undefined, receiver)),
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      ...opts,
    });
    return { q, recorded };
  };

  it('a receiver that hangs holds up only itself', async () => {
    target.reset();
    target.route('POST', '/ok', { status: 204 });
    target.route('POST', '/hang', { status: 204, delayMs: 60_000 });
    const { q, recorded } = queueTo(['/hang', '/ok'], { attempts: 3, attemptTimeoutMs: 400, backoffMs: 10 });
    for (let i = 1; i <= 5; i++) q.notify(ev(`e${i}`, 'FAILED', 'failed'));
    for (let i = 0; i < 400 && received('/ok').length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(received('/ok'), ['e1', 'e2', 'e3', 'e4', 'e5']);
    // The target has the fifth; its answer is recorded a moment later. Closing before that
    // would cut the healthy lane's last delivery short and count it among the hung lane's.
    for (let i = 0; i < 400 && recorded.filter((o) => o.ok).length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    // Each event costs the hung lane three timed-out attempts (1.2 s): it is still on its first.
    assert.ok(recorded.filter((o) => !o.ok).length <= 1, `hung lane records: ${recorded.filter((o) => !o.ok).length}`);
    await q.close();
    const hung = recorded.filter((o) => o.notifier.startsWith('webhook') && !o.ok);
    assert.equal(hung.length, 5, 'every event the hung receiver never got is recorded as not delivered');
    assert.deepEqual(hung.slice(1).map((o) => [o.attempts, o.detail]), Array(4).fill([0, 'not sent: rectify shut down first']));
  });

  it('a receiver that accepts the connection and never answers: after one delivery spends its attempts, what waits behind it is passed over to its later rounds at once, and each later round probes it with one attempt until it answers; a healthy receiver is told everything, in order', async () => {
    // A real HTTP server that reads each request and answers nothing, until told to.
    let answering = false;
    let open = 0;
    let mostOpen = 0;
    const hung: Array<{ id: string; res: ServerResponse }> = [];
    const server = createServer((req, res) => {
      if (answering) {
        res.statusCode = 204;
        res.end();
        return;
      }
      open++;
      mostOpen = Math.max(mostOpen, open);
      hung.push({ id: String(req.headers['idempotency-key']), res });
      res.on('close', () => open--);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const hangUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    target.reset();
    target.route('POST', '/ok', { status: 204 });
    const recorded: Outcome[] = [];
    const hangs = createWebhookNotifier(hangUrl, undefined, receiver);
    const q = createNotifyQueue({
      notifiers: [hangs, createWebhookNotifier(`${target.url}/ok`, undefined, receiver)],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      attempts: 3,
      attemptTimeoutMs: 150,
      backoffMs: 5,
      approvalRetryMs: 100,
    });
    const ids = ['a1', 'a2', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
    for (const id of ids) q.notify(id.startsWith('a') ? { ...ev(id, 'APPROVAL_REQUIRED', 'approval_required'), approval_id: `apr_${id}` } : ev(id, 'FAILED', 'failed'));
    q.notify(ev('b1', 'RATE_LIMITED', 'blocked'));
    const of = (name: string) => recorded.filter((o) => o.notifier === name);
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 1_000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(() => of(hangs.name).length >= 9);
    // The first spends its 3 attempts; the 8 behind it are recorded at once, none tried.
    const timedOut = 'delivery unknown (timed out)';
    assert.deepEqual(
      of(hangs.name).slice(0, 9).map((o) => [o.event.incident_id, o.attempts, o.detail]),
      [
        ['a1', 3, `${timedOut}${TRIED_AGAIN_LATER}`],
        ...ids.slice(1).map((id) => [id, 0, `${NOT_TRIED} (${timedOut})${TRIED_AGAIN_LATER}`]),
        // A storm's decision has no later rounds: given up.
        ['b1', 0, `${NOT_TRIED} (${timedOut})`],
      ],
    );
    const a1Id = of(hangs.name)[0]!.event.notification_id;
    assert.ok(hung.length <= 3 && hung.every((h) => h.id === a1Id), `the receiver got the first one's attempts only: ${hung.map((h) => h.id).join(', ')}`);
    // The healthy receiver was told everything, in order, meanwhile.
    assert.deepEqual(received('/ok'), [...ids, 'b1']);
    // The later rounds: one probe at a time, one attempt each, the rest passed over again.
    await until(() => recorded.filter((o) => o.notifier === hangs.name && o.event.incident_id === 'a1').length >= 3);
    assert.equal(mostOpen, 1, 'never two deliveries to it at once');
    const laterRounds = of(hangs.name).filter((o) => o.detail.endsWith(TRIED_AGAIN_LATER)).length - 8;
    const probes = of(hangs.name).filter((o) => o.attempts > 0).length - 1;
    assert.ok(probes >= 1 && probes < laterRounds, `one probe for several later rounds: ${probes} probes, ${laterRounds} later rounds`);
    assert.ok(of(hangs.name).filter((o) => o.attempts > 0).slice(1).every((o) => o.attempts === 1), 'a probe is one attempt');
    // It answers again: each is delivered on its next round, once; the storm decision is not.
    answering = true;
    await until(() => of(hangs.name).filter((o) => o.ok).length >= ids.length);
    await q.drain();
    const delivered = of(hangs.name).filter((o) => o.ok).map((o) => o.event.incident_id);
    assert.deepEqual([...delivered].sort(), ids);
    for (const id of ids) {
      const rounds = of(hangs.name).filter((o) => o.event.incident_id === id);
      assert.ok(rounds.slice(0, -1).every((o) => !o.ok && o.detail.endsWith(TRIED_AGAIN_LATER)), id);
      assert.ok(rounds.at(-1)!.ok, id);
    }
    await q.close();
    for (const h of hung) h.res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('approval requests go before everything else waiting', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/hook');
    const { q } = queueTo(['/hook']);
    q.notify(ev('first', 'FAILED', 'failed'));
    await target.waitForRequest('/hook', { since: 0 });
    q.notify(ev('o1', 'SUCCESS', 'succeeded'));
    q.notify(ev('o2', 'RATE_LIMITED', 'blocked'));
    q.notify(ev('a1', 'APPROVAL_REQUIRED', 'approval_required'));
    q.notify(ev('a2', 'APPROVAL_REQUIRED', 'approval_required'));
    release();
    await q.drain();
    assert.deepEqual(received('/hook'), ['first', 'a1', 'a2', 'o1', 'o2']);
    await q.close();
  });

  it('a permanent refusal (404) is recorded at once; a passing one (503) is retried', async () => {
    target.reset();
    target.route('POST', '/gone', { status: 404 });
    target.route('POST', '/busy', { status: 503 });
    const { q, recorded } = queueTo(['/gone', '/busy'], { backoffMs: 5 });
    q.notify(ev('x', 'FAILED', 'failed'));
    await q.drain();
    assert.equal(target.calls('/gone', 'POST'), 1);
    assert.equal(target.calls('/busy', 'POST'), 3);
    assert.deepEqual(
      recorded.map((o) => [o.ok, o.attempts, o.detail]).sort(),
      [
        [false, 1, 'answered 404'],
        // An outcome: queued again for a later round (see below).
        [false, 3, 'answered 503 (tried again later)'],
      ],
    );
    await q.close();
  });

  it("a receiver that answers 429 or 503 with Retry-After is given that long before the retry (capped), not the short backoff", async () => {
    target.reset();
    target.route('POST', '/limited', sequence([{ status: 429, headers: { 'retry-after': '1' } }, { status: 204 }]));
    target.route('POST', '/busy', sequence([{ status: 503, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } }, { status: 204 }]));
    target.route('POST', '/hour', { status: 429, headers: { 'retry-after': '3600' } });
    // An hour (or a minute) asked for is cut to maxRetryAfterMs.
    const { q, recorded } = queueTo(['/limited', '/busy', '/hour'], { backoffMs: 5, maxRetryAfterMs: 1_200 });
    q.notify(ev('f1', 'FAILED', 'failed'));
    await q.drain();
    const at = (path: string) => target.requests(path, 'POST').map((r) => r.at);
    const [first, second] = at('/limited');
    assert.equal(at('/limited').length, 2);
    assert.ok(second! - first! >= 1_000, `retried ${second! - first!} ms after a 429 asking for 1 s`);
    const [b1, b2] = at('/busy');
    assert.ok(b2! - b1! >= 1_200, `retried ${b2! - b1!} ms after a 503 asking for a minute (capped at 1.2 s)`);
    const hour = at('/hour');
    assert.equal(hour.length, 3);
    assert.ok(hour[2]! - hour[1]! >= 1_200);
    const byNotifier = (host: string) => recorded.filter((o) => o.notifier === receiverName('webhook', `${target.url}/${host}`, receiver.receiverKey)).map((o) => [o.ok, o.attempts, o.detail]);
    assert.deepEqual(byNotifier('limited'), [[true, 2, 'delivered']]);
    assert.deepEqual(byNotifier('busy'), [[true, 2, 'delivered']]);
    // The detail names the wait kept (the cap), and what was asked.
    assert.deepEqual(byNotifier('hour'), [[false, 3, 'answered 429 (retry after 2 s, the most waited: it asked for 3600 s) (tried again later)']]);
    // What is read of an absurd Retry-After is at most a day, and said so.
    assert.equal(retryAfterMs('9'.repeat(400), 0), RETRY_AFTER_READ_MAX_MS);
    assert.equal(retryAfterMs('99999999999999999999999', 0), RETRY_AFTER_READ_MAX_MS);
    assert.equal(retryLaterDetail('answered 429', 60_000, retryAfterMs('9'.repeat(400), 0)!), 'answered 429 (retry after 60 s, the most waited: it asked for a day or more)');
    await q.close();
  });

  it("a redirect (3xx) is a refusal: not followed, not retried, no later round, the receiver not taken for failing; the detail names only the origin it points to, never its path or query", async () => {
    target.reset();
    target.route('POST', '/moved', { status: 301, headers: { location: 'https://user:pw@hooks.example.com:8443/new/T0KEN?key=SECRET' } });
    target.route('POST', '/temp', { status: 307, headers: { location: '/elsewhere?token=SECRET' } });
    target.route('POST', '/bare', { status: 302 });
    target.route('POST', '/elsewhere', { status: 204 });
    const { q, recorded } = queueTo(['/moved', '/temp', '/bare'], { backoffMs: 5, approvalRetryMs: 20 });
    // An approval request: a passing failure would give it later rounds.
    q.notify({ ...ev('a1', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_1' });
    await q.drain();
    q.notify(ev('f1', 'FAILED', 'failed'));
    await q.drain();
    await new Promise((r) => setTimeout(r, 100));
    await q.drain();
    assert.deepEqual([target.calls('/moved', 'POST'), target.calls('/temp', 'POST'), target.calls('/bare', 'POST'), target.calls('/elsewhere', 'POST')], [2, 2, 2, 0]);
    const details = (path: string) => recorded.filter((o) => o.notifier === receiverName('webhook', `${target.url}${path}`, receiver.receiverKey)).map((o) => [o.event.incident_id, o.ok, o.attempts, o.detail]);
    const moved = "answered 301: redirects to https://hooks.example.com:8443 (not followed: set the receiver's URL to where it redirects)";
    const temp = `answered 307: redirects to another path on ${target.url} (not followed: set the receiver's URL to where it redirects)`;
    const bare = "answered 302: a redirect without a Location (not followed: check the receiver's URL)";
    // Each tried once, given up at once: no later round for the request, as for a 4xx.
    assert.deepEqual(details('/moved'), [['a1', false, 1, moved], ['f1', false, 1, moved]]);
    assert.deepEqual(details('/temp'), [['a1', false, 1, temp], ['f1', false, 1, temp]]);
    assert.deepEqual(details('/bare'), [['a1', false, 1, bare], ['f1', false, 1, bare]]);
    assert.ok(recorded.every((o) => !o.detail.includes('SECRET') && !o.detail.includes('T0KEN') && !o.detail.includes('pw')));
    await q.close();
  });

  it('a receiver that answers 2xx at once and trickles its body holds its queue for the discard wait at most, not the attempt timeout', async (t) => {
    const { base, closed } = await startTricklingServer(t, () => 200);
    const recorded: Outcome[] = [];
    const q = createNotifyQueue({
      notifiers: [createWebhookNotifier(`${base}/hook`, undefined, receiver)],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      attemptTimeoutMs: 8_000,
    });
    const started = Date.now();
    q.notify(ev('f1', 'FAILED', 'failed'));
    q.notify(ev('f2', 'FAILED', 'failed'));
    await q.drain();
    const took = Date.now() - started;
    assert.deepEqual(
      recorded.map((o) => [o.event.incident_id, o.ok, o.attempts, o.detail]),
      [
        ['f1', true, 1, 'delivered'],
        ['f2', true, 1, 'delivered'],
      ],
    );
    // Two bodies cut off after their discard wait (1 s each), not after the 8 s timeout each.
    assert.ok(took < 8_000, `took ${took} ms`);
    for (let i = 0; i < 200 && closed() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closed(), 2, 'each trickling connection closed');
    await q.close();
  });

  it('a failing receiver that asked with Retry-After to be left alone is not probed before then: not once per new notification', async () => {
    target.reset();
    target.route('POST', '/limited', sequence([{ status: 429, headers: { 'retry-after': '1' } }, { status: 204 }]));
    // One attempt: the first delivery fails at once and the receiver is marked failing.
    const { q, recorded } = queueTo(['/limited'], { attempts: 1, backoffMs: 5 });
    q.notify(ev('b1', 'RATE_LIMITED', 'blocked'));
    await q.drain();
    assert.equal(target.calls('/limited', 'POST'), 1);
    // New notifications while the second asked for has not passed: no probe yet.
    q.notify(ev('b2', 'RATE_LIMITED', 'blocked'));
    await new Promise((r) => setTimeout(r, 150));
    q.notify(ev('b3', 'RATE_LIMITED', 'blocked'));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(target.calls('/limited', 'POST'), 1, 'no probe before the Retry-After is up');
    // Once it is up, the probe goes, is answered, and what waited behind it is told.
    await q.drain();
    const at = target.requests('/limited', 'POST').map((r) => r.at);
    assert.equal(at.length, 3);
    assert.ok(at[1]! - at[0]! >= 1_000, `probed ${at[1]! - at[0]!} ms after a 429 asking for 1 s`);
    assert.deepEqual(
      recorded.map((o) => [o.event.incident_id, o.ok, o.attempts]),
      [
        ['b1', false, 1],
        ['b2', true, 1],
        ['b3', true, 1],
      ],
    );
    await q.close();
  });

  it('an approval request or an outcome whose attempts fail while the receiver is down is queued again in rounds, not given up; a storm decision is given up as before', async () => {
    target.reset();
    // Down for the first round (3 attempts), back for the second.
    target.route('POST', '/down', sequence([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 204 }]));
    target.route('POST', '/gone', { status: 503 });
    const { q, recorded } = queueTo(['/down', '/gone'], { backoffMs: 5, approvalRetryMs: 20, approvalRounds: 2 });
    q.notify(ev('a1', 'APPROVAL_REQUIRED', 'approval_required'));
    q.notify({ ...ev('f1', 'FAILED', 'failed'), notification_id: 'ntf_f1' });
    q.notify(ev('b1', 'RATE_LIMITED', 'blocked'));
    const of = (path: string) => recorded.filter((o) => o.notifier === receiverName('webhook', `${target.url}/${path}`, receiver.receiverKey));
    for (let i = 0; i < 500 && (of('down').length < 5 || of('gone').length < 7); i++) await new Promise((r) => setTimeout(r, 10));
    await q.drain();
    const rows = (path: string) => of(path).map((o) => [o.event.incident_id, o.ok, o.attempts, o.detail]);
    const passed = `${NOT_TRIED} (answered 503)`;
    // The request's first round fails; what waited behind it is passed over, not tried in
    // full in turn: the outcome to its next round, the blocked decision given up.
    const down = rows('down');
    assert.deepEqual(down.slice(0, 3), [
      ['a1', false, 3, 'answered 503 (tried again later)'],
      ['f1', false, 0, `${passed} (tried again later)`],
      ['b1', false, 0, passed],
    ]);
    // The receiver is back for their next rounds (the first a probe of one attempt).
    assert.deepEqual(down.slice(3).sort(), [
      ['a1', true, 1, 'delivered'],
      ['f1', true, 1, 'delivered'],
    ]);
    // A receiver that stays down: two rounds each for the request and the outcome, then the
    // third and last is given up, whether tried (a probe) or passed over behind one; the
    // blocked decision is given up with the first round.
    const gone = (id: string) => rows('gone').filter((r) => r[0] === id);
    for (const id of ['a1', 'f1']) {
      assert.deepEqual(
        gone(id).map((r) => String(r[3]).endsWith(TRIED_AGAIN_LATER)),
        [true, true, false],
        id,
      );
    }
    assert.deepEqual(gone('a1')[0], ['a1', false, 3, 'answered 503 (tried again later)']);
    assert.deepEqual(gone('b1'), [['b1', false, 0, passed]]);
    // Three attempts for the first round, one probe at most per later round and notification.
    assert.ok(target.calls('/gone', 'POST') <= 3 + 4, `calls: ${target.calls('/gone', 'POST')}`);
    const ids = new Set(target.requests('/down', 'POST').map((r) => r.headers['idempotency-key']));
    assert.equal(ids.size, 2, 'each round carries the same notification_id');
    await q.close();
  });

  it('an approval request waiting for its next round is not told once its settlement is', async () => {
    target.reset();
    target.route('POST', '/hook', sequence([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 204 }]));
    const { q, recorded } = queueTo(['/hook'], { backoffMs: 5, approvalRetryMs: 300 });
    q.notify({ ...ev('a1', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_1' });
    await q.drain();
    q.notify({ ...ev('a1', 'APPROVED', 'approved'), approval_id: 'apr_1' });
    await q.drain();
    // Past the time its next round would have come.
    await new Promise((r) => setTimeout(r, 700));
    await q.drain();
    assert.deepEqual(
      recorded.map((o) => [o.event.event, o.ok, o.detail]),
      [
        ['APPROVAL_REQUIRED', false, 'answered 503 (tried again later)'],
        ['APPROVED', true, 'delivered'],
      ],
    );
    await q.close();
    assert.equal(target.calls('/hook', 'POST'), 4);
  });

  /** Waits (10 ms steps, 5 s at most) until `ok` holds. */
  const until = async (ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), 'reached in time');
  };
  const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** The event each request to a path carried, in the order they came. */
  const eventsAt = (path: string) => target.requests(path, 'POST').map((r) => (r.json() as { event: string }).event);

  it('an approval request being delivered when its settlement is told is not tried again after it, nor given a later round', async () => {
    target.reset();
    // The request's first attempt is held until released, then every attempt of it fails.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    target.route('POST', '/hook', async (req) => {
      const { event } = req.json() as { event: string };
      if (event !== 'APPROVAL_REQUIRED') return { status: 204 };
      if (target.requests('/hook', 'POST').filter((r) => (r.json() as { event: string }).event === event).length === 1) await released;
      return { status: 503 };
    });
    const { q, recorded } = queueTo(['/hook'], { backoffMs: 5, approvalRetryMs: 20, attemptTimeoutMs: 10_000 });
    q.notify({ ...ev('a1', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_1' });
    await until(() => target.calls('/hook', 'POST') === 1);
    q.notify({ ...ev('a1', 'APPROVED', 'approved'), approval_id: 'apr_1' });
    release();
    await until(() => recorded.some((o) => o.ok));
    // Past the times its next rounds would have come (20, 40, 80 ms on).
    await sleepMs(400);
    await q.drain();
    assert.deepEqual(eventsAt('/hook'), ['APPROVAL_REQUIRED', 'APPROVED']);
    assert.deepEqual(
      recorded.map((o) => [o.event.event, o.ok, o.attempts, o.detail]),
      [['APPROVAL_REQUIRED', false, 1, `answered 503${SETTLED_MEANWHILE}`], ['APPROVED', true, 1, 'delivered']],
    );
    await q.close();
  });

  it('an approval request whose probe waits for Retry-After and is settled meanwhile is dropped untried: no probe, so what waits behind it is not passed over; the next one is the probe', async () => {
    target.reset();
    // The first delivery is refused with Retry-After 2 s (the receiver marked failing); the rest answered.
    target.route('POST', '/limited', () => (target.calls('/limited', 'POST') === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 204 }));
    const { q, recorded } = queueTo(['/limited'], { attempts: 1, backoffMs: 5, approvalRetryMs: 50 });
    q.notify({ ...ev('a1', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_1' });
    await until(() => recorded.length === 1);
    // Its second round came due 50 ms on and waits out the 2 s asked for: a person's
    // decision (no later rounds) and the settlement are queued behind it meanwhile.
    await sleepMs(300);
    q.notify(ev('m1', 'RATE_LIMITED', 'blocked'));
    q.notify({ ...ev('a1', 'APPROVED', 'approved'), approval_id: 'apr_1' });
    await until(() => recorded.length >= 3);
    await q.drain();
    assert.deepEqual(eventsAt('/limited'), ['APPROVAL_REQUIRED', 'RATE_LIMITED', 'APPROVED']);
    assert.deepEqual(
      recorded.map((o) => [o.event.event, o.ok, o.attempts, o.detail]),
      [
        ['APPROVAL_REQUIRED', false, 1, `answered 429 (retry after 2 s)${TRIED_AGAIN_LATER}`],
        ['RATE_LIMITED', true, 1, 'delivered'],
        ['APPROVED', true, 1, 'delivered'],
      ],
    );
    await q.close();
  });

  it('an approval request told again after a restart waits for its next round, reckoned from the last it spent, as a read back does: a restart does not spend a round at once; one whose round is due goes at once', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    // Rounds 3 s apart: long enough that a2 and b1 are sent before a1 comes due even on a loaded machine.
    const { q, recorded } = queueTo(['/hook'], { approvalRetryMs: 3_000 });
    const name = receiverName('webhook', `${target.url}/hook`, receiver.receiverKey);
    // a1 spent a round just now (its next 3 s on); a2 spent one 10 minutes ago (due).
    q.resend({ ...ev('a1', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_1', notification_id: 'ntf_a1' }, [name], new Map([[name, { rounds: 1, lastRoundAt: Date.now(), givenUp: true }]]));
    q.resend({ ...ev('a2', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_2', notification_id: 'ntf_a2' }, [name], new Map([[name, { rounds: 1, lastRoundAt: Date.now() - 600_000, givenUp: true }]]));
    q.notify(ev('b1', 'RATE_LIMITED', 'blocked'));
    await until(() => recorded.length === 3);
    await q.drain();
    assert.deepEqual(target.requests('/hook', 'POST').map((r) => (r.json() as { incident_id: string }).incident_id), ['a2', 'b1', 'a1']);
    assert.deepEqual(
      recorded.map((o) => [o.event.incident_id, o.ok, o.attempts, o.detail]),
      [
        ['a2', true, 1, 'delivered'],
        ['b1', true, 1, 'delivered'],
        ['a1', true, 1, 'delivered'],
      ],
    );
    await q.close();
  });

  it('an approval request queued for its next round behind a delivery held by its receiver is not sent once its settlement is told: its round count does not start again', async () => {
    target.reset();
    // The request always fails; the outcome's first delivery is held until released.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    target.route('POST', '/hook', async (req) => {
      const { event } = req.json() as { event: string };
      if (event === 'APPROVAL_REQUIRED') return { status: 503 };
      if (event === 'FAILED') await released;
      return { status: 204 };
    });
    const { q, recorded } = queueTo(['/hook'], { backoffMs: 5, approvalRetryMs: 50, attemptTimeoutMs: 10_000 });
    q.notify({ ...ev('a2', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_2' });
    await until(() => recorded.length === 1);
    // The receiver failed the request's first round: the outcome is a probe, held.
    q.notify(ev('f2', 'FAILED', 'failed'));
    await until(() => eventsAt('/hook').includes('FAILED'));
    // Past the request's next round (50 ms): queued again, behind the probe.
    await sleepMs(300);
    q.notify({ ...ev('a2', 'APPROVED', 'approved'), approval_id: 'apr_2' });
    release();
    await until(() => recorded.filter((o) => o.ok).length === 2);
    await sleepMs(400);
    await q.drain();
    assert.deepEqual(eventsAt('/hook'), ['APPROVAL_REQUIRED', 'APPROVAL_REQUIRED', 'APPROVAL_REQUIRED', 'FAILED', 'APPROVED']);
    assert.deepEqual(
      recorded.map((o) => [o.event.event, o.ok, o.attempts, o.detail]),
      [
        ['APPROVAL_REQUIRED', false, 3, `answered 503${TRIED_AGAIN_LATER}`],
        ['FAILED', true, 1, 'delivered'],
        ['APPROVED', true, 1, 'delivered'],
      ],
    );
    await q.close();
  });

  it("an approval request waiting for its next round in Slack is not posted again once a Slack click's answer shows its settlement (no message of its own to Slack), nor to the webhook after the webhook's settlement", async () => {
    target.reset();
    target.route('POST', '/slack', { status: 503 });
    target.route('POST', '/hook', { status: 204 });
    const recorded: Outcome[] = [];
    const q = createNotifyQueue({
      notifiers: [createSlackNotifier(`${target.url}/slack`, undefined, { ...receiver, buttons: true }), createWebhookNotifier(`${target.url}/hook`, undefined, receiver)],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      backoffMs: 5,
      approvalRetryMs: 300,
    });
    q.notify({ ...ev('a3', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_3' });
    await q.drain();
    assert.equal(target.calls('/slack', 'POST'), 3);
    // Decided by a click in Slack: the click's answer shows it there, the webhook is told it.
    q.notify({ ...ev('a3', 'REJECTED', 'rejected'), approval_id: 'apr_3', shown_in_slack: true });
    await q.drain();
    // Past the time the request's next round in Slack would have come.
    await sleepMs(700);
    await q.drain();
    assert.equal(target.calls('/slack', 'POST'), 3, 'the request is not posted to Slack again');
    assert.deepEqual(eventsAt('/hook'), ['APPROVAL_REQUIRED', 'REJECTED']);
    const of = (kind: string) => recorded.filter((o) => o.notifier.startsWith(`${kind} `)).map((o) => [o.event.event, o.ok, o.detail]);
    assert.deepEqual(of('slack'), [['APPROVAL_REQUIRED', false, `answered 503${TRIED_AGAIN_LATER}`]]);
    assert.deepEqual(of('webhook'), [
      ['APPROVAL_REQUIRED', true, 'delivered'],
      ['REJECTED', true, 'delivered'],
    ]);
    await q.close();
  });

  it('an outcome refused for good (4xx) is given up at once, not tried again later; past maxQueued outcomes waiting for a later round, one is given up', async () => {
    target.reset();
    target.route('POST', '/gone', { status: 410 });
    target.route('POST', '/down', { status: 503 });
    const { q, recorded } = queueTo(['/gone', '/down'], { backoffMs: 1, approvalRetryMs: 60_000, maxQueued: 2 });
    for (const id of ['f1', 'f2', 'f3']) q.notify({ ...ev(id, 'FAILED', 'failed'), notification_id: `ntf_${id}` });
    await q.drain();
    const of = (path: string) =>
      recorded.filter((o) => o.notifier === receiverName('webhook', `${target.url}/${path}`, receiver.receiverKey)).map((o) => [o.event.incident_id, o.attempts, o.detail]);
    assert.deepEqual(of('gone'), [
      ['f1', 1, 'answered 410'],
      ['f2', 1, 'answered 410'],
      ['f3', 1, 'answered 410'],
    ]);
    // Two wait for their next round (held in memory, at most maxQueued); the third is given
    // up. The second and third were passed over behind the first's failure, not tried.
    assert.deepEqual(of('down'), [
      ['f1', 3, 'answered 503 (tried again later)'],
      ['f2', 0, `${NOT_TRIED} (answered 503) (tried again later)`],
      ['f3', 0, `${NOT_TRIED} (answered 503)`],
    ]);
    assert.equal(target.calls('/down', 'POST'), 3);
    await q.close();
  });

  it('with the audit log to read from, an outcome past the bound of later rounds is held back, read back on its round\'s schedule with the rounds it spent, and given up after the last', async () => {
    target.reset();
    target.route('POST', '/down', { status: 503 });
    // The rows' clock, as the store's: a read-back round's schedule is reckoned with it.
    let clock = 1_000_000;
    const recorded: Array<Outcome & { at: number }> = [];
    // The audit rows of the outcomes, as the store keeps them: read back by unsettledFor.
    const rows: Array<{ seq: number; event: NotificationEvent & { notification_id: string } }> = [];
    const q = createNotifyQueue({
      notifiers: [createWebhookNotifier(`${target.url}/down`, undefined, receiver)],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push({ ...o, at: clock }),
      now: () => clock,
      backoffMs: 1,
      // Real time for a round waiting in memory; the rows' clock for one read back.
      approvalRetryMs: 50,
      approvalRounds: 2,
      maxQueued: 1,
      unsettled(name, after, limit) {
        const page = rows.filter((r) => r.event.at > after.at || (r.event.at === after.at && r.seq > after.seq)).slice(0, limit);
        const told = page.map((r): ToldRow => ({
          seq: r.seq, at: r.event.at, event: r.event.event, incident_id: r.event.incident_id, runbook: r.event.runbook, execution_id: null,
          details: { notification_id: r.event.notification_id, told: { to: [name], outcome: r.event.outcome, reason: r.event.reason, service: r.event.service, approval_id: null } },
          deliveries: recorded.filter((o) => o.event.notification_id === r.event.notification_id).map((o) => ({ ok: o.ok, notifier: o.notifier, detail: o.detail, at: o.at })),
        }));
        return unsettledPage(told, name, after, limit);
      },
    });
    for (const [i, id] of ['f1', 'f2'].entries()) {
      const event = { ...ev(id, 'FAILED', 'failed'), at: clock - 10 + i, notification_id: `ntf_${id}` };
      rows.push({ seq: i + 1, event });
      q.notify(event);
    }
    const of = (id: string) => recorded.filter((o) => o.event.incident_id === id).map((o) => [o.attempts, o.detail]);
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    // f1 waits for its next rounds in memory (50 ms, then 100 ms); f2, passed over behind it
    // and past the bound, is held back: not read back before its next round is due on the
    // rows' clock, however long the queue has had room.
    await until(() => of('f1').length === 3);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(of('f1'), [
      [3, 'answered 503 (tried again later)'],
      [1, 'answered 503 (tried again later)'],
      [1, 'answered 503'],
    ]);
    assert.deepEqual(of('f2'), [[0, `${NOT_TRIED} (answered 503) (tried again later)`]]);
    // Its round is due: read back, and tried (a probe: the receiver has not answered since);
    // f1 given up, there is room in memory for its next round; the third and last gives it up.
    clock += 50;
    await until(() => of('f2').length === 3);
    await q.drain();
    assert.deepEqual(of('f2'), [
      [0, `${NOT_TRIED} (answered 503) (tried again later)`],
      [1, 'answered 503 (tried again later)'],
      [1, 'answered 503'],
    ]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(of('f2').length, 3, 'nothing after the last round');
    await q.close();
  });

  it("a settlement a Slack click's answer is showing is not read back for the receivers that answer stands for while it is in flight; another receiver's held-back copy is read back and told", async () => {
    target.reset();
    // Both receivers stuck on their first delivery while more queue up: their queues fill.
    const releaseShown = holdFirstCall(target, 'POST', '/shown');
    const releaseHook = holdFirstCall(target, 'POST', '/hook');
    const recorded: Outcome[] = [];
    const rows: Array<{ seq: number; event: NotificationEvent & { notification_id: string } }> = [];
    const shown = createWebhookNotifier(`${target.url}/shown`, undefined, receiver);
    const hook = createWebhookNotifier(`${target.url}/hook`, undefined, receiver);
    // The click's answer stands for the first receiver only (as service.ts builds it from the Slack receivers).
    const showing = new Map([['ntf_f2', new Set([shown.name])]]);
    const q = createNotifyQueue({
      notifiers: [shown, hook],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      maxQueued: 1,
      dropReportMs: 20,
      unsettled(name, after, limit) {
        const page = rows.filter((r) => r.event.at > after.at || (r.event.at === after.at && r.seq > after.seq)).slice(0, limit);
        const told = page.map((r): ToldRow => ({
          seq: r.seq, at: r.event.at, event: r.event.event, incident_id: r.event.incident_id, runbook: r.event.runbook, execution_id: null,
          details: { notification_id: r.event.notification_id, told: { to: [shown.name, hook.name], outcome: r.event.outcome, reason: r.event.reason, service: r.event.service, approval_id: null } },
          deliveries: recorded.filter((o) => o.event.notification_id === r.event.notification_id).map((o) => ({ ok: o.ok, notifier: o.notifier, detail: o.detail, at: 0 })),
        }));
        return withoutShowing(unsettledPage(told, name, after, limit), name, showing);
      },
    });
    // f1 in flight, f2 waiting, f3 fills the queue: f2 is held back on both lanes.
    for (const [i, id] of ['f1', 'f2', 'f3'].entries()) {
      const event = { ...ev(id, 'FAILED', 'failed'), at: 1_000 + i, notification_id: `ntf_${id}` };
      rows.push({ seq: i + 1, event });
      q.notify(event);
    }
    releaseShown();
    releaseHook();
    for (let i = 0; i < 500 && received('/hook').length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    await q.drain();
    // The receiver the answer stands for is not told it twice (the answer's delivery is its record);
    // the other is told it from its audit row.
    assert.deepEqual(received('/shown'), ['f1', 'f3']);
    assert.deepEqual(received('/hook').sort(), ['f1', 'f2', 'f3']);
    await q.close();
  });

  it("a delivery does not wait for its row's commit: the rows of the deliveries finished while one commit runs go in the next, together; drain waits until every row is written", async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    let release!: () => void;
    const commit = new Promise<void>((r) => (release = r));
    // Each batch: the rows recorded in one turn of the event loop (the store commits them together).
    const batches: string[][] = [];
    let batch: string[] | undefined;
    const q = createNotifyQueue({
      notifiers: [createWebhookNotifier(`${target.url}/hook`, undefined, receiver)],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => {
        if (!batch) {
          batches.push((batch = []));
          setImmediate(() => (batch = undefined));
        }
        batch.push(o.event.incident_id!);
        await commit;
      },
    });
    const ids = Array.from({ length: 8 }, (_, i) => `o${i + 1}`);
    for (const id of ids) q.notify(ev(id, 'FAILED', 'failed'));
    let drained = false;
    const draining = q.drain().then(() => (drained = true));
    // The first row's commit is held: every delivery goes on all the same.
    for (let i = 0; i < 500 && received('/hook').length < ids.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(received('/hook'), ids);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(batches.length, 1, 'no second commit while the first runs');
    assert.equal(drained, false, 'not settled before its row is written');
    release();
    await draining;
    assert.equal(batches.length, 2, 'the rows finished meanwhile share the next commit');
    assert.deepEqual(batches.flat(), ids);
    await q.close();
  });

  it('an approval request waiting for its next round is still told after a vote on it (a vote settles nothing)', async () => {
    target.reset();
    target.route('POST', '/hook', sequence([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 204 }]));
    const { q, recorded } = queueTo(['/hook'], { backoffMs: 5, approvalRetryMs: 20 });
    q.notify({ ...ev('a1', 'APPROVAL_REQUIRED', 'approval_required'), approval_id: 'apr_1' });
    await q.drain();
    q.notify({ ...ev('a1', 'APPROVAL_VOTE', 'pending'), approval_id: 'apr_1' });
    await q.drain();
    for (let i = 0; i < 500 && recorded.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    await q.drain();
    assert.deepEqual(
      recorded.map((o) => [o.event.event, o.ok, o.detail]),
      [
        ['APPROVAL_REQUIRED', false, 'answered 503 (tried again later)'],
        ['APPROVAL_VOTE', true, 'delivered'],
        ['APPROVAL_REQUIRED', true, 'delivered'],
      ],
    );
    await q.close();
  });

  it('what a full queue drops is recorded once per burst (count, events, the first 20 incidents) and warned about once per burst', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/hook');
    const log = createTestLogger();
    const { q, recorded } = queueTo(['/hook'], { log: log.logger, attempts: 1, maxQueued: 2, dropReportMs: 200 });
    const dropWarnings = () => log.records().filter((r) => r.level === 'warn' && String(r.msg).includes('dropped'));
    q.notify(ev('a1', 'APPROVAL_REQUIRED', 'approval_required')); // being delivered, held
    await target.waitForRequest('/hook');
    q.notify(ev('o1', 'FAILED', 'failed'));
    q.notify(ev('o2', 'FAILED', 'failed'));
    // A storm of blocked decisions against a queue full of outcomes: each newcomer is dropped.
    for (let i = 1; i <= 25; i++) q.notify(ev(`b${i}`, 'RATE_LIMITED', 'blocked'));
    assert.equal(q.dropped(), 25);
    assert.equal(recorded.length, 0, 'nothing is written per drop');
    for (let i = 0; i < 300 && recorded.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(recorded.length, 1, 'the burst is recorded in one row');
    const [burst] = recorded;
    assert.deepEqual(
      [burst!.ok, burst!.notifier, burst!.attempts, burst!.detail],
      [false, receiverName('webhook', `${target.url}/hook`, receiver.receiverKey), 0, 'dropped: queue full'],
    );
    assert.deepEqual(burst!.dropped, {
      count: 25,
      about: ['RATE_LIMITED'],
      incident_ids: Array.from({ length: 20 }, (_, i) => `b${i + 1}`),
    });
    assert.deepEqual([burst!.event.incident_id, burst!.event.runbook, burst!.event.service], [null, 'fix', 'shop'], 'several incidents: none named on the row; the runbook and service they share are');
    assert.equal(dropWarnings().length, 1, 'one warning for the burst');
    assert.equal(dropWarnings()[0]!.count, 25);

    // A second burst: one outcome makes room for another (the oldest goes); drain records it at once.
    q.notify(ev('o3', 'FAILED', 'failed'));
    assert.equal(q.dropped(), 26);
    release();
    await q.drain();
    const drops = recorded.filter((o) => o.detail === 'dropped: queue full');
    assert.equal(drops.length, 2);
    assert.deepEqual(drops[1]!.dropped, { count: 1, about: ['FAILED'], incident_ids: ['o1'] });
    assert.equal(drops[1]!.event.incident_id, 'o1', 'one dropped: its own incident is on the row');
    assert.deepEqual(
      recorded.filter((o) => o.ok).map((o) => o.event.incident_id),
      ['a1', 'o2', 'o3'],
    );
    assert.equal(dropWarnings().length, 2);
    await q.close();
    assert.equal(recorded.length, 5, 'nothing more at close');
  });

  it('a dropped notification of an event told one by one is recorded in a row of its own, with its notification_id; the storm decisions of the burst in one row', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/hook');
    const log = createTestLogger();
    const { q, recorded } = queueTo(['/hook'], { log: log.logger, attempts: 1, maxQueued: 2, dropReportMs: 60_000 });
    q.notify(ev('a1', 'APPROVAL_REQUIRED', 'approval_required')); // being delivered, held
    await target.waitForRequest('/hook');
    q.notify(ev('b1', 'RATE_LIMITED', 'blocked'));
    q.notify(ev('b2', 'RATE_LIMITED', 'blocked'));
    // Outcomes push the storm's decisions out, then each other (the oldest goes).
    for (const id of ['o1', 'o2', 'o3', 'o4']) q.notify(ev(id, 'FAILED', 'failed'));
    q.notify({ ...ev('p1', 'SERVICE_PAUSED', 'paused'), notification_id: 'ntf_paused' });
    assert.equal(q.dropped(), 5);
    release();
    await q.drain();
    const drops = recorded.filter((o) => o.detail === 'dropped: queue full');
    const ids = (id: string) => recorded.find((o) => o.event.incident_id === id)?.event.notification_id;
    assert.deepEqual(
      drops.map((o) => [o.event.event, o.event.incident_id, o.event.notification_id ?? null, o.dropped]),
      [
        // Each outcome given up on its own row, findable by its id: startup does not tell it again.
        ['FAILED', 'o1', ids('o1'), { count: 1, about: ['FAILED'], incident_ids: ['o1'] }],
        ['FAILED', 'o2', ids('o2'), { count: 1, about: ['FAILED'], incident_ids: ['o2'] }],
        ['FAILED', 'o3', ids('o3'), { count: 1, about: ['FAILED'], incident_ids: ['o3'] }],
        // The storm's decisions, summed up in one row as before.
        ['RATE_LIMITED', null, null, { count: 2, about: ['RATE_LIMITED'], incident_ids: ['b1', 'b2'] }],
      ],
    );
    for (const id of ['o1', 'o2', 'o3']) assert.match(ids(id)!, /^ntf_/);
    assert.deepEqual(
      recorded.filter((o) => o.ok).map((o) => [o.event.incident_id, o.event.notification_id]),
      [
        ['a1', ids('a1')],
        ['o4', ids('o4')],
        ['p1', 'ntf_paused'],
      ],
    );
    // One warning for the whole burst.
    const warned = log.records().filter((r) => r.level === 'warn' && String(r.msg).includes('dropped'));
    assert.equal(warned.length, 1);
    assert.deepEqual([warned[0]!.count, warned[0]!.about, warned[0]!.incident_ids, warned[0]!.recorded_apart], [5, ['RATE_LIMITED', 'FAILED'], ['b1', 'b2', 'o1', 'o2', 'o3'], 3]);
    await q.close();
  });

  it('an ALERTS_TRUNCATED notice past the bound of those told one by one (manual: its row records none) is summed in the drop burst, not held back, and gets no later rounds; one told one by one is held back, and tried again later', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/hook');
    const { q, recorded } = queueTo(['/hook'], {
      attempts: 1,
      maxQueued: 2,
      dropReportMs: 60_000,
      // The audit log to read a held-back notification from (nothing unsettled in it here).
      unsettled: (name, after, limit) => unsettledPage([], name, after, limit),
    });
    const truncated = (id: string, outcome: string): NotificationEvent => ({ ...ev(id, 'ALERTS_TRUNCATED', outcome), runbook: null, service: null });
    q.notify(ev('a1', 'APPROVAL_REQUIRED', 'approval_required')); // being delivered, held
    await target.waitForRequest('/hook');
    q.notify({ ...truncated('t2', 'alerts left out'), notification_id: 'ntf_told' });
    q.notify(ev('o1', 'FAILED', 'failed'));
    // The queue is full of outcomes: the manual notice is let go (the queue gives it an id,
    // as it gives every notification one); an outcome pushes out the oldest, the notice told one by one.
    q.notify(truncated('t1', 'manual'));
    q.notify(ev('o2', 'FAILED', 'failed'));
    assert.equal(q.dropped(), 2);
    release();
    await q.drain();
    const drops = recorded.filter((o) => o.detail === 'dropped: queue full' || o.detail === HELD_BACK);
    assert.deepEqual(
      drops.map((o) => [o.detail, o.event.outcome, o.event.notification_id ?? null, o.dropped]),
      [
        [HELD_BACK, 'alerts left out', 'ntf_told', { count: 1, about: ['ALERTS_TRUNCATED'], incident_ids: ['t2'] }],
        ['dropped: queue full', 'manual', recorded.find((o) => o.event.incident_id === 't1')?.event.notification_id, { count: 1, about: ['ALERTS_TRUNCATED'], incident_ids: ['t1'] }],
      ],
    );
    await q.close();

    // A receiver that is down: the manual notice is tried once and given up; the one told one by one waits for its later rounds.
    target.reset();
    target.route('POST', '/down', { status: 503 });
    const down = queueTo(['/down'], { backoffMs: 1, approvalRetryMs: 60_000, maxQueued: 2 });
    down.q.notify(truncated('t3', 'manual'));
    down.q.notify({ ...truncated('t4', 'alerts left out'), notification_id: 'ntf_told2' });
    await down.q.drain();
    assert.deepEqual(
      down.recorded.map((o) => [o.event.incident_id, o.attempts, o.detail]),
      [
        ['t3', 3, 'answered 503'],
        ['t4', 0, `${NOT_TRIED} (answered 503) (tried again later)`],
      ],
    );
    await down.q.close();
  });

  it('a PAUSED decision (an alert held off by a pause: blocked, its row records none) is summed in the drop burst and gets no later rounds; a run stopped by a pause (aborted, its row records it) is held back, and tried again later', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/hook');
    const { q, recorded } = queueTo(['/hook'], {
      attempts: 1,
      maxQueued: 2,
      dropReportMs: 60_000,
      unsettled: (name, after, limit) => unsettledPage([], name, after, limit),
    });
    const stopped = (id: string, notificationId: string): NotificationEvent => ({ ...ev(id, 'PAUSED', 'aborted'), execution_id: `exe_${id}`, notification_id: notificationId });
    q.notify(ev('a1', 'APPROVAL_REQUIRED', 'approval_required')); // being delivered, held
    await target.waitForRequest('/hook');
    q.notify(stopped('r1', 'ntf_stopped'));
    q.notify(ev('o1', 'FAILED', 'failed'));
    // The queue is full of outcomes: the decision is let go; an outcome pushes out the oldest, the stopped run.
    q.notify(ev('p1', 'PAUSED', 'blocked'));
    q.notify(ev('o2', 'FAILED', 'failed'));
    assert.equal(q.dropped(), 2);
    release();
    await q.drain();
    const drops = recorded.filter((o) => o.detail === 'dropped: queue full' || o.detail === HELD_BACK);
    assert.deepEqual(
      drops.map((o) => [o.detail, o.event.outcome, o.event.notification_id ?? null, o.dropped]),
      [
        [HELD_BACK, 'aborted', 'ntf_stopped', { count: 1, about: ['PAUSED'], incident_ids: ['r1'] }],
        ['dropped: queue full', 'blocked', recorded.find((o) => o.event.incident_id === 'p1')?.event.notification_id, { count: 1, about: ['PAUSED'], incident_ids: ['p1'] }],
      ],
    );
    await q.close();

    // A receiver that is down: the decision is tried once and given up; the stopped run waits for its later rounds.
    target.reset();
    target.route('POST', '/down', { status: 503 });
    const down = queueTo(['/down'], { backoffMs: 1, approvalRetryMs: 60_000, maxQueued: 2 });
    down.q.notify(ev('p2', 'PAUSED', 'blocked'));
    down.q.notify(stopped('r2', 'ntf_stopped2'));
    await down.q.drain();
    assert.deepEqual(
      down.recorded.map((o) => [o.event.incident_id, o.attempts, o.detail]),
      [
        ['p2', 3, 'answered 503'],
        ['r2', 0, `${NOT_TRIED} (answered 503) (tried again later)`],
      ],
    );
    await down.q.close();
  });

  it('a receiver that answers after the per-attempt timeout: every retry carries the same notification_id and Idempotency-Key; audited as delivery unknown', async () => {
    target.reset();
    target.route('POST', '/slow', { status: 204, delayMs: 1_000 });
    const { q, recorded } = queueTo(['/slow'], { attempts: 3, attemptTimeoutMs: 150, backoffMs: 5 });
    q.notify(ev('s1', 'FAILED', 'failed'));
    await q.drain();
    // Told after the first failed: a probe of one attempt, since the receiver has not answered since.
    q.notify(ev('s2', 'FAILED', 'failed'));
    await q.drain();
    const got = target.requests('/slow', 'POST').map((r) => ({ key: r.headers['idempotency-key'], body: r.json() as { incident_id: string; notification_id: string } }));
    assert.deepEqual(got.map((g) => g.body.incident_id), ['s1', 's1', 's1', 's2']);
    const [first, second] = [got[0]!.body.notification_id, got[3]!.body.notification_id];
    assert.match(first, /^ntf_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.notEqual(first, second, 'each notification has its own id');
    assert.deepEqual(
      got.map((g) => [g.key, g.body.notification_id]),
      [...Array(3).fill([first, first]), [second, second]],
      'the header and the field agree, and stay the same across retries',
    );
    assert.deepEqual(
      recorded.map((o) => [o.ok, o.attempts, o.detail, o.event.incident_id, o.event.notification_id]),
      [
        [false, 3, 'delivery unknown (timed out) (tried again later)', 's1', first],
        [false, 1, 'delivery unknown (timed out) (tried again later)', 's2', second],
      ],
    );
    await q.close();
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RectifyError } from '../../src/domain/index.js';
import { alertmanagerToIncidents } from '../../src/ingest/index.js';
import type { Store } from '../../src/store/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { httpRunbook, postRunbook, runbooksFile } from '../helpers/runbooks.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { countRows, stormAlert, webhook } from './helpers.js';

/**
 * A large body is decided in slices (ACCEPT_SLICE alerts; 100 here), in order, each
 * committed before the next is decided: the event loop serves other requests between
 * them, and the answer still comes once the last is durable. A later copy of an alert
 * is a duplicate of what an earlier slice committed; a commit that fails after the
 * first answers how many alerts were recorded, and the sender's retry decides the rest.
 */

const SLICE = 100;
const runbooks = (base: string) => runbooksFile(postRunbook('restart-cart', { trigger: 'CartDown', url: `${base}/restart` }));

/**
 * 350 alerts: CartDown (a HIGH runbook: a person is asked) and DiskFull (no runbook), a
 * copy of alert 3 in the second and third slice, of alert 120 in its own slice and the
 * last, and alert 6 resolved in the fourth.
 */
function body350() {
  const alerts: Array<{ labels: Record<string, string>; fingerprint: string; status?: 'firing' | 'resolved' }> = Array.from({ length: 350 }, (_, i) =>
    i % 3 === 0 ? { labels: { alertname: 'CartDown', service: `cart-${i % 7}` }, fingerprint: `a${i}` } : { labels: { alertname: 'DiskFull', service: `svc-${i % 5}` }, fingerprint: `a${i}` },
  );
  const copy = (at: number, of: number, status?: 'resolved') => (alerts[at] = { ...alerts[of]!, ...(status ? { status } : {}) });
  copy(150, 3);
  copy(260, 3);
  copy(121, 120);
  copy(349, 120);
  copy(330, 6, 'resolved');
  return amWebhook(alerts);
}

/** The sizes of the intake commits (the units that decide a body's alerts), in order. */
function watchIntakeCommits(store: Store, failAt?: number) {
  const sizes: number[] = [];
  const transact = store.transact;
  store.transact = ((work, o) =>
    transact.call(
      store,
      (tx) => {
        const v = work(tx);
        const results = (v as { results?: unknown } | null)?.results;
        if (Array.isArray(results)) {
          sizes.push(results.length);
          // The unit ran, then its commit fails: nothing of it is recorded.
          if (sizes.length === failAt) throw new RectifyError('STORE_UNAVAILABLE', 'the database could not commit; nothing was recorded, retry later');
        }
        return v;
      },
      o,
    )) as typeof transact;
  return { sizes, restore: () => (store.transact = transact) };
}

const decisions = (results: any[]) => results.map((r) => `${r.action}/${r.event}`);
const truncationRows = (svc: TestService) => countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'ALERTS_TRUNCATED'");
const partly = (recorded: number, total: number) =>
  `the database could not commit the rest of this request: ${recorded} of its ${total} alerts were decided and recorded (what they run has started, the people they ask were told), the other ${total - recorded} were not; send it again (Alertmanager retries by itself): those ${recorded} are answered duplicate and the others are decided`;
const AM = '/api/v1/webhooks/alertmanager';

describe('storm: a large body decided in slices', { timeout: 120_000 }, () => {
  let target: HttpTarget;
  let whole: string[];
  before(async () => {
    target = await startHttpTarget();
    // The same body decided in one commit (under the default slice): the decisions to match.
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    try {
      const watch = watchIntakeCommits(svc.service.store);
      const r = await svc.post(AM, body350());
      assert.equal(r.status, 202);
      assert.deepEqual(watch.sizes, [350], 'one commit under the default slice');
      whole = decisions(r.body.results);
    } finally {
      await svc.stop({ remove: true });
    }
  });
  after(async () => target.close());

  it('350 alerts are committed in 4 transactions of 100, 100, 100 and 50, decided as in one; copies in later slices are duplicates', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), overrides: { acceptSlice: SLICE } });
    try {
      const watch = watchIntakeCommits(svc.service.store);
      const r = await svc.post(AM, body350());
      assert.equal(r.status, 202);
      assert.deepEqual(watch.sizes, [100, 100, 100, 50]);
      assert.deepEqual(decisions(r.body.results), whole);
      for (const at of [121, 150, 260, 349]) assert.equal(r.body.results[at].action, 'duplicate', `alert ${at}, a copy`);
      assert.equal(r.body.results[150].incident_id, r.body.results[3].incident_id);
      assert.equal(r.body.results[349].incident_id, r.body.results[120].incident_id);
      // Alert 6, decided in the first slice, is resolved in the fourth.
      assert.equal(r.body.results[6].action, 'approval_required');
      assert.equal(r.body.results[330].action, 'resolved');
      const tally: Record<string, number> = {};
      for (const d of decisions(r.body.results)) tally[d] = (tally[d] ?? 0) + 1;
      assert.deepEqual(tally, { 'approval_required/APPROVAL_REQUIRED': 115, 'manual/NO_RUNBOOK': 230, 'duplicate/DUPLICATE': 4, 'resolved/RESOLVED': 1 });
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 346);
      // Counted once per alert, whichever slice decided it.
      const metrics = (await svc.get('/metrics')).body as string;
      assert.equal(/^rectify_incidents_total\{source="alertmanager"\} (\S+)$/m.exec(metrics)?.[1], '350');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('the event loop turns between the slices, before the answer', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), overrides: { acceptSlice: SLICE } });
    try {
      const { incidents } = alertmanagerToIncidents(body350() as never, { now: svc.clock.now(), newId: (() => { let n = 0; return () => `inc-${n++}`; })() });
      let answered = false;
      const pending = svc.service.engine.accept(incidents).then((r) => ((answered = true), r));
      // Turns of the event loop (its check phase) that ran while the body was being decided.
      let turns = 0;
      await new Promise<void>((resolve) => {
        const tick = () => {
          if (answered) return resolve();
          turns++;
          setImmediate(tick);
        };
        setImmediate(tick);
      });
      assert.equal((await pending).length, 350);
      assert.ok(turns >= 3, `the loop turned ${turns} times while 4 slices were decided: at least once between each two`);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it("a commit failing at the third slice answers 503 with 200 recorded; the retry answers them duplicate and decides the other 150", async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), overrides: { acceptSlice: SLICE } });
    try {
      const watch = watchIntakeCommits(svc.service.store, 3);
      const r = await svc.post(AM, body350());
      watch.restore();
      assert.deepEqual(watch.sizes, [100, 100, 100]);
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'STORE_UNAVAILABLE');
      assert.equal(r.body.error.message, partly(200, 350));
      // The first 200 alerts, two of them copies (of alerts 3 and 120).
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 198);

      const retry = await svc.post(AM, body350());
      assert.equal(retry.status, 202);
      const got = decisions(retry.body.results);
      assert.deepEqual(got.slice(0, 200), Array(200).fill('duplicate/DUPLICATE'));
      assert.deepEqual(got.slice(200), whole.slice(200));
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 346);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a commit failing at the second slice counts in the metrics only the first slice, as the audit log holds it; the retry counts its 350', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), overrides: { acceptSlice: SLICE } });
    const counted = async () => {
      const text = (await svc.get('/metrics')).body as string;
      const incidents = Number(/^rectify_incidents_total\{source="alertmanager"\} (\S+)$/m.exec(text)?.[1] ?? 0);
      const byEvent: Record<string, number> = {};
      for (const m of text.matchAll(/^rectify_decisions_total\{action="[^"]+",reason="([^"]+)"\} (\S+)$/gm)) byEvent[m[1]!] = (byEvent[m[1]!] ?? 0) + Number(m[2]);
      return { incidents, byEvent };
    };
    const audited = (event: string) => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM audit WHERE event = ?', event);
    try {
      const watch = watchIntakeCommits(svc.service.store, 2);
      const r = await svc.post(AM, body350());
      watch.restore();
      assert.deepEqual(watch.sizes, [100, 100]);
      assert.equal(r.status, 503);
      assert.equal(r.body.error.message, partly(100, 350));
      // The first slice: 34 CartDown alerts ask a person, 66 DiskFull have no runbook.
      assert.deepEqual(
        { asked: audited('APPROVAL_REQUIRED'), noRunbook: audited('NO_RUNBOOK') },
        { asked: 34, noRunbook: 66 },
      );
      assert.deepEqual(await counted(), { incidents: 100, byEvent: { APPROVAL_REQUIRED: 34, NO_RUNBOOK: 66 } });

      const retry = await svc.post(AM, body350());
      assert.equal(retry.status, 202);
      // The retry's 350: the first slice's 100 again as duplicates, the other 250 decided.
      assert.deepEqual(
        { asked: audited('APPROVAL_REQUIRED'), noRunbook: audited('NO_RUNBOOK'), duplicates: audited('DUPLICATE'), resolved: audited('RESOLVED') },
        { asked: 115, noRunbook: 230, duplicates: 104, resolved: 1 },
      );
      assert.deepEqual(await counted(), { incidents: 450, byEvent: { APPROVAL_REQUIRED: 115, NO_RUNBOOK: 230, DUPLICATE: 104, RESOLVED: 1 } });
    } finally {
      await svc.stop({ remove: true });
    }
  });

  describe('a cut-short body (truncatedAlerts) spanning slices records its truncation once', () => {
    const truncated = (body: ReturnType<typeof amWebhook>) => ({ ...body, groupKey: '{}:{alertname="CartDown"}', receiver: 'rectify', truncatedAlerts: 7 });
    const truncatedTotal = async (svc: TestService) => /^rectify_alerts_truncated_total (\S+)$/m.exec((await svc.get('/metrics')).body as string)?.[1];

    it('with the first slice, across a failure at the third slice and the retry', async () => {
      const svc = await startTestService({ runbooks: runbooks(target.url), overrides: { acceptSlice: SLICE } });
      try {
        const watch = watchIntakeCommits(svc.service.store, 3);
        const r = await svc.post(AM, truncated(body350()));
        watch.restore();
        assert.deepEqual([r.status, r.body.error.message], [503, partly(200, 350)]);
        assert.equal(truncationRows(svc), 1);
        // The retry's first two slices are duplicates, its others new: not a new notification.
        const retry = await svc.post(AM, truncated(body350()));
        assert.equal(retry.status, 202);
        assert.equal(truncationRows(svc), 1);
        assert.equal(await truncatedTotal(svc), '7');
        // Delivered again whole (an HA pair's twin): every alert a duplicate, nothing recorded.
        const again = await svc.post(AM, truncated(body350()));
        assert.deepEqual(new Set(decisions(again.body.results)), new Set(['duplicate/DUPLICATE']));
        assert.equal(truncationRows(svc), 1);
        assert.equal(await truncatedTotal(svc), '7');
      } finally {
        await svc.stop({ remove: true });
      }
    });

    it('whose first slice holds only duplicates: with the first slice that holds a new decision, and again across a failure there', async () => {
      const svc = await startTestService({ runbooks: runbooks(target.url), overrides: { acceptSlice: SLICE } });
      try {
        // The body's first 100 alerts were delivered before, in a notification of their own.
        const first = body350();
        assert.equal((await svc.post(AM, { ...first, alerts: first.alerts.slice(0, 100) })).status, 202);
        // The commit of its second slice, the first with a new decision, fails: no truncation recorded.
        let watch = watchIntakeCommits(svc.service.store, 2);
        const r = await svc.post(AM, truncated(body350()));
        watch.restore();
        assert.deepEqual([r.status, r.body.error.message], [503, partly(100, 350)]);
        assert.equal(truncationRows(svc), 0);
        // The retry's second slice records it; its third slice fails.
        watch = watchIntakeCommits(svc.service.store, 3);
        const retry = await svc.post(AM, truncated(body350()));
        watch.restore();
        assert.deepEqual([retry.status, retry.body.error.message], [503, partly(200, 350)]);
        assert.equal(truncationRows(svc), 1);
        // The next retry's first two slices are duplicates: recorded once, all the same.
        const last = await svc.post(AM, truncated(body350()));
        assert.equal(last.status, 202);
        assert.deepEqual(decisions(last.body.results).slice(200), whole.slice(200));
        assert.equal(truncationRows(svc), 1);
        assert.equal(await truncatedTotal(svc), '7');
      } finally {
        await svc.stop({ remove: true });
      }
    });
  });

  it('a stop between slices leaves the rest undecided: 503 SHUTTING_DOWN saying how many were recorded; the retry after the restart decides the rest', async () => {
    const restart = await startHttpTarget();
    restart.route('POST', '/restart', { status: 200, body: { ok: true } });
    const svc = await startTestService({
      runbooks: runbooksFile(httpRunbook('restart', { trigger: 'Down', url: `${restart.url}/restart`, more: '    blast_radius_limit: 1000\n' })),
      args: ['--shutdown-grace', '30s', '--max-concurrent-executions', '1000'],
      overrides: { acceptSlice: 5 },
    });
    let again: TestService | undefined;
    try {
      // Slice 1: five alerts that run; slices 2 and 3: alerts with no runbook; slice 4: five more that run.
      const alerts = [
        ...Array.from({ length: 5 }, (_, i) => stormAlert('Down', `early-${i}`, i)),
        ...Array.from({ length: 10 }, (_, i) => stormAlert('DiskFull', `disk-${i}`, i)),
        ...Array.from({ length: 5 }, (_, i) => stormAlert('Down', `late-${i}`, i)),
      ];
      // The stop (SIGTERM) comes in the event-loop turn after the first slice's commit: the
      // second slice is then waiting for its commit, and is not decided.
      const store = svc.service.store;
      const transact = store.transact;
      let closing: Promise<unknown> | undefined;
      store.transact = ((work, o) =>
        transact.call(store, work, o).then((v) => {
          if (!closing && Array.isArray((v as { results?: unknown } | null)?.results)) setImmediate(() => (closing ??= svc.service.close()));
          return v;
        })) as typeof transact;
      const r = await svc.app.inject({ method: 'POST', url: AM, payload: webhook(alerts) });
      store.transact = transact;
      await closing;
      assert.deepEqual([r.statusCode, JSON.parse(r.body).error.code, JSON.parse(r.body).error.message], [
        503,
        'SHUTTING_DOWN',
        'the rest of this request could not be decided (rectify is stopping): 5 of its 20 alerts were decided and recorded (what they run has started, the people they ask were told), the other 15 were not; send it again (Alertmanager retries by itself): those 5 are answered duplicate and the others are decided',
      ]);
      // The first slice's runs had the stop's grace; nothing was decided after the stop, so nothing was cut off before it began.
      assert.equal(restart.calls('/restart', 'POST'), 5);
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 5);
      assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM executions WHERE state = 'succeeded'"), 5);
      assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM executions WHERE state <> 'succeeded'"), 0);
      // Alertmanager's retry, after the restart.
      again = await svc.restart();
      const retry = await again.post(AM, webhook(alerts));
      assert.equal(retry.status, 202);
      const tally: Record<string, number> = {};
      for (const d of decisions(retry.body.results)) tally[d] = (tally[d] ?? 0) + 1;
      assert.deepEqual(tally, { 'duplicate/DUPLICATE': 5, 'manual/NO_RUNBOOK': 10, 'executed/EXECUTING': 5 });
    } finally {
      if (again) await again.stop({ remove: true });
      else await svc.stop({ remove: true }).catch(() => undefined);
      await restart.close();
    }
  });
});

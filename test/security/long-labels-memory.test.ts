import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createTruncationBudget } from '../../src/engine/truncations.js';
import { alertmanagerToIncidents } from '../../src/ingest/alertmanager.js';
import { COUNTED_NAME_MAX, countedKey, createRepeatFilter, type RepeatState } from '../../src/notify/repeats.js';
import type { NotificationEvent } from '../../src/notify/types.js';
import { decisionDetailsMemory, detailsText } from '../../src/store/sqlite/tx.js';
import { amWebhook, startTestService } from '../helpers/service.js';

/**
 * A sender with an ingest token could run rectify out of memory with long label values:
 * the service and root cause were taken whole, and caches bounded by their count alone
 * (decision details texts, the repeat filter's services counted, written whole to every
 * checkpoint) kept them. The service is now cut to 253 characters and the root cause to
 * 256, as PagerDuty's are; long texts are not remembered; a long name counted is kept
 * as a fixed-size digest.
 */

const SINK_PORT = 19050;
const runbooks = `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    max_per_hour: 1
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "http://127.0.0.1:${SINK_PORT}/act/{service}"}
`;

const am = (labels: Record<string, string>, fingerprint: string) => amWebhook([{ labels, fingerprint }]);

describe('Alertmanager label values longer than a service name or a root cause may be', () => {
  it('a 300-character service label is cut to 252 characters and "…" (as PagerDuty cuts), a 253-character one kept exact; so is a root cause past 256', () => {
    const ids = ['a', 'b', 'c'];
    const long = `s${'x'.repeat(299)}`;
    const exact = `e${'y'.repeat(252)}`;
    const cause = `c${'z'.repeat(299)}`;
    const reason = `r${'w'.repeat(299)}`;
    const { incidents, problems } = alertmanagerToIncidents(
      {
        alerts: [
          { status: 'firing', labels: { alertname: 'broken', service: long, root_cause: cause, reason }, fingerprint: 'f1' },
          { status: 'firing', labels: { alertname: 'broken', service: exact }, fingerprint: 'f2' },
          // A pair the cut would split is made well formed, one U+FFFD.
          { status: 'firing', labels: { alertname: 'broken', service: `${'q'.repeat(251)}\u{1F600}tail` }, fingerprint: 'f3' },
        ],
      },
      { now: 0, newId: () => ids.shift()! },
    );
    assert.deepEqual(problems, []);
    assert.equal(incidents[0]!.service, `${long.slice(0, 252)}\u2026`);
    assert.equal(incidents[0]!.service.length, 253);
    assert.deepEqual(incidents[0]!.services, [incidents[0]!.service]);
    assert.equal(incidents[0]!.root_cause, `${cause.slice(0, 255)}\u2026`);
    assert.deepEqual(incidents[0]!.symptoms, [`${reason.slice(0, 255)}\u2026`, 'broken']);
    // The labels themselves are kept whole: the context, the re-delivery comparison.
    assert.equal(incidents[0]!.labels!.service, long);
    assert.equal(incidents[1]!.service, exact);
    assert.equal(incidents[2]!.service, `${'q'.repeat(251)}\uFFFD\u2026`);
  });

  describe('in a running service, against a real SQLite file', () => {
    let sink: Server;
    before(async () => {
      sink = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(204).end());
      });
      await new Promise<void>((r) => sink.listen(SINK_PORT, '127.0.0.1', r));
    });
    after(() => new Promise<void>((r) => sink.close(() => r())));

    it('the stored service of a 300-character label is its first 252 characters and "…"; a normal label is decided as before', async () => {
      const svc = await startTestService({ runbooks });
      try {
        const long = `api-${'x'.repeat(296)}`;
        const r1 = await svc.post('/api/v1/webhooks/alertmanager', am({ alertname: 'broken', service: long }, 'l1'));
        const r2 = await svc.post('/api/v1/webhooks/alertmanager', am({ alertname: 'broken', service: 'api' }, 'n1'));
        const r3 = await svc.post('/api/v1/webhooks/alertmanager', am({ alertname: 'broken', service: 'api' }, 'n2'));
        assert.deepEqual([r1.status, r2.status, r3.status], [202, 202, 202]);
        const db = new Database(svc.dbPath, { readonly: true });
        try {
          const row = (id: string) => db.prepare('SELECT service, root_cause, action, event FROM incidents WHERE id = ?').get(id) as Record<string, string>;
          // The cut name is no name a placeholder takes ("…" is not safe in a URL path): never acted on.
          assert.deepEqual(row(r1.body.results[0].incident_id), { service: `${long.slice(0, 252)}\u2026`, root_cause: 'broken', action: 'blocked', event: 'PARAM_REFUSED' });
          assert.equal(row(r2.body.results[0].incident_id).service, 'api');
          // The normal label's second alert meets the rate limit its first set (max_per_hour: 1): unchanged.
          assert.deepEqual([r2.body.results[0].action, r3.body.results[0].action, row(r3.body.results[0].incident_id).event], ['executed', 'blocked', 'RATE_LIMITED']);
        } finally {
          db.close();
        }
      } finally {
        await svc.stop({ remove: true });
      }
    });

    it('40 unmatched alerts, each with a 100 KB service label: the repeat checkpoint keeps digests of the names counted, a few KB, and no long decision text is remembered', async () => {
      const svc = await startTestService({ runbooks, args: ['--notify-webhook', `http://127.0.0.1:${SINK_PORT}/hook`] });
      const pad = 'x'.repeat(100_000);
      try {
        for (let i = 0; i < 40; i++) {
          const r = await svc.post('/api/v1/webhooks/alertmanager', am({ alertname: 'nothing-matches', service: `svc-${i}-${pad}` }, `u${i}`));
          assert.equal(r.status, 202);
          assert.equal(r.body.results[0].action, 'manual');
        }
        const memory = decisionDetailsMemory();
        assert.ok(memory.longest <= 1_024, `longest remembered details text: ${memory.longest}`);
        assert.ok(memory.chars <= memory.entries * 1_024);
        // The housekeeping pass writes the checkpoint (a stop tells every summary first: nothing counted is left).
        await svc.service.housekeep();
      } catch (err) {
        await svc.stop({ remove: true });
        throw err;
      }
      const db = new Database(svc.dbPath, { readonly: true });
      try {
        const value = (db.prepare("SELECT value FROM settings WHERE key = 'notify_repeats'").get() as { value: string }).value;
        const state = (JSON.parse(value) as { state: RepeatState }).state;
        // Ten services told one by one, the other thirty counted for the (event, runbook) window.
        const counted = state.runbooks.flatMap(([, w]) => w.counted);
        assert.equal(counted.length, 30);
        for (let i = 10; i < 40; i++) assert.ok(counted.includes(countedKey(`svc-${i}-${pad}`.slice(0, 252) + '\u2026')));
        assert.ok(counted.every((c) => c.length === 51));
        // 40 × 100 KB was 4 MB written at every pass; now each window's service is at most 253 characters.
        assert.ok(value.length < 16_384, `checkpoint: ${value.length} characters`);
      } finally {
        db.close();
      }
      await svc.stop({ remove: true });
    });
  });
});

describe('caches keep no long text', () => {
  it('a decision details text over 1 KiB is not remembered; a short one is, once', () => {
    const before = decisionDetailsMemory();
    const long = { reason: 'r', service: 'x'.repeat(2_000), root_cause: 'broken' };
    assert.equal(detailsText(long), JSON.stringify(long));
    assert.equal(detailsText({ ...long }), JSON.stringify(long));
    const mid = decisionDetailsMemory();
    assert.deepEqual([mid.entries, mid.chars], [before.entries, before.chars]);
    const short = { reason: 'r', service: `short-${before.entries}`, root_cause: 'broken' };
    assert.equal(detailsText(short), JSON.stringify(short));
    assert.equal(detailsText({ ...short }), JSON.stringify(short));
    const now = decisionDetailsMemory();
    // (4,096 remembered forgets them all first.)
    if (before.entries < 4_096) assert.deepEqual([now.entries, now.chars], [before.entries + 1, before.chars + JSON.stringify(short).length]);
  });

  it('the repeat filter counts a long service as its digest, and reads an old checkpoint that kept the name whole', () => {
    const told: NotificationEvent[] = [];
    const longName = `svc-${'x'.repeat(5_000)}`;
    const ev = (service: string, at: number): NotificationEvent => ({ event: 'NO_RUNBOOK', incident_id: `inc-${at}`, runbook: null, service, execution_id: null, approval_id: null, outcome: 'manual', reason: 'r', at });
    assert.equal(countedKey('api'), 'api');
    assert.equal(countedKey('a'.repeat(COUNTED_NAME_MAX)), 'a'.repeat(COUNTED_NAME_MAX));
    assert.equal(countedKey(countedKey(longName)), countedKey(longName));
    assert.notEqual(countedKey(`${longName}y`), countedKey(longName));
    // A checkpoint of an earlier version: the long name counted, whole.
    const old: RepeatState = { windows: [], runbooks: [['NO_RUNBOOK\u0000', { startedAt: 0, repeats: 1, latest: ev(longName, 0), told: 1, counted: [longName] }]] };
    const f = createRepeatFilter((e) => told.push(e), { windowMs: 60_000, now: () => 10, servicesPerWindow: 1 });
    f.restore(old, []);
    assert.deepEqual(f.snapshot().state.runbooks[0]![1].counted, [countedKey(longName)]);
    // Counted already: its next decision is counted again, not a new service.
    f.notify(ev(longName, 10));
    f.notify(ev('other', 10));
    assert.equal(told.length, 0);
    const counted = f.snapshot().state.runbooks[0]![1].counted;
    assert.deepEqual(counted, [countedKey(longName), 'other']);
    f.flush(true);
    assert.equal(told.length, 1);
    assert.equal(told[0]!.repeated_services, 2);
    assert.equal(told[0]!.repeated, 3);
  });
});

describe('the window of cut-short notifications told one by one', () => {
  it('keeps a long group key as a digest, still one group', () => {
    const budget = createTruncationBudget();
    const group = JSON.stringify(['rectify', `{}:{alertname="${'x'.repeat(100_000)}"}`]);
    const taken = budget.take(group, 0);
    assert.ok(taken);
    assert.equal(taken.key.length, 51);
    // The same group again in the window: not told one by one again.
    assert.equal(budget.take(group, 1), undefined);
    assert.ok(budget.take(`${group} `, 1));
    // A short key is kept as it is.
    assert.equal(budget.take('["rectify","{}:{}"]', 1)!.key, '["rectify","{}:{}"]');
    budget.giveBack(taken);
    assert.ok(budget.take(group, 2));
  });
});

import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { cli } from '../cli/capture.js';

/**
 * One Alertmanager notification with 150 HIGH-risk alerts, one per service, opens 150
 * approval requests. The list is newest first, so a page that ends before them hides
 * the oldest, the first to expire: every page says whether more exist and where they
 * start, and paging on neither repeats nor skips a request while new ones arrive and
 * listed ones are decided.
 */

const runbooks = (base: string) => `runbooks:
  rollback-deployment:
    risk: HIGH
    triggers: [ErrorRateSpike]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/deployments/{deployment}/undo"}
`;

const alert = (service: string) => ({
  labels: { alertname: 'ErrorRateSpike', service, deployment: service, namespace: 'production' },
  fingerprint: `fp-${service}`,
});

const services = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `svc-${String(from + i).padStart(3, '0')}`);

interface Page {
  approvals: Array<{ id: string; service: string; status: string }>;
  next_cursor: string | null;
  total: number;
}

describe('approval pages', () => {
  let target: HttpTarget;
  let svc: TestService;
  let env: Record<string, string>;
  /** The 150 requests, newest first, as the webhook opened them. */
  let opened: string[];

  before(async () => {
    target = await startHttpTarget();
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--listen', '127.0.0.1:0', '--max-pending-approvals', '1000'] });
    env = { RECTIFY_SERVER: await svc.service.listen() };
    const r = await svc.post('/api/v1/webhooks/alertmanager', amWebhook(services(150).map(alert)));
    assert.equal(r.status, 202);
    assert.deepEqual(new Set(r.body.results.map((x: any) => x.action)), new Set(['approval_required']));
    opened = r.body.results.map((x: any) => x.approval_id as string).reverse();
    assert.equal(new Set(opened).size, 150);
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  const page = async (query: string): Promise<Page> => {
    const r = await svc.get(`/api/v1/approvals?${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };

  it('a page says how many there are and where the next starts; following the cursors lists every request once, newest first', async () => {
    const first = await page('status=pending');
    assert.equal(first.approvals.length, 100, 'the default limit');
    assert.equal(first.total, 150);
    assert.notEqual(first.next_cursor, null, 'more requests than the page holds');
    const second = await page(`status=pending&cursor=${first.next_cursor}`);
    assert.equal(second.approvals.length, 50);
    assert.equal(second.next_cursor, null, 'the last page says so');
    assert.equal(second.total, 150);
    assert.deepEqual([...first.approvals, ...second.approvals].map((a) => a.id), opened);

    // Without a status: every request kept, counted the same way.
    const all = await page('limit=150');
    assert.deepEqual([all.approvals.length, all.next_cursor, all.total], [150, null, 150]);
  });

  it('requests opened and decided between pages are neither repeated nor skipped', async () => {
    const first = await page('status=pending&limit=60');
    assert.deepEqual(first.approvals.map((a) => a.id), opened.slice(0, 60));
    // Meanwhile five listed requests are decided, one not listed yet too, and a new one opens.
    for (const id of [...opened.slice(0, 5), opened[100]!]) {
      assert.equal((await svc.post(`/api/v1/approvals/${id}/reject`, { by: 'erin' })).status, 200);
    }
    svc.clock.advance(1_000);
    const fresh = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('svc-new')]));
    const freshId = fresh.body.results[0].approval_id as string;
    assert.ok(freshId);

    const seen = first.approvals.map((a) => a.id);
    let cursor = first.next_cursor;
    let total = first.total;
    while (cursor) {
      const p = await page(`status=pending&limit=60&cursor=${cursor}`);
      seen.push(...p.approvals.map((a) => a.id));
      cursor = p.next_cursor;
      total = p.total;
    }
    assert.equal(new Set(seen).size, seen.length, 'no request listed twice');
    assert.deepEqual(seen, opened.filter((id) => id !== opened[100]), 'every request still pending, once, in order');
    assert.ok(!seen.includes(freshId), 'a request opened meanwhile is on the first page, not a later one');
    assert.equal(total, 150 - 6 + 1, 'the count is of now');
    assert.equal((await page('status=pending&limit=1')).approvals[0]!.id, freshId);
  });

  it('a cursor that no page gave is a 400 naming query.cursor, as for the audit log', async () => {
    for (const bad of ['nope', '12', 'apr_01', '1.', '.apr_01', '1.apr 01']) {
      const r = await svc.get(`/api/v1/approvals?status=pending&cursor=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error.code, 'VALIDATION_FAILED');
      assert.deepEqual(r.body.error.details, [{ path: 'query.cursor', message: 'expected the next_cursor of a previous page' }]);
    }
  });

  it('rectify approvals says when more requests exist and how to list them; --all-pages lists every one', async () => {
    const pending = (await svc.get('/api/v1/approvals?status=pending&limit=1000')).body.approvals.map((a: any) => a.id as string);
    assert.equal(pending.length, 145);
    const first = (await svc.get('/api/v1/approvals?status=pending')).body as Page;

    const t = await cli(['approvals'], { env });
    assert.equal(t.code, 0, t.err.join('\n'));
    assert.match(t.out[0]!, /^ID\s+RUNBOOK\s+SERVICE\s+STATUS\s+VOTES\s+REQUESTED\s+EXPIRES\s+ALERTS\s+REASON\s+ACTIONS\s+ROLLBACK$/);
    assert.equal(t.out.length, 102, 'a header, 100 rows and what was left out');
    assert.deepEqual(t.out.slice(1, 101).map((l) => l.split(/\s+/)[0]), pending.slice(0, 100));
    assert.equal(
      t.out[101],
      `(100 of 145 pending approval requests shown, newest first; older ones (the first to expire): add --cursor ${first.next_cursor}, or --all-pages for every one)`,
    );

    const next = await cli(['approvals', '--cursor', first.next_cursor!], { env });
    assert.equal(next.code, 0, next.err.join('\n'));
    assert.deepEqual(next.out.slice(1).map((l) => l.split(/\s+/)[0]), pending.slice(100), 'the last page: no line about more');

    const every = await cli(['approvals', '--all-pages', '--limit', '40'], { env });
    assert.equal(every.code, 0, every.err.join('\n'));
    assert.deepEqual(every.out.slice(1).map((l) => l.split(/\s+/)[0]), pending);

    const json = await cli(['approvals', '--all-pages', '--limit', '40', '--json'], { env });
    const doc = json.json();
    assert.deepEqual([doc.approvals.map((a: any) => a.id), doc.next_cursor, doc.total], [pending, null, 145]);
    // One page with --json is the API's answer as it is.
    assert.deepEqual((await cli(['approvals', '--json'], { env })).json(), first);

    const decided = await cli(['approvals', '--status', 'rejected', '--limit', '2'], { env });
    assert.match(decided.out[3]!, /^\(2 of 6 rejected approval requests shown, newest first; older ones: add --cursor \S+, or --all-pages for every one\)$/);

    const bad = await cli(['approvals', '--cursor', 'nope'], { env });
    assert.equal(bad.code, 2);
    // The message names the field already: it is not printed a second time below it.
    assert.deepEqual(bad.err, ['rectify: VALIDATION_FAILED: invalid query: query.cursor: expected the next_cursor of a previous page']);
  });

  it('a page seeks to its cursor through an index (migration 006), with or without a status: no read and sort of every request kept', () => {
    const db = new Database(svc.dbPath, { readonly: true });
    try {
      // The queries of approvalPage (store/sqlite/store.ts), as SQLite plans them.
      const plan = (where: string, ...args: unknown[]) =>
        (db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM approvals WHERE ${where} ORDER BY requested_at DESC, id DESC LIMIT 101`).all(...args) as Array<{ detail: string }>).map((r) => r.detail);
      assert.deepEqual(plan('status = ? AND (requested_at, id) < (?, ?)', 'pending', 1, 'apr_x'), ['SEARCH approvals USING INDEX approvals_listed (status=? AND (requested_at,id)<(?,?))']);
      assert.deepEqual(plan('(requested_at, id) < (?, ?)', 1, 'apr_x'), ['SEARCH approvals USING INDEX approvals_requested ((requested_at,id)<(?,?))']);
    } finally {
      db.close();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createUnavailableAnswers } from '../../src/api/unavailable.js';
import { createManualClock } from '../../src/lib/index.js';
import { createTestLogger } from '../../src/observability/logger.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * A store fault or an overload answers every intake request 503 while it lasts. The
 * log tells it as one story (a line when it starts, at most one a minute while it goes
 * on, a line when requests are answered again), not one error line with its stack per
 * request, which in an alert storm would bury everything else; /metrics shows the
 * fault (rectify_store_fault{kind="transient"}) and counts the 503s by route and code.
 */

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    actions:
      - http: {method: POST, url: "${base}/fix/{service}"}
`;
const broken = (service: string, id?: string) => ({ root_cause: 'broken', service, confidence: 1, ...(id ? { id } : {}) });

type LogRecord = { level: string; msg: string; [k: string]: unknown };
const records = (svc: TestService): LogRecord[] => svc.log.records() as LogRecord[];
const withMsg = (svc: TestService, prefix: string): LogRecord[] => records(svc).filter((r) => r.msg.startsWith(prefix));

async function metricLines(svc: TestService, ...prefixes: string[]): Promise<string[]> {
  const text = String((await svc.get('/metrics')).body);
  return text.split('\n').filter((l) => prefixes.some((p) => l.startsWith(p)));
}

describe('503 answers: told once, summed up, counted', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/fix/after', { status: 200 });
  });
  after(async () => target.close());

  it('a write lock held elsewhere: one error line when the 503s start, one summary a minute, one line when a request is taken again; /metrics shows the fault and counts each 503', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '100ms'], captureLogs: true });
    try {
      assert.deepEqual(await metricLines(svc, 'rectify_store_fault', 'rectify_http_unavailable_total{route="/api/v1/incidents"'), [
        'rectify_store_fault{kind="lasting"} 0',
        'rectify_store_fault{kind="transient"} 0',
        'rectify_http_unavailable_total{route="/api/v1/incidents",code="STORE_UNAVAILABLE"} 0',
        'rectify_http_unavailable_total{route="/api/v1/incidents",code="OVERLOADED"} 0',
        'rectify_http_unavailable_total{route="/api/v1/incidents",code="SHUTTING_DOWN"} 0',
      ]);
      const mark = svc.log.lines.length;
      const other = new Database(svc.dbPath);
      other.exec('BEGIN EXCLUSIVE');
      const send = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const r = await svc.post('/api/v1/incidents?wait=true', broken('locked'));
          assert.deepEqual([r.status, r.body.error.code], [503, 'STORE_UNAVAILABLE']);
        }
      };
      await send(5);
      assert.deepEqual(await metricLines(svc, 'rectify_store_fault', 'rectify_http_unavailable_total{route="/api/v1/incidents",code="STORE_UNAVAILABLE"}'), [
        'rectify_store_fault{kind="lasting"} 0',
        'rectify_store_fault{kind="transient"} 1',
        'rectify_http_unavailable_total{route="/api/v1/incidents",code="STORE_UNAVAILABLE"} 5',
      ]);
      assert.equal(withMsg(svc, 'request failed').length, 0, 'no error line per request');
      const started = withMsg(svc, 'requests are answered 503 STORE_UNAVAILABLE');
      assert.equal(started.length, 1);
      assert.equal(started[0]!.level, 'error');
      assert.equal(started[0]!.code, 'STORE_UNAVAILABLE');
      assert.equal(started[0]!.route, '/api/v1/incidents');
      assert.match(String(started[0]!.cause), /^SQLITE_BUSY: database is locked$/);
      assert.equal(withMsg(svc, 'request answered 503').filter((r) => r.level === 'debug').length, 5, 'each request at debug');
      assert.equal(withMsg(svc, 'more requests answered 503').length, 0, 'no summary within the minute');

      // A minute on: the next 503 writes one summary of those since the first line, then quiet again.
      svc.clock.advance(61_000);
      await send(3);
      const summaries = withMsg(svc, 'more requests answered 503');
      assert.equal(summaries.length, 1);
      assert.deepEqual([summaries[0]!.level, summaries[0]!.msg, summaries[0]!.more], ['warn', 'more requests answered 503 STORE_UNAVAILABLE', 5]);
      assert.match(String(summaries[0]!.cause), /^SQLITE_BUSY: database is locked/);

      // Five minutes with no request at all: whether it ended is not known, so the next 503
      // is told as a start again, with its cause, saying how many came before.
      svc.clock.advance(301_000);
      await send(2);
      const restarted = withMsg(svc, 'requests are answered 503 STORE_UNAVAILABLE');
      assert.equal(restarted.length, 2);
      assert.deepEqual(restarted[1]!.earlier, { answered_503: 8, from: '2026-11-24T03:00:00.000Z', last_cause: 'SQLITE_BUSY: database is locked' });

      other.exec('ROLLBACK');
      other.close();
      // A line was written less than a minute ago: the end waits for the minute to be up.
      assert.equal((await svc.post('/api/v1/incidents?wait=true', broken('after'))).status, 202);
      assert.equal(withMsg(svc, 'requests are answered again after 503').length, 0);
      svc.clock.advance(61_000);
      assert.equal((await svc.post('/api/v1/incidents?wait=true', broken('after'))).status, 202);
      const ended = withMsg(svc, 'requests are answered again after 503');
      assert.equal(ended.length, 1);
      assert.deepEqual([ended[0]!.level, ended[0]!.msg, ended[0]!.answered_503], ['warn', 'requests are answered again after 503 STORE_UNAVAILABLE', 2]);
      await svc.post('/api/v1/incidents?wait=true', broken('after'));
      assert.equal(withMsg(svc, 'requests are answered again after 503').length, 1, 'told once');
      // The whole incident, in warnings and errors: four lines for ten refused requests.
      const start = 'requests are answered 503 STORE_UNAVAILABLE: the database cannot commit (nothing of them is recorded; senders retry)';
      assert.deepEqual(
        records(svc)
          .slice(mark)
          .filter((l) => l.level === 'warn' || l.level === 'error')
          .map((l) => l.msg),
        [start, 'more requests answered 503 STORE_UNAVAILABLE', start, 'requests are answered again after 503 STORE_UNAVAILABLE'],
      );
      assert.deepEqual(await metricLines(svc, 'rectify_store_fault', 'rectify_http_unavailable_total{route="/api/v1/incidents",code="STORE_UNAVAILABLE"}'), [
        'rectify_store_fault{kind="lasting"} 0',
        'rectify_store_fault{kind="transient"} 0',
        'rectify_http_unavailable_total{route="/api/v1/incidents",code="STORE_UNAVAILABLE"} 10',
      ]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('past --max-pending, an overload that comes and goes with each commit: one warning when the OVERLOADED answers start, one a minute on when requests are taken again; counted by code', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '5s', '--max-pending', '1'], captureLogs: true });
    try {
      const other = new Database(svc.dbPath);
      other.exec('BEGIN EXCLUSIVE');
      // The first waits for the lock, holding the one place in the queue.
      const first = svc.post('/api/v1/incidents?wait=true', broken('after', 'FIRST'));
      await until('the first request queued', async () => ((await metricLines(svc, 'rectify_store_pending ')).includes('rectify_store_pending 1') ? true : undefined));
      for (let i = 0; i < 4; i++) {
        const r = await svc.post('/api/v1/incidents?wait=true', broken('after'));
        assert.deepEqual([r.status, r.body.error.code], [503, 'OVERLOADED']);
      }
      const started = withMsg(svc, 'requests are answered 503 OVERLOADED');
      assert.equal(started.length, 1);
      assert.equal(started[0]!.level, 'warn');
      assert.match(String(started[0]!.cause), /^more than 1 writes are waiting to be recorded \(--max-pending 1;/);
      assert.equal(withMsg(svc, 'request failed').length, 0);
      assert.deepEqual(await metricLines(svc, 'rectify_http_unavailable_total{route="/api/v1/incidents",code="OVERLOADED"}'), ['rectify_http_unavailable_total{route="/api/v1/incidents",code="OVERLOADED"} 4']);
      other.exec('ROLLBACK');
      assert.equal((await first).status, 202);
      // An overload that comes and goes with each commit: no line per turn. The end is
      // told once a minute after the last line, the 503s between taken up into it.
      other.exec('BEGIN EXCLUSIVE');
      const second = svc.post('/api/v1/incidents?wait=true', broken('after', 'SECOND'));
      await until('the second request queued', async () => ((await metricLines(svc, 'rectify_store_pending ')).includes('rectify_store_pending 1') ? true : undefined));
      for (let i = 0; i < 2; i++) assert.equal((await svc.post('/api/v1/incidents?wait=true', broken('after'))).body.error.code, 'OVERLOADED');
      other.exec('ROLLBACK');
      other.close();
      assert.equal((await second).status, 202);
      assert.deepEqual(
        records(svc)
          .filter((l) => l.level === 'warn' || l.level === 'error')
          .map((l) => l.msg)
          .filter((m) => m.includes('503')),
        ['requests are answered 503 OVERLOADED: more writes wait to be recorded than --max-pending (nothing of them is recorded; senders retry)'],
      );
      svc.clock.advance(61_000);
      assert.equal((await svc.post('/api/v1/incidents?wait=true', broken('after'))).status, 202);
      const ended = withMsg(svc, 'requests are answered again after 503');
      assert.deepEqual(
        ended.map((l) => [l.msg, l.answered_503]),
        [['requests are answered again after 503 OVERLOADED', 6]],
      );
      assert.deepEqual(await metricLines(svc, 'rectify_http_unavailable_total{route="/api/v1/incidents",code="OVERLOADED"}'), ['rectify_http_unavailable_total{route="/api/v1/incidents",code="OVERLOADED"} 6']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('housekeeping (every 5 s) under a write lock held elsewhere: each failing chore logged once with its error, then at debug, and once when it succeeds again', { timeout: 60_000 }, async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '100ms'], captureLogs: true });
    try {
      const mark = svc.log.lines.length;
      const other = new Database(svc.dbPath);
      other.exec('BEGIN EXCLUSIVE');
      const since = () => records(svc).slice(mark);
      // Two passes at least (5 s apart, by the real clock).
      await until('two failed passes', async () => (since().filter((r) => r.msg === 'prune failed').length >= 2 ? true : undefined), 20_000);
      other.exec('ROLLBACK');
      other.close();
      await until('a pass that succeeds', async () => (since().some((r) => r.msg === 'a housekeeping chore succeeds again' && r.failed === 'prune failed') ? true : undefined), 20_000);
      const levels = (msg: string) => since().filter((r) => r.msg === msg).map((r) => r.level);
      const pruned = levels('prune failed');
      assert.deepEqual([pruned[0], new Set(pruned.slice(1))], ['error', new Set(['debug'])]);
      const expiry = levels('approval expiry failed');
      assert.deepEqual([expiry[0], new Set(expiry.slice(1))], ['error', new Set(['debug'])]);
      const again = since().filter((r) => r.msg === 'a housekeeping chore succeeds again');
      assert.deepEqual(
        again.map((r) => [r.level, r.failed, r.failures]),
        [
          ['info', 'approval expiry failed', expiry.length],
          ['info', 'prune failed', pruned.length],
        ],
      );
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('answered again less than a window after the last line, and then nothing more: the end is told when the window is up', async () => {
    const log = createTestLogger();
    const clock = createManualClock(Date.UTC(2026, 10, 24, 3, 0, 0));
    const counted: string[] = [];
    const answers = createUnavailableAnswers({ log: log.logger, clock, windowMs: 50, count: (route, code) => counted.push(`${route} ${code}`) });
    const err = Object.assign(new Error('the database could not commit; nothing was recorded, retry later'), { cause: Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) });
    for (const reqId of ['r-1', 'r-2', 'r-3']) answers.answered({ code: 'STORE_UNAVAILABLE', route: '/api/v1/webhooks/alertmanager', reqId, method: 'POST', caller: null, err });
    answers.settled('/api/v1/incidents', 202);
    answers.settled('/api/v1/webhooks/alertmanager', 400);
    answers.settled('/api/v1/webhooks/alertmanager', 200);
    const told = () => log.records().filter((r) => r.level !== 'debug').map((r) => [r.msg, r.answered_503 ?? r.cause]);
    assert.deepEqual(told(), [['requests are answered 503 STORE_UNAVAILABLE: the database cannot commit (nothing of them is recorded; senders retry)', 'SQLITE_FULL: database or disk is full']]);
    clock.advance(50);
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(told().slice(1), [['requests are answered again after 503 STORE_UNAVAILABLE', 3]]);
    // Its `to`: when a request was answered again, not when the end was told.
    assert.deepEqual(
      log
        .records()
        .filter((r) => r.answered_503 !== undefined)
        .map((r) => [r.from, r.to]),
      [['2026-11-24T03:00:00.000Z', '2026-11-24T03:00:00.000Z']],
    );
    assert.deepEqual(counted, Array(3).fill('/api/v1/webhooks/alertmanager STORE_UNAVAILABLE'));
  });
});

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { countRows, stormAlert, webhook } from '../storm/helpers.js';

/**
 * The wall clock stepped (NTP after a bad RTC, an operator's `date -s`) rather than time
 * passing, on the manual clock: `step` moves the wall clock alone, `advance` is time
 * passing. Dedup keys and rate-limit rows are pruned by their age; a forward step then
 * corrected must not make rectify forget them, or a re-delivered alert is decided again
 * and its fix runs twice.
 */
const HOUR = 3_600_000;

describe('a wall clock stepped forward, then corrected', () => {
  let target: HttpTarget;
  let svc: TestService;
  const count = (table: string) => countRows(svc.dbPath, `SELECT COUNT(*) AS n FROM ${table}`);
  const deliver = async (n: number) => (await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([stormAlert('ApiDown', 'api', n)]))).body.results[0];

  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());
  beforeEach(async () => {
    target.reset();
    target.route('POST', '/restart/api', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  restart-api:
    risk: LOW
    triggers: [ApiDown]
    min_confidence: 0.5
    max_per_hour: 1
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{service}", expect_status: [200, 299]}
`,
      args: ['--dedup-retention', '1h', '--history-retention', '2h'],
    });
  });
  afterEach(async () => svc.stop({ remove: true }));

  it('a re-delivered alert stays a duplicate and the rate limit still counts its run: the fix runs once', async () => {
    const first = await deliver(1);
    assert.equal(first.action, 'executed');
    // A day forward, housekeeping runs on it, and the clock is put right.
    svc.clock.step(24 * HOUR);
    await svc.service.housekeep();
    svc.clock.step(-24 * HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [1, 1], 'nothing pruned: no time passed');
    const again = await deliver(1);
    assert.deepEqual([again.action, again.incident_id], ['duplicate', first.incident_id]);
    // Another alert for the service: the hour's one run still counts.
    const other = await deliver(2);
    assert.deepEqual([other.action, other.event], ['blocked', 'RATE_LIMITED']);
    assert.equal(target.calls('/restart/api', 'POST'), 1);
    // Time passing still prunes: past the retention the alert is decided again.
    svc.clock.advance(2 * HOUR + 1);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [0, 0]);
    assert.equal((await deliver(1)).action, 'executed');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
  });

  it('a forward step that holds for the longest retention of time passing is taken as the time: pruning then follows it', async () => {
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.step(24 * HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [1, 1], 'the step is not time passed');
    // An alert decided on the stepped clock: its rows carry the stepped time.
    assert.equal((await deliver(2)).action, 'executed');
    svc.clock.advance(HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [2, 2], 'an hour of time passing: both keys are within their retention');
    // Two hours (the history retention, the longest here) after the step, it is taken as
    // the time: every row from before it is past its retention in real time too, and the
    // rows recorded since are judged by the clock that stamped them.
    svc.clock.advance(HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [0, 0]);
  });
});

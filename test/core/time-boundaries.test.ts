import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * The guardrails that count time, at their exact edges, on the manual clock: the
 * sliding hour of max_per_hour, the cooldown, the breaker's recovery wait.
 */
const MIN = 60_000;

function runbook(base: string, id: string, extra: string): string {
  return `
  ${id}:
    risk: LOW
    triggers: [${id}]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${base}/${id}/{service}"}
${extra}`;
}

const incident = (root: string, service: string) => ({ root_cause: root, service, confidence: 0.9 });

describe('time boundaries of the guardrails', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('max_per_hour: a run exactly an hour ago no longer counts; a millisecond less still does', async () => {
    target.reset();
    target.route('POST', '/hourly/a', { status: 200 });
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'hourly', '    max_per_hour: 1\n    cooldown_minutes: 0')}` });
    try {
      const send = () => svc.post('/api/v1/incidents?wait=true', incident('hourly', 'a'));
      assert.equal((await send()).body.action, 'executed');
      svc.clock.advance(60 * MIN - 1);
      const r = await send();
      assert.deepEqual([r.body.event, r.body.reason], ['RATE_LIMITED', 'Rate limit exceeded (1/hour)']);
      const view = async () => {
        const b = (await svc.get('/api/v1/runbooks/hourly')).body;
        return [b.executions_last_hour, b.busiest_service_last_hour];
      };
      assert.deepEqual(await view(), [1, { service: 'a', executions: 1 }]);
      svc.clock.advance(1);
      // The live state counts the hour as the limit does.
      assert.deepEqual(await view(), [0, null]);
      assert.equal((await send()).body.action, 'executed');
      assert.equal(target.calls('/hourly/a', 'POST'), 2);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('cooldown: over exactly cooldown_minutes after the last start; 1 s remaining a second before', async () => {
    target.reset();
    target.route('POST', '/cool/a', { status: 200 });
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'cool', '    max_per_hour: 10\n    cooldown_minutes: 5')}` });
    try {
      const send = () => svc.post('/api/v1/incidents?wait=true', incident('cool', 'a'));
      assert.equal((await send()).body.action, 'executed');
      svc.clock.advance(5 * MIN - 1);
      const r = await send();
      assert.deepEqual([r.body.event, r.body.reason], ['RATE_LIMITED', 'Cooldown active (1s remaining)']);
      svc.clock.advance(1);
      assert.equal((await send()).body.action, 'executed');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a clock set back: the cooldown and the breaker wait longer by the step, never run twice, and their reasons say why', async () => {
    target.reset();
    target.route('POST', '/back/a', { status: 200 });
    target.route('POST', '/backc/a', { status: 500 });
    const svc = await startTestService({
      runbooks: `runbooks:${runbook(target.url, 'back', '    max_per_hour: 100\n    cooldown_minutes: 10')}${runbook(target.url, 'backc', '    max_per_hour: 100\n    cooldown_minutes: 0')}`,
      args: ['--circuit-failure-threshold', '1'],
    });
    try {
      const send = (id: string) => svc.post('/api/v1/incidents?wait=true', incident(id, 'a'));
      const started = svc.clock.now();
      assert.equal((await send('back')).body.event, 'SUCCESS');
      assert.equal((await send('backc')).body.event, 'FAILED');
      const at = new Date(started).toISOString();
      svc.clock.advance(-60 * MIN);
      const cool = await send('back');
      assert.deepEqual([cool.body.event, cool.body.reason], ['RATE_LIMITED', `Cooldown active (4200s remaining; the last run is recorded as started at ${at}, after now: was the clock set back?)`]);
      const open = await send('backc');
      assert.deepEqual([open.body.event, open.body.reason], ['CIRCUIT_OPEN', `Circuit OPEN (too many failures); trial allowed in 3900s (its wait began at ${at}, after now: was the clock set back?)`]);
      // Once the clock reads past the recorded times again, the waits are as ever.
      svc.clock.set(started + MIN);
      assert.equal((await send('back')).body.reason, 'Cooldown active (540s remaining)');
      assert.equal((await send('backc')).body.reason, 'Circuit OPEN (too many failures); trial allowed in 240s');
      svc.clock.set(started + 10 * MIN);
      assert.equal((await send('back')).body.event, 'SUCCESS');
      assert.deepEqual([target.calls('/back/a', 'POST'), target.calls('/backc/a', 'POST')], [2, 1]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('circuit: the trial comes exactly at the recovery time, once among concurrent alerts; the others are told a trial is under way', async () => {
    target.reset();
    target.route('POST', '/brk/a', { status: 500 });
    const svc = await startTestService({ runbooks: `runbooks:${runbook(target.url, 'brk', '    max_per_hour: 100\n    cooldown_minutes: 0')}` });
    try {
      const send = () => svc.post('/api/v1/incidents?wait=true', incident('brk', 'a'));
      for (let i = 0; i < 3; i++) assert.equal((await send()).body.event, 'FAILED');
      svc.clock.advance(5 * MIN - 1);
      const early = await send();
      assert.deepEqual([early.body.event, early.body.reason], ['CIRCUIT_OPEN', 'Circuit OPEN (too many failures); trial allowed in 1s']);
      svc.clock.advance(1);
      const release = holdCalls(target, 'POST', '/brk/a');
      const answers = await Promise.all(Array.from({ length: 20 }, () => svc.post('/api/v1/incidents', incident('brk', 'a'))));
      const executed = answers.filter((a) => a.body.action === 'executed');
      assert.equal(executed.length, 1);
      assert.ok(answers.filter((a) => a.body.action !== 'executed').every((a) => a.body.event === 'CIRCUIT_OPEN' && a.body.reason === 'Circuit HALF_OPEN: a trial run is in progress'));
      assert.equal((await svc.get('/api/v1/runbooks/brk')).body.circuit.state, 'half_open');
      release();
      const trial = executed[0]!.body.execution_id as string;
      await until('the trial to end', async () => ((await svc.get(`/api/v1/executions/${trial}`)).body.state === 'running' ? undefined : true));
      const done = await svc.post(`/api/v1/incidents?wait=true`, incident('brk', 'a'));
      assert.equal(done.body.action, 'executed', 'the trial closed the circuit');
      assert.equal((await svc.get('/api/v1/runbooks/brk')).body.circuit.state, 'closed');
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('time windows keep the wall clock of their zone', () => {
  const windows: Record<string, string> = {
    berlin: '[{start: "01:00", end: "03:00", timezone: Europe/Berlin}]',
    newyork: '[{start: "01:00", end: "03:00", timezone: America/New_York}]',
    repeated: '[{start: "01:00", end: "02:00", timezone: America/New_York}]',
    weeknights: '[{days: mon-fri, start: "22:00", end: "06:00", timezone: Asia/Tokyo}]',
    whole: '[{days: sat, start: "00:00", end: "24:00", timezone: Pacific/Auckland}]',
  };
  const rb = (id: string, w: string) => `
  ${id}:
    risk: LOW
    mode: dry_run
    triggers: [${id}]
    min_confidence: 0.5
    max_per_hour: 1000
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "http://127.0.0.1:9/{service}"}
    windows: ${w}
`;
  /** For each instant (UTC), whether the runbook would act on its own (DRY_RUN) or not (OUTSIDE_WINDOW). */
  async function inside(id: string, instants: string[]): Promise<boolean[]> {
    const svc = await startTestService({ runbooks: `runbooks:${rb(id, windows[id]!)}` });
    try {
      const out: boolean[] = [];
      for (const at of instants) {
        svc.clock.set(Date.parse(at));
        const r = await svc.post('/api/v1/incidents', incident(id, 'a'));
        assert.ok(['DRY_RUN', 'OUTSIDE_WINDOW'].includes(r.body.event), r.body.event);
        out.push(r.body.event === 'DRY_RUN');
      }
      return out;
    } finally {
      await svc.stop({ remove: true });
    }
  }

  it('01:00–03:00 on the day Berlin springs forward (02:00 → 03:00): open from 01:00 to the jump, one hour', async () => {
    // 2026-03-29: 01:00 CET is 00:00Z; 03:00 CEST, a minute after 01:59 CET, is 01:00Z.
    assert.deepEqual(await inside('berlin', ['2026-03-28T23:59:59Z', '2026-03-29T00:00:00Z', '2026-03-29T00:59:59Z', '2026-03-29T01:00:00Z', '2026-03-29T23:00:00Z', '2026-03-30T00:59:59Z', '2026-03-30T01:00:00Z']), [false, true, true, false, true, true, false]);
  });

  it('01:00–03:00 on the day New York springs forward: one hour; on an ordinary day, two', async () => {
    // 2026-03-08: 01:00 EST is 06:00Z, the jump to 03:00 EDT at 07:00Z. The next day 01:00 EDT is 05:00Z.
    assert.deepEqual(await inside('newyork', ['2026-03-08T05:59:59Z', '2026-03-08T06:00:00Z', '2026-03-08T06:59:59Z', '2026-03-08T07:00:00Z', '2026-03-09T05:00:00Z', '2026-03-09T06:59:59Z', '2026-03-09T07:00:00Z']), [false, true, true, false, true, true, false]);
  });

  it('01:00–02:00 on the day New York falls back: open through both 01:00 hours', async () => {
    // 2026-11-01: 01:00 EDT is 05:00Z; 01:00 EST again at 06:00Z; 02:00 EST at 07:00Z.
    assert.deepEqual(await inside('repeated', ['2026-11-01T04:59:59Z', '2026-11-01T05:00:00Z', '2026-11-01T06:30:00Z', '2026-11-01T06:59:59Z', '2026-11-01T07:00:00Z']), [false, true, true, true, false]);
  });

  it('days are the zone\'s days: a window across midnight belongs to the day it starts on, there', async () => {
    // Friday 22:00 in Tokyo is Friday 13:00Z; its Saturday 05:59 is Friday 20:59Z. Monday 03:00 in
    // Tokyo (Sunday 18:00Z) is the end of Sunday's night there: closed; Tuesday 03:00, Monday's: open.
    assert.deepEqual(await inside('weeknights', ['2026-11-27T12:59:59Z', '2026-11-27T13:00:00Z', '2026-11-27T20:59:59Z', '2026-11-27T21:00:00Z', '2026-11-29T18:00:00Z', '2026-11-30T18:00:00Z']), [false, true, true, false, false, true]);
  });

  it('00:00–24:00 is the whole day in the zone, to its last millisecond', async () => {
    // Saturday 2026-11-28 in Auckland (NZDT, +13) is 2026-11-27T11:00Z to 2026-11-28T11:00Z.
    assert.deepEqual(await inside('whole', ['2026-11-27T10:59:59.999Z', '2026-11-27T11:00:00Z', '2026-11-28T10:59:59.999Z', '2026-11-28T11:00:00Z']), [false, true, true, false]);
  });
});

describe('approval expiry at its deadline', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/high/a', { status: 200 });
  });
  after(async () => target.close());
  const high = (base: string) => `runbooks:
  high:
    risk: HIGH
    triggers: [high]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/high/{service}"}
`;

  it('a millisecond before the deadline Approve runs it; at the deadline it is a 409 before any housekeeping, and an alert asks anew', async () => {
    const svc = await startTestService({ runbooks: high(target.url), args: ['--approval-ttl', '10m'] });
    try {
      const a = await svc.post('/api/v1/incidents', { id: 'A1', ...incident('high', 'a') });
      const b = await svc.post('/api/v1/incidents', { id: 'B1', ...incident('high', 'a') });
      assert.equal(b.body.approval_id, a.body.approval_id, 'the same plan joins the request');
      svc.clock.advance(10 * MIN - 1);
      const c = await svc.post('/api/v1/incidents', { id: 'C1', ...incident('high', 'a') });
      assert.equal(c.body.approval_id, a.body.approval_id, 'still pending a millisecond before its deadline');
      svc.clock.advance(1);
      const late = await svc.post(`/api/v1/approvals/${a.body.approval_id}/approve`, { by: 'alice' });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.message, `approval request ${a.body.approval_id} expired at ${new Date(svc.clock.now()).toISOString()}; trigger a new run if the fix is still needed`);
      const d = await svc.post('/api/v1/incidents', { id: 'D1', ...incident('high', 'a') });
      assert.equal(d.body.action, 'approval_required');
      assert.notEqual(d.body.approval_id, a.body.approval_id, 'an expired request is joined by nobody');
      assert.equal(target.calls('/high/a', 'POST'), 0);
      svc.clock.advance(10 * MIN - 1);
      const ok = await svc.post(`/api/v1/approvals/${d.body.approval_id}/approve?wait=true`, { by: 'alice' });
      assert.equal(ok.status, 200);
      assert.equal(target.calls('/high/a', 'POST'), 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

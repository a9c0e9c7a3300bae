import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * A block by a limit that clears by itself is not the alert's last word. Alertmanager
 * sends a firing alert again every repeat_interval: a re-delivery of one blocked
 * BLAST_LIMITED (the engine-wide --max-concurrent-executions, a runbook's blast radius) is
 * decided again, blocked again while the limit holds and run once it has cleared; one
 * blocked RATE_LIMITED (max_per_hour, the cooldown) is decided again once that limit lets
 * it through for its service, and is a `duplicate` (one DUPLICATE row) while it holds, so a
 * storm's re-deliveries inside the hour change nothing but the duplicate count.
 */

const MIN = 60_000;
const runbooks = (base: string) => `runbooks:
  fix-cc:
    risk: LOW
    triggers: [CcThing]
    max_per_hour: 10
    cooldown_minutes: 0
    blast_radius_limit: 10
    action:
      http: {method: POST, url: "${base}/cc/{service}"}
  cool:
    risk: LOW
    triggers: [CoolThing]
    max_per_hour: 10
    cooldown_minutes: 5
    action:
      http: {method: POST, url: "${base}/cool/{service}"}
  hourly:
    risk: LOW
    triggers: [StormThing]
    max_per_hour: 1
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/storm/{service}"}
`;

type Alert = { labels: Record<string, string>; fingerprint: string };
const alert = (alertname: string, service: string, n = 0): Alert => ({ labels: { alertname, service }, fingerprint: `fp-${service}-${n}` });
const decisions = (res: { body: any }) => res.body.results.map((r: any) => [r.action, r.event, r.reason]);
/** How the reasons end: what they say of when the alert is decided again. */
const EACH = "; decided again at the alert's next delivery";
const COOLED = "; decided again at the alert's first delivery after the cooldown is over";
const FREED = "; decided again at the alert's first delivery after this limit frees";

describe('a re-delivery of an alert blocked by a limit that clears by itself', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/cool/c1', { status: 200 });
    target.route('POST', '/storm/r1', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--max-concurrent-executions', '3'] });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const post = (alerts: Alert[]) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
  const ended = (executionId: string) =>
    until(`run ${executionId} ended`, async () => ((await svc.get(`/api/v1/executions/${executionId}`)).body.state !== 'running' ? true : undefined));
  /** The incident's decision rows, oldest first (not its run's steps and end). */
  const auditOf = async (incident: string) =>
    ((await svc.get(`/api/v1/audit?incident_id=${incident}&limit=100`)).body.events as any[])
      .reverse()
      .filter((e) => ['BLAST_LIMITED', 'RATE_LIMITED', 'EXECUTING', 'DUPLICATE'].includes(e.event))
      .map((e) => [e.event, e.details.reason, e.details.decided_again ?? false]);

  it('--max-concurrent-executions: blocked again while the runs hold it, run once they have ended, then a duplicate of that run', async () => {
    const releases = ['cc0', 'cc1', 'cc2'].map((s) => holdCalls(target, 'POST', `/cc/${s}`));
    target.route('POST', '/cc/cc3', { status: 200 });
    const group = ['cc0', 'cc1', 'cc2', 'cc3'].map((s) => alert('CcThing', s));
    const first = await post(group);
    const LIMITED = ['blocked', 'BLAST_LIMITED', `Max concurrent actions (3) reached${EACH}`];
    assert.deepEqual(first.body.results.map((r: any) => r.action), ['executed', 'executed', 'executed', 'blocked']);
    assert.deepEqual(decisions(first)[3], LIMITED);
    const cc3 = first.body.results[3].incident_id;

    // The group again (repeat_interval) while the three runs hold the bound: cc3 blocked again.
    const held = await post(group);
    assert.deepEqual(decisions(held), [
      ['duplicate', 'DUPLICATE', 'already decided: executed (EXECUTING)'],
      ['duplicate', 'DUPLICATE', 'already decided: executed (EXECUTING)'],
      ['duplicate', 'DUPLICATE', 'already decided: executed (EXECUTING)'],
      LIMITED,
    ]);
    assert.equal(held.body.results[3].incident_id, cc3);

    for (const release of releases) release();
    for (const r of first.body.results.slice(0, 3)) await ended(r.execution_id);
    const again = await post(group);
    assert.deepEqual(again.body.results.map((r: any) => [r.action, r.incident_id]).slice(3), [['executed', cc3]]);
    await ended(again.body.results[3].execution_id);
    assert.deepEqual(['cc0', 'cc1', 'cc2', 'cc3'].map((s) => target.calls(`/cc/${s}`, 'POST')), [1, 1, 1, 1]);

    // Decided now: a duplicate of its run, which says how it ended.
    const dup = await post([alert('CcThing', 'cc3')]);
    assert.deepEqual(decisions(dup), [['duplicate', 'DUPLICATE', `already decided: executed (EXECUTING); its run ${again.body.results[3].execution_id} succeeded`]]);
    assert.equal(target.calls('/cc/cc3', 'POST'), 1);
    assert.deepEqual(await auditOf(cc3), [
      ['BLAST_LIMITED', `Max concurrent actions (3) reached${EACH}`, false],
      ['BLAST_LIMITED', `Max concurrent actions (3) reached${EACH}`, true],
      ['EXECUTING', 'risk LOW: guardrails passed', true],
      ['DUPLICATE', `already decided: executed; its run ${again.body.results[3].execution_id} succeeded`, false],
    ]);
  });

  it('a cooldown: a duplicate while it lasts, decided again and run once it is over', async () => {
    const ran = await post([alert('CoolThing', 'c1', 0)]);
    assert.deepEqual(decisions(ran), [['executed', 'EXECUTING', 'risk LOW: guardrails passed']]);
    await ended(ran.body.results[0].execution_id);
    svc.clock.advance(1 * MIN);
    // Another alert for c1 (another fingerprint) inside the 5-minute cooldown.
    const cooled = await post([alert('CoolThing', 'c1', 1)]);
    assert.deepEqual(decisions(cooled), [['blocked', 'RATE_LIMITED', `Cooldown active (240s remaining)${COOLED}`]]);
    const incident = cooled.body.results[0].incident_id;

    svc.clock.advance(3 * MIN);
    assert.deepEqual(decisions(await post([alert('CoolThing', 'c1', 1)])), [['duplicate', 'DUPLICATE', 'already decided: blocked (RATE_LIMITED)']]);
    assert.equal(target.calls('/cool/c1', 'POST'), 1);

    svc.clock.advance(1 * MIN);
    const after = await post([alert('CoolThing', 'c1', 1), alert('CoolThing', 'c1', 1)]);
    assert.deepEqual(after.body.results.map((r: any) => [r.action, r.event, r.incident_id]), [
      ['executed', 'EXECUTING', incident],
      ['duplicate', 'DUPLICATE', incident],
    ]);
    await ended(after.body.results[0].execution_id);
    assert.equal(target.calls('/cool/c1', 'POST'), 2);
    assert.deepEqual(await auditOf(incident), [
      ['RATE_LIMITED', `Cooldown active (240s remaining)${COOLED}`, false],
      ['DUPLICATE', 'already decided: blocked', false],
      ['EXECUTING', 'risk LOW: guardrails passed', true],
      ['DUPLICATE', 'already decided: executed', false],
    ]);
  });

  it('max_per_hour: a storm re-delivered inside the hour is duplicates only; past it one alert is decided again and runs, the rest stay duplicates', async () => {
    const storm = [0, 1, 2, 3, 4].map((n) => alert('StormThing', 'r1', n));
    const first = await post(storm);
    const LIMITED = ['blocked', 'RATE_LIMITED', `Rate limit exceeded (1/hour)${FREED}`];
    assert.deepEqual(decisions(first), [['executed', 'EXECUTING', 'risk LOW: guardrails passed'], LIMITED, LIMITED, LIMITED, LIMITED]);
    await ended(first.body.results[0].execution_id);
    const dupsBefore = (await svc.get('/api/v1/audit?event=DUPLICATE&limit=1000')).body.events.length;

    svc.clock.advance(30 * MIN);
    const inside = await post(storm);
    assert.deepEqual(decisions(inside), [
      ['duplicate', 'DUPLICATE', `already decided: executed (EXECUTING); its run ${first.body.results[0].execution_id} succeeded`],
      ...[1, 2, 3, 4].map(() => ['duplicate', 'DUPLICATE', 'already decided: blocked (RATE_LIMITED)']),
    ]);
    const dups = (await svc.get('/api/v1/audit?event=DUPLICATE&limit=1000')).body.events;
    assert.equal(dups.length - dupsBefore, 5, 'one DUPLICATE row per re-delivery');
    assert.equal((await svc.get('/api/v1/audit?event=RATE_LIMITED&runbook=hourly&limit=1000')).body.events.length, 4, 'no block recorded again');

    svc.clock.advance(31 * MIN);
    const past = await post(storm);
    assert.deepEqual(past.body.results.map((r: any) => [r.action, r.incident_id]), [
      ['duplicate', first.body.results[0].incident_id],
      ['executed', first.body.results[1].incident_id],
      ...[2, 3, 4].map((i) => ['duplicate', first.body.results[i].incident_id]),
    ]);
    assert.deepEqual(decisions(past).slice(2), [2, 3, 4].map(() => ['duplicate', 'DUPLICATE', 'already decided: blocked (RATE_LIMITED)']));
    await ended(past.body.results[1].execution_id);
    assert.equal(target.calls('/storm/r1', 'POST'), 2);
  });
});

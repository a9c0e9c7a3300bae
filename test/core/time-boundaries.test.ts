import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
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
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      target.route('POST', '/brk/a', async () => {
        await gate;
        return { status: 200 };
      });
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

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { cli } from './capture.js';

const RUNBOOKS = `runbooks:
  restart-api:
    risk: LOW
    triggers: [CrashLoopBackOff]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "http://127.0.0.1:9/restart/{pod_name}"}
`;

const HEADER = 'SEQ     AT                    EVENT                   RUNBOOK                INCIDENT/EXECUTION              ACTOR            DETAIL';
const ROW = (seq: number, detail: string) => `${String(seq).padEnd(7)} 2026-11-24T03:00:00Z  SERVICE_PAUSED          -                      -                               ops              ${detail}`;
const NOTE = '(details longer than 100 characters are cut, ending in …: add --json to print them whole)';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`gave up waiting for ${what}`);
}

describe('rectify audit: a DETAIL cut to fit the table says so, and where the whole text is', () => {
  let svc: TestService;
  let env: Record<string, string>;
  const long = `${'disk pressure on every node of the checkout pool, '.repeat(3)}see INC-4411`;
  const exactly100 = 'one hundred characters fit whole: '.padEnd(100, '.');
  before(async () => {
    svc = await startTestService({ runbooks: RUNBOOKS, args: ['--listen', '127.0.0.1:0'] });
    env = { RECTIFY_SERVER: await svc.service.listen() };
    // SERVICE_PAUSED rows 1, 3 and 5 (each resume is the row after).
    for (const reason of [long, 'maintenance', exactly100]) {
      assert.equal((await cli(['pause', '--by', 'ops', '--reason', reason], { env })).code, 0);
      assert.equal((await cli(['resume', '--by', 'ops'], { env })).code, 0);
    }
  });
  after(() => svc.stop({ remove: true }));

  it('a cut detail ends in … and one line under the table points to --json, which has it whole', async () => {
    const t = await cli(['audit', '--event', 'service_paused'], { env });
    assert.equal(t.code, 0);
    assert.deepEqual(t.out, [
      HEADER,
      ROW(1, 'disk pressure on every node of the checkout pool, disk pressure on every node of the checkout pool,…'),
      ROW(3, 'maintenance'),
      ROW(5, exactly100),
      NOTE,
    ]);
    assert.deepEqual(t.err, []);
    const j = await cli(['audit', '--event', 'service_paused', '--json'], { env });
    assert.deepEqual(j.json().events.map((e: { details: unknown }) => e.details), [{ reason: exactly100 }, { reason: 'maintenance' }, { reason: long }]);
  });

  it('no note when nothing was cut (a detail of exactly 100 characters is whole); the older-rows line is unchanged', async () => {
    const t = await cli(['audit', '--event', 'service_paused', '--limit', '2'], { env });
    assert.equal(t.code, 0);
    assert.deepEqual(t.out, [HEADER, ROW(3, 'maintenance'), ROW(5, exactly100), '(older rows: add --cursor 3)']);
  });

  it('--follow says it once, under the rows, when the tail ends', async () => {
    const stop = new AbortController();
    const out: string[] = [];
    const running = cli(['audit', '--follow', '--event', 'service_paused', '--interval', '20ms'], { env, signal: stop.signal, out });
    await until(() => out.length === 4, 'the header and three rows');
    assert.ok(!out.includes(NOTE), 'not in the middle of the rows');
    stop.abort();
    assert.equal((await running).code, 0);
    assert.deepEqual(out, [HEADER, ROW(1, 'disk pressure on every node of the checkout pool, disk pressure on every node of the checkout pool,…'), ROW(3, 'maintenance'), ROW(5, exactly100), NOTE]);
  });
});

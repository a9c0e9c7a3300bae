import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { cli } from './capture.js';

const LISTEN = '127.0.0.1:22601';

const runbooks = (base: string) => `runbooks:
  restart-api:
    risk: LOW
    triggers: [CrashLoopBackOff]
    max_per_hour: 50
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/restart/{pod_name}"}
`;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`gave up waiting for ${what}`);
}

describe('audit --follow across a service restarted on another database', () => {
  it('says the log restarted (seq went back) and prints the new log’s rows, which have lower seqs', async () => {
    const target = await startHttpTarget();
    target.route('POST', '/restart/api-1', { status: 200 });
    const env = { RECTIFY_SERVER: `http://${LISTEN}` };
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--listen', LISTEN] });
    const stop = new AbortController();
    try {
      await svc.service.listen();
      for (const id of ['INC-A1', 'INC-A2']) {
        const d = await svc.post('/api/v1/incidents?wait=true', { id, root_cause: 'CrashLoopBackOff', service: 'api', context: { pod_name: 'api-1' } });
        assert.equal(d.body.action, 'executed');
      }
      const out: string[] = [];
      const running = cli(['audit', '--follow', '--limit', '1', '--interval', '20ms', '--json'], { env, signal: stop.signal, out });
      await until(() => out.length === 1, 'the first row');
      const lastOld = (JSON.parse(out[0]!) as { seq: number }).seq;
      // The service is replaced by one on a fresh database at the same address.
      await svc.stop({ remove: true });
      svc = await startTestService({ runbooks: runbooks(target.url), args: ['--listen', LISTEN] });
      await svc.service.listen();
      const d = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-B1', root_cause: 'CrashLoopBackOff', service: 'api', context: { pod_name: 'api-1' } });
      assert.equal(d.body.action, 'executed');
      const newest = (await svc.get('/api/v1/audit?limit=1')).body.events[0].seq as number;
      assert.ok(newest < lastOld, `the new log is shorter (${newest} < ${lastOld})`);
      await until(() => out.some((l) => l.includes('"SUCCESS"') && l.includes('INC-B1')), 'the new log’s SUCCESS row');
      stop.abort();
      const r = await running;
      assert.equal(r.code, 0);
      const rows = out.slice(1).map((l) => JSON.parse(l) as { seq: number; incident_id: string | null });
      // Every row of the new log, oldest first: none skipped for having a seq at or under the old one.
      assert.deepEqual(rows.map((e) => e.seq), Array.from({ length: newest }, (_, i) => i + 1));
      assert.ok(rows.every((e) => e.incident_id === 'INC-B1' || e.incident_id === null), JSON.stringify(rows));
      // Said once, on stderr, when the service answers again (how far the new log had got by then depends on when it was polled).
      const said = r.err.filter((l) => l.startsWith('rectify: the audit log restarted'));
      assert.equal(said.length, 1, r.err.join('\n'));
      const m = /^rectify: the audit log restarted: seq went back from (\d+) to (\d+); following the new log$/.exec(said[0]!);
      assert.ok(m && Number(m[1]) === lastOld && Number(m[2]) <= newest, said[0]);
      assert.equal(r.err[r.err.indexOf(said[0]!) - 1], 'rectify: the service answers again');
    } finally {
      stop.abort();
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { type RecordedRequest } from '../helpers/http-target.js';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { amWebhook } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * A storm's repeated decisions are told once per runbook and service, and the repeats
 * counted into a summary told when the window ends (--notify-repeat-window, 5 minutes).
 * The counts live in memory: a kill -9 before the window ends must not lose them. The
 * next start counts them again from the audit log (after the filter's last checkpoint)
 * and tells the summary owed, with the exact count, once: not again after a clean stop
 * and another start.
 */

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 1
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;

const RESTART_NOTE = ' (told at a restart: rectify stopped before this summary was due)';
const json = (r: RecordedRequest) => r.json() as Record<string, any>;

describe('kill -9 in a storm of repeats: the summary owed is told at the next start, with the exact count, once', () => {
  const rig = useRectifyProcesses('rectify-told-again-repeats-', runbooks);
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`]);
  const storm = async (p: RectifyProcess, service: string, from: number, n: number): Promise<string[]> => {
    const alerts = Array.from({ length: n }, (_, i) => ({ labels: { alertname: 'broken', service, n: String(from + i) }, fingerprint: `${service}-${from + i}` }));
    const r = await p.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
    assert.equal(r.status, 202);
    return r.body.results.map((x: { incident_id: string }) => x.incident_id);
  };
  /** What the filter's checkpoint holds, as the process wrote it to the database. */
  const checkpoint = (): { through: number; state: { windows: Array<[string, { repeats: number }]> } } | undefined => {
    const db = new Database(rig.db, { readonly: true });
    try {
      const row = db.prepare("SELECT value FROM settings WHERE key = 'notify_repeats'").get() as { value: string } | undefined;
      return row ? JSON.parse(row.value) : undefined;
    } finally {
      db.close();
    }
  };
  const summaries = (since: number) => rig.target.requests('/hook').filter((r) => r.at >= since && json(r).repeated !== undefined);

  it('49 RATE_LIMITED repeats counted (28 in a checkpoint, 21 after it), then SIGKILL: one summary of 49 after the restart, none after the next', async () => {
    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/act/shop', { status: 200 });
    rig.target.route('POST', '/act/cart', { status: 200 });
    let proc = await start();

    // The first alert runs (max_per_hour 1); the second is RATE_LIMITED and told; 28 more are counted.
    const first = await storm(proc, 'shop', 0, 30);
    const told = await rig.target.waitForRequest('/hook', { timeoutMs: 20_000, where: (r) => json(r).event === 'RATE_LIMITED' });
    assert.deepEqual([json(told).incident_id, json(told).repeated], [first[1], undefined]);
    // A housekeeping pass writes the filter's state, the 28 among it.
    await until('a checkpoint holding the 28 repeats', async () => (checkpoint()?.state.windows.some(([, w]) => w.repeats === 28) ? true : undefined), 20_000);
    // 21 more after the checkpoint, then the kill: what the process counted of them is in memory only.
    const second = await storm(proc, 'shop', 30, 21);
    await proc.kill9();
    assert.deepEqual(summaries(0), [], 'the window (5 minutes) had not ended: no summary was told before the kill');

    const restarted = Date.now();
    proc = await start();
    const [summary] = await until('the summary owed', async () => (summaries(restarted).length ? summaries(restarted) : undefined), 20_000);
    const s = json(summary!);
    assert.deepEqual([s.event, s.outcome, s.runbook, s.service, s.repeated, s.incident_id], ['RATE_LIMITED', 'blocked', 'fix', 'shop', 49, second[20]]);
    assert.match(s.reason, /^49 more RATE_LIMITED decision\(s\) for fix on shop since \d{4}-\d\d-\d\dT[\d:.]+Z; the latest: /);
    assert.ok(s.reason.endsWith(RESTART_NOTE), s.reason);
    // Nothing else of the storm is told again: the decisions told one by one were told.
    assert.equal(rig.target.requests('/hook').filter((r) => r.at >= restarted && json(r).event === 'RATE_LIMITED').length, 1);
    const cp = checkpoint()!;
    assert.deepEqual(cp.state.windows, [], 'nothing owed once told');

    // A clean stop and another start: told once, never again. A decision told one by one
    // after the start is queued behind anything that start told.
    assert.equal(await proc.stop(), 0);
    const again = Date.now();
    proc = await start();
    const cart = await storm(proc, 'cart', 0, 2);
    await rig.target.waitForRequest('/hook', { since: again, timeoutMs: 20_000, where: (r) => json(r).incident_id === cart[1] });
    assert.deepEqual(summaries(again), [], 'no summary told twice');
    assert.equal(summaries(0).length, 1);
    await proc.stop();
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { beforeEach, describe, it } from 'node:test';
import { postRunbook, runbooksFile } from '../helpers/runbooks.js';
import { useServiceWithTarget, type TestService } from '../helpers/service.js';

const fixture = () => JSON.parse(readFileSync(new URL('../fixtures/payloads/incident-triggered.json', import.meta.url), 'utf8'));

/** An incident's events, in the order they happened (occurred_at one second apart): trigger, resolve, reopen, resolve, reopen. */
const EVENTS = [
  { name: 'T', type: 'incident.triggered' },
  { name: 'R1', type: 'incident.resolved' },
  { name: 'O1', type: 'incident.reopened' },
  { name: 'R2', type: 'incident.resolved' },
  { name: 'O2', type: 'incident.reopened' },
].map((e, i) => ({ ...e, at: i + 1 }));
type Ev = (typeof EVENTS)[number];

function orders<T>(a: T[]): T[][] {
  if (a.length <= 1) return [a];
  return a.flatMap((x, i) => orders([...a.slice(0, i), ...a.slice(i + 1)]).map((rest) => [x, ...rest]));
}

// Regression: resolves were placed on occurrences in the order they came, and a reopen
// was told from a late one only when its occurrence had no firing yet. Delivered
// T R2 R1 O1 (or R2 R1 T O1), the reopen asked for its fix on an incident resolved already.
describe('PagerDuty: events delivered in any order are decided by when they happened', () => {
  let svc: TestService;
  // Every delivery order opens its own request for one runbook: more than --max-pending-approvals' default.
  const on = useServiceWithTarget({
    runbooks: (t) => runbooksFile(postRunbook('failover', { trigger: 'db_down', url: `${t.url}/failover/{service}`, maxPerHour: 1000 })),
    args: ['--max-pending-approvals', '1000'],
  });
  beforeEach(() => ({ svc } = on));
  let k = 0;

  /**
   * Delivers `order`, each event answered as its occurred_at says: a trigger or reopen asks
   * for approval unless an event delivered before it happened after it (then `resolved`,
   * asking nothing); a resolve is `resolved`, and ends the occurrence of the latest firing
   * known that happened before it (its request cancelled). After each delivery, the alerts
   * open in pending requests are the firings that asked and have not ended.
   */
  async function deliver(order: Ev[]): Promise<string[]> {
    k++;
    const incident = `PORD${k}`;
    const service = `svc-ord-${k}`;
    const asked = new Set<string>();
    const ended = new Set<string>();
    const delivered: Ev[] = [];
    const got: string[] = [];
    const want: string[] = [];
    for (const ev of order) {
      const body = fixture();
      body.event.id = `${incident}-${ev.name}`;
      body.event.event_type = ev.type;
      body.event.data.id = incident;
      body.event.data.title = 'db_down on x';
      body.event.data.service.summary = service;
      body.event.occurred_at = new Date(Date.UTC(2026, 10, 24, 3, 0, ev.at)).toISOString();
      const r = await svc.post('/api/v1/webhooks/pagerduty?wait=true', body);
      assert.equal(r.status, 202);
      const res = r.body.results[0];
      const firing = ev.type !== 'incident.resolved';
      const acts = firing && !delivered.some((d) => d.at > ev.at);
      if (acts) asked.add(ev.name);
      delivered.push(ev);
      if (!firing) {
        // It ends the occurrence of the latest firing known that happened before it, if that one has not ended.
        const latest = delivered.filter((d) => d.type !== 'incident.resolved' && d.at < ev.at).sort((a, b) => b.at - a.at)[0];
        if (latest) ended.add(latest.name);
      }
      const open = [...asked].filter((f) => !ended.has(f)).length;
      const pending = (await svc.get('/api/v1/approvals?status=pending&limit=500')).body.approvals.filter((a: { service: string }) => a.service === service);
      const openNow = pending.reduce((n: number, a: { alerts_open: number }) => n + a.alerts_open, 0);
      got.push(`${ev.name}:${res.action} open=${openNow}`);
      want.push(`${ev.name}:${acts ? 'approval_required' : 'resolved'} open=${open}`);
      svc.clock.advance(1000);
    }
    assert.deepEqual(got, want, `delivered ${order.map((e) => e.name).join(' ')}`);
    return got;
  }

  it('trigger, resolve, reopen, resolve: all 24 orders', async () => {
    for (const order of orders(EVENTS.slice(0, 4))) await deliver(order);
  });

  it('trigger, resolve, reopen, resolve, reopen: all 120 orders', async () => {
    for (const order of orders(EVENTS)) await deliver(order);
  });

  it('T R2 R1 O1 and R2 R1 T O1: the reopen, resolved already, asks nothing and says why', async () => {
    for (const names of [['T', 'R2', 'R1', 'O1'], ['R2', 'R1', 'T', 'O1']]) {
      const got = await deliver(names.map((n) => EVENTS.find((e) => e.name === n)!));
      assert.equal(got[3], 'O1:resolved open=0');
    }
  });
});

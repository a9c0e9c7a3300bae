import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastOccurrence, OCCURRENCE_WINDOW, placePagerdutyOccurrence } from '../../src/engine/occurrence.js';
import { pagerdutyToIncidents } from '../../src/ingest/pagerduty.js';
import type { IncidentRow, StoredDecision } from '../../src/store/ports.js';

/**
 * An incident reopened thousands of times (a flapping check): each of its events is
 * placed among its latest occurrences, found in a few lookups, not by reading every
 * occurrence it ever had (work that grew with each reopen, inside the decision
 * transaction). Placed by the engine's own function over a table of rows kept and
 * pruned as the store does: by dedup key, kept the retention from their last read.
 */

const MIN = 60_000;

/** The rows placePagerdutyOccurrence reads, by dedup key, pruned as the store prunes them; and how many reads and writes one event made. */
function rows(retentionMs: number) {
  const byKey = new Map<string, { id: string; labels: Record<string, string>; received: number; seen: number }>();
  const byId = new Map<string, string>();
  const work = { lookups: 0, touches: 0 };
  const tx = {
    decisionByDedup(key: string): StoredDecision | undefined {
      work.lookups++;
      const r = byKey.get(key);
      return r ? { incident_id: r.id, action: 'manual', event: 'NO_RUNBOOK', runbook: null, approval_id: null, execution_id: null } : undefined;
    },
    getIncident(id: string): IncidentRow | undefined {
      work.lookups++;
      const key = byId.get(id);
      return key ? ({ incident: { labels: byKey.get(key)!.labels } } as unknown as IncidentRow) : undefined;
    },
    incidentSeen(id: string, at: number): void {
      work.touches++;
      const r = byKey.get(byId.get(id)!);
      if (r) r.seen = Math.max(r.seen, at);
    },
  };
  let n = 0;
  return {
    tx,
    work,
    /** Places a PagerDuty event and records it as the engine would (a re-delivery records nothing); its dedup key. */
    place(eventId: string, type: string, occurredAt: number, now: number): string {
      const body = { event: { id: eventId, event_type: type, occurred_at: new Date(occurredAt).toISOString(), data: { id: 'PFLAP1', title: 'Flap', service: { summary: 'flappy' } } } };
      const [incident] = pagerdutyToIncidents(body, { now, newId: () => `inc-${++n}` }).incidents;
      work.lookups = 0;
      work.touches = 0;
      const placed = placePagerdutyOccurrence(tx, incident!, now).incident;
      if (!byKey.has(placed.dedup_key)) {
        byKey.set(placed.dedup_key, { id: placed.id, labels: placed.labels, received: now, seen: 0 });
        byId.set(placed.id, placed.dedup_key);
      }
      return placed.dedup_key;
    },
    /** As housekeeping: a row neither received nor read within the retention is deleted. */
    prune(now: number): void {
      for (const [key, r] of byKey) if (r.received < now - retentionMs && r.seen < now - retentionMs) byKey.delete(key);
    },
    keys: () => byKey.size,
  };
}

describe('PagerDuty: an incident reopened many times', () => {
  it('each resolve ends the reopen before it, and each reopen is the next occurrence (exact keys), after 1,500 reopens; one event reads a bounded number of rows', () => {
    const store = rows(24 * 60 * MIN);
    let at = Date.UTC(2026, 10, 24);
    assert.equal(store.place('T', 'incident.triggered', at, at), 'pd:PFLAP1:firing');
    const perEvent: number[] = [];
    for (let i = 1; i <= 1500; i++) {
      at += 1000;
      assert.equal(store.place(`R${i}`, 'incident.resolved', at, at), i === 1 ? 'pd:PFLAP1:resolved' : `pd:PFLAP1#${i - 1}:resolved`, `resolve ${i}`);
      perEvent.push(store.work.lookups);
      at += 1000;
      assert.equal(store.place(`O${i}`, 'incident.reopened', at, at), `pd:PFLAP1#${i}:firing`, `reopen ${i}`);
      perEvent.push(store.work.lookups);
    }
    // A re-delivery of the latest reopen, and of one 3 occurrences back: where they were recorded.
    assert.equal(store.place('O1500', 'incident.reopened', at, at), 'pd:PFLAP1#1500:firing');
    assert.equal(store.place('R1498', 'incident.resolved', at - 5000, at), 'pd:PFLAP1#1497:resolved');
    at += 1000;
    assert.equal(store.place('R-last', 'incident.resolved', at, at), 'pd:PFLAP1#1500:resolved');
    // The last event read about what the hundredth did: the latest occurrences and the
    // first (two rows and their incidents each), and two probes of two lookups per binary
    // digit of 1,500 (11), not four lookups per occurrence.
    const bound = 4 * (OCCURRENCE_WINDOW + 1) + 4 * 12;
    assert.ok(store.work.lookups <= bound, `${store.work.lookups} lookups`);
    assert.ok(Math.max(...perEvent) <= bound, `${Math.max(...perEvent)} lookups`);
    assert.ok(perEvent.slice(-100).every((n) => n >= 4 * (OCCURRENCE_WINDOW + 1)), 'the latest occurrences are read');
  });

  it('flapping for days past the dedup retention: older occurrences are forgotten by their own age, and every reopen is still the next occurrence', () => {
    const store = rows(60 * MIN);
    let at = Date.UTC(2026, 10, 24);
    store.place('T', 'incident.triggered', at, at);
    for (let i = 1; i <= 600; i++) {
      at += 5 * MIN;
      assert.equal(store.place(`R${i}`, 'incident.resolved', at, at), i === 1 ? 'pd:PFLAP1:resolved' : `pd:PFLAP1#${i - 1}:resolved`, `resolve ${i}`);
      at += 5 * MIN;
      assert.equal(store.place(`O${i}`, 'incident.reopened', at, at), `pd:PFLAP1#${i}:firing`, `reopen ${i}`);
      store.prune(at);
    }
    // Kept: the first occurrence, the latest ones, and those that find the last (a few per binary digit).
    assert.ok(store.keys() <= 2 * (1 + OCCURRENCE_WINDOW + 2 * 10), `${store.keys()} rows kept`);
    // Nothing for longer than the retention: all forgotten, and a reopen starts again at #1.
    at += 2 * 60 * MIN;
    store.prune(at);
    assert.equal(store.keys(), 0);
    assert.equal(store.place('O-again', 'incident.reopened', at, at), 'pd:PFLAP1#1:firing');
  });

  it('lastOccurrence finds the last of 0 to 5,000 occurrences, in two probes per binary digit at most', () => {
    for (let last = 0; last <= 5000; last++) {
      const probed: number[] = [];
      const found = lastOccurrence((n) => {
        probed.push(n);
        return n <= last;
      });
      assert.equal(found, last);
      assert.ok(probed.length <= 2 * Math.max(1, Math.ceil(Math.log2(last + 1))) + 1, `${last}: ${probed.length} probes`);
    }
  });
});

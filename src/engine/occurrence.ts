import type { Incident } from '../domain/index.js';
import type { StoredDecision, Tx } from '../store/ports.js';

/** The alert key of a PagerDuty incident's n-th occurrence: its first firing keeps the plain key, each reopen counts one up. */
const occurrenceKey = (base: string, n: number): string => (n === 0 ? base : `${base}#${n}`);

/** One event of the incident recorded already: the decision that recorded it, and when PagerDuty says it happened. */
interface Known {
  decision: StoredDecision;
  event: string | undefined;
  at: number;
}

/** Where a PagerDuty event was placed; `later` when it is a trigger or reopen that a known event of its incident happened after. */
export interface Placed {
  incident: Incident;
  later?: { decision: StoredDecision; event: string | undefined; at: number };
}

/**
 * Places a PagerDuty event in the occurrence it belongs to: an alert key and a dedup key
 * per occurrence of the PagerDuty incident (`pd:<id>`, then `pd:<id>#1`, `pd:<id>#2`…),
 * so a reopen is decided as a new alert and its resolve resolves it (cancels its
 * pending approval). Read here, in the decision transaction, as ingest does no I/O.
 *
 * PagerDuty does not deliver in order, so every event is placed by when it happened
 * (`occurred_at`) among the incident's events known already (all its occurrences' rows):
 *
 * - A trigger or reopen acts only if no known event of its incident happened after it.
 *   Otherwise the incident has moved on since (resolved, or reopened again, and that
 *   event decided already): it is answered `resolved` and acts on nothing (`later`
 *   names the event). Placed on an occurrence that has a resolve and no firing yet, or
 *   one after the last, so a re-delivery of it finds it.
 * - A trigger or reopen that acts is the occurrence after the last one (the trigger
 *   keeps the plain key when it is the first).
 * - A resolve ends the occurrence of the latest firing that happened before it (at the
 *   same time: the first of them still open). If that one has ended already (the
 *   reopen the resolve ends is still on its way: it is answered `resolved` when it
 *   comes) or none is known, the resolve takes the first occurrence without a resolve
 *   whose firing did not happen after it, which may be one after the last.
 *
 * Without `occurred_at` nothing is after an event: a trigger or reopen acts, and a
 * resolve ends the first occurrence without one, in the order they came.
 *
 * A re-delivery is the same event (`event.id`, kept as the `pagerduty_event` label):
 * placed on the row that recorded it, so it is answered `duplicate`.
 *
 * The rows walked are kept the dedup retention from the event placed (`now`), so an
 * incident's occurrences are forgotten together, once nothing about it has come for
 * that long (then a reopen is a new occurrence again). Each event takes at most one
 * row, so an incident keeps no more rows than events came within the retention.
 *
 * `incident` is the one ingest made (its keys as ingest set them), so an input decided
 * again after its I/O is placed again, among the events known then.
 */
export function placePagerdutyOccurrence(tx: Pick<Tx, 'decisionByDedup' | 'getIncident' | 'incidentSeen'>, incident: Incident, now: number): Placed {
  const base = incident.alert_key;
  const event = incident.labels.pagerduty_event;
  if (incident.source !== 'pagerduty' || !event || base !== `pd:${incident.labels.pagerduty_incident}`) return { incident };
  const firingEvent = incident.status === 'firing';
  const trigger = firingEvent && incident.dedup_key === `${base}:firing`;
  const place = (n: number, status: 'firing' | 'resolved'): Incident => ({
    ...incident,
    alert_key: occurrenceKey(base, n),
    dedup_key: `${occurrenceKey(base, n)}:${status}`,
  });
  const at = (labels: Record<string, string> | undefined): number => Date.parse(labels?.pagerduty_occurred_at ?? '');
  const known = (key: string): Known | undefined => {
    const d = tx.decisionByDedup(key);
    if (!d) return undefined;
    // Each row walked is kept the dedup retention from now, as a re-delivery keeps its
    // own: pruned by its own age, the first occurrence's rows went while a later one's
    // stayed, and the next reopen was placed among what was left.
    tx.incidentSeen(d.incident_id, now);
    const labels = tx.getIncident(d.incident_id)?.incident.labels;
    return { decision: d, event: labels?.pagerduty_event, at: at(labels) };
  };
  // The incident's occurrences, first to last. The first may be missing (forgotten, and
  // reopened since, which starts at #1); after it they follow one another.
  const slots: Array<{ firing?: Known; resolve?: Known }> = [];
  for (let n = 0; ; n++) {
    const firing = known(`${occurrenceKey(base, n)}:firing`);
    const resolve = known(`${occurrenceKey(base, n)}:resolved`);
    if (!firing && !resolve && n > 0) break;
    slots.push({ ...(firing ? { firing } : {}), ...(resolve ? { resolve } : {}) });
  }
  if (slots.length === 1 && !slots[0]!.firing && !slots[0]!.resolve) slots.length = 0;
  // A re-delivery: where it was recorded.
  for (const [n, s] of slots.entries()) {
    if (s.firing?.event === event) return { incident: place(n, 'firing') };
    if (s.resolve?.event === event) return { incident: place(n, 'resolved') };
  }
  const t = at(incident.labels);
  const next = slots.length;
  if (firingEvent) {
    let later: Known | undefined;
    for (const s of slots) for (const k of [s.firing, s.resolve]) if (k && k.at > t && (!later || k.at < later.at)) later = k;
    if (!later) {
      if (trigger && !slots[0]?.firing) return { incident: place(0, 'firing') };
      return { incident: place(Math.max(next, 1), 'firing') };
    }
    // Stored where a re-delivery finds it: the trigger's own occurrence, or one ended
    // already and not fired yet, or one after the last.
    let n = trigger && !slots[0]?.firing ? 0 : slots.findIndex((s) => s.resolve && !s.firing);
    if (n < 0) n = next;
    return { incident: place(n, 'firing'), later: { decision: later.decision, event: later.event, at: later.at } };
  }
  let latest = -Infinity;
  for (const s of slots) if (s.firing && s.firing.at <= t && s.firing.at > latest) latest = s.firing.at;
  const open = slots.findIndex((s) => s.firing !== undefined && s.firing.at === latest && !s.resolve);
  if (open >= 0) return { incident: place(open, 'resolved') };
  // An open occurrence whose firing happened before the latest: that one ended before
  // the latest fired (its resolve on its way), not by this resolve.
  const free = slots.findIndex((s) => !s.resolve && (!s.firing || Number.isNaN(t) || Number.isNaN(s.firing.at)));
  return { incident: place(free >= 0 ? free : next, 'resolved') };
}

import type { Incident } from '../domain/index.js';
import type { StoredDecision, Tx } from '../store/ports.js';

/** The alert key of a PagerDuty incident's (or a startsAt-less Alertmanager alert's) n-th occurrence: its first firing keeps the plain key, each reopen counts one up. */
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
 * (`occurred_at`) among the incident's events known already (the rows of its first
 * occurrence and of its latest OCCURRENCE_WINDOW, the last found by lastOccurrence: so
 * an event costs the same after thousands of reopens as after a few):
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
 * The rows read are kept the dedup retention from the event placed (`now`): the
 * first occurrence's, the latest ones' and those that find the last. They are forgotten
 * together once nothing about the incident has come for that long (then a reopen is a
 * new occurrence again); older occurrences' rows go by their own age meanwhile, as
 * nothing is placed on them. Each event takes at most one row, so an incident keeps no
 * more rows than events came within the retention.
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
  // Whether occurrence n is known (either of its rows), keeping its rows the retention from now.
  const exists = (n: number): boolean => {
    let found = false;
    for (const status of ['firing', 'resolved'] as const) {
      const d = tx.decisionByDedup(`${occurrenceKey(base, n)}:${status}`);
      if (!d) continue;
      tx.incidentSeen(d.incident_id, now);
      found = true;
    }
    return found;
  };
  const last = lastOccurrence(exists);
  // The incident's occurrences, first to last: the first (it may be missing: forgotten,
  // and reopened since, which starts at #1), then the latest OCCURRENCE_WINDOW of them.
  // The ones between, older, ended long ago: nothing is placed on them.
  const slots: Array<{ n: number; firing?: Known; resolve?: Known }> = [];
  for (const n of [0, ...range(Math.max(1, last - OCCURRENCE_WINDOW + 1), last)]) {
    const firing = known(`${occurrenceKey(base, n)}:firing`);
    const resolve = known(`${occurrenceKey(base, n)}:resolved`);
    if (!firing && !resolve && n > 0) continue;
    slots.push({ n, ...(firing ? { firing } : {}), ...(resolve ? { resolve } : {}) });
  }
  if (slots.length === 1 && !slots[0]!.firing && !slots[0]!.resolve) slots.length = 0;
  // A re-delivery: where it was recorded.
  for (const sl of slots) {
    if (sl.firing?.event === event) return { incident: place(sl.n, 'firing') };
    if (sl.resolve?.event === event) return { incident: place(sl.n, 'resolved') };
  }
  const t = at(incident.labels);
  const next = slots.length ? Math.max(last, slots[slots.length - 1]!.n) + 1 : 0;
  const first = slots.find((sl) => sl.n === 0);
  if (firingEvent) {
    let later: Known | undefined;
    for (const sl of slots) for (const k of [sl.firing, sl.resolve]) if (k && k.at > t && (!later || k.at < later.at)) later = k;
    if (!later) {
      if (trigger && !first?.firing) return { incident: place(0, 'firing') };
      return { incident: place(Math.max(next, 1), 'firing') };
    }
    // Stored where a re-delivery finds it: the trigger's own occurrence, or one ended
    // already and not fired yet, or one after the last.
    const n = trigger && !first?.firing ? 0 : (slots.find((sl) => sl.resolve && !sl.firing)?.n ?? next);
    return { incident: place(n, 'firing'), later: { decision: later.decision, event: later.event, at: later.at } };
  }
  let latest = -Infinity;
  for (const sl of slots) if (sl.firing && sl.firing.at <= t && sl.firing.at > latest) latest = sl.firing.at;
  const open = slots.find((sl) => sl.firing !== undefined && sl.firing.at === latest && !sl.resolve);
  if (open) return { incident: place(open.n, 'resolved') };
  // An open occurrence whose firing happened before the latest: that one ended before
  // the latest fired (its resolve on its way), not by this resolve.
  const free = slots.find((sl) => !sl.resolve && (!sl.firing || Number.isNaN(t) || Number.isNaN(sl.firing.at)));
  return { incident: place(free ? free.n : next, 'resolved') };
}

/** How long after its resolve a firing delivery of an Alertmanager occurrence is still taken for an HA pair's or a retry's. */
export const FIRING_AFTER_RESOLVE_MS = 60_000;

/**
 * Places an Alertmanager alert sent without a startsAt (or an empty one; Alertmanager
 * always sends one, other senders to its route may not) in the occurrence it belongs
 * to. Its occurrence is named by the fingerprint alone (`am:<fp>:`), so without this
 * every later firing of the label set shared the key of the first, decided (and
 * resolved) already: answered `duplicate`, never decided again. So its occurrences
 * are numbered as a PagerDuty incident's are (`am:<fp>:`, then `am:<fp>:#1`, `#2`…):
 *
 * - A firing delivery that comes more than FIRING_AFTER_RESOLVE_MS after the last
 *   occurrence's resolve was recorded, when that occurrence had a firing recorded too,
 *   is a new occurrence, decided as usual. One within it (an HA pair's or a retry's
 *   copy of the firing just resolved) is that occurrence's, answered as a firing after
 *   its resolve is. When the occurrence's firing was recorded after its resolve (a late
 *   one, below), the time runs from that firing instead.
 * - A firing delivery of an occurrence with a resolve and no firing recorded (its
 *   firing refused, say 503 OVERLOADED, and retried after the resolve got through) is
 *   that occurrence's late firing, however late: answered `resolved`, nothing runs, as
 *   for an alert with a startsAt.
 * - Any other delivery is the last occurrence's: a firing one while it fires is a
 *   `duplicate`, a resolve resolves it (a copy of that resolve is a `duplicate`).
 *
 * The last occurrence is looked for only once the first has a resolve (a later one is
 * made only after its previous one's resolve), found as lastOccurrence finds a
 * PagerDuty incident's; the rows read are kept the dedup retention from `now`, the
 * first occurrence's with them, so they are forgotten together. An alert with a
 * startsAt is returned as it is: its startsAt names its occurrence.
 */
export function placeAlertmanagerOccurrence(tx: Pick<Tx, 'decisionByDedup' | 'getIncident' | 'incidentSeen'>, incident: Incident, now: number): Placed {
  const base = incident.alert_key;
  if (incident.source !== 'alertmanager' || base === undefined || !base.endsWith(':')) return { incident };
  const rows = (n: number): { firing: StoredDecision | undefined; resolved: StoredDecision | undefined } => {
    const key = occurrenceKey(base, n);
    const firing = tx.decisionByDedup(`${key}:firing`);
    const resolved = tx.decisionByDedup(`${key}:resolved`);
    for (const d of [firing, resolved]) if (d) tx.incidentSeen(d.incident_id, now);
    return { firing, resolved };
  };
  const first = rows(0);
  const last = first.resolved ? lastOccurrence((n) => {
    const r = rows(n);
    return r.firing !== undefined || r.resolved !== undefined;
  }) : 0;
  const { firing, resolved } = last === 0 ? first : rows(last);
  let n = last;
  // Only an occurrence that had a firing decided and a resolve is over: one with a resolve
  // alone (its firing refused, say 503 OVERLOADED, and retried after the resolve got
  // through) takes this firing as its own late one, answered `resolved` as with a startsAt.
  if (incident.status === 'firing' && resolved && firing) {
    const received = (d: StoredDecision): number | undefined => tx.getIncident(d.incident_id)?.incident.received_at;
    const resolvedAt = received(resolved);
    // Timed from the later of its resolve and its firing: a late firing recorded after the
    // resolve keeps its own copies (an HA pair's, a retry's) within the minute.
    const at = resolvedAt === undefined ? undefined : Math.max(resolvedAt, received(firing) ?? resolvedAt);
    if (at === undefined || now - at > FIRING_AFTER_RESOLVE_MS) n = last + 1;
  }
  if (n === 0) return { incident };
  const key = occurrenceKey(base, n);
  return { incident: { ...incident, alert_key: key, dedup_key: `${key}:${incident.status}` } };
}

/** The occurrence an alert delivery belongs to: a PagerDuty event's (placePagerdutyOccurrence), an Alertmanager alert's without a startsAt (placeAlertmanagerOccurrence). */
export function placeOccurrence(tx: Pick<Tx, 'decisionByDedup' | 'getIncident' | 'incidentSeen'>, incident: Incident, now: number): Placed {
  return incident.source === 'alertmanager' ? placeAlertmanagerOccurrence(tx, incident, now) : placePagerdutyOccurrence(tx, incident, now);
}

/** The integers from `from` to `to`, both included (none when `to` is below `from`). */
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/**
 * How many of an incident's latest occurrences an event is placed among (besides the
 * first): PagerDuty delivers out of order by seconds, not by this many reopens.
 */
export const OCCURRENCE_WINDOW = 16;

/**
 * The number of the incident's last occurrence (0 when it has none after the first),
 * in about two lookups per binary digit of it, not one per occurrence: a flapping
 * incident reopened thousands of times costs each of its events what a few did.
 *
 * Its rows found here are kept the retention from now (`exists` does), and they are
 * what finds it the next time: every power of two up to it (1, 2, 4… found first,
 * the first absent one giving its top digit), then each digit below, set when the
 * number with it set is known. The numbers probed and known are the powers of two up
 * to the last and the last's own binary prefixes (10110 → 10000, 10100, 10110), and
 * the next occurrence's prefixes are the last's or itself: so none of them has been
 * pruned while the incident still had events within the retention, whatever older
 * occurrences were. An occurrence beyond the last is never known, so a probe of one
 * is absent, as the search expects.
 */
export function lastOccurrence(exists: (n: number) => boolean): number {
  if (!exists(1)) return 0;
  let top = 1;
  // 2^52 occurrences cannot come: the bound only ends the loop.
  while (top < 2 ** 52 && exists(top * 2)) top *= 2;
  let last = top;
  for (let bit = top / 2; bit >= 1; bit /= 2) if (exists(last + bit)) last += bit;
  return last;
}

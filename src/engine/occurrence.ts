import type { Incident } from '../domain/index.js';
import type { Tx } from '../store/ports.js';

/** The alert key of a PagerDuty incident's n-th occurrence: its first firing keeps the plain key, each reopen counts one up. */
const occurrenceKey = (base: string, n: number): string => (n === 0 ? base : `${base}#${n}`);

/**
 * Places a PagerDuty `incident.resolved` or `incident.reopened` event in the occurrence
 * it belongs to: an alert key and a dedup key per occurrence of the PagerDuty incident
 * (`pd:<id>`, then `pd:<id>#1`, `pd:<id>#2`… after each reopen), so a reopen is decided
 * as a new alert and the next resolve resolves it (cancels its pending approval).
 *
 * PagerDuty says nothing in a resolve that names the reopen it ends, and ingest does no
 * I/O, so this is read here, in the decision transaction: occurrences are resolved in
 * order, so the first one without a resolve is the open one. A resolve takes it; a
 * reopen opens the one after the last resolve (at least the first reopen's, so a reopen
 * that overtook the resolve before it is still a new occurrence, and that resolve still
 * ends the first one). The traps on either side: keeping one key for all occurrences
 * answers a reopen `resolved` (its firing looks like a late delivery of an alert
 * resolved already) and a second resolve `duplicate` (its reopen's request is never
 * cancelled); a key per event id alone leaves the resolve unable to find its reopen.
 *
 * PagerDuty does not deliver in order. Two reopens with no resolve between them are two
 * occurrences (PagerDuty reopens only a resolved incident: the resolve between them is
 * on its way, and takes the first). A reopen that happened (`occurred_at`) before a
 * resolve already placed on an occurrence no reopen has reached yet belongs to that
 * occurrence, which has ended: it is answered `resolved`, not decided. Without
 * `occurred_at` on both, the reopen is a new occurrence.
 *
 * A re-delivery is the same event (`event.id`, kept as the `pagerduty_event` label):
 * one met on the way is placed on the row that recorded it, so it is answered
 * `duplicate` however many occurrences came after it. The first trigger is not placed:
 * it is occurrence 0 (`pd:<id>:firing`), and one arriving after a resolve is answered
 * `resolved` as any late firing delivery is.
 *
 * The rows walked are kept the dedup retention from the event placed (`now`), so an
 * incident's occurrences are forgotten together, once nothing about it has come for
 * that long: then a reopen is a new occurrence again.
 */
export function placePagerdutyOccurrence(tx: Pick<Tx, 'decisionByDedup' | 'getIncident' | 'incidentSeen'>, incident: Incident, now: number): Incident {
  const base = incident.alert_key;
  const event = incident.labels.pagerduty_event;
  // Placed already (an input decided again after its I/O) or not a PagerDuty event: as it is.
  if (incident.source !== 'pagerduty' || !event || base !== `pd:${incident.labels.pagerduty_incident}`) return incident;
  const reopen = incident.status === 'firing';
  if (reopen && incident.dedup_key === `${base}:firing`) return incident;
  const place = (n: number, status: 'firing' | 'resolved'): Incident => ({
    ...incident,
    alert_key: occurrenceKey(base, n),
    dedup_key: `${occurrenceKey(base, n)}:${status}`,
  });
  const labelsOf = (key: string): Record<string, string> | null | undefined => {
    const d = tx.decisionByDedup(key);
    if (!d) return undefined;
    // The walk starts at the first occurrence: each row it passes is kept the dedup
    // retention from now, as a re-delivery keeps its own. Pruned by its own age, the
    // first occurrence's rows went while a later one's stayed, and the next reopen was
    // placed on that later occurrence: answered `duplicate`, no fix, nobody told.
    tx.incidentSeen(d.incident_id, now);
    return tx.getIncident(d.incident_id)?.incident.labels ?? null;
  };
  const recorded = (labels: Record<string, string> | null | undefined): 'same' | 'other' | undefined =>
    labels === undefined ? undefined : labels?.pagerduty_event === event ? 'same' : 'other';
  const at = (labels: Record<string, string> | null | undefined): number => Date.parse(labels?.pagerduty_occurred_at ?? '');
  const occurredAt = at(incident.labels);
  // A reopen's occurrence whose resolve came first (the reopen still on its way):
  // the first such occurrence ended after this reopen happened.
  let endedAlready: number | undefined;
  let n = 0;
  for (;;) {
    const firing = recorded(labelsOf(`${occurrenceKey(base, n)}:firing`));
    if (firing === 'same') return place(n, 'firing');
    const resolveLabels = labelsOf(`${occurrenceKey(base, n)}:resolved`);
    const resolve = recorded(resolveLabels);
    // Nothing of the first occurrence, but a reopen's: the incident was forgotten (the
    // dedup retention) and reopened since, which starts at #1. A resolve placed on the
    // first occurrence would not end that reopen (its approval request left pending).
    // Unless the resolve happened before that reopen: then it is the first occurrence's,
    // delivered after the reopen, and its trigger is still on its way.
    if (n === 0 && firing === undefined && resolve === undefined) {
      const reopened = labelsOf(`${occurrenceKey(base, 1)}:firing`);
      if (reopened !== undefined && (reopen || !(at(reopened) > occurredAt))) {
        n = 1;
        continue;
      }
    }
    if (resolve === undefined) break;
    if (resolve === 'same') return place(n, 'resolved');
    if (reopen && n > 0 && firing === undefined && endedAlready === undefined && at(resolveLabels) >= occurredAt) endedAlready = n;
    n++;
  }
  // That occurrence's firing delivered late: answered `resolved`, as any late firing
  // delivery is, rather than decided as an occurrence after the one it belongs to.
  if (endedAlready !== undefined) return place(endedAlready, 'firing');
  if (!reopen) return place(n, 'resolved');
  // Occurrences from the first unresolved one that have their firing already (the
  // resolves between them still on their way: PagerDuty reopens only a resolved
  // incident): this reopen is the one after them, or a re-delivery of one of them.
  for (;;) {
    const firing = recorded(labelsOf(`${occurrenceKey(base, n)}:firing`));
    if (firing === undefined) break;
    if (firing === 'same') return place(n, 'firing');
    n++;
  }
  return place(Math.max(n, 1), 'firing');
}

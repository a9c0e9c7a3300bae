import { z } from 'zod';
import { evenSpacing, quoteUntrusted, UNREADABLE_NAME_CHAR_RE, UNREADABLE_SERVICE_MESSAGE } from '../domain/index.js';
import { impossibleTime, parseRfc3339, wellFormed } from '../lib/index.js';
import { UNKNOWN_SERVICE } from './alertmanager.js';
import { cutText, ingestProblem, MAX_ROOT_CAUSE, MAX_SERVICE, type IngestResult } from './common.js';

/** PagerDuty V3 webhook event. Only the fields rectify reads are described; the rest are ignored. */
export const pagerdutyWebhookSchema = z.object({
  event: z.object({
    id: z.string().min(1).max(128),
    event_type: z.string().min(1),
    resource_type: z.string().optional(),
    occurred_at: z
      .string()
      .optional()
      .describe('when it happened: an RFC 3339 time that exists (2026-11-24T03:14:02.169Z, or with an offset); another is refused for an incident event (400 naming it)'),
    // Optional here: PagerDuty's own test events (pagey.ping) carry no incident.
    data: z.object({
      id: z.string().min(1).max(128).optional(),
      type: z.string().optional(),
      title: z.string().optional(),
      status: z.string().optional(),
      urgency: z.string().optional(),
      html_url: z.string().optional(),
      incident_key: z.string().nullable().optional(),
      // Required of a trigger or a reopen (below), not of a resolve, which needs only the incident id.
      service: z.object({ id: z.string().optional(), summary: z.string().optional() }).optional(),
    }),
  }),
});
export type PagerdutyWebhook = z.infer<typeof pagerdutyWebhookSchema>;

/** As long as a generic incident's root cause and service may be; longer text is cut, not refused (the alert is kept). */
const MAX_TITLE = MAX_ROOT_CAUSE;
/** Symptoms taken from a title, as many as a generic incident may list, each at most this long. */
const MAX_WORDS = 100;
const MAX_WORD = 64;


/** Title words, so a trigger such as `high_cpu` matches "high_cpu on worker". */
function titleWords(title: string): string[] {
  const words = new Set<string>();
  for (const w of title.split(/[^A-Za-z0-9_.:-]+/)) {
    if (w.length === 0 || w.length > MAX_WORD) continue;
    words.add(w);
    if (words.size >= MAX_WORDS) break;
  }
  return [...words];
}

/** The event types rectify acts on; others (acknowledged, annotated, priority_updated…) are acknowledged and ignored. */
const HANDLED = new Set(['incident.triggered', 'incident.reopened', 'incident.resolved']);

/**
 * `incident.triggered` becomes an incident to decide on; `incident.resolved`
 * resolves it (and cancels its pending approval); `incident.reopened`, a resolved
 * incident firing again, is a new occurrence decided as a trigger is, which the next
 * resolve resolves. Other event types are acknowledged and ignored. Root cause is the
 * incident title; its words are symptoms, so runbook triggers match words of the title.
 * A trigger or reopen needs a title and a service summary; a resolve, only `data.id`.
 * An incident id holding `#` is refused: it would name another incident's reopen.
 *
 * The event id (`pagerduty_event` label) tells a re-delivery from a new event; which
 * occurrence a reopen or resolve belongs to is read by the engine
 * (engine/occurrence.ts), as this has no I/O. A reopen's dedup key here is its event's
 * until then.
 */
export function pagerdutyToIncidents(body: PagerdutyWebhook, opts: { now: number; newId: () => string }): IngestResult {
  const ev = body.event;
  const type = ev.event_type;
  if (!HANDLED.has(type)) return { incidents: [], problems: [] };
  const data = ev.data;
  if (!data.id) return { incidents: [], problems: [ingestProblem('event.data.id', 'required: the PagerDuty incident id')] };
  // PagerDuty's incident ids are letters and digits (PGR0VU2). A `#` would make one
  // incident's key another's reopen (`pd:P1#1` is P1's first reopen, engine/occurrence.ts):
  // its resolve would cancel P1's request. Refused, so nothing of it is decided.
  if (data.id.includes('#')) return { incidents: [], problems: [ingestProblem('event.data.id', 'must not contain "#": a PagerDuty incident id is letters and digits')] };
  // When PagerDuty says it happened (deliveries are not in order): a reopen delivered
  // after the resolve that ended it is told by it (engine/occurrence.ts). An RFC 3339
  // time that exists, as PagerDuty writes it; any other is refused, naming why: read by
  // Date.parse, 2026-02-30 was March 2nd, "07/12/2026 09:00" a local July 12th, and an
  // unreadable one was taken as absent, each placing the event among others wrongly.
  const occurred = ev.occurred_at === undefined ? undefined : parseRfc3339(ev.occurred_at);
  if (ev.occurred_at !== undefined && occurred === undefined) {
    const why = impossibleTime(ev.occurred_at) ?? `expected an RFC 3339 time such as 2026-11-24T03:00:00Z, got ${quoteUntrusted(ev.occurred_at)}`;
    return { incidents: [], problems: [ingestProblem('event.occurred_at', why)] };
  }
  // A resolve needs only the incident id: the occurrence it ends is found by it
  // (engine/occurrence.ts), and nothing is decided from its title or service. Refused
  // for want of them, it would be dropped (a 4xx is not retried), its approval left pending.
  const resolve = type === 'incident.resolved';
  // A blank summary ("" or spaces) names no service: as if there were none. So does one
  // holding a control or invisible character (`api\u200b` reads as `api`, but would count
  // its limits apart): a trigger is refused naming why, a resolve is recorded as below.
  const given = data.service?.summary;
  const unreadable = given !== undefined && UNREADABLE_NAME_CHAR_RE.test(given);
  const summary = given?.trim() && !unreadable ? given : undefined;
  if (!summary && !resolve) {
    return { incidents: [], problems: [ingestProblem('event.data.service.summary', unreadable ? UNREADABLE_SERVICE_MESSAGE : 'required: the PagerDuty service names the service to remediate')] };
  }
  // Well formed as the store keeps it (a lone surrogate, or a pair a cut split, as one U+FFFD),
  // as in a generic incident: the guardrails read back from the store must find the key this
  // decision compares with, and the incident decided is the one read back.
  // A resolve without one is recorded under the service `unknown`, as an alert without one is.
  // `"api "` or `api\u00a0` names `api`: read evenly spaced (evenSpacing), as Alertmanager's label is.
  const service = summary ? wellFormed(cutText(evenSpacing(summary), MAX_SERVICE)) : UNKNOWN_SERVICE;
  // Made well formed once cut (below): its words hold no surrogate (see titleWords).
  const fullTitle = data.title ?? '';
  if (!fullTitle && !resolve) return { incidents: [], problems: [ingestProblem('event.data.title', 'required: the incident title is its root cause')] };
  // A resolve without a title is recorded under its event type.
  const title = fullTitle ? wellFormed(cutText(fullTitle, MAX_TITLE)) : type;
  const status = resolve ? 'resolved' : 'firing';
  const labels: Record<string, string> = { service, pagerduty_incident: wellFormed(data.id), pagerduty_event: wellFormed(ev.id) };
  if (data.urgency) labels.urgency = wellFormed(cutText(data.urgency, 64));
  if (occurred !== undefined) labels.pagerduty_occurred_at = new Date(occurred).toISOString();
  return {
    incidents: [
      {
        id: opts.newId(),
        source: 'pagerduty',
        root_cause: title,
        confidence: 1,
        service,
        services: [service],
        symptoms: titleWords(fullTitle).filter((w) => w !== title),
        context: { ...labels },
        labels,
        status,
        dedup_key: type === 'incident.reopened' ? `pd:${labels.pagerduty_incident}:reopened:${labels.pagerduty_event}` : `pd:${labels.pagerduty_incident}:${status}`,
        alert_key: `pd:${labels.pagerduty_incident}`,
        received_at: opts.now,
      },
    ],
    problems: [],
  };
}

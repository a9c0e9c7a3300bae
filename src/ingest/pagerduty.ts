import { z } from 'zod';
import { ingestProblem, type IngestResult } from './common.js';

/** PagerDuty V3 webhook event. Only the fields rectify reads are described; the rest are ignored. */
export const pagerdutyWebhookSchema = z.object({
  event: z.object({
    id: z.string().min(1).max(128),
    event_type: z.string().min(1),
    resource_type: z.string().optional(),
    occurred_at: z.string().optional(),
    data: z.object({
      id: z.string().min(1).max(128),
      type: z.string().optional(),
      title: z.string().optional(),
      status: z.string().optional(),
      urgency: z.string().optional(),
      html_url: z.string().optional(),
      incident_key: z.string().nullable().optional(),
      service: z.object({ id: z.string().optional(), summary: z.string().min(1) }).optional(),
    }),
  }),
});
export type PagerdutyWebhook = z.infer<typeof pagerdutyWebhookSchema>;

/** Title words, so a trigger such as `high_cpu` matches "high_cpu on worker". */
function titleWords(title: string): string[] {
  return [...new Set(title.split(/[^A-Za-z0-9_.:-]+/).filter((w) => w.length > 0))];
}

/**
 * `incident.triggered` becomes an incident to decide on; `incident.resolved`
 * resolves it (and cancels its pending approval). Other event types are
 * acknowledged and ignored. Root cause is the incident title; its words are
 * symptoms, so runbook triggers match words of the title.
 */
export function pagerdutyToIncidents(body: PagerdutyWebhook, opts: { now: number; newId: () => string }): IngestResult {
  const ev = body.event;
  const type = ev.event_type;
  if (type !== 'incident.triggered' && type !== 'incident.resolved') return { incidents: [], problems: [] };
  const data = ev.data;
  const service = data.service?.summary;
  if (!service) return { incidents: [], problems: [ingestProblem('event.data.service.summary', 'required: the PagerDuty service names the service to remediate')] };
  const title = data.title ?? '';
  if (!title) return { incidents: [], problems: [ingestProblem('event.data.title', 'required: the incident title is its root cause')] };
  const status = type === 'incident.resolved' ? 'resolved' : 'firing';
  const labels: Record<string, string> = { service, pagerduty_incident: data.id };
  if (data.urgency) labels.urgency = data.urgency;
  return {
    incidents: [
      {
        id: opts.newId(),
        source: 'pagerduty',
        root_cause: title,
        confidence: 1,
        service,
        services: [service],
        symptoms: titleWords(title).filter((w) => w !== title),
        context: { ...labels },
        labels,
        status,
        dedup_key: `pd:${data.id}:${status}`,
        alert_key: `pd:${data.id}`,
        received_at: opts.now,
      },
    ],
    problems: [],
  };
}

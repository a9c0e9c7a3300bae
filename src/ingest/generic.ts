import { z } from 'zod';
import type { Incident } from '../domain/index.js';
import { boundedMap, type IngestResult } from './common.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** The normalised incident (spec §2). `service` or `services` is required. */
export const incidentSchema = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected 1–128 characters of A–Z, a–z, 0–9, ".", "_", ":" or "-"')
      .optional(),
    root_cause: z.string().min(1).max(256),
    confidence: z.number().min(0).max(1).default(1),
    service: z.string().min(1).max(253).optional(),
    services: z.array(z.string().min(1).max(253)).min(1).optional(),
    symptoms: z.array(z.string().max(256)).max(100).default([]),
    context: boundedMap(scalar).default({}),
    labels: boundedMap(z.string()).default({}),
    status: z.enum(['firing', 'resolved']).default('firing'),
  })
  .refine((v) => v.service !== undefined || v.services !== undefined, {
    message: 'required: give "service" or "services"',
    path: ['service'],
  });
export type IncidentInput = z.infer<typeof incidentSchema>;

export function genericToIncident(body: IncidentInput, opts: { now: number; newId: () => string; source?: Incident['source'] }): IngestResult {
  const service = body.service ?? body.services![0]!;
  const services = body.services ?? [service];
  if (!services.includes(service)) services.unshift(service);
  const context: Record<string, string> = {};
  for (const [k, v] of Object.entries(body.context)) context[k] = String(v);
  // The alert this incident reports: a posted id names it; a resolve for that id is a new row of its own.
  const alertId = body.id ?? opts.newId();
  const id = body.id && body.status === 'resolved' ? opts.newId() : alertId;
  return {
    incidents: [
      {
        id,
        source: opts.source ?? 'api',
        root_cause: body.root_cause,
        confidence: body.confidence,
        service,
        services,
        symptoms: body.symptoms,
        context,
        labels: { ...body.labels },
        status: body.status,
        ...(body.labels.alertname ? { alertname: body.labels.alertname } : {}),
        // An incident posted with an id is decided once for that id; without one, every post is new.
        dedup_key: body.id ? `api:${body.id}:${body.status}` : `api:${id}`,
        alert_key: `api:${alertId}`,
        received_at: opts.now,
      },
    ],
    problems: [],
  };
}

import type { ErrorDetail, Incident } from '../domain/index.js';

export interface IngestResult {
  incidents: Incident[];
  /** Field paths of required values that are missing or wrong: the request is refused whole. */
  problems: ErrorDetail[];
}

export function ingestProblem(path: string, message: string): ErrorDetail {
  return { path, message };
}

/** A confidence from a label or annotation: a number in [0, 1]; absent means 1.0. */
export function parseConfidence(raw: unknown): number | undefined {
  if (raw === undefined || raw === null || raw === '') return 1;
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isFinite(n) || n < 0 || n > 1) return undefined;
  return n;
}

/**
 * Values for placeholders: context first, then labels (spec §3), then the
 * incident's own `service` and `incident_id` when neither names them.
 */
export function placeholderValues(incident: Pick<Incident, 'context' | 'labels' | 'service' | 'id'>): Record<string, string> {
  const values = { service: incident.service, incident_id: incident.id, ...incident.labels };
  // An Alertmanager alert's context is its labels, the same map: spread once.
  return incident.context === incident.labels ? values : { ...values, ...incident.context };
}

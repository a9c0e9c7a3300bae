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

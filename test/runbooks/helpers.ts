import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';
import type { Incident } from '../../src/domain/incident.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');
/** Paths relative to the repo root, so problem lines read as an operator would see them. */
export const rel = (...parts: string[]): string => relative(process.cwd(), join(ROOT, ...parts)) || '.';
export const FIXTURES = rel('test', 'fixtures', 'runbooks');
/** The seed's exercise file, kept unchanged as a fixture (the bundled runbooks/ is the library). */
export const SEED_RUNBOOKS = rel('test', 'fixtures', 'seed');
/** The bundled runbook library. */
export const LIBRARY = rel('runbooks');

export function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'INC001',
    source: 'api',
    root_cause: 'CrashLoopBackOff',
    confidence: 0.95,
    service: 'api-server',
    services: ['api-server'],
    symptoms: [],
    context: {},
    labels: {},
    status: 'firing',
    dedup_key: 'k',
    received_at: 0,
    ...over,
  };
}

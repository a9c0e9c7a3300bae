/**
 * The storms rectify is measured under, and the targets each must meet. Sizes are
 * in requests; `quick` sizes are for a fast look (`npm run bench -- --quick`).
 */
export interface Scenario {
  name: string;
  title: string;
  mode: 'storm' | 'sequential';
  connections: number;
  alertsPerBody: number;
  duplicateRatio: number;
  runbooks: 'storm' | 'many';
  services: number;
  size: { warmup: number; requests: number };
  quick: { warmup: number; requests: number };
  /** Long run: total alerts, and a memory sample every `every` alerts. */
  long?: { total: number; every: number; quickTotal: number; quickEvery: number };
}

export const RUNBOOKS_MANY = 1_000;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'single',
    title: 'single-alert storm (1 alert/body, 64 senders)',
    mode: 'storm',
    connections: 64,
    alertsPerBody: 1,
    duplicateRatio: 0,
    runbooks: 'storm',
    services: 200,
    size: { warmup: 20_000, requests: 200_000 },
    quick: { warmup: 5_000, requests: 40_000 },
  },
  {
    name: 'batched',
    title: 'batched storm (100 alerts/body, 16 senders)',
    mode: 'storm',
    connections: 16,
    alertsPerBody: 100,
    duplicateRatio: 0,
    runbooks: 'storm',
    services: 200,
    size: { warmup: 300, requests: 4_000 },
    quick: { warmup: 100, requests: 1_000 },
  },
  {
    name: 'huge',
    title: 'one huge group (10,000 alerts/body, one at a time)',
    mode: 'sequential',
    connections: 1,
    alertsPerBody: 10_000,
    duplicateRatio: 0,
    runbooks: 'storm',
    services: 200,
    size: { warmup: 2, requests: 7 },
    quick: { warmup: 1, requests: 3 },
  },
  {
    name: 'duplicates',
    title: '50% re-deliveries (100 alerts/body, 16 senders)',
    mode: 'storm',
    connections: 16,
    alertsPerBody: 100,
    duplicateRatio: 0.5,
    runbooks: 'storm',
    services: 200,
    size: { warmup: 300, requests: 4_000 },
    quick: { warmup: 100, requests: 1_000 },
  },
  {
    name: 'runbooks',
    title: `${RUNBOOKS_MANY.toLocaleString('en-US')} runbooks loaded (100 alerts/body, 16 senders)`,
    mode: 'storm',
    connections: 16,
    alertsPerBody: 100,
    duplicateRatio: 0,
    runbooks: 'many',
    services: 200,
    size: { warmup: 300, requests: 4_000 },
    quick: { warmup: 100, requests: 1_000 },
  },
  {
    name: 'long',
    title: 'long run (100 alerts/body, 16 senders), memory sampled',
    mode: 'storm',
    connections: 16,
    alertsPerBody: 100,
    duplicateRatio: 0,
    runbooks: 'storm',
    services: 200,
    size: { warmup: 0, requests: 0 },
    quick: { warmup: 0, requests: 0 },
    long: { total: 1_000_000, every: 100_000, quickTotal: 100_000, quickEvery: 10_000 },
  },
];

/**
 * What queueing one notification costs on the event loop as a receiver's queue grows past
 * its bound (approval requests are kept beyond it): the time per notify() with 500, 2,000
 * and 8,000 waiting for a receiver that holds its first delivery. Should stay flat.
 *
 *   npx tsx bench/notify-queue.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNotifyQueue, createWebhookNotifier, type NotificationEvent } from '../src/notify/index.js';
import { createTestLogger } from '../src/observability/index.js';

// A receiver that reads each request and never answers: everything else waits.
const server = createServer(() => undefined);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

const event = (i: number, kind: 'request' | 'outcome'): NotificationEvent => ({
  event: kind === 'request' ? 'APPROVAL_REQUIRED' : 'FAILED',
  incident_id: `inc${i}`,
  runbook: 'fix',
  service: `svc${i}`,
  execution_id: null,
  approval_id: kind === 'request' ? `apr_${i}` : null,
  outcome: kind === 'request' ? 'approval_required' : 'failed',
  reason: 'r',
  at: 0,
});

for (const waiting of [500, 2_000, 8_000]) {
  const q = createNotifyQueue({
    notifiers: [createWebhookNotifier(url, undefined, { receiverKey: 'bench' })],
    log: createTestLogger({ capture: false }).logger,
    record: async () => undefined,
    attemptTimeoutMs: 600_000,
    dropReportMs: 600_000,
  });
  let i = 0;
  while (i < waiting) q.notify(event(i++, 'request'));
  const measured = 2_000;
  const t0 = performance.now();
  // Half requests, half outcomes (each dropping the oldest outcome past the bound).
  for (let n = 0; n < measured; n++) q.notify(event(i++, n % 2 === 0 ? 'request' : 'outcome'));
  const perNotify = (performance.now() - t0) / measured;
  console.log(`${waiting} waiting: ${(perNotify * 1_000).toFixed(1)} µs per notify()`);
  await q.close();
}
server.closeAllConnections();
server.close();

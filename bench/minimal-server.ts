/**
 * The design floor: the smallest service that keeps the storm targets' durability
 * rule, on the webhook path. Fastify's JSON parser and the same body limit; per
 * alert, the dedup check and a count per (alertname, service) held in memory
 * (five "executions" each, the rest rate limited); one small row per new alert
 * (its dedup key and decision) written in a group commit, one transaction per
 * event-loop turn, WAL, synchronous=FULL; each request answered 202 with its
 * decisions only after the commit holding them returned.
 *
 * No runbooks, no guardrail stages, no incident or audit rows, no validation
 * library, no logging, no metrics: what a minimal group-commit prototype does.
 * rectify is measured against it to show what its own work costs on this machine.
 *
 *   node --import tsx bench/minimal-server.ts <port> <bodyLimitBytes> <dir>
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { join } from 'node:path';

const port = Number(process.argv[2]);
const bodyLimit = Number(process.argv[3] ?? 16 * 1024 * 1024);
const dir = process.argv[4];
if (!dir) throw new Error('minimal-server: a directory for the database is required');

const db = new Database(join(dir, 'minimal.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS decisions (dedup_key TEXT PRIMARY KEY, at INTEGER NOT NULL, decision TEXT NOT NULL) WITHOUT ROWID');
const insert = db.prepare('INSERT INTO decisions (dedup_key, at, decision) VALUES (?, ?, ?)');

const PER_PAIR = 5;
const seen = new Set<string>();
const executions = new Map<string, number>();

interface Pending {
  rows: Array<[string, string]>;
  answer: () => void;
}
let queue: Pending[] = [];
let scheduled = false;
const commit = db.transaction((batch: Pending[]) => {
  const at = Date.now();
  for (const p of batch) for (const [key, decision] of p.rows) insert.run(key, at, decision);
});
function flush(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  commit.immediate(batch);
  for (const p of batch) p.answer();
}

interface Alert {
  fingerprint?: unknown;
  labels?: Record<string, unknown>;
}

const app = Fastify({ logger: false, bodyLimit });
app.post('/api/v1/webhooks/alertmanager', (req, reply) => {
  const alerts = (req.body as { alerts?: Alert[] }).alerts;
  if (!Array.isArray(alerts)) return reply.code(400).send({ error: 'alerts: expected an array' });
  const rows: Array<[string, string]> = [];
  const results: Array<{ action: string }> = [];
  for (const a of alerts) {
    if (typeof a.fingerprint !== 'string' || typeof a.labels !== 'object' || a.labels === null) {
      return reply.code(400).send({ error: 'alerts[].fingerprint and alerts[].labels are required' });
    }
    let decision: string;
    if (seen.has(a.fingerprint)) decision = 'duplicate';
    else {
      seen.add(a.fingerprint);
      const pair = `${String(a.labels.alertname)}\u0000${String(a.labels.service)}`;
      const n = executions.get(pair) ?? 0;
      if (n < PER_PAIR) executions.set(pair, n + 1);
      decision = n < PER_PAIR ? 'executed' : 'blocked';
      rows.push([a.fingerprint, decision]);
    }
    results.push({ action: decision });
  }
  queue.push({ rows, answer: () => void reply.code(202).send({ results }) });
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
  return reply;
});
await app.listen({ host: '127.0.0.1', port });
process.stdout.write('ready\n');
process.once('SIGTERM', () => void app.close().then(() => (db.close(), process.exit(0))));

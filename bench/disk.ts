/**
 * The disk ceiling: raw better-sqlite3 inserts of the rows rectify writes for a
 * blocked decision (one `incidents` row, one chained `audit` row per alert), into
 * rectify's own schema, WAL, synchronous=FULL. Rows are built before the clock
 * starts, so only the inserts and the commits are timed.
 *
 * - single: one transaction (and one fsync) per alert;
 * - batched: one transaction per `batch` alerts (what group commit can reach at best).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertmanagerToIncidents, type AlertmanagerWebhook } from '../src/ingest/index.js';
import { auditRowHash, GENESIS_HASH } from '../src/store/audit-verify.js';
import { migrateSqlite } from '../src/store/sqlite/migrate.js';
import { incidentBody } from '../src/store/sqlite/rows.js';
import { MIGRATIONS_DIR } from '../src/service.js';
import { createBodyMaker, type BodySpec } from './bodies.js';

export interface DiskCeiling {
  single: { alerts: number; seconds: number; alertsPerSecond: number };
  /** `cpuUsPerAlert`: this process's CPU time over the inserts and commits, per alert. */
  batched: { batch: number; alerts: number; seconds: number; alertsPerSecond: number; cpuUsPerAlert: number };
}

type Row = { incident: unknown[]; audit: unknown[] };

function buildRows(spec: BodySpec, count: number): Row[] {
  const maker = createBodyMaker({ ...spec, duplicateRatio: 0, alertsPerBody: Math.min(count, 1000) });
  const rows: Row[] = [];
  let prev = GENESIS_HASH;
  let n = 0;
  const now = Date.UTC(2026, 10, 24, 3, 0, 0);
  while (rows.length < count) {
    const body = JSON.parse(maker.next()) as AlertmanagerWebhook;
    const { incidents } = alertmanagerToIncidents(body, { now, newId: () => `inc_${(++n).toString(36).padStart(12, '0')}` });
    for (const i of incidents) {
      if (rows.length >= count) break;
      const seq = rows.length + 1;
      const details = JSON.stringify({ reason: 'Rate limit exceeded (5/hour)', service: i.service, root_cause: i.root_cause });
      const rec = { seq, at: now, event: 'RATE_LIMITED', incident_id: i.id, runbook: 'restart-crashlooping', execution_id: null, actor: 'rectify', details };
      const hash = auditRowHash(prev, rec);
      rows.push({
        incident: [i.id, i.dedup_key, i.alert_key, i.source, now, i.status, i.service, i.root_cause, i.confidence, incidentBody(i), 'blocked', 'RATE_LIMITED', 'restart-crashlooping', 'Rate limit exceeded (5/hour)', null, null],
        audit: [seq, now, rec.event, rec.incident_id, rec.runbook, null, rec.actor, details, prev, hash],
      });
      prev = hash;
    }
  }
  return rows;
}

function openDb(dir: string, name: string): Database.Database {
  const db = new Database(join(dir, name));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  migrateSqlite(db, MIGRATIONS_DIR);
  return db;
}

function insertAll(db: Database.Database, rows: Row[], batch: number): { seconds: number; cpuSeconds: number } {
  const incident = db.prepare(
    `INSERT INTO incidents (id, dedup_key, alert_key, source, received_at, status, service, root_cause, confidence, body,
       action, event, runbook, reason, approval_id, execution_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const audit = db.prepare(
    'INSERT INTO audit (seq, at, event, incident_id, runbook, execution_id, actor, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const write = db.transaction((slice: Row[]) => {
    for (const r of slice) {
      incident.run(...r.incident);
      audit.run(...r.audit);
    }
  });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < rows.length; i += batch) write.immediate(rows.slice(i, i + batch));
  const cpu = process.cpuUsage(cpu0);
  return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Measures both ceilings for alerts shaped like `spec`, batched `batch` to a transaction. */
export function measureDiskCeiling(spec: BodySpec, batch: number, opts: { singleAlerts?: number; batchedAlerts?: number } = {}): DiskCeiling {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-bench-disk-'));
  try {
    const singleAlerts = opts.singleAlerts ?? 2_000;
    const batchedAlerts = Math.max(opts.batchedAlerts ?? 100_000, batch);
    const singleRows = buildRows(spec, singleAlerts);
    const s = insertAll(openDb(dir, 'single.db'), singleRows, 1).seconds;
    const batchedRows = buildRows(spec, batchedAlerts);
    const b = insertAll(openDb(dir, 'batched.db'), batchedRows, batch);
    return {
      single: { alerts: singleAlerts, seconds: s, alertsPerSecond: singleAlerts / s },
      batched: { batch, alerts: batchedAlerts, seconds: b.seconds, alertsPerSecond: batchedAlerts / b.seconds, cpuUsPerAlert: (b.cpuSeconds * 1e6) / batchedAlerts },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

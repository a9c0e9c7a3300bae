import Database from 'better-sqlite3';
import { openSqliteAuditReader } from '../src/store/sqlite/index.js';
import { verifyAuditChain } from '../src/store/audit-verify.js';
import type { BodyCounts } from './bodies.js';

export interface Verification {
  ok: boolean;
  problems: string[];
  incidents: number;
  duplicates: number;
  executions: number;
  targetCalls: number;
  auditRows: number;
  auditChainOk: boolean;
}

/**
 * After a run, with the service stopped: every alert sent is decided exactly once
 * (an incident row per fresh alert, a DUPLICATE audit row per re-delivery), the
 * executions are exactly what the rate limit allows, each made one real call, and
 * the audit hash chain is intact. Nothing lost, nothing doubled.
 */
export async function verifyRun(dbPath: string, expect: { sent: BodyCounts; executions: number; targetCalls: number; non2xx: number }): Promise<Verification> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const incidents = count('SELECT COUNT(*) AS n FROM incidents');
  const duplicates = count("SELECT COUNT(*) AS n FROM audit WHERE event = 'DUPLICATE'");
  const executions = count('SELECT COUNT(*) AS n FROM executions');
  const running = count("SELECT COUNT(*) AS n FROM executions WHERE state <> 'succeeded'");
  const auditRows = count('SELECT COUNT(*) AS n FROM audit');
  db.close();
  const reader = openSqliteAuditReader(dbPath);
  const chain = await verifyAuditChain(reader);
  reader.close();

  const problems: string[] = [];
  if (expect.non2xx > 0) problems.push(`${expect.non2xx} requests were not answered 2xx`);
  if (incidents !== expect.sent.fresh) problems.push(`incidents ${incidents} ≠ alerts sent ${expect.sent.fresh}`);
  if (duplicates !== expect.sent.duplicates) problems.push(`DUPLICATE rows ${duplicates} ≠ re-deliveries sent ${expect.sent.duplicates}`);
  if (executions !== expect.executions) problems.push(`executions ${executions} ≠ ${expect.executions} allowed by max_per_hour`);
  if (expect.targetCalls !== executions) problems.push(`action target called ${expect.targetCalls} times for ${executions} executions`);
  if (running > 0) problems.push(`${running} executions did not succeed`);
  if (!chain.ok) problems.push(`audit chain broken: ${chain.reason}`);
  return { ok: problems.length === 0, problems, incidents, duplicates, executions, targetCalls: expect.targetCalls, auditRows, auditChainOk: chain.ok };
}

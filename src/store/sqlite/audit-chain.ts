import type Database from 'better-sqlite3';
import { auditHash, GENESIS_HASH, type AuditRecord } from '../audit-verify.js';

export interface ChainTip {
  seq: number;
  hash: string;
}

/**
 * The head of the audit hash chain for one connection. Appending computes the next
 * row's seq and hash from the tip in memory (one sha256, no SELECT per row).
 *
 * The tip must never run ahead of what is committed: a unit rolled back to its
 * savepoint, or a whole batch whose COMMIT failed, leaves the rows unwritten, and
 * a tip that kept their hash would chain the next row to a row that does not exist.
 * So the store re-reads the tip at the start of every batch (`sync`, two indexed
 * lookups per batch) and restores it around each unit that fails (`mark`/`reset`).
 */
export function createAuditChain(db: Database.Database) {
  const newest = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  // AUTOINCREMENT's high-water mark: after the newest rows were deleted behind
  // rectify's back, new rows continue above it, so the gap stays visible.
  const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit'");
  let tip: ChainTip = { seq: 0, hash: GENESIS_HASH };

  function sync(): void {
    const row = newest.get() as { seq: number; hash: string | null } | undefined;
    const hw = (sequence.get() as { seq: number } | undefined)?.seq ?? 0;
    tip = { seq: Math.max(row?.seq ?? 0, hw), hash: row?.hash ?? GENESIS_HASH };
  }
  sync();

  return {
    sync,
    mark: (): ChainTip => tip,
    reset(t: ChainTip): void {
      tip = t;
    },
    /** The next row's seq, prev_hash and hash; advances the tip (call inside the write transaction). */
    next(r: Omit<AuditRecord, 'seq' | 'prev_hash' | 'hash'>): { seq: number; prev_hash: string; hash: string } {
      const seq = tip.seq + 1;
      const hash = auditHash(tip.hash, seq, r);
      const out = { seq, prev_hash: tip.hash, hash };
      tip = { seq, hash };
      return out;
    },
  };
}

export type AuditChain = ReturnType<typeof createAuditChain>;

import type Database from 'better-sqlite3';
import { auditHash, GENESIS_HASH, KEYED_PREFIX, type AuditKey, type AuditRecord } from '../audit-verify.js';

export interface ChainTip {
  seq: number;
  hash: string;
}

/**
 * The head of the audit hash chain for one connection. Appending computes the next
 * row's seq and hash from the tip in memory (one sha256, or one HMAC with an audit
 * key; no SELECT per row).
 *
 * The tip must never run ahead of what is committed: a unit rolled back to its
 * savepoint, or a whole batch whose COMMIT failed, leaves the rows unwritten, and
 * a tip that kept their hash would chain the next row to a row that does not exist.
 * So the store re-reads the tip at the start of every batch (`sync`, two indexed
 * lookups per batch) and restores it around each unit that fails (`mark`/`reset`).
 *
 * Another rectify may have written since (a `run --local` beside another, or beside a
 * serve), with another key or none: the key it was checked against at the open is then
 * no longer the log's. So `sync` also checks the newest row's key when it is not the
 * row this connection last knew (its own last one, or the one it last checked), and
 * refuses the batch (throws, nothing appended) where a row of this connection would
 * break the chain: a plain row after keyed ones, or a keyed one under another key.
 */
/** A batch refused by `sync`: another rectify left the log under another key (or none); lasts until a restart with the log's key. */
export class AuditKeyMismatch extends Error {
  override name = 'AuditKeyMismatch';
}

/** A start refused at the open: the audit log's newest row is under a key this one may not append after (see keyProblem). */
export class AuditKeyRefused extends Error {
  override name = 'AuditKeyRefused';
}

/**
 * How messages name the key settings: the flags by default; the setting that set them
 * (`RECTIFY_AUDIT_KEY`, `audit_key`) when the caller knows it.
 */
export interface AuditKeyNames {
  key: string;
  previousKeys: string;
}

const FLAG_NAMES: AuditKeyNames = { key: '--audit-key', previousKeys: '--audit-previous-keys' };

/**
 * Why a start with this key must not append to the log the connection reads, or null;
 * only reads (a read-only connection will do), so it runs before anything is written.
 * A schema from before the hash chain (no `hash` column) holds no keyed row: nothing to refuse.
 */
export function auditKeyProblem(db: Database.Database, key?: AuditKey, previousKeys: readonly AuditKey[] = [], names: AuditKeyNames = FLAG_NAMES): string | null {
  const columns = db.prepare("SELECT name FROM pragma_table_info('audit')").pluck().all() as string[];
  if (!columns.includes('hash') || !columns.includes('prev_hash')) return null;
  return createAuditChain(db, key, previousKeys, names).keyProblem();
}

export function createAuditChain(db: Database.Database, key?: AuditKey, previousKeys: readonly AuditKey[] = [], names: AuditKeyNames = FLAG_NAMES) {
  const newest = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  // AUTOINCREMENT's high-water mark: after the newest rows were deleted behind
  // rectify's back, new rows continue above it, so the gap stays visible.
  const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit'");
  let tip: ChainTip = { seq: 0, hash: GENESIS_HASH };
  /**
   * The newest row as this connection last knew it committed (its own last row, or the
   * one it last checked), and whether that row is under this connection's key. A
   * newest row that is still this one needs no check (no HMAC) at a batch.
   */
  let known: { hash: string; onKey: boolean } | null = null;

  const newestRow = db.prepare('SELECT seq, at, event, incident_id, runbook, execution_id, actor, details, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const verifiesWith = (r: AuditRecord, k: AuditKey): boolean => r.prev_hash !== null && auditHash(r.prev_hash, r.seq, r, k) === r.hash;
  // No index serves the event: read only at a start that would rotate the key (rare), never at every start.
  const rotations = db.prepare("SELECT seq FROM audit WHERE event = 'AUDIT_KEY_ROTATED' ORDER BY seq").pluck();
  const rowAt = db.prepare('SELECT seq, at, event, incident_id, runbook, execution_id, actor, details, prev_hash, hash FROM audit WHERE seq = ?');

  /** Whether row `r` is hashed with this connection's key. */
  const isUnderKey = (r: AuditRecord | undefined): boolean => key !== undefined && r !== undefined && (r.hash?.startsWith(KEYED_PREFIX) ?? false) && verifiesWith(r, key);

  /** The AUDIT_KEY_ROTATED row where the log left `k` (the row before it is under `k`), or null. */
  function leftAt(k: AuditKey): number | null {
    for (const seq of rotations.all() as number[]) {
      const before = rowAt.get(seq - 1) as AuditRecord | undefined;
      if (before?.hash?.startsWith(KEYED_PREFIX) && verifiesWith(before, k)) return seq;
    }
    return null;
  }

  /**
   * Why this connection must not append after row `r` (the newest), or null: `r` is keyed and there
   * is no key, or its HMAC verifies neither with this key nor with a previous one
   * (another key, or a changed row), or it is under a previous key and this key is one
   * the log already rotated away from. Rows appended then would break the chain at once.
   */
  function problemAfter(r: AuditRecord | undefined): string | null {
    if (!r?.hash?.startsWith(KEYED_PREFIX)) return null;
    if (!key) return `the audit log's rows are hashed with an audit key (newest row ${r.seq}): start with ${names.key} set to that key`;
    if (verifiesWith(r, key)) return null;
    if (previousKeys.some((k) => verifiesWith(r, k))) {
      // A move to --audit-key: never back to a key the log has left (whoever may hold it since could write again).
      const left = leftAt(key);
      if (left === null) return null;
      return `the audit log moved away from this ${names.key} at row ${left} (AUDIT_KEY_ROTATED), and it never goes back to a key it has left: start with the key its newest row (${r.seq}) is under as ${names.key}, or rotate to a new key, with the old ones in ${names.previousKeys}`;
    }
    return previousKeys.length
      ? `the newest audit row (${r.seq}) verifies neither with ${names.key} nor with ${names.previousKeys}: the log was written with another key, or the row was changed (rectify audit verify says which)`
      : `the newest audit row (${r.seq}) does not verify with this ${names.key}: it is another key than the one the log was written with, or the row was changed (rectify audit verify says which); to move the log to a new key, give the old one in ${names.previousKeys}`;
  }

  /**
   * At a batch, the newest row `r` is not the one this connection last knew: another
   * rectify wrote. Why this connection must not append after it, or null (and `r` is known
   * from now on). Once the log was under this connection's key, its newest row must still
   * verify with it; before that (a start on a plain log, or one under a previous key, whose
   * AUDIT_KEY_SET or AUDIT_KEY_ROTATED is not written yet) the open's rules hold.
   */
  function problemSince(r: AuditRecord | undefined): string | null {
    const onKey = isUnderKey(r);
    let problem: string | null = null;
    if (r && !onKey && key && known?.onKey) {
      problem = r.hash?.startsWith(KEYED_PREFIX)
        ? `the newest audit row (${r.seq}) does not verify with this ${names.key}: the log was moved to another key, or the row was changed (rectify audit verify says which)`
        : `the newest audit row (${r.seq}) is not hashed with the audit key, and this rectify's rows before it are: it was written without the key (rectify audit verify says where the chain breaks)`;
    } else if (!onKey) {
      problem = problemAfter(r);
    }
    if (problem) {
      const other = !key ? 'with an audit key' : r?.hash?.startsWith(KEYED_PREFIX) ? 'with another audit key' : 'without the audit key';
      return `another rectify wrote to the audit log ${other} while this one ran: ${problem}. Nothing of this write was recorded: its rows would break the audit chain`;
    }
    known = { hash: r?.hash ?? GENESIS_HASH, onKey };
    return null;
  }

  /** Re-reads the tip from committed rows; throws when another rectify left the log under another key (see problemSince). */
  function sync(): void {
    const row = newest.get() as { seq: number; hash: string | null } | undefined;
    const hw = (sequence.get() as { seq: number } | undefined)?.seq ?? 0;
    const hash = row?.hash ?? GENESIS_HASH;
    if (known && hash !== known.hash) {
      const problem = problemSince(newestRow.get() as AuditRecord | undefined);
      if (problem) throw new AuditKeyMismatch(problem);
    }
    tip = { seq: Math.max(row?.seq ?? 0, hw), hash };
  }
  sync();

  return {
    /** Why this connection must not append at all (checked at the open), or null; the newest row is known from then on. */
    keyProblem(): string | null {
      const r = newestRow.get() as AuditRecord | undefined;
      const problem = problemAfter(r);
      if (!problem) known = { hash: r?.hash ?? GENESIS_HASH, onKey: isUnderKey(r) };
      return problem;
    },
    /**
     * The row to write before any other, with an audit key: AUDIT_KEY_SET when the
     * newest row (if any) is not keyed, AUDIT_KEY_ROTATED when it is under a previous
     * key (call after keyProblem() said none); null when the log is already on this key.
     */
    keyRowNeeded(): 'AUDIT_KEY_SET' | 'AUDIT_KEY_ROTATED' | null {
      if (!key) return null;
      const r = newestRow.get() as AuditRecord | undefined;
      if (!r?.hash?.startsWith(KEYED_PREFIX)) return 'AUDIT_KEY_SET';
      return verifiesWith(r, key) ? null : 'AUDIT_KEY_ROTATED';
    },
    sync,
    /** After a commit: the rows this connection appended in it are known (under its key, if it has one). */
    committed(): void {
      if (known && tip.hash !== known.hash) known = { hash: tip.hash, onKey: key !== undefined };
    },
    mark: (): ChainTip => tip,
    reset(t: ChainTip): void {
      tip = t;
    },
    /** The next row's seq, prev_hash and hash; advances the tip (call inside the write transaction). */
    next(r: Omit<AuditRecord, 'seq' | 'prev_hash' | 'hash'>): { seq: number; prev_hash: string; hash: string } {
      const seq = tip.seq + 1;
      const hash = auditHash(tip.hash, seq, r, key);
      const out = { seq, prev_hash: tip.hash, hash };
      tip = { seq, hash };
      return out;
    },
  };
}

export type AuditChain = ReturnType<typeof createAuditChain>;

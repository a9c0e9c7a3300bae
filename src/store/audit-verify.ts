import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';

/**
 * The audit hash chain, independent of the database: how a row's hash is computed
 * and how a sequence of stored rows is checked. Each row's hash covers the previous
 * row's hash, so changing, removing or reordering any row breaks every link after
 * it; rewriting the whole chain needs the head hash, which operators keep outside
 * the database (the SIEM export carries it).
 *
 * With an audit key (`--audit-key`), a row's hash is an HMAC-SHA256 under that key,
 * stored as `hmac:<hex>`: whoever can write the database but does not hold the key
 * cannot make a changed row, or a rewritten chain, verify. Once the chain has a
 * keyed row, every later row must be keyed (a plain row after it is a row written
 * without the key). Rows written before the key was set keep their plain hashes,
 * and the first keyed row's HMAC covers the last of them.
 *
 * The key can be rotated (`--audit-previous-keys`): the first row under the new key
 * is an AUDIT_KEY_ROTATED event whose HMAC covers the last row under the old one.
 * The chain moves from key to key only at such a row, and never back to a key it
 * has left, so whoever holds a retired (perhaps leaked) key cannot add a row after
 * the rotation, nor change one before it without breaking the rotation row's link.
 *
 * Verified with the current key but not the retired one (the usual slip after a
 * rotation: the service itself no longer needs it), the rows before the rotation
 * verify with no key given. That is not verified, not broken: the walk goes on over
 * those rows checking only what needs no key (seqs, links, every row keyed), and when
 * an AUDIT_KEY_ROTATED row verifies with a given key, the rows before it are reported
 * as under an earlier key (needs_key, exit 2), never as intact. The trap is a changed
 * row posing as an old-key row: so a range is let off only at a rotation row that a
 * given key signs (whoever lacks the keys cannot make one), and a row after the range
 * that verifies with a given key without being a rotation proves the range was under
 * that key, so changed: broken, as is a range the log never leaves (the given key is
 * not the one it ends under).
 */

/**
 * Thrown by an audit source whose database file is damaged (SQLite's "database disk
 * image is malformed"): the rows past the damage cannot be read. `detail` is the
 * database's own words.
 */
export class AuditLogDamaged extends Error {
  constructor(
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`the database file is damaged (SQLite: ${detail})`, options);
    this.name = 'AuditLogDamaged';
  }
}

/** What verify and export say of a damaged file, read up to row `lastSeq` (0: no row read). */
export function damagedReason(lastSeq: number, err: AuditLogDamaged): string {
  return `the database file is damaged after row ${lastSeq} (SQLite: ${err.detail}): restore a backup`;
}

/** prev_hash of the first chained row. */
export const GENESIS_HASH = '0'.repeat(64);

/** One audit row exactly as stored: `at` in epoch milliseconds, `details` as the stored JSON text. */
export interface AuditRecord {
  seq: number;
  at: number;
  event: string;
  incident_id: string | null;
  runbook: string | null;
  execution_id: string | null;
  actor: string;
  details: string;
  prev_hash: string | null;
  hash: string | null;
}

/**
 * sha256 over a JSON array of the fields, in a fixed order. JSON gives an
 * unambiguous encoding: strings are quoted and escaped, null differs from "null",
 * and no separator can be smuggled inside a value to shift a field boundary.
 * `details` is hashed as the stored text, so verification never depends on how a
 * JSON value would be re-serialised.
 */
export function auditRowHash(prevHash: string, r: Omit<AuditRecord, 'prev_hash' | 'hash'>, key?: AuditKey): string {
  return auditHash(prevHash, r.seq, r, key);
}

/** The HMAC key of the audit chain (the resolved `--audit-key`). */
export type AuditKey = Buffer;

/** How a keyed row's hash begins; a plain row's hash is 64 hex digits. */
export const KEYED_PREFIX = 'hmac:';

/** The same hash with the seq given apart from the row (the chain's tip advances without copying the row). */
export function auditHash(prevHash: string, seq: number, r: Omit<AuditRecord, 'seq' | 'prev_hash' | 'hash'>, key?: AuditKey): string {
  const text = JSON.stringify([prevHash, seq, r.at, r.event, r.incident_id, r.runbook, r.execution_id, r.actor, r.details]);
  return key ? KEYED_PREFIX + crypto.createHmac('sha256', key).update(text, 'utf8').digest('hex') : sha256Hex(text);
}

// One-shot crypto.hash (Node 20.12+) is about twice as fast as a Hash object; every audit row pays it.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
function sha256Hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface AuditVerification {
  ok: boolean;
  /** Rows examined. */
  rows: number;
  /** Rows written before the chain existed (schema 1), accepted only at the start of the log. */
  unchained: number;
  /** Rows hashed with the audit key (HMAC); the rest of the chained rows have plain sha256 hashes. */
  keyed: number;
  /** The seq of the first keyed row: rows before it were written before the key was set. */
  keyed_from: number | null;
  /** True when verification stopped at a keyed row for want of the key: not verified, rather than broken. */
  needs_key: boolean;
  /** seqs of the AUDIT_KEY_ROTATED rows where the chain moved to another key, oldest first. */
  rotated_at: number[];
  first_bad_seq: number | null;
  reason: string | null;
  /** The newest row's seq and hash: record it elsewhere to detect a rewritten chain. */
  head: { seq: number; hash: string } | null;
}

/**
 * Checks rows pushed in seq order, one at a time (so millions of rows need no
 * memory). The first problem found is kept; later rows are not examined.
 */
export function createChainVerifier(opts: { key?: AuditKey; previousKeys?: readonly AuditKey[] } = {}) {
  // Every key a keyed row may be under: the current one first (the usual case, one HMAC per row).
  const keys = opts.key ? [opts.key, ...(opts.previousKeys ?? [])] : [];
  /** The key the chain is on (index into keys), and the keys it has left. */
  let on: number | null = null;
  const left = new Set<number>();
  const rotatedAt: number[] = [];
  let rows = 0;
  let unchained = 0;
  let keyed = 0;
  let keyedFrom: number | null = null;
  let lastSeq = 0;
  let lastHash: string | null = null;
  let chained = false;
  let bad: { seq: number; reason: string } | null = null;
  let needsKey = false;
  /** The row where the chain last left a key. */
  let movedAt: number | null = null;
  /**
   * Keyed rows under none of the given keys, not (yet) known to be changed: from
   * `from` on, with the problem they are if the log never leaves them, and the key
   * the chain was on before them (`from` is then a rotation row), if any.
   */
  let unchecked: Unchecked | null = null;
  /** Ranges of rows under an earlier key than those given, each ended by the rotation row `at` a given key signs. */
  const earlier: Array<{ from: number; to: number; at: number }> = [];

  // A function, not the variable: TypeScript keeps a narrowing of `unchecked` across the calls that change it.
  const isUnchecked = (): boolean => unchecked !== null;
  const retired = (seq: number) => `row ${seq} is hashed with an audit key the log had already moved away from (at row ${movedAt}): written by someone holding a retired key`;

  /** The keyed row's key: the one the chain is on, or (at an AUDIT_KEY_ROTATED row) another it has not left. */
  function checkKeyed(r: AuditRecord): { seq: number; reason: string } | null {
    const broken = (reason: string) => ({ seq: r.seq, reason });
    const verifies = (i: number) => auditRowHash(r.prev_hash!, r, keys[i]) === r.hash;
    if (on !== null && verifies(on)) return null;
    const other = keys.findIndex((_, i) => i !== on && verifies(i));
    if (other === -1) {
      const mismatch = `hash mismatch: row ${r.seq} was changed, or hashed with another key`;
      // The first keyed row, or a rotation to a key not given: maybe under a key the caller did not give.
      if (on !== null && r.event !== 'AUDIT_KEY_ROTATED') return broken(mismatch);
      if (on !== null) {
        left.add(on);
        movedAt = r.seq;
      }
      unchecked = { from: r.seq, reason: mismatch, before: on };
      on = null;
      return null;
    }
    if (left.has(other)) return broken(retired(r.seq));
    if (on !== null) {
      if (r.event !== 'AUDIT_KEY_ROTATED') return broken(`row ${r.seq} is hashed with another audit key than the row before it, and is not an AUDIT_KEY_ROTATED row: the key changed outside rectify`);
      left.add(on);
      rotatedAt.push(r.seq);
      movedAt = r.seq;
    }
    on = other;
    return null;
  }

  /**
   * A keyed row while the rows before it verify with none of the given keys: still
   * unchecked, or the rotation row where the log moved to a given key, or the proof
   * that the unchecked rows were under a given key after all, so changed.
   */
  function checkUnchecked(r: AuditRecord, u: Unchecked): { seq: number; reason: string } | null {
    const k = keys.findIndex((key) => auditRowHash(r.prev_hash!, r, key) === r.hash);
    if (k === -1) return null;
    // Right after the rotation row, a row under the key before it: that rotation row was changed (an event renamed, say).
    if (k === u.before && r.seq === u.from + 1) return { seq: u.from, reason: u.reason };
    if (left.has(k)) return { seq: r.seq, reason: retired(r.seq) };
    if (r.event !== 'AUDIT_KEY_ROTATED') {
      const reason =
        r.seq === u.from + 1
          ? u.reason
          : `hash mismatch: rows ${u.from} to ${r.seq - 1} verify with none of the given keys, yet row ${r.seq} after them does and is not an AUDIT_KEY_ROTATED row: one of them was changed`;
      return { seq: u.from, reason };
    }
    earlier.push({ from: u.from, to: r.seq - 1, at: r.seq });
    rotatedAt.push(r.seq);
    movedAt = r.seq;
    on = k;
    unchecked = null;
    return null;
  }
  return {
    /** False once a problem was found: stop pushing. */
    push(r: AuditRecord): boolean {
      if (bad) return false;
      rows++;
      // rectify numbers rows from 1: a row at 0 or below was inserted by hand, outside the chain.
      if (r.seq <= 0) {
        bad = { seq: r.seq, reason: `row ${r.seq} has a seq of 0 or below, which rectify never writes: it was inserted outside the chain` };
        return false;
      }
      if (r.seq !== lastSeq + 1) {
        const missing = lastSeq + 1;
        bad = { seq: missing, reason: r.seq - missing > 1 ? `rows ${missing} to ${r.seq - 1} are missing` : `row ${missing} is missing` };
        return false;
      }
      if (r.hash === null || r.prev_hash === null) {
        if (chained) {
          bad = { seq: r.seq, reason: `row ${r.seq} has no hash: it was changed or inserted after the chain began` };
          return false;
        }
        unchained++;
        lastSeq = r.seq;
        return true;
      }
      const expectedPrev = chained ? lastHash! : GENESIS_HASH;
      const isKeyed = r.hash.startsWith(KEYED_PREFIX);
      if (isKeyed && !opts.key) {
        needsKey = true;
        bad = { seq: r.seq, reason: `row ${r.seq} is hashed with the audit key: give the key (--audit-key) to verify it` };
        return false;
      }
      if (!isKeyed && keyedFrom !== null) {
        bad = { seq: r.seq, reason: `row ${r.seq} is not hashed with the audit key, yet keyed rows come before it: it was written or rewritten without the key` };
        return false;
      }
      if (!isKeyed && auditRowHash(r.prev_hash, r) !== r.hash) {
        bad = { seq: r.seq, reason: `hash mismatch: row ${r.seq} was changed` };
        return false;
      }
      if (isKeyed) {
        const u = unchecked;
        const problem = u ? checkUnchecked(r, u) : checkKeyed(r);
        if (problem) {
          bad = problem;
          return false;
        }
        keyedFrom ??= r.seq;
        // Rows under a key not given are not counted as keyed: none of them was checked with a key.
        if (!isUnchecked()) keyed++;
      }
      if (r.prev_hash !== expectedPrev) {
        // Rows without a hash before it, and a link to a hash rather than to the genesis
        // value the chain starts from: the row before it had a hash, and lost it.
        if (!chained && unchained > 0) {
          bad = {
            seq: lastSeq,
            reason: `row ${lastSeq} has no hash, yet row ${r.seq} after it links to one (the first row of a chain links to the genesis value): row ${lastSeq}'s hash was removed, or row ${r.seq} was changed`,
          };
          return false;
        }
        bad = {
          seq: r.seq,
          reason: chained ? `prev_hash of row ${r.seq} does not match row ${lastSeq}` : `prev_hash of row ${r.seq}, the first chained row, is not the genesis value`,
        };
        return false;
      }
      chained = true;
      lastSeq = r.seq;
      lastHash = r.hash;
      return true;
    },
    /** The rows after `lastGood` could not be read (see AuditLogDamaged): the first problem unless one was found before. */
    unreadable(lastGood: number, err: AuditLogDamaged): void {
      bad ??= { seq: lastGood + 1, reason: damagedReason(lastGood, err) };
    },
    /**
     * `highWater` is the highest seq the database ever handed out: rows missing at
     * the end of the log (the newest ones deleted) show up as a gap against it.
     */
    finish(highWater: number): AuditVerification {
      // Rows under none of the given keys up to the end, from the first keyed row: the log never came to a given key, so it is not theirs to let off.
      const u: Unchecked | null = unchecked;
      if (!bad && u && u.before === null) bad = { seq: u.from, reason: u.reason };
      if (!bad && highWater > lastSeq) {
        const missing = lastSeq + 1;
        bad = { seq: missing, reason: highWater > missing ? `rows ${missing} to ${highWater} are missing (the newest rows were removed)` : `row ${missing} is missing (the newest row was removed)` };
      }
      // A service with the key writes a keyed row at start (AUDIT_KEY_SET) when the
      // newest is not: so with the key, a log that does not end keyed was written, or
      // rewritten from its start, by someone without it.
      if (!bad && opts.key && rows > 0 && !lastHash?.startsWith(KEYED_PREFIX)) {
        bad = { seq: lastSeq, reason: `the newest row (${lastSeq}) is not hashed with the audit key: rows were written without the key since it was set, or the log was rewritten` };
      }
      // Given previous keys, the log must have moved to the current one: a log that
      // still ends under a previous key was not rotated yet (verify it with that key
      // alone), or lost its rotation and every row after it.
      if (!bad && on !== null && on !== 0) {
        bad = {
          seq: lastSeq,
          reason: `the newest row (${lastSeq}) is under a previous audit key, not --audit-key: the log was not moved to this key yet (start rectify with it, or verify with the old key alone), or the rows from its rotation on were removed`,
        };
      }
      // Everything else holds, but rows under an earlier key were not checked, or the log
      // moved on from a given key to a newer one (verified with a retired key alone: its
      // AUDIT_KEY_ROTATED row links to the rows that verify, under a key not given):
      // not verified, never "intact", and not broken either.
      if (!bad && (earlier.length || u)) {
        needsKey = true;
        const reasons = [...(earlier.length ? [earlierKeyReason(earlier)] : []), ...(u ? [newerKeyReason(u.from, lastSeq)] : [])];
        bad = { seq: earlier[0]?.from ?? u!.from, reason: reasons.join('; and ') };
      }
      return {
        ok: bad === null,
        rows,
        unchained,
        keyed,
        keyed_from: keyedFrom,
        needs_key: needsKey,
        rotated_at: [...rotatedAt],
        first_bad_seq: bad?.seq ?? null,
        reason: bad?.reason ?? null,
        head: lastHash !== null ? { seq: lastSeq, hash: lastHash } : null,
      };
    },
  };
}

interface Unchecked {
  from: number;
  reason: string;
  before: number | null;
}

/** What an operator verifying with the current key alone after a rotation reads: which rows need which flag. */
function earlierKeyReason(ranges: ReadonlyArray<{ from: number; to: number; at: number }>): string {
  const list = (xs: string[]) => (xs.length === 1 ? xs[0]! : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
  const single = ranges.length === 1 && ranges[0]!.from === ranges[0]!.to;
  const rows = `${single ? 'row' : 'rows'} ${list(ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from} to ${r.to}`)))}`;
  const many = ranges.length > 1;
  return (
    `${rows} ${single ? 'is' : 'are'} under an earlier audit key than those given: ` +
    `the log moved to a given key at ${many ? 'rows' : 'row'} ${list(ranges.map((r) => `${r.at}`))} (AUDIT_KEY_ROTATED), and every other row verifies; ` +
    `give the earlier ${many ? 'keys' : 'key'} in --audit-previous-keys to verify ${rows}`
  );
}

/** What an operator verifying with a retired key alone reads: the log moved on to a newer key at row `at`. */
function newerKeyReason(at: number, last: number): string {
  const rows = at === last ? `row ${at} is` : `rows ${at} to ${last} are`;
  return (
    `the log was re-keyed at row ${at} (AUDIT_KEY_ROTATED), which links to the rows before it, and those verify: ` +
    `${rows} under a newer audit key than those given; give it as --audit-key (with this one in --audit-previous-keys) to verify them`
  );
}

export interface AuditSource {
  /** Rows with seq > afterSeq, oldest first, at most `limit` (`-Infinity`: from the lowest seq, 0 and below too). */
  auditRecords(q: { afterSeq: number; limit: number; since?: number }): AuditRecord[];
  /** The highest seq ever assigned (0 when none). */
  auditHighWater(): number;
}

const PAGE = 5_000;

/**
 * Walks the whole log page by page, yielding to the event loop between pages so a
 * running service keeps answering while a large log is verified. Rows appended
 * while it walks are outside the snapshot taken by the first high-water read.
 */
export async function verifyAuditChain(
  source: AuditSource,
  opts: { yieldBetweenPages?: boolean; key?: AuditKey; previousKeys?: readonly AuditKey[] } = {},
): Promise<AuditVerification> {
  const v = createChainVerifier(opts.key ? { key: opts.key, ...(opts.previousKeys ? { previousKeys: opts.previousKeys } : {}) } : {});
  // From the lowest seq there is, not from 1: a row inserted at 0 or below is a break, not a row nobody reads.
  let after = -Infinity;
  // A damaged file ends the walk as a failed verify, naming the last row read before it.
  const unreadable = (err: unknown): AuditVerification => {
    if (!(err instanceof AuditLogDamaged)) throw err;
    v.unreadable(Number.isFinite(after) ? after : 0, err);
    return v.finish(0);
  };
  let highWater: number;
  try {
    highWater = source.auditHighWater();
  } catch (err) {
    return unreadable(err);
  }
  // Pages of PAGE rows; after one fails to read, halved until a single row fails, so the
  // damage is named at the first row that does not read, not at the start of its page.
  let limit = PAGE;
  for (;;) {
    let page: AuditRecord[];
    try {
      page = source.auditRecords({ afterSeq: after, limit });
    } catch (err) {
      if (!(err instanceof AuditLogDamaged) || limit === 1) return unreadable(err);
      limit = Math.ceil(limit / 2);
      continue;
    }
    let going = true;
    for (const r of page) {
      if (r.seq > highWater) {
        going = false;
        break;
      }
      if (!v.push(r)) {
        going = false;
        break;
      }
      after = r.seq;
    }
    if (!going || page.length < limit) break;
    if (opts.yieldBetweenPages !== false) await new Promise((r) => setImmediate(r));
  }
  return v.finish(highWater);
}

/**
 * An audit row's stored details text as the JSON object rectify wrote, or null when it is
 * not one (the row was changed behind rectify's back): such a row is still listed, with
 * the text as stored, and verify reports it.
 */
export function readDetails(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** `details` as an object, or (not an object: a row changed behind rectify's back) the stored text and `details_unreadable`. */
export function auditDetails(text: string): { details: Record<string, unknown> } | { details: string; details_unreadable: true } {
  const details = readDetails(text);
  return details ? { details } : { details: text, details_unreadable: true };
}

/**
 * One exported row (a line of `audit export`): the stored fields with `details`
 * parsed, the time both readable and as hashed (`at_ms`), and the chain hashes, so
 * a SIEM can recompute each hash from the line alone. Details that are not a JSON
 * object (a row changed behind rectify's back) are the stored text, with
 * `details_unreadable: true`: the line is still written, and verify reports the row.
 */
export function auditExportLine(r: AuditRecord) {
  return {
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    at_ms: r.at,
    event: r.event,
    incident_id: r.incident_id,
    runbook: r.runbook,
    execution_id: r.execution_id,
    actor: r.actor,
    ...auditDetails(r.details),
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ApprovalRow, CircuitRecord, DeliveryRecord, ExecutionRow, IncidentRow, RepeatableRow, RepeatsCheckpoint, RunbookPause, RunOnObject, StoredDecision, ToldRow, Tx } from '../ports.js';
import { DATABASE_COPY_KEY } from '../ports.js';
import { NOTIFIED_ONLY, TOLD_EVENTS } from '../../domain/index.js';
import type { AuditChain } from './audit-chain.js';
import { readDetails } from '../audit-verify.js';
import { APPROVAL_COLUMNS, incidentBody, rowToApproval, rowToExecution, rowToIncident } from './rows.js';
import { wellFormed } from '../../lib/index.js';

type Raw = Record<string, unknown>;

/**
 * The pending request an alert's plan joins (see pendingApprovalForPlan): by the partial
 * index approvals_plan_key (migration 004), the few requests of that plan. Left to
 * itself SQLite walks approvals_status, every pending request, and sorts them: with
 * thousands pending, a storm's every alert asking approval paid for all of them.
 * Named, so a predicate that no longer matches the index's fails at start, loudly.
 */
export const APPROVAL_FOR_PLAN = `SELECT ${APPROVAL_COLUMNS} FROM approvals INDEXED BY approvals_plan_key
  WHERE plan_key = ? AND status = 'pending' AND plan_key IS NOT NULL AND expires_at > ? ORDER BY requested_at LIMIT 1`;
/**
 * A runbook's last CIRCUIT_CLOSED row written after a run started (its first audit row,
 * found through audit_execution: a run has a handful of rows). Through audit_circuit_closed
 * (migration 016): one lookup, where audit_runbook walked every row of the runbook since,
 * one per alert of a storm.
 */
export const CIRCUIT_CLOSED_SINCE_START = `SELECT json_extract(details, '$.trial_execution_id') AS trial FROM audit
  WHERE runbook = @runbook AND event = 'CIRCUIT_CLOSED' AND seq > (SELECT MIN(seq) FROM audit WHERE execution_id = @id)
  ORDER BY seq DESC LIMIT 1`;
/** The guard answers remembered in one write transaction (see `memoReads`); undefined is not asked yet. */
interface ReadMemo {
  paused?: boolean;
  runbooks: Map<string, RunbookMemo>;
}
interface RunbookMemo {
  paused?: RunbookPause | null;
  circuit?: CircuitRecord;
  /** By service: the pair's execution times since the earliest window start asked. */
  since: Map<string, { sinceMs: number; times: number[] }>;
  /** By service: the pair's last execution start, null when none. */
  last: Map<string, number | null>;
  /** By service or Kubernetes object: the last run start a person's clearing ended the cooldown of, null when none. */
  cleared: Map<string, number | null>;
  /**
   * The expiry times of the runbook's pending requests that expire after `from` (the
   * earliest time asked), ascending: kept in step by the requests opened, forgotten
   * when any request changes status.
   */
  pending?: { from: number; expiries: number[] };
}
const newReadMemo = (): ReadMemo => ({ runbooks: new Map() });

const CLOSED: CircuitRecord = Object.freeze({ state: 'closed', failures: 0, openedAt: null, trialExecutionId: null });

/**
 * The domain operations on SQLite, every statement prepared once. Used only inside
 * the store's transactions (or for plain reads), never awaited in between.
 */
/** The SQLite Tx plus the read memo the store switches on for the length of one write transaction. */
export interface SqliteTx extends Tx {
  /**
   * While on, guard-state reads (pause, circuit, rate-limit counts, blast-radius
   * claims) are answered from a memo; a write to those tables forgets the answers
   * it can change (the blast-radius claims are updated in place instead). Only
   * inside a write transaction: nobody else can write then, so the memo is exactly
   * what a query would return. Turned off (and cleared) outside it.
   */
  memoReads(on: boolean): void;
  /** Clears the memo (a unit rolled back to its savepoint: its writes are gone). */
  forgetReads(): void;
  /**
   * Whether an approval request was opened or changed status (approved, rejected,
   * expired, cancelled) since the last call, which clears it: the store counts the
   * pending requests again after a commit only then, never per alert of a storm.
   */
  takeApprovalsChanged(): boolean;
  /** Approval requests pending now (not yet decided, expired or cancelled). */
  pendingApprovalCount(): number;
}

/** Most decision details texts remembered (see detailsText); past it they are forgotten all at once. */
const DECISION_DETAILS_KEPT = 4_096;
/**
 * Longest details text remembered: a longer one (a long service or root cause) is
 * stringified for its row alone. A storm repeats short texts; a sender's text of any
 * length, remembered 4,096 times, could run the service out of memory.
 */
const DECISION_DETAILS_TEXT_MAX = 1_024;
/** Decision details texts by reason, service and root cause. */
const decisionDetails = new Map<string, Map<string, Map<string, string>>>();
let decisionDetailsKept = 0;
/** Characters of the texts remembered (each of its three values is in it, so the keys are no longer). */
let decisionDetailsChars = 0;

/** The decision details texts remembered now: how many, their characters and the longest (for tests). */
export function decisionDetailsMemory(): { entries: number; chars: number; longest: number } {
  let longest = 0;
  for (const byService of decisionDetails.values()) for (const byCause of byService.values()) for (const t of byCause.values()) longest = Math.max(longest, t.length);
  return { entries: decisionDetailsKept, chars: decisionDetailsChars, longest };
}

/**
 * An audit row's details as stored: JSON text. A storm's blocked decisions all carry
 * `{reason, service, root_cause}`, and with a few runbooks and services the same few
 * hundred of them: those texts are remembered by their three values (what
 * JSON.stringify gives for such an object depends on nothing else) rather than built
 * again for every alert. Anything else is stringified as it is.
 */
export function detailsText(details: Record<string, unknown> | undefined): string {
  if (details === undefined) return '{}';
  // A plain object's own data only: JSON.stringify would follow a toJSON (inherited or
  // not enumerable) or read a getter again, and give another text than its three values.
  const proto = Object.getPrototypeOf(details) as unknown;
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in details) return JSON.stringify(details);
  let n = 0;
  for (const k in details) {
    if ((n === 0 && k !== 'reason') || (n === 1 && k !== 'service') || (n === 2 && k !== 'root_cause') || n === 3) return JSON.stringify(details);
    n++;
  }
  // Own data properties (a getter is not read here: JSON.stringify reads it once).
  const own = (k: string): boolean => Object.getOwnPropertyDescriptor(details, k)?.value !== undefined;
  if (n !== 3 || !own('reason') || !own('service') || !own('root_cause')) return JSON.stringify(details);
  const { reason, service, root_cause: rootCause } = details;
  if ( typeof reason !== 'string' || typeof service !== 'string' || typeof rootCause !== 'string') return JSON.stringify(details);
  let byService = decisionDetails.get(reason);
  let byCause = byService?.get(service);
  const known = byCause?.get(rootCause);
  if (known !== undefined) return known;
  const text = JSON.stringify(details);
  if (text.length > DECISION_DETAILS_TEXT_MAX) return text;
  if (decisionDetailsKept >= DECISION_DETAILS_KEPT) {
    decisionDetails.clear();
    decisionDetailsKept = 0;
    decisionDetailsChars = 0;
    byService = byCause = undefined;
  }
  if (!byService) decisionDetails.set(reason, (byService = new Map()));
  if (!byCause) byService.set(service, (byCause = new Map()));
  byCause.set(rootCause, text);
  decisionDetailsKept++;
  decisionDetailsChars += text.length;
  return text;
}

/** How stale a row's last-delivery time may be before a re-delivery writes it again. */
const SEEN_STEP_MS = 60_000;

/**
 * `onUnreadableDetails`: called with the seq of an audit row read back (notifications
 * owed, the repeat filter's counts) whose details are not the JSON object rectify wrote
 * (changed behind its back). The row is read with no details, not a fault: a start does
 * not fail on it, and verify reports it.
 */
export function createSqliteTx(db: Database.Database, chain: AuditChain, onUnreadableDetails?: (seq: number) => void): SqliteTx {
  const detailsOf = (r: Raw): Record<string, unknown> => {
    const details = readDetails(r.details as string);
    if (details) return details;
    onUnreadableDetails?.(r.seq as number);
    return {};
  };
  const s = {
    decisionByDedup: db.prepare('SELECT id AS incident_id, action, event, runbook, approval_id, execution_id FROM incidents WHERE dedup_key = ?'),
    incidentById: db.prepare('SELECT * FROM incidents WHERE id = ?'),
    redecideIncident: db.prepare('UPDATE incidents SET action = ?, event = ?, runbook = ?, reason = ?, approval_id = ?, execution_id = ? WHERE id = ?'),
    // Positional parameters: binding an object by name costs a property lookup per column per row.
    insertIncident: db.prepare(
      `INSERT INTO incidents (id, dedup_key, alert_key, source, received_at, status, service, root_cause, confidence, body,
         action, event, runbook, reason, approval_id, execution_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    audit: db.prepare(
      `INSERT INTO audit (seq, at, event, incident_id, runbook, execution_id, actor, details, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertExecution: db.prepare(
      `INSERT INTO executions (id, incident_id, runbook, service, state, trigger, actor, plan, steps, started_at,
         finished_at, success, rolled_back, outcome, circuit_trial)
       VALUES (@id, @incident_id, @runbook, @service, @state, @trigger, @actor, @plan, @steps, @started_at,
         @finished_at, @success, @rolled_back, @outcome, @circuit_trial)`,
    ),
    executionById: db.prepare('SELECT * FROM executions WHERE id = ?'),
    // `execution_id = ?` uses the partial index audit_execution; the rest filters that run's few rows.
    executionEndNeedsHuman: db
      .prepare("SELECT 1 FROM audit WHERE execution_id = ? AND event = 'FAILED' AND json_extract(details, '$.needs_human') = 1 LIMIT 1")
      .pluck(),
    runningExecutions: db.prepare("SELECT * FROM executions WHERE state = 'running' ORDER BY started_at"),
    circuitClosedSinceStart: db.prepare(CIRCUIT_CLOSED_SINCE_START),
    rateTimes: db.prepare('SELECT at FROM rate_events WHERE runbook = ? AND service = ? AND at > ?').pluck(),
    rateInsert: db.prepare('INSERT INTO rate_events (runbook, service, at, execution_id) VALUES (?, ?, ?, ?)'),
    claimsCount: db.prepare('SELECT COUNT(*) AS n FROM blast_claims'),
    claimsPerService: db.prepare('SELECT service, COUNT(*) AS n FROM blast_claims WHERE runbook = ? GROUP BY service').raw(),
    claimInsert: db.prepare('INSERT INTO blast_claims (execution_id, runbook, service, claimed_at) VALUES (?, ?, ?, ?)'),
    claimById: db.prepare('SELECT runbook, service FROM blast_claims WHERE execution_id = ?'),
    claimDelete: db.prepare('DELETE FROM blast_claims WHERE execution_id = ?'),
    claimsOrphaned: db.prepare(
      "DELETE FROM blast_claims WHERE execution_id NOT IN (SELECT id FROM executions WHERE state = 'running') RETURNING execution_id, runbook, service",
    ),
    circuitGet: db.prepare('SELECT * FROM circuits WHERE runbook = ?'),
    circuitSet: db.prepare(
      `INSERT INTO circuits (runbook, state, failures, opened_at, trial_execution_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(runbook) DO UPDATE SET state = excluded.state, failures = excluded.failures,
         opened_at = excluded.opened_at, trial_execution_id = excluded.trial_execution_id, updated_at = excluded.updated_at`,
    ),
    approvalById: db.prepare(`SELECT ${APPROVAL_COLUMNS} FROM approvals WHERE id = ?`),
    approvalsForAlert: db.prepare(
      `SELECT ${APPROVAL_COLUMNS} FROM approvals WHERE id IN (SELECT approval_id FROM approval_alerts WHERE alert_key = ?) AND status = 'pending'`,
    ),
    approvalForPlan: db.prepare(APPROVAL_FOR_PLAN),
    memberInsert: db.prepare('INSERT OR IGNORE INTO approval_alerts (alert_key, approval_id, incident_id) VALUES (?, ?, ?)'),
    memberDelete: db.prepare('DELETE FROM approval_alerts WHERE alert_key = ? AND approval_id = ?'),
    membersCount: db.prepare('SELECT COUNT(*) AS n FROM approval_alerts WHERE approval_id = ?').pluck(),
    membersResolved: db.prepare('DELETE FROM approval_alerts WHERE alert_key = ?'),
    approvalAlertsAdd: db.prepare('UPDATE approvals SET alerts = alerts + 1 WHERE id = ?'),
    approvalAlerts: db.prepare('SELECT alerts FROM approvals WHERE id = ?').pluck(),
    approvalsExpired: db.prepare(`SELECT ${APPROVAL_COLUMNS} FROM approvals WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at`),
    // The pending requests' expiries by approvals_status; the runbook read from each row (a
    // runbook has at most --max-pending-approvals of them opened by alerts).
    pendingExpiriesOf: db.prepare(
      "SELECT expires_at FROM approvals WHERE status = 'pending' AND expires_at > ? AND runbook = ? ORDER BY expires_at",
    ).pluck(),
    approvalsPending: db.prepare(`SELECT ${APPROVAL_COLUMNS} FROM approvals WHERE status = 'pending' AND expires_at > ? ORDER BY requested_at, id`),
    // Read from the approvals_status index alone: one range of it, the pending entries.
    approvalsPendingCount: db.prepare("SELECT COUNT(*) FROM approvals WHERE status = 'pending'").pluck(),
    // `incident_id = ?` uses the partial index audit_incident; the rest filters that incident's few rows.
    notifiedReceivers: db
      .prepare(
        `SELECT DISTINCT json_extract(details, '$.notifier') FROM audit WHERE incident_id = ? AND event = 'NOTIFIED' AND json_extract(details, '$.about') = ?
           AND (? IS NULL OR json_extract(details, '$.notification_id') IS NULL OR json_extract(details, '$.notification_id') = ?)`,
      )
      .pluck(),
    auditHead: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM audit').pluck(),
    auditNewest: db.prepare('SELECT seq, at FROM audit ORDER BY seq DESC LIMIT 1'),
    // A walk of the log by seq from `after` (the rows since the last checkpoint): each row's
    // incident by its key, a decision being the row of its incident's own event.
    repeatableAfter: db.prepare(
      `SELECT a.seq, a.at, a.event, a.incident_id, a.runbook, a.details, i.action, i.service
         FROM audit a LEFT JOIN incidents i ON i.id = a.incident_id AND i.event = a.event
        WHERE a.seq > ?
          AND (i.action IN ('blocked', 'manual')
               OR (a.event = 'ALERTS_TRUNCATED' AND json_extract(a.details, '$.notification_id') IS NULL))
        ORDER BY a.seq LIMIT ?`,
    ),
    settingGet: db.prepare('SELECT value FROM settings WHERE key = ?'),
    settingRow: db.prepare('SELECT value, updated_at, updated_by FROM settings WHERE key = ?'),
    // The latest pause row, read backwards from the end of the log: the rows after it only
    // (NOT INDEXED: by seq, not a walk of audit_runbook over the whole log).
    heldByPause: db.prepare(
      `SELECT runbook, count(*) AS alerts FROM audit NOT INDEXED
        WHERE seq > (SELECT seq FROM audit WHERE event = 'SERVICE_PAUSED' ORDER BY seq DESC LIMIT 1)
          AND event = 'PAUSED' AND runbook IS NOT NULL
        GROUP BY runbook ORDER BY runbook`,
    ),
    heldByPauseOf: db.prepare(
      `SELECT runbook, count(*) AS alerts FROM audit
        WHERE seq > (SELECT seq FROM audit WHERE event = 'RUNBOOK_PAUSED' AND runbook = @runbook ORDER BY seq DESC LIMIT 1)
          AND event = 'PAUSED' AND runbook = @runbook
        GROUP BY runbook`,
    ),
    heldByCircuit: db.prepare(
      `SELECT count(*) AS alerts FROM audit a
        WHERE a.runbook = @runbook AND a.event = 'CIRCUIT_OPEN' AND a.incident_id IS NOT NULL
          AND a.seq > COALESCE((SELECT seq FROM audit WHERE event = 'CIRCUIT_CLOSED' AND runbook = @runbook ORDER BY seq DESC LIMIT 1), 0)
          AND NOT EXISTS (SELECT 1 FROM audit m WHERE m.incident_id = a.incident_id AND m.event = 'MANUAL_RUN')`,
    ),
    settingAdd: db.prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, 'rectify') ON CONFLICT(key) DO NOTHING"),
    settingDelete: db.prepare('DELETE FROM settings WHERE key = ?'),
    settingsWithPrefix: db.prepare('SELECT key, value FROM settings WHERE key >= ? AND key < ?'),
    settingSet: db.prepare(
      `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    ),
  };

  // The partial indexes of migration 005 (audit_told rebuilt by 007, 008, 011, 012, 013 and 015), named so that a predicate that no longer
  // matches the index's fails the start's recovery loudly instead of walking the log.
  // Prepared when first used (once per start).
  let toldStatements: { rows: Database.Statement; rowsAfter: Database.Statement; deliveries: Database.Statement } | undefined;
  // Migration 015's predicate, term for term: an ALERTS_TRUNCATED or PAUSED row is indexed only
  // when it records its notification (the manual notices past the bound and the PAUSED
  // decisions of alerts held off by a pause record none).
  const toldPredicate = `(${TOLD_EVENTS.map((e) => (NOTIFIED_ONLY.has(e) ? `(event = '${e}' AND json_extract(details, '$.notification_id') IS NOT NULL)` : `event = '${e}'`)).join(' OR ')})`;
  const told = () =>
    (toldStatements ??= {
      rows: db.prepare(
        `SELECT seq, at, event, incident_id, runbook, execution_id, details FROM audit INDEXED BY audit_told
         WHERE ${toldPredicate} AND at >= ? ORDER BY at DESC, seq DESC LIMIT ?`,
      ),
      rowsAfter: db.prepare(
        `SELECT seq, at, event, incident_id, runbook, execution_id, details FROM audit INDEXED BY audit_told
         WHERE ${toldPredicate} AND at >= ? AND (at > ? OR seq > ?) ORDER BY at, seq LIMIT ?`,
      ),
      deliveries: db.prepare(
        `SELECT seq, event, at, json_extract(details, '$.notifier') AS notifier, json_extract(details, '$.detail') AS detail,
                json_extract(details, '$.attempts') AS attempts
         FROM audit INDEXED BY audit_notification
         WHERE (event = 'NOTIFIED' OR event = 'NOTIFY_FAILED') AND json_extract(details, '$.notification_id') = ? ORDER BY seq`,
      ),
    });

  // Prepared when first used: by the index on `at` (migration 010) when the database has it.
  let firstSince: Database.Statement | undefined;
  const firstSinceStatement = () => {
    if (firstSince) return firstSince;
    const indexed = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'audit_at'").get() !== undefined;
    return (firstSince = db.prepare(`SELECT MIN(seq) FROM audit ${indexed ? 'INDEXED BY audit_at' : ''} WHERE at >= ?`).pluck());
  };

  /** The delivery records of one notification, oldest first. */
  function deliveriesOf(q: ReturnType<typeof told>, id: string): DeliveryRecord[] {
    return (q.deliveries.all(id) as Raw[]).map(
      (d): DeliveryRecord => ({
        ok: d.event === 'NOTIFIED',
        notifier: String(d.notifier ?? ''),
        detail: String(d.detail ?? ''),
        at: d.at as number,
        seq: d.seq as number,
        ...(typeof d.attempts === 'number' ? { attempts: d.attempts } : {}),
      }),
    );
  }

  /** Told rows with their delivery records (see toldSince). */
  function toldRows(rows: Raw[]): ToldRow[] {
    const out: ToldRow[] = [];
    const q = told();
    for (const r of rows) {
      const details = detailsOf(r);
      // Rows written before their notification was recorded (an older rectify) have none to tell again.
      const id = details.notification_id;
      const deliveries = typeof id === 'string' ? deliveriesOf(q, id) : [];
      out.push({
        seq: r.seq as number,
        at: r.at as number,
        event: r.event as ToldRow['event'],
        incident_id: (r.incident_id as string | null) ?? null,
        runbook: (r.runbook as string | null) ?? null,
        execution_id: (r.execution_id as string | null) ?? null,
        details,
        deliveries,
      });
    }
    return out;
  }

  // Updates are built per patch shape; the shapes are few, so cache their statements.
  const updateCache = new Map<string, Database.Statement>();
  function update(table: 'executions' | 'approvals', id: string, patch: Record<string, unknown>): void {
    const keys = Object.keys(patch).filter((k) => patch[k] !== undefined);
    if (keys.length === 0) return;
    const cacheKey = `${table}:${keys.join(',')}`;
    let stmt = updateCache.get(cacheKey);
    if (!stmt) {
      stmt = db.prepare(`UPDATE ${table} SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`);
      updateCache.set(cacheKey, stmt);
    }
    const params: Record<string, unknown> = { id };
    for (const k of keys) {
      const v = patch[k];
      params[k] = typeof v === 'boolean' ? (v ? 1 : 0) : Array.isArray(v) ? JSON.stringify(v) : v;
    }
    stmt.run(params);
  }

  // In an alert storm every alert of a runbook asks the same guard questions; in one
  // write transaction the answers change only when this connection writes, and a
  // write forgets only the answers it can change: an execution of one runbook for
  // one service leaves every other pair's rate-limit answers standing.
  //
  // Kept by runbook, then by service, rather than under one string key per answer: every
  // alert asks several of them, and a key built per question was a string made, hashed
  // and dropped each time.
  let memo: ReadMemo | null = null;
  // Blast-radius answers are kept up to date by the claims and releases themselves
  // rather than forgotten: a storm's first seconds claim thousands of executions in
  // one transaction, and reading a runbook's claims again after each would make
  // every decision cost as much as the executions already in flight.
  let claims: ClaimsMemo | null = null;
  /** A runbook's remembered answers (call with the memo on). */
  function ofRunbook(runbook: string): RunbookMemo {
    let m = memo!.runbooks.get(runbook);
    if (!m) memo!.runbooks.set(runbook, (m = { since: new Map(), last: new Map(), cleared: new Map() }));
    return m;
  }
  /**
   * The pair's execution times since the earliest window start asked (at most
   * max_per_hour of them, and those stamped after it): every unit reads its own clock,
   * so later units ask from later starts, and are answered from the same list without a
   * query. The caller filters by its own start.
   */
  function timesFrom(runbook: string, service: string, sinceMs: number): readonly number[] {
    const bySince = memo ? ofRunbook(runbook).since : undefined;
    let known = bySince?.get(service);
    if (!known || sinceMs < known.sinceMs) {
      known = { sinceMs, times: s.rateTimes.all(runbook, service, sinceMs) as number[] };
      bySince?.set(service, known);
    }
    return known.times;
  }
  const forgetAll = (): void => {
    if (memo) memo = newReadMemo();
    if (claims) claims = newClaimsMemo();
  };
  const readClaims = (runbook: string): Map<string, number> => new Map(s.claimsPerService.all(runbook) as Array<[string, number]>);
  let approvalsChanged = false;
  let incidentSeen: Database.Statement | undefined;
  // Prepared at first use, as incidentSeen is: asked_by is migration 014's.
  let approvalInsert: Database.Statement | undefined;
  // Prepared at first use, as incidentSeen is: cooldown_clears is migration 012's (the last
  // starts per service are read only for a person's request: the runbook view, a clearing).
  let clearGet: Database.Statement | undefined;
  let clearSet: Database.Statement | undefined;
  let clearDelete: Database.Statement | undefined;
  let runsUnderWay: Database.Statement | undefined;
  // Prepared at first use, as incidentSeen is: run_objects is migration 018's.
  let objects: { insert: Database.Statement; on: Database.Statement; all: Database.Statement; release: Database.Statement; orphaned: Database.Statement } | undefined;
  const objectStatements = () =>
    (objects ??= {
      insert: db.prepare('INSERT INTO run_objects (execution_id, runbook, object, service) VALUES (?, ?, ?, ?)'),
      // The run claimed last on the object (rowids only grow).
      on: db.prepare('SELECT execution_id, service FROM run_objects WHERE runbook = ? AND object = ? ORDER BY rowid DESC LIMIT 1').raw(),
      // Oldest first, so the run claimed last on an object is the one kept (as `on` answers).
      all: db.prepare('SELECT object, execution_id, service FROM run_objects WHERE runbook = ? ORDER BY rowid').raw(),
      release: db.prepare('DELETE FROM run_objects WHERE execution_id = ? RETURNING runbook, object').raw(),
      orphaned: db.prepare('DELETE FROM run_objects WHERE execution_id NOT IN (SELECT execution_id FROM blast_claims)'),
    });
  // Prepared at first use, as incidentSeen is: last_starts is migration 019's. The last run
  // recorded, not the latest time: after a clock set back, a run recorded since carries an
  // earlier time than the runs before the step, and replaces their start all the same.
  let starts: { get: Database.Statement; set: Database.Statement; perSubject: Database.Statement } | undefined;
  const startStatements = () =>
    (starts ??= {
      get: db.prepare('SELECT at FROM last_starts WHERE runbook = ? AND subject = ?').pluck(),
      set: db.prepare('INSERT INTO last_starts (runbook, subject, at) VALUES (?, ?, ?) ON CONFLICT(runbook, subject) DO UPDATE SET at = excluded.at'),
      perSubject: db.prepare('SELECT subject AS service, at FROM last_starts WHERE runbook = ? ORDER BY subject'),
    });

  return {
    memoReads(on: boolean) {
      memo = on ? newReadMemo() : null;
      claims = on ? newClaimsMemo() : null;
    },
    forgetReads: forgetAll,
    takeApprovalsChanged() {
      const changed = approvalsChanged;
      approvalsChanged = false;
      return changed;
    },
    pendingApprovalCount: () => s.approvalsPendingCount.get() as number,
    paused() {
      if (memo?.paused !== undefined) return memo.paused;
      const paused = (s.settingGet.get('paused') as { value: string } | undefined)?.value === 'true';
      if (memo) memo.paused = paused;
      return paused;
    },
    servicePause() {
      const r = s.settingRow.get('paused') as { value: string; updated_at: number; updated_by: string } | undefined;
      if (r?.value !== 'true') return null;
      const reason = (s.settingGet.get(PAUSE_REASON) as { value: string } | undefined)?.value ?? null;
      return { by: r.updated_by, reason, at: r.updated_at };
    },
    runbookPaused(runbook) {
      const m = memo ? ofRunbook(runbook) : undefined;
      if (m?.paused !== undefined) return m.paused;
      const r = s.settingGet.get(RUNBOOK_PAUSE_PREFIX + runbook) as { value: string } | undefined;
      const pause = r ? (Object.freeze(JSON.parse(r.value)) as RunbookPause) : null;
      if (m) m.paused = pause;
      return pause;
    },
    circuit(runbook) {
      const m = memo ? ofRunbook(runbook) : undefined;
      if (m?.circuit !== undefined) return m.circuit;
      const r = s.circuitGet.get(runbook) as Raw | undefined;
      const circuit: CircuitRecord = r
        ? Object.freeze({
            state: r.state as CircuitRecord['state'],
            failures: r.failures as number,
            openedAt: (r.opened_at as number | null) ?? null,
            trialExecutionId: (r.trial_execution_id as string | null) ?? null,
          })
        : CLOSED;
      if (m) m.circuit = circuit;
      return circuit;
    },
    executionsSince(runbook, service, sinceMs) {
      let n = 0;
      for (const at of timesFrom(runbook, service, sinceMs)) if (at > sinceMs) n++;
      return n;
    },
    executionTimesSince(runbook, service, sinceMs) {
      return timesFrom(runbook, service, sinceMs)
        .filter((at) => at > sinceMs)
        .sort((a, b) => a - b);
    },
    lastExecutionAt(runbook, service) {
      const byLast = memo ? ofRunbook(runbook).last : undefined;
      const known = byLast?.get(service);
      if (known !== undefined) return known;
      const at = (startStatements().get.get(runbook, service) as number | undefined) ?? null;
      byLast?.set(service, at);
      return at;
    },
    cooldownClearedThrough(runbook, subject) {
      const byCleared = memo ? ofRunbook(runbook).cleared : undefined;
      const known = byCleared?.get(subject);
      if (known !== undefined) return known;
      clearGet ??= db.prepare('SELECT through FROM cooldown_clears WHERE runbook = ? AND subject = ?').pluck();
      const through = (clearGet.get(runbook, subject) as number | undefined) ?? null;
      byCleared?.set(subject, through);
      return through;
    },
    lastExecutionPerService(runbook) {
      // As lastExecutionAt: the last run recorded per service.
      return startStatements().perSubject.all(runbook) as Array<{ service: string; at: number }>;
    },
    clearCooldown(runbook, subject, through) {
      memo?.runbooks.get(runbook)?.cleared.delete(subject);
      clearSet ??= db.prepare(
        'INSERT INTO cooldown_clears (runbook, subject, through) VALUES (?, ?, ?) ON CONFLICT(runbook, subject) DO UPDATE SET through = excluded.through',
      );
      clearSet.run(runbook, subject, through);
    },
    activeExecutions() {
      if (!claims) return (s.claimsCount.get() as { n: number }).n;
      claims.active ??= (s.claimsCount.get() as { n: number }).n;
      return claims.active;
    },
    activeServices(runbook) {
      // Read once per transaction, then kept in step with its claims and releases.
      if (!claims) return readClaims(runbook);
      let perService = claims.runbooks.get(runbook);
      if (!perService) claims.runbooks.set(runbook, (perService = readClaims(runbook)));
      return perService;
    },
    runUnderWayOn(runbook, object) {
      // Remembered per transaction, kept in step with the claims (the one claimed last is the
      // answer) and forgotten for the objects a release frees.
      const byObject = claims ? (claims.objects.get(runbook) ?? claims.objects.set(runbook, new Map()).get(runbook)!) : undefined;
      const known = byObject?.get(object);
      if (known !== undefined) return known;
      const row = objectStatements().on.get(runbook, object) as [string, string] | undefined;
      const run = row ? { executionId: row[0], service: row[1] } : null;
      byObject?.set(object, run);
      return run;
    },

    decisionByDedup: (key) => s.decisionByDedup.get(key) as StoredDecision | undefined,
    incidentSeen(id, at) {
      // A re-delivery keeps its occurrence's dedup key: the retention counts from the
      // last delivery (seen_at, migration 009), to the minute: an HA pair's copies
      // milliseconds apart write the row once, not once each. Prepared at first use, as
      // only a duplicate needs it: a store opened on a database of an older schema (a
      // test writing as the release before did) prepares nothing that schema lacks.
      incidentSeen ??= db.prepare('UPDATE incidents SET seen_at = ? WHERE id = ? AND seen_at <= ?');
      incidentSeen.run(at, id, at - SEEN_STEP_MS);
    },
    redecideIncident(id, d) {
      s.redecideIncident.run(d.action, d.event, d.runbook, d.reason, d.approval_id, d.execution_id, id);
    },
    getIncident(id) {
      const r = s.incidentById.get(id) as Raw | undefined;
      return r ? rowToIncident(r) : undefined;
    },
    insertIncident(row: IncidentRow) {
      const i = row.incident;
      s.insertIncident.run(
        i.id,
        i.dedup_key,
        i.alert_key ?? null,
        i.source,
        i.received_at,
        i.status,
        i.service,
        i.root_cause,
        i.confidence,
        incidentBody(i),
        row.action,
        row.event,
        row.runbook,
        row.reason,
        row.approval_id,
        row.execution_id,
      );
    },
    appendAudit(a) {
      // The row is chained to the one before it (see audit-chain.ts); seq is given
      // explicitly so the hashed seq is the stored one.
      // Hashed as stored: a lone surrogate in a text column would be stored as U+FFFD
      // and the row would no longer verify (`details` is JSON, which escapes them).
      const row = {
        at: a.at,
        event: a.event,
        incident_id: a.incident_id == null ? null : wellFormed(a.incident_id),
        runbook: a.runbook == null ? null : wellFormed(a.runbook),
        execution_id: a.execution_id == null ? null : wellFormed(a.execution_id),
        actor: wellFormed(a.actor),
        details: detailsText(a.details),
      };
      const link = chain.next(row);
      s.audit.run(link.seq, row.at, row.event, row.incident_id, row.runbook, row.execution_id, row.actor, row.details, link.prev_hash, link.hash);
      return link.seq;
    },

    insertExecution(row: ExecutionRow) {
      s.insertExecution.run({
        ...row,
        plan: JSON.stringify(row.plan),
        steps: JSON.stringify(row.steps),
        success: row.success === null ? null : row.success ? 1 : 0,
        rolled_back: row.rolled_back === null ? null : row.rolled_back ? 1 : 0,
        circuit_trial: row.circuit_trial ? 1 : 0,
      });
    },
    getExecution(id) {
      const r = s.executionById.get(id) as Raw | undefined;
      return r ? rowToExecution(r) : undefined;
    },
    updateExecution: (id, patch) => update('executions', id, patch),
    runningExecutions: () => (s.runningExecutions.all() as Raw[]).map(rowToExecution),
    executionEndNeedsHuman: (executionId) => s.executionEndNeedsHuman.get(executionId) !== undefined,
    circuitClosedSinceStart(runbook, executionId) {
      const r = s.circuitClosedSinceStart.get({ runbook, id: executionId }) as { trial: unknown } | undefined;
      return r ? { trialExecutionId: typeof r.trial === 'string' ? r.trial : null } : undefined;
    },

    consumeRate(runbook, service, at, executionId) {
      const m = memo?.runbooks.get(runbook);
      m?.since.delete(service);
      m?.last.delete(service);
      s.rateInsert.run(runbook, service, at, executionId);
      startStatements().set.run(runbook, service, at);
      // A new run has its cooldown again, even one a clock set back records as started
      // before the run a person's clearing ended: the clearing covered the runs before it.
      m?.cleared.delete(service);
      clearDelete ??= db.prepare('DELETE FROM cooldown_clears WHERE runbook = ? AND subject = ?');
      clearDelete.run(runbook, service);
    },
    claimBlastRadius(executionId, runbook, service, at, onObjects = []) {
      s.claimInsert.run(executionId, runbook, service, at);
      if (onObjects.length > 0) {
        const insert = objectStatements().insert;
        for (const object of onObjects) insert.run(executionId, runbook, object, service);
        const byObject = claims?.objects.get(runbook);
        for (const object of onObjects) byObject?.set(object, { executionId, service });
      }
      if (!claims) return;
      if (claims.active !== undefined) claims.active++;
      const perService = claims.runbooks.get(runbook);
      perService?.set(service, (perService.get(service) ?? 0) + 1);
    },
    releaseBlastRadius(executionId) {
      const claim = claims ? (s.claimById.get(executionId) as { runbook: string; service: string } | undefined) : undefined;
      s.claimDelete.run(executionId);
      // Another run under way on a freed object may hold it still: forgotten, read again.
      for (const [runbook, object] of objectStatements().release.all(executionId) as Array<[string, string]>) claims?.objects.get(runbook)?.delete(object);
      if (!claims || !claim) return;
      if (claims.active !== undefined) claims.active--;
      const perService = claims.runbooks.get(claim.runbook);
      if (!perService) return;
      const left = (perService.get(claim.service) ?? 1) - 1;
      if (left > 0) perService.set(claim.service, left);
      else perService.delete(claim.service);
    },
    runsUnderWay(runbook) {
      // Oldest first, so the one claimed last on a service is the one kept.
      runsUnderWay ??= db.prepare('SELECT service, execution_id FROM blast_claims WHERE runbook = ? ORDER BY claimed_at, rowid').raw();
      return new Map(runsUnderWay.all(runbook) as Array<[string, string]>);
    },
    objectsUnderWay(runbook) {
      const rows = objectStatements().all.all(runbook) as Array<[string, string, string]>;
      return new Map(rows.map(([object, executionId, service]) => [object, { executionId, service }]));
    },
    releaseOrphanedClaims() {
      const released = s.claimsOrphaned.all() as Array<{ execution_id: string; runbook: string; service: string }>;
      const freed = objectStatements().orphaned.run().changes;
      if ((released.length > 0 || freed > 0) && claims) claims = newClaimsMemo();
      return released;
    },
    setCircuit(runbook, rec, at) {
      const m = memo?.runbooks.get(runbook);
      if (m) m.circuit = undefined;
      s.circuitSet.run(runbook, rec.state, rec.failures, rec.openedAt, rec.trialExecutionId, at);
    },

    insertApproval(row: ApprovalRow) {
      approvalInsert ??= db.prepare(
        `INSERT INTO approvals (id, incident_id, alert_key, runbook, service, status, reason, plan, requested_at, requested_by,
           expires_at, approvals_required, votes, decided_at, decided_by, comment, execution_id, plan_key, alerts, asked_by)
         VALUES (@id, @incident_id, @alert_key, @runbook, @service, @status, @reason, @plan, @requested_at, @requested_by,
           @expires_at, @approvals_required, @votes, @decided_at, @decided_by, @comment, @execution_id, @plan_key, @alerts, @asked_by)`,
      );
      approvalInsert.run({ ...row, plan: JSON.stringify(row.plan), votes: JSON.stringify(row.votes), asked_by: row.asked_by === null ? null : JSON.stringify(row.asked_by) });
      approvalsChanged = true;
      const known = memo?.runbooks.get(row.runbook)?.pending;
      if (known && row.status === 'pending' && row.expires_at > known.from) known.expiries.splice(expiringBy(known.expiries, row.expires_at), 0, row.expires_at);
      if (row.alert_key !== null && row.status === 'pending') s.memberInsert.run(row.alert_key, row.id, row.incident_id);
    },
    getApproval(id) {
      const r = s.approvalById.get(id) as Raw | undefined;
      return r ? rowToApproval(r) : undefined;
    },
    updateApproval(id, patch) {
      // A decided request keeps its alerts (approval_alerts) until each resolves, so its
      // alerts_open still says how many have not: a decision resolves no alert.
      update('approvals', id, patch);
      if (patch.status !== undefined) {
        approvalsChanged = true;
        // Which runbook's request it is is not known here: every runbook's count is read again.
        if (memo) for (const m of memo.runbooks.values()) m.pending = undefined;
      }
    },
    pendingApprovalsForAlert: (alertKey) => (s.approvalsForAlert.all(alertKey) as Raw[]).map(rowToApproval),
    pendingApprovalsOf(runbook, now) {
      const m = memo ? ofRunbook(runbook) : undefined;
      let known = m?.pending;
      if (!known || now < known.from) {
        known = { from: now, expiries: s.pendingExpiriesOf.all(now, runbook) as number[] };
        if (m) m.pending = known;
      }
      return known.expiries.length - expiringBy(known.expiries, now);
    },
    pendingApprovalForPlan(planKey, now) {
      const r = s.approvalForPlan.get(planKey, now) as Raw | undefined;
      return r ? rowToApproval(r) : undefined;
    },
    joinApproval(approvalId, alertKey, incidentId) {
      if (s.memberInsert.run(alertKey, approvalId, incidentId).changes > 0) s.approvalAlertsAdd.run(approvalId);
      return s.approvalAlerts.get(approvalId) as number;
    },
    leaveApproval(approvalId, alertKey) {
      s.memberDelete.run(alertKey, approvalId);
      return s.membersCount.get(approvalId) as number;
    },
    alertResolved(alertKey) {
      s.membersResolved.run(alertKey);
    },
    expiredApprovals: (now) => (s.approvalsExpired.all(now) as Raw[]).map(rowToApproval),
    pendingApprovals: (now) => (s.approvalsPending.all(now) as Raw[]).map(rowToApproval),
    notifiedReceivers: (incidentId, about, notificationId) =>
      (s.notifiedReceivers.all(incidentId, about, notificationId ?? null, notificationId ?? null) as unknown[]).filter((n): n is string => typeof n === 'string'),
    deliveries: (notificationId) => deliveriesOf(told(), notificationId),
    toldSince: (since, limit) => toldRows(told().rows.all(since, limit) as Raw[]),
    toldAfter: (after, limit) => toldRows(told().rowsAfter.all(after.at, after.at, after.seq, limit) as Raw[]),

    auditHead: () => s.auditHead.get() as number,
    auditNewest: () => s.auditNewest.get() as { seq: number; at: number } | undefined,
    firstAuditSince: (at) => (firstSinceStatement().get(at) as number | null) ?? null,
    repeatableAfter: (after, limit) =>
      (s.repeatableAfter.all(after, limit) as Raw[]).map(
        (r): RepeatableRow => ({
          seq: r.seq as number,
          at: r.at as number,
          event: r.event as RepeatableRow['event'],
          incident_id: (r.incident_id as string | null) ?? null,
          runbook: (r.runbook as string | null) ?? null,
          service: (r.service as string | null) ?? null,
          outcome: r.action === 'blocked' ? 'blocked' : 'manual',
          details: detailsOf(r),
        }),
      ),
    repeatsCheckpoint() {
      const r = s.settingGet.get(REPEATS_CHECKPOINT) as { value: string } | undefined;
      return r ? (JSON.parse(r.value) as RepeatsCheckpoint) : undefined;
    },
    setRepeatsCheckpoint(json, at) {
      s.settingSet.run(REPEATS_CHECKPOINT, json, at, 'rectify');
    },

    receiverKey(at) {
      // Made once per database; a second process on it (`rectify run --local`) reads the first's.
      s.settingAdd.run(RECEIVER_KEY, randomBytes(32).toString('base64url'), at);
      return (s.settingGet.get(RECEIVER_KEY) as { value: string }).value;
    },

    setPaused(paused, by, at, reason) {
      if (memo) memo.paused = undefined;
      s.settingSet.run('paused', paused ? 'true' : 'false', at, by);
      if (paused && reason) s.settingSet.run(PAUSE_REASON, reason, at, by);
      else s.settingDelete.run(PAUSE_REASON);
    },
    heldByPause(runbook) {
      return (runbook === undefined ? s.heldByPause.all() : s.heldByPauseOf.all({ runbook })) as Array<{ runbook: string; alerts: number }>;
    },
    heldByCircuit(runbook) {
      return (s.heldByCircuit.get({ runbook }) as { alerts: number }).alerts;
    },
    setRunbookPaused(runbook, pause) {
      const m = memo?.runbooks.get(runbook);
      if (m) m.paused = undefined;
      if (pause) s.settingSet.run(RUNBOOK_PAUSE_PREFIX + runbook, JSON.stringify(pause), pause.at, pause.by);
      else s.settingDelete.run(RUNBOOK_PAUSE_PREFIX + runbook);
    },
    guardClock: () => (s.settingGet.get(GUARD_CLOCK_KEY) as { value: string } | undefined)?.value ?? null,
    setGuardClock(value, at) {
      s.settingSet.run(GUARD_CLOCK_KEY, value, at, 'rectify');
    },
    databaseCopy: () => (s.settingGet.get(DATABASE_COPY_KEY) as { value: string } | undefined)?.value ?? null,
    clearDatabaseCopy() {
      s.settingDelete.run(DATABASE_COPY_KEY);
    },
    pausedRunbooks() {
      // Keys sort as text: every key with the prefix lies in [prefix, prefix + U+FFFF).
      const rows = s.settingsWithPrefix.all(RUNBOOK_PAUSE_PREFIX, RUNBOOK_PAUSE_PREFIX + '\uffff') as Array<{ key: string; value: string }>;
      return new Map(rows.map((r) => [r.key.slice(RUNBOOK_PAUSE_PREFIX.length), JSON.parse(r.value) as RunbookPause]));
    },
  };
}

/** How many of the ascending times are at or before `t` (the index of the first after it). */
function expiringBy(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One write transaction's blast-radius claims: the count in flight, per runbook its claims
 * per service, and per runbook the run under way on each object asked (null: none).
 */
interface ClaimsMemo {
  active?: number;
  runbooks: Map<string, Map<string, number>>;
  objects: Map<string, Map<string, RunOnObject | null>>;
}
const newClaimsMemo = (): ClaimsMemo => ({ runbooks: new Map(), objects: new Map() });

/** The settings key of the repeat filter's checkpoint (see repeatsCheckpoint). */
const REPEATS_CHECKPOINT = 'notify_repeats';

/** The settings key of the key receivers' names hash their URL with (see receiverKey). */
const RECEIVER_KEY = 'notify:receiver-key';

/** The settings key of the guard and prune horizons saved for the next start on the same boot (see resumeGuardClock). */
const GUARD_CLOCK_KEY = 'guard:clock';

/** Settings keys of the runbooks' own kill switches: `paused:runbook:<id>`, the value `{by, reason, at}`. */
const RUNBOOK_PAUSE_PREFIX = 'paused:runbook:';
/** The global kill switch's reason, beside its `paused` key (whose row says who and when); deleted on resume. */
const PAUSE_REASON = 'paused_reason';

import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { buildApp, setTlsMaterial, type TlsMaterial } from './api/app.js';
import { createTokenAuth, type TokenAuth } from './api/auth.js';
import { caseOnlyProblem, readTokensFile, slackApproversAgainstTokens, type TokenEntry } from './api/tokens.js';
import { createSlackVerifier } from './api/slack-signature.js';
import { describeSource, parseSlackApprover, resolveAuditKey, resolveAuditPreviousKeys, resolveSecret, settingFileProblem, unsupportedDatabase, type Config, type ConfigSource } from './config/index.js';
import { formatProblem, LoadError, longestCooldown, stepSettleMs, type LoadProblem, type Runbook } from './domain/index.js';
import { createEngine, createExecutionTracker, createIntakeRefusals, type Engine, type RunbookCatalog } from './engine/index.js';
import { unsettledPage, withoutShowing } from './engine/resend.js';
import { createRepeatsCheckpointer, readBackRepeats } from './engine/repeats-readback.js';
import type { ActionExecutor, CheckRunner, Enricher } from './execute/ports.js';
import { createExecutionRunner } from './execute/runner.js';
import { killLeftoversOf } from './execute/actions/command.js';
import { createPruneHorizon, readBoundedFile, resumeGuardClock, saveGuardClock, systemClock, type Clock } from './lib/index.js';
import { createPrometheusMetrics, type PrometheusMetrics, type ReloadedSetting } from './observability/index.js';
import { createDecide, defaultStages, type Renderer } from './pipeline/index.js';
import { createReloadableIndex, createRunbookIndex, DEFAULT_MAX_RUNBOOK_FILES, isRunbookFileName, loadRunbooks, renderChecks, renderPlan, runbookFileCountProblem } from './runbooks/index.js';
import type { CircuitState, PruneResult, RunbookPause, Store } from './store/ports.js';
import { AuditKeyRefused, openSqliteStore, type AuditKeyNames } from './store/sqlite/index.js';
import { createExecutors, unavailableReasons } from './executors.js';
import {
  createNotifyQueue,
  createOutbox,
  createRepeatFilter,
  createSlackNotifier,
  createSlackResponder,
  createWebhookNotifier,
  tellsTo,
  type NotificationEvent,
  type Notifier,
  type NotifyOutcome,
  type NotifyQueueOptions,
  type SlackResponseAfter,
  SHOWN_BY_CLICK_ANSWER,
  SUPERSEDED_BY_OUTCOME,
} from './notify/index.js';

/** On stop, how long requests still open after the drain may take before their connections are closed. */
const CLOSE_REQUESTS_MS = 5_000;

/**
 * At a stop, how long the listener must have taken no new connection and begun no new
 * request before it closes, and how long that wait may take at most (traffic that never
 * pauses gets 503s meanwhile, then the listener closes anyway).
 */
const QUIET_MS = 100;
const QUIET_BUDGET_MS = 1_000;

/**
 * Before the listener closes at a stop: lets in the connections that already reached it,
 * and the requests already sent on them. Closing the listener resets every connection the
 * kernel queued for it and not yet accepted (the stop used to close it within a few ticks
 * of SIGTERM, before the poll phase accepted them): a client that sent an approval in the
 * instant of the stop saw ECONNRESET, unable to tell whether it was carried out. A
 * connection accepted but with no request read yet is not closed as idle by the server's
 * close: its request is answered. So the listener stays open until QUIET_MS pass with no new
 * connection and no new request (each such request is answered: its result, or 503
 * SHUTTING_DOWN with Retry-After, the connection closed after it), QUIET_BUDGET_MS at most.
 * A connection made after it closed is refused, which a client can tell apart: nothing was sent.
 */
async function letInArrived(server: { on(event: string, f: () => void): unknown; off(event: string, f: () => void): unknown }): Promise<void> {
  let seen = 0;
  const saw = (): void => void seen++;
  server.on('connection', saw);
  server.on('request', saw);
  const deadline = Date.now() + QUIET_BUDGET_MS;
  try {
    for (;;) {
      const before = seen;
      await new Promise((r) => setTimeout(r, QUIET_MS));
      // Then a poll phase, before counting: a process held off the CPU meanwhile wakes in
      // the timers phase, before the connections queued meanwhile are accepted.
      await new Promise((r) => setImmediate(r));
      if (seen === before || Date.now() >= deadline) return;
    }
  } finally {
    server.off('connection', saw);
    server.off('request', saw);
  }
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/sqlite', import.meta.url));

export interface ServiceOverrides {
  clock?: Clock;
  /** Replace or add executors (tests register fakes of the outside world only where it cannot run here). */
  actions?: ActionExecutor[];
  checks?: CheckRunner[];
  enricher?: Enricher;
  /** Runbooks given directly instead of loaded from config.runbooks. */
  runbooks?: Runbook[];
  /** Origins a Slack click's response_url may point at: Slack's own, unless a test stands in for Slack. */
  slackResponseOrigins?: readonly string[];
  /** How much of the audit log one page filtered by event or since may read (tests make it small). */
  auditScan?: { budget: number; step: number };
  /** How many notifications wait per receiver, how long a drop burst lasts, and the retries' and later rounds' waits and counts (tests make them small). */
  notifyQueue?: Pick<NotifyQueueOptions, 'maxQueued' | 'dropReportMs' | 'backoffMs' | 'approvalRetryMs' | 'approvalRounds'>;
  /** The most alerts of a body decided in one commit (the engine's ACCEPT_SLICE; tests make it small). */
  acceptSlice?: number;
  /**
   * False for a second process on the database (`rectify run --local`): an execution
   * marked running may belong to a live service, so only the service recovers them.
   */
  recover?: boolean;
}

/** The HTTP app, typed without importing fastify outside src/api. */
export type App = Awaited<ReturnType<typeof buildApp>>;

export interface Service {
  app: App;
  engine: Engine;
  store: Store;
  catalog: RunbookCatalog;
  metrics: PrometheusMetrics;
  available: ReadonlySet<string>;
  /** The notification receivers, by the names the audit log gives them (notify/receiver.ts). */
  receivers: readonly string[];
  /** Resolves once queued notifications and Slack click responses are delivered or given up. */
  drainNotifications(): Promise<void>;
  /** One housekeeping pass (runs every 5 s by itself): expire approvals, prune what no guardrail reads. */
  housekeep(): Promise<PruneResult>;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<string>;
  /** SIGTERM path: stop intake, let executions finish within the grace period, then INTERRUPTED. */
  /** Stops it: answers the executions cut off whose INTERRUPTED could not be recorded (the next start records them). */
  close(): Promise<{ unrecorded: string[] }>;
  /** What the store refused the end of execution `id` with, when this process left it unrecorded (undefined otherwise). */
  unrecordedCause(id: string): string | undefined;
  /**
   * SIGHUP: re-reads the runbooks folder, the tokens file, the TLS certificate and
   * key, and the Slack signing secret when it is given as `${file:/path}`. Each is
   * replaced only when the new one is valid; otherwise the old one stays in force
   * and the problems are logged (fail safe: a broken edit locks nobody out, lets
   * nobody new in, and leaves the runbooks as they were).
   */
  reload(): Promise<ReloadReport>;
}

export interface ReloadReport {
  /**
   * The runbooks folder, read whole: in force from the next decision when every file
   * loads, with the runbooks added, removed and changed (ids); else the problems.
   * Null when the runbooks were given in code, not read from a folder.
   */
  runbooks: { ok: true; count: number; added: string[]; removed: string[]; changed: string[]; reordered: boolean } | { ok: false; problems: string[] } | null;
  tokens: { ok: true; count: number } | { ok: false; problems: string[] } | null;
  tls: { ok: true } | { ok: false; problem: string } | null;
  /** Re-read when it is a `${file:/path}` reference (a rotated Kubernetes secret); null for a plain value. */
  slackSigningSecret: { ok: true } | { ok: false; problem: string } | null;
}

/** Reads a file a setting names; a failure is a LoadError naming the setting and the file. */
function readSettingFile(config: Config, name: 'tlsCert' | 'tlsKey', path: string): Buffer {
  // Bounded, and never blocking on a FIFO: read at startup and at each SIGHUP, on the event loop.
  const read = readBoundedFile(path, MAX_TLS_FILE_BYTES, 'a certificate or key file');
  if (read.ok) return read.bytes;
  const src = config.sources[name];
  throw new LoadError([{ file: src.file, path: src.path, message: settingFileProblem(path, read) }]);
}

/** A certificate chain and its key are a few KiB of PEM. */
const MAX_TLS_FILE_BYTES = 1024 * 1024;

/** The certificate and key, checked to form a usable pair before anything listens. */
function loadTls(config: Config): TlsMaterial | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const tls = { cert: readSettingFile(config, 'tlsCert', config.tlsCert), key: readSettingFile(config, 'tlsKey', config.tlsKey) };
  // Each file is judged on its own first, so a problem names the file that has it: the pair
  // check below says "no start line" of a broken certificate, and named the key for it.
  const problems: LoadProblem[] = [];
  try {
    // X509Certificate reads DER too; TLS takes PEM only.
    if (!tls.cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not PEM');
    new X509Certificate(tls.cert);
  } catch {
    const src = config.sources.tlsCert;
    problems.push({ file: src.file, path: src.path, message: `${JSON.stringify(config.tlsCert)} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)` });
  }
  try {
    createPrivateKey(tls.key);
  } catch (err) {
    const src = config.sources.tlsKey;
    // The library's message names the problem (not PEM, encrypted), never the key's content.
    const why = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(tls.key.toString('latin1'))
      ? 'it is encrypted: give the key without a passphrase (openssl pkey -in key.pem -out plain.pem)'
      : `expected PEM (-----BEGIN PRIVATE KEY-----): ${err instanceof Error ? err.message : String(err)}`;
    problems.push({ file: src.file, path: src.path, message: `${JSON.stringify(config.tlsKey)} holds no usable private key: ${why}` });
  }
  if (problems.length) throw new LoadError(problems);
  try {
    createSecureContext(tls);
  } catch (err) {
    const src = config.sources.tlsKey;
    // The library's message names the problem (no PEM, key mismatch), never the key's content.
    throw new LoadError([{ file: src.file, path: src.path, message: `the TLS certificate and key cannot be used together: ${err instanceof Error ? err.message : String(err)}` }]);
  }
  return tls;
}

/** When the certificate's validity has ended (or not begun), what to say; null while it is valid. */
function certificateOutOfDate(cert: Buffer, now: number): string | null {
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch {
    return null; // the pair was accepted by TLS itself; a chain this cannot read is not judged here
  }
  if (now > Date.parse(x.validTo)) return `the TLS certificate expired on ${new Date(x.validTo).toISOString()}: clients that check it refuse the connection`;
  if (now < Date.parse(x.validFrom)) return `the TLS certificate is not valid before ${new Date(x.validFrom).toISOString()}: clients that check it refuse the connection`;
  return null;
}

/** Why a reload refused a new file, in one line (a LoadError's problems, or the error's message). */
function reloadProblem(err: unknown): string {
  return err instanceof LoadError ? err.problems.map(formatProblem).join('; ') : err instanceof Error ? err.message : String(err);
}

function loadTokens(config: Config, path: string): { ok: true; tokens: TokenEntry[]; names: string[] } | { ok: false; problems: LoadProblem[] } {
  const read = readTokensFile(path, path, describeSource(config.sources.tokens));
  if (!read.ok) return read;
  // Names and roles only: the file holds hashes, and even those are not logged.
  return { ok: true, tokens: read.tokens, names: read.tokens.map((t) => `${t.name} (${t.roles.join(', ')})`) };
}

/**
 * The `--slack-approvers` names against the token names, at start and at a tokens reload:
 * a name that is a token's only when case is ignored is refused (the start fails, a
 * reload keeps the previous tokens), since that person would count as two approvers.
 * `reload`: the tokens file read on `SIGHUP`, which gave a token that name.
 */
function slackApproverNames(config: Config, approvers: ReadonlyArray<{ id: string; name?: string }>, tokenNames: readonly string[], reload?: string) {
  const { caseOnly, unmatched } = slackApproversAgainstTokens(approvers, tokenNames);
  const src = config.sources.slackApprovers;
  const at = reload === undefined ? { setting: { file: src.file, path: src.path } } : { tokensFile: reload, said: describeSource(src) };
  return { problems: caseOnly.map((c) => caseOnlyProblem(c, at)), unmatched };
}

/** A name no token has may be a person with no token, or a typo: said, as that Slack user and any token's caller count as two people. */
function warnUnmatched(log: Logger, unmatched: ReadonlyArray<{ id: string; name: string }>): void {
  for (const u of unmatched) {
    log.warn({ slack_user: u.id, name: u.name }, '--slack-approvers gives this Slack user a name no API token has: its clicks and any token caller count as different people');
  }
}

/**
 * The runbooks folder, read at start and on every reload. A Kubernetes ConfigMap
 * volume swaps its files at once through the `..data` link: the files are read
 * through the link's target, one consistent version (read again once if the link
 * moved meanwhile), and problems name the folder's own paths. A plain folder whose
 * entries change while it is read (a file being written) is refused. A folder with
 * more runbook files than `maxFiles` is refused from its listing, before its entries
 * are stat'ed or read.
 */
export function readRunbookFolder(dir: string, maxFiles = DEFAULT_MAX_RUNBOOK_FILES, from?: string): { runbooks: Runbook[]; warnings: LoadProblem[]; emptyFiles: string[] } {
  const link = join(dir, '..data');
  const target = (): string => (existsSync(link) ? realpathSync(link) : dir);
  for (let attempt = 0; ; attempt++) {
    const source = target();
    const shown = (p: LoadProblem): LoadProblem => (source === dir ? p : { ...p, file: showPath(p.file, source, dir), message: p.message.split(source).join(dir.replace(/\/+$/, '')) });
    const tooMany = runbookFileCountProblem(source, maxFiles);
    if (tooMany) throw new LoadError([shown(tooMany)]);
    const stampBefore = folderStamp(source);
    let loaded: { runbooks: Runbook[]; warnings: LoadProblem[]; emptyFiles: string[] } | undefined;
    let failure: unknown;
    try {
      loaded = loadCatalog(source, maxFiles, from);
    } catch (err) {
      failure = err;
    }
    const moved = source !== dir && target() !== source;
    if (moved && attempt === 0) continue;
    if (moved || folderStamp(source) !== stampBefore) {
      throw new LoadError([{ file: dir, path: '', message: 'the folder changed while it was being read: send SIGHUP again once its files are written (write each file elsewhere, then mv it in)' }]);
    }
    if (failure !== undefined) throw failure instanceof LoadError ? new LoadError(failure.problems.map(shown)) : failure;
    // Empty files by name: a ConfigMap's files live in a new folder at each version.
    return { runbooks: loaded!.runbooks, warnings: loaded!.warnings.map(shown), emptyFiles: loaded!.emptyFiles.map((f) => basename(f)) };
  }
}

/** A path under `source` as it shows under `dir` (the ConfigMap folder's own name for it). */
function showPath(file: string, source: string, dir: string): string {
  const rel = relative(source, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : join(dir, rel);
}

/**
 * Names, sizes and modification times of a folder's runbook files: what a write in progress
 * changes. Other entries are neither read nor stat'ed (a folder may hold many of them).
 */
function folderStamp(dir: string): string {
  try {
    return readdirSync(dir)
      .filter(isRunbookFileName)
      .sort()
      .map((name) => {
        try {
          const st = statSync(join(dir, name));
          return `${name}\u0000${st.size}\u0000${st.mtimeMs}`;
        } catch {
          return `${name}\u0000gone`;
        }
      })
      .join('\n');
  } catch {
    return 'unreadable';
  }
}

/**
 * Loads runbooks or throws a LoadError with one problem per line. Warnings (the
 * reference checks `rectify lint` fails on) do not stop startup; they are returned to be logged.
 */
export function loadCatalog(dir: string, maxFiles = DEFAULT_MAX_RUNBOOK_FILES, from = 'set --runbooks'): { runbooks: Runbook[]; warnings: LoadProblem[]; emptyFiles: string[] } {
  if (!existsSync(dir)) throw new LoadError([{ file: dir, path: '', message: `runbooks folder not found (${from})` }]);
  // A runbook file named where its folder was meant: said as such, not as the folder read's errno (ENOTDIR).
  const kind = statSync(dir);
  if (kind.isFile()) throw new LoadError([{ file: dir, path: '', message: `is a file, not a folder (${from}): give the folder that holds it, ${dirname(dir)}` }]);
  if (!kind.isDirectory()) throw new LoadError([{ file: dir, path: '', message: `is not a folder (a FIFO, a device, a socket) (${from}): give the runbooks folder` }]);
  const { runbooks, problems, warnings, emptyFiles } = loadRunbooks(dir, { maxFiles });
  if (problems.length) throw new LoadError(problems);
  return { runbooks, warnings, emptyFiles };
}

/**
 * Where the runbooks folder's name came from, for "runbooks folder not found (…)": the
 * flag, the environment variable or the config file's key the operator has to correct.
 */
export function runbooksSource(config: Config): string {
  const src = config.sources.runbooks;
  return src.kind === 'default' ? 'the default; set --runbooks' : describeSource(src);
}

/** How the audit key refusals name the settings: as they were set (`--audit-key`, `RECTIFY_AUDIT_KEY`, `audit_key`). */
function auditKeyNames(config: Config): AuditKeyNames {
  const name = (src: ConfigSource, flag: string): string => (src.kind === 'file' ? src.path : src.kind === 'default' ? flag : src.file);
  return { key: name(config.sources.auditKey, '--audit-key'), previousKeys: name(config.sources.auditPreviousKeys, '--audit-previous-keys') };
}

/**
 * Opens the database, or fails naming the file and the setting that chose it. SQLite's
 * own messages ("unable to open database file", "file is not a database") name neither,
 * and at 3 AM the operator must not have to guess which path rectify tried.
 */
function openStoreNamed(config: Config, opts: Parameters<typeof openSqliteStore>[0]): ReturnType<typeof openSqliteStore> {
  try {
    return openSqliteStore({ ...opts, auditKeyNames: auditKeyNames(config) });
  } catch (err) {
    // A key the log cannot go on with is a setting's problem (exit 2), named where it was
    // set; refused before anything was written to the database (see refuseBeforeWriting).
    if (err instanceof AuditKeyRefused) {
      const src = config.sources.auditKey;
      const at = src.kind === 'default' ? { file: '--audit-key', path: '' } : { file: src.file, path: src.path, ...(src.line ? { line: src.line } : {}) };
      throw new LoadError([{ ...at, message: err.message }]);
    }
    // Errors rectify words itself (the database in use, too new, its audit key) say what to do already.
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') throw err;
    const src = config.sources.db;
    const setting = src.kind === 'file' ? `${src.file}: ${src.path}` : src.kind === 'default' ? 'the default of --db' : src.file;
    const hint =
      code === 'SQLITE_NOTADB'
        ? ' (point --db at rectify\'s database file)'
        : code.startsWith('SQLITE_READONLY')
          ? ' (the file or its folder is read-only for this user)'
          : code.startsWith('SQLITE_CANTOPEN')
            ? ' (is it a file, not a folder, in a folder this user can write?)'
            : '';
    throw new Error(`cannot open the database ${opts.path} (set by ${setting}): ${err instanceof Error ? err.message : String(err)}${hint}`, { cause: err });
  }
}

/**
 * The composition root: config → executors → store → migrate → engine → API.
 * Nothing below it reads the environment or constructs its own dependencies.
 */
export async function createService(config: Config, log: Logger, overrides: ServiceOverrides = {}): Promise<Service> {
  // A start that fails once the store is open closes it: its serve lock is released,
  // so a corrected start in the same process is not refused as a second rectify.
  const opened: { store?: { close(): void } } = {};
  try {
    return await assembleService(config, log, overrides, opened);
  } catch (err) {
    try {
      opened.store?.close();
    } catch {
      // The start's own error is the one to report.
    }
    throw err;
  }
}

async function assembleService(config: Config, log: Logger, overrides: ServiceOverrides, opened: { store?: { close(): void } }): Promise<Service> {
  const clock = overrides.clock ?? systemClock;
  // A database this build cannot open is refused before any other file is read, named where it was set.
  const db = unsupportedDatabase(config);
  if (db) throw new LoadError([db]);
  // Credentials first: a service that cannot authenticate callers must not start at all.
  let auth: TokenAuth | undefined;
  if (config.tokens !== undefined) {
    const loaded = loadTokens(config, config.tokens);
    if (!loaded.ok) throw new LoadError(loaded.problems);
    auth = createTokenAuth(loaded.tokens);
    if (auth.size() === 0) log.warn({ file: config.tokens }, 'the tokens file holds no tokens: every request except /healthz and /readyz is refused');
    log.info({ file: config.tokens, tokens: loaded.names }, 'API tokens loaded');
  }
  // Slack approvers: their ids, each with the rectify name the same person acts under, if given.
  const slackApprovers = config.slackApprovers?.map((e) => parseSlackApprover(e)!);
  if (auth && slackApprovers) {
    const names = slackApproverNames(config, slackApprovers, auth.names());
    if (names.problems.length > 0) throw new LoadError(names.problems);
    warnUnmatched(log, names.unmatched);
  }
  const tls = loadTls(config);
  // Served all the same (there is no other), but said: every client that checks it fails.
  const tlsOutOfDate = tls ? certificateOutOfDate(tls.cert, Date.now()) : null;
  if (tlsOutOfDate) log.warn({ cert: config.tlsCert }, tlsOutOfDate);
  const slackSigningSecret = resolveSecret(config, 'slackSigningSecret');
  if (slackSigningSecret !== undefined && config.slackApprovers === undefined) {
    log.warn('Slack approval buttons are on for anyone who can see an approval message: set --slack-approvers to the Slack user ids allowed to approve or reject');
  }
  if (slackSigningSecret === undefined && config.slackApprovers !== undefined) {
    log.warn('--slack-approvers is set but --slack-signing-secret is not: there are no Slack buttons for them to use');
  }
  const loadedCatalog = overrides.runbooks ? { runbooks: overrides.runbooks, warnings: [], emptyFiles: [] } : readRunbookFolder(config.runbooks, config.maxRunbookFiles, runbooksSource(config));
  const runbooks = loadedCatalog.runbooks;
  // The longest cooldown, which pruning keeps rate-limit rows for, goes with the runbooks in force (a reload recomputes it).
  let cooldownMs = longestCooldown(runbooks);
  const warnRunbooks = (warnings: LoadProblem[]): void => {
    for (const w of warnings) log.warn({ runbook_warning: formatProblem(w) }, 'runbook warning (rectify lint fails on it)');
  };
  warnRunbooks(loadedCatalog.warnings);
  // Started on an empty folder, rectify serves and remediates nothing: said, since a
  // mount that failed or a ConfigMap not there yet looks the same. (A reload that would
  // empty a loaded set is refused instead: see reloadRunbooks.)
  if (runbooks.length === 0) log.warn({ dir: config.runbooks }, 'no runbook loaded: nothing is remediated until runbooks are in the folder and rectify reloads them (SIGHUP)');
  // One index object for every holder (the pipeline, the engine, the API); a reload replaces what it holds.
  const index = createReloadableIndex(createRunbookIndex(runbooks));
  const catalog: RunbookCatalog = index;
  const metrics = createPrometheusMetrics();

  // The executors before the database: a Kubernetes client that cannot be set up (no cluster,
  // a kubeconfig not there) stops the start before a database file is created or locked.
  const executors = await createExecutors(config, log, overrides, runbooks.map((rb) => rb.needs));

  // Narrows config.db: unsupportedDatabase refused any other kind before anything was read.
  if (config.db.kind !== 'sqlite') throw new Error('unreachable: a database other than sqlite was not refused at start');
  const auditKey = resolveAuditKey(config);
  const auditPreviousKeys = resolveAuditPreviousKeys(config, auditKey);
  // A service that finds no database starts an empty one: said, since after a lost
  // volume that is also an empty audit log, with no dedup keys and no pending approvals.
  // A file of 0 bytes (a copy or restore that wrote nothing) is no database either, and
  // SQLite makes a new one in it without a word: said the same way, naming it.
  const dbPath = config.db.path;
  const found = dbPath === ':memory:' ? undefined : statSync(dbPath, { throwIfNoEntry: false });
  const newDatabase = dbPath === ':memory:' ? null : !found ? 'missing' : found.isFile() && found.size === 0 ? 'empty' : null;
  /** Set by a commit the disk could not confirm: /healthz fails, so the pod is restarted and the restart settles it. */
  let restartNeeded: string | null = null;
  const store = openStoreNamed(config, {
    ...(auditKey ? { auditKey, auditPreviousKeys } : {}),
    ...(overrides.auditScan ? { auditScan: overrides.auditScan } : {}),
    path: dbPath,
    migrationsDir: MIGRATIONS_DIR,
    // The service holds the database alone; `rectify run --local` (no recovery) shares it, or runs beside a service.
    lock: overrides.recover === false ? 'local' : 'serve',
    maxPending: config.maxPendingDecisions,
    busyTimeoutMs: config.dbBusyTimeoutMs,
    onCommit: (units, seconds) => metrics.commitBatch(units, seconds),
    onApprovalsPending: (pending) => metrics.approvalsPending(pending),
    onLastingFault: (message, kind) => {
      log.error({ db: dbPath }, message);
      metrics.storeFaultLasting();
      // A restart settles a commit not known (WAL recovery): liveness fails so the pod is
      // restarted. Not a lost file: a restart would start on an empty database.
      if (kind === 'commit_unknown') restartNeeded = message;
    },
    onUnreadableAuditDetails: (seq) =>
      log.warn({ seq }, "an audit row's details are not JSON (the row was changed behind rectify's back): read back as none; rectify audit verify names the row"),
    onCheckpointerStopped: (err) =>
      log.error({ err }, 'the WAL checkpoint thread stopped: commits checkpoint by themselves again (every 1,000 pages), still durable but slower under a storm; restart rectify to bring it back'),
  });
  // Created once the database is this process's own (the serve lock: the one before it is
  // gone): a request signed before now may have been received by that one, whose memory of
  // the signatures it accepted went with it (see api/slack-signature.ts).
  const slackVerifier = slackSigningSecret !== undefined ? createSlackVerifier(slackSigningSecret, clock.now()) : undefined;
  opened.store = store;
  if (newDatabase === 'missing') log.warn({ db: dbPath }, 'no database at this path: created a new, empty one (expected on a first start only)');
  if (newDatabase === 'empty') {
    log.warn(
      { db: dbPath },
      'the database file at this path was empty (0 bytes): created a new, empty database in it (expected on a first start only; after a copy or a restore, the copy wrote nothing: stop rectify and restore the database)',
    );
  }

  // The log as the last process left it, before this start writes to it: the read-back
  // of the repeats reckons its horizon from its newest row (see readBackRepeats).
  const lastAuditBeforeStart = store.read((tx) => tx.auditNewest());
  // With an audit key, the log ends in a keyed row from now on: a log that does not
  // was written without the key, or rewritten (audit-verify.ts). A log under a previous
  // key moves to this one here, in a row the new key signs and that chains to the old.
  const keyRow = store.auditKeyRowNeeded();
  if (keyRow) {
    const note =
      keyRow === 'AUDIT_KEY_SET'
        ? 'audit rows are hashed with the audit key (HMAC-SHA256) from this row on'
        : 'audit rows are hashed with a new audit key from this row on; the rows before it verify with the previous key';
    const seq = await store.transact((tx) => tx.appendAudit({ at: clock.now(), event: keyRow, actor: 'rectify', details: { note } }));
    log.info({ seq, event: keyRow }, note);
  }

  const renderer: Renderer = { renderPlan, renderChecks };
  const decide = createDecide(defaultStages({ index, renderer }), {
    maxConcurrentExecutions: config.maxConcurrentExecutions,
    circuitRecoveryMs: config.circuitRecoveryMs,
    available: executors.available,
    globalDryRun: config.dryRun,
    unavailable: unavailableReasons(config),
  });
  // Notifications: a background queue, audited, never on the decision path.
  // Each receiver is named by its host and a hash of its whole URL keyed with the
  // database's key: a new URL on the same host is a new receiver (notify/receiver.ts).
  const receiverKey = config.notifyWebhook || config.slackWebhookUrl ? await store.transact((tx) => tx.receiverKey(clock.now())) : '';
  const notifiers: Notifier[] = [];
  if (config.notifyWebhook) notifiers.push(createWebhookNotifier(config.notifyWebhook, config.publicUrl, { receiverKey }));
  if (config.slackWebhookUrl) {
    notifiers.push(
      createSlackNotifier(config.slackWebhookUrl, config.publicUrl, {
        receiverKey,
        buttons: slackSigningSecret !== undefined,
        ...(slackApprovers ? { approvers: slackApprovers.map((a) => a.id) } : {}),
      }),
    );
  }
  // Said at start: the names the audit log gives the receivers configured now (the hash
  // cannot be traced back to a URL, so this is where an operator pairs them).
  if (notifiers.length > 0) log.info({ receivers: notifiers.map((n) => n.name) }, 'notifications go to these receivers');
  // What a Slack click did is told back through its response_url (see notify/slack-respond.ts).
  const slackResponder = slackSigningSecret !== undefined ? createSlackResponder({ log, attemptTimeoutMs: config.notifyTimeoutMs, ...(overrides.slackResponseOrigins ? { origins: overrides.slackResponseOrigins } : {}) }) : undefined;
  /**
   * Settlements a Slack click's answer is showing in the channel, by notification_id, with
   * the Slack receivers that answer stands for, until it is recorded as delivered or they
   * are sent it after all: owed to them (its audit row names them), yet not read back for
   * them from a full queue meanwhile, or the channel would see it twice. Any other receiver
   * (a webhook) is read back the same notification as ever.
   */
  const showing = new Map<string, Set<string>>();
  async function recordNotified(o: NotifyOutcome): Promise<void> {
    try {
      await store.transact((tx) =>
        tx.appendAudit({
          at: clock.now(),
          event: o.ok ? 'NOTIFIED' : 'NOTIFY_FAILED',
          incident_id: o.event.incident_id,
          runbook: o.event.runbook,
          execution_id: o.event.execution_id,
          actor: 'rectify',
          details: {
            notifier: o.notifier,
            // A drop burst names every event it dropped, and how many, and which incidents (the first 20).
            about: o.dropped ? o.dropped.about.join(', ') : o.event.event,
            attempts: o.attempts,
            detail: o.detail,
            // What the receiver got as Idempotency-Key: its logs and this row can be matched.
            ...(o.event.notification_id ? { notification_id: o.event.notification_id } : {}),
            ...(o.dropped ? { dropped: o.dropped.count, incident_ids: o.dropped.incident_ids } : {}),
          },
        }),
      );
    } catch (err) {
      // Which row was lost: the receiver, the event and the id the receiver was sent.
      log.warn({ err, notifier: o.notifier, event: o.event.event, notification_id: o.event.notification_id, incident_id: o.event.incident_id }, 'could not record a notification outcome');
    }
  }
  const notifications = createNotifyQueue({
    notifiers,
    log,
    attemptTimeoutMs: config.notifyTimeoutMs,
    // What a full queue held back is told from its audit row when there is room (see notify/queue.ts).
    unsettled: (receiver, after, limit) => {
      return withoutShowing(
        store.read((tx) => unsettledPage(tx.toldAfter(after, limit), receiver, after, limit)),
        receiver,
        showing,
      );
    },
    // The clock the rows are written at: one read back comes on its round's schedule.
    now: () => clock.now(),
    ...overrides.notifyQueue,
    record: recordNotified,
    // Deliveries by result and a failing receiver, per receiver: a receiver refusing
    // everything (a revoked URL) can be alerted on, not only read in the log.
    metrics,
  });
  metrics.knowReceivers(notifiers.map((n) => n.name));
  // The files a reload re-reads besides the runbooks (see reload): their reload counters at 0.
  metrics.knowReloadedSettings([
    ...(config.tokens !== undefined && auth ? (['tokens'] as const) : []),
    ...(tls ? (['tls'] as const) : []),
    ...(slackVerifier && config.slackSigningSecret?.startsWith('${file:') ? (['slack_signing_secret'] as const) : []),
  ]);
  /**
   * What follows a Slack click's answer that shows a settlement (or a vote) in the channel: delivered,
   * it is recorded as the Slack receiver's delivery of the settlement (which its audit row
   * names it owed: notify/outbox.ts), so a restart does not tell it again; failed, the
   * Slack receiver is told it as a message of its own after all, with its notification_id.
   */
  function showInSlack(e: NotificationEvent): SlackResponseAfter | undefined {
    const id = e.notification_id;
    const to = notifiers.filter((n) => !tellsTo(n, e));
    if (id === undefined || to.length === 0) return undefined;
    showing.set(id, new Set(to.map((n) => n.name)));
    return {
      async delivered(attempts) {
        for (const n of to) await recordNotified({ ok: true, notifier: n.name, attempts, detail: SHOWN_BY_CLICK_ANSWER, event: e });
        showing.delete(id);
      },
      failed() {
        notifications.resend({ ...e, shown_in_slack: false, notification_id: id }, to.map((n) => n.name));
        showing.delete(id);
      },
      // A vote the settlement overtook: the outcome replacing the message names its approvers.
      async superseded() {
        for (const n of to) await recordNotified({ ok: true, notifier: n.name, attempts: 0, detail: SUPERSEDED_BY_OUTCOME, event: e });
        showing.delete(id);
      },
    };
  }
  // A storm's thousands of rate-limited alerts are told once per runbook and service, then summed up.
  const repeats = createRepeatFilter(notifications.notify, {
    windowMs: config.notifyRepeatWindowMs,
    servicesPerWindow: config.notifyRepeatServices,
    now: () => clock.now(),
    // Where its checkpoints are written (see checkpointRepeats below), a summary is told once
    // the checkpoint recording its window closed is: never before it, so never again after a crash.
    holdSummaries: overrides.recover !== false,
  });
  const notify = notifiers.length ? repeats.notify : undefined;
  // Events told one by one record their notification in their audit row; startup tells
  // a receiver again what it has no delivery record of (see notify/outbox.ts).
  const outbox = notifiers.length
    ? createOutbox({ receivers: notifiers.map((n) => n.name), tells: (name, e) => notifiers.some((n) => n.name === name && tellsTo(n, e)), resend: notifications.resend })
    : undefined;

  /**
   * Every circuit transition moves `rectify_circuit_state`, told after its commit: a
   * trial claimed (half-open), a trip, a trial's end or its cut-off. Only for a
   * runbook in force: a run of a runbook a reload removed may still end, and must not
   * bring back the series the reload took away (a reload that adds it again reads the
   * store).
   */
  const showCircuit = (runbook: string, state: CircuitState): void => {
    if (index.byId(runbook)) metrics.circuitState(runbook, state);
  };
  const runner = createExecutionRunner({
    store,
    actions: executors.actions,
    checks: executors.checks,
    clock,
    log,
    circuitFailureThreshold: config.circuitFailureThreshold,
    onFinished: (o, runbook, seconds) => metrics.executionFinished(runbook, o.state === 'succeeded' ? 'success' : o.state === 'failed' ? 'failed' : o.state === 'aborted' ? 'aborted' : 'interrupted', seconds),
    onCircuit: showCircuit,
    ...(notify ? { notify } : {}),
    ...(outbox ? { outbox } : {}),
  });
  const tracker = createExecutionTracker(runner);
  metrics.watch({ storePending: () => store.pending(), executionsRunning: () => tracker.size(), notificationsDropped: () => notifications.dropped(), storeFault: () => store.faultKind() });
  // The guard time (and the prune horizon) go on from where the last process on this boot
  // left them: restarting does not take a forward step of the wall clock as the time.
  const resumed = resumeGuardClock(clock, store.read((tx) => tx.guardClock()));
  if ('why' in resumed && resumed.why !== 'nothing saved') log.info({ why: resumed.why }, 'the guard time starts from the wall clock as it is');
  const engine = createEngine({
    ...('saved' in resumed ? { guardResume: resumed.saved.guard } : {}),
    store,
    catalog,
    renderer,
    decide,
    executions: tracker,
    checks: executors.checks,
    ...(executors.enricher ? { enricher: executors.enricher } : {}),
    clock,
    log,
    metrics,
    onCircuit: showCircuit,
    approvalTtlMs: config.approvalTtlMs,
    dryRun: config.dryRun,
    circuitFailureThreshold: config.circuitFailureThreshold,
    circuitRecoveryMs: config.circuitRecoveryMs,
    maxPreparing: config.maxPendingDecisions,
    maxPendingApprovals: config.maxPendingApprovals,
    ...(overrides.acceptSlice !== undefined ? { acceptSlice: overrides.acceptSlice } : {}),
    stopping: () => draining,
    // Only the service recovers, and it holds the database alone: what carries the marker
    // of a run it records INTERRUPTED was left by a process that is gone.
    ...(overrides.recover === false ? {} : { killLeftovers: (ids: readonly string[]) => killLeftoversOf(ids) }),
    ...(notify ? { notify } : {}),
    ...(outbox ? { outbox } : {}),
    // Read when an alert opens or joins an approval request, and kept with it: a tokens
    // file reloaded before the approval changes no request already asked for (one an
    // earlier release recorded is judged by who opened it, at its approval).
    ...(auth ? { intakeOnly: (actor: string) => auth.rolesOf(actor)?.every((r) => r === 'ingest') === true } : {}),
  });

  if ('saved' in resumed) {
    const ahead = clock.now() - engine.guardNow();
    if (ahead > 1_000) {
      log.warn(
        { ahead_s: Math.ceil(ahead / 1000), saved_at: new Date(resumed.saved.wall).toISOString() },
        'the clock reads ahead of the time passed since the last run on this boot (was it stepped forward?): the rate limit, cooldowns and the breaker go by the time passed until the step has held for the longest of them and a minute',
      );
    }
  }
  // Each runbook's counters at 0 before recovery counts the runs a crash cut off: the series
  // read in the same order (runbook, then outcome) whatever recovery found.
  metrics.knowRunbooks(runbooks.map((rb) => rb.id));
  const interrupted = overrides.recover === false ? 0 : await engine.recover();
  if (interrupted > 0) log.warn({ interrupted }, 'executions cut off by the last stop are INTERRUPTED: a human must check those that had started a step');
  // The repeats a crash kept from being told: counted again from the audit log after the
  // filter's last checkpoint, and told now (engine/repeats-readback.ts). Only the service
  // does this (a second process on the database, `rectify run --local`, leaves them to it).
  const checkpointRepeats = overrides.recover === false ? undefined : createRepeatsCheckpointer(store, repeats, () => clock.now());
  /** Writes the repeat filter's checkpoint (see createRepeatsCheckpointer); a failure is logged, and the next pass tries again. */
  const checkpointed = (force = false): Promise<void> =>
    checkpointRepeats ? checkpointRepeats(force).catch((err: unknown) => log.warn({ err }, 'could not write the checkpoint of the repeated decisions counted')) : Promise.resolve();
  if (checkpointRepeats) {
    if (notify) readBackRepeats(store, repeats, config.notifyRepeatWindowMs, log, undefined, lastAuditBeforeStart ?? null);
    // Written with no receivers too: a later start with one does not walk the log since an old checkpoint.
    await checkpointed(true);
  }
  const paused = store.read((tx) => tx.paused());
  metrics.paused(paused);
  /** Sets the runbooks' counters at 0 where nothing was counted yet, and their circuit and pause gauges from the store (at start, and for those a reload adds); answers every paused runbook. */
  function showRunbookState(ids: readonly string[]): Map<string, RunbookPause> {
    metrics.knowRunbooks(ids);
    const paused = store.read((tx) => tx.pausedRunbooks());
    for (const id of ids) {
      metrics.circuitState(id, store.read((tx) => tx.circuit(id)).state);
      metrics.runbookPaused(id, paused.has(id));
    }
    return paused;
  }
  const pausedRunbooks = showRunbookState(runbooks.map((rb) => rb.id));
  if (pausedRunbooks.size > 0) log.warn({ runbooks: [...pausedRunbooks.keys()] }, 'runbooks paused: they do not run automatically until resumed');

  let draining = false;
  let reloadRefused: { at: number; problems: readonly string[] } | null = null;
  // The last reload of each file a setting names that was refused, until one loads: the
  // previous value stays in force, and only the log said so. Problems name files and
  // settings, never a value (a token's hash, a key, a secret).
  const settingsRefused = new Map<ReloadedSetting, { at: number; problems: readonly string[] }>();
  // The load warnings of the runbooks in force (GET /api/v1/runbooks): replaced with them by a
  // reload, kept by a refused one, so they never describe a set that is not the one running.
  let runbookWarnings: readonly LoadProblem[] = loadedCatalog.warnings;
  // A delivery refused as a whole (too large, not JSON) is dropped by Alertmanager: said, counted, audited, told.
  const intakeRefusals = createIntakeRefusals({ store, clock, log, metrics, bodyLimitBytes: config.bodyLimitBytes, ...(notify ? { notify } : {}), ...(outbox ? { outbox } : {}) });
  const app = await buildApp({
    engine,
    store,
    catalog,
    clock,
    log,
    metrics,
    available: executors.available,
    bodyLimitBytes: config.bodyLimitBytes,
    exporterJobs: config.exporterJobs,
    intakeRefused: intakeRefusals.refused,
    intakeAbandoned: intakeRefusals.abandoned,
    draining: () => draining,
    reloadRefused: () => reloadRefused,
    settingsReloadRefused: () => [...settingsRefused].map(([part, r]) => ({ part, ...r })),
    runbookWarnings: () => runbookWarnings,
    circuitRecoveryMs: config.circuitRecoveryMs,
    restartNeeded: () => restartNeeded,
    ...(auth ? { auth } : {}),
    ...(slackVerifier ? { slackVerifier } : {}),
    ...(slackApprovers ? { slackApprovers: new Map(slackApprovers.map((a) => [a.id, a.name])) } : {}),
    ...(slackResponder
      ? {
          slackRespond: (url, message, carriedOut, shown, order) => slackResponder.respond(url, message, carriedOut, shown ? showInSlack(shown) : undefined, order),
          slackResponseAccepted: slackResponder.accepts,
          ...(config.publicUrl !== undefined ? { publicUrl: config.publicUrl } : {}),
        }
      : {}),
    ...(auditKey ? { auditKey, auditPreviousKeys } : {}),
  }, tls ? { https: tls } : {});

  // Housekeeping: approvals expire on time; old rate-limit rows, dedup keys and finished
  // state are pruned, so the database holds what the guardrails read plus a bounded
  // history, not everything since the first alert (the audit log keeps that).
  let sweeping: Promise<PruneResult> | undefined;
  const pruneHorizon = createPruneHorizon(clock, 'saved' in resumed ? resumed.saved.prune : undefined);
  /**
   * Housekeeping runs every 5 s, and a store fault (a lock held elsewhere, a full disk)
   * fails it at every pass: each of its failures is logged when it starts, with its
   * error, then at debug until it succeeds again, which one line says (with how many
   * passes failed), rather than a line with its stack every 5 s.
   */
  const failingChores = new Map<string, number>();
  function choreFailed(what: string, err: unknown, level: 'warn' | 'error'): void {
    const failures = (failingChores.get(what) ?? 0) + 1;
    failingChores.set(what, failures);
    if (failures === 1) log[level]({ err }, what);
    else log.debug({ err, failures }, what);
  }
  function choreDone(what: string): void {
    const failures = failingChores.get(what);
    if (failures === undefined) return;
    failingChores.delete(what);
    log.info({ failed: what, failures }, 'a housekeeping chore succeeds again');
  }
  const SAVE_CLOCK_FAILED = 'could not save the guard time for the next start';
  const EXPIRY_FAILED = 'approval expiry failed';
  const PRUNE_FAILED = 'prune failed';
  /**
   * Saves the guard time and the prune horizon, with the boot and the monotonic time they
   * were read at, for the next start on this boot (see resumeGuardClock): at each
   * housekeeping pass and at a stop. Only the service saves them (`rectify run --local`
   * beside it reads them). A save that fails is logged: the next start goes on from an
   * older one, or from the wall clock.
   */
  async function saveClock(): Promise<void> {
    if (overrides.recover === false) return;
    const value = saveGuardClock(clock, engine.guardState(), pruneHorizon.state());
    if (value === undefined) return;
    await store.transact((tx) => tx.setGuardClock(value, clock.now())).then(
      () => choreDone(SAVE_CLOCK_FAILED),
      (err: unknown) => choreFailed(SAVE_CLOCK_FAILED, err, 'warn'),
    );
  }
  async function housekeep(): Promise<PruneResult> {
    repeats.flush();
    // In the same synchronous step as the flush: the state and the audit row it stands as of.
    const checkpointing = checkpointed();
    await engine.expireApprovals().then(
      () => choreDone(EXPIRY_FAILED),
      (err: unknown) => choreFailed(EXPIRY_FAILED, err, 'error'),
    );
    const total: PruneResult = { rateEvents: 0, incidents: 0, executions: 0, approvals: 0, more: false };
    const retention = { dedupMs: config.dedupRetentionMs, historyMs: config.historyRetentionMs, cooldownMs };
    // Not the wall clock as it is: a forward step of it, corrected again, must not prune
    // what the guardrails and the dedup still read (see createPruneHorizon).
    const at = pruneHorizon.now(Math.max(retention.dedupMs, retention.historyMs, stepSettleMs(cooldownMs)));
    // The guard time is read at each pass too, whether or not it is saved: a forward step
    // is seen within a pass of it, and its hold counts from then, not from the next decision.
    engine.guardNow();
    for (;;) {
      const r = store.prune(at, retention);
      total.rateEvents += r.rateEvents;
      total.incidents += r.incidents;
      total.executions += r.executions;
      total.approvals += r.approvals;
      if (!r.more) break;
      // A backlog is pruned in chunks with intake served in between.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await checkpointing;
    await saveClock();
    return total;
  }
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = housekeep()
      .then(
        (r) => {
          choreDone(PRUNE_FAILED);
          return r;
        },
        (err: unknown) => {
          choreFailed(PRUNE_FAILED, err, 'error');
          return { rateEvents: 0, incidents: 0, executions: 0, approvals: 0, more: false };
        },
      )
      .finally(() => (sweeping = undefined));
  }, 5_000);
  sweep.unref();

  /**
   * Reads the runbooks folder again. All or nothing: one file with a problem, or a
   * folder that changed while it was read (a file half written), keeps every runbook
   * as it was. The new set is in force only once the RUNBOOKS_RELOADED audit row is
   * committed: a reload nobody could account for does not happen. Alerts matched
   * before it are matched again when decided (engine rematch); executions running
   * keep the plan they started with; a pending approval whose runbook changed is
   * cancelled when someone approves it (its version no longer matches).
   */
  async function reloadRunbooks(): Promise<NonNullable<ReloadReport['runbooks']>> {
    /** `fix`: what to do, after "the runbooks in force stay". */
    const refuse = async (problems: string[], fix = ', and the next start would stop on the folder as it is; fix it'): Promise<NonNullable<ReloadReport['runbooks']>> => {
      metrics.runbooksReloaded('refused');
      log.error({ dir: config.runbooks, problems }, 'runbooks refused on reload: the previous runbooks stay in force');
      const at = clock.now();
      reloadRefused = { at, problems };
      const reason = `the runbooks folder ${config.runbooks} was refused on reload (${problems.length} problem${problems.length === 1 ? '' : 's'}; first: ${problems[0] ?? 'none'}): the runbooks in force stay${fix}`;
      const event = { event: 'RUNBOOKS_RELOAD_REFUSED', outcome: 'refused', reason, incident_id: null, runbook: null, service: null, execution_id: null, approval_id: null, at } as const;
      // Its row records the notification, told again after a restart if never delivered.
      const told = outbox?.announce(event);
      // Audited when the store takes it (a reload refused because it could not be audited will not be).
      await store
        .transact((tx) => tx.appendAudit({ at, event: 'RUNBOOKS_RELOAD_REFUSED', actor: 'rectify', details: { reason, dir: config.runbooks, problems, ...told?.details } }))
        .catch((err: unknown) => log.warn({ err }, 'could not audit the refused reload'));
      notify?.(told?.event ?? event);
      return { ok: false, problems };
    };
    let loaded: { runbooks: Runbook[]; warnings: LoadProblem[]; emptyFiles: string[] };
    try {
      loaded = readRunbookFolder(config.runbooks, config.maxRunbookFiles, runbooksSource(config));
    } catch (err) {
      return refuse(err instanceof LoadError ? err.problems.map(formatProblem) : [reloadProblem(err)]);
    }
    if (loaded.runbooks.length === 0 && index.all.length > 0) {
      // An emptied or unmounted folder, a ConfigMap gone: loading it would stop every
      // remediation without a word. Stopping them on purpose is what pause is for.
      const n = index.all.length;
      return refuse(
        [formatProblem({ file: config.runbooks, path: '', message: `no runbook in the folder: loading it would remove the ${n} runbook${n === 1 ? '' : 's'} in force and stop all remediation` })],
        '; put the runbooks back (a folder emptied, a volume not mounted, a ConfigMap gone?), or to stop remediation on purpose, pause it (rectify pause, POST /api/v1/pause)',
      );
    }
    // A file that held runbooks in force and now holds nothing at all (no byte, or only
    // comments) is being written in place: truncated, the rest still to come. Loading it
    // would remove its runbooks without a word. To remove them, delete the file (or
    // write `runbooks: {}`).
    // Only the runbooks the folder no longer holds: one moved to another file in the same
    // change (copied elsewhere, then its old file emptied) stays in force from there.
    const emptied = new Set(loaded.emptyFiles);
    const kept = new Set(loaded.runbooks.map((rb) => rb.id));
    const cut = new Map<string, string[]>();
    for (const rb of index.all) {
      const name = basename(rb.file);
      if (emptied.has(name) && !kept.has(rb.id)) cut.set(name, [...(cut.get(name) ?? []), rb.id]);
    }
    if (cut.size > 0) {
      return refuse(
        [...cut].map(([name, ids]) =>
          formatProblem({
            file: join(config.runbooks, name),
            path: '',
            message: `the file is empty (no runbook, not even a "runbooks:" key): loading it would remove ${ids.length === 1 ? 'the runbook' : `the ${ids.length} runbooks`} in force from it (${ids.join(', ')})`,
          }),
        ),
        '; if the file is being written, send SIGHUP again once it is (write it elsewhere, then mv it in); to remove its runbooks, delete the file or write `runbooks: {}` in it',
      );
    }
    const before = new Map(index.all.map((rb) => [rb.id, rb.version]));
    const after = new Map(loaded.runbooks.map((rb) => [rb.id, rb.version]));
    const added = [...after.keys()].filter((id) => !before.has(id));
    const removed = [...before.keys()].filter((id) => !after.has(id));
    const changed = [...after].filter(([id, version]) => before.has(id) && before.get(id) !== version).map(([id]) => id);
    // The first runbook that matches wins: runbooks kept in another order (a file renamed)
    // match differently, whatever was added or removed beside them.
    const keptBefore = index.all.map((rb) => rb.id).filter((id) => after.has(id));
    const keptAfter = loaded.runbooks.map((rb) => rb.id).filter((id) => before.has(id));
    const reordered = keptBefore.some((id, i) => keptAfter[i] !== id);
    warnRunbooks(loaded.warnings);
    const summary = { count: loaded.runbooks.length, added, removed, changed, reordered };
    // A refused reload is audited; so is its end, the first reload that loads after it,
    // even one that changes nothing: the log, not only /readyz, tells it was fixed.
    const refusal = reloadRefused;
    const refusalOver = refusal
      ? { refused_reload_over: new Date(refusal.at).toISOString(), reason: `SIGHUP: the runbooks folder loads again: the refusal of the reload at ${new Date(refusal.at).toISOString()} is over` }
      : {};
    if (added.length + removed.length + changed.length === 0 && !reordered) {
      // The same runbooks in the same order: the warnings of the folder as read now (a file
      // named .YAML, not loaded, is one that changes no runbook).
      runbookWarnings = loaded.warnings;
      if (refusal) {
        try {
          await store.transact((tx) =>
            tx.appendAudit({ at: clock.now(), event: 'RUNBOOKS_RELOADED', actor: 'rectify', details: { dir: config.runbooks, ...summary, ...refusalOver, reason: `${refusalOver.reason}; the runbooks in force are unchanged` } }),
          );
        } catch (err) {
          // Kept as refused (and shown at /readyz) until a reload can say it is over.
          log.warn({ err }, 'could not audit the end of the refused reload');
          return { ok: true, ...summary };
        }
      }
      reloadRefused = null;
      metrics.runbooksReloaded('ok');
      log.info({ dir: config.runbooks, ...summary }, 'runbooks reloaded: nothing changed');
      return { ok: true, ...summary };
    }
    reloadRefused = null;
    // The swap happens inside the transaction, right after its audit row: every
    // decision written after the row in the log was decided with the new runbooks,
    // every one before it with the old. If the commit fails, the old ones go back.
    const next = createRunbookIndex(loaded.runbooks);
    let previous: ReturnType<typeof index.replace> | undefined;
    const previousWarnings = runbookWarnings;
    try {
      await store.transact((tx) => {
        tx.appendAudit({
          at: clock.now(),
          event: 'RUNBOOKS_RELOADED',
          actor: 'rectify',
          details: { reason: 'SIGHUP: the runbooks folder was read again', dir: config.runbooks, ...summary, versions: Object.fromEntries(after), ...refusalOver },
        });
        previous = index.replace(next);
        runbookWarnings = loaded.warnings;
      });
    } catch (err) {
      if (previous) index.replace(previous);
      runbookWarnings = previousWarnings;
      return refuse([`the reload could not be audited (${reloadProblem(err)})`]);
    }
    // Rate-limit rows are kept, and a forward clock step held off, for the longest cooldown
    // any runbook has had in this process. (The cooldown itself runs from the last start,
    // kept a year whatever is loaded: one lengthened or put back finds it.)
    cooldownMs = Math.max(cooldownMs, longestCooldown(loaded.runbooks));
    for (const id of removed) metrics.forgetRunbook(id);
    try {
      showRunbookState(added);
    } catch (err) {
      log.warn({ err }, 'could not read the new runbooks\' circuit and pause state for the metrics');
    }
    metrics.runbooksReloaded('ok');
    log.info({ dir: config.runbooks, ...summary }, 'runbooks reloaded');
    return { ok: true, ...summary };
  }

  /** The tokens file read again: replaced in `auth` when it is valid, else the previous tokens stay. */
  function reloadTokens(file: string, auth: TokenAuth): NonNullable<ReloadReport['tokens']> {
    const read = loadTokens(config, file);
    // The new names against --slack-approvers, as at start: a token renamed to differ from a Slack approver's name only in case is refused too.
    const names = read.ok && slackApprovers ? slackApproverNames(config, slackApprovers, read.tokens.map((t) => t.name), file) : { problems: [], unmatched: [] };
    const loaded = read.ok && names.problems.length > 0 ? { ok: false as const, problems: names.problems } : read;
    if (!loaded.ok) {
      const problems = loaded.problems.map(formatProblem);
      log.error({ file, problems }, 'API tokens file refused on reload: the previous tokens stay in force');
      return { ok: false, problems };
    }
    // Swap the index inside the one TokenAuth the hook holds.
    auth.replace(loaded.tokens);
    log.info({ file, tokens: loaded.names }, 'API tokens reloaded');
    warnUnmatched(log, names.unmatched);
    return { ok: true, count: auth.size() };
  }

  let reloading: Promise<unknown> = Promise.resolve();
  let closed = false;
  return {
    app,
    engine,
    store,
    catalog,
    metrics,
    available: executors.available,
    receivers: notifiers.map((n) => n.name),
    drainNotifications: async () => {
      await notifications.drain();
      await slackResponder?.drain();
    },
    housekeep,
    async listen() {
      return app.listen({ host: config.listen.host, port: config.listen.port });
    },
    async reload() {
      // One reload at a time: a second SIGHUP while the first waits for its commit reads the folder after the first is in force.
      const turn = reloading.then(() => (overrides.runbooks ? null : reloadRunbooks()));
      reloading = turn.catch(() => null);
      // Each part is read and reported on its own: one that fails, even by throwing, keeps
      // what it would replace in force and stops none of the others (a tokens file that
      // threw used to skip the TLS pair and the Slack secret, and the reload reported nothing).
      /**
       * One part: what it reports, or, when it throws, its one problem, logged as a refusal
       * (`what`: the part, as the log line names it; `kept`: what stays in force).
       */
      const part = async <R>(what: string, kept: string, context: object, read: () => R | Promise<R>, refused: (problem: string) => R): Promise<R> => {
        try {
          return await read();
        } catch (err) {
          const problem = reloadProblem(err);
          log.error({ ...context, problem }, `${what} refused on reload: ${kept} in force`);
          return refused(problem);
        }
      };
      /** A setting's part reloaded: counted, and shown refused (/readyz) until a reload of it loads. */
      const settled = (part: ReloadedSetting, out: { ok: true } | { ok: false; problems: string[] } | { ok: false; problem: string }): void => {
        metrics.settingReloaded(part, out.ok ? 'ok' : 'refused');
        if (out.ok) settingsRefused.delete(part);
        else settingsRefused.set(part, { at: clock.now(), problems: 'problems' in out ? out.problems : [out.problem] });
      };
      const report: ReloadReport = { runbooks: null, tokens: null, tls: null, slackSigningSecret: null };
      report.runbooks = await part('runbooks', 'the previous runbooks stay', { dir: config.runbooks }, () => turn, (problem) => ({ ok: false, problems: [problem] }));
      if (config.tokens !== undefined && auth) {
        const file = config.tokens;
        report.tokens = await part('API tokens file', 'the previous tokens stay', { file }, () => reloadTokens(file, auth), (problem) => ({ ok: false, problems: [problem] }));
        settled('tokens', report.tokens);
      }
      if (tls) {
        report.tls = await part<NonNullable<ReloadReport['tls']>>('TLS certificate', 'the previous one stays', { cert: config.tlsCert }, () => {
          const next = loadTls(config)!;
          // A renewal caught half-written, or an old file put back, must not replace a good certificate.
          const outOfDate = certificateOutOfDate(next.cert, Date.now());
          if (outOfDate) throw new Error(outOfDate);
          setTlsMaterial(app, next);
          log.info({ cert: config.tlsCert }, 'TLS certificate reloaded');
          return { ok: true };
        }, (problem) => ({ ok: false, problem }));
        settled('tls', report.tls);
      }
      if (slackVerifier && config.slackSigningSecret?.startsWith('${file:')) {
        const verifier = slackVerifier;
        report.slackSigningSecret = await part<NonNullable<ReloadReport['slackSigningSecret']>>('Slack signing secret', 'the previous one stays', {}, () => {
          verifier.replaceSecret(resolveSecret(config, 'slackSigningSecret')!);
          log.info('Slack signing secret re-read');
          return { ok: true };
        }, (problem) => ({ ok: false, problem }));
        settled('slack_signing_secret', report.slackSigningSecret);
      }
      return report;
    },
    /**
     * Stops the service. Answers the executions the stop cut off whose INTERRUPTED the store
     * could not take in the time the stop gives it (a lock held elsewhere, a full disk):
     * the database still shows them running until the next start records them.
     */
    unrecordedCause: (id) => tracker.unrecordedCause(id),
    async close(): Promise<{ unrecorded: string[] }> {
      const unrecorded: string[] = [];
      /** Logs, at error level, the runs a stop left unrecorded. */
      const notRecorded = (ids: string[], when: string): void => {
        if (ids.length === 0) return;
        unrecorded.push(...ids);
        log.error({ unrecorded: ids.length, execution_ids: ids }, `executions ${when} could not be recorded as INTERRUPTED (the database could not commit): they show as running; the next start records them INTERRUPTED; a person must check`);
      };
      /** Until no commit is queued and no run is in flight: nothing new comes once the API is closed. */
      const settleLate = async (): Promise<void> => {
        let late = 0;
        const lost: string[] = [];
        while (store.pending() > 0 || tracker.size() > 0) {
          await new Promise((r) => setImmediate(r));
          const d = await tracker.drain(0);
          late += d.interrupted;
          lost.push(...d.unrecorded);
        }
        if (late > 0) log.warn({ interrupted: late }, 'executions started as the service stopped were recorded as INTERRUPTED');
        notRecorded(lost, 'started as the service stopped');
      };
      if (closed) return { unrecorded };
      closed = true;
      draining = true;
      clearInterval(sweep);
      await sweeping;
      const drained = await tracker.drain(config.shutdownGraceMs);
      if (drained.interrupted) log.warn({ finished: drained.finished, interrupted: drained.interrupted }, 'executions cut off by shutdown were recorded as INTERRUPTED');
      notRecorded(drained.unrecorded, 'cut off by shutdown');
      // Connections made before the listener closes get their answer, not a reset: see letInArrived.
      await letInArrived(app.server);
      // A request still open now (a client sending its body slowly, or never) would hold the
      // stop until Node's request timeout, five minutes: it gets CLOSE_REQUESTS_MS, then its
      // connection is closed. Nothing of it was accepted (intake answers once its decisions
      // are committed), so its sender retries as after any refused delivery.
      const cutOff = setTimeout(() => app.server.closeAllConnections(), CLOSE_REQUESTS_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(cutOff);
      }
      // A request that came in before the stop (an approval, a manual run) may still be on its
      // way to the store: Fastify does not wait for a request whose connection is gone, and
      // store.close() commits what is queued. Its run would start then, be cut off at once,
      // and find the store closed: claimed EXECUTING, with no end until the next start. So the
      // queue is let empty, and the runs it started record their INTERRUPTED (told below),
      // before the store closes.
      await settleLate();
      // Repeats counted but not yet told are told now; then queued notifications get a
      // moment, and retrying stops: shutdown is not held hostage by chat.
      repeats.flush(true);
      // Nothing is owed now: a start after this stop reads back only what comes after.
      await checkpointed(true);
      await Promise.race([Promise.all([notifications.drain(), slackResponder?.drain()]), new Promise((r) => setTimeout(r, 2_000).unref())]);
      // A Slack click's answer still under way is waited for (its attempt's own timeout, and
      // 5 s, at most: --notify-timeout has no bound, Kubernetes' grace has; no retry) and
      // recorded while the store is open: unrecorded, the next start would post the
      // settlement it shows to the channel again. One cut off is owed, told at the next start.
      await slackResponder?.close();
      await notifications.close();
      await saveClock();
      store.close();
      return { unrecorded };
    },
  };
}

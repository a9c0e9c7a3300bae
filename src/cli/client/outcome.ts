import { durationHint, parseDuration, sleep } from '../../lib/index.js';
import { EXIT, type CliIO } from '../io.js';
import { ApiFailure, type ApiClient } from './api.js';
import { seg } from './command.js';
import { cell, lastFlag, readable, table, time } from './format.js';
import { auditPageShape, executionShape } from './shapes.js';

/** The wire shapes the client reads (interface.md §2); only the fields it prints. */
export interface DecisionResultJson {
  incident_id: string;
  action: string;
  runbook: string | null;
  reason: string;
  event: string;
  approval_id: string | null;
  execution_id: string | null;
  success?: boolean;
  rolled_back?: boolean;
}

export interface ExecutionJson {
  id: string;
  runbook: string;
  service: string;
  state: 'running' | 'succeeded' | 'failed' | 'aborted' | 'interrupted';
  actor: string;
  started_at: string;
  finished_at: string | null;
  outcome: string | null;
  needs_human: boolean;
  steps: Array<{ phase: string; index: number; summary: string; ok: boolean | null; detail: string | null; started_at: string; finished_at: string | null }>;
}

/**
 * Polls an execution until it ends or `timeoutMs` passes (then the last view, still
 * running). The service runs it whatever happens here: an abort of `signal` stops
 * watching, not the run, and gives the last view (null if none was read yet).
 */
export async function waitForExecution(api: ApiClient, id: string, opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal }): Promise<ExecutionJson | null> {
  const until = Date.now() + opts.timeoutMs;
  let last: ExecutionJson | null = null;
  try {
    for (;;) {
      last = await api.get<ExecutionJson>(`/api/v1/executions/${seg(id)}`, executionShape, opts.signal);
      if (last.state !== 'running' || Date.now() >= until) return last;
      await sleep(Math.min(opts.intervalMs ?? 500, Math.max(0, until - Date.now())), opts.signal);
    }
  } catch (err) {
    if (opts.signal?.aborted) return last;
    throw err;
  }
}

/**
 * `--wait-timeout` as `run` and `approve` take it (default 10m): how long to watch, and
 * the words to say it with; undefined, once the problem is said, when it is no duration.
 */
export function waitTimeout(io: CliIO, flags: Readonly<Record<string, readonly string[] | boolean>>): { timeoutMs: number; shownTimeout: string } | undefined {
  const shownTimeout = lastFlag(flags, 'wait-timeout') ?? '10m';
  const timeoutMs = parseDuration(shownTimeout);
  if (timeoutMs === undefined) {
    io.err(`--wait-timeout: expected a duration such as 30s or 10m, got ${JSON.stringify(shownTimeout)}${durationHint(shownTimeout)}`);
    return undefined;
  }
  return { timeoutMs, shownTimeout };
}

/**
 * `run` and `approve` watching the execution they started: the decision is printed first
 * (which execution, which incident) and a note on stderr says what Ctrl-C does. Ctrl-C
 * then stops watching (the run goes on in the service) and the command ends as a wait
 * that timed out does: exit 5, saying how to follow it. Before, nothing showed while it
 * waited, and Ctrl-C ended with no word of which execution went on running. `accepted`
 * is what --json prints, with `execution` and the error, if the watching fails.
 */
export async function watchExecution(
  io: CliIO,
  api: ApiClient,
  result: DecisionResultJson & { execution_id: string },
  opts: { timeoutMs: number; shownTimeout: string; json: boolean; accepted: object },
): Promise<{ execution: ExecutionJson | null; stopped: boolean }> {
  if (!opts.json) printDecision(io, result);
  io.err(`rectify: waiting up to ${opts.shownTimeout} for execution ${result.execution_id} to end (--wait-timeout); Ctrl-C stops watching, not the run`);
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    const signal = io.signal ? AbortSignal.any([io.signal, interrupt.signal]) : interrupt.signal;
    const execution = await waitForExecution(api, result.execution_id, { timeoutMs: opts.timeoutMs, signal });
    return { execution, stopped: signal.aborted };
  } catch (err) {
    // The decision is made and the execution started: a failure now is of the watching
    // only. Said plainly, or "cannot reach rectify" reads as "the run did not happen" and
    // the operator runs it, or approves it, again. Not "try again later" (exit 3) either:
    // the exit of an outcome not known, and under --json what was accepted (the decision,
    // its execution id) beside the error, not the error alone.
    if (!(err instanceof ApiFailure)) throw err;
    const message = `${err.message}; that was watching execution ${result.execution_id}, which had started, so do not run or approve it again: see how it went with rectify audit --execution-id ${result.execution_id}`;
    const body = { ...opts.accepted, execution: null, error: err.body.error };
    throw new ApiFailure(EXIT.UNCONFIRMED, message, body, err.status);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/**
 * The exit code and, for people, the closing lines of a watch (the caller prints --json's
 * document). A watch stopped before any view is still waiting on the run (5).
 */
export function finishWatch(io: CliIO, result: DecisionResultJson, watched: { execution: ExecutionJson | null; stopped: boolean }, json: boolean): number {
  const { execution, stopped } = watched;
  if (stopped && execution === null) {
    if (!json) io.out(`stopped watching; execution ${result.execution_id} goes on in the service: rectify audit --execution-id ${result.execution_id} --follow`);
    return EXIT.PENDING;
  }
  if (!json) printExecution(io, execution);
  return outcomeExit(result, execution);
}

/**
 * What a decision (and its execution, if we watched it) means for the exit code. A run
 * started and not watched (--no-wait) has no outcome yet: still running (5), as when
 * --wait-timeout ends, not 0, which says it succeeded; only a decision that waited for
 * the end (`success`, a local run) says how it went.
 */
export function outcomeExit(result: DecisionResultJson, execution: ExecutionJson | null): number {
  switch (result.action) {
    case 'executed':
      if (!execution) return result.success === undefined ? EXIT.PENDING : result.success ? EXIT.OK : EXIT.FAILED;
      if (execution.state === 'running') return EXIT.PENDING;
      return execution.state === 'succeeded' ? EXIT.OK : EXIT.FAILED;
    case 'dry_run':
    case 'duplicate':
    case 'resolved':
      return EXIT.OK;
    case 'approval_required':
      return EXIT.PENDING;
    default:
      // blocked, manual, aborted: nothing ran, or it did not finish well.
      return EXIT.FAILED;
  }
}

/** The human lines for a decision and, when watched, how its execution went. */
export function printOutcome(io: CliIO, result: DecisionResultJson, execution: ExecutionJson | null, opts: ExecutionLineOptions = {}): void {
  printDecision(io, result);
  printExecution(io, execution, opts);
}

export interface ExecutionLineOptions {
  /**
   * A run this process stopped whose INTERRUPTED the database could not take (a local
   * run's Ctrl-C): the database shows it running, yet nothing runs it any more.
   */
  unrecorded?: boolean;
}

/** The decision: what happened, and the ids to follow it by. */
export function printDecision(io: CliIO, result: DecisionResultJson): void {
  const rb = result.runbook ?? '-';
  switch (result.action) {
    case 'executed':
      io.out(`${rb}: executing${result.event === 'EXECUTING' ? ` (${readable(result.reason)})` : ''}, execution ${result.execution_id}, incident ${result.incident_id}`);
      break;
    case 'approval_required':
      io.out(`${rb}: approval required (${readable(result.reason)}); approval ${result.approval_id}`);
      io.out(`  approve: rectify approve ${result.approval_id}    reject: rectify reject ${result.approval_id}`);
      break;
    case 'dry_run': {
      // "dry run requested: nothing was executed" says again what the line says: only the rest is shown.
      let why = result.reason.replace(/: nothing was executed/, '');
      if (why.startsWith('dry run requested')) why = why.slice('dry run requested'.length).trim().replace(/^\((.*)\)$/, '$1');
      io.out(`${rb}: dry run recorded, nothing executed${why ? ` (${readable(why)})` : ''}; incident ${result.incident_id}`);
      break;
    }
    default:
      io.out(`${rb}: ${result.action} ${result.event}: ${readable(result.reason)}`);
  }
}

/** How the execution went (nothing when it was not watched). */
export function printExecution(io: CliIO, execution: ExecutionJson | null, opts: ExecutionLineOptions = {}): void {
  if (!execution) return;
  if (execution.steps.length) {
    const rows = execution.steps.map((s) => [s.phase, String(s.index + 1), s.ok === null ? 'running' : s.ok ? 'ok' : 'FAILED', cell(s.summary, 60), cell(s.detail, 70)]);
    for (const l of table(['PHASE', '#', 'RESULT', 'STEP', 'DETAIL'], rows)) io.out(`  ${l}`);
  }
  if (execution.state === 'running' && opts.unrecorded) {
    io.out(`execution ${execution.id} stopped, not recorded as INTERRUPTED: the database shows it running (a human must check)`);
  } else if (execution.state === 'running') {
    io.out(`execution ${execution.id} is still running (started ${time(execution.started_at)}); follow it: rectify audit --execution-id ${execution.id} --follow`);
  } else {
    io.out(`execution ${execution.id} ${execution.state}${execution.outcome ? `: ${readable(execution.outcome)}` : ''}${execution.needs_human ? ' (a human must check)' : ''}`);
  }
}

/**
 * What a dry run would have run, and its rollback, as its DRY_RUN audit row recorded them
 * (as `rectify approvals` shows a request's). Nothing when the row cannot be read: the
 * dry run is recorded all the same.
 */
export async function printDryRunPlan(io: CliIO, api: ApiClient, result: DecisionResultJson): Promise<void> {
  if (result.action !== 'dry_run') return;
  let details: { actions?: unknown; rollback?: unknown } | undefined;
  try {
    const page = await api.get<{ events: Array<{ event: string; details?: { actions?: unknown; rollback?: unknown } }> }>(
      `/api/v1/audit?${new URLSearchParams({ incident_id: result.incident_id, event: 'DRY_RUN', limit: '1' })}`,
      auditPageShape,
      io.signal,
    );
    details = page.events.find((e) => e.event === 'DRY_RUN')?.details;
  } catch {
    return;
  }
  const list = (v: unknown) => (Array.isArray(v) ? v.map((a) => cell(a, 300)) : undefined);
  const actions = list(details?.actions);
  if (!actions) return;
  const rollback = details?.rollback === null ? [] : list(details?.rollback);
  io.out(`  would run: ${actions.join('; ') || 'nothing'}`);
  if (rollback) io.out(`  rollback:  ${rollback.length ? rollback.join('; ') : 'none'}`);
}

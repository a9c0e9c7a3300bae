import { resolve } from 'node:path';
import { loadConfig } from '../config/index.js';
import { formatProblem, LoadError } from '../domain/index.js';
import { durationHint, formatDuration, parseDuration, readTextFile, unreadableFile } from '../lib/index.js';
import { expectedExecutors, unavailableReasons } from '../executors.js';
import { parseStream, replayStream, type ReplayReport } from '../replay/index.js';
import { noRunbookWarning } from '../runbooks/index.js';
import { loadCatalog, MIGRATIONS_DIR, runbooksSource } from '../service.js';
import { table, time } from './client/format.js';
import { EXIT, type CliIO } from './io.js';
import { formatWarning } from './lint.js';

/**
 * The most a replay stream file may hold: a day of a busy Alertmanager's webhooks is a
 * few tens of MiB; the whole file is held in memory while it is replayed.
 */
const MAX_REPLAY_FILE_BYTES = 256 * 1024 * 1024;

export const replayHelp = [
  'usage: rectify replay <file> [--runbooks dir] [--execution-time 0s] [--outcome success|failure] [--guardrails pass|fail] [--json]',
  '',
  'Feeds a recorded stream of Alertmanager webhook bodies through the runbooks and guardrails on a',
  'simulated clock and prints what would have happened: executions per runbook and service, blocks',
  'by reason, approvals asked. Nothing executes and no database is touched (an in-memory one is used).',
  'The decisions are the service\'s own: the same intake, matching, guardrail stages (rate limit,',
  'cooldown, circuit breaker, blast radius, windows, risk and approval), engine and execution records.',
  '',
  'The file: one JSON object a line, in time order; blank lines and # comments are skipped:',
  '  {"at": "2026-11-24T03:00:00Z", "webhook": {"version": "4", "status": "firing", "alerts": [...]}}',
  'A problem in the file names it and the line (file:line: ...; file:line:column: for a line that is not',
  'JSON, the column in characters, located as the service locates a body that is not JSON) and exits 2,',
  'as does a file with no webhook in it. A webhook body the service would refuse is counted as refused,',
  'with its line and status: 400 (a "__proto__" or "constructor.prototype" key, or a key given twice in',
  'one object, which the service\'s JSON parser refuses, or not a webhook body), 413 (its JSON larger',
  'than --body-limit); nothing of it is decided. Replay does not model deliveries arriving at once: it',
  'decides the bodies one at a time, so the 503 the service answers when its queue is full (past',
  '--max-pending) never occurs in a replay.',
  '',
  'Assumptions (printed with the result):',
  '  - every action, pre-check and post-check is simulated: by default each execution succeeds and ends',
  '    --execution-time after it starts (default 0s: at once), so cooldowns, rate limits and the',
  '    circuit breaker apply as they would; --outcome failure makes every execution fail (and roll back),',
  '    which trips circuit breakers;',
  '  - a MEDIUM runbook\'s guardrail conditions hold (--guardrails fail: they do not, so it asks approval);',
  '  - the executors are those the service would have with the same settings, decided from them alone',
  '    (nothing is read or reached): Prometheus with --prometheus-url; Kubernetes unless --kubernetes off,',
  '    and with auto only given a kubeconfig or in a cluster (a service-account token), as the service',
  '    starts; a runbook needing one it lacks is blocked EXECUTOR_UNAVAILABLE, as the service blocks it,',
  '    and without Kubernetes no cluster value is made up (the service reads none);',
  '  - values the service would read from the cluster (the owning deployment, replica counts) are made',
  '    up: the deployment is the alert\'s deployment label, else its service; 2 replicas, scaling to 3;',
  '    a deployment label beside a pod is taken as its owner (the service reads the pod\'s owner, and',
  '    refuses a runbook acting on the pod when the label names another);',
  '  - approval requests are never answered (they expire after --approval-ttl); nobody pauses.',
  'Service settings apply as in the service (rectify.yaml, RECTIFY_*, flags; see rectify serve --help):',
  '--runbooks, --max-concurrent-executions, --circuit-failure-threshold, --circuit-recovery,',
  '--approval-ttl, --dedup-retention, --dry-run, --body-limit, --max-pending-approvals, --kubernetes,',
  '--kubeconfig, --prometheus-url (which executors there are); --max-pending is taken, and changes',
  'nothing in a replay (see above).',
  '',
  '--json prints one object: executions (runbook → count), executions_by_service, blocked (event →',
  'count), blocked_reasons, manual, approvals (count), approvals_by_runbook, dry_runs, duplicates,',
  'resolved, refused, refusals (line, status, reason), truncated_deliveries and truncated_alerts',
  '(notifications Alertmanager cut short, max_alerts, and the alerts it left out), incidents, outcomes,',
  'circuit_trips, decisions, runbooks (per runbook), assumptions. Runbook warnings (what rectify lint',
  'fails on, such as a file not loaded, or a folder that loads no runbook) are printed to stderr, as',
  'the service logs them; they do not change the exit code.',
  '',
  // Replay talks to no service: of the client exit codes only these two can come from it.
  'Exit codes:',
  '  0  replayed: the result is printed (whatever it says: blocks, refusals and warnings included)',
  '  2  usage: wrong flags or arguments, no file or more than one, a file that cannot be read, a',
  '     problem in the file (named with its line) or a file with no webhook, a setting or a runbook',
  '     with a problem; nothing was replayed',
].join('\n');

const OUTCOMES = ['success', 'failure'] as const;
const GUARDRAILS = ['pass', 'fail'] as const;

/** `rectify replay <file>`: what the runbooks would have done with a recorded alert stream. */
export async function replayCommand(argv: string[], io: CliIO): Promise<number> {
  const loaded = loadConfig(argv, io.env, {
    cwd: io.cwd,
    extraFlags: { json: 'boolean', 'execution-time': 'string', outcome: 'string', guardrails: 'string' },
  });
  if ('problems' in loaded) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    io.err('see: rectify replay --help');
    return EXIT.USAGE;
  }
  const config = loaded.config;
  const last = (name: string): string | undefined => {
    const v = config.extraFlags[name];
    return Array.isArray(v) ? v[v.length - 1] : undefined;
  };
  const usage: string[] = [];
  if (config.args.length !== 1) usage.push(config.args.length ? `rectify replay: one stream file at a time (got ${config.args.length})` : 'rectify replay: missing <file> (see: rectify replay --help)');
  const executionMs = parseDuration(last('execution-time') ?? '0s');
  if (executionMs === undefined) usage.push(`--execution-time: expected a duration such as 0s, 30s or 2m, got ${JSON.stringify(last('execution-time'))}${durationHint(last('execution-time'))}`);
  const outcome = last('outcome') ?? 'success';
  if (!(OUTCOMES as readonly string[]).includes(outcome)) usage.push(`--outcome: expected one of ${OUTCOMES.join(', ')}, got ${JSON.stringify(outcome)}`);
  const guardrails = last('guardrails') ?? 'pass';
  if (!(GUARDRAILS as readonly string[]).includes(guardrails)) usage.push(`--guardrails: expected one of ${GUARDRAILS.join(', ')}, got ${JSON.stringify(guardrails)}`);
  if (usage.length) {
    for (const u of usage) io.err(u);
    return EXIT.USAGE;
  }

  const file = config.args[0]!;
  // Bounded and never blocking: a FIFO (a process substitution, <(…)) would wait for a
  // writer that may never come, and /dev/zero or a huge log would be read until memory ran out.
  const read = readTextFile(resolve(io.cwd, file), MAX_REPLAY_FILE_BYTES, 'a replay stream');
  if (!read.ok) {
    io.err(`${file}: ${unreadableFile('the file', read, read.code === 'NOT_A_FILE' ? 'save the stream to a file and replay that' : undefined)}`);
    return EXIT.USAGE;
  }
  const text = read.text;
  const stream = parseStream(text, { bodyLimitBytes: config.bodyLimitBytes });
  if (stream.problems.length) {
    for (const p of stream.problems) io.err(`${file}:${p.line}${p.column !== undefined ? `:${p.column}` : ''}: ${p.message}`);
    io.err(`${stream.problems.length} problem(s) in ${file}; nothing was replayed`);
    return EXIT.USAGE;
  }
  if (stream.entries.length === 0) {
    // An empty report would read as "the runbooks never act": from a file that holds no alert
    // (an export that failed, the wrong file), that says nothing about them.
    io.err(`${file}: no webhook to replay (the file is empty, or holds only blank lines and # comments); nothing was replayed`);
    return EXIT.USAGE;
  }

  let runbooks;
  try {
    const catalog = loadCatalog(config.runbooks, config.maxRunbookFiles, runbooksSource(config));
    // What the service logs at start (runbook warning): a file not loaded is replayed as no
    // runbook, and so is every alert when the folder loads none. Printed, not failed on: a
    // replay decides as the service would, and the service starts on them.
    for (const w of catalog.warnings) io.err(formatWarning(w));
    if (catalog.runbooks.length === 0) io.err(formatWarning(noRunbookWarning(config.runbooks, 'folder')));
    runbooks = catalog.runbooks;
  } catch (err) {
    if (err instanceof LoadError) {
      for (const p of err.problems) io.err(formatProblem(p));
      return EXIT.USAGE;
    }
    throw err;
  }

  const report = await replayStream(stream.entries, {
    runbooks,
    executors: expectedExecutors(config),
    unavailable: unavailableReasons(config),
    migrationsDir: MIGRATIONS_DIR,
    maxConcurrentExecutions: config.maxConcurrentExecutions,
    maxPendingDecisions: config.maxPendingDecisions,
    maxPendingApprovals: config.maxPendingApprovals,
    circuitRecoveryMs: config.circuitRecoveryMs,
    circuitFailureThreshold: config.circuitFailureThreshold,
    approvalTtlMs: config.approvalTtlMs,
    exporterJobs: config.exporterJobs,
    dedupRetentionMs: config.dedupRetentionMs,
    historyRetentionMs: config.historyRetentionMs,
    globalDryRun: config.dryRun,
    executionMs: executionMs!,
    outcome: outcome as (typeof OUTCOMES)[number],
    guardrailsPass: guardrails === 'pass',
  });
  for (const f of report.refusals) io.err(`${file}:${f.line}: the service would refuse this webhook (${f.status}): ${f.reason}`);
  if (loaded.config.extraFlags['json'] === true) io.out(JSON.stringify(report));
  else printReport(io, file, report);
  return EXIT.OK;
}

function printReport(io: CliIO, file: string, r: ReplayReport): void {
  const a = r.assumptions;
  io.out(`replayed ${file}: ${r.lines} webhook(s), ${r.alerts} alert(s), ${time(r.from)} to ${time(r.to)} (simulated; nothing was executed)`);
  io.out(`assumed: executions ${a.outcome === 'success' ? 'succeed' : 'fail'} ${a.execution_time_ms ? `after ${formatDuration(a.execution_time_ms)}` : 'at once'}, MEDIUM guardrail conditions ${a.guardrails === 'pass' ? 'hold' : 'fail'}`);
  // The rest of what --help promises is printed: a reader of the result alone should see it too.
  // Which executors the service would have with these settings: a runbook needing one it lacks is blocked EXECUTOR_UNAVAILABLE.
  for (const [kind, x] of Object.entries(a.executor_availability)) {
    if (kind === 'kubernetes' || kind === 'prometheus') io.out(`assumed: executor ${kind} ${x.available ? 'available' : 'not available (a runbook needing it is blocked EXECUTOR_UNAVAILABLE)'}: ${x.why}`);
  }
  const c = a.cluster;
  if (c) io.out(`assumed: values the service would read from the cluster are made up: the deployment is ${c.deployment}; ${c.replicas} replicas, scaling to ${c.new_replicas}`);
  else io.out('assumed: no value is read from a cluster (the service would have no Kubernetes executor)');
  io.out(`assumed: approval requests are never answered (they expire after ${formatDuration(a.approval_ttl_ms)}); nobody pauses`);
  io.out('');

  const execRows: string[][] = [];
  for (const [rb, byService] of Object.entries(r.executions_by_runbook_and_service)) {
    for (const [svc, n] of Object.entries(byService)) execRows.push([rb, svc, String(n)]);
  }
  io.out('Executions');
  if (execRows.length) for (const l of table(['RUNBOOK', 'SERVICE', 'EXECUTIONS'], execRows)) io.out(`  ${l}`);
  else io.out('  none');
  io.out('');

  io.out('Blocked');
  const blockRows = Object.entries(r.blocked_reasons).map(([key, n]) => {
    const i = key.indexOf(': ');
    return [key.slice(0, i), String(n), key.slice(i + 2)];
  });
  if (blockRows.length) for (const l of table(['EVENT', 'COUNT', 'REASON'], blockRows)) io.out(`  ${l}`);
  else io.out('  none');
  io.out('');

  io.out('Per runbook');
  const rbRows = Object.entries(r.runbooks).map(([id, x]) => [
    id,
    String(x.executions),
    String(Object.values(x.blocked).reduce((s, n) => s + n, 0)),
    String(x.approvals),
    String(x.dry_runs),
    String(r.circuit_trips[id] ?? 0),
  ]);
  for (const l of table(['RUNBOOK', 'EXECUTIONS', 'BLOCKED', 'APPROVALS', 'DRY RUNS', 'CIRCUIT TRIPS'], rbRows)) io.out(`  ${l}`);
  io.out('');

  const manual = Object.entries(r.manual).map(([e, n]) => `${e} ${n}`).join(', ');
  const outcomes = Object.entries(r.outcomes).map(([e, n]) => `${e} ${n}`).join(', ');
  io.out(`approvals asked: ${r.approvals}   duplicates: ${r.duplicates}   resolved: ${r.resolved}   refused: ${r.refused}`);
  io.out(`left to a person (no runbook, low confidence): ${manual || '0'}`);
  io.out(`simulated execution outcomes: ${outcomes || 'none'}`);
  if (r.truncated_deliveries) io.out(`alerts Alertmanager left out (its webhook max_alerts), never seen: ${r.truncated_alerts} in ${r.truncated_deliveries} notification(s)`);
}

import { existsSync } from 'node:fs';
import { executionView } from '../../api/views.js';
import { loadConfig, shownArg } from '../../config/index.js';
import { formatProblem, isOutcomeUnknown, isRectifyError, LoadError } from '../../domain/index.js';
import { createLogger } from '../../observability/index.js';
import { createService } from '../../service.js';
import { EXIT, type CliIO } from '../io.js';
import type { ApiClient } from './api.js';
import { actor, clientCommand, seg, withJsonUsage } from './command.js';
import { lastFlag, name } from './format.js';
import { clientHelp } from './help.js';
import { finishWatch, outcomeExit, printDryRunPlan, printOutcome, waitTimeout, watchExecution, type DecisionResultJson, type ExecutionJson, type ExecutionLineOptions } from './outcome.js';
import { pauseNote } from './pause-note.js';
import { decisionShape, runbookStateShape } from './shapes.js';

export const runHelp = clientHelp(
    'rectify run <runbook> [--param k=v]... [--service name] [--dry-run] [--by name] [--no-wait] [--wait-timeout 10m] [--json]\n       rectify run --local [--db sqlite:<path>] [--runbooks dir] <runbook> [--param k=v]... [...]',
    [
      'Run a runbook by hand, through exactly the guardrails, approvals and audit of an automatic',
      'run (POST /api/v1/runbooks/{id}/run); the actor is --by or your user name. A HIGH-risk',
      'runbook asks for approval (exit 5, with the approval id); a guardrail block exits 1 with its',
      'reason (for an open circuit or a cooldown, with the command that ends it by hand, or the run',
      'under way that holds the cooldown until it ends); a dry run records what would run and runs',
      'nothing. The command waits for the execution to end',
      '(exit 0 succeeded, 1 failed or aborted) unless --no-wait (exit 5 once it started); Ctrl-C stops',
      'watching, not the run (exit 5, with how to follow it). Ctrl-C before the service answered',
      'stops the wait for its answer, not what the service does with the request: exit 6, with how',
      'to check whether it ran. A manual run goes ahead while rectify or the runbook is paused',
      '(rectify pause stops automatic runs only): a note line says so.',
      '',
      'With --local (or --db) there is no service to talk to: the run goes through the same engine',
      'in this process, on the database and runbooks the service settings name (flags, RECTIFY_*',
      'variables, rectify.yaml: see `rectify serve --help`), with the same guardrail state and',
      'audit log. Meant for when the service is not running; Ctrl-C then stops the run the way',
      'the service stops (--shutdown-grace, then INTERRUPTED: exit 1). When the database cannot',
      'take that record (its write lock held by another program, a full disk), it keeps trying',
      'for 5s, then says on stderr which run was not recorded: it shows as running until the next',
      'start of rectify serve on the database records it INTERRUPTED, and a person must check',
      '(exit 1). The same, at once and without Ctrl-C, when the database refuses the run\'s end',
      'until a restart (another rectify keyed its audit log with another --audit-key, the file',
      'lost). Where that database is not there, the run is refused (exit 2): a new one would',
      'hold none of the guardrail state.',
      '',
      '--json prints {"result": <decision>, "execution": <execution or null>}; when watching the run',
      'fails, {"result": …, "execution": null, "error": …} (exit 6: it started, do not run it again).',
    ].join('\n'),
    [
      '--param k=v        a placeholder value (repeat for several); strings, checked like alert labels',
      '--service <name>   the service the run is for (rate limits and cooldowns count per service;',
      '                   default: the service param, else the runbook id, which never fills',
      '                   {service}: a runbook that acts on {service} is refused without one;',
      '                   a --param service that differs is refused, exit 2)',
      '--dry-run          record the plan, run nothing; prints its actions and rollback',
      '--by <name>        who runs it, for the audit log (default: your user name)',
      '--no-wait          return once the decision is recorded (a run started: exit 5, its outcome\n                     not known yet)',
      '--wait-timeout <d> how long to watch the execution (default 10m); then exit 5',
      '--local            in this process, on the local database (not with --server)',
    ],
);

const PARAM_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** `--param k=v` pairs, or the first problem with them. */
function parseParams(values: readonly string[]): { params: Record<string, string> } | { problem: string } {
  const params: Record<string, string> = {};
  for (const kv of values) {
    const eq = kv.indexOf('=');
    const key = eq === -1 ? kv : kv.slice(0, eq);
    if (eq === -1 || !PARAM_KEY.test(key)) return { problem: `--param: expected key=value with a key of letters, digits and _ . -, got ${JSON.stringify(kv)}` };
    // Written into a plain object, "__proto__" would set its prototype: the value would never be sent.
    if (key === '__proto__') return { problem: '--param: "__proto__" cannot be a parameter name (no placeholder can have it); give the value under the name the runbook\'s placeholder has' };
    // Its own keys only: `key in params` found "constructor" on every object, refused as given twice.
    if (Object.hasOwn(params, key)) return { problem: `--param: ${key} is given twice; give each parameter once` };
    params[key] = kv.slice(eq + 1);
  }
  return { params };
}

/**
 * Whether the run is local: --db, or --local with its value read (the last one given):
 * `--local=false` ran locally all the same. A value that is no boolean goes local, where
 * it is refused as one.
 */
function isLocal(argv: readonly string[]): boolean {
  let local = false;
  for (const a of argv) {
    if (a === '--db' || a.startsWith('--db=')) return true;
    if (a === '--local') local = true;
    else if (a.startsWith('--local=')) local = !/^(?:false|0|no|off)$/i.test(a.slice('--local='.length).trim());
  }
  return local;
}

/** `rectify run`: against the service, or with --local in this process. */
export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  return isLocal(argv) ? runLocalCommand(argv, io) : runRemote(argv, io);
}

const runRemote = clientCommand(
  // `local` is here as `--local=false`, the only value that leads here.
  { name: 'run', flags: { param: 'string', service: 'string', by: 'string', 'dry-run': 'boolean', 'no-wait': 'boolean', 'wait-timeout': 'string', local: 'boolean' }, positional: ['runbook'] },
  async ({ io, api, client, flags, args }) => {
    const p = parseParams((flags['param'] as string[] | undefined) ?? []);
    if ('problem' in p) {
      io.err(p.problem);
      return EXIT.USAGE;
    }
    const wait = waitTimeout(io, flags);
    if (!wait) return EXIT.USAGE;
    const service = lastFlag(flags, 'service');
    const runbook = seg(args[0]!);
    const result = await api.post<DecisionResultJson>(
      `/api/v1/runbooks/${runbook}/run`,
      { params: p.params, by: actor(flags, io), dry_run: flags['dry-run'] === true, ...(service !== undefined ? { service } : {}) },
      decisionShape,
      { acts: true, check: `rectify audit --runbook ${runbook} --since 10m` },
    );
    // Manual runs go ahead while paused: said after the outcome (not in --json, whose answer is the API's).
    const note = async () => {
      if (!client.json && result.action === 'executed') await pauseNote(io, api, args[0]!, 'manual run');
    };
    if (result.execution_id && flags['no-wait'] !== true) {
      const watched = await watchExecution(io, api, { ...result, execution_id: result.execution_id }, { ...wait, json: client.json, accepted: { result } });
      if (client.json) io.out(JSON.stringify({ result, execution: watched.execution }));
      const code = finishWatch(io, result, watched, client.json);
      await note();
      return code;
    }
    const code = finish(io, client.json, result, null);
    if (!client.json) {
      await printDryRunPlan(io, api, result);
      const hint = await blockedHint(io, api, result, args[0]!, service ?? p.params['service'] ?? args[0]!);
      if (hint) io.out(hint);
    }
    await note();
    return code;
  },
);

/** A word to the shell: quoted when it holds anything but the usual characters of a name. */
const word = (v: string) => (/^[A-Za-z0-9._:/@=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/**
 * What to do about a guardrail that blocked a manual run, when a command ends it: the
 * circuit closed by hand, the cooldown ended by hand. None for the hourly limit (it frees
 * with time). A service's cooldown that a run still under way holds ends only with the
 * run, whatever a clear does: the run is named instead, read from the runbook's view
 * (`while_running`), as the reason leaves it out while the timed cooldown is in force too.
 */
export async function blockedHint(io: CliIO, api: ApiClient, result: DecisionResultJson, runbook: string, service: string): Promise<string | undefined> {
  if (result.action !== 'blocked') return undefined;
  if (result.event === 'CIRCUIT_OPEN') {
    return `  once the cause of the failures is fixed, close the circuit by hand, then run again: rectify circuit close ${word(runbook)} --reason <why>`;
  }
  if (result.event !== 'RATE_LIMITED' || !result.reason.startsWith('Cooldown active')) return undefined;
  // A cooldown on a Kubernetes object counts every service's runs: clearing them all ends it.
  // It is judged only when the service has none in force, nor a run under way holding it.
  const onObject = result.reason.startsWith('Cooldown active on ');
  const running = onObject ? undefined : await runHolding(io, api, runbook, service);
  if (running) {
    return `  execution ${running}, still running on ${name(service, 253)}, holds this cooldown until it ends, whatever rectify cooldown clear does; follow it: rectify audit --execution-id ${running} --follow`;
  }
  if (result.reason.includes('still running')) return undefined;
  return `  to run it before the cooldown ends, end it by hand, then run again: rectify cooldown clear ${word(runbook)}${onObject ? '' : ` --service ${word(service)}`} --reason <why>`;
}

/** The run under way that holds the runbook's cooldown on `service`, from its view; undefined when none, or when the view cannot be read. */
async function runHolding(io: CliIO, api: ApiClient, runbook: string, service: string): Promise<string | undefined> {
  try {
    const view = await api.get<{ cooldowns: Array<{ service: string; while_running?: string }> }>(`/api/v1/runbooks/${seg(runbook)}`, runbookStateShape, io.signal);
    return view.cooldowns.find((c) => c.service === service)?.while_running;
  } catch {
    return undefined;
  }
}

function finish(io: CliIO, json: boolean, result: DecisionResultJson, execution: ExecutionJson | null, opts: ExecutionLineOptions = {}): number {
  if (json) io.out(JSON.stringify({ result, execution }));
  else printOutcome(io, result, execution, opts);
  return outcomeExit(result, execution);
}

const LOCAL_FLAGS = { param: 'string', service: 'string', by: 'string', local: 'boolean', json: 'boolean' } as const;

const runLocalCommand = withJsonUsage('run', runLocal);

async function runLocal(argv: string[], io: CliIO): Promise<number> {
  for (const remoteOnly of ['--server', '--token', '--no-wait', '--wait-timeout']) {
    if (argv.some((a) => a === remoteOnly || a.startsWith(`${remoteOnly}=`))) {
      io.err(`${remoteOnly}: not with --local/--db (a local run happens in this process and always waits for its end)`);
      return EXIT.USAGE;
    }
  }
  const loaded = loadConfig(argv, io.env, { cwd: io.cwd, extraFlags: LOCAL_FLAGS });
  if ('problems' in loaded) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    io.err('see: rectify run --help');
    return EXIT.USAGE;
  }
  const config = loaded.config;
  if (config.extraFlags['local'] === false) {
    io.err('--local=false: not with --db (a run on a database given by --db happens in this process); drop --db to run it through the service');
    return EXIT.USAGE;
  }
  if (config.args.length !== 1) {
    io.err(config.args.length ? `rectify run: unexpected argument ${shownArg(config.args[1]!)}` : 'rectify run: missing <runbook> (see: rectify run --help)');
    return EXIT.USAGE;
  }
  const p = parseParams((config.extraFlags['param'] as readonly string[] | undefined) ?? []);
  if ('problem' in p) {
    io.err(p.problem);
    return EXIT.USAGE;
  }
  // A local run decides on the guardrail state of the database the service keeps (rate
  // limits, cooldowns, circuits) and appends to its audit log. Opened where nothing is
  // (a misspelt --db, the default ./data/rectify.db of another folder), it would be a new,
  // empty database: every limit unused, every circuit closed, and the run recorded nowhere
  // the service looks.
  if (config.db.kind === 'sqlite' && (config.db.path === ':memory:' || !existsSync(config.db.path))) {
    const src = config.sources.db;
    const from = src.kind === 'default' ? 'the default' : src.kind === 'file' ? `set by ${src.path} in ${src.file}` : `set by ${src.file}`;
    io.err(
      `rectify run: ${config.db.path === ':memory:' ? 'an in-memory database' : `no database at ${config.db.path}`} (${from}): a local run decides on the guardrail state and writes to the audit log of the database rectify serve uses; give its path with --db. Nothing was run`,
    );
    return EXIT.USAGE;
  }
  const json = config.extraFlags['json'] === true;
  const service = lastFlag(config.extraFlags, 'service');
  // Logs go to stderr, so stdout stays the result (and valid JSON under --json).
  const log = createLogger({
    level: config.sources.logLevel.kind === 'default' ? 'warn' : config.logLevel,
    destination: { write: (s: string) => void io.err(s.trimEnd()) },
  });
  let svc;
  try {
    svc = await createService(config, log, { recover: false });
  } catch (err) {
    if (err instanceof LoadError) {
      for (const problem of err.problems) io.err(formatProblem(problem));
      return EXIT.USAGE;
    }
    const message = `rectify run: cannot open ${config.db.kind === 'sqlite' ? config.db.path : 'the database'}: ${err instanceof Error ? err.message : String(err)}`;
    io.err(message);
    // Under --json stdout is one JSON document whatever happens: it was empty here.
    if (json) io.out(JSON.stringify({ error: { code: 'STORE_UNAVAILABLE', message, details: [] } }));
    return EXIT.FAILED;
  }
  const service_ = svc;
  // Ctrl-C: stop as the service stops, so the run ends recorded (grace, then INTERRUPTED).
  // When the database cannot take that record (its write lock held elsewhere, a full disk),
  // the stop keeps trying for a while, then answers the runs it left unrecorded: said on
  // stderr with what the store refused their end with, and the exit is 1 whatever the
  // outcome printed.
  let closing: Promise<{ unrecorded: string[] }> | undefined;
  const onSigint = () => {
    io.err(`rectify run: stopping; a running execution gets ${config.shutdownGraceMs / 1000}s (--shutdown-grace) before it is recorded INTERRUPTED`);
    closing ??= service_.close();
  };
  process.once('SIGINT', onSigint);
  try {
    const result = await service_.engine.runManual(config.args[0]!, p.params, {
      by: actor(config.extraFlags, io),
      dryRun: config.sources.dryRun.kind === 'flag' && config.dryRun,
      wait: true,
      ...(service !== undefined ? { service } : {}),
    });
    const view = result.execution_id
      ? service_.store.read((tx) => {
          const row = tx.getExecution(result.execution_id!);
          return row ? executionView(row, tx.executionEndNeedsHuman(row.id)) : undefined;
        })
      : undefined;
    const execution = view ? (view as ExecutionJson) : null;
    const held = heldBy(result, () => service_.store.read((tx) => tx.runningExecutions()));
    // Stopped by Ctrl-C: what the stop left unrecorded is known once it is done. A run the
    // database still shows running once it ended here is one whose end it refused until a
    // restart (a fault that lasts: another rectify keyed the audit log otherwise, the file
    // lost): left unrecorded all the same.
    const unrecorded = closing ? [...(await closing).unrecorded] : [];
    if (execution?.state === 'running' && !unrecorded.includes(execution.id)) unrecorded.push(execution.id);
    const code = finish(io, json, result, execution, { unrecorded: execution !== null && unrecorded.includes(execution.id) });
    if (held) io.err(held);
    for (const id of unrecorded) {
      // The cause as the error line above says it (a lock held elsewhere, a full disk, another audit key).
      const cause = service_.unrecordedCause(id) ?? 'the database could not commit';
      io.err(
        `rectify run: execution ${id} was stopped but not recorded as INTERRUPTED (${cause}): it shows as running; the next start of rectify serve on this database records it INTERRUPTED; a person must check what it did`,
      );
    }
    return unrecorded.length > 0 ? EXIT.FAILED : code;
  } catch (err) {
    if (isRectifyError(err)) {
      io.err(`rectify run: ${err.message}`);
      if (json) io.out(JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } }));
      if (isOutcomeUnknown(err.details)) return EXIT.UNCONFIRMED;
      return err.code === 'NOT_FOUND' || err.code === 'CONFLICT' ? EXIT.FAILED : err.status >= 500 ? EXIT.UNREACHABLE : EXIT.USAGE;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
    closing ??= service_.close();
    await closing;
  }
}

/**
 * A local run blocked by executions recorded as running (the blast radius, or a run of
 * the same runbook on the service still going) is told which they are. The service
 * records the runs a crash cut off as INTERRUPTED when it starts again; a local run never
 * does (another local run may be running them), so after a crash of the service, which is
 * when a local run is wanted, its leftovers would block it with no word of why.
 */
function heldBy(result: DecisionResultJson, running: () => Array<{ id: string; runbook: string; service: string; started_at: number }>): string | undefined {
  if (result.action !== 'blocked') return undefined;
  const engineWide = result.event === 'BLAST_LIMITED' && result.reason.startsWith('Max concurrent');
  const ofRunbook = result.event === 'BLAST_LIMITED' || (result.event === 'RATE_LIMITED' && result.reason.includes('still running'));
  if (!engineWide && !ofRunbook) return undefined;
  const held = running().filter((e) => engineWide || e.runbook === result.runbook);
  if (held.length === 0) return undefined;
  const shown = held.slice(0, 5).map((e) => `${e.id} (${e.runbook} on ${e.service}, since ${new Date(e.started_at).toISOString()})`);
  const more = held.length > shown.length ? ` and ${held.length - shown.length} more` : '';
  return (
    `rectify run: blocked by ${held.length === 1 ? 'an execution' : `${held.length} executions`} recorded as running: ${shown.join(', ')}${more}. ` +
    'A local run never takes one over: if no rectify runs them any more (a rectify serve that stopped without recording them: a crash, kill -9), ' +
    'start rectify serve on this database: it records them INTERRUPTED for a human to check and frees their slots'
  );
}

import { EXIT, type CliIO } from '../io.js';
import { formatWarning } from '../lint.js';
import { ApiFailure } from './api.js';
import { clientCommand, seg } from './command.js';
import { cell, name, pausedBy, readable, table, time, type PauseState as Pause } from './format.js';
import { clientHelp } from './help.js';
import { readPauses } from './pause-note.js';
import { runbookListShape, runbookStateShape } from './shapes.js';

interface RunbookStateJson {
  id: string;
  description: string;
  file: string;
  risk: string;
  mode: string;
  triggers: string[];
  max_per_hour: number;
  cooldown_minutes: number;
  blast_radius_limit: number;
  needs: string[];
  executable: boolean;
  actions: string[];
  /** trial_from and trial_allowed: only while open, and absent from a service older than them. */
  circuit: { state: string; failures: number; opened_at: string | null; trial_from?: string; trial_allowed?: boolean };
  executions_last_hour: number;
  /** Absent from a service older than this field. */
  busiest_service_last_hour?: { service: string; executions: number } | null;
  /** while_running: the run still under way that holds it until it ends; absent from a service older than this field. */
  cooldowns: Array<{ service: string; until: string; while_running?: string }>;
  cooldown_end: string | null;
  /** The same per Kubernetes object, whichever service each run was for; running_for: the service of the run under way. Absent from a service older than this field. */
  object_cooldowns?: Array<{ object: string; until: string; while_running?: string; running_for?: string }>;
  success_rate: number | null;
  succeeded: number;
  failed: number;
  /** The runbook's own kill switch; absent from a service older than this field. */
  paused?: Pause | null;
}

export const runbooksHelp = clientHelp(
  'rectify runbooks [id] [--json]',
  'Runbooks with their live state (GET /api/v1/runbooks): circuit breaker, executions in the last\nhour against max_per_hour, active cooldowns, success rate, and whether this service has the\nexecutors they need. With an id, one runbook in detail (exit 1 when it is not loaded).\nPAUSED: the runbook\'s own kill switch (rectify pause --runbook). The global one (rectify pause)\nis the first line while on: "all automatic runs paused by <who> since <time>: <reason>"; with an\nid, the paused line says both ("yes (all automatic runs paused by …)" while the global one is on).\nRELOAD REFUSED: the last reload of the runbooks folder was refused (its first problem is\nshown; --json or /readyz has them all): the runbooks listed are the last good set.\nPAUSED, NOT LOADED: a runbook paused on its own that a reload removed: its pause is kept, and\nholds a runbook of that id loaded later until rectify resume --runbook <id> clears it.\nCIRCUIT: OPEN with when its trial run is allowed ("trial from <time>", or "next alert is a\ntrial" once the --circuit-recovery wait is over).\nLAST HOUR: the busiest service\'s executions against max_per_hour, a per-service limit\n(2/2), then the total when other services ran too (2/2, 6 in all).\nCOOLDOWN: when the last cooldown ends ("until <time>"), or "while <execution> runs": a run still\nunder way holds off the next on its service until it ends, past the cooldown\'s time and past\nrectify cooldown clear.\nOBJECT COOLDOWN: the same for the Kubernetes objects the runbook\'s runs act on (deployment\nproduction/checkout, node node-a), counted whichever service each run was for: why an alert is\nheld off while its service has no cooldown. With an id, an "object cooldowns" line names each\nobject, and the service a run still under way on it is for.\nAfter the table, on stderr: the load warnings of the runbooks listed, as rectify lint prints them\n(file: YAML path: warning: message), those the start or the last reload that loaded logged: a\nrunbook never chosen (an earlier one with no match: takes all its alerts) is listed, and no alert\never runs it. They change no exit status.',
);

interface ReloadRefused {
  at: string;
  problems: string[];
}

interface RunbookList {
  runbooks: RunbookStateJson[];
  paused?: Pause | null;
  /** Absent from a service older than this field. */
  reload_refused?: ReloadRefused | null;
  /** Pauses kept for runbooks not loaded; absent from a service older than this field. */
  paused_not_loaded?: Array<Pause & { runbook: string }>;
  /** The load warnings of the runbooks listed; absent from a service older than this field. */
  warnings?: Array<{ file: string; line: number | null; path: string; message: string }>;
}

/** "at 2026-…Z: 2 problems; first: …": the first problem is text from a file, on one line. */
const refusedText = (r: ReloadRefused) =>
  `at ${time(r.at)}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}${r.problems.length ? `; first: ${cell(r.problems[0], 200)}` : ''}`;

const rate = (r: RunbookStateJson) => (r.success_rate === null ? '-' : `${Math.round(r.success_rate * 100)}% of ${r.succeeded + r.failed}`);
/** When an open circuit lets its trial run through: the next alert, or from a time. */
const trial = (r: RunbookStateJson) => (r.circuit.trial_allowed ? ', next alert is a trial' : r.circuit.trial_from ? `, trial from ${time(r.circuit.trial_from)}` : '');
const circuit = (r: RunbookStateJson) =>
  r.circuit.state === 'closed' ? (r.circuit.failures ? `closed (${r.circuit.failures} failed)` : 'closed') : `${r.circuit.state.toUpperCase()}${trial(r)}`;

/** `rectify runbooks [id]`. */
export const runbooksCommand = clientCommand({ name: 'runbooks', optional: ['id'] }, async ({ io, api, client, args }) => {
  if (args.length === 1) {
    let r: RunbookStateJson;
    try {
      r = await api.get<RunbookStateJson>(`/api/v1/runbooks/${seg(args[0]!)}`, runbookStateShape);
    } catch (err) {
      // Not loaded, maybe because the reload that would have loaded it was refused: said.
      if (!(err instanceof ApiFailure) || err.status !== 404 || client.json) throw err;
      const refused = await api
        .get<RunbookList>('/api/v1/runbooks', runbookListShape)
        .then((page) => page.reload_refused ?? null)
        .catch(() => null);
      if (!refused) throw err;
      throw new ApiFailure(err.exit, `${err.message}; but the last reload of the runbooks folder was refused (${refusedText(refused)}): the runbooks loaded are the last good set, so a runbook added or renamed since is not`, err.body, err.status);
    }
    if (client.json) {
      io.out(JSON.stringify(r));
      return EXIT.OK;
    }
    // The global kill switch holds this runbook too: "no" while it is on read as "it runs".
    const pauses = await readPauses(io, api);
    const lines: Array<[string, string]> = [
      ['runbook', r.id],
      ['description', cell(r.description, 100)],
      ['file', r.file],
      ['risk / mode', `${r.risk} / ${r.mode}`],
      ['paused', pausedCell(r.paused, pauses === undefined ? undefined : (pauses.paused ?? null))],
      ['triggers', r.triggers.join(', ') || '-'],
      ['actions', r.actions.join('; ') || '-'],
      ['executable', r.executable ? 'yes' : `no (needs ${r.needs.join(', ')})`],
      ['circuit', `${r.circuit.state === 'closed' ? circuit(r) : r.circuit.state.toUpperCase()}${r.circuit.opened_at ? ` since ${time(r.circuit.opened_at)}` : ''}${r.circuit.state === 'closed' ? '' : trial(r)}`],
      ['last hour', lastHourDetail(r)],
      ['cooldown', `${r.cooldown_minutes}m${r.cooldowns.length ? `; active: ${r.cooldowns.map((c) => `${name(c.service, 40)} ${holdText(c)}`).join(', ')}` : ''}`],
      ...objectLines(r),
      ['blast radius', `${r.blast_radius_limit} service(s) at once`],
      ['success rate', rate(r)],
    ];
    for (const l of table(['', ''], lines).slice(1)) io.out(l);
    return EXIT.OK;
  }
  const page = await api.get<RunbookList>('/api/v1/runbooks', runbookListShape);
  if (client.json) {
    io.out(JSON.stringify(page));
    return EXIT.OK;
  }
  // The global kill switch (rectify pause) holds every runbook, whatever its own row says.
  if (page.paused) io.out(`all automatic runs paused ${pausedBy(page.paused)}`);
  // A refused reload changed nothing: the folder on disk is not what runs.
  if (page.reload_refused) io.out(`RELOAD REFUSED ${refusedText(page.reload_refused)}; the runbooks below are the last good set`);
  // A pause kept for a runbook a reload removed holds one of that id loaded later.
  for (const p of page.paused_not_loaded ?? []) {
    io.out(`PAUSED, NOT LOADED ${cell(p.runbook, 80)} ${pausedBy(p)}: a runbook of that id loaded later stays paused until \`rectify resume --runbook ${cell(p.runbook, 80)}\``);
  }
  if (page.runbooks.length === 0) {
    io.out('no runbooks loaded');
    printWarnings(io, page);
    return EXIT.OK;
  }
  // A service older than object_cooldowns does not list them: no column, rather than "-" (none in force).
  const objects = page.runbooks.some((r) => r.object_cooldowns !== undefined);
  const rows = page.runbooks.map((r) => [
    r.id,
    r.risk,
    r.mode,
    r.paused ? 'YES' : 'no',
    r.executable ? 'yes' : 'NO',
    circuit(r),
    lastHourCell(r),
    cooldownCell(r),
    ...(objects ? [objectCooldownCell(r)] : []),
    rate(r),
  ]);
  const headers = ['RUNBOOK', 'RISK', 'MODE', 'PAUSED', 'EXECUTABLE', 'CIRCUIT', 'LAST HOUR', 'COOLDOWN', ...(objects ? ['OBJECT COOLDOWN'] : []), 'SUCCESS'];
  for (const l of table(headers, rows)) io.out(l);
  printWarnings(io, page);
  return EXIT.OK;
});

/**
 * The load warnings of the runbooks listed, after the table on stderr, as `rectify lint`
 * prints them (a runbook never chosen: its row is there, and no alert ever runs it). Each
 * on one line: its file, path and message are the service's, read from files.
 */
function printWarnings(io: Pick<CliIO, 'err'>, page: RunbookList): void {
  for (const w of page.warnings ?? []) io.err(readable(formatWarning({ file: w.file, path: w.path, message: w.message, ...(w.line === null ? {} : { line: w.line }) })));
}

/**
 * PAUSED in the detail view: the runbook's own kill switch, and the global one, which
 * holds it as well (`global` undefined: it could not be read, and that is said).
 */
function pausedCell(own: Pause | null | undefined, global: Pause | null | undefined): string {
  const all = global ? `all automatic runs paused ${pausedBy(global)}` : '';
  if (own) return `${pausedBy(own)}${all ? `; and ${all}` : ''}`;
  if (global) return `yes (${all})`;
  return global === undefined ? 'no (its own kill switch; whether all automatic runs are paused could not be read: rectify runbooks)' : 'no';
}

/**
 * A cooldown held by a run still under way ends when the run does, not at its `until`
 * (then the earliest it may end): "until <time>, then while exe_… runs".
 */
function holdText(c: RunbookStateJson['cooldowns'][number]): string {
  return `until ${time(c.until)}${c.while_running ? `, then while ${name(c.while_running, 60)} runs` : ''}`;
}

/**
 * COOLDOWN: when the last cooldown ends. One a run still under way holds ends when the run
 * does, whatever its `until`: "while exe_… runs" (and how many more runs hold one).
 */
function cooldownCell(r: RunbookStateJson): string {
  return heldCell(r.cooldowns.flatMap((c) => (c.while_running ? [c.while_running] : [])), r.cooldown_end);
}

/**
 * A cooldown column's cell: "while exe_… runs (+N more)" while runs hold one, else
 * "until <end>", else "-".
 */
function heldCell(runs: string[], end: string | null): string {
  if (runs.length > 0) return `while ${name(runs[0]!, 60)} runs${runs.length > 1 ? ` (+${runs.length - 1} more)` : ''}`;
  return end ? `until ${time(end)}` : '-';
}

/**
 * OBJECT COOLDOWN: as COOLDOWN, for the Kubernetes objects. One run may act on several
 * objects: it is counted once.
 */
function objectCooldownCell(r: RunbookStateJson): string {
  const held = r.object_cooldowns ?? [];
  const runs = [...new Set(held.flatMap((c) => (c.while_running ? [c.while_running] : [])))];
  const end = held.reduce<string | null>((latest, c) => (latest === null || Date.parse(c.until) > Date.parse(latest) ? c.until : latest), null);
  return heldCell(runs, end);
}

/**
 * The detail view's "object cooldowns" line, only while one is in force: each object as a
 * service is, with the service a run holding it is for ("…, then while exe_… runs for
 * checkout-api").
 */
function objectLines(r: RunbookStateJson): Array<[string, string]> {
  const held = r.object_cooldowns ?? [];
  if (held.length === 0) return [];
  const text = (c: (typeof held)[number]) =>
    `${cell(c.object, 120)} until ${time(c.until)}${c.while_running ? `, then while ${name(c.while_running, 60)} runs${c.running_for === undefined ? '' : ` for ${name(c.running_for, 40)}`}` : ''}`;
  return [['object cooldowns', held.map(text).join(', ')]];
}

/**
 * max_per_hour is per service, executions_last_hour is every service together: "6/2"
 * read as a limit passed three times. The busiest service is what the limit is
 * compared with; the total follows when other services ran too.
 */
function lastHourCell(r: RunbookStateJson): string {
  const busiest = r.busiest_service_last_hour;
  if (busiest === undefined) return `${r.executions_last_hour} (≤${r.max_per_hour}/service)`;
  const top = busiest?.executions ?? 0;
  return `${top}/${r.max_per_hour}${r.executions_last_hour > top ? `, ${r.executions_last_hour} in all` : ''}`;
}

function lastHourDetail(r: RunbookStateJson): string {
  const busiest = r.busiest_service_last_hour;
  if (!busiest) return `${r.executions_last_hour} in all; at most ${r.max_per_hour} per service`;
  const rest = r.executions_last_hour > busiest.executions ? `; ${r.executions_last_hour} in all` : '';
  return `${busiest.executions} of ${r.max_per_hour} for ${name(busiest.service, 40)} (the busiest service; the limit is per service)${rest}`;
}

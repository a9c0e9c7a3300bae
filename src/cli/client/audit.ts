import { AUDIT_EVENTS } from '../../domain/index.js';
import { didYouMean, durationHint, parseDuration, parseSince, sinceProblem, sleep } from '../../lib/index.js';
import { EXIT, type CliIO } from '../io.js';
import { ApiFailure, type ApiClient } from './api.js';
import { clientCommand } from './command.js';
import { cell, lastFlag, time } from './format.js';
import { clientHelp } from './help.js';
import { auditPageShape } from './shapes.js';

export interface AuditRowJson {
  seq: number;
  at: string;
  event: string;
  incident_id: string | null;
  runbook: string | null;
  execution_id: string | null;
  actor: string;
  /** The stored text when it is not a JSON object (`details_unreadable`). */
  details: Record<string, unknown> | string;
  details_unreadable?: true;
}
interface AuditPageJson {
  events: AuditRowJson[];
  next_cursor: string | null;
}

export const auditHelp = clientHelp(
  'rectify audit [--runbook id] [--event EVENT] [--incident-id id] [--execution-id id] [--since time|duration] [--limit n] [--cursor c] [--follow [--interval 2s]] [--json]',
  [
    'The audit log (GET /api/v1/audit). The table lists the newest rows, oldest at the top; --json',
    "prints the API's page as it is (newest first, with next_cursor for the older page).",
    'With --follow it keeps printing new rows as they are written until Ctrl-C (exit 0); with --json',
    'it then prints one JSON row per line. If the service goes away it keeps trying and says so;',
    'back on a new or restored database (its seqs start again lower), it says "the audit log',
    'restarted" on stderr and follows the new log from the time of the last row seen. It ends,',
    'exit 0, once the reader of its output is gone (`| head -n 3`): when it next prints a row, or,',
    'on a quiet log, within --interval when its output is a socket (a program that started it).',
    'A DETAIL longer than 100 characters is cut to end in …, and a line under the table says so:',
    '--json prints every detail whole.',
    'Also: `rectify audit verify` and `rectify audit export` read the database file directly.',
  ].join('\n'),
  [
    '--runbook <id>        rows of one runbook',
    '--event <EVENT>       rows of one event (EXECUTING, RATE_LIMITED, APPROVED, …)',
    '--incident-id <id>    rows of one incident',
    '--execution-id <id>   rows of one execution',
    '--since <t>           rows at or after an RFC 3339 time, or within a duration back from now (1h, 30m)',
    '--limit <n>           rows per page (default 50; 1 to 1000)',
    '--cursor <c>          the page older than next_cursor of a previous page',
    '--follow              keep printing new rows',
    '--interval <d>        how often --follow asks (default 2s)',
  ],
);

const FILTERS = { runbook: 'runbook', event: 'event', 'incident-id': 'incident_id', 'execution-id': 'execution_id' } as const;

/**
 * Fixed columns, so rows printed over time by --follow line up under one header; the
 * event column is as wide as the longest event (EXECUTOR_UNAVAILABLE, CIRCUIT_WAIT_RESTARTED…).
 */
const COLS = [7, 21, Math.max(...AUDIT_EVENTS.map((e) => e.length)), 22, 31, 16] as const;
function line(cells: string[]): string {
  return cells.map((c, i) => (i < COLS.length ? c.padEnd(COLS[i]!) : c)).join(' ').trimEnd();
}
export const HEADER = line(['SEQ', 'AT', 'EVENT', 'RUNBOOK', 'INCIDENT/EXECUTION', 'ACTOR', 'DETAIL']);

/** Characters of the DETAIL column; a longer detail is cut to end in `…`. */
const DETAIL_MAX = 100;

/** Said once after a table with a cut detail: the whole text is in the JSON. */
export const CUT_NOTE = `(details longer than ${DETAIL_MAX} characters are cut, ending in …: add --json to print them whole)`;

/** The DETAIL cell, and whether its text was cut to fit. */
function detail(d: Record<string, unknown> | string): { text: string; cut: boolean } {
  const fit = (v: unknown, prefix = '') => {
    const text = cell(v, DETAIL_MAX);
    return { text: `${prefix}${text}`, cut: text !== cell(v, Infinity) };
  };
  // Details that are not a JSON object (the row was changed behind rectify's back): shown as stored.
  if (typeof d === 'string') return fit(d, '(unreadable) ');
  if (typeof d['ok'] === 'boolean') return fit(`${d['ok'] ? 'ok' : 'FAILED'}: ${String(d['summary'] ?? '')}${d['detail'] ? ` (${String(d['detail'])})` : ''}`);
  const main = d['reason'] ?? d['summary'] ?? d['detail'];
  if (typeof main === 'string') return fit(main);
  const rest = Object.fromEntries(Object.entries(d).filter(([, v]) => v !== null && v !== undefined));
  return Object.keys(rest).length ? fit(rest) : { text: '-', cut: false };
}

/** One row of the table, and whether its detail was cut (exported for its tests). */
export function row(e: AuditRowJson): { line: string; cut: boolean } {
  const d = detail(e.details);
  const text = line([
    String(e.seq),
    time(e.at),
    e.event,
    // Who acted and on which runbook are never cut (alice.smith… could be alice.smithers):
    // a longer one pushes the rest of its row to the right.
    cell(e.runbook, 128),
    cell(e.execution_id ?? e.incident_id, 64),
    cell(e.actor, 128),
    d.text,
  ]);
  return { line: text, cut: d.cut };
}

/** One row of the table (exported for its tests). */
export const rowLine = (e: AuditRowJson): string => row(e).line;

/** `rectify audit`: a page of the log, or the log as it grows (--follow). */
export const auditCommand = clientCommand(
  {
    name: 'audit',
    flags: { runbook: 'string', event: 'string', 'incident-id': 'string', 'execution-id': 'string', since: 'string', limit: 'string', cursor: 'string', follow: 'boolean', interval: 'string' },
  },
  async ({ io, api, client, flags }) => {
    const q = new URLSearchParams();
    for (const [flag, param] of Object.entries(FILTERS)) {
      const v = lastFlag(flags, flag);
      if (v !== undefined) q.set(param, v);
    }
    const event = lastFlag(flags, 'event');
    if (event !== undefined) {
      // Event names are upper case; `--event executing` means the same thing.
      if (!(AUDIT_EVENTS as readonly string[]).includes(event.toUpperCase())) {
        io.err(`--event: unknown audit event ${JSON.stringify(event)}${didYouMean(event.toUpperCase(), AUDIT_EVENTS)}`);
        return EXIT.USAGE;
      }
      q.set('event', event.toUpperCase());
    }
    const since = lastFlag(flags, 'since');
    if (since !== undefined) {
      const at = parseSince(since, Date.now());
      if (at === undefined) {
        io.err(`--since: ${sinceProblem(since, Date.now())}`);
        return EXIT.USAGE;
      }
      q.set('since', new Date(at).toISOString());
    }
    const limit = lastFlag(flags, 'limit') ?? '50';
    if (!/^[0-9]{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) {
      io.err(`--limit: expected an integer from 1 to 1000, got ${JSON.stringify(limit)}`);
      return EXIT.USAGE;
    }
    q.set('limit', limit);
    const cursor = lastFlag(flags, 'cursor');
    if (cursor !== undefined) q.set('cursor', cursor);
    const follow = flags['follow'] === true;
    const intervalMs = parseDuration(lastFlag(flags, 'interval') ?? '2s');
    if (intervalMs === undefined || intervalMs <= 0) {
      io.err(`--interval: expected a positive duration such as 2s, got ${JSON.stringify(lastFlag(flags, 'interval'))}${durationHint(lastFlag(flags, 'interval'))}`);
      return EXIT.USAGE;
    }
    if (follow && cursor !== undefined) {
      io.err('--cursor pages back through older rows; it cannot be combined with --follow');
      return EXIT.USAGE;
    }

    // Where a tail starts: the newest row of the whole log, read first (a filtered page
    // may end short of the newest rows, and rows written meanwhile are on the page).
    const newest = follow ? ((await api.get<AuditPageJson>('/api/v1/audit?limit=1', auditPageShape)).events[0] ?? null) : null;
    const start = newest?.seq ?? 0;
    const page = await api.get<AuditPageJson>(`/api/v1/audit?${q}`, auditPageShape);
    if (!follow) {
      if (client.json) {
        io.out(JSON.stringify(page));
        return EXIT.OK;
      }
      // A filter the service reads in bounded steps (event, since) can give a short
      // page with a cursor: the table goes on from it until it has --limit rows or
      // the log ends, each request as bounded as the first.
      const events = [...page.events];
      let next = page.next_cursor;
      while (events.length < Number(limit) && next) {
        q.set('cursor', next);
        q.set('limit', String(Number(limit) - events.length));
        const more = await api.get<AuditPageJson>(`/api/v1/audit?${q}`, auditPageShape);
        events.push(...more.events);
        next = more.next_cursor;
      }
      if (events.length === 0) io.out('no audit rows match');
      else {
        io.out(HEADER);
        let cut = false;
        for (const e of events.reverse()) {
          const r = row(e);
          io.out(r.line);
          cut ||= r.cut;
        }
        if (cut) io.out(CUT_NOTE);
        if (next) io.out(`(older rows: add --cursor ${next})`);
      }
      return EXIT.OK;
    }
    let cut = false;
    const print = (e: AuditRowJson) => {
      if (client.json) return io.out(JSON.stringify(e));
      const r = row(e);
      io.out(r.line);
      cut ||= r.cut;
    };
    if (!client.json) io.out(HEADER);
    for (const e of [...page.events].reverse()) print(e);
    const last = page.events.reduce((m, e) => Math.max(m, e.seq), start);
    const code = await followLog(io, api, q, last, newest, intervalMs, print);
    // Said when the tail ends (Ctrl-C), under the rows, not in the middle of them.
    if (cut) io.out(CUT_NOTE);
    return code;
  },
);

/** The same row: a log restarted on another database has rows of other times and events under the same seqs. */
const sameRow = (a: AuditRowJson | null | undefined, b: AuditRowJson | null | undefined) => !!a && !!b && a.seq === b.seq && a.at === b.at && a.event === b.event;

/**
 * Polls the newest page and prints the rows above the last seq seen, oldest first;
 * when more rows arrived than fit a page, it pages back until it meets the last one,
 * so nothing is skipped. Ends on Ctrl-C (or io.signal) with exit 0.
 *
 * The service restarted on a new or restored database starts its seqs again lower: the
 * newest row of the whole log (`anchor`) is checked each poll, and when the log went back
 * or that row is another, that is said on stderr and the tail goes on from the new log,
 * from the time of the last row seen (a restored backup's older rows are not replayed).
 */
async function followLog(
  io: CliIO,
  api: ApiClient,
  filters: URLSearchParams,
  lastSeq: number,
  newest: AuditRowJson | null,
  intervalMs: number,
  print: (e: AuditRowJson) => void,
): Promise<number> {
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  const stop = io.signal ? AbortSignal.any([io.signal, interrupt.signal]) : interrupt.signal;
  let last = lastSeq;
  let anchor = newest;
  let restarted: string | null = null;
  let lost = false;
  const q = new URLSearchParams(filters);
  q.set('limit', '1000');
  q.delete('cursor');
  try {
    for (;;) {
      // A reader gone while the log is quiet ends the tail now, not at the next row (where the output can tell).
      io.checkOut?.();
      await sleep(intervalMs, stop);
      const fresh: AuditRowJson[] = [];
      try {
        const top = (await api.get<AuditPageJson>('/api/v1/audit?limit=1', auditPageShape, stop)).events[0] ?? null;
        restarted = null;
        if (anchor) {
          if (!top || top.seq < anchor.seq) restarted = `seq went back from ${anchor.seq} to ${top?.seq ?? 0}`;
          else if (top.seq === anchor.seq ? !sameRow(top, anchor) : !sameRow((await api.get<AuditPageJson>(`/api/v1/audit?limit=1&cursor=${anchor.seq + 1}`, auditPageShape, stop)).events[0], anchor)) {
            restarted = `row ${anchor.seq} is another (a new or restored database)`;
          }
          if (restarted) {
            last = 0;
            const since = q.get('since');
            if (since === null || Date.parse(since) < Date.parse(anchor.at)) q.set('since', anchor.at);
          }
        }
        anchor = top;
        let cursor: string | null = null;
        for (;;) {
          if (cursor) q.set('cursor', cursor);
          else q.delete('cursor');
          const page: AuditPageJson = await api.get<AuditPageJson>(`/api/v1/audit?${q}`, auditPageShape, stop);
          const newer = page.events.filter((e) => e.seq > last);
          fresh.push(...newer);
          // Done at the last row seen: on a full page, or when the cursor (rows below it) is at or under it.
          if (newer.length < page.events.length || !page.next_cursor || Number(page.next_cursor) <= last + 1) break;
          cursor = page.next_cursor;
        }
      } catch (err) {
        if (stop.aborted) throw err;
        // A restart or a network blip should not end a tail: say so once, keep asking.
        if (err instanceof ApiFailure && err.exit === EXIT.UNREACHABLE) {
          if (!lost) io.err(`rectify: ${err.message}; still trying`);
          lost = true;
          continue;
        }
        throw err;
      }
      if (lost) io.err('rectify: the service answers again');
      lost = false;
      if (restarted) io.err(`rectify: the audit log restarted: ${restarted}; following the new log`);
      fresh.sort((a, b) => a.seq - b.seq);
      for (const e of fresh) print(e);
      if (fresh.length) last = fresh[fresh.length - 1]!.seq;
    }
  } catch (err) {
    if (stop.aborted) return EXIT.OK;
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

import { didYouMean } from '../../lib/index.js';
import { EXIT } from '../io.js';
import { actor, clientCommand, seg } from './command.js';
import { cell, lastFlag, name, readable, table, time } from './format.js';
import { clientHelp } from './help.js';
import { approvalPageShape, approvalShape, approveShape } from './shapes.js';
import { pauseNote } from './pause-note.js';
import { finishWatch, outcomeExit, printOutcome, waitTimeout, watchExecution, type DecisionResultJson } from './outcome.js';

const STATUSES = ['pending', 'approved', 'rejected', 'expired', 'cancelled'] as const;

interface ApprovalJson {
  id: string;
  runbook: string;
  service: string;
  status: string;
  reason: string;
  actions: string[];
  /** Absent from a service older than the field. */
  rollback?: string[] | null;
  requested_at: string;
  requested_by: string;
  expires_at: string;
  decided_by: string | null;
  execution_id: string | null;
  alerts?: number;
  alerts_open?: number;
  approvals_required?: number;
  votes?: Array<{ by: string }>;
}

interface ApprovalPageJson {
  approvals: ApprovalJson[];
  /** Absent from a service older than paging. */
  next_cursor?: string | null;
  total?: number;
}

export const approvalsHelp = clientHelp(
  'rectify approvals [--status pending|approved|rejected|expired|cancelled|all] [--limit n] [--cursor c] [--all-pages] [--json]',
  [
    'Approval requests, newest first (GET /api/v1/approvals). Pending ones by default. Each shows why',
    'it asks a person (REASON, cut to 60 characters: --json has it whole), the approvals cast of those',
    'needed for a request that needs more than one approver (VOTES 1/2), the actions Approve would',
    'run and the rollback that undoes them if they fail (none: the runbook has none).',
    'When more requests match than one page holds, the last line says how many and how to list the',
    'older ones (pending ones expire oldest first): --cursor for the next page, --all-pages for every one.',
  ].join('\n'),
  [
    '--status <s>       which requests (default pending; all for every status)',
    '--limit <n>        requests a page (default 100, at most 1000; with --all-pages, default 1000)',
    '--cursor <c>       the page after the one whose next_cursor (or last line) gave c: older requests',
    '--all-pages        every matching request (from --cursor on, if given), page after page; with --json,\n                     one object holding them all',
  ],
);

/** `rectify approvals`: the requests waiting for a person. */
export const approvalsCommand = clientCommand(
  { name: 'approvals', flags: { status: 'string', limit: 'string', cursor: 'string', 'all-pages': 'boolean' } },
  async ({ io, api, client, flags }) => {
    // Statuses are lower case; `--status Pending` means the same thing.
    const given = lastFlag(flags, 'status') ?? 'pending';
    const status = given.toLowerCase();
    if (status !== 'all' && !(STATUSES as readonly string[]).includes(status)) {
      io.err(`--status: expected one of ${STATUSES.join(', ')}, all; got ${JSON.stringify(given)}${didYouMean(status, [...STATUSES, 'all'])}`);
      return EXIT.USAGE;
    }
    const allPages = flags['all-pages'] === true;
    const limit = lastFlag(flags, 'limit') ?? (allPages ? '1000' : '100');
    if (!/^[0-9]{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) {
      io.err(`--limit: expected an integer from 1 to 1000, got ${JSON.stringify(limit)}`);
      return EXIT.USAGE;
    }
    const q = new URLSearchParams({ limit });
    if (status !== 'all') q.set('status', status);
    const cursor = lastFlag(flags, 'cursor');
    if (cursor !== undefined) q.set('cursor', cursor);
    const page = await api.get<ApprovalPageJson>(`/api/v1/approvals?${q}`, approvalPageShape);
    // Every page: the cursor is the last request listed, so requests opened or decided
    // meanwhile neither repeat nor hide the others.
    const approvals = [...page.approvals];
    let next = page.next_cursor ?? null;
    let total = page.total;
    while (allPages && next) {
      q.set('cursor', next);
      const more = await api.get<ApprovalPageJson>(`/api/v1/approvals?${q}`, approvalPageShape);
      approvals.push(...more.approvals);
      next = more.next_cursor ?? null;
      total = more.total;
    }
    if (client.json) {
      io.out(JSON.stringify(allPages ? { ...page, approvals, next_cursor: next, ...(total !== undefined ? { total } : {}) } : page));
      return EXIT.OK;
    }
    const what = status === 'all' ? 'approval requests' : `${status} approval requests`;
    if (approvals.length === 0) io.out(`no ${what}`);
    else {
      const rows = approvals.map((a) => [
        a.id,
        a.runbook,
        name(a.service, 40),
        a.status,
        // Approvals cast of those needed, for a request that needs more than one approver.
        (a.approvals_required ?? 1) > 1 && a.votes !== undefined ? `${a.votes.length}/${a.approvals_required}` : '-',
        time(a.requested_at),
        a.status === 'pending' ? time(a.expires_at) : cell(a.decided_by, 64),
        // Alerts not resolved yet, of those that asked (for a pending request).
        a.status === 'pending' && (a.alerts ?? 0) > 1 ? `${a.alerts_open ?? 0}/${a.alerts}` : String(a.alerts ?? 0),
        // Why a person is asked (the risk, a guardrail): what an approver judges first.
        cell(a.reason, 60),
        cell(a.actions.join('; '), 70),
        // What undoes the actions if they fail: an approver agrees to both.
        a.rollback === undefined ? '-' : a.rollback === null || a.rollback.length === 0 ? 'none' : cell(a.rollback.join('; '), 70),
      ]);
      const headers = ['ID', 'RUNBOOK', 'SERVICE', 'STATUS', 'VOTES', 'REQUESTED', status === 'pending' ? 'EXPIRES' : 'EXPIRES/BY', 'ALERTS', 'REASON', 'ACTIONS', 'ROLLBACK'];
      for (const l of table(headers, rows)) io.out(l);
    }
    // Never a silent cut: the hidden requests are the oldest, and pending ones expire oldest first.
    if (next) {
      const older = status === 'pending' ? 'older ones (the first to expire)' : 'older ones';
      const shown = total !== undefined ? `${approvals.length} of ${total} ${what} shown, newest first` : `${approvals.length} ${what} shown, newest first`;
      io.out(`(${shown}; ${older}: add --cursor ${next}, or --all-pages for every one)`);
    }
    return EXIT.OK;
  },
);

const decideFlags = ['--by <name>        who decides, for the audit log (default: your user name)', '--comment <text>   why'];

export const approveHelp = clientHelp(
  'rectify approve <id> [--by name] [--comment text] [--no-wait] [--wait-timeout 10m] [--json]',
  [
    'Approve a pending request (POST /api/v1/approvals/{id}/approve). The guardrails run again first:',
    'a guardrail blocking the run now (rate limit, cooldown, circuit…) refuses the approval with 409',
    'and the request stays pending, to be approved again later; exit 1. Then the plan',
    'that was shown runs, and the command waits for the execution to end unless --no-wait',
    '(Ctrl-C stops watching, not the run: exit 5; before the service answered, exit 6: it may',
    'have approved and run it, see rectify approvals --status all).',
    'Approving a request twice, or one that expired, exits 1 (409 CONFLICT).',
    'An approved run goes ahead while rectify or the runbook is paused (rectify pause stops',
    'automatic runs only): a note line says so.',
  ].join('\n'),
  [...decideFlags, '--no-wait          return once the decision is recorded (the run started: exit 5, its\n                     outcome not known yet)', '--wait-timeout <d> how long to watch the execution (default 10m); then exit 5'],
);

export const rejectHelp = clientHelp(
  'rectify reject <id> [--by name] [--comment text] [--json]',
  'Reject a pending request (POST /api/v1/approvals/{id}/reject). Rejecting twice exits 1 (409 CONFLICT).',
  decideFlags,
);

/** `rectify approve <id>`: a person's yes, through the guardrails again. */
export const approveCommand = clientCommand(
  { name: 'approve', flags: { by: 'string', comment: 'string', 'no-wait': 'boolean', 'wait-timeout': 'string' }, positional: ['id'] },
  async ({ io, api, client, flags, args }) => {
    const wait = waitTimeout(io, flags);
    if (!wait) return EXIT.USAGE;
    const comment = lastFlag(flags, 'comment');
    const by = actor(flags, io);
    const id = seg(args[0]!);
    const answer = await api.post<ApprovalJson & { result?: DecisionResultJson }>(`/api/v1/approvals/${id}/approve`, { by, ...(comment !== undefined ? { comment } : {}) }, approveShape, {
      acts: true,
      check: `rectify approvals --status all, then rectify audit --since 10m`,
    });
    if (answer.result === undefined) {
      // A vote of a request that needs more than one approver (202): it stays pending.
      if (client.json) io.out(JSON.stringify(answer));
      else {
        const votes = answer.votes?.length ?? 1;
        const needed = answer.approvals_required ?? votes + 1;
        // Who the server recorded (the newest vote is this one, read in the same transaction):
        // with API tokens that is the token's name, whatever --by said.
        const as = answer.votes?.at(-1)?.by ?? by;
        io.out(`approved ${answer.id} (${answer.runbook} on ${name(answer.service, 253)}) as ${readable(as)}: vote ${votes} of ${needed}, still pending until another approver approves`);
      }
      return EXIT.PENDING;
    }
    const approved = `approved ${answer.id} (${answer.runbook} on ${name(answer.service, 253)}) as ${readable(answer.decided_by ?? by)}`;
    if (answer.result.execution_id && flags['no-wait'] !== true) {
      if (!client.json) io.out(approved);
      const watched = await watchExecution(io, api, { ...answer.result, execution_id: answer.result.execution_id }, { ...wait, json: client.json, accepted: answer });
      if (client.json) io.out(JSON.stringify(watched.execution ? { ...answer, execution: watched.execution } : answer));
      const code = finishWatch(io, answer.result, watched, client.json);
      if (!client.json) await pauseNote(io, api, answer.runbook, 'approved run');
      return code;
    }
    if (client.json) io.out(JSON.stringify(answer));
    else {
      io.out(approved);
      printOutcome(io, answer.result, null);
      if (answer.result.action === 'executed') await pauseNote(io, api, answer.runbook, 'approved run');
    }
    return outcomeExit(answer.result, null);
  },
);

/** `rectify reject <id>`. */
export const rejectCommand = clientCommand({ name: 'reject', flags: { by: 'string', comment: 'string' }, positional: ['id'] }, async ({ io, api, client, flags, args }) => {
  const comment = lastFlag(flags, 'comment');
  const by = actor(flags, io);
  const answer = await api.post<ApprovalJson>(`/api/v1/approvals/${seg(args[0]!)}/reject`, { by, ...(comment !== undefined ? { comment } : {}) }, approvalShape, {
    check: 'rectify approvals --status all',
  });
  if (client.json) io.out(JSON.stringify(answer));
  else io.out(`rejected ${answer.id} (${answer.runbook} on ${name(answer.service, 253)}) as ${readable(answer.decided_by ?? by)}: nothing will run`);
  return EXIT.OK;
});

import { nearest } from '../../lib/index.js';
import { EXIT } from '../io.js';
import { actor, clientCommand, seg, type ClientContext } from './command.js';
import { lastFlag, name, readable, time } from './format.js';
import { clientHelp } from './help.js';
import { circuitClosedShape, cooldownClearedShape } from './shapes.js';

const by = '--by <name>        who, for the audit log (default: your user name; with API tokens, the token name)';

export const circuitHelp = clientHelp(
  'rectify circuit close <runbook> --reason text [--by name] [--json]',
  "Close a runbook's open or half-open circuit by hand (POST /api/v1/runbooks/{id}/circuit/close):\nits next alert is decided without waiting for the breaker's trial. For a target you have\nfixed, or a wait a clock set back has lengthened. Audited (CIRCUIT_CLOSED) and told.\nNeeds the approver role (admin for a HIGH-risk runbook). A closed circuit exits 1.",
  ['--reason <text>    why, for the audit log (required)', by],
);

export const cooldownHelp = clientHelp(
  'rectify cooldown clear <runbook> [--service name] --reason text [--by name] [--json]',
  "End a runbook's cooldown by hand (POST /api/v1/runbooks/{id}/cooldown/clear): on --service,\nor every one in force (each service's and each Kubernetes object's). The next alert there is\ndecided without waiting it out; a run started later has its cooldown again, and a run still\nunder way still holds off the next on its service. Audited (COOLDOWN_CLEARED) and told.\nNeeds the approver role (admin for a HIGH-risk runbook). No cooldown in force exits 1.",
  ['--service <name>   that service only', '--reason <text>    why, for the audit log (required)', by],
);

/**
 * The words before the runbook: `circuit close`, `cooldown clear`. A mistyped one is a
 * usage mistake (exit 2) naming the nearest; a missing --reason too: nothing is sent.
 */
function verbAndReason(name: string, verb: string, { io, args, flags }: ClientContext): string | undefined {
  if (args[0] !== verb) {
    const near = nearest(args[0]!, [verb]);
    io.err(`rectify ${name}: unknown subcommand ${JSON.stringify(args[0]!)}${near ? ` (did you mean "${name} ${near}"?)` : `; the one there is: ${name} ${verb}`}`);
    io.err(`see: rectify ${name} --help`);
    return undefined;
  }
  const reason = lastFlag(flags, 'reason');
  if (reason === undefined || reason.trim() === '') {
    io.err(`rectify ${name} ${verb}: --reason: required (why, for the audit log)`);
    io.err(`see: rectify ${name} --help`);
    return undefined;
  }
  return reason;
}

/** What the answer says of the alerts the breaker held off: they are not decided again. */
function heldLine(held: number | undefined): string {
  if (!held) return '';
  return `\n${held} alert${held === 1 ? ' was' : 's were'} held off while the circuit was open: they are not decided again (a re-delivery is a duplicate); act by hand on those still firing`;
}

/** `rectify circuit close <runbook> --reason …` */
export const circuitCommand = clientCommand(
  { name: 'circuit', flags: { by: 'string', reason: 'string' }, positional: ['close', 'runbook'] },
  async (ctx) => {
    const reason = verbAndReason('circuit', 'close', ctx);
    if (reason === undefined) return EXIT.USAGE;
    const runbook = ctx.args[1]!;
    const answer = await ctx.api.post<{ runbook: string; was: string; failures: number; opened_at: string | null; held_while_open?: number }>(
      `/api/v1/runbooks/${seg(runbook)}/circuit/close`,
      { by: actor(ctx.flags, ctx.io), reason },
      circuitClosedShape,
      { check: `rectify audit --runbook ${seg(runbook)} --since 10m` },
    );
    if (ctx.client.json) ctx.io.out(JSON.stringify(answer));
    else {
      const since = answer.opened_at ? ` since ${time(answer.opened_at)}` : '';
      ctx.io.out(`closed the circuit of ${answer.runbook} (it was ${answer.was.replace('_', '-')}${since}, ${answer.failures} failures): its next alert is decided as usual${heldLine(answer.held_while_open)}`);
    }
    return EXIT.OK;
  },
);

/** `rectify cooldown clear <runbook> [--service s] --reason …` */
export const cooldownCommand = clientCommand(
  { name: 'cooldown', flags: { by: 'string', reason: 'string', service: 'string' }, positional: ['clear', 'runbook'] },
  async (ctx) => {
    const reason = verbAndReason('cooldown', 'clear', ctx);
    if (reason === undefined) return EXIT.USAGE;
    const runbook = ctx.args[1]!;
    const service = lastFlag(ctx.flags, 'service');
    const answer = await ctx.api.post<{ runbook: string; cleared: Array<{ kind: string; subject: string; until: string; while_running?: string }> }>(
      `/api/v1/runbooks/${seg(runbook)}/cooldown/clear`,
      { by: actor(ctx.flags, ctx.io), reason, ...(service !== undefined ? { service } : {}) },
      cooldownClearedShape,
      { check: `rectify audit --runbook ${seg(runbook)} --since 10m` },
    );
    if (ctx.client.json) ctx.io.out(JSON.stringify(answer));
    else {
      ctx.io.out(`ended ${answer.cleared.length === 1 ? 'the cooldown' : `${answer.cleared.length} cooldowns`} of ${answer.runbook}:`);
      // A run still under way holds the service's cooldown on: the clear did not end that.
      for (const c of answer.cleared) {
        const still = c.while_running ? `; still held while ${name(c.while_running, 60)} runs: a clear does not end a run's hold` : '';
        ctx.io.out(`  ${c.kind === 'service' ? `service ${name(c.subject, 253)}` : readable(c.subject)} (it held until ${time(c.until)}${still})`);
      }
    }
    return EXIT.OK;
  },
);

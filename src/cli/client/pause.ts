import { EXIT } from '../io.js';
import { actor, clientCommand, seg } from './command.js';
import { cell, lastFlag, pausedBy, type PauseState } from './format.js';
import { clientHelp } from './help.js';
import { readPauses } from './pause-note.js';
import { globalPauseShape, runbookPauseShape } from './shapes.js';

const flags = [
  '--runbook <id>     one runbook only (its own kill switch); the others go on',
  '--by <name>        who, for the audit log (default: your user name)',
  '--reason <text>    why, for the audit log',
];

export const pauseHelp = clientHelp(
  'rectify pause [--runbook id] [--by name] [--reason text] [--json]',
  'The global kill switch (POST /api/v1/pause): while paused nothing executes automatically\n(decisions are still recorded, as PAUSED). Manual runs and approvals still go through.\nWith --runbook, only that runbook stops (POST /api/v1/runbooks/{id}/pause).\nPausing when already paused changes nothing and exits 0, naming the pause in force\n(who, since when, why): the reason given again is not recorded.',
  flags,
);

export const resumeHelp = clientHelp(
  'rectify resume [--runbook id] [--by name] [--reason text] [--json]',
  'Lift the global kill switch (POST /api/v1/resume), or one runbook\'s with --runbook.\nIt says what stays paused: the runbooks paused on their own after a global resume, the\nglobal pause after a runbook\'s (nothing runs automatically while it is on).',
  flags,
);

/** A resume's word on the alerts its pause held off: rectify does not decide them again. */
function heldLine(held: { alerts: number; runbooks: Array<{ runbook: string; alerts: number }> } | undefined): string {
  if (!held || held.alerts === 0) return '';
  const per = held.runbooks.map((r) => `${r.runbook}: ${r.alerts}`).join(', ');
  return `\n${held.alerts} alert${held.alerts === 1 ? ' was' : 's were'} held off while paused (${per}): they are not decided again (a re-delivery is a duplicate); act by hand on those still firing`;
}

/**
 * A pause already in force: whose, since when and why, and that this one's reason was
 * not recorded (the pause in force keeps its own).
 */
function inForce(p: PauseState | null | undefined, reason: string | undefined): string {
  const unrecorded = reason !== undefined ? ` (the reason given now, "${cell(reason, 200)}", was not recorded)` : '';
  return p ? ` ${pausedBy(p)}; nothing changed${unrecorded}` : `: nothing changed${unrecorded}`;
}

/** A runbook resumed while the global kill switch is on still does not run automatically. */
function globalLine(p: PauseState | null | undefined): string {
  return p ? `; but rectify is still paused globally (${pausedBy(p)}): nothing runs automatically until \`rectify resume\`` : '';
}

/** A global resume does not lift the pause of a runbook paused on its own. */
function runbooksLine(paused: Array<PauseState & { runbook: string }> | undefined): string {
  if (!paused || paused.length === 0) return '';
  const each = paused.map((p) => `${cell(p.runbook, 80)} (${pausedBy(p)})`).join(', ');
  const one = paused.length === 1;
  return `\n${paused.length} runbook${one ? '' : 's'} stay${one ? 's' : ''} paused on ${one ? 'its' : 'their'} own: ${each}; each runs automatically only after \`rectify resume --runbook <id>\``;
}

function switchCommand(op: 'pause' | 'resume') {
  return clientCommand({ name: op, flags: { by: 'string', reason: 'string', runbook: 'string' } }, async ({ io, api, client, flags: f }) => {
    const reason = lastFlag(f, 'reason');
    const runbook = lastFlag(f, 'runbook');
    const body = { by: actor(f, io), ...(reason !== undefined ? { reason } : {}) };
    if (runbook !== undefined) {
      const answer = await api.post<{ runbook: string; paused: boolean; changed: boolean; pause?: PauseState | null; held_while_paused?: { alerts: number; runbooks: Array<{ runbook: string; alerts: number }> }; global_pause?: PauseState | null; loaded?: boolean }>(`/api/v1/runbooks/${seg(runbook)}/${op}`, body, runbookPauseShape, { check: `rectify audit --runbook ${seg(runbook)} --since 10m` });
      if (client.json) io.out(JSON.stringify(answer));
      else if (op === 'pause') io.out(answer.changed ? `paused ${runbook}: it does not run automatically until \`rectify resume --runbook ${runbook}\`` : `${runbook} was already paused${inForce(answer.pause, reason)}`);
      // A pause a reload left behind, cleared: nothing runs now, whatever the global switch says.
      else if (answer.loaded === false && answer.changed) io.out(`cleared the pause of ${runbook}: no runbook ${runbook} is loaded; a runbook of that id loaded later runs automatically${globalLine(answer.global_pause)}${heldLine(answer.held_while_paused)}`);
      else if (answer.global_pause) io.out(`${answer.changed ? `resumed ${runbook}` : `${runbook} was not paused: nothing changed`}${globalLine(answer.global_pause)}${answer.changed ? heldLine(answer.held_while_paused) : ''}`);
      else io.out(answer.changed ? `resumed ${runbook}: it runs automatically again${heldLine(answer.held_while_paused)}` : `${runbook} was not paused: nothing changed`);
      return EXIT.OK;
    }
    const answer = await api.post<{ paused: boolean; changed: boolean; held_while_paused?: { alerts: number; runbooks: Array<{ runbook: string; alerts: number }> }; runbooks_paused?: Array<PauseState & { runbook: string }> }>(`/api/v1/${op}`, body, globalPauseShape, { check: `rectify audit --event SERVICE_${op === 'pause' ? 'PAUSED' : 'RESUMED'} --since 10m` });
    if (client.json) io.out(JSON.stringify(answer));
    else if (op === 'pause' && answer.changed) io.out('paused: nothing executes automatically until `rectify resume`');
    else if (op === 'pause') {
      // The answer does not say whose pause is in force: the runbooks list does.
      io.out(`already paused${inForce((await readPauses(io, api))?.paused, reason)}`);
    } else io.out(`${answer.changed ? 'resumed: automatic execution is allowed again' : 'not paused: nothing changed'}${runbooksLine(answer.runbooks_paused)}${answer.changed ? heldLine(answer.held_while_paused) : ''}`);
    return EXIT.OK;
  });
}

/** `rectify pause` / `rectify resume`, global or for one runbook. */
export const pauseCommand = switchCommand('pause');
export const resumeCommand = switchCommand('resume');

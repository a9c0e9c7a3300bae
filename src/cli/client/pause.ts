import { EXIT } from '../io.js';
import { actor, clientCommand, seg } from './command.js';
import { lastFlag } from './format.js';
import { clientHelp } from './help.js';
import { pauseShape, runbookPauseShape } from './shapes.js';

const flags = [
  '--runbook <id>     one runbook only (its own kill switch); the others go on',
  '--by <name>        who, for the audit log (default: your user name)',
  '--reason <text>    why, for the audit log',
];

export const pauseHelp = clientHelp(
  'rectify pause [--runbook id] [--by name] [--reason text] [--json]',
  'The global kill switch (POST /api/v1/pause): while paused nothing executes automatically\n(decisions are still recorded, as PAUSED). Manual runs and approvals still go through.\nWith --runbook, only that runbook stops (POST /api/v1/runbooks/{id}/pause).\nPausing when already paused changes nothing and exits 0.',
  flags,
);

export const resumeHelp = clientHelp(
  'rectify resume [--runbook id] [--by name] [--reason text] [--json]',
  'Lift the global kill switch (POST /api/v1/resume), or one runbook\'s with --runbook.',
  flags,
);

/** A resume's word on the alerts its pause held off: rectify does not decide them again. */
function heldLine(held: { alerts: number; runbooks: Array<{ runbook: string; alerts: number }> } | undefined): string {
  if (!held || held.alerts === 0) return '';
  const per = held.runbooks.map((r) => `${r.runbook}: ${r.alerts}`).join(', ');
  return `\n${held.alerts} alert${held.alerts === 1 ? ' was' : 's were'} held off while paused (${per}): they are not decided again (a re-delivery is a duplicate); act by hand on those still firing`;
}

function switchCommand(op: 'pause' | 'resume') {
  return clientCommand({ name: op, flags: { by: 'string', reason: 'string', runbook: 'string' } }, async ({ io, api, client, flags: f }) => {
    const reason = lastFlag(f, 'reason');
    const runbook = lastFlag(f, 'runbook');
    const body = { by: actor(f, io), ...(reason !== undefined ? { reason } : {}) };
    if (runbook !== undefined) {
      const answer = await api.post<{ runbook: string; paused: boolean; changed: boolean; held_while_paused?: { alerts: number; runbooks: Array<{ runbook: string; alerts: number }> } }>(`/api/v1/runbooks/${seg(runbook)}/${op}`, body, runbookPauseShape, { check: `rectify audit --runbook ${seg(runbook)} --since 10m` });
      if (client.json) io.out(JSON.stringify(answer));
      else if (op === 'pause') io.out(answer.changed ? `paused ${runbook}: it does not run automatically until \`rectify resume --runbook ${runbook}\`` : `${runbook} was already paused: nothing changed`);
      else io.out(answer.changed ? `resumed ${runbook}: it runs automatically again${heldLine(answer.held_while_paused)}` : `${runbook} was not paused: nothing changed`);
      return EXIT.OK;
    }
    const answer = await api.post<{ paused: boolean; changed: boolean; held_while_paused?: { alerts: number; runbooks: Array<{ runbook: string; alerts: number }> } }>(`/api/v1/${op}`, body, pauseShape, { check: `rectify audit --event SERVICE_${op === 'pause' ? 'PAUSED' : 'RESUMED'} --since 10m` });
    if (client.json) io.out(JSON.stringify(answer));
    else if (op === 'pause') io.out(answer.changed ? 'paused: nothing executes automatically until `rectify resume`' : 'already paused: nothing changed');
    else io.out(answer.changed ? `resumed: automatic execution is allowed again${heldLine(answer.held_while_paused)}` : 'not paused: nothing changed');
    return EXIT.OK;
  });
}

/** `rectify pause` / `rectify resume`, global or for one runbook. */
export const pauseCommand = switchCommand('pause');
export const resumeCommand = switchCommand('resume');

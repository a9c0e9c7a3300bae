import { EXIT } from '../io.js';
import { actor, clientCommand } from './command.js';
import { lastFlag } from './format.js';
import { clientHelp } from './help.js';

const flags = ['--by <name>        who, for the audit log (default: your user name)', '--reason <text>    why, for the audit log'];

export const pauseHelp = clientHelp(
  'rectify pause [--by name] [--reason text] [--json]',
  'The global kill switch (POST /api/v1/pause): while paused nothing executes automatically\n(decisions are still recorded, as PAUSED). Manual runs and approvals still go through.\nPausing when already paused changes nothing and exits 0.',
  flags,
);

export const resumeHelp = clientHelp('rectify resume [--by name] [--reason text] [--json]', 'Lift the global kill switch (POST /api/v1/resume).', flags);

function switchCommand(op: 'pause' | 'resume') {
  return clientCommand({ name: op, flags: { by: 'string', reason: 'string' } }, async ({ io, api, client, flags: f }) => {
    const reason = lastFlag(f, 'reason');
    const answer = await api.post<{ paused: boolean; changed: boolean }>(`/api/v1/${op}`, { by: actor(f, io), ...(reason !== undefined ? { reason } : {}) });
    if (client.json) io.out(JSON.stringify(answer));
    else if (op === 'pause') io.out(answer.changed ? 'paused: nothing executes automatically until `rectify resume`' : 'already paused: nothing changed');
    else io.out(answer.changed ? 'resumed: automatic execution is allowed again' : 'not paused: nothing changed');
    return EXIT.OK;
  });
}

/** `rectify pause` / `rectify resume`. */
export const pauseCommand = switchCommand('pause');
export const resumeCommand = switchCommand('resume');

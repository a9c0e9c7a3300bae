import type { CliIO } from '../io.js';
import type { ApiClient } from './api.js';
import { cell, pausedBy, type PauseState } from './format.js';
import { runbookListShape } from './shapes.js';

/**
 * A run that went ahead while a kill switch is on (approvals and manual runs do): said,
 * so that "paused" is not read as "nothing runs". Read after the act; a failure to read
 * changes nothing of what was done, so it is not said.
 */
export async function pauseNote(io: CliIO, api: ApiClient, runbook: string, what: 'approved run' | 'manual run'): Promise<void> {
  const page = await readPauses(io, api);
  if (!page) return;
  const own = page.runbooks.find((r) => r.id === runbook)?.paused;
  const went = `this ${what} went ahead, as approvals and manual runs do`;
  if (page.paused) io.out(`note: rectify is paused (${pausedBy(page.paused)}); ${went}`);
  if (own) io.out(`note: ${cell(runbook, 80)} is paused (${pausedBy(own)}); ${went}`);
}

/**
 * The kill switches in force, from the runbook list (the global one and each runbook's),
 * read to word what a command says after it acted; undefined when the read fails.
 */
export async function readPauses(io: CliIO, api: ApiClient): Promise<{ runbooks: Array<{ id: string; paused?: PauseState | null }>; paused?: PauseState | null } | undefined> {
  try {
    return await api.get(`/api/v1/runbooks`, runbookListShape, io.signal);
  } catch {
    return undefined;
  }
}

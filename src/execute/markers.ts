import { processStart, procStat } from '../lib/index.js';

export { processStart, procStat };

/**
 * The marker a command step's processes carry in their environment (STEP_MARKER_VAR in
 * actions/command.ts): made of what the store records of the step, so that startup
 * recovery finds again the processes a run cut off by a crash left running, and of the
 * rectify process that started them, so that it never takes for its own the processes
 * of another rectify still running (one started on a copy of this database: a restored
 * backup, a staging clone, holds the same execution ids).
 */

/** This process, as `<pid>.<start time>` (see processStart); computed once. */
let self: string | undefined;

/** The marker of an execution's step: `<execution id>/<phase>/<index>/<pid>.<start time>` of the rectify that starts it. */
export function stepMarker(executionId: string, phase: string, index: number): string {
  self ??= `${process.pid}.${processStart(process.pid)}`;
  return `${executionId}/${phase}/${index}/${self}`;
}

/** The execution a step marker belongs to (what comes before its first `/`), or undefined. */
export function markerExecution(marker: string): string | undefined {
  const at = marker.indexOf('/');
  return at > 0 ? marker.slice(0, at) : undefined;
}

/**
 * Whether the rectify that started a marked step still runs: its pid alive with the
 * start time the marker records. A marker without one (written before markers named
 * their rectify) or naming a process gone, or a pid taken again since, says no. So does
 * a zombie (`Z`, or `X` dead): a rectify killed whose parent has not collected it yet (a
 * supervisor that reaps late) keeps its pid and start time, but runs nothing, and the
 * processes it left are a crash's leftovers.
 */
export function markerSpawnerRunning(marker: string): boolean {
  const m = /\/([0-9]+)\.([0-9]+)$/.exec(marker);
  if (!m) return false;
  const pid = Number(m[1]);
  const start = Number(m[2]);
  if (start <= 0 || pid === process.pid) return false;
  const st = procStat(pid);
  return st !== undefined && st.start === start && st.state !== 'Z' && st.state !== 'X';
}

import { readFileSync } from 'node:fs';

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

/**
 * When process `pid` started, in clock ticks after boot (/proc stat's field 22); 0 when
 * unknown (gone, no /proc). A pid with its start time names one process: a pid taken
 * again later has another start time.
 */
export function processStart(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so count after the last ")"; state is field 3.
    const t = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3]);
    return Number.isFinite(t) ? t : 0;
  } catch {
    return 0;
  }
}

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
 * their rectify) or naming a process gone, or a pid taken again since, says no.
 */
export function markerSpawnerRunning(marker: string): boolean {
  const m = /\/([0-9]+)\.([0-9]+)$/.exec(marker);
  if (!m) return false;
  const pid = Number(m[1]);
  const start = Number(m[2]);
  return start > 0 && pid !== process.pid && processStart(pid) === start;
}

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
 * Process `pid`'s state, process group and start time (clock ticks after boot), read from
 * /proc/<pid>/stat; undefined when it is gone or there is no /proc. A pid with its start
 * time names one process: a pid taken again later has another start time.
 */
export function procStat(pid: number): { state: string; pgrp: number; start: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so read after
    // the last ")"; state is field 3, pgrp field 5, the start time field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, , pgrp] = fields;
    if (state === undefined || pgrp === undefined) return undefined;
    const start = Number(fields[22 - 3]);
    return { state, pgrp: Number(pgrp), start: Number.isFinite(start) ? start : 0 };
  } catch {
    return undefined;
  }
}

/** When process `pid` started (see procStat); 0 when unknown (gone, no /proc). */
export function processStart(pid: number): number {
  return procStat(pid)?.start ?? 0;
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

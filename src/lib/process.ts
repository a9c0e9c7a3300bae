import { readFileSync } from 'node:fs';

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

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { STEP_MARKER_VAR, type RenderedCommandAction } from '../../domain/index.js';
import { scrubSecrets } from '../../checks/secrets.js';
import { formatDuration, sleep, timerMs } from '../../lib/index.js';
import type { ActionExecutor, ActionOutcome, StepContext } from '../ports.js';
import { markerExecution, markerSpawnerRunning, processStart, procStat } from '../markers.js';

/**
 * `command: {argv: [prog, arg, …], timeout_seconds}`. The only file in rectify that
 * may import node:child_process (lint enforces it).
 *
 * The traps this file exists to avoid:
 * - a shell: argv goes to execve as a list (`shell: false`), so `a; rm -rf /` in an
 *   alert label is one literal argument, never a second command;
 * - rectify's environment: it holds database URLs and API tokens. The child gets
 *   PATH, LANG and an explicit allow-list, nothing inherited;
 * - a hung or chatty child: a deadline with SIGTERM then SIGKILL, sent to the whole
 *   process group (a script's own children would otherwise survive and keep our
 *   pipes open forever), and output read continuously but kept only up to a cap,
 *   so a child writing gigabytes neither blocks on a full pipe nor fills our memory.
 *   A program killed at its deadline may have done part of its work: the step is
 *   `unconfirmed`, as a write that got no answer is. One that does not die even of
 *   SIGKILL (stuck in the kernel, state D) is not waited for past the grace: the step
 *   fails, `unconfirmed`, saying it still runs, and neither its run nor a stop waits on it;
 * - a program that returns while something it started runs on (`sleep 30 &`): the
 *   step would be reported a success while its work goes on unwatched, past its
 *   deadline and into the rollback or the next run. When the program exits, whatever
 *   is left of its process group is stopped the same way, and the step fails,
 *   `unconfirmed`: what was stopped was part way through whatever it did;
 * - a process that leaves the group (a daemon's `setsid`, coreutils `timeout`, which
 *   puts itself in a group of its own): each step's child gets a marker of its own in
 *   its environment (STEP_MARKER_VAR), inherited by everything it starts; when the step
 *   ends, every process of ours whose environment holds it is killed, and the step
 *   fails. (Linux only, through /proc; a process that replaces its environment, becomes
 *   another user or whose environ cannot be read, setgid or non-dumpable, is not found.
 *   Only processes started since the program are read, and a search that runs past 2 s
 *   fails the step, `unconfirmed` too. One not found that still holds the program's
 *   output open when the grace after its exit is over fails the step the same way.)
 * - stdin: ignored, so a program that prompts gets EOF instead of waiting forever.
 */

export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
const MAX_OUTPUT_BYTES = 64 * 1024;
const STDERR_TAIL_BYTES = 4 * 1024;
const KILL_GRACE_MS = 2_000;
const DETAIL_LINE_MAX = 200;
const GROUP_POLL_MS = 25;
/** How long the search for processes left outside the group may take, each time. */
const ESCAPE_SEARCH_MS = 2_000;
/** How long startup recovery's search for the processes a crash left running may take. */
const RECOVERY_SEARCH_MS = 10_000;
/** /proc files read at once by that search. */
const PROC_READS_AT_ONCE = 32;
/** The variable that marks every process a step started, wherever its process group (defined in domain/runbook.ts). */
export { STEP_MARKER_VAR };

export interface RunArgvOptions {
  /** The child's whole environment. */
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  cwd?: string;
  /** Between SIGTERM and SIGKILL; default 2 s. */
  killGraceMs?: number;
  /** Kept per stream; default 64 KiB. */
  maxOutputBytes?: number;
  /** How long one search for processes left outside the group may take; default 2 s. */
  escapeSearchMs?: number;
  /**
   * Text the output must never hold (credentials passed in `env`): replaced with `***`
   * as the output arrives, before anything is cut to a cap, a tail or a line, so no
   * cut can leave part of one behind. (One printed with control characters between
   * its letters is not one yet: the detail's line is masked again once they are
   * removed, before its own cut; see lastLine.)
   */
  secrets?: readonly string[];
  /** The step's marker (see execute/markers.ts); default: random, of this run alone. */
  marker?: string;
  /**
   * Starts the program; node's `spawn` but in tests. A program that even SIGKILL cannot
   * end (stuck in the kernel, state D, on a hung NFS mount) cannot be made portably, so
   * a test stands one in with a child that never exits.
   */
  spawn?: typeof spawn;
}

export interface CommandResult {
  /** null when the process did not exit on its own (signal, spawn failure). */
  exitCode: number | null;
  /** The signal that ended it, if any. */
  exitSignal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** The last few KiB of stderr, for the last line, even when `stderr` was truncated. */
  stderrTail: string;
  timedOut: boolean;
  aborted: boolean;
  /** SIGTERM was not enough. */
  killedHard: boolean;
  /** The program exited while processes of its group still ran: they were stopped, and the step fails. */
  leftBehind: boolean;
  /** Processes of its group still ran after SIGKILL and its grace (not ours to signal, or stuck in the kernel). */
  stillRunning: boolean;
  /**
   * The program itself had not exited at SIGKILL's grace (stuck in the kernel): its pid.
   * The step ended without it, and `stillRunning` is set.
   */
  programStillRunning?: number;
  /**
   * The program had exited and its group was over, but its output was still held open at
   * the grace's end: by a process it started that was not found (it replaced its
   * environment, say), which may still run. The step fails.
   */
  outputHeldOpen?: boolean;
  /** Processes it started that had left its process group and still ran when the step ended: killed with SIGKILL. */
  escaped: number;
  /** How many of `escaped` still ran after SIGKILL and the grace. */
  escapedStillRunning: number;
  /** The search for processes left outside the group did not finish in time: some may still run, and the step fails. */
  escapeSearchTimedOut?: boolean;
  /** Set when the program could not be started: `not found: prog`, `not executable: prog`. */
  spawnError?: string;
}

/** Runs one argv under a deadline and returns what happened; never throws for the child's sake. */
export function runArgv(argv: readonly string[], opts: RunArgvOptions): Promise<CommandResult> {
  const cap = opts.maxOutputBytes ?? MAX_OUTPUT_BYTES;
  const graceMs = opts.killGraceMs ?? KILL_GRACE_MS;
  const stdout = new Capture(cap, 0, opts.secrets ?? []);
  const stderr = new Capture(cap, STDERR_TAIL_BYTES, opts.secrets ?? []);
  const result = (partial: Partial<CommandResult>): CommandResult => ({
    exitCode: null,
    exitSignal: null,
    stdout: stdout.text(),
    stderr: stderr.text(),
    stdoutTruncated: stdout.truncated,
    stderrTruncated: stderr.truncated,
    stderrTail: stderr.tailText(),
    timedOut: false,
    aborted: false,
    killedHard: false,
    leftBehind: false,
    stillRunning: false,
    escaped: 0,
    escapedStillRunning: 0,
    escapeSearchTimedOut: false,
    ...partial,
  });

  const prog = argv[0];
  if (prog === undefined || prog === '') return Promise.resolve(result({ spawnError: 'empty argv' }));
  if (opts.signal.aborted) return Promise.resolve(result({ aborted: true, spawnError: 'aborted before start' }));

  const marker = opts.marker ?? randomBytes(16).toString('hex');
  return new Promise<CommandResult>((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = (opts.spawn ?? spawn)(prog, argv.slice(1), {
        shell: false,
        env: { ...opts.env, [STEP_MARKER_VAR]: marker },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so the kill below reaches everything it started.
        // Node's built-in `timeout`/`signal` options are not used for the same
        // reason: they signal only the direct child.
        detached: true,
        windowsHide: true,
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      });
    } catch (err) {
      // Synchronous refusals: a NUL byte in an argument, say.
      resolve(result({ spawnError: `cannot start ${prog}: ${(err as Error).message}` }));
      return;
    }

    let settled = false;
    let timedOut = false;
    let aborted = false;
    let killedHard = false;
    // Once the program has exited, what is left of its group is stopLeftovers' to end.
    let exited = false;
    let leftBehind = false;
    let stillRunning = false;
    let escaped = 0;
    let escapedStillRunning = 0;
    let escapeSearchTimedOut = false;
    let outputHeldOpen = false;
    // What the program starts starts after it: older processes cannot hold the marker.
    const stepStart = child.pid === undefined ? 0 : processStart(child.pid);
    const searchMs = opts.escapeSearchMs ?? ESCAPE_SEARCH_MS;
    const search = async (): Promise<number[]> => {
      const r = await markedProcesses(marker, stepStart, searchMs);
      if (!r.complete) escapeSearchTimedOut = true;
      return r.pids;
    };
    let groupChecked = false;
    let closed = false;
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    const timers: NodeJS.Timeout[] = [];

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is gone (ESRCH) or was never created: fall back to the child.
        try {
          child.kill(sig);
        } catch {
          /* already dead */
        }
      }
    };
    const terminate = (): void => {
      signalGroup('SIGTERM');
      timers.push(
        setTimeout(() => {
          killedHard = true;
          signalGroup('SIGKILL');
          // A program stuck in the kernel (state D: a hung NFS mount) does not die even of
          // SIGKILL, and may never: the step ends without it, saying it still runs, rather
          // than holding its run, and a stop, for as long as the kernel keeps it.
          timers.push(
            setTimeout(() => {
              if (exited) return;
              stillRunning = true;
              child.stdout?.destroy();
              child.stderr?.destroy();
              finish({ programStillRunning: child.pid ?? 0 });
            }, timerMs(graceMs)),
          );
        }, timerMs(graceMs)),
      );
    };
    const finish = (partial: Partial<CommandResult>): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal.removeEventListener('abort', onAbort);
      resolve(result({ timedOut, aborted, killedHard, leftBehind, stillRunning, escaped, escapedStillRunning, escapeSearchTimedOut, outputHeldOpen, ...partial }));
    };
    const onAbort = (): void => {
      if (settled || timedOut || exited) return;
      aborted = true;
      terminate();
    };

    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    opts.signal.addEventListener('abort', onAbort, { once: true });
    timers.push(
      setTimeout(() => {
        if (settled || aborted || exited) return;
        timedOut = true;
        terminate();
      }, timerMs(opts.timeoutMs)),
    );

    child.on('error', (err: NodeJS.ErrnoException) => {
      // Emitted when the program cannot be started (no pid); a failed kill also lands
      // here, and is harmless once the child has exited.
      if (child.pid !== undefined) return;
      const why =
        err.code === 'ENOENT'
          ? `not found: ${prog}`
          : err.code === 'EACCES'
            ? `not executable: ${prog}`
            : `cannot start ${prog}: ${err.code ?? err.message}`;
      finish({ spawnError: why });
    });
    /** SIGTERM, then SIGKILL after the grace, to whatever still runs in the group. */
    const stopLeftovers = async (pgid: number): Promise<void> => {
      if (!(await groupRunning(pgid))) return;
      leftBehind = true;
      signalGroup('SIGTERM');
      if (await groupEnds(pgid, graceMs)) return;
      killedHard = true;
      signalGroup('SIGKILL');
      stillRunning = !(await groupEnds(pgid, graceMs));
    };
    /** SIGKILL to what the program started outside its group; SIGTERM could be caught, and the step is over. */
    const stopEscaped = async (): Promise<void> => {
      const killed = new Set<number>();
      // Again until none is found: one may have started another while the first were found.
      for (let round = 0; round < 5; round++) {
        const found = (await search()).filter((pid) => !killed.has(pid));
        if (found.length === 0) break;
        for (const pid of found) {
          killed.add(pid);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone meanwhile, or not ours: counted below if it still runs */
          }
        }
      }
      escaped = killed.size;
      if (escaped === 0) return;
      const end = Date.now() + graceMs;
      for (;;) {
        const left = (await search()).filter((pid) => killed.has(pid)).length;
        escapedStillRunning = left;
        if (left === 0 || Date.now() >= end) return;
        await sleep(GROUP_POLL_MS);
      }
    };
    const groupDone = (): void => {
      groupChecked = true;
      if (closed) {
        finish({ exitCode, exitSignal });
        return;
      }
      // A process that left our process group and was not found (it replaced its
      // environment) may still hold the pipes open; 'close' would then never come. Give
      // the output a moment, then stop waiting: something still runs, and the step fails.
      timers.push(
        setTimeout(() => {
          outputHeldOpen = true;
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish({ exitCode, exitSignal });
        }, timerMs(graceMs)),
      );
    };
    child.on('exit', (code, sig) => {
      exited = true;
      // Ended without it (it outlived SIGKILL): its group is not searched nor signalled
      // again, long after, when its id may be another's.
      if (settled) return;
      // What is left of the group is stopLeftovers' now: a SIGKILL still pending from the
      // deadline would fire during the search below and report a kill nobody needed.
      for (const t of timers.splice(0)) clearTimeout(t);
      exitCode = code;
      exitSignal = sig;
      if (child.pid === undefined) groupDone();
      else
        stopLeftovers(child.pid)
          .then(stopEscaped, stopEscaped)
          .then(groupDone, groupDone);
    });
    child.on('close', (code, sig) => {
      closed = true;
      exitCode = code ?? exitCode;
      exitSignal = sig ?? exitSignal;
      // Not before the group is known to be over: output closed says nothing about a child that closed it.
      if (groupChecked) finish({ exitCode, exitSignal });
    });
  });
}

export interface CommandActionExecutorOptions {
  /**
   * Extra variables for the child, chosen by the composition root from the config's
   * `command_env` allow-list. May override PATH and LANG.
   */
  env?: Record<string, string>;
  cwd?: string;
  killGraceMs?: number;
  /** How long one search for processes left outside the group may take; default 2 s. */
  escapeSearchMs?: number;
  /** Starts the program; node's `spawn` but in tests (see RunArgvOptions.spawn). */
  spawn?: typeof spawn;
}

export function createCommandActionExecutor(opts: CommandActionExecutorOptions = {}): ActionExecutor<RenderedCommandAction> {
  const env = Object.freeze({ PATH: DEFAULT_PATH, LANG: 'C.UTF-8', ...opts.env });
  // The variables passed through from rectify's environment may be credentials: a program
  // that prints one in its error must not put it in the audit log (values under 4
  // characters cannot be told from ordinary text, and are no secret).
  const passed = secretTexts(Object.entries(opts.env ?? {}).filter(([k]) => k !== 'PATH' && k !== 'LANG').map(([, v]) => v));
  return {
    type: 'command',
    async run(action: RenderedCommandAction, ctx: StepContext): Promise<ActionOutcome> {
      const r = await runArgv(action.argv, {
        env: { ...env },
        timeoutMs: action.timeoutMs,
        signal: ctx.signal,
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
        ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
        ...(opts.escapeSearchMs !== undefined ? { escapeSearchMs: opts.escapeSearchMs } : {}),
        ...(opts.spawn !== undefined ? { spawn: opts.spawn } : {}),
        secrets: passed,
        ...(ctx.stepMarker !== undefined ? { marker: ctx.stepMarker } : {}),
      });
      // A program that never started changed nothing. One killed at its deadline may have
      // done part of its work (a script half applied): what it changed is not known, as for
      // a write that got no answer. So for one that exited leaving a process running: that
      // process was killed part way through whatever it did, or may still run (it outlived
      // SIGKILL, or the search for it ran out of time, or it held the output open unfound);
      // and so for a program that outlived SIGKILL itself, whatever ended it. (Killed by rectify's own stop, the
      // run is interrupted and left to a person whatever the step says.)
      const known: Pick<ActionOutcome, 'unchanged' | 'unconfirmed' | 'unconfirmedBy'> =
        r.spawnError !== undefined
          ? { unchanged: true }
          : r.timedOut && r.programStillRunning === undefined
            ? { unconfirmed: true, unconfirmedBy: 'deadline' }
            : (!r.aborted || r.programStillRunning !== undefined) && leftRunning(r)
              ? { unconfirmed: true, unconfirmedBy: 'left_running' }
              : {};
      return { ok: isSuccess(r), detail: scrubSecrets(describeResult(r, action.timeoutMs, passed), passed), facts: resultFacts(r), ...known };
    },
  };
}

function isSuccess(r: CommandResult): boolean {
  return r.exitCode === 0 && !r.timedOut && !r.aborted && !leftRunning(r) && r.spawnError === undefined;
}

/** The program left a process running when it ended: killed then, or maybe still running. */
function leftRunning(r: CommandResult): boolean {
  return r.leftBehind || r.escaped > 0 || r.escapeSearchTimedOut === true || r.outputHeldOpen === true || r.programStillRunning !== undefined;
}

/**
 * The running processes of ours whose environment holds `STEP_MARKER_VAR=marker`:
 * everything a step started and that still runs, whatever its process group or
 * session. Only processes started since `since` (clock ticks after boot, /proc stat's
 * field 22) are candidates, so the environments read are few; the whole search gives up
 * after `ms` (complete: false). Another user's processes cannot be read, and are not ours
 * to stop; nor can a setgid program's (ssh-agent) or a non-dumpable one's, which are not
 * found; a zombie's environment reads empty. Without /proc (not Linux), none.
 */
async function markedProcesses(marker: string, since: number, ms: number): Promise<{ pids: number[]; complete: boolean }> {
  const deadline = Date.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timerMs(ms));
  });
  const found: number[] = [];
  const scan = async (): Promise<boolean> => {
    let names: string[];
    try {
      names = (await readdir('/proc')).filter((name) => /^[0-9]+$/.test(name) && Number(name) !== process.pid);
    } catch {
      return true;
    }
    const needle = Buffer.from(`${STEP_MARKER_VAR}=${marker}\0`);
    // Read at once (a few microseconds each, from the kernel's own tables), where the
    // thread pool would make each wait behind every other file read in flight.
    if (since > 0) names = names.filter((name) => processStart(Number(name)) >= since);
    const check = async (name: string): Promise<void> => {
      const environ = await readFile(`/proc/${name}/environ`).catch(() => null);
      if (environ === null) return;
      const at = environ.indexOf(needle);
      // The variable's start: the environment's, or just after the one before it.
      if (at === 0 || (at > 0 && environ[at - 1] === 0)) found.push(Number(name));
    };
    for (let i = 0; i < names.length; i += PROC_READS_AT_ONCE) {
      if (Date.now() >= deadline) return false;
      await Promise.all(names.slice(i, i + PROC_READS_AT_ONCE).map(check));
    }
    return true;
  };
  try {
    const done = Date.now() >= deadline ? false : await Promise.race([scan(), late]);
    return { pids: found.sort((a, b) => a - b), complete: done === true };
  } finally {
    clearTimeout(timer);
  }
}

/** What startup recovery found and killed of the processes one execution's steps had started. */
export interface LeftoverProcesses {
  /** Processes found still running (carrying one of its steps' markers, or in the process group of one that does), killed with SIGKILL. */
  killed: number;
  /** How many of them still ran after SIGKILL and the grace. */
  stillRunning: number;
}

export interface LeftoverSearch {
  /** By execution id: only the executions that had processes left. */
  found: Map<string, LeftoverProcesses>;
  /** The search ran past its time: processes may still run, unfound. */
  complete: boolean;
}

/**
 * After a crash: the processes that the steps of executions `executionIds` started and
 * that still run (a `command:` action's program, whatever it started), found by their
 * step markers (STEP_MARKER_VAR, made of the execution's id: execute/markers.ts), are
 * killed with SIGKILL, each with its whole process group, so none acts on unwatched once
 * the execution is recorded INTERRUPTED and its blast-radius slot is released. Every
 * process of ours is read (nothing tells when the steps started); the search gives up after
 * `ms` (complete: false). Rectify's own process group is never signalled. Without /proc
 * (not Linux), none are found.
 */
export async function killLeftoversOf(executionIds: readonly string[], opts: { ms?: number; graceMs?: number } = {}): Promise<LeftoverSearch> {
  const found = new Map<string, LeftoverProcesses>();
  if (executionIds.length === 0) return { found, complete: true };
  const wanted = new Set(executionIds);
  const deadline = Date.now() + (opts.ms ?? RECOVERY_SEARCH_MS);
  const prefix = Buffer.from(`${STEP_MARKER_VAR}=`);
  const own = procStat(process.pid)?.pgrp;
  let names: string[];
  try {
    names = (await readdir('/proc')).filter((name) => /^[0-9]+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return { found, complete: true };
  }
  let complete = true;
  /** Marked process → its execution. */
  const marked = new Map<number, string>();
  /** A marked process's start time when its environment was read. */
  const scannedStart = new Map<number, number>();
  const check = async (name: string): Promise<void> => {
    const started = processStart(Number(name));
    const environ = await readFile(`/proc/${name}/environ`).catch(() => null);
    if (environ === null) return;
    for (let at = environ.indexOf(prefix); at >= 0; at = environ.indexOf(prefix, at + 1)) {
      if (at > 0 && environ[at - 1] !== 0) continue;
      const end = environ.indexOf(0, at);
      const marker = environ.subarray(at + prefix.length, end < 0 ? environ.length : end).toString('latin1');
      const id = markerExecution(marker);
      // The same execution id under another rectify still running (one started on a copy
      // of this database) is that rectify's run, not one a crash cut off.
      if (id !== undefined && wanted.has(id) && !markerSpawnerRunning(marker)) {
        marked.set(Number(name), id);
        scannedStart.set(Number(name), started);
      }
      return;
    }
  };
  for (let i = 0; i < names.length; i += PROC_READS_AT_ONCE) {
    if (Date.now() >= deadline) {
      complete = false;
      break;
    }
    // Raced against the deadline: a read of a process stuck in the kernel (a hung network
    // mount) may never end, and startup must not wait on it.
    const batch = Promise.all(names.slice(i, i + PROC_READS_AT_ONCE).map(check));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
    });
    const done = await Promise.race([batch.then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (done === 'late') {
      complete = false;
      break;
    }
  }
  // Each marked process's group, and the processes of those groups (what a program started
  // after replacing its environment is still in its group).
  const groups = new Map<number, string>();
  for (const [pid, id] of [...marked]) {
    // A pid is read again here, after the scan: one that ended meanwhile may name
    // another process by now, whose start time is not the one scanned.
    const st = procStat(pid);
    if ((st?.start ?? 0) !== scannedStart.get(pid)) {
      marked.delete(pid);
      continue;
    }
    const pgrp = st?.pgrp;
    if (pgrp !== undefined && pgrp > 1 && pgrp !== own) groups.set(pgrp, id);
  }
  const members = new Map<number, string>(marked);
  if (groups.size > 0) {
    for (const name of names) {
      const st = procStat(Number(name));
      const id = st === undefined ? undefined : groups.get(st.pgrp);
      if (id !== undefined && st !== undefined && st.state !== 'Z' && st.state !== 'X') members.set(Number(name), id);
    }
  }
  for (const pgrp of groups.keys()) {
    try {
      process.kill(-pgrp, 'SIGKILL');
    } catch {
      /* gone meanwhile, or not ours: counted below if it still runs */
    }
  }
  for (const pid of members.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* as above */
    }
  }
  const running = (): number[] => [...members.keys()].filter((pid) => {
    const st = procStat(pid);
    return st !== undefined && st.state !== 'Z' && st.state !== 'X';
  });
  const end = Date.now() + (opts.graceMs ?? KILL_GRACE_MS);
  let left = running();
  while (left.length > 0 && Date.now() < end) {
    await sleep(GROUP_POLL_MS);
    left = running();
  }
  const still = new Set(left);
  for (const [pid, id] of members) {
    const f = found.get(id) ?? { killed: 0, stillRunning: 0 };
    f.killed += 1;
    if (still.has(pid)) f.stillRunning += 1;
    found.set(id, f);
  }
  return { found, complete };
}

/**
 * Whether a process of group `pgid` still runs. A zombie does not: it has exited and
 * waits to be collected by its parent, which may be never when rectify is a
 * container's PID 1 (orphans are re-parented to it, and Node collects only its own
 * children), so the signal probe alone would see it forever.
 */
async function groupRunning(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    // ESRCH: nothing is left in the group. EPERM: something is, and it is not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return true; // no /proc (not Linux): count the zombies in, a signal to one is harmless
  }
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so read after the last ")".
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (pgrp === String(pgid) && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/** Polls until nothing of group `pgid` runs (true) or `ms` pass (false). */
async function groupEnds(pgid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (!(await groupRunning(pgid))) return true;
    const left = end - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(GROUP_POLL_MS, left));
  }
}

/** `secrets`: masked again in the error line once its control characters are removed (see lastLine). */
export function describeResult(r: CommandResult, timeoutMs: number, secrets: readonly string[] = []): string {
  if (r.programStillRunning !== undefined) return describeStuck(r, r.programStillRunning, timeoutMs);
  const held = r.outputHeldOpen === true ? '; its output was still held open after it exited, by a process it started that was not found (it may still run)' : '';
  return describeEnd(r, timeoutMs, secrets) + describeEscaped(r) + held;
}

/** The program did not exit at SIGKILL: the step ended without it. */
function describeStuck(r: CommandResult, pid: number, timeoutMs: number): string {
  const why = r.timedOut ? `timed out after ${formatDuration(timeoutMs)}; the program may have done part of its work, and may do more` : 'aborted';
  return `still running after SIGKILL (pid ${pid}): ${why}`;
}

/** " with SIGKILL" when SIGKILL was sent and not something else ended the program (a SIGTERM pending when it could run again). */
function withSigkill(r: CommandResult): string {
  return r.killedHard && (r.exitSignal === null || r.exitSignal === 'SIGKILL') ? ' with SIGKILL' : '';
}

/** What was left running outside the program's process group, if anything. */
function describeEscaped(r: Pick<CommandResult, 'escaped' | 'escapedStillRunning' | 'escapeSearchTimedOut'>): string {
  const unfinished = r.escapeSearchTimedOut === true ? '; the search for processes left running outside its process group ran out of time (some may still run)' : '';
  if (r.escaped === 0) return unfinished;
  const n = `${r.escaped} process${r.escaped === 1 ? '' : 'es'} left running outside its process group`;
  return (r.escapedStillRunning === 0 ? `; ${n} (killed with SIGKILL)` : `; ${n}, ${r.escapedStillRunning} still running after SIGKILL`) + unfinished;
}

function describeEnd(r: CommandResult, timeoutMs: number, secrets: readonly string[]): string {
  // Timeout and abort first: a process killed by our SIGTERM may still exit 0 from
  // its handler, and that is not a success anyone can rely on.
  if (r.timedOut) return `timed out after ${formatDuration(timeoutMs)} (killed${withSigkill(r)}; the program may have done part of its work)`;
  if (r.aborted) return r.spawnError ?? `aborted (killed${withSigkill(r)})`;
  if (r.spawnError !== undefined) return r.spawnError;
  const left = !r.leftBehind
    ? ''
    : r.stillRunning
      ? '; left processes behind, still running after SIGKILL'
      : `; left processes behind (killed${r.killedHard ? ' with SIGKILL' : ''})`;
  if (r.exitCode === null) return `killed by ${r.exitSignal ?? 'an unknown signal'}${left}`;
  const line = lastLine(r.stderrTail, secrets);
  return `${r.exitCode === 0 || line === '' ? `exit ${r.exitCode}` : `exit ${r.exitCode}: ${line}`}${left}`;
}

function resultFacts(r: CommandResult): Record<string, string> {
  const facts: Record<string, string> = {};
  if (r.exitCode !== null) facts.exit_code = String(r.exitCode);
  if (r.exitSignal !== null) facts.signal = r.exitSignal;
  return facts;
}

/**
 * The last non-blank line, control characters removed (they would forge audit lines), at
 * most 200 characters. Removing them can join the pieces of a secret the program printed
 * apart (`ab\x01cd`), which the masking of the raw output could not see: the line is masked
 * again after they are removed and before it is cut, so the cut cannot leave a prefix of
 * one behind, wherever the secret lies.
 */
export function lastLine(text: string, secrets: readonly string[] = []): string {
  const lines = text.split(/\r?\n|\r/).map((l) => maskAll(stripControl(l), secrets).trim());
  const line = lines.reverse().find((l) => l !== '') ?? '';
  const chars = [...line];
  return chars.length > DETAIL_LINE_MAX ? chars.slice(0, DETAIL_LINE_MAX - 1).join('') + '…' : line;
}

function stripControl(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

/**
 * Masks until no secret is left: `***` joining what is around it could form another.
 * Ends, as each mask shortens the text (shorter texts are no secret; see secretTexts).
 */
function maskAll(text: string, secrets: readonly string[]): string {
  const long = secrets.filter((s) => s.length >= 4);
  for (let out = text; ; ) {
    const next = scrubSecrets(out, long);
    if (next === out) return out;
    out = next;
  }
}

/**
 * What to mask for each passed value: the value itself and, for a value of several
 * lines (a PEM key), each line, raw and trimmed, since a program may print one line
 * of it alone. Texts under 4 characters cannot be told from ordinary text and are no secret.
 */
export function secretTexts(values: readonly string[]): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (v.length >= 4) out.add(v);
    for (const line of v.split(/\r?\n|\r/)) {
      if (line.length >= 4) out.add(line);
      if (line.trim().length >= 4) out.add(line.trim());
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * Replaces every occurrence of the secrets in a stream with `***`, with the same result
 * however the stream is split into chunks: occurrences that overlap are merged into one
 * range, masked as one, so every byte any secret covers is masked. The last (longest
 * secret − 1) bytes are held back unmasked until more arrives or the stream ends, and
 * only what lies before them is decided: any secret starting there fits whole in what
 * has arrived, so a range may run into the held part (its rest is then consumed with it,
 * and its end carried, so a secret starting inside it and ending later joins it), and a
 * shorter secret inside a longer one is never masked alone while the longer one is still
 * arriving.
 */
export class StreamScrubber {
  private readonly needles: Buffer[];
  private readonly hold: number;
  private pending: Buffer = Buffer.alloc(0);
  /**
   * The end of a masked range that reached past what could be decided (at most `hold`
   * bytes, all of them masked and passed on already): a secret starting inside it and
   * ending in what arrives next is masked with that range, not shown from its middle.
   */
  private carry: Buffer = Buffer.alloc(0);
  /** How many bytes of the stream were masked (or skipped as unneeded by `pushTail`: not counted). */
  scanned = 0;
  private static readonly MASK = Buffer.from('***');

  constructor(secrets: readonly string[]) {
    this.needles = [...new Set(secrets)].map((s) => Buffer.from(s, 'utf8')).filter((n) => n.length > 0);
    this.hold = Math.max(0, ...this.needles.map((n) => n.length - 1));
  }

  get active(): boolean {
    return this.needles.length > 0;
  }

  /** The part of the stream that can be passed on now, masked. */
  push(chunk: Buffer): Buffer {
    const { data, skip } = this.joined(chunk);
    return this.advance(data, skip, this.scrub(data, data.length - this.hold, skip));
  }

  /** What was carried and held back, then `chunk`; `skip`: how many leading bytes were passed on already. */
  private joined(chunk: Buffer): { data: Buffer; skip: number } {
    const skip = this.carry.length;
    const data = skip === 0 && this.pending.length === 0 ? chunk : Buffer.concat([this.carry, this.pending, chunk]);
    return { data, skip };
  }

  /** Keeps what `scrub` left undecided, and the end of a mask that reached into it. */
  private advance(data: Buffer, skip: number, r: { out: Buffer; next: number; maskedFrom: number }): Buffer {
    this.scanned += r.next - skip;
    this.pending = data.subarray(r.next);
    this.carry = r.maskedFrom >= 0 ? Buffer.from(data.subarray(Math.max(r.maskedFrom, r.next - this.hold), r.next)) : Buffer.alloc(0);
    return r.out;
  }

  /**
   * As `push`, when only the last `want` bytes of what it passes on are needed (a tail):
   * what lies before a point that no secret spans is skipped, unmasked and not returned.
   * The bytes returned end as `push`'s would, with at least `want` of them when it
   * would have returned as many.
   */
  pushTail(chunk: Buffer, want: number): Buffer {
    const { data, skip } = this.joined(chunk);
    const decide = data.length - this.hold;
    const from = this.freePoint(data, Math.max(skip, decide - 2 * want));
    if (from > skip && from < decide) {
      // No match of the whole-stream scan can cover `from`: the scan from there decides alike.
      const rest = data.subarray(from);
      const r = this.scrub(rest, decide - from, 0);
      if (r.out.length >= want) return this.advance(rest, 0, r);
    }
    return this.advance(data, skip, this.scrub(data, decide, skip));
  }

  /** The first position from `at` on that no occurrence of a secret spans (starts before and ends after). */
  private freePoint(data: Buffer, at: number): number {
    let point = at;
    for (let moved = true; moved && point > 0 && point < data.length; ) {
      moved = false;
      for (const needle of this.needles) {
        const start = Math.max(0, point - needle.length + 1);
        const window = data.subarray(start, Math.min(data.length, point + needle.length - 1));
        for (let i = window.indexOf(needle); i >= 0; i = window.indexOf(needle, i + 1)) {
          if (start + i < point && start + i + needle.length > point) {
            point = start + i + needle.length;
            moved = true;
          }
        }
      }
    }
    return point;
  }

  /** What was held back, masked, at the end of the stream. */
  end(): Buffer {
    const { data, skip } = this.joined(Buffer.alloc(0));
    this.pending = Buffer.alloc(0);
    this.carry = Buffer.alloc(0);
    return this.scrub(data, data.length, skip).out;
  }

  /** Forgets what was held back (the rest of the stream is not wanted). */
  drop(): void {
    this.pending = Buffer.alloc(0);
    this.carry = Buffer.alloc(0);
  }

  /**
   * Masks `data` from `skip` (the bytes before it were passed on already, the end of a
   * mask) up to `decide` (exclusive): a match starting before `decide` may end after it.
   * Returns the masked text, where the undecided rest begins, and where the mask that
   * ends there began (-1 when the text does not end in a mask).
   */
  private scrub(data: Buffer, decide: number, skip: number): { out: Buffer; next: number; maskedFrom: number } {
    if (decide <= skip) return { out: Buffer.alloc(0), next: skip, maskedFrom: skip > 0 ? 0 : -1 };
    // Where each secret occurrence ends, by where it starts (the furthest end for a start).
    // Occurrences starting at or after `decide` count too: one may overlap a range that
    // starts before it, and is then masked with it.
    const ends = new Map<number, number>();
    for (const needle of this.needles) {
      for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + 1)) {
        if ((ends.get(at) ?? 0) < at + needle.length) ends.set(at, at + needle.length);
      }
    }
    // Overlapping occurrences are merged into one range, masked as one: every byte any
    // secret covers is masked, whichever of two overlapping secrets starts first. The
    // carried bytes (before `skip`) are the end of a range masked already.
    const parts: Buffer[] = [];
    let from = skip;
    let maskedFrom = skip > 0 ? 0 : -1;
    for (const at of [...ends.keys()].sort((a, b) => a - b)) {
      const end = ends.get(at)!;
      if (at < from) {
        if (end > from) from = end; // starts inside the range just masked (or carried): the range grows
        continue;
      }
      if (at >= decide) break;
      parts.push(data.subarray(from, at), StreamScrubber.MASK);
      from = end;
      maskedFrom = at;
    }
    if (from < decide) {
      parts.push(data.subarray(from, decide));
      from = decide;
      maskedFrom = -1;
    }
    return { out: Buffer.concat(parts), next: from, maskedFrom };
  }
}

/**
 * Keeps the first `cap` bytes and, optionally, the last `tailCap` bytes of a stream,
 * with the secrets masked before either is cut. Once the head is full, what arrives is
 * masked only as far as it can reach the tail, and dropped unread without one.
 */
export class Capture {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  private readonly scrubber: StreamScrubber;
  private ended = false;
  private cut = false;

  constructor(
    private readonly cap: number,
    private readonly tailCap: number,
    secrets: readonly string[],
  ) {
    this.scrubber = new StreamScrubber(secrets);
  }

  push(chunk: Buffer): void {
    if (this.ended) return;
    if (!this.scrubber.active) {
      this.keep(chunk);
      return;
    }
    if (this.headBytes >= this.cap) {
      // The head is full: only what can reach the tail is masked; without a tail, nothing is.
      if (chunk.length > 0) this.cut = true;
      if (this.tailCap === 0) this.scrubber.drop();
      else this.keep(this.scrubber.pushTail(chunk, this.tailCap));
      return;
    }
    this.keep(this.scrubber.push(chunk));
  }

  /** Bytes of the stream run through the masking. */
  get masked(): number {
    return this.scrubber.scanned;
  }

  /** The stream is over (or no longer read): what the scrubber held back is kept too. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.keep(this.scrubber.end());
  }

  private keep(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const room = this.cap - this.headBytes;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.head.push(part);
      this.headBytes += part.length;
    }
    if (chunk.length > room) this.cut = true;
    if (this.tailCap > 0) {
      const joined = Buffer.concat([this.tail, chunk]);
      this.tail = joined.length > this.tailCap ? joined.subarray(joined.length - this.tailCap) : joined;
    }
  }

  get truncated(): boolean {
    this.end();
    return this.cut;
  }

  text(): string {
    this.end();
    return Buffer.concat(this.head).toString('utf8');
  }

  tailText(): string {
    this.end();
    return this.tail.toString('utf8');
  }
}

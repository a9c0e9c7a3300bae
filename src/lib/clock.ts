import { MAX_DURATION, durationHint, parseDuration } from './durations.js';
import { readBoundedFile } from './text-file.js';

/**
 * Time comes from an injected clock, never `Date.now()` inside decision logic,
 * so guardrail windows (rate limits, cooldowns, breaker recovery, approval
 * expiry) can be tested exactly and replayed on a simulated clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that move only as time passes: a step of the
   * wall clock (NTP correcting a bad RTC, an operator's `date -s`) does not move them.
   * Absent: nothing tells a step from time passing (see createPruneHorizon).
   */
  monotonic?(): number;
  /**
   * Which boot of the machine `monotonic` counts from: two readings of it, taken by two
   * processes, compare only when both were taken on the same boot (Linux's monotonic clock
   * starts again at each boot). Absent or undefined: the readings of another process
   * compare with none of this one's (see resumeGuardClock).
   */
  bootId?(): string | undefined;
}

/** Where Linux says which boot this is: a random id, made at each boot. */
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/**
 * The machine's boot id (Linux), read until a read says what it is; undefined where there
 * is none to read. A read that failed for another reason (too many open files) is tried
 * again at the next call, not taken for "no boot id" for the rest of the process. Inside
 * a container it is the host's, as the monotonic clock is.
 */
function readBootId(): () => string | undefined {
  let id: string | null | undefined;
  return () => {
    if (id === undefined) {
      const read = readBoundedFile(BOOT_ID_FILE, 64, 'a boot id');
      if (!read.ok && read.code !== 'ENOENT' && read.code !== 'ENOTDIR') return undefined;
      const text = read.ok ? read.bytes.toString('utf8').trim() : '';
      id = /^[0-9a-f-]{16,40}$/i.test(text) ? text : null;
    }
    return id ?? undefined;
  };
}

/**
 * The system's clocks. `monotonic` is the system-wide monotonic clock (CLOCK_MONOTONIC on
 * Linux, which process.hrtime reads: the time since boot, not since this process started),
 * so a process started later on the same boot reads on from where another left off.
 */
export const systemClock: Clock = Object.freeze({ now: () => Date.now(), monotonic: () => Number(process.hrtime.bigint()) / 1e6, bootId: readBootId() });

/** A clock that only moves when told to: for tests and replay. */
export interface ManualClock extends Clock {
  monotonic(): number;
  bootId(): string;
  /** Time passes to `ms` (forward; set back, the wall clock alone moves, as `step`). */
  set(ms: number): void;
  /** Time passes: the wall clock and the monotonic time move together. */
  advance(ms: number): void;
  /** The wall clock is stepped by `ms` (either way) while no time passes. */
  step(ms: number): void;
  /** The machine boots again: a new boot id, and the monotonic time starts again from 0 (the wall clock is kept). */
  reboot(): void;
}

export function createManualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let t = startMs;
  let mono = 0;
  let boot = 1;
  return {
    now: () => t,
    monotonic: () => mono,
    bootId: () => `manual-boot-${boot}`,
    set: (ms) => {
      mono += Math.max(0, ms - t);
      t = ms;
    },
    advance: (ms) => {
      mono += Math.max(0, ms);
      t += ms;
    },
    step: (ms) => {
      t += ms;
    },
    reboot: () => {
      boot += 1;
      mono = 0;
    },
  };
}

/** A wall clock ahead of the time passed by no more than this is taken as it is (timer jitter, NTP slewing). */
const STEP_TOLERANCE_MS = 1_000;

/**
 * The time housekeeping prunes by, and the guardrail windows are judged by (each its own,
 * with its own `settleMs`: see guardNow in engine.ts): the wall clock, except that a
 * forward step of it counts only once it has held for `settleMs` of time passing.
 *
 * Rows are pruned by their wall-clock age (dedup keys after the dedup retention,
 * rate-limit rows after their hour). Pruned by the wall clock as it is, a clock set a
 * day forward for a minute pruned every dedup key and rate-limit row at once; once it
 * was put right, an alert re-delivered was decided again and its fix ran a second
 * time, and the rate limit no longer counted the first run. So the time given here
 * moves forward no faster than the monotonic clock (time really passing) while the wall
 * clock is ahead of it: a step is not time passed, and a step corrected again costs
 * nothing. A step back is followed at once (rows are then kept longer, never fewer).
 *
 * Why not judge by the newest time recorded instead: alerts keep coming while the
 * clock is wrong, and their rows carry the stepped time, which then pruned the others
 * all the same; nor by bounding each prune's step alone: a step that is right (a clock
 * that was behind at boot) would then never be caught up with, and every row kept
 * longer by it for as long as the process runs. Here a forward step that has held for
 * `settleMs` (the longest retention) is taken as the time: by then every row recorded
 * before it is past its retention in real time too, so taking it forgets nothing that
 * must be remembered, and the rows recorded since carry the clock's time.
 *
 * A restart on the same boot resumes it from where the last process left it (`resume`,
 * see resumeGuardClock): the time passed since is the monotonic time passed, so a step
 * made before the restart, or while rectify was stopped, is still a step, and one held
 * for part of `settleMs` goes on from there. What it cannot see: a step before a start
 * with nothing to resume (another boot, a first start), whose wall time is taken as it
 * is, and a clock without `monotonic`, whose wall time is used as it is.
 */
export function createPruneHorizon(clock: Clock, resume?: HorizonState): PruneHorizon {
  // From its creation (the service's start), not its first use: a step before the first
  // housekeeping pass is a step all the same.
  const start = clock.monotonic?.();
  const resumed = start !== undefined && resume && resume.mono <= start ? resume : undefined;
  let last: { at: number; mono: number } | undefined =
    start === undefined ? undefined : resumed ? { at: resumed.at, mono: resumed.mono } : { at: clock.now(), mono: start };
  /** Monotonic time the wall clock was first seen ahead of the time passed, while it stays so. */
  let aheadSince: number | undefined = resumed?.aheadSince ?? undefined;
  /** The time, and the wall clock's reading it was judged from (one reading serves both). */
  function judge(settleMs: number): { at: number; wall: number } {
    const wall = clock.now();
    const mono = clock.monotonic?.();
    if (mono === undefined) return { at: wall, wall };
    let at = wall;
    if (last) {
      const passed = last.at + Math.max(0, mono - last.mono);
      if (wall <= passed + STEP_TOLERANCE_MS) aheadSince = undefined;
      else {
        aheadSince ??= mono;
        if (mono - aheadSince < settleMs) at = passed;
        else aheadSince = undefined;
      }
    }
    last = { at, mono };
    return { at, wall };
  }
  /** The time now, the wall clock, and when a step held now is taken as the time (wall clock). */
  function read(settleMs: number): { at: number; wall: number; settles: number | undefined } {
    const { at, wall } = judge(settleMs);
    if (at >= wall || aheadSince === undefined || !last) return { at, wall, settles: undefined };
    return { at, wall, settles: wall + Math.max(0, aheadSince + settleMs - last.mono) };
  }
  return {
    now: (settleMs) => judge(settleMs).at,
    times(settleMs) {
      const { at, settles } = read(settleMs);
      return { at, settlesAt: settles };
    },
    wallTimeOf(t, settleMs) {
      const { at, wall, settles } = read(settleMs);
      return settles === undefined ? t : wallTimeAt(t, wall, at, settles);
    },
    state: () => (last ? { at: last.at, mono: last.mono, aheadSince: aheadSince ?? null } : undefined),
  };
}

/**
 * The wall-clock time at which a time that reads `at` when the wall clock reads `wall`
 * reaches `t`, time passing from then (see PruneHorizon): `t` reached by the time passed,
 * or the moment the step is taken as the time (`settlesAt`, the wall-clock time; absent:
 * not known, so by the time passed alone), whichever comes first. `t` itself while the
 * time is the wall clock's. Pure: what the guardrail stages state a wait's end by.
 */
export function wallTimeAt(t: number, wall: number, at: number, settlesAt?: number): number {
  if (at >= wall) return t;
  const byTimePassed = t + (wall - at);
  return settlesAt === undefined || byTimePassed < settlesAt ? byTimePassed : Math.max(settlesAt, t);
}

/** Where a prune horizon stands: its time `at`, read at the monotonic time `mono`, and since when (monotonic) the wall clock is ahead of it. */
export interface HorizonState {
  at: number;
  mono: number;
  aheadSince: number | null;
}

export interface PruneHorizon {
  /** The time, given the `settleMs` a forward step must hold for to be taken as the time. */
  now(settleMs: number): number;
  /**
   * The wall-clock time at which `now(settleMs)` reaches `t`, if the wall clock moves on
   * only as time passes: `t` itself unless the wall clock is ahead of the time passed.
   * What a person is shown as the end of a window this time judges.
   */
  wallTimeOf(t: number, settleMs: number): number;
  /**
   * `now(settleMs)`, and from the same reading the wall-clock time at which the forward
   * step the time is behind by will be taken as the time, if the wall clock moves on only
   * as time passes (undefined: the time is the wall clock's, no step is being held).
   */
  times(settleMs: number): { at: number; settlesAt: number | undefined };
  /** Where it stands, to be resumed after a restart on the same boot (undefined: a clock without `monotonic`). */
  state(): HorizonState | undefined;
}

/**
 * The guard and prune horizons as a process leaves them, saved at each housekeeping pass
 * and at a stop, so the next start on the same boot goes on from them (resumeGuardClock).
 */
export interface SavedGuardClock {
  /** The boot the monotonic readings were taken on. */
  boot: string;
  /** The wall clock and the monotonic time when saved. */
  wall: number;
  mono: number;
  guard: HorizonState;
  prune: HorizonState;
}

/** The saved horizons as the settings row holds them; undefined for a clock without a boot id or a monotonic time. */
export function saveGuardClock(clock: Clock, guard: HorizonState | undefined, prune: HorizonState | undefined): string | undefined {
  const boot = clock.bootId?.();
  const mono = clock.monotonic?.();
  if (boot === undefined || mono === undefined || !guard || !prune) return undefined;
  const saved: SavedGuardClock = { boot, wall: clock.now(), mono, guard, prune };
  return JSON.stringify(saved);
}

/**
 * What a start resumes its guard and prune horizons from: the saved state (`text`, as
 * saveGuardClock wrote it) when it was saved on this boot, by a monotonic clock that has
 * not gone back since. Otherwise (another boot: Linux's monotonic clock starts again at
 * boot, so its readings from before say nothing now; nothing saved, or nothing readable)
 * `why` says why not, and the start takes the wall clock as it is, as a first start does.
 */
export function resumeGuardClock(clock: Clock, text: string | null): { saved: SavedGuardClock } | { why: string } {
  if (text === null) return { why: 'nothing saved' };
  const boot = clock.bootId?.();
  const mono = clock.monotonic?.();
  if (boot === undefined || mono === undefined) return { why: 'this system gives no boot id or monotonic clock' };
  let saved: SavedGuardClock;
  try {
    saved = JSON.parse(text) as SavedGuardClock;
  } catch {
    return { why: 'the saved state is not JSON' };
  }
  if (typeof saved !== 'object' || saved === null || typeof saved.boot !== 'string' || !Number.isFinite(saved.wall) || !Number.isFinite(saved.mono)) {
    return { why: 'the saved state is not as rectify writes it' };
  }
  // As a process leaves them: read by the save's time, not ahead of its wall clock, and
  // ahead of the time passed since no later than they were read. A row that says
  // otherwise (changed by hand, damaged) could hold the guard time back with no end (a
  // step "ahead since" a monotonic time yet to come never settles), so it is not resumed.
  const horizon = (h: unknown): h is HorizonState => {
    const o = h as HorizonState | null;
    return (
      typeof o === 'object' &&
      o !== null &&
      Number.isFinite(o.at) &&
      Number.isFinite(o.mono) &&
      o.mono <= saved.mono &&
      o.at <= saved.wall + STEP_TOLERANCE_MS &&
      (o.aheadSince === null || (Number.isFinite(o.aheadSince) && o.aheadSince <= o.mono))
    );
  };
  if (!horizon(saved.guard) || !horizon(saved.prune)) return { why: 'the saved state is not as rectify writes it' };
  if (saved.boot !== boot) return { why: 'saved on another boot' };
  if (Math.max(saved.mono, saved.guard.mono, saved.prune.mono) > mono) return { why: 'the monotonic clock reads less than when saved' };
  return { saved };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Days in a month of the proleptic Gregorian calendar RFC 3339 uses (month 1–12). */
function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Why a text written as an RFC 3339 time names no instant (2026-02-31, T24:00:00,
 * an offset of +24:00), or undefined when it names one or is not written as one at
 * all. Date.parse moves a day or an hour that does not exist to one that does
 * (2026-02-31 is read as March 3rd, T24:00:00 as the next midnight), so the fields
 * are checked first: a mistyped date is refused, never read as another.
 */
export function impossibleTime(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  if (month < 1 || month > 12) return `${date} does not exist: there is no month ${m[2]}`;
  if (day < 1) return `${date} does not exist: there is no day 00`;
  const days = daysIn(year, month);
  if (day > days) return `${date} does not exist: ${MONTHS[month - 1]} ${m[1]} has ${days} days`;
  if (hour > 23 || minute > 59 || second > 59) {
    const time = `${m[4]}:${m[5]}:${m[6]}`;
    return `${time} is not a time of day (00:00:00 to 23:59:59)${hour === 24 && minute === 0 && second === 0 ? ': write 00:00:00 of the next day' : ''}`;
  }
  if (m[8] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return `the offset ${text.slice(-6)} does not exist (-23:59 to +23:59)`;
  return undefined;
}

/**
 * An RFC 3339 time (2026-11-24T03:00:00Z, with an offset or fractions) that
 * exists, as epoch milliseconds; undefined for anything else (impossibleTime says
 * why, for a time that does not exist). Date.parse alone takes "1", "Nov 24" or a
 * local time without an offset, each read some other way than meant.
 */
export function parseRfc3339(text: string): number | undefined {
  if (!RFC3339.test(text) || impossibleTime(text) !== undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** What a `--since` takes, as every command's message says it. */
export const SINCE_FORMS = 'an RFC 3339 time (2026-11-24T03:00:00Z) or a duration back from now (1h, 30m)';

/**
 * A `--since` value: an RFC 3339 time, or a duration back from `now` ("1h": the last
 * hour) of at most MAX_DURATION, as epoch milliseconds; undefined for anything else.
 * `rectify audit` and `rectify audit export` read it the same way. Bounded: a longer
 * one (999999999d) is a time before the first date JavaScript can hold.
 */
export function parseSince(text: string, now: number): number | undefined {
  const back = parseDuration(text);
  if (back === undefined) return parseRfc3339(text);
  return back <= MAX_DURATION.ms ? now - back : undefined;
}

/**
 * Why a `--since` value cannot be read, for the message after the option's name;
 * undefined when it can. A time that does not exist is told as such, not as a
 * wrong form.
 */
export function sinceProblem(text: string, now: number): string | undefined {
  if (parseSince(text, now) !== undefined) return undefined;
  if (parseDuration(text) !== undefined) return `expected a duration back from now of at most ${MAX_DURATION.said}, got ${JSON.stringify(text)}`;
  return impossibleTime(text) ?? `expected ${SINCE_FORMS}, got ${JSON.stringify(text)}${durationHint(text)}`;
}

import type { TimeWindow } from '../../domain/index.js';
import type { Stage } from '../types.js';

const DAY_INDEX: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Day of week and minute of day at `now` in a time zone. */
export function localTime(now: number, timezone: string, formatters: Map<string, Intl.DateTimeFormat>): { day: number; minute: number } {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, f);
  }
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const p of f.formatToParts(now)) {
    if (p.type === 'weekday') day = DAY_INDEX[p.value] ?? 0;
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { day, minute: hour * 60 + minute };
}

/** Is `now` inside the window? A window whose end is before its start wraps midnight. */
export function inWindow(w: TimeWindow, now: number, formatters: Map<string, Intl.DateTimeFormat>): boolean {
  const { day, minute } = localTime(now, w.timezone, formatters);
  if (w.startMinute <= w.endMinute) return w.days.includes(day) && minute >= w.startMinute && minute < w.endMinute;
  // Wrapping window (22:00–06:00): the part after midnight belongs to the previous day's window.
  if (minute >= w.startMinute) return w.days.includes(day);
  if (minute < w.endMinute) return w.days.includes((day + 6) % 7);
  return false;
}

const fmt = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/**
 * OUTSIDE_WINDOW → blocked: the runbook may act on its own only inside its windows. With
 * `outside_windows: approval` it asks a person instead: the stages after this one still
 * apply, and the risk stage asks (see `outsideWindow`), whatever the runbook's risk.
 */
export function createWindowStage(): Stage {
  const formatters = new Map<string, Intl.DateTimeFormat>();
  return {
    name: 'window',
    appliesTo: ['auto'],
    run(ctx) {
      const rb = ctx.runbook!;
      if (rb.windows.length === 0) return undefined;
      if (rb.windows.some((w) => inWindow(w, ctx.now, formatters))) return undefined;
      // Each window with its days, in the runbook's own terms: the hours alone mislead
      // (Saturday 23:00 is outside "mon–fri 22:00–06:00" though 23:00 is not).
      const desc = rb.windows.map((w) => `${w.daysText} ${fmt(w.startMinute)}–${fmt(w.endMinute)} ${w.timezone}`).join('; ');
      const reason = `outside the runbook's allowed windows (${desc})`;
      if (rb.outsideWindows === 'approval') {
        ctx.outsideWindow = reason;
        return undefined;
      }
      return { kind: 'blocked', event: 'OUTSIDE_WINDOW', reason, runbook: rb };
    },
  };
}

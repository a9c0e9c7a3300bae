import { createHash } from 'node:crypto';

/** The outcome of an ALERTS_TRUNCATED notice told one by one: not one the repeat filter sums up (blocked, manual). */
export const TRUNCATED_OUTCOME = 'alerts left out';
/** What a person is told of a cut-short delivery: `left` alerts left out, `delivered` sent. */
export function truncatedReason(left: number, delivered: number): string {
  return `Alertmanager sent ${delivered} alert${delivered === 1 ? '' : 's'} and left ${left} out of one notification (its webhook max_alerts): rectify never saw them; raise max_alerts (0 is no limit) and look at the group in Alertmanager`;
}

/** How long a window of truncation notices told one by one lasts. */
export const TRUNCATION_WINDOW_MS = 60_000;
/** Alertmanager groups whose truncation is told one by one in a window, at most; the rest are summed up. */
export const TRUNCATIONS_TOLD_PER_WINDOW = 10;

/** A truncation taken to be told one by one, from the window it was counted in (see giveBack). */
export interface TruncationTake {
  readonly key: string;
  readonly window: object;
}

export interface TruncationBudget {
  /**
   * Whether the truncation of the group `key` (its receiver and group key) is told one
   * by one, its audit row recording the notification: the group's first in the window,
   * and one of the window's first TRUNCATIONS_TOLD_PER_WINDOW groups. Undefined: it is
   * told as a `manual` notification, which the repeat filter sums up in a storm.
   */
  take(key: string, now: number): TruncationTake | undefined;
  /** A take whose audit row was never committed: its place in the window is free again. */
  giveBack(take: TruncationTake): void;
}

/**
 * Which Alertmanager notifications cut short (ALERTS_TRUNCATED) are told one by one. Such
 * a notice is recorded in its audit row, gets later rounds while a receiver is down, and
 * is told again after a crash (notify/outbox.ts): it must stay a rare row, as the other
 * events told one by one are. A group is notified again every group_interval, and a storm
 * can cut short many groups at once, so per window (a minute) each group is told one by
 * one once, and TRUNCATIONS_TOLD_PER_WINDOW groups at most; the others are told as a
 * `manual` notification, summed up by the repeat filter, recording nothing (every one is
 * audited and counted all the same). The window holds at most that many keys, whatever
 * the senders post.
 */
export function createTruncationBudget(opts: { windowMs?: number; groups?: number } = {}): TruncationBudget {
  const windowMs = opts.windowMs ?? TRUNCATION_WINDOW_MS;
  const groups = opts.groups ?? TRUNCATIONS_TOLD_PER_WINDOW;
  let window: { startedAt: number; told: Set<string> } | undefined;
  return {
    take(group, now) {
      // A long group key (a receiver and group key of any length, up to the body limit) is
      // kept as its digest: the window compares keys only, and ten of them were megabytes.
      const key = group.length > 256 ? `\u0000sha256:${createHash('sha256').update(group).digest('base64url')}` : group;
      // A clock stepped back ends the window too: timed from its start alone, every
      // truncation would be summed for the whole step.
      if (!window || now < window.startedAt || now - window.startedAt >= windowMs) window = { startedAt: now, told: new Set() };
      if (window.told.has(key) || window.told.size >= groups) return undefined;
      window.told.add(key);
      return { key, window };
    },
    giveBack(take) {
      // Only from the window it was counted in: a later window counts its own.
      if (take.window === window) window.told.delete(take.key);
    },
  };
}

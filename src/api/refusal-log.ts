import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';

/** Why a request carried no valid token: the key its refusals are told under, with the sender's address. */
export type UnauthenticatedReason = 'no_token' | 'malformed_header' | 'invalid_token';

export interface UnauthenticatedRefusal {
  reason: UnauthenticatedReason;
  /** What the sender is answered (and the log says): the fix. */
  why: string;
  /** `METHOD /route` (its template, or the path of a request no route matched). */
  route: string;
  reqId: string;
  /** The peer's address (the socket's: no proxy header is trusted). */
  address: string;
}

export interface UnauthenticatedLogOptions {
  /** Per reason and address, at most one line in this long (default a minute); the rest are counted into the next. */
  windowMs?: number;
  /** Most reason-and-address keys held (default 1,000); past it a new address is counted under `*` with its reason. */
  maxKeys?: number;
}

interface Held {
  reason: UnauthenticatedReason;
  why: string;
  /** The address, or `*`: the addresses that came once the keys were all taken. */
  address: string;
  /** When its window began (monotonic ms). */
  from: number;
  /** Refused in this window, and only counted. */
  untold: number;
  lastRoute: string;
}

/**
 * The log of requests refused 401 (no token, a malformed Authorization header, a token
 * that is not valid), at most one line per reason and sender address per window. A
 * scanner or a sender with a wrong token is answered at request rate; each refusal told
 * would flood the log at that rate. The first refusal of a reason from an address is
 * told at once; the ones after it within the window are counted, and told in one line
 * when the window ends ("N more …"), which starts another window: a flood that goes on
 * is one line a window, and a window with none ends it (the next one is told at once).
 * At most `maxKeys` addresses are held (and one `*` per reason beyond them), so a flood
 * from many addresses holds bounded memory and writes at most a line a window per reason
 * for all of them. The answers are not touched.
 */
export function createUnauthenticatedLog(log: Logger, opts: UnauthenticatedLogOptions = {}): { refused(r: UnauthenticatedRefusal): void; close(): void } {
  const windowMs = opts.windowMs ?? 60_000;
  const maxKeys = opts.maxKeys ?? 1_000;
  const seconds = `${windowMs / 1000}`;
  // In the order their windows began: the first ends first.
  const held = new Map<string, Held>();
  let timer: NodeJS.Timeout | null = null;

  function arm(): void {
    if (timer !== null) return;
    const first = held.values().next();
    if (first.done) return;
    timer = setTimeout(sweep, Math.max(0, first.value.from + windowMs - performance.now()));
    timer.unref();
  }

  function sweep(): void {
    timer = null;
    const at = performance.now();
    for (const [key, h] of held) {
      if (at - h.from < windowMs) break;
      end(key, h, at);
    }
    arm();
  }

  /** The window of `h` is over: its count told, and another window begun while refusals go on. */
  function end(key: string, h: Held, at: number): void {
    held.delete(key);
    if (h.untold === 0) return;
    log.warn(
      { reason: h.why, remote_address: h.address, more: h.untold, window_s: windowMs / 1000, last_route: h.lastRoute },
      `${h.untold} more requests refused: not authenticated, in the last ${seconds} s`,
    );
    held.set(key, { ...h, from: at, untold: 0 });
  }

  return {
    refused(r: UnauthenticatedRefusal): void {
      const at = performance.now();
      let key = `${r.reason} ${r.address}`;
      let address = r.address;
      if (!held.has(key) && held.size >= maxKeys) {
        key = `${r.reason} *`;
        address = '*';
      }
      let h = held.get(key);
      // Its window is over and the timer has not run yet: ended here.
      if (h && at - h.from >= windowMs) {
        end(key, h, at);
        h = held.get(key);
      }
      if (h) {
        h.untold++;
        h.lastRoute = r.route;
        return;
      }
      log.warn({ route: r.route, reqId: r.reqId, reason: r.why, remote_address: r.address }, 'request refused: not authenticated');
      held.set(key, { reason: r.reason, why: r.why, address, from: at, untold: 0, lastRoute: r.route });
      arm();
    },
    /** At a stop: what was counted and not yet told is told now. */
    close(): void {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      const at = performance.now();
      for (const [key, h] of [...held]) end(key, h, at);
      held.clear();
    },
  };
}

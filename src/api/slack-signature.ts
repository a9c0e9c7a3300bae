import crypto from 'node:crypto';

/**
 * Slack request signing (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + raw body)>`
 * with `X-Slack-Request-Timestamp` in seconds. A request is accepted only when the
 * signature matches (compared in constant time), its timestamp is within five
 * minutes of now, and the same signature has not been accepted before: a captured
 * request replayed a minute later is refused, and one replayed an hour later is stale.
 *
 * The signatures accepted are remembered in memory only, so a process does not know those
 * its predecessor accepted: a request signed before this process started (`startedAtMs`,
 * once the database is its own, the previous process gone) is refused as stale, since it
 * may have been received before the restart. A click signed in the very second rectify
 * started is refused too (a timestamp is whole seconds): the person clicks again.
 */

export const SLACK_WINDOW_MS = 5 * 60_000;

export type SignatureCheck = { ok: true } | { ok: false; status: 401 | 409; message: string };

export interface SlackVerifier {
  verify(headers: { timestamp: string | undefined; signature: string | undefined }, rawBody: string, nowMs: number): SignatureCheck;
  /** Signatures remembered for replay protection (for tests and metrics). */
  remembered(): number;
  /** A rotated signing secret (SIGHUP): requests signed with the old one are refused from now on; replays stay remembered. */
  replaceSecret(signingSecret: string): void;
}

const SIGNATURE_RE = /^v0=[0-9a-f]{64}$/;

export function createSlackVerifier(initialSecret: string, startedAtMs: number): SlackVerifier {
  let signingSecret = initialSecret;
  // Signature → the time after which its timestamp is stale anyway and it can be forgotten.
  const seen = new Map<string, number>();

  function forgetStale(nowMs: number): void {
    for (const [sig, until] of seen) if (until < nowMs) seen.delete(sig);
  }

  return {
    verify({ timestamp, signature }, rawBody, nowMs) {
      if (timestamp === undefined || signature === undefined) {
        return { ok: false, status: 401, message: 'not signed by Slack: X-Slack-Request-Timestamp and X-Slack-Signature are required' };
      }
      if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, status: 401, message: 'X-Slack-Request-Timestamp must be whole seconds since the epoch' };
      const atMs = Number(timestamp) * 1000;
      if (Math.abs(nowMs - atMs) > SLACK_WINDOW_MS) {
        return { ok: false, status: 401, message: 'stale Slack request: its timestamp is more than 5 minutes from now (check the clock, or it is a replay)' };
      }
      if (atMs < startedAtMs) {
        return {
          ok: false,
          status: 401,
          message: `stale Slack request: signed before rectify started (${new Date(startedAtMs).toISOString()}), it may have been received before the restart, and a replay is not carried out again: click again`,
        };
      }
      if (!SIGNATURE_RE.test(signature)) return { ok: false, status: 401, message: 'X-Slack-Signature must be v0=<64 hex digits>' };
      const expected = crypto.createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`, 'utf8').digest();
      const given = Buffer.from(signature.slice(3), 'hex');
      if (!crypto.timingSafeEqual(expected, given)) return { ok: false, status: 401, message: 'the Slack signature does not match this request' };
      forgetStale(nowMs);
      // Remembered before the action is carried out, so two copies arriving together cannot both pass.
      if (seen.has(signature)) return { ok: false, status: 409, message: 'this Slack request was already received: a replay is not carried out again' };
      seen.set(signature, atMs + SLACK_WINDOW_MS);
      return { ok: true };
    },
    remembered: () => seen.size,
    replaceSecret(next) {
      signingSecret = next;
    },
  };
}

/** What Slack would send: for tests and for anyone checking their setup by hand. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string): string {
  return `v0=${crypto.createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`, 'utf8').digest('hex')}`;
}

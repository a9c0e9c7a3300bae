import { createHmac } from 'node:crypto';

/** The kinds of receiver, as their names begin. */
export type ReceiverKind = 'webhook' | 'slack';

/** Hex digits of the hash in a receiver's name: two URLs alike once in 4 billion, and nothing more said of them. */
const HASH_DIGITS = 8;
const HASHED = new RegExp(` #[0-9a-f]{${HASH_DIGITS}}$`);

/**
 * A receiver's name: what the audit log and the logs call it, and what the outbox knows
 * it by (the receivers a notification was told to, and whose deliveries settle it).
 * Its kind, what of its URL is not secret (a webhook's origin, a Slack webhook's host:
 * the path or query of either can be the credential), and a short hash of the whole
 * URL: `slack hooks.slack.com #1a2b3c4d`.
 *
 * The hash is what tells two URLs on one host apart. Every Slack incoming webhook is on
 * hooks.slack.com: named by host alone, a webhook re-pointed to another channel was the
 * same receiver, so the new channel was told the old one's news again and a delivery to
 * the old one counted for it. The hash is keyed (`key`: random, kept in the database):
 * a plain hash would let a reader of the audit log, or of an export of it, try guesses
 * of a short token in the URL.
 */
export function receiverName(kind: ReceiverKind, url: string, key: string): string {
  const u = new URL(url);
  const shown = kind === 'webhook' ? u.origin : u.host;
  const hash = createHmac('sha256', key).update(u.href).digest('hex').slice(0, HASH_DIGITS);
  return `${kind} ${shown} #${hash}`;
}

/**
 * The name rectify gave the same receiver before names carried the hash (its kind and
 * host only), which rows written then record; undefined for a name without the hash.
 */
export function hostOnlyName(name: string): string | undefined {
  return HASHED.test(name) ? name.replace(HASHED, '') : undefined;
}

import { randomBytes } from 'node:crypto';

/**
 * Time-sortable unique ids (ULID layout: 48-bit time + 80-bit randomness, Crockford
 * base32). Sortable ids keep the audit log and listings in creation order without
 * a second index, and the randomness makes them unguessable for approval links.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: Uint8Array = new Uint8Array(10);

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits -> 16 base32 characters.
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** Monotonic within one process: ids made in the same millisecond still sort. */
export function ulid(nowMs: number = Date.now()): string {
  if (nowMs <= lastTime) {
    // Same (or earlier) millisecond: increment the random part instead of drawing anew.
    const next = new Uint8Array(lastRandom);
    for (let i = next.length - 1; i >= 0; i--) {
      if (next[i]! < 255) {
        next[i]! += 1;
        break;
      }
      next[i] = 0;
    }
    lastRandom = next;
    return encodeTime(lastTime) + encodeRandom(next);
  }
  lastTime = nowMs;
  lastRandom = new Uint8Array(randomBytes(10));
  return encodeTime(nowMs) + encodeRandom(lastRandom);
}

export function newId(prefix: string, nowMs?: number): string {
  return `${prefix}_${ulid(nowMs)}`;
}

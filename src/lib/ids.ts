import { randomFillSync } from 'node:crypto';

/**
 * Time-sortable unique ids (ULID layout: 48-bit time + 80-bit randomness, Crockford
 * base32). Sortable ids keep the audit log and listings in creation order without
 * a second index, and the randomness makes them unguessable for approval links.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

let lastTime = -1;
const lastRandom = new Uint8Array(10);

/**
 * An id is written into this buffer and read out as one string: an alert storm makes
 * an id per alert, and building it a character at a time made some forty strings of
 * garbage each. Bytes 0–9 are the time (rewritten only when the millisecond changes),
 * 10–25 the randomness.
 */
const text = Buffer.alloc(26);

function encodeTime(ms: number): void {
  let t = ms;
  for (let i = 9; i >= 0; i--) {
    text[i] = CODES[t % 32]!;
    t = Math.floor(t / 32);
  }
}

function encodeRandom(bytes: Uint8Array): void {
  // 80 bits -> 16 base32 characters.
  let acc = 0;
  let bits = 0;
  let at = 10;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      text[at++] = CODES[(acc >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
}

/** Monotonic within one process: ids made in the same millisecond still sort. */
export function ulid(nowMs: number = Date.now()): string {
  if (nowMs <= lastTime) {
    // Same (or earlier) millisecond: increment the random part instead of drawing anew.
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      if (lastRandom[i]! < 255) {
        lastRandom[i]! += 1;
        break;
      }
      lastRandom[i] = 0;
    }
  } else {
    lastTime = nowMs;
    encodeTime(nowMs);
    randomFillSync(lastRandom);
  }
  encodeRandom(lastRandom);
  return text.toString('latin1', 0, 26);
}

export function newId(prefix: string, nowMs?: number): string {
  return `${prefix}_${ulid(nowMs)}`;
}

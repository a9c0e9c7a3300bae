import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId, ulid } from '../../src/lib/ids.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const decodeTime = (id: string): number => [...id.slice(0, 10)].reduce((t, c) => t * 32 + CROCKFORD.indexOf(c), 0);
/** The 80 random bits as a number of base-32 digits, for comparing consecutive ids. */
const randomPart = (id: string): bigint => [...id.slice(10)].reduce((n, c) => n * 32n + BigInt(CROCKFORD.indexOf(c)), 0n);

test('an id is its prefix, then 26 Crockford base-32 characters: the time in milliseconds, then 80 random bits', () => {
  const at = Date.UTC(2026, 11, 6, 2, 10, 0, 123);
  const id = newId('inc', at + 1_000_000);
  assert.match(id, /^inc_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(decodeTime(id.slice(4)), at + 1_000_000);
  // A later millisecond draws new randomness and sorts after.
  const later = newId('exe', at + 1_000_001);
  assert.match(later, /^exe_/);
  assert.equal(decodeTime(later.slice(4)), at + 1_000_001);
  assert.ok(later.slice(4) > id.slice(4));
});

test('ids made in one millisecond (or a clock set back) keep its time and count up by one, so they still sort', () => {
  const at = Date.UTC(2026, 11, 6, 3, 0, 0, 0) + 5_000_000;
  const ids = [ulid(at), ...Array.from({ length: 2_000 }, () => ulid(at)), ulid(at - 10_000)];
  for (const id of ids) assert.equal(decodeTime(id), at);
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i]! > ids[i - 1]!, `${ids[i]} sorts after ${ids[i - 1]}`);
    // One more than the one before, the last bytes carrying into the ones before them.
    assert.equal(randomPart(ids[i]!) - randomPart(ids[i - 1]!), 1n);
  }
  assert.equal(new Set(ids).size, ids.length);
  // The strings returned stay as they were: a later id does not change an earlier one.
  const first = ids[0]!;
  ulid(at + 1);
  assert.equal(decodeTime(first), at);
});

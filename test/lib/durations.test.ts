import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration } from '../../src/lib/index.js';

describe('formatDuration', () => {
  it('never rounds up: a part of a second is written out below an hour, minutes floored above', () => {
    const cases: Array<[number, string]> = [
      [0, '0ms'],
      [250, '250ms'],
      [999.6, '999ms'],
      [1000, '1s'],
      [1500, '1.5s'],
      [59_600, '59.6s'],
      [59_999, '59.999s'],
      [60_000, '1m'],
      [90_000, '1m30s'],
      [90_250, '1m30.25s'],
      [3_599_999, '59m59.999s'],
      [3_600_000, '1h'],
      [5_399_999, '1h29m'],
      [5_400_000, '1h30m'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  });
});

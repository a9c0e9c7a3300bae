import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationHint, formatDuration, parseDuration } from '../../src/lib/index.js';

describe('formatDuration', () => {
  it('never rounds up nor cuts short: what is left under the largest unit is written out, to the millisecond', () => {
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
      [3_600_500, '1h0m0.5s'],
      [3_601_000, '1h0m1s'],
      [3_629_600, '1h0m29.6s'],
      [3_630_000, '1h0m30s'],
      [3_660_000, '1h1m'],
      [3_660_500, '1h1m0.5s'],
      [5_399_999, '1h29m59.999s'],
      [5_400_000, '1h30m'],
      [7_200_000, '2h'],
      [9_000_000, '2h30m'],
      [86_400_000, '24h'],
      [90_061_000, '25h1m1s'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  });
});

describe('parseDuration', () => {
  it('takes each unit at most once, largest first, as Prometheus does', () => {
    const ok: Array<[string, number]> = [
      ['250ms', 250],
      ['30s', 30_000],
      ['1h30m', 5_400_000],
      ['1d2h3m4s5ms', 93_784_005],
      ['1m1ms', 60_001],
      [' 5m ', 300_000],
      ['0s', 0],
    ];
    for (const [text, ms] of ok) assert.equal(parseDuration(text), ms, text);
    for (const text of ['1m1m', '30m1h', '1s1m', '5ms1s', '1h2d', '', '1', 'm', '1.5s', '1 m']) assert.equal(parseDuration(text), undefined, text);
  });

  it('durationHint says what a refused one written out of order adds up to, and nothing for anything else', () => {
    assert.equal(durationHint('30m1h'), ' (each unit at most once, largest first; this adds up to 1h30m)');
    assert.equal(durationHint('1m1m'), ' (each unit at most once, largest first; this adds up to 2m)');
    assert.equal(durationHint('0s0s'), ' (each unit at most once, largest first; this adds up to 0s)');
    for (const v of ['1h30m', 'soon', '', 3600, undefined]) assert.equal(durationHint(v), '', String(v));
  });
});

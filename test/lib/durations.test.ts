import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationHint, formatDuration, parseDuration } from '../../src/lib/index.js';

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

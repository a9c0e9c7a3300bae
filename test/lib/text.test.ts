import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { printable, readable, readableCut, readableWithin } from '../../src/lib/index.js';

describe('text shown to people', () => {
  it('readable: line breaks and tabs one space, other controls and invisible characters as escapes; it takes one argument (Array.map passes the index as a second)', () => {
    assert.deepEqual(['ab\u0000cd', 'e\u200b'].map(readable), [String.raw`ab\u0000cd`, String.raw`e\u200b`]);
    assert.equal(readable('a\r\n\tb\u2028c\u0085d'), 'a b c d');
    assert.equal(readable('shop\u0000\u001b[2J\u007f\u009b\u200b\u202e'), String.raw`shop\u0000\u001b[2J\u007f\u009b\u200b\u202e`);
  });

  it('readableCut: cut before the escapes are written, never inside a surrogate pair', () => {
    assert.equal(readableCut('abcdef', 6), 'abcdef');
    assert.equal(readableCut('abcdefg', 6), 'abcde…');
    // A hidden character costs one of the six, and its escape is whole.
    assert.equal(readableCut('ab\u0000cdefg', 6), String.raw`ab\u0000cd…`);
    // 😀 is two UTF-16 units: a cut after its first would leave a lone surrogate.
    assert.equal(readableCut('ab😀cd', 4), 'ab…');
    assert.equal(readableCut('ab😀cd', 5), 'ab😀…');
  });

  it('readableWithin: fits the limit after the escapes are written, and never ends inside an escape or a surrogate pair', () => {
    assert.equal(readableWithin('abc', 3), 'abc');
    // "ab\u0000" is 8 characters: a limit of 5 to 7 would cut the escape; the whole of it goes.
    for (const max of [2, 3, 4, 5, 6, 7]) assert.equal(readableWithin('ab\u0000cd', max), 'ab', String(max));
    assert.equal(readableWithin('ab\u0000cd', 8), String.raw`ab\u0000`);
    assert.equal(readableWithin('ab😀cd', 3), 'ab');
    assert.equal(readableWithin('ab😀cd', 4), 'ab😀');
  });

  it('printable: keeps line feeds and tabs, escapes every other control and the line separators; a JSON document stays the same document', () => {
    assert.equal(printable('a\nb\tc\rd\u2028e'), 'a\nb\tc' + String.raw`\u000dd\u2028e`);
    const doc = JSON.stringify({ service: 'shop\u007f\u009b\u2028\u200b', n: 1 }, null, 2);
    assert.deepEqual(JSON.parse(printable(doc)), JSON.parse(doc));
    assert.ok(!/[\u007f-\u009f\u2028\u200b]/.test(printable(doc)));
  });
});

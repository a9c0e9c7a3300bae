import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { printable, readable } from '../../src/lib/index.js';

describe('text shown to people', () => {
  it('readable: line breaks and tabs one space, other controls and invisible characters as escapes', () => {
    assert.equal(readable('a\r\n\tb\u2028c\u0085d'), 'a b c d');
    assert.equal(readable('shop\u0000\u001b[2J\u007f\u009b\u200b\u202e'), String.raw`shop\u0000\u001b[2J\u007f\u009b\u200b\u202e`);
  });

  it('readable with a length: cut before the escapes are written, never inside a surrogate pair', () => {
    assert.equal(readable('abcdef', 6), 'abcdef');
    assert.equal(readable('abcdefg', 6), 'abcde…');
    // A hidden character costs one of the six, and its escape is whole.
    assert.equal(readable('ab\u0000cdefg', 6), String.raw`ab\u0000cd…`);
    // 😀 is two UTF-16 units: a cut after its first would leave a lone surrogate.
    assert.equal(readable('ab😀cd', 4), 'ab…');
    assert.equal(readable('ab😀cd', 5), 'ab😀…');
  });

  it('printable: keeps line feeds and tabs, escapes every other control and the line separators; a JSON document stays the same document', () => {
    assert.equal(printable('a\nb\tc\rd\u2028e'), 'a\nb\tc' + String.raw`\u000dd\u2028e`);
    const doc = JSON.stringify({ service: 'shop\u007f\u009b\u2028\u200b', n: 1 }, null, 2);
    assert.deepEqual(JSON.parse(printable(doc)), JSON.parse(doc));
    assert.ok(!/[\u007f-\u009f\u2028\u200b]/.test(printable(doc)));
  });
});

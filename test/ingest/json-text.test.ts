import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { invalidUtf8At, jsonFault, refusedCharset } from '../../src/ingest/index.js';

describe('reading a JSON body: charset, UTF-8 and where JSON stops', () => {
  it('refusedCharset: only UTF-8 (utf-8, utf8, any case, quoted) and US-ASCII are read; no charset is UTF-8', () => {
    for (const ct of [undefined, 'application/json', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json; charset=utf8', 'application/json; charset=US-ASCII', 'application/json;;;x', 'application/json; foo=bar']) {
      assert.equal(refusedCharset(ct), undefined, ct);
    }
    assert.equal(refusedCharset('application/json; charset=utf-16'), 'utf-16');
    assert.equal(refusedCharset('application/json; charset=Latin1'), 'latin1');
    assert.equal(refusedCharset('application/json; charset=utf-8; charset=utf-16'), 'utf-16');
    assert.equal(refusedCharset('application/json; charset='), '');
  });

  it('invalidUtf8At: the first byte that does not begin or continue a UTF-8 character', () => {
    assert.equal(invalidUtf8At(Buffer.from('{"é":"名前😀"}')), -1);
    assert.equal(invalidUtf8At(Buffer.from([0x61, 0xff])), 1);
    assert.equal(invalidUtf8At(Buffer.from([0x61, 0xe9, 0x62])), 1); // latin1 é
    assert.equal(invalidUtf8At(Buffer.from([0xc0, 0x80])), 0); // overlong
    assert.equal(invalidUtf8At(Buffer.from([0x61, 0x62, 0xed, 0xa0, 0x80])), 2); // a surrogate
    assert.equal(invalidUtf8At(Buffer.from([0xf4, 0x90, 0x80, 0x80])), 0); // past U+10FFFF
    assert.equal(invalidUtf8At(Buffer.from([0x61, 0xe2, 0x82])), 1); // cut short
  });

  it('jsonFault: undefined for JSON, else the offset, line and column of the fault and what was expected', () => {
    for (const ok of ['{}', '[]', '0', '-1.5e+3', '"\\u00e9\\n"', ' {"a":[true,false,null,{"b":{}}]} ', '\n[1,\n2]\n']) {
      JSON.parse(ok);
      assert.equal(jsonFault(ok), undefined, ok);
    }
    const at = (text: string) => {
      assert.throws(() => JSON.parse(text));
      const f = jsonFault(text)!;
      return [f.offset, f.line, f.column, f.message];
    };
    const value = 'expected a value (an object, array, string, number, true, false or null)';
    assert.deepEqual(at(''), [0, 1, 1, `${value}; the body ends there`]);
    assert.deepEqual(at('{"a":}'), [5, 1, 6, `${value}; found "}"`]);
    assert.deepEqual(at('{"a":1} x'), [8, 1, 9, 'expected the end of the body after the JSON document; found "x"']);
    assert.deepEqual(at('{"a":1'), [6, 1, 7, 'expected , or }; the body ends there']);
    assert.deepEqual(at('[1,2}'), [4, 1, 5, 'expected , or ]; found "}"']);
    assert.deepEqual(at('{"a":1,}'), [7, 1, 8, 'expected a property name in double quotes; found "}"']);
    assert.deepEqual(at('{"a" 1}'), [5, 1, 6, 'expected : after the property name; found "1"']);
    assert.deepEqual(at('{\n  "a": 01\n}'), [10, 2, 9, 'expected , or }; found "1"']);
    assert.deepEqual(at('["a\u0001"]'), [3, 1, 4, 'a control character must be escaped inside a string; found "\\u0001"']);
    assert.deepEqual(at('["\\x"]'), [3, 1, 4, 'expected an escape (\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\u and four hex digits); found "x"']);
    assert.deepEqual(at('["\\u12G4"]'), [6, 1, 7, 'expected four hex digits after \\u; found "G"']);
    assert.deepEqual(at('[1.]'), [3, 1, 4, 'expected a digit after the decimal point; found "]"']);
    assert.deepEqual(at('[1e]'), [3, 1, 4, 'expected a digit in the exponent; found "]"']);
    assert.deepEqual(at('["abc'), [5, 1, 6, 'expected the string to be closed with "; the body ends there']);
    assert.deepEqual(at('[tru]'), [1, 1, 2, `${value}; found "t"`]);
    // Deep nesting is a loop.
    assert.deepEqual(at(`${'['.repeat(100_000)}}`).slice(0, 1), [100_000]);
  });
});

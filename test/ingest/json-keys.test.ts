import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { duplicateKey, duplicateKeyDetail } from '../../src/ingest/index.js';

/** The scan reads only what JSON.parse accepted: every case is checked to be JSON first. */
const scan = (text: string) => {
  JSON.parse(text);
  return duplicateKey(text);
};

describe('duplicateKey: a key given twice in one object', () => {
  it('finds it at the top, in nested objects and in arrays of objects, with its path', () => {
    assert.deepEqual(scan('{"a":1,"a":2}'), ['a']);
    assert.deepEqual(scan('{"x":{"y":{"b":1,"c":2,"b":3}}}'), ['x', 'y', 'b']);
    assert.deepEqual(scan('{"alerts":[{"labels":{"n":"a"}},{"labels":{"n":"a"}},{"labels":{"m":1}},{"labels":{"namespace":"kube-system","namespace":"production"}}]}'), ['alerts', 3, 'labels', 'namespace']);
    assert.deepEqual(scan('[[1,2],[3,{"k":1,"k":1}]]'), [1, 1, 'k']);
    // The same value twice is still a key given twice.
    assert.deepEqual(scan('{"dry_run":true,"dry_run":true}'), ['dry_run']);
    // The first of several is named.
    assert.deepEqual(scan('{"a":{"b":1,"b":2},"a":3}'), ['a', 'b']);
  });

  it('the same key in sibling objects, or in an object and the one it holds, is no duplicate', () => {
    assert.equal(scan('{"alerts":[{"labels":{"a":1,"b":2}},{"labels":{"a":1,"b":2}}],"labels":{"a":1}}'), undefined);
    assert.equal(scan('{"a":{"a":{"a":1}}}'), undefined);
    assert.equal(scan('[{"a":1},{"a":1},{"a":{"a":1}}]'), undefined);
    assert.equal(scan('{}'), undefined);
    assert.equal(scan('[]'), undefined);
    assert.equal(scan('"a"'), undefined);
    assert.equal(scan('42'), undefined);
    assert.equal(scan('{"ab":1,"ba":2,"a":3,"b":4,"abc":5,"abd":6}'), undefined);
  });

  it('keys are compared unescaped: "a" and "\\u0061" are one key, whether the escaped one comes first or last', () => {
    assert.deepEqual(scan('{"a":1,"\\u0061":2}'), ['a']);
    assert.deepEqual(scan('{"\\u0061":1,"a":2}'), ['a']);
    assert.deepEqual(scan('{"x":{"\\u0061":1,"\\u0061":2}}'), ['x', 'a']);
    assert.deepEqual(scan('{"a\\"b":1,"a\\u0022b":2}'), ['a"b']);
    assert.deepEqual(scan('{"\\/":1,"/":2}'), ['/']);
    // An escaped key that is another key is not the same key.
    assert.equal(scan('{"a":1,"\\u0062":2,"\\\\a":3}'), undefined);
    // The escaped key on the way down is named decoded.
    assert.deepEqual(scan('{"l\\u0061bels":{"k":1,"k":2}}'), ['labels', 'k']);
  });

  it('unicode keys: the same characters are the same key, written plainly or escaped (a surrogate pair too)', () => {
    assert.deepEqual(scan('{"é":1,"\\u00e9":2}'), ['é']);
    assert.deepEqual(scan('{"名前":1,"名前":2}'), ['名前']);
    assert.deepEqual(scan('{"😀":1,"\\ud83d\\ude00":2}'), ['😀']);
    // e + a combining accent is not é: JSON compares code units, and so does rectify.
    assert.equal(scan('{"é":1,"e\\u0301":2}'), undefined);
  });

  it('strings that look like structure are read as strings, keys and values alike', () => {
    assert.deepEqual(scan('{"a{,}":1,"b":{"a{,}":2},"a{,}":3}'), ['a{,}']);
    assert.equal(scan('{"a{":"}","b":"{\\"b\\":1,","c":"[","d":"\\\\","e":"\\\\\\""}'), undefined);
    assert.deepEqual(scan('{"v":"\\\\","k":"\\"","k":1}'), ['k']);
    assert.deepEqual(scan('{"s":"a,\\"k\\":","k":1,"k":2}'), ['k']);
    assert.equal(scan('{"k":"\\",\\"k\\":1"}'), undefined);
  });

  it('whitespace anywhere JSON allows it', () => {
    assert.deepEqual(scan(' {\n "a" : 1 ,\r\n\t"b" : [ { "c" : 1 , "c" : 2 } ] } '), ['b', 0, 'c']);
  });

  it('objects of many keys (compared through a set past the first sixteen) and escapes among them', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
    assert.equal(scan(`{${keys.join(',')}}`), undefined);
    assert.deepEqual(scan(`{${keys.join(',')},"k3":0}`), ['k3']);
    assert.deepEqual(scan(`{${keys.join(',')},"\\u006b39":0}`), ['k39']);
    assert.deepEqual(scan(`{"x":[{${keys.join(',')}},{${keys.slice(0, 20).join(',')},"k19":1}]}`), ['x', 1, 'k19']);
  });

  it('depth: 10,000 nested arrays and objects are a loop, not a stack overflow', () => {
    const depth = 10_000;
    const nested = `${'[{"a":'.repeat(depth)}1${'}]'.repeat(depth)}`;
    assert.equal(scan(nested), undefined);
    const twice = `${'{"a":'.repeat(depth)}{"z":1,"z":2}${'}'.repeat(depth)}`;
    const path = scan(twice);
    assert.equal(path?.length, depth + 1);
    assert.equal(path?.at(-1), 'z');
    assert.equal(path?.[0], 'a');
  });

  it('the detail names the path as the API names a field', () => {
    assert.deepEqual(duplicateKeyDetail('body', ['alerts', 3, 'labels', 'namespace']), {
      path: 'body.alerts.3.labels.namespace',
      message: 'the key "namespace" is given twice in one object: which value is meant cannot be told; send each key once',
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detailsText } from '../../src/store/sqlite/tx.js';

/**
 * An audit row's details are hashed as the stored JSON text: the text a storm's decision
 * rows share, remembered by their reason, service and root cause, must be byte for byte
 * what JSON.stringify gives, whatever the values, and anything not of that shape must be
 * stringified as it is.
 */
describe('audit details text', () => {
  it('is JSON.stringify of the details, remembered or not', () => {
    const cases: Array<Record<string, unknown> | undefined> = [
      undefined,
      {},
      { reason: 'Rate limit exceeded (5/hour)', service: 'svc-0001', root_cause: 'KubePodCrashLooping' },
      { reason: 'quote " backslash \\ newline \n tab \t', service: 'é ü 漢字 😀', root_cause: 'control \u0001 \u001f del \u007f' },
      { reason: 'lone \ud800 surrogate', service: 'trail \udc00', root_cause: '\u2028\u2029' },
      { reason: '', service: '', root_cause: '' },
      // Another order, extra or missing keys, values that are not strings: stringified as given.
      { service: 'a', reason: 'b', root_cause: 'c' },
      { reason: 'a', root_cause: 'c', service: 'b' },
      { reason: 'a', service: 'b', root_cause: 'c', approval_id: 'apr_1' },
      { reason: 'a', service: 'b' },
      { reason: 'a', service: 'b', root_cause: 1 },
      { reason: 'a', service: null, root_cause: 'c' },
      { reason: 'a', service: 'b', root_cause: undefined },
      { reason: 'a', service: 'b', root_cause: 'c', toJSON: () => 'x' },
      { 1: 'x', reason: 'a', service: 'b', root_cause: 'c' },
    ];
    for (let round = 0; round < 2; round++) {
      for (const d of cases) assert.equal(detailsText(d), JSON.stringify(d ?? {}), `round ${round}: ${JSON.stringify(d)}`);
    }
  });

  it('an object that is not plain data is stringified as it is, and leaves nothing remembered for the plain one after it', () => {
    class WithToJSON {
      reason = 'ta';
      service = 'tb';
      root_cause = 'tc';
      toJSON() {
        return { x: 1 };
      }
    }
    let reads = 0;
    const getter = {
      get reason() {
        return `g${++reads}`;
      },
      service: 'gb',
      root_cause: 'gc',
    };
    const hidden = Object.defineProperty({ reason: 'ha', service: 'hb', root_cause: 'hc' }, 'toJSON', { value: () => 'hidden', enumerable: false });
    for (const d of [new WithToJSON(), getter, hidden] as Array<Record<string, unknown>>) {
      reads = 0;
      const text = detailsText(d);
      reads = 0;
      assert.equal(text, JSON.stringify(d));
    }
    // The plain objects with the same three values get their own text, not the one above.
    for (const d of [{ reason: 'ta', service: 'tb', root_cause: 'tc' }, { reason: 'g1', service: 'gb', root_cause: 'gc' }, { reason: 'ha', service: 'hb', root_cause: 'hc' }]) {
      assert.equal(detailsText(d), JSON.stringify(d));
    }
  });

  it('gives the text of the values asked for after many different ones', () => {
    for (let i = 0; i < 10_000; i++) {
      const d = { reason: `r${i % 7}`, service: `svc-${i}`, root_cause: `c${i % 3}` };
      assert.equal(detailsText(d), JSON.stringify(d));
    }
    for (let i = 0; i < 10_000; i += 997) {
      const d = { reason: `r${i % 7}`, service: `svc-${i}`, root_cause: `c${i % 3}` };
      assert.equal(detailsText(d), JSON.stringify(d));
    }
  });
});

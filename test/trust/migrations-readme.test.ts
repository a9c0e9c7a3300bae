import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';

/** migrations/README.md describes every migration the release applies, in number order, and none it does not. */
describe('migrations/README.md', () => {
  it('has one row per SQL file in migrations/sqlite, in number order', () => {
    const files = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    const rows = readFileSync(join(MIGRATIONS_DIR, '..', 'README.md'), 'utf8')
      .split('\n')
      .map((l) => /^\| `(\d{3}_[^`]+\.sql)` \| \S/.exec(l)?.[1])
      .filter((f): f is string => f !== undefined);
    assert.deepEqual(rows, files);
  });
});

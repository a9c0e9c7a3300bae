import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readTextFile, readTextFileAsync, unreadableFile } from '../../src/lib/index.js';

describe('a file that cannot be read is told in one wording', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-text-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const told = (path: string, hint?: string) => {
    const read = readTextFile(path, 16, 'a test file');
    assert.equal(read.ok, false);
    return unreadableFile(JSON.stringify(path), read as { message: string }, hint);
  };

  it('cannot read NAME: the errno code with its meaning, or what the file is; then the hint, where there is one', () => {
    const missing = join(dir, 'missing.yaml');
    assert.equal(told(missing), `cannot read ${JSON.stringify(missing)}: ENOENT (file not found)`);
    assert.equal(told(dir), `cannot read ${JSON.stringify(dir)}: is a directory`);
    assert.equal(told('/dev/zero', 'save it to a file'), 'cannot read "/dev/zero": is not a regular file (a FIFO, a socket or a device): save it to a file');
    const big = join(dir, 'big.yaml');
    writeFileSync(big, 'x'.repeat(17));
    assert.equal(told(big), `cannot read ${JSON.stringify(big)}: is larger than the 16 bytes a test file may be (17 bytes)`);
    const latin1 = join(dir, 'latin1.yaml');
    writeFileSync(latin1, Buffer.from([0x61, 0x0a, 0xe9]));
    assert.equal(told(latin1), `cannot read ${JSON.stringify(latin1)}: is not UTF-8 text: invalid bytes at line 2 (save the file as UTF-8)`);
  });
});

describe('a file whose stat gives no size', () => {
  it('is read whole, up to the limit: /proc files stat as 0 bytes', async () => {
    const path = '/proc/sys/kernel/random/boot_id';
    const text = readFileSync(path, 'utf8');
    assert.match(text, /^[0-9a-f-]{36}\n$/);
    assert.deepEqual(readTextFile(path, 64, 'a boot id'), { ok: true, text });
    assert.deepEqual(await readTextFileAsync(path, 64, 'a boot id'), { ok: true, text });
    const cut = readTextFile('/proc/self/status', 16, 'a status file');
    assert.deepEqual(cut, { ok: false, code: 'TOO_LARGE', message: 'is larger than the 16 bytes a status file may be (it grew while being read)' });
  });
});

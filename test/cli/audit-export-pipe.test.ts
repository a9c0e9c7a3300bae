import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { streamIO } from '../../src/cli/io.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

/** Rows the export reads per page (src/cli/audit-verify.ts). */
const PAGE = 1_000;

/**
 * `rectify audit export | slow-reader`: the pipe fills, and the export must wait for it to
 * drain before it reads the next page. It wrote every line at once instead, so a large log
 * piped to a slow reader was held in memory whole (about 1 GB for 500,000 rows).
 */
describe('rectify audit export into a pipe that is not read', () => {
  it('stops after the page that filled it, and goes on, every row in order, once it drains', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-export-pipe-'));
    const dbPath = join(dir, 'rectify.db');
    const store = openSqliteStore({ path: dbPath, migrationsDir: MIGRATIONS_DIR });
    const rows = 4 * PAGE + 321;
    await store.transact((tx) => {
      for (let i = 0; i < rows; i++) tx.appendAudit({ at: Date.UTC(2026, 11, 6) + i, event: 'SERVICE_PAUSED', actor: 'ops', details: { i, pad: 'x'.repeat(100) } });
    });
    store.close();

    // A pipe whose reader is paused: what is written waits in the stream's buffer.
    let paused = true;
    const held: Array<() => void> = [];
    const received: string[] = [];
    const pipe = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, done) {
        received.push(chunk.toString());
        if (paused) held.push(done);
        else done();
      },
    });
    const stderr: string[] = [];
    const errStream = new Writable({ write: (c: Buffer, _e, done) => void (stderr.push(c.toString()), done()) });
    const io = streamIO(pipe, errStream);
    let written = 0;
    const counted = { ...io, out: (l: string) => (written++, io.out(l)), env: {}, cwd: dir };
    let finished = false;
    const run = runCli(['audit', 'export', dbPath], counted).finally(() => (finished = true));

    // Without waiting for the pipe, each page costs one turn of the event loop: the whole
    // log would be written (and the command done) long before these turns are over.
    for (let turn = 0; turn < 50; turn++) await new Promise((ok) => setImmediate(ok));
    assert.equal(finished, false, 'the export waits for the pipe to drain');
    assert.equal(written, PAGE, 'one page read and written while the pipe is full, not the log');
    // A line is about 440 bytes: the whole log would be over 1.9 MB.
    assert.ok(pipe.writableLength < PAGE * 600, `buffered ${pipe.writableLength} bytes: a page, not the log`);

    paused = false;
    for (const done of held.splice(0)) done();
    assert.equal(await run, 0, stderr.join(''));
    const seqs = received.join('').trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(seqs, Array.from({ length: rows }, (_, i) => i + 1));
    rmSync(dir, { recursive: true, force: true });
  });
});

import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

/**
 * A process writing as `rectify serve` does, for tests that copy the database meanwhile:
 * the real store, holding the serve lock, commits audit rows without pause, two per
 * transaction (details `{ n, part: 1 }` and `{ n, part: 2 }`), so a copy that caught half
 * a transaction shows it. First `prefill` rows in large transactions, then prints
 * `ready <rows>`; on any input on stdin it stops and prints `done <rows>`.
 *
 *   node --import tsx test/helpers/audit-writer.ts <db> <prefill>
 */
const [path, prefillText] = process.argv.slice(2);
const store = openSqliteStore({ path: path!, migrationsDir: MIGRATIONS_DIR, lock: 'serve' });
let n = 0;
const pair = (tx: Parameters<Parameters<typeof store.transact>[0]>[0]): void => {
  n++;
  for (const part of [1, 2]) tx.appendAudit({ at: Date.now(), event: 'NOTIFIED', actor: 'writer', details: { n, part, pad: 'x'.repeat(200) } });
};
const prefill = Number(prefillText ?? 0);
while (n * 2 < prefill) await store.transact((tx) => { for (let i = 0; i < 2_500 && n * 2 < prefill; i++) pair(tx); });
let stopping = false;
process.stdin.once('data', () => (stopping = true));
process.stdout.write(`ready ${n * 2}\n`);
while (!stopping) {
  await store.transact(pair);
  // A turn of the event loop between commits, so stdin is heard.
  await new Promise((resolve) => setImmediate(resolve));
}
store.close();
process.stdout.write(`done ${n * 2}\n`);

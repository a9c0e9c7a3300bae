import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Another process holding the database's write lock (`BEGIN EXCLUSIVE`), as an
 * operator's `sqlite3` shell or a second program would: it goes on holding it while
 * this process's event loop is busy, which a connection opened in the test itself
 * could not (its release would wait for the same event loop). Released on `release()`,
 * or after `maxMs` at the latest so a failed test leaves nothing behind.
 */
export interface HeldLock {
  /** Rolls the transaction back and waits until the process is gone. */
  release(): Promise<void>;
  /** Whether the lock is still held (the holder has not ended it, nor reached `maxMs`). */
  held(): boolean;
}

const HOLDER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.pragma('busy_timeout = 5000');
db.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\\n');
const end = () => { try { db.exec('ROLLBACK'); db.close(); } finally { process.exit(0); } };
process.stdin.on('data', end);
process.stdin.on('end', end);
setTimeout(end, Number(process.argv[3]));
`;

export async function holdDatabaseLock(dbPath: string, maxMs = 20_000): Promise<HeldLock> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const child = spawn(process.execPath, ['-e', HOLDER, driver, dbPath, String(maxMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before it held the lock`)));
    child.stdout!.once('data', () => resolve());
  });
  return {
    async release() {
      if (child.exitCode === null && child.signalCode === null) child.stdin!.end('release\n');
      await gone;
    },
    held: () => child.exitCode === null && child.signalCode === null,
  };
}

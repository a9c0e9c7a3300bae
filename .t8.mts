import Database from 'better-sqlite3';
import { startTestService } from './test/helpers/service.ts';
const svc = await startTestService({ realClock: true });
for (let i = 0; i < 5; i++) await svc.service.store.transact((tx) => tx.appendAudit({ at: 1700000000000 + i, event: 'SERVICE_PAUSED', actor: 'ops', details: { i } }));
await svc.stop();
const db = new Database(svc.dbPath);
db.exec('DROP TRIGGER audit_no_update');
db.prepare("UPDATE audit SET details = 'not json', at = ? WHERE seq = 5").run(Date.now() - 1000);
db.prepare("UPDATE audit SET at = ? WHERE seq = 4").run(Date.now() - 2000);
db.close();
try { const again = await startTestService({ dir: svc.dir, realClock: true }); console.log('started'); 
  await again.stop(); } catch (e) { console.log((e as Error).stack); }

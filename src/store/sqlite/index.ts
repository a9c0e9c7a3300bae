export { openSqliteStore, openSqliteAuditReader, type SqliteStoreOptions } from './store.js';
export { backupSqlite, partialPath, type BackupContents, type BackupResult } from './backup.js';

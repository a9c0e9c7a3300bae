export { openSqliteStore, openSqliteAuditReader, type SqliteStoreOptions } from './store.js';
export { partialPath, startSqliteBackup, type BackupContents, type BackupResult, type SqliteBackup } from './backup.js';
export { AuditKeyRefused, type AuditKeyNames } from './audit-chain.js';

export { openSqliteStore, openSqliteAuditReader, type SqliteStoreOptions } from './store.js';

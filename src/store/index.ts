export * from './ports.js';
export * from './migrate.js';

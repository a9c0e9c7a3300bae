export * from './types.js';
export * from './decide.js';
export * from './stages/index.js';
export * from './targets.js';

export * from './engine.js';
export * from './apply.js';
export * from './executions.js';
export * from './intake-refusals.js';
export * from './truncations.js';

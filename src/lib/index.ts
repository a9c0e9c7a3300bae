export * from './clock.js';
export * from './ids.js';
export * from './durations.js';
export * from './abort.js';
export * from './suggest.js';
export * from './freeze.js';
export * from './limit.js';
export * from './text.js';

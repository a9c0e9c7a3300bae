export * from './common.js';
export * from './alertmanager.js';
export * from './pagerduty.js';
export * from './generic.js';
export * from './json-body.js';
export * from './json-keys.js';
export * from './json-text.js';

export * from './incident.js';
export * from './runbook.js';
export * from './decision.js';
export * from './errors.js';
export * from './params.js';
export * from './steps.js';
export * from './enrichment.js';
export * from './names.js';

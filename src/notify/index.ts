export * from './types.js';
export * from './webhook.js';
export * from './queue.js';
export * from './slack-respond.js';
export * from './repeats.js';
export * from './outbox.js';
export * from './receiver.js';

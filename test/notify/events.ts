import type { NotificationEvent } from '../../src/notify/index.js';

/** A notification about incident `id` of runbook "fix" on service "shop", for queue tests. */
export function notification(id: string, event: NotificationEvent['event'], outcome: string): NotificationEvent {
  return { event, incident_id: id, runbook: 'fix', service: 'shop', execution_id: null, approval_id: null, outcome, reason: 'r', at: 0 };
}

/** What notifiers made in tests are given: the key their names hash their URL with. */
export const receiver = { receiverKey: 'a test key' };

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEADER, rowLine } from '../../src/cli/client/audit.js';
import { AUDIT_EVENTS } from '../../src/domain/index.js';

describe('rectify audit: the table', () => {
  it('every event, the longest included, keeps its row lined up under the header', () => {
    const runbookAt = HEADER.indexOf('RUNBOOK');
    const actorAt = HEADER.indexOf('ACTOR');
    for (const event of AUDIT_EVENTS) {
      const row = rowLine({ seq: 7, at: '2026-12-06T03:00:00.000Z', event, incident_id: 'INC002', runbook: 'scale-up', execution_id: null, actor: 'rectify', details: { reason: 'why' } });
      assert.equal(row.indexOf('scale-up'), runbookAt, `${event}\n${HEADER}\n${row}`);
      assert.equal(row.indexOf('rectify'), actorAt, `${event}\n${HEADER}\n${row}`);
    }
  });

  it('details that are not a JSON object (a row changed behind rectify\'s back) are shown as stored, marked unreadable', () => {
    const row = rowLine({ seq: 9, at: '2026-12-06T03:00:00.000Z', event: 'SUCCESS', incident_id: 'INC002', runbook: 'scale-up', execution_id: null, actor: 'rectify', details: 'not json {', details_unreadable: true });
    assert.ok(row.endsWith(' (unreadable) not json {'), row);
  });
});

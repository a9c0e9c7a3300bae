import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { accessFor, grants } from '../../src/api/auth.js';

/**
 * What the README says each role may do, held to the policy table: an operator who
 * gives a script an admin token to post incidents must not be told it will work.
 */
test("the README's admin role leaves out the intake routes, as the policy does", () => {
  for (const route of ['/api/v1/incidents', '/api/v1/webhooks/alertmanager', '/api/v1/webhooks/pagerduty']) {
    const needed = accessFor('POST', route);
    assert.equal(needed, 'ingest', route);
    assert.equal(grants(['admin'], needed), false, `admin does not grant ${route}`);
  }
  assert.equal(grants(['ingest', 'admin'], 'ingest'), true);
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
  const admin = /`admin` \(([^)]*\([^)]*\)[^)]*|[^)]*)\)/.exec(readme.slice(readme.indexOf('Roles: `ingest`')));
  assert.ok(admin, 'README names what the admin role covers');
  assert.doesNotMatch(admin[1]!, /the rest/, 'admin does not cover "the rest": intake needs ingest');
  assert.match(admin[1]!, /not the intake routes/);
  assert.match(admin[1]!, /roles: \[ingest, admin\]/);
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { StepContext } from '../../src/execute/ports.js';
import { createCommandActionExecutor, runArgv } from '../../src/execute/actions/command.js';

function ctx(): StepContext {
  return { signal: new AbortController().signal, log: pino({ level: 'silent' }), startedAt: Date.now(), memo: new Map() };
}

describe('the search for processes left outside the group', () => {
  it('finishes for a program that leaves nothing behind, and the step succeeds', async () => {
    const r = await runArgv(['true'], { env: { PATH: '/usr/bin:/bin' }, timeoutMs: 5_000, signal: new AbortController().signal });
    assert.equal(r.escapeSearchTimedOut, false);
    assert.equal(r.escaped, 0);
  });

  it('that runs out of time fails the step and says so, unconfirmed (some may still run): it is not reported clean', async () => {
    const r = await runArgv(['true'], { env: { PATH: '/usr/bin:/bin' }, timeoutMs: 5_000, signal: new AbortController().signal, escapeSearchMs: 0 });
    assert.equal(r.exitCode, 0);
    assert.equal(r.escapeSearchTimedOut, true);
    const out = await createCommandActionExecutor({ escapeSearchMs: 0 }).run({ type: 'command', argv: ['true'], timeoutMs: 5_000 }, ctx());
    assert.deepEqual(out, {
      ok: false,
      detail: 'exit 0; the search for processes left running outside its process group ran out of time (some may still run)',
      facts: { exit_code: '0' },
      unconfirmed: true,
      unconfirmedBy: 'left_running',
    });
  });
});

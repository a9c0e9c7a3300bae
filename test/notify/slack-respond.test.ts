import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { createSlackResponder } from '../../src/notify/index.js';
import { createTestLogger } from '../../src/observability/index.js';

/** A Slack click's answer (response_url) against a real local server standing for Slack. */

it("a stop waits for a click's answer under way closeWaitMs at most, whatever its attempt's timeout: then cuts it off, not delivered, owed (after.failed)", async () => {
  // A server that reads each request and answers nothing until the test ends.
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { logger, records } = createTestLogger();
  // An attempt's timeout far past any stop's grace (--notify-timeout has no bound).
  const responder = createSlackResponder({ log: logger, origins: [origin], attemptTimeoutMs: 600_000, closeWaitMs: 200 });
  const outcome: string[] = [];
  responder.respond(`${origin}/actions/T0/1/x`, { text: 'approved', replace_original: true }, true, {
    delivered: (n) => void outcome.push(`delivered ${n}`),
    failed: () => void outcome.push('failed'),
  });
  for (let i = 0; i < 500 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(held.length, 1);
  // Bounded well below the attempt's timeout: the stop does not wait for it.
  let guard: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    responder.close().then(() => 'closed'),
    new Promise((r) => (guard = setTimeout(() => r('still waiting'), 20_000))),
  ]);
  clearTimeout(guard);
  for (const res of held) res.end();
  await new Promise((r) => server.close(r));
  assert.equal(closed, 'closed');
  assert.deepEqual(outcome, ['failed']);
  assert.equal(held.length, 1, 'not tried again');
  const warned = records().filter((l) => l.msg === "telling a Slack click's outcome failed (the click was carried out)");
  assert.deepEqual(warned.map((l) => [l.detail, l.fallback]), [['cut off at shutdown after 200 ms', 'told as a message of its own']]);
});

it("a response_url Slack refuses (404 expired_url, 400) is called once, and the fallback follows at once; a 500 is tried again", async () => {
  const calls = new Map<string, number>();
  const server = createServer((req, res) => {
    req.resume();
    calls.set(req.url!, (calls.get(req.url!) ?? 0) + 1);
    const status = Number(req.url!.split('/').pop());
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status === 404 ? 'expired_url' : 'no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { logger, records } = createTestLogger();
  try {
    // A backoff far longer than the test: a permanent refusal must not wait for it.
    const slow = createSlackResponder({ log: logger, origins: [origin], backoffMs: 20_000 });
    const outcome: string[] = [];
    const t0 = performance.now();
    for (const status of [404, 400]) {
      slow.respond(`${origin}/actions/T0/1/${status}`, { text: 'approved', replace_original: true }, true, {
        delivered: () => void outcome.push(`${status} delivered`),
        failed: () => void outcome.push(`${status} failed`),
      });
    }
    await slow.drain();
    assert.ok(performance.now() - t0 < 10_000, 'no backoff waited');
    assert.deepEqual(outcome.sort(), ['400 failed', '404 failed']);
    assert.deepEqual([calls.get('/actions/T0/1/404'), calls.get('/actions/T0/1/400')], [1, 1]);
    const quick = createSlackResponder({ log: logger, origins: [origin], backoffMs: 10 });
    quick.respond(`${origin}/actions/T0/1/500`, { text: 'approved', replace_original: true }, true, { failed: () => void outcome.push('500 failed') });
    await quick.drain();
    assert.equal(calls.get('/actions/T0/1/500'), 2);
    assert.deepEqual(outcome.sort(), ['400 failed', '404 failed', '500 failed']);
    const warned = records().filter((l) => l.msg === "telling a Slack click's outcome failed (the click was carried out)");
    assert.deepEqual(warned.map((l) => l.detail).sort(), ['answered 400', 'answered 404', 'answered 500']);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

it("answers given one key are sent in the order given: a vote's answer still being retried holds the next back, and is dropped (superseded) once out of date; one whose check throws is not sent (failed)", async () => {
  const calls: string[] = [];
  let failOnce = true;
  const server = createServer((req, res) => {
    req.resume();
    calls.push(req.url!);
    const status = req.url === '/actions/T0/1/vote' && failOnce ? 500 : 200;
    if (status === 500) failOnce = false;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { logger } = createTestLogger();
  try {
    const responder = createSlackResponder({ log: logger, origins: [origin], backoffMs: 50 });
    let pending = true;
    const outcome: string[] = [];
    const after = (name: string) => ({
      delivered: () => void outcome.push(`${name} delivered`),
      failed: () => void outcome.push(`${name} failed`),
      superseded: () => void outcome.push(`${name} superseded`),
    });
    responder.respond(`${origin}/actions/T0/1/vote`, { text: '1 of 2', replace_original: true }, true, after('vote'), { key: 'apr_1', stillCurrent: () => pending });
    // The request settles while the vote's answer waits for its second attempt.
    pending = false;
    responder.respond(`${origin}/actions/T0/1/outcome`, { text: 'approved', replace_original: true }, true, after('outcome'), { key: 'apr_1' });
    await responder.drain();
    assert.deepEqual(calls, ['/actions/T0/1/vote', '/actions/T0/1/outcome']);
    assert.deepEqual(outcome, ['vote superseded', 'outcome delivered']);

    outcome.length = 0;
    responder.respond(`${origin}/actions/T0/1/broken`, { text: '1 of 2', replace_original: true }, true, after('broken'), {
      key: 'apr_2',
      stillCurrent: () => {
        throw new Error('database is locked');
      },
    });
    await responder.drain();
    assert.deepEqual(outcome, ['broken failed']);
    assert.equal(calls.includes('/actions/T0/1/broken'), false);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

/**
 * What refusing a key given twice costs on the intake path, apart from the driver
 * (`npx tsx bench/json-keys.ts`): the duplicate-key scan of src/ingest/json-keys.ts
 * over Alertmanager bodies of 100 and 10,000 alerts (bench/bodies.ts, about 690 bytes
 * an alert), against JSON.parse of the same text and the UTF-8 check of its bytes,
 * in µs per alert. The scan runs after JSON.parse, on text it accepted.
 */
import { isUtf8 } from 'node:buffer';
import { duplicateKey } from '../src/ingest/json-keys.js';
import { createBodyMaker } from './bodies.js';

function perAlert(label: string, alerts: number, rounds: number, fn: () => unknown): number {
  for (let r = 0; r < Math.max(3, rounds / 10); r++) fn();
  const best: number[] = [];
  // Several timed batches, the fastest kept: the machine is shared, and noise only slows.
  for (let b = 0; b < 5; b++) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) fn();
    best.push(Number(process.hrtime.bigint() - t0) / 1000 / rounds / alerts);
  }
  const us = Math.min(...best);
  console.log(`${label.padEnd(44)} ${us.toFixed(3)} µs/alert (median of batches ${best.sort((a, b) => a - b)[2]!.toFixed(3)})`);
  return us;
}

for (const alerts of [100, 10_000]) {
  const bytes = Buffer.from(createBodyMaker({ alertsPerBody: alerts, services: 50, alertnames: ['KubePodCrashLooping'], duplicateRatio: 0, prefix: 'b' }).next());
  // Decoded from bytes, as the service reads a body: one flat string (the body maker's is a
  // concatenation, which reads slower character by character).
  const text = bytes.toString('utf8');
  if (duplicateKey(text) !== undefined) throw new Error('the bench body gives a key twice');
  const rounds = alerts === 100 ? 2_000 : 20;
  console.log(`\n${alerts} alerts a body, ${(bytes.length / alerts).toFixed(0)} bytes an alert`);
  perAlert('JSON.parse', alerts, rounds, () => JSON.parse(text));
  perAlert('duplicate-key scan', alerts, rounds, () => duplicateKey(text));
  perAlert('UTF-8 check of the bytes (isUtf8)', alerts, rounds, () => isUtf8(bytes));
  perAlert('decode the bytes (toString utf8)', alerts, rounds, () => bytes.toString('utf8'));
  const fatal = new TextDecoder('utf-8', { fatal: true });
  perAlert('decode the bytes (TextDecoder, fatal)', alerts, rounds, () => fatal.decode(bytes));
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { RenderedCommandAction } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { Capture, createCommandActionExecutor, lastLine, runArgv, secretTexts, StreamScrubber } from '../../src/execute/actions/command.js';

const NODE = process.execPath;
// Two command_env values, one inside the other: a user name and a user:password pair.
const ENV = { DB_USER: 'admin', BASIC_AUTH: 'admin:S3cretPassw0rd' };
const SECRETS = secretTexts(Object.values(ENV));

/** Every 8-character piece of a value that the text still holds. */
function leaks(text: string): string[] {
  const found = new Set<string>();
  for (const v of Object.values(ENV)) for (let i = 0; i + 8 <= v.length; i++) if (text.includes(v.slice(i, i + 8))) found.add(v.slice(i, i + 8));
  return [...found];
}

/** The text masked as it would be if it arrived in these pieces. */
function masked(pieces: string[]): string {
  const s = new StreamScrubber(SECRETS);
  const out = pieces.map((p) => s.push(Buffer.from(p)));
  out.push(s.end());
  return Buffer.concat(out).toString('utf8');
}

describe('command output masking', () => {
  it('gives the same result at every split point when one value is inside another', () => {
    const text = `auth failed for ${ENV.DB_USER}; tried ${ENV.BASIC_AUTH} (user ${ENV.DB_USER}) then ${ENV.BASIC_AUTH}`;
    const whole = masked([text]);
    assert.equal(whole, 'auth failed for ***; tried *** (user ***) then ***');
    for (let i = 0; i <= text.length; i++) {
      assert.equal(masked([text.slice(0, i), text.slice(i)]), whole, `split at ${i}`);
      for (let j = i; j <= text.length; j += 3) assert.equal(masked([text.slice(0, i), text.slice(i, j), text.slice(j)]), whole, `split at ${i} and ${j}`);
    }
    // One byte at a time.
    assert.equal(masked([...text]), whole);
  });

  it('masks two overlapping values as one range, the shorter starting first, at every split point', () => {
    const secrets = secretTexts(['sk-live-9f8e7d6c5b4a', 'deploy-sk-live']);
    const text = 'auth: deploy-sk-live-9f8e7d6c5b4a; then sk-live-9f8e7d6c5b4a\n';
    const run = (pieces: string[]): string => {
      const s = new StreamScrubber(secrets);
      const out = pieces.map((p) => s.push(Buffer.from(p)));
      out.push(s.end());
      return Buffer.concat(out).toString('utf8');
    };
    assert.equal(run([text]), 'auth: ***; then ***\n');
    for (let i = 0; i <= text.length; i++) assert.equal(run([text.slice(0, i), text.slice(i)]), 'auth: ***; then ***\n', `split at ${i}`);
    assert.equal(run([...text]), 'auth: ***; then ***\n');
  });

  it('masks the longer value whole when the shorter one arrives first in a chunk of its own', async () => {
    const prog = "process.stderr.write('auth failed for ' + process.env.DB_USER); setTimeout(() => { process.stderr.write(process.env.BASIC_AUTH.slice(5) + '\\n'); process.exit(1); }, 200);";
    const r = await runArgv([NODE, '-e', prog], { env: ENV, timeoutMs: 10_000, signal: new AbortController().signal, secrets: SECRETS });
    assert.equal(r.stderr, 'auth failed for ***\n');
    assert.equal(r.stderrTail, 'auth failed for ***\n');
  });

  it('masks a value that straddles the 64 KiB cap the same at every split point', async () => {
    const pad = 'x'.repeat(64 * 1024 - 10);
    const text = pad + ENV.BASIC_AUTH + ' and ' + ENV.DB_USER + '\n';
    const expected = pad + '*** and ***\n';
    for (let i = pad.length - 2; i <= text.length; i++) {
      const out = masked([text.slice(0, i), text.slice(i)]);
      assert.ok(out === expected, `split at ${i}: ${JSON.stringify(out.slice(pad.length - 2))}`);
    }
    // Through the pipe, split after the user name; kept up to 64 KiB after masking.
    const prog = `process.stdout.write('x'.repeat(${pad.length}) + process.env.DB_USER); setTimeout(() => { process.stdout.write(process.env.BASIC_AUTH.slice(5) + ' and ' + process.env.DB_USER + '\\n'); }, 200);`;
    const r = await runArgv([NODE, '-e', prog], { env: ENV, timeoutMs: 10_000, signal: new AbortController().signal, secrets: SECRETS });
    // Cut at 64 KiB after masking: the first mask whole, then the start of the second.
    assert.ok(r.stdout === expected.slice(0, 64 * 1024), JSON.stringify(r.stdout.slice(pad.length - 2)));
    assert.equal(r.stdout.slice(pad.length), '*** and **');
    assert.equal(r.stdoutTruncated, true);
    assert.deepEqual(leaks(r.stdout), []);
  });

  describe('past the output cap', () => {
    /** A deterministic mix of filler and the two values, some of them cut at chunk edges. */
    function stream(bytes: number, seed: number, chunkMax: number): { text: string; chunks: string[] } {
      let x = seed;
      const rnd = (n: number): number => {
        x = (x * 1103515245 + 12345) % 2147483648;
        return x % n;
      };
      const words = [ENV.DB_USER, ENV.BASIC_AUTH, 'x', 'admin:', 'S3cret', ' ', '\n', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'];
      let text = '';
      while (text.length < bytes) text += words[rnd(words.length)];
      const chunks: string[] = [];
      for (let at = 0; at < text.length; ) {
        const n = 1 + rnd(chunkMax);
        chunks.push(text.slice(at, at + n));
        at += n;
      }
      return { text, chunks };
    }

    it('drops what arrives once the kept head is full, unmasked, and keeps the head masked', () => {
      const { text, chunks } = stream(1024 * 1024, 7, 9000);
      const c = new Capture(64 * 1024, 0, SECRETS);
      for (const ch of chunks) c.push(Buffer.from(ch));
      const whole = masked([text]);
      assert.ok(c.text() === whole.slice(0, 64 * 1024), 'the head as the whole stream masked');
      assert.equal(c.truncated, true);
      assert.deepEqual(leaks(c.text()), []);
      // Masked: what the 64 KiB kept came from (more than 64 KiB, the masks are shorter), not the megabyte.
      assert.ok(c.masked < 192 * 1024, `masked ${c.masked} bytes`);
    });

    it('masks only what can reach the kept tail, and keeps the tail as the whole stream masked', () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const { text, chunks } = stream(1024 * 1024, seed, 64 * 1024);
        const c = new Capture(64 * 1024, 4 * 1024, SECRETS);
        for (const ch of chunks) c.push(Buffer.from(ch));
        const whole = masked([text]);
        assert.equal(c.tailText(), whole.slice(whole.length - 4 * 1024), `seed ${seed}`);
        assert.ok(c.text() === whole.slice(0, 64 * 1024), `seed ${seed}: head`);
        assert.equal(c.truncated, true);
        assert.deepEqual(leaks(c.tailText()), []);
        assert.ok(c.masked < 512 * 1024, `seed ${seed}: masked ${c.masked} bytes of ${text.length}`);
      }
    });
  });

  describe('in the step detail', () => {
    it('masks a value rebuilt by removing control characters, before the line is cut, wherever it lies', async () => {
      // Printed with a control character between its letters: no value in the raw output,
      // the value once the line is cleaned; 190 + 10 copies runs past the 200-character cut.
      const exec = createCommandActionExecutor({ env: { TOKEN: 'abcd' } });
      const ctx: StepContext = { signal: new AbortController().signal, log: pino({ level: 'silent' }), startedAt: Date.now(), memo: new Map() };
      const action: RenderedCommandAction = { type: 'command', argv: [NODE, '-e', 'process.stderr.write("x".repeat(190) + "ab\\x01cd".repeat(10)); process.exitCode = 3'], timeoutMs: 10_000 };
      const out = await exec.run(action, ctx);
      assert.equal(out.detail, `exit 3: ${'x'.repeat(190)}${'*'.repeat(9)}…`);
      // The value at every position around the cut: never a piece of it left.
      const secrets = secretTexts([ENV.BASIC_AUTH]);
      const spread = [...ENV.BASIC_AUTH].join('\u0001');
      for (let pad = 180; pad <= 205; pad++) {
        const whole = `${'x'.repeat(pad)}*** end`;
        assert.equal(lastLine(`${'x'.repeat(pad)}${spread} end\n`, secrets), whole.length > 200 ? `${whole.slice(0, 199)}…` : whole, `pad ${pad}`);
      }
    });
  });
});

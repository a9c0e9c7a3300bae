import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { RenderedCommandAction } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { createCommandActionExecutor, lastLine, runArgv } from '../../src/execute/actions/command.js';

function ctx(signal: AbortSignal = new AbortController().signal): StepContext {
  return { signal, log: pino({ level: 'silent' }), startedAt: Date.now(), memo: new Map() };
}
const cmd = (argv: string[], timeoutMs = 5_000): RenderedCommandAction => ({ type: 'command', argv, timeoutMs });
// node is resolved from the child's PATH (/usr/local/bin:/usr/bin:/bin); use its
// absolute path so the test does not depend on where this machine installed it.
const NODE = process.execPath;

describe('command action', () => {
  it('passes shell metacharacters to the program as literal arguments', async () => {
    const r = await runArgv(['/bin/echo', 'a; rm -rf /', '$(id)', '`id`', '|', '>x', '*'], {
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 5_000,
      signal: new AbortController().signal,
    });
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'a; rm -rf / $(id) `id` | >x *\n');
  });

  it('delivers argv to the program element by element', async () => {
    const argv = [NODE, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', 'a; rm -rf /', "it's", ' spaced ', ''];
    const r = await runArgv(argv, { env: {}, timeoutMs: 5_000, signal: new AbortController().signal });
    assert.deepEqual(JSON.parse(r.stdout), ['a; rm -rf /', "it's", ' spaced ', '']);
  });

  it('exit 0 is a success with detail "exit 0"', async () => {
    const out = await createCommandActionExecutor().run(cmd(['true']), ctx());
    assert.deepEqual(out, { ok: true, detail: 'exit 0', facts: { exit_code: '0' } });
  });

  it('gives the child a minimal environment: PATH, LANG and the allow-list only', async () => {
    process.env.RECTIFY_TEST_PARENT_SECRET = 'hunter2';
    try {
      const exec = createCommandActionExecutor({ env: { ALLOWED: 'yes' } });
      const r = await runArgv([NODE, '-e', 'process.stdout.write(JSON.stringify(process.env))'], {
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ALLOWED: 'yes' },
        timeoutMs: 5_000,
        signal: new AbortController().signal,
      });
      assert.deepEqual(JSON.parse(r.stdout), { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ALLOWED: 'yes' });
      // And through the executor: a variable of the parent is not visible.
      const out = await exec.run(cmd([NODE, '-e', 'process.exit(process.env.RECTIFY_TEST_PARENT_SECRET === undefined && process.env.ALLOWED === "yes" && Object.keys(process.env).length === 3 ? 0 : 7)']), ctx());
      assert.deepEqual(out, { ok: true, detail: 'exit 0', facts: { exit_code: '0' } });
    } finally {
      delete process.env.RECTIFY_TEST_PARENT_SECRET;
    }
  });

  it('looks programs up in the minimal PATH', async () => {
    const out = await createCommandActionExecutor().run(cmd(['echo', 'hi']), ctx());
    assert.equal(out.detail, 'exit 0');
  });

  it('non-zero exit fails with the last stderr line', async () => {
    const out = await createCommandActionExecutor().run(
      cmd([NODE, '-e', 'console.error("first line"); console.error("deployment not found\\n"); process.exit(3)']),
      ctx(),
    );
    assert.deepEqual(out, { ok: false, detail: 'exit 3: deployment not found', facts: { exit_code: '3' } });
  });

  it('a passed-through variable printed in the error is masked in the detail', async () => {
    const exec = createCommandActionExecutor({ env: { CLOUD_TOKEN: 'tok-9f8e7d6c5b', REGION: 'eu' } });
    const out = await exec.run(cmd([NODE, '-e', 'console.error("auth failed for " + process.env.CLOUD_TOKEN + " in " + process.env.REGION); process.exit(2)']), ctx());
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'exit 2: auth failed for *** in eu');
  });

  it('non-zero exit without stderr says just the code', async () => {
    const out = await createCommandActionExecutor().run(cmd(['false']), ctx());
    assert.deepEqual(out, { ok: false, detail: 'exit 1', facts: { exit_code: '1' } });
  });

  it('times out: kills the program and fails', async () => {
    const started = Date.now();
    const out = await createCommandActionExecutor().run(cmd(['sleep', '10'], 300), ctx());
    const took = Date.now() - started;
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'timed out after 300ms (killed)');
    assert.equal(out.facts?.signal, 'SIGTERM');
    assert.ok(took < 2_000, `took ${took}ms`);
  });

  it('escalates to SIGKILL when SIGTERM is ignored, and kills what the program started', async () => {
    const script = 'process.on("SIGTERM", () => {}); require("child_process").spawn("sleep", ["30"], {stdio: "inherit"}); setInterval(() => {}, 1000)';
    const started = Date.now();
    const out = await createCommandActionExecutor({ killGraceMs: 300 }).run(cmd([NODE, '-e', script], 300), ctx());
    const took = Date.now() - started;
    assert.equal(out.detail, 'timed out after 300ms (killed with SIGKILL)');
    // The grandchild `sleep 30` shares our stdout pipe: had it survived, we would
    // still be waiting for the pipe to close.
    assert.ok(took < 2_000, `took ${took}ms`);
  });

  it('stops the program when the execution is aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const out = await createCommandActionExecutor().run(cmd(['sleep', '10'], 10_000), ctx(ac.signal));
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'aborted (killed)');
  });

  it('a program that does not exist fails with "not found"', async () => {
    const exec = createCommandActionExecutor();
    assert.deepEqual(await exec.run(cmd(['rectify-no-such-program', 'x']), ctx()), {
      ok: false,
      detail: 'not found: rectify-no-such-program',
      facts: {},
      unchanged: true,
    });
    assert.equal((await exec.run(cmd(['/nonexistent/prog']), ctx())).detail, 'not found: /nonexistent/prog');
  });

  it('a file that is not executable fails with "not executable"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rectify-cmd-'));
    try {
      const file = join(dir, 'script.sh');
      await writeFile(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
      const out = await createCommandActionExecutor().run(cmd([file]), ctx());
      assert.equal(out.detail, `not executable: ${file}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an empty argv fails without running anything', async () => {
    assert.equal((await createCommandActionExecutor().run(cmd([]), ctx())).detail, 'empty argv');
  });

  it('keeps at most 64 KiB per stream without blocking the program', async () => {
    // 1 MiB to each stream: a child blocked on a full pipe would hit the timeout.
    const script = 'const b = "x".repeat(1<<20); process.stdout.write(b); process.stderr.write(b + "\\nthe end\\n"); process.exitCode = 2';
    const r = await runArgv([NODE, '-e', script], { env: {}, timeoutMs: 10_000, signal: new AbortController().signal });
    assert.equal(r.exitCode, 2);
    assert.equal(r.stdout.length, 64 * 1024);
    assert.equal(r.stdoutTruncated, true);
    assert.equal(r.stderr.length, 64 * 1024);
    assert.equal(r.stderrTruncated, true);
    assert.equal(lastLine(r.stderrTail), 'the end');
  });

  it('cuts the stderr line to 200 characters and strips control characters', () => {
    assert.equal(lastLine('ok\n\u001b[31mred\u001b[0m\n\n'), '[31mred[0m');
    const long = lastLine('y'.repeat(500));
    assert.equal([...long].length, 200);
    assert.ok(long.endsWith('…'));
  });
});

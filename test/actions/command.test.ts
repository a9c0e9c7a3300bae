import assert from 'node:assert/strict';
import type { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { RenderedCommandAction } from '../../src/domain/index.js';
import type { StepContext } from '../../src/execute/ports.js';
import { createCommandActionExecutor, describeResult, lastLine, runArgv, STEP_MARKER_VAR } from '../../src/execute/actions/command.js';

function ctx(signal: AbortSignal = new AbortController().signal): StepContext {
  return { signal, log: pino({ level: 'silent' }), startedAt: Date.now(), memo: new Map() };
}
const cmd = (argv: string[], timeoutMs = 5_000): RenderedCommandAction => ({ type: 'command', argv, timeoutMs });
// node is resolved from the child's PATH (/usr/local/bin:/usr/bin:/bin); use its
// absolute path so the test does not depend on where this machine installed it.
const NODE = process.execPath;

/** The safety net of a test that starts background processes: a regression must not leave them running. */
function killIfRunning(pids: number[]): void {
  for (const pid of pids) if (pid > 0 && running(pid)) process.kill(pid, 'SIGKILL');
}

/** Whether `pid` is a running process; a zombie (dead, not yet collected by its new parent) is not. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

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
      // And the step's marker, which lets the step find what the program started.
      const seen = JSON.parse(r.stdout) as Record<string, string>;
      assert.match(seen[STEP_MARKER_VAR] ?? '', /^[0-9a-f]{32}$/);
      assert.deepEqual(seen, { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ALLOWED: 'yes', [STEP_MARKER_VAR]: seen[STEP_MARKER_VAR] });
      // And through the executor: a variable of the parent is not visible.
      const out = await exec.run(cmd([NODE, '-e', 'process.exit(process.env.RECTIFY_TEST_PARENT_SECRET === undefined && process.env.ALLOWED === "yes" && Object.keys(process.env).length === 4 ? 0 : 7)']), ctx());
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

  describe('a passed-through secret printed by the program', () => {
    // 211 characters that occur nowhere else, so any 8 of them in a row in the detail are a leak.
    const token = 'eyJhbGciOiJIUzI1NiJ9.' + Array.from({ length: 190 }, (_, i) => 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'[(i * 7 + (i >> 3)) % 57]).join('');
    const leaks = (detail: string, secret: string): string[] => {
      const found: string[] = [];
      for (const line of secret.split('\n')) for (let i = 0; i + 8 <= line.length; i++) if (detail.includes(line.slice(i, i + 8))) found.push(line.slice(i, i + 8));
      return found;
    };
    const run = (env: Record<string, string>, script: string) => createCommandActionExecutor({ env }).run(cmd([NODE, '-e', script]), ctx());

    it('is masked before the 200-character cut of the last line', async () => {
      assert.equal(token.length, 211);
      // The line is cut inside the token: a mask applied after the cut would not find it whole.
      const out = await run({ API_TOKEN: token }, 'console.error("request failed: 401 for Authorization: Bearer " + process.env.API_TOKEN); process.exit(22)');
      assert.equal(out.detail, 'exit 22: request failed: 401 for Authorization: Bearer ***');
      assert.deepEqual(leaks(out.detail, token), []);
    });

    it('is masked before the 4 KiB stderr tail is cut', async () => {
      // Unmasked, the tail would start inside the token, wherever these put it.
      for (const before of [3_950, 4_000, 4_050, 4_090]) {
        const out = await run({ API_TOKEN: token }, `process.stderr.write("token=" + process.env.API_TOKEN + "x".repeat(${before}) + "\\n"); process.exit(1)`);
        assert.deepEqual(leaks(out.detail, token), [], `${before}: ${out.detail}`);
        // Masked first, the token no longer reaches past the tail's start: its mask is in the line.
        assert.match(out.detail, /^exit 1: [a-z=]*\*\*\*x{180,}…$/);
      }
    });

    it('is masked across the chunks it arrives in', async () => {
      const r = await runArgv([NODE, '-e', 'const t = process.env.T; process.stderr.write(t.slice(0, 100)); setTimeout(() => { process.stderr.write(t.slice(100) + " done\\n"); process.stdout.write("x".repeat(65530) + t); }, 50)'], {
        env: { T: token },
        timeoutMs: 5_000,
        signal: new AbortController().signal,
        secrets: [token],
      });
      assert.equal(r.stderr, '*** done\n');
      assert.equal(r.stderrTail, '*** done\n');
      // Cut at 64 KiB after masking: the first bytes of the mask, never of the token.
      assert.equal(r.stdout, 'x'.repeat(65530) + '***');
      assert.equal(r.stdoutTruncated, false);
    });

    it('of several lines is masked whole and line by line', async () => {
      const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBvY3JldC1rZXktbWF0ZXJpYWwtZm9yLXRoZS1yZXByby1vbmx5AAAA\n-----END OPENSSH PRIVATE KEY-----';
      const whole = await run({ SSH_KEY: key }, 'console.error("invalid key:\\n" + process.env.SSH_KEY); process.exit(1)');
      assert.equal(whole.detail, 'exit 1: ***');
      // One line of it printed alone, as the last line (a parser quoting the line it choked on).
      const one = await run({ SSH_KEY: key }, 'console.error("bad line: " + process.env.SSH_KEY.split("\\n")[2] + "  "); process.exit(1)');
      assert.equal(one.detail, 'exit 1: bad line: ***');
      // The key printed with CRLF line ends: each line is masked, only the markers' own text is left.
      const crlf = await run({ SSH_KEY: key }, 'console.error(process.env.SSH_KEY.split("\\n").slice(1, 3).join("\\r\\n")); process.exit(1)');
      assert.equal(crlf.detail, 'exit 1: ***');
      for (const out of [whole, one, crlf]) assert.deepEqual(leaks(out.detail, key), []);
    });
  });

  it('non-zero exit without stderr says just the code', async () => {
    const out = await createCommandActionExecutor().run(cmd(['false']), ctx());
    assert.deepEqual(out, { ok: false, detail: 'exit 1', facts: { exit_code: '1' } });
  });

  it('times out: kills the program and fails, unconfirmed (it may have done part of its work)', async () => {
    const started = Date.now();
    const out = await createCommandActionExecutor().run(cmd(['sleep', '10'], 300), ctx());
    const took = Date.now() - started;
    assert.deepEqual(out, { ok: false, detail: 'timed out after 300ms (killed; the program may have done part of its work)', facts: { signal: 'SIGTERM' }, unconfirmed: true, unconfirmedBy: 'deadline' });
    assert.ok(took < 2_000, `took ${took}ms`);
  });

  it('escalates to SIGKILL when SIGTERM is ignored, and kills what the program started', async () => {
    // The shell ignores SIGTERM from its first line, well within the 300 ms (a node script
    // installing a handler could take longer than that under load, and be killed by the
    // SIGTERM itself); the `sleep` it starts inherits the ignored SIGTERM, so only the
    // SIGKILL to the group ends either.
    const started = Date.now();
    const out = await createCommandActionExecutor({ killGraceMs: 300 }).run(cmd(['sh', '-c', "trap '' TERM; sleep 30 & wait"], 300), ctx());
    const took = Date.now() - started;
    assert.deepEqual([out.detail, out.unconfirmed], ['timed out after 300ms (killed with SIGKILL; the program may have done part of its work)', true]);
    // The grandchild `sleep 30` shares our stdout pipe: had it survived, we would
    // still be waiting for the pipe to close.
    assert.ok(took < 2_000, `took ${took}ms`);
  });

  it('a program that returns while a process it started runs on fails, and that process is stopped', async (t) => {
    const pids: number[] = [];
    t.after(() => killIfRunning(pids));
    // `$!` is the background sleep: it shares the group and holds our stdout pipe open.
    const started = Date.now();
    const r = await runArgv(['sh', '-c', 'sleep 30 & echo $!'], { env: { PATH: '/usr/bin:/bin' }, timeoutMs: 10_000, signal: new AbortController().signal });
    const took = Date.now() - started;
    const pid = Number(r.stdout.trim());
    pids.push(pid);
    assert.ok(pid > 0, r.stdout);
    assert.deepEqual([r.exitCode, r.leftBehind, r.killedHard, r.timedOut], [0, true, false, false]);
    assert.equal(running(pid), false, `sleep ${pid} is stopped`);
    assert.ok(took < 2_000, `took ${took}ms: not the sleep's 30 s, nor the 10 s deadline`);

    // Through the executor: the step fails, and says why; unconfirmed, for the sleep was stopped
    // part way through whatever it did. (The pid goes to a file, for the clean-up above.)
    const dir = await mkdtemp(join(tmpdir(), 'rectify-cmd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pid');
    const out = await createCommandActionExecutor().run(cmd(['sh', '-c', 'sleep 30 & echo $! >"$0"; echo ok', pidFile]), ctx());
    pids.push(Number(readFileSync(pidFile, 'utf8')));
    assert.deepEqual(out, { ok: false, detail: 'exit 0; left processes behind (killed)', facts: { exit_code: '0' }, unconfirmed: true, unconfirmedBy: 'left_running' });
    assert.equal(running(pids[1]!), false);

    // Output closed early says nothing about the group: a leftover that closed its output is found too.
    const quiet = await runArgv(['sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!'], { env: { PATH: '/usr/bin:/bin' }, timeoutMs: 10_000, signal: new AbortController().signal });
    pids.push(Number(quiet.stdout.trim()));
    assert.equal(quiet.leftBehind, true);
    assert.equal(running(pids[2]!), false);
  });

  it('a leftover that ignores SIGTERM is killed with SIGKILL after the grace', async (t) => {
    const pids: number[] = [];
    t.after(() => killIfRunning(pids));
    // An ignored SIGTERM is inherited by the background sleep.
    const r = await runArgv(['sh', '-c', 'trap "" TERM; sleep 30 & echo $!'], {
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 10_000,
      signal: new AbortController().signal,
      killGraceMs: 300,
    });
    const pid = Number(r.stdout.trim());
    pids.push(pid);
    assert.deepEqual([r.exitCode, r.leftBehind, r.killedHard, r.stillRunning], [0, true, true, false]);
    assert.equal(running(pid), false, `sleep ${pid} is stopped`);
    assert.equal(describeResult(r, 10_000), 'exit 0; left processes behind (killed with SIGKILL)');
  });

  it('a leftover still running after SIGKILL is not reported killed', () => {
    // As root, every process here can be signalled: the result of one that could not
    // (another user's, or stuck in the kernel) is described from its fields.
    const base = { exitCode: 0, exitSignal: null, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false, stderrTail: '', timedOut: false, aborted: false, escaped: 0, escapedStillRunning: 0 };
    const r = { ...base, killedHard: true, leftBehind: true, stillRunning: true };
    assert.equal(describeResult(r, 10_000), 'exit 0; left processes behind, still running after SIGKILL');
    assert.equal(describeResult({ ...r, stillRunning: false }, 10_000), 'exit 0; left processes behind (killed with SIGKILL)');
    const escaped = { ...base, killedHard: false, leftBehind: false, stillRunning: false, escaped: 3, escapedStillRunning: 1 };
    assert.equal(describeResult(escaped, 10_000), 'exit 0; 3 processes left running outside its process group, 1 still running after SIGKILL');
  });

  describe('a process that left the program\'s process group', () => {
    /** The pids of running processes whose environment holds the variable `RECTIFY_STEP_ID` at all. */
    const marked = (): number[] =>
      readdirSync('/proc')
        .filter((n) => /^[0-9]+$/.test(n) && Number(n) !== process.pid)
        .filter((n) => {
          try {
            return readFileSync(`/proc/${n}/environ`, 'latin1').split('\0').some((v) => v.startsWith(`${STEP_MARKER_VAR}=`)) && running(Number(n));
          } catch {
            return false;
          }
        })
        .map(Number);

    it('is killed when the program exits, and the step fails, unconfirmed (a daemon that called setsid)', async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'rectify-cmd-'));
      const pidFile = join(dir, 'pid');
      t.after(() => {
        killIfRunning(marked());
        return rm(dir, { recursive: true, force: true });
      });
      // The daemon writes its pid once in its own session; the program waits for that, so the
      // daemon is out of the group for sure when the program exits.
      const script = `setsid sh -c 'echo $$ >"$0.tmp"; mv "$0.tmp" "$0"; exec sleep 30' "$0" >/dev/null 2>&1 </dev/null & while [ ! -s "$0" ]; do sleep 0.05; done; echo started`;
      const started = Date.now();
      const out = await createCommandActionExecutor({ killGraceMs: 500 }).run(cmd(['sh', '-c', script, pidFile]), ctx());
      const took = Date.now() - started;
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(pid > 0);
      assert.deepEqual(out, {
        ok: false,
        detail: 'exit 0; 1 process left running outside its process group (killed with SIGKILL)',
        facts: { exit_code: '0' },
        unconfirmed: true,
        unconfirmedBy: 'left_running',
      });
      assert.equal(running(pid), false, `sleep ${pid} is stopped`);
      assert.deepEqual(marked(), []);
      assert.ok(took < 5_000, `took ${took}ms`);
    });

    it('is killed when the step times out (coreutils timeout, which makes a group of its own)', async (t) => {
      t.after(() => killIfRunning(marked()));
      const started = Date.now();
      const out = await createCommandActionExecutor({ killGraceMs: 500 }).run(cmd(['sh', '-c', 'timeout 30 sleep 30'], 1_000), ctx());
      const took = Date.now() - started;
      // The shell died of the deadline's SIGTERM; timeout(1) and its sleep, out of the group, did not.
      assert.deepEqual(out, {
        ok: false,
        detail: 'timed out after 1s (killed; the program may have done part of its work); 2 processes left running outside its process group (killed with SIGKILL)',
        facts: { signal: 'SIGTERM' },
        unconfirmed: true,
        unconfirmedBy: 'deadline',
      });
      assert.deepEqual(marked(), []);
      assert.ok(took < 5_000, `took ${took}ms`);
    });
  });

  it('a program whose children end with it succeeds', async () => {
    const out = await createCommandActionExecutor().run(cmd(['sh', '-c', 'sleep 0.1 & wait; echo done']), ctx());
    assert.deepEqual(out, { ok: true, detail: 'exit 0', facts: { exit_code: '0' } });
  });

  describe('a program that does not exit even at SIGKILL', () => {
    // Stuck in the kernel (state D, on a hung NFS mount), a process does not die of
    // SIGKILL, for as long as the kernel keeps it: that cannot be made portably in a test
    // (a cgroup-v1 freezer needs root), so a child that never exits stands in for it,
    // given to runArgv in place of node's spawn. Its pid is above the largest the kernel
    // gives (2^22), so the signals to its group reach nothing and fall back to its kill().
    const STUCK_PID = 4_194_305;
    const stuckChild = (signals: string[]) =>
      (() => {
        const child = Object.assign(new EventEmitter(), {
          pid: STUCK_PID,
          stdout: new PassThrough(),
          stderr: new PassThrough(),
          kill: (sig: string) => void signals.push(sig),
        });
        return child;
      }) as unknown as typeof spawn;

    it('at its deadline: the step ends after SIGKILL and the grace, failed, unconfirmed, saying it still runs', { timeout: 20_000 }, async () => {
      const signals: string[] = [];
      const out = await createCommandActionExecutor({ killGraceMs: 50, spawn: stuckChild(signals) }).run(cmd(['/bin/prog'], 100), ctx());
      assert.deepEqual(signals, ['SIGTERM', 'SIGKILL']);
      assert.deepEqual(out, {
        ok: false,
        detail: `still running after SIGKILL (pid ${STUCK_PID}): timed out after 100ms; the program may have done part of its work, and may do more`,
        facts: {},
        unconfirmed: true,
        unconfirmedBy: 'left_running',
      });
    });

    it('at a stop: the step ends too, so the stop does not wait for it', { timeout: 20_000 }, async () => {
      const signals: string[] = [];
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      const r = await runArgv(['/bin/prog'], { env: {}, timeoutMs: 60_000, signal: ac.signal, killGraceMs: 50, spawn: stuckChild(signals) });
      assert.deepEqual(signals, ['SIGTERM', 'SIGKILL']);
      assert.deepEqual([r.aborted, r.timedOut, r.killedHard, r.stillRunning, r.programStillRunning, r.exitSignal], [true, false, true, true, STUCK_PID, null]);
      assert.equal(describeResult(r, 60_000), `still running after SIGKILL (pid ${STUCK_PID}): aborted`);
    });
  });

  it('a killed program is said to be killed with SIGKILL only when SIGKILL ended it', () => {
    // A program that could not run (frozen) when SIGTERM then SIGKILL were sent, and
    // could again within the grace, may end of the SIGTERM: the detail says what the fact says.
    const base = { exitCode: null, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false, stderrTail: '', timedOut: true, aborted: false, leftBehind: false, stillRunning: false, escaped: 0, escapedStillRunning: 0, killedHard: true };
    assert.equal(describeResult({ ...base, exitSignal: 'SIGTERM' }, 1_000), 'timed out after 1s (killed; the program may have done part of its work)');
    assert.equal(describeResult({ ...base, exitSignal: 'SIGKILL' }, 1_000), 'timed out after 1s (killed with SIGKILL; the program may have done part of its work)');
  });

  it('a program whose output is still held open after it exited fails: something it started still runs, unfound', async (t) => {
    const pids: number[] = [];
    t.after(() => killIfRunning(pids));
    const dir = await mkdtemp(join(tmpdir(), 'rectify-cmd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pid');
    // A daemon in a session of its own (detached: setsid) with an empty environment, so
    // without the step's marker, holding the program's stdout and stderr open; the program exits 0 at once.
    const script =
      'const c = require("child_process").spawn("/bin/sleep", ["30"], { detached: true, env: {}, stdio: ["ignore", "inherit", "inherit"] });' +
      'require("fs").writeFileSync(process.argv[1], String(c.pid)); c.unref();';
    const out = await createCommandActionExecutor({ killGraceMs: 300 }).run(cmd([NODE, '-e', script, pidFile], 10_000), ctx());
    pids.push(Number(readFileSync(pidFile, 'utf8')));
    assert.ok(running(pids[0]!), 'the daemon runs on: it was not found');
    assert.deepEqual(out, {
      ok: false,
      detail: 'exit 0; its output was still held open after it exited, by a process it started that was not found (it may still run)',
      facts: { exit_code: '0' },
      unconfirmed: true,
      unconfirmedBy: 'left_running',
    });
  });

  it('stops the program when the execution is aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const out = await createCommandActionExecutor().run(cmd(['sleep', '10'], 10_000), ctx(ac.signal));
    // rectify's own stop: the run ends interrupted, left to a person, whatever the step says.
    assert.deepEqual([out.ok, out.detail, out.unconfirmed], [false, 'aborted (killed)', undefined]);
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

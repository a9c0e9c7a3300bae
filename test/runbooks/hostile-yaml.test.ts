import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem } from '../../src/domain/errors.js';
import { loadRunbookFile, loadRunbooks } from '../../src/runbooks/index.js';

/**
 * Files a runbooks folder may hold by mistake or by malice: each is refused with a
 * problem naming it, quickly, and never blocks or exhausts the loader.
 */
const root = mkdtempSync(join(tmpdir(), 'rectify-hostile-yaml-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = (): string => {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  return dir;
};
const RUNBOOK = 'runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: kubectl delete pod {pod_name}\n';

test('a runbook file larger than 1 MiB is refused before it is parsed (a 50 MB file took minutes and gigabytes)', () => {
  const dir = folder();
  writeFileSync(join(dir, 'a.yaml'), RUNBOOK);
  // Valid YAML, so only its size can refuse it: 2 MiB of one description.
  writeFileSync(join(dir, 'big.yaml'), `runbooks:\n  big:\n    description: "${'x'.repeat(2 * 1024 * 1024)}"\n    action: kubectl delete pod {p}\n`);
  const { runbooks, problems } = loadRunbooks(dir);
  assert.deepEqual(problems.map(formatProblem), [
    `${dir}/big.yaml: the file is larger than the 1 MiB a YAML file may be (2097224 bytes): split its runbooks into several files`,
  ]);
  assert.deepEqual(runbooks.map((r) => r.id), ['r']);
});

test('a runbook file of exactly 1 MiB still loads', () => {
  const dir = folder();
  const head = 'runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: kubectl delete pod {pod_name}\n#';
  writeFileSync(join(dir, 'a.yaml'), head + 'x'.repeat(1024 * 1024 - head.length - 1) + '\n');
  const { runbooks, problems } = loadRunbooks(dir);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.deepEqual(runbooks.map((r) => r.id), ['r']);
});

test('a symlink to a FIFO is refused, not read: reading it would block startup and every reload until something writes to it', () => {
  const dir = folder();
  execFileSync('mkfifo', [join(root, `fifo${n}`)]);
  symlinkSync(join(root, `fifo${n}`), join(dir, 'pipe.yaml'));
  assert.deepEqual(loadRunbooks(dir).problems.map(formatProblem), [
    `${dir}/pipe.yaml: the file is not a regular file (a FIFO, a socket or a device)`,
  ]);
});

test('bytes that are not UTF-8 are refused with their line, not read as U+FFFD (an argument no longer the one written)', () => {
  const dir = folder();
  const file = join(dir, 'latin1.yaml');
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action:\n      command: {argv: [/usr/bin/rm, -rf, "/var/cache/caf'),
      Buffer.from([0xe9]), // "é" in Latin-1
      Buffer.from('"]}\n    rollback: none\n    rollback_reason: a cache\n'),
    ]),
  );
  assert.deepEqual(loadRunbookFile(file), {
    runbooks: [],
    problems: [{ file, path: '', message: 'the file is not UTF-8 text: invalid bytes at line 6 (save the file as UTF-8)' }],
    warnings: [],
  });
});

test('a byte order mark, CRLF line endings and a trailing tab still load', () => {
  const dir = folder();
  writeFileSync(join(dir, 'a.yaml'), '\uFEFF' + RUNBOOK.replace('LOW', 'LOW\t').replace(/\n/g, '\r\n'));
  const { runbooks, problems } = loadRunbooks(dir);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.deepEqual(runbooks.map((r) => [r.id, r.risk, r.actions.length]), [['r', 'LOW', 1]]);
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from './capture.js';

const root = mkdtempSync(join(tmpdir(), 'rectify-lint-nothing-'));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * `rectify lint` of a folder holding no runbook said "0 runbook(s) OK", exit 0, while
 * serve warns it remediates nothing and refuses a reload onto it; a FIFO named
 * as the argument was read as a folder ("cannot read the runbooks folder: ENOTDIR").
 */
describe('rectify lint: nothing to check', () => {
  it('a folder with no runbook file is a warning naming it: exit 1', async () => {
    const tmpl = join(root, 'tmpl');
    mkdirSync(tmpl);
    copyFileSync('runbooks/restart-pod.yaml', join(tmpl, 'restart-pod.yaml.tmpl'));
    const r = await cli(['lint', tmpl]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.out, []);
    assert.deepEqual(r.err, [
      `${tmpl}: warning: no runbook in the folder (no .yaml/.yml file in it holds one): rectify serve would remediate nothing, and refuses a reload onto it while runbooks are in force`,
      `0 problem(s) and 1 warning(s) in ${tmpl}`,
    ]);
  });

  it('a runbook file holding none (only comments): a warning, exit 1', async () => {
    const file = join(root, 'empty.yaml');
    writeFileSync(file, '# to be written\n');
    const r = await cli(['lint', file]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, [
      `${file}: warning: no runbook in the file: rectify serve would load nothing from it, and refuses a reload that would empty a file of its runbooks`,
      `0 problem(s) and 1 warning(s) in ${file}`,
    ]);
  });

  it('a FIFO named .yaml is not a regular file: exit 2, never opened', async () => {
    const fifo = join(root, 'p.yaml');
    execFileSync('mkfifo', [fifo]);
    const r = await cli(['lint', fifo]);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [`rectify lint: ${fifo} is not a regular file nor a folder (a FIFO, a device, a socket); name a runbooks folder or a .yaml/.yml runbook file`]);
  });

  it('the bundled library still lints OK', async () => {
    const r = await cli(['lint', 'runbooks']);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out.at(-1)!, /^\d+ runbook\(s\) OK in /);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';

/**
 * Interpreters (perl, python, ruby, node, php, lua, tclsh, awk, sed, vim, gdb…) run code
 * their arguments give: an alert's value must not stand in a code option's value, in the
 * script operand, or where it could spell an option; it may stand in the arguments after
 * the script (for awk and sed, the input files). Each list is loaded as a runbook.
 */
const yaml = (argv: readonly string[]): string =>
  `runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: {command: {argv: ${JSON.stringify(argv)}}}\n    rollback: none\n    rollback_reason: t\n`;
const problems = (argv: readonly string[]): string[] => parseRunbooksText(yaml(argv), 'r.yaml').problems.map(formatProblem);
const at = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;
const PERL_INSTEAD = 'pass the value as an argument after the script: [perl, /opt/fix.pl, "{x}"]';
const PYTHON_INSTEAD = 'pass the value as an argument after the script: [python3, /opt/fix.py, "{x}"]';
const SED_INSTEAD = 'write the program out; a value may stand in the input files after it: [sed, -n, "1p", "/srv/{x}.txt"]';
const NODE_INSTEAD = 'pass the value as an argument after the script: [node, /opt/fix.js, "{x}"]';
const runs = (i: number, by: string, option: string, instead: string) =>
  `${at(i)}: ${JSON.stringify(by)} runs its ${option} value as code: an alert's value there runs the alert's code; ${instead}`;
const loads = (i: number, by: string, option: string, instead: string) =>
  `${at(i)}: ${JSON.stringify(by)} loads the code its ${option} value names: an alert's value there chooses the code that runs; ${instead}`;
const script = (i: number, by: string, instead: string) =>
  `${at(i)}: ${JSON.stringify(by)} runs the script its first argument names: an alert's value there chooses the code that runs; write the script's path out and ${instead}`;
const programText = (i: number, by: string, instead: string) =>
  `${at(i)}: ${JSON.stringify(by)} reads its first argument as its program: an alert's value there runs the alert's code; ${instead}`;

// Regression: `[perl, -e, "{x}"]` loaded, and x=exec+q,touch,,q,/tmp/x, (only characters
// a value may hold) ran a program the alert chose.
test('a code option\'s value (perl -e, python -c, ruby -e, php -r, node -r/--require, perl -M): refused, joined or separate, and with text written around it', () => {
  assert.deepEqual(problems(['perl', '-e', '{x}']), [runs(2, 'perl', '-e', PERL_INSTEAD)]);
  assert.deepEqual(problems(['perl', '-e', 'exec q,{x},']), [runs(2, 'perl', '-e', PERL_INSTEAD)]);
  assert.deepEqual(problems(['perl', '-we{x}']), [runs(1, 'perl', '-e', PERL_INSTEAD)]);
  assert.deepEqual(problems(['perl', '-M{x}', '-e1']), [loads(1, 'perl', '-M', PERL_INSTEAD)]);
  assert.deepEqual(problems(['python3', '-c', "import subprocess; subprocess.run(['{x}'])"]), [runs(2, 'python3', '-c', PYTHON_INSTEAD)]);
  assert.deepEqual(problems(['python3', '-m', '{x}']), [loads(2, 'python3', '-m', PYTHON_INSTEAD)]);
  assert.deepEqual(problems(['node', '-r', '{x}', '/opt/a.js']), [loads(2, 'node', '-r', NODE_INSTEAD)]);
  assert.deepEqual(problems(['node', '--require={x}', '/opt/a.js']), [loads(1, 'node', '--require', NODE_INSTEAD)]);
  assert.deepEqual(problems(['/usr/bin/perl5.36', '-e', '{x}']), [runs(2, '/usr/bin/perl5.36', '-e', PERL_INSTEAD)]);
  for (const argv of [
    ['ruby', '-e', '{x}'],
    ['php', '-r', 'echo "{x}";'],
    ['node', '--eval', '{x}'],
    ['node', '--import', '{x}', '/opt/a.js'],
    ['lua', '-e', '{x}'],
    ['Rscript', '-e', 'print("{x}")'],
    ['gawk', '-e', '{x}', '/var/log/syslog'],
    ['vim', '-es', '-c', '{x}', '/etc/hosts'],
    ['vim', '-es', '+{x}', '/etc/hosts'],
    ['gdb', '-batch', '-ex', 'attach {pid}'],
    ['python3.11', '-W', 'ignore::{x}.Warning', '/opt/fix.py'],
  ]) {
    assert.equal(problems(argv).length, 1, JSON.stringify(argv));
  }
});

test('the script operand (the file, or awk\'s and sed\'s program text): refused, with text around the value too', () => {
  assert.deepEqual(problems(['python3', '{x}']), [script(1, 'python3', PYTHON_INSTEAD)]);
  assert.deepEqual(problems(['python3', '/opt/scripts/{x}.py']), [script(1, 'python3', PYTHON_INSTEAD)]);
  assert.deepEqual(problems(['tclsh', '{x}']), [script(1, 'tclsh', 'pass the value as an argument after the script: [tclsh, /opt/fix.tcl, "{x}"]')]);
  assert.deepEqual(problems(['sed', '-n', '{x}', '/etc/hosts']), [programText(2, 'sed', SED_INSTEAD)]);
  // python's -W takes a value: the script is the argument after it.
  assert.deepEqual(problems(['python3', '-W', 'ignore', '{x}']), [script(3, 'python3', PYTHON_INSTEAD)]);
  // lua runs its -e and then the script.
  assert.deepEqual(problems(['lua', '-e', 'x=1', '{x}']), [script(3, 'lua', 'pass the value as an argument after the script: [lua, /opt/fix.lua, "{x}"]')]);
  // sed reads options anywhere: -e after the program text still gives the program.
  assert.deepEqual(problems(['sed', '1p', '-e', '{x}']), [runs(3, 'sed', '-e', SED_INSTEAD)]);
  for (const argv of [
    ['awk', '{x}', '/var/log/syslog'],
    ['sed', '1e/{x}', '/etc/hosts'],
    ['perl', '{x}'],
    ['node', '{x}'],
    ['deno', 'run', '-A', '{x}'],
    ['deno', 'eval', '{x}'],
    ['bun', 'x', '{x}'],
    ['php', '-f', '{x}'],
    ['gawk', '-f', '/opt/{x}.awk', '/var/log/syslog'],
  ]) {
    assert.equal(problems(argv).length, 1, JSON.stringify(argv));
  }
});

test('an option a value could spell, or an option\'s value that chooses how code is read: refused', () => {
  assert.deepEqual(problems(['perl', '-{x}', '/opt/a.pl']), [
    `${at(1)}: "perl"'s options must be written out, not hold a {placeholder}: a value there could be read as an option that runs code; ${PERL_INSTEAD}`,
  ]);
  assert.deepEqual(problems(['awk', '-v', '{x}', '{print p}', '/var/log/syslog']), [
    `${at(2)}: "awk"'s -v variable name must be written out, not take a {placeholder}: an alert must not choose how "awk" reads the code it runs; pass the value as an input file after the program, or as a variable: [awk, -v, "name={x}", "{print name}", FILE]`,
  ]);
  for (const argv of [
    ['sed', '-n', '1p', '-{x}', '/etc/hosts'],
    ['python3', '--{x}', '/opt/fix.py'],
    ['node', '--title', '{x}', '/opt/a.js'],
    // An option rectify does not know may take the next argument: the script is then the one after it.
    ['node', '--heap-prof-dir', '/tmp', '{x}'],
    ['gdb', '-batch', '{x}'],
  ]) {
    assert.equal(problems(argv).length, 1, JSON.stringify(argv));
  }
});

test('through wrappers, kubectl exec and env -S, the interpreter is read the same way', () => {
  assert.deepEqual(problems(['sudo', '-u', 'app', 'perl', '-e', '{x}']), [runs(5, 'perl', '-e', PERL_INSTEAD)]);
  assert.deepEqual(problems(['timeout', '5', 'python3', '-c', 'print("{x}")']), [runs(4, 'python3', '-c', PYTHON_INSTEAD)]);
  assert.deepEqual(problems(['kubectl', 'exec', 'p', '--', 'perl', '-e', '{x}']), [runs(6, 'perl', '-e', PERL_INSTEAD)]);
  assert.deepEqual(problems(['env', '-S', 'perl -e', '{x}']), [
    `${at(2)}: "perl" runs code its arguments give: write it and its options as arguments of their own rather than in "env"'s split string, so that rectify reads them`,
  ]);
});

test('a value in the arguments after the script, in awk\'s and sed\'s input files, -v NAME=, gdb -p: still loads', () => {
  for (const argv of [
    ['python3', '/opt/fix.py', '{pod}'],
    ['perl', '/opt/x.pl', '--pod={pod}'],
    ['awk', '{print $1}', '/var/log/{svc}.log'],
    ['sed', '-n', '1p', '/srv/{x}.txt'],
    ['node', '/opt/a.js', '{x}'],
    ['python3', '-u', '/opt/fix.py', '{x}'],
    ['python3', '-m', 'http.server', '{port}'],
    ['python3', '-c', 'import sys; print(sys.argv[1])', '{x}'],
    ['perl', '-e', 'print @ARGV', '{x}'],
    ['awk', '-v', 'pod={pod}', '{print pod}', '/var/log/syslog'],
    ['gawk', '-f', '/opt/a.awk', '/var/log/{svc}.log'],
    ['sed', '-e', '1p', '/srv/{x}.txt'],
    ['php', '-f', '/opt/a.php', '{x}'],
    ['deno', 'run', '-A', '/opt/a.ts', '{x}'],
    ['vim', '-es', '-c', 'wq', '/srv/{x}.conf'],
    ['gdb', '-batch', '-ex', 'thread apply all bt', '-p', '{pid}'],
    ['sudo', '-u', 'app', '/usr/bin/python3', '/opt/fix.py', '{pod}'],
    ['node', '--no-warnings', '/opt/a.js', '{x}'],
    ['sed', '--quiet', '1p', '/srv/{x}.txt'],
    ['vim', '-es', '/srv/{x}.conf'],
    ['gdb', '-q', '-batch', '/usr/bin/app', '/var/crash/{core}'],
  ]) {
    assert.deepEqual(problems(argv), [], JSON.stringify(argv));
  }
});

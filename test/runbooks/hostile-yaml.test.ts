import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem } from '../../src/domain/errors.js';
import { loadRunbookFile, loadRunbooks, parseRunbooksText } from '../../src/runbooks/index.js';

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
const RUNBOOK = 'runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: kubectl delete pod {pod_name} -n prod\n';

test('a runbook file larger than 1 MiB is refused before it is parsed (a 50 MB file took minutes and gigabytes)', () => {
  const dir = folder();
  writeFileSync(join(dir, 'a.yaml'), RUNBOOK);
  // Valid YAML, so only its size can refuse it: 2 MiB of one description.
  writeFileSync(join(dir, 'big.yaml'), `runbooks:\n  big:\n    description: "${'x'.repeat(2 * 1024 * 1024)}"\n    action: kubectl delete pod {p}\n`);
  const { runbooks, problems } = loadRunbooks(dir);
  assert.deepEqual(problems.map(formatProblem), [
    `${dir}/big.yaml: cannot read the file: is larger than the 1 MiB a YAML file may be (2097224 bytes): split its runbooks into several files`,
  ]);
  assert.deepEqual(runbooks.map((r) => r.id), ['r']);
});

test('a runbook file of exactly 1 MiB still loads', () => {
  const dir = folder();
  const head = 'runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: kubectl delete pod {pod_name} -n prod\n#';
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
    `${dir}/pipe.yaml: cannot read the file: is not a regular file (a FIFO, a socket or a device)`,
  ]);
});

test('a FIFO or a socket named *.yaml in the folder itself is a problem naming it, not skipped in silence; a folder named *.yaml is no file', async () => {
  const dir = folder();
  writeFileSync(join(dir, 'a.yaml'), RUNBOOK);
  execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
  const sock = createServer();
  await new Promise<void>((ok) => sock.listen(join(dir, 'sock.yml'), ok));
  mkdirSync(join(dir, 'old.yaml'));
  try {
    const { runbooks, problems } = loadRunbooks(dir);
    assert.deepEqual(problems.map(formatProblem), [
      `${dir}/pipe.yaml: cannot read the file: is not a regular file (a FIFO, a socket or a device)`,
      `${dir}/sock.yml: cannot read the file: ENXIO (a socket or a device, not a regular file)`,
    ]);
    assert.deepEqual(runbooks.map((r) => r.id), ['r']);
  } finally {
    await new Promise((ok) => sock.close(ok));
  }
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
    problems: [{ file, path: '', message: 'cannot read the file: is not UTF-8 text: invalid bytes at line 6 (save the file as UTF-8)' }],
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

const rb = (...lines: string[]): string => ['runbooks:', '  r:', ...lines.map((l) => `    ${l}`), ''].join('\n');
const problemsOf = (text: string): string[] => {
  const { runbooks, problems } = parseRunbooksText(text, 'x.yaml');
  assert.deepEqual(runbooks, [], 'a file with a problem loads no runbook');
  return problems.map(formatProblem);
};

test('a %YAML 1.1 directive is refused: under it force_delete: yes loaded as true, 010 as 8 and 1:30 as 90', () => {
  assert.deepEqual(problemsOf(`%YAML 1.1\n---\n${rb('risk: LOW', 'force_delete: yes', 'action: kubectl delete pod {pod_name} -n prod')}`), [
    'x.yaml:1: %YAML 1.1: rectify reads YAML 1.2 (in YAML 1.1, yes, no, on and off are booleans, 010 is 8 and 1:30 is 90); remove the directive',
  ]);
  // Without it, YAML 1.2 reads them as text, which the fields refuse.
  assert.deepEqual(problemsOf(rb('risk: no', 'mode: off', 'force_delete: yes', 'cooldown_minutes: 1:30', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:3: runbooks.r.risk: expected LOW, MEDIUM or HIGH, got "no"',
    'x.yaml:4: runbooks.r.mode: expected one of auto, dry_run, got "off"',
    'x.yaml:5: runbooks.r.force_delete: expected true or false, got "yes"',
    'x.yaml:6: runbooks.r.cooldown_minutes: expected a number >= 0, got "1:30"',
  ]);
});

test('a tag other than the plain ones is refused at its path: !foo and !!js/function were dropped silently, and an !!omap of runbooks loaded none with no problem', () => {
  assert.deepEqual(problemsOf(rb('risk: !foo LOW', 'description: !!js/function "function () {}"', 'last_updated: !!timestamp 2026-01-01', 'triggers: !!set {a, b}', 'name: !!binary aGVsbG8=', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:3: runbooks.r.risk: YAML tag !foo is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
    'x.yaml:4: runbooks.r.description: YAML tag !!js/function is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
    'x.yaml:5: runbooks.r.last_updated: YAML tag !!timestamp is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
    'x.yaml:6: runbooks.r.triggers: YAML tag !!set is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
    'x.yaml:7: runbooks.r.name: YAML tag !!binary is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
  ]);
  assert.deepEqual(problemsOf('runbooks: !!omap\n  - r:\n      risk: LOW\n      action: kubectl delete pod {pod_name} -n prod\n'), [
    'x.yaml:2: runbooks: YAML tag !!omap is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
  ]);
  assert.deepEqual(problemsOf(rb('risk: LOW', 'actions:', '  - kubectl delete pod {pod_name} -n prod', '  - !shell "rm -rf /"')), [
    'x.yaml:6: runbooks.r.actions[1]: YAML tag !shell is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
  ]);
  // The plain tags only say what the value is: !!str 3 is the text "3".
  assert.deepEqual(problemsOf(rb('risk: !!str LOW', 'max_per_hour: !!str 3', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:4: runbooks.r.max_per_hour: expected a positive integer, got "3"',
  ]);
});

test('an integer with a leading zero is refused (0755: 755 in YAML 1.2, 493 in YAML 1.1); 0o17, 0x10 and 1e3 say what they are', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'max_per_hour: 0755', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:4: runbooks.r.max_per_hour: 0755 has a leading zero: YAML 1.2 reads it as 755, YAML 1.1 as an octal number; write 755, or quote it for text',
  ]);
  const { runbooks, problems } = parseRunbooksText(rb('risk: LOW', 'max_per_hour: 0o17', 'blast_radius_limit: 0x10', 'cooldown_minutes: 1e3', 'action: kubectl delete pod {pod_name} -n prod'), 'x.yaml');
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => [r.maxPerHour, r.blastRadiusLimit, r.cooldownMs]), [[15, 16, 1000 * 60_000]]);
});

test('an unquoted number or true/false in a command argument or a header value that does not read back as written is refused (1.10 ran as "1.1", 0o644 as "420"); 5 and true stay', () => {
  const argv = (...args: string[]): string => rb('risk: LOW', `action: {command: {argv: [${args.join(', ')}]}}`, 'rollback: none', 'rollback_reason: x');
  const at = (i: number) => `x.yaml:4: runbooks.r.action.command.argv[${i}]`;
  const quote = (written: string, read: string, kind = 'number') => `${written} is read as the ${kind} ${read}, not as the text written; an argument is text: quote it (${JSON.stringify(written)})`;
  assert.deepEqual(problemsOf(argv('deploy', '--version', '1.10', '--mode', '0o644', '0x1F', '1e3', '12345678901234567890', '.inf', '-0', '+5', '5.0')), [
    `${at(2)}: ${quote('1.10', '1.1')}`,
    `${at(4)}: ${quote('0o644', '420')}`,
    `${at(5)}: ${quote('0x1F', '31')}`,
    `${at(6)}: ${quote('1e3', '1000')}`,
    `${at(7)}: ${quote('12345678901234567890', '12345678901234567000')}`,
    `${at(8)}: ${quote('.inf', 'Infinity')}`,
    `${at(9)}: ${quote('-0', '0')}`,
    `${at(10)}: ${quote('+5', '5')}`,
    `${at(11)}: ${quote('5.0', '5')}`,
  ]);
  // Through an alias, the number is the anchor's as written.
  assert.deepEqual(problemsOf(argv('deploy', '&v 1.10', '*v')), [`${at(1)}: ${quote('1.10', '1.1')}`, `${at(2)}: ${quote('1.10', '1.1')}`]);
  // Numbers that read back as written, and quoted text, run as written.
  const ok = parseRunbooksText(argv('/bin/sleep', '5', '-3', '1.5', '"1.10"', '"0x1F"'), 'x.yaml');
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.runbooks[0]?.actions[0]?.type === 'command' && ok.runbooks[0].actions[0].argv.map((t) => t.source), ['/bin/sleep', '5', '-3', '1.5', '1.10', '0x1F']);

  // Header values, in an http action and an http check: numbers and true/false alike.
  const headers = (h: string) =>
    rb('risk: LOW', `action: {http: {url: "http://127.0.0.1:8080/x", headers: {${h}}}}`, `post_checks: [{http: {url: "http://127.0.0.1:8080/health", headers: {${h}}}}]`, 'rollback: none', 'rollback_reason: x');
  const header = (path: string, written: string, read: string, kind = 'number') =>
    `${path}: ${written} is read as the ${kind} ${read}, not as the text written; a header value is text: quote it (${JSON.stringify(written)})`;
  assert.deepEqual(problemsOf(headers('X-Version: 1.10, X-Flag: True')), [
    header('x.yaml:4: runbooks.r.action.http.headers.X-Version', '1.10', '1.1'),
    header('x.yaml:4: runbooks.r.action.http.headers.X-Flag', 'True', 'true', 'boolean'),
    header('x.yaml:5: runbooks.r.post_checks[0].http.headers.X-Version', '1.10', '1.1'),
    header('x.yaml:5: runbooks.r.post_checks[0].http.headers.X-Flag', 'True', 'true', 'boolean'),
  ]);
  const sent = parseRunbooksText(headers('X-Version: "1.10", X-Count: 3, X-Flag: true'), 'x.yaml');
  assert.deepEqual(sent.problems, []);
  const action = sent.runbooks[0]?.actions[0];
  assert.deepEqual(action?.type === 'http' && Object.fromEntries(Object.entries(action.headers).map(([k, t]) => [k, t.source])), { 'X-Version': '1.10', 'X-Count': '3', 'X-Flag': 'true' });
});

test('a second YAML document is refused in the file\'s terms, and nesting thousands deep is an error, not a crash', () => {
  assert.deepEqual(problemsOf(`${rb('risk: HIGH', 'action: kubectl delete pod {pod_name} -n prod')}---\n${rb('risk: LOW', 'action: kubectl delete pod {pod_name} -n prod')}`), [
    'x.yaml:5: YAML syntax error at line 5: a second YAML document begins here (after "---"): a file holds one document; merge it into the first or move it to a file of its own',
  ]);
  assert.deepEqual(problemsOf(rb(`triggers: ${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:3: YAML syntax error at line 3: nested too deeply (lists or maps inside each other thousands of levels down)',
  ]);
});

test('a duplicate key is refused, never last-wins, naming its path and where it was first given ("Map keys must be unique" named neither)', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'risk: HIGH', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:4: runbooks.r.risk: key "risk" is given twice in one map (first at line 3); give it once: neither value is taken',
  ]);
  assert.deepEqual(problemsOf(`${rb('risk: LOW', 'action: kubectl delete pod {pod_name} -n prod')}  r:\n    risk: HIGH\n    actions: ["kubectl delete pod {pod_name} -n prod"]\n`), [
    'x.yaml:5: runbooks.r: key "r" is given twice in one map (first at line 2); give it once: neither value is taken',
  ]);
  assert.deepEqual(problemsOf(rb('risk: LOW', 'pre_checks:', '  - promql: {query: up, expect: "> 0", expect: "== 0"}', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:5: runbooks.r.pre_checks[0].promql.expect: key "expect" is given twice in one map (first at line 5); give it once: neither value is taken',
  ]);
  // With a tag before it, in file order.
  assert.deepEqual(problemsOf(rb('risk: !x LOW', 'risk: HIGH', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:3: runbooks.r.risk: YAML tag !x is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
    'x.yaml:4: runbooks.r.risk: key "risk" is given twice in one map (first at line 3); give it once: neither value is taken',
  ]);
});

test('a key that is a list, a map or an alias is refused at its map: it was turned into text ("[ a, b ]") with a warning on stderr', () => {
  assert.deepEqual(problemsOf('runbooks:\n  ? [a, b]\n  : risk: LOW\n    action: kubectl delete pod {pod_name} -n prod\n'), [
    'x.yaml:2: runbooks: a key here is a list: write each key out as text',
  ]);
  assert.deepEqual(problemsOf(rb('risk: LOW', '? {a: 1}', ': x', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:4: runbooks.r: a key here is a map: write each key out as text',
  ]);
  assert.deepEqual(problemsOf(rb('risk: &k LOW', '*k : x', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:4: runbooks.r: a key here is an alias (*name): write each key out as text',
  ]);
});

test('cooldown_minutes above a year is refused: 1e20 loaded, and its end, past the last date JavaScript holds, made GET /api/v1/runbooks answer 500 after one run', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'cooldown_minutes: 1e20', 'action: kubectl delete pod {pod_name} -n prod')), [
    'x.yaml:4: runbooks.r.cooldown_minutes: expected at most 525600 minutes (a year), got 100000000000000000000: to stop a runbook acting, set mode: dry_run or remove it',
  ]);
  const { runbooks, problems } = parseRunbooksText(rb('risk: LOW', 'cooldown_minutes: 525600', 'action: kubectl delete pod {pod_name} -n prod'), 'x.yaml');
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => r.cooldownMs), [525_600 * 60_000]);
});

test('a folder loads *.yaml and *.yml only; editor leftovers are skipped, and a name in the wrong case is a warning, not skipped silently', () => {
  const dir = folder();
  const body = (id: string): string => RUNBOOK.replace('  r:', `  ${id}:`);
  const names = { 'a.yaml': 'a', 'b.yml': 'b', 'C.YAML': 'c', 'd.Yml': 'd', 'e.yaml~': 'e', '.#f.yaml': 'f', 'g.yaml.swp': 'g', '#h.yaml#': 'h', 'i.yaml.bak': 'i', 'j.test.yaml': 'j' };
  for (const [name, id] of Object.entries(names)) writeFileSync(join(dir, name), body(id));
  mkdirSync(join(dir, 'k.yaml'));
  const { runbooks, problems, warnings } = loadRunbooks(dir);
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => r.id), ['a', 'b']);
  assert.deepEqual(warnings.filter((w) => w.message.startsWith('not loaded')).map(formatProblem), [
    `${dir}/C.YAML: not loaded: only names ending in .yaml or .yml, in lowercase, are runbook files; rename it to C.yaml`,
    `${dir}/d.Yml: not loaded: only names ending in .yaml or .yml, in lowercase, are runbook files; rename it to d.yml`,
  ]);
});

test('a symlink loop, a dangling symlink and a symlink to a folder are problems naming each file; the other files load', () => {
  const dir = folder();
  writeFileSync(join(dir, 'a.yaml'), RUNBOOK);
  symlinkSync('loop2.yaml', join(dir, 'loop1.yaml'));
  symlinkSync('loop1.yaml', join(dir, 'loop2.yaml'));
  symlinkSync(join(root, 'nothing-here'), join(dir, 'dangling.yaml'));
  symlinkSync(dir, join(dir, 'self.yaml'));
  const { runbooks, problems } = loadRunbooks(dir);
  assert.deepEqual(problems.map(formatProblem), [
    `${dir}/dangling.yaml: cannot read the file: ENOENT (file not found)`,
    `${dir}/loop1.yaml: cannot read the file: ELOOP (a symlink loop)`,
    `${dir}/loop2.yaml: cannot read the file: ELOOP (a symlink loop)`,
    `${dir}/self.yaml: cannot read the file: is a directory`,
  ]);
  assert.deepEqual(runbooks.map((r) => r.id), ['r']);
});

test('a raw control or invisible character is refused with its line and column: a right-to-left override or zero-width space made a line read otherwise than it ran, a raw NUL failed only when the step ran', () => {
  const argv = (ch: string): string => rb('risk: LOW', `action: {command: {argv: [/usr/bin/touch, "/tmp/a${ch}b"]}}`, 'rollback: none', 'rollback_reason: x');
  const said = (code: string, kind = 'an invisible character'): string[] => [
    `x.yaml:4: line 4, column 54: ${kind}, U+${code}: what is shown is not what is read; remove it, or write it as the escape "\\u${code.toLowerCase()}" in a double-quoted string if it is meant`,
  ];
  assert.deepEqual(problemsOf(argv('\u202e')), said('202E'));
  assert.deepEqual(problemsOf(argv('\u200b')), said('200B'));
  // A NUL is not offered its escape: that is refused in a command argument as well.
  assert.deepEqual(problemsOf(argv('\u0000')), [
    'x.yaml:4: line 4, column 54: a control character, U+0000: what is shown is not what is read; remove it',
  ]);
  assert.deepEqual(problemsOf(argv('\u001b')), said('001B', 'a control character'));
  // Written as an escape it is explicit; a byte order mark may open the file; a tab is text.
  const { runbooks, problems } = parseRunbooksText(`\uFEFF${argv('\\u202e')}`.replace('LOW', 'LOW\t'), 'x.yaml');
  assert.deepEqual(problems, []);
  assert.equal(runbooks.length, 1);
});

// Regression: `match: ['namespace!="kube-system<U+180E>"']` loaded, and the guard it was
// written as held for kube-system too; so did a trigger or matcher value holding a no-break
// space, a Hangul filler or a line separator.
test('the other invisible characters, the spaces that are not U+0020 and the line separators are refused too, in matcher values and triggers alike', () => {
  const matcher = (ch: string): string => rb('risk: LOW', 'triggers: [Foo]', `match: ['namespace!="kube-system${ch}"']`, 'action: {http: {method: GET, url: "http://127.0.0.1:9/x"}}');
  const trigger = (ch: string): string => rb('risk: LOW', `triggers: [Foo, "Ba${ch}r"]`, 'action: {http: {method: GET, url: "http://127.0.0.1:9/x"}}');
  const said = (line: number, column: number, code: string, kind: string, escape = `\\u${code.toLowerCase()}`): string[] => [
    `x.yaml:${line}: line ${line}, column ${column}: ${kind}, U+${code}: what is shown is not what is read; remove it, or write it as the escape "${escape}" in a double-quoted string if it is meant`,
  ];
  const invisible = 'an invisible character';
  const space = 'a space that is not the plain space (U+0020)';
  const separator = 'a line or paragraph separator (not a line break in YAML)';
  const cases: Array<[string, string, string]> = [
    ['\u180e', '180E', invisible], // Mongolian vowel separator
    ['\u034f', '034F', invisible], // combining grapheme joiner
    ['\u3164', '3164', invisible], // Hangul filler
    ['\u115f', '115F', invisible],
    ['\uffa0', 'FFA0', invisible],
    ['\u061c', '061C', invisible], // Arabic letter mark
    ['\u180b', '180B', invisible],
    ['\u00a0', '00A0', space], // no-break space
    ['\u202f', '202F', space],
    ['\u3000', '3000', space],
    ['\u2028', '2028', separator],
    ['\u2029', '2029', separator],
  ];
  for (const [ch, code, kind] of cases) {
    assert.deepEqual(problemsOf(matcher(ch)), said(5, 37, code, kind), `match: ${code}`);
    assert.deepEqual(problemsOf(trigger(ch)), said(4, 24, code, kind), `triggers: ${code}`);
  }
  // A character beyond U+FFFF is offered YAML's long escape.
  assert.deepEqual(problemsOf(trigger('\u{e0041}')), said(4, 24, 'E0041', invisible, '\\U000e0041'));
  // Written as escapes they are explicit, and load.
  const { runbooks, problems } = parseRunbooksText(rb('risk: LOW', 'triggers: [Foo, "Ba\\u00a0r"]', 'match: [\'namespace!="kube-system\\u180e"\']', 'action: {http: {method: GET, url: "http://127.0.0.1:9/x"}}'), 'x.yaml');
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks[0]!.triggers, ['Foo', 'Ba\u00a0r']);
});

// Regression: the escape "\0" (or "\u0000") in a double-quoted argument loaded, and the
// step failed when it ran: no program can be given an argument holding a NUL.
test('a NUL written as an escape in a command argument ("\\0", "\\u0000", "\\x00") is refused at load, naming the file and the argument', () => {
  const NUL = 'cannot hold a NUL character: the operating system ends an argument at it, so the program could never be started with it; remove it';
  const argv = (...args: string[]): string => rb('risk: LOW', `action: {command: {argv: [${args.join(', ')}]}}`, 'rollback: none', 'rollback_reason: x');
  assert.deepEqual(problemsOf(argv('/usr/bin/touch', '"/tmp/a\\0b"')), [`x.yaml:4: runbooks.r.action.command.argv[1]: the argument ${NUL}`]);
  assert.deepEqual(problemsOf(argv('/usr/bin/touch', '"ok"', '"\\u0000"')), [`x.yaml:4: runbooks.r.action.command.argv[2]: the argument ${NUL}`]);
  assert.deepEqual(problemsOf(argv('"/usr/bin/touch\\x00"', '"ok"')), [`x.yaml:4: runbooks.r.action.command.argv[0]: the program ${NUL}`]);
  // Also in a runbook's list of actions, and next to a placeholder.
  const listed = rb('risk: LOW', 'actions:', '  - command: {argv: [/usr/bin/logger, "{service}\\0"]}', 'rollback: none', 'rollback_reason: x');
  assert.deepEqual(problemsOf(listed), [`x.yaml:5: runbooks.r.actions[0].command.argv[1]: the argument ${NUL}`]);
  // Other escapes are text an argument may hold.
  const { problems } = parseRunbooksText(argv('/usr/bin/printf', '"a\\tb\\u00e9"'), 'x.yaml');
  assert.deepEqual(problems, []);
});

test('a carriage return not followed by a line feed is refused with its line and column: an editor shows what follows it on a line of its own, YAML reads it as part of the comment', () => {
  const text = rb('risk: LOW', 'triggers: [CrProbe]  # reviewed\r    mode: dry_run', 'action: kubectl delete pod {pod_name} -n prod');
  assert.deepEqual(problemsOf(text), [
    'x.yaml:4: line 4, column 36: a carriage return not followed by a line feed (shown as a line break, read as none), U+000D: what is shown is not what is read; remove it, or write it as the escape "\\u000d" in a double-quoted string if it is meant',
  ]);
  // The same file with CRLF endings (each \r followed by \n) loads, dry_run and all.
  const { runbooks, problems } = parseRunbooksText(text.replace('\r', '\n').replace(/\n/g, '\r\n'), 'x.yaml');
  assert.deepEqual(problems.map(formatProblem), []);
  assert.deepEqual(runbooks.map((r) => [r.id, r.mode]), [['r', 'dry_run']]);
});

test('a plain tag that does not say what its value is is refused at its path: !!null LOW loaded as "LOW", !!map [X] as a list, and !!int "0755" as 755 past the leading-zero rule', () => {
  assert.deepEqual(problemsOf(rb('risk: !!null LOW', 'triggers: !!map [X]', 'max_per_hour: !!int "0755"', 'action: !!seq "kubectl delete pod {pod_name} -n prod"', 'blast_radius_limit: !!int "x"', 'force_delete: !!bool yes', 'description: !!str [a]')), [
    'x.yaml:3: runbooks.r.risk: YAML tag !!null does not say what the value is (the text "LOW"): a tag may only name what a value already is; remove the tag',
    'x.yaml:4: runbooks.r.triggers: YAML tag !!map does not say what the value is (a list): a tag may only name what a value already is; remove the tag',
    'x.yaml:5: runbooks.r.max_per_hour: 0755 has a leading zero: YAML 1.2 reads it as 755, YAML 1.1 as an octal number; write 755, or remove the tag for text',
    'x.yaml:6: runbooks.r.action: YAML tag !!seq does not say what the value is (the text "kubectl delete pod {pod_name} -n prod"): a tag may only name what a value already is; remove the tag',
    'x.yaml:7: runbooks.r.blast_radius_limit: YAML tag !!int does not say what the value is (the text "x"): a tag may only name what a value already is; remove the tag',
    'x.yaml:8: runbooks.r.force_delete: YAML tag !!bool does not say what the value is (the text "yes"): a tag may only name what a value already is; remove the tag',
    'x.yaml:9: runbooks.r.description: YAML tag !!str does not say what the value is (a list): a tag may only name what a value already is; remove the tag',
  ]);
  // A tag that names what the value is stays allowed.
  const { runbooks, problems } = parseRunbooksText(rb('risk: !!str LOW', 'triggers: !!seq [X]', 'max_per_hour: !!int "12"', 'force_delete: !!bool false', 'action: !!str kubectl delete pod {pod_name} -n prod'), 'x.yaml');
  assert.deepEqual(problems.map(formatProblem), []);
  assert.deepEqual(runbooks.map((r) => [r.id, r.risk, r.maxPerHour]), [['r', 'LOW', 12]]);
});

test('a body key that is not text, or a merge key, is refused at its path: 0x1f was sent as "31", 1.10 as "1.1", ~ as "", and <<: *base as a key named "<<"', () => {
  const body = (b: string): string => rb('risk: LOW', 'triggers: [X]', 'action:', '  http:', '    url: "http://127.0.0.1:9/x"', `    body: ${b}`, 'rollback: none', 'rollback_reason: x');
  const at = 'x.yaml:8: runbooks.r.action.http.body';
  assert.deepEqual(problemsOf(body('{0x1f: a, 1.10: b, 1e3: c, true: d, ~: e, "0x20": f}')), [
    `${at}.31: the body key 0x1f is read as the number 31 (sent as "31"), not as the text written; a body key is text: quote it ("0x1f")`,
    `${at}.1000: the body key 1e3 is read as the number 1000 (sent as "1000"), not as the text written; a body key is text: quote it ("1e3")`,
    `${at}["1.1"]: the body key 1.10 is read as the number 1.1 (sent as "1.1"), not as the text written; a body key is text: quote it ("1.10")`,
    `${at}.true: the body key true is read as true (sent as "true"), not as the text written; a body key is text: quote it ("true")`,
    `${at}[""]: the body key ~ is read as null (sent as ""), not as the text written; a body key is text: quote it ("~")`,
  ]);
  // ~ and "" are both the key "" as read: a duplicate, never last-wins.
  assert.deepEqual(problemsOf(body('{~: first, "": second}')), [`${at}[""]: key "" is given twice in one map (first at line 8); give it once: neither value is taken`]);
  assert.deepEqual(problemsOf(body('{base: &b {force: false}, real: {<<: *b, force: true}}')), [
    `${at}.real.<<: the body key << is no merge in YAML 1.2: it would be sent as a key named "<<"; write the keys out, or quote it ("<<") if that key is meant`,
  ]);
  // Quoted, each is the text written.
  const { runbooks, problems } = parseRunbooksText(body('{"0x1f": a, "1.10": b, "<<": c, "": d}'), 'x.yaml');
  assert.deepEqual(problems.map(formatProblem), []);
  const action = runbooks[0]!.actions[0]!;
  assert.deepEqual(action.type === 'http' ? action.body : undefined, { '0x1f': 'a', '1.10': 'b', '<<': 'c', '': 'd' });
});

test('a key holding a ".", a quote, a space or a control character is named quoted with escapes, and a long one cut: a newline in a key printed a line of its own that passed for another problem, and runbooks.e.f.action named no one runbook', () => {
  const text = [
    'runbooks:',
    '  e.f:',
    '    risk: LOW',
    '    action: kubectl delete pod {pod_name} -n prod',
    '    "foo\\e[31m\\nfake.yaml:1: runbooks.b: all good": 1',
    `    ${'k'.repeat(70)}: 1`,
    '    "a b": 1',
    '',
  ].join('\n');
  assert.deepEqual(problemsOf(text), [
    'x.yaml:5: runbooks["e.f"]["foo\\u001b[31m\\nfake.yaml:1: runbooks.b: all good"]: unknown key',
    `x.yaml:6: runbooks["e.f"].${'k'.repeat(60)}…: unknown key`,
    'x.yaml:7: runbooks["e.f"]["a b"]: unknown key',
  ]);
});

test('a syntax error is reported once, at its first error, not with every token the parser is lost on after it; an unquoted {placeholder} on its line is named as the cause', () => {
  const flowList = rb('risk: LOW', 'triggers: [pod_crashloop, {pod}}]', 'match: [\'namespace!="kube-system"\']', 'action: kubectl delete pod {pod} -n prod', 'rollback: null');
  assert.deepEqual(problemsOf(flowList), [
    'x.yaml:4: YAML syntax error at line 4: Flow sequence in block collection must be sufficiently indented and end with a ]; {pod} unquoted is a YAML flow map, and no placeholder is filled in triggers: write the value out (12 more syntax errors after it, not listed: they likely follow from this one)',
  ]);
  // In an action's arguments a placeholder is meant: quoting it is the fix.
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [pod_crashloop]', 'actions: [{command: {argv: [/usr/local/bin/flush, {queue}}]}}]')), [
    'x.yaml:5: YAML syntax error at line 5: Flow sequence in block collection must be sufficiently indented and end with a ]; {queue} unquoted is a YAML flow map, not a placeholder: quote the text holding it, as in "{queue}" (2 more syntax errors after it, not listed: they likely follow from this one)',
  ]);
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [pod_crashloop]', 'action: {verb: scale, kind: deployment, name: {service}-api, namespace: prod}')), [
    'x.yaml:5: YAML syntax error at line 5: Unexpected scalar at node end; {service} unquoted is a YAML flow map, not a placeholder: quote the text holding it, as in "{service}"',
  ]);
  // Quoted, it is no flow map; and an error on a line without one names no placeholder.
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [pod_crashloop, "{pod}", x', 'action: kubectl delete pod {pod} -n prod')), [
    'x.yaml:5: YAML syntax error at line 5: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]);
});

test('a merge key << is refused as no merge in YAML 1.2, with no key proposed for it ("did you mean \\"id\\"?" was)', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: &t [pod_crashloop]', '<<: *t', 'action: kubectl delete pod {pod} -n prod', 'rollback: null')), [
    'x.yaml:5: runbooks.r.<<: unknown key: << is no merge in YAML 1.2, where it is a key like any other; write the keys out',
  ]);
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [pod_crashloop]', '"<<": x', '"-": y', 'action: kubectl delete pod {pod} -n prod', 'rollback: null')), [
    'x.yaml:5: runbooks.r.<<: unknown key',
    'x.yaml:6: runbooks.r.-: unknown key',
  ]);
});

test('an unquoted {placeholder} that parses, a flow map of one key, is named where a string was expected: quote it where placeholders are filled, and where none are, said so', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [pod_crashloop, {pod}]', 'actions: [{command: {argv: [/usr/local/bin/flush, {queue}]}}]', 'rollback: null')), [
    'x.yaml:4: runbooks.r.triggers[1]: expected a string, got a map ({pod} unquoted is a YAML flow map, and no placeholder is filled in triggers: write the value out)',
    'x.yaml:5: runbooks.r.actions[0].command.argv[1]: expected a string, got a map ({queue} unquoted is a YAML flow map, not a placeholder: quote it, "{queue}")',
  ]);
  // A map that is one: no placeholder named.
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [pod_crashloop, {pod: x}]', 'action: kubectl delete pod {pod} -n prod', 'rollback: null')), [
    'x.yaml:4: runbooks.r.triggers[1]: expected a string, got a map',
  ]);
});

test('triggers: [x, {service}] is told that triggers take no placeholder, not to quote it (a trigger "{service}" matches no alert)', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [x, {service}]', 'action: kubectl delete pod {pod} -n prod', 'rollback: null')), [
    'x.yaml:4: runbooks.r.triggers[1]: expected a string, got a map ({service} unquoted is a YAML flow map, and no placeholder is filled in triggers: write the value out)',
  ]);
});

test('an action argument [restart, {service}] is still told to quote the placeholder', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [x]', 'actions: [{command: {argv: [restart, {service}]}}]', 'rollback: null')), [
    'x.yaml:5: runbooks.r.actions[0].command.argv[1]: expected a string, got a map ({service} unquoted is a YAML flow map, not a placeholder: quote it, "{service}")',
  ]);
});

test('a block item with a stray colon (- CrashLoopBackOff:) is told the trailing ":" makes it a map, not that it is a flow map', () => {
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers:', '  - CrashLoopBackOff:', 'action: kubectl delete pod {pod} -n prod', 'rollback: null')), [
    'x.yaml:5: runbooks.r.triggers[0]: expected a string, got a map (the trailing ":" in CrashLoopBackOff: makes it a map; remove the ":")',
  ]);
  // The same in an action's arguments, where a placeholder could be meant: still the colon.
  assert.deepEqual(problemsOf(rb('risk: LOW', 'triggers: [x]', 'actions:', '  - command:', '      argv:', '        - restart', '        - service:', 'rollback: null')), [
    'x.yaml:9: runbooks.r.actions[0].command.argv[1]: expected a string, got a map (the trailing ":" in service: makes it a map; remove the ":")',
  ]);
});

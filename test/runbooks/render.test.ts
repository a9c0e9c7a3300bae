import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { formatProblem } from '../../src/domain/errors.js';
import type { Runbook } from '../../src/domain/runbook.js';
import { createRunbookIndex, loadRunbooks, parseRunbooksText, renderChecks, renderPlan } from '../../src/runbooks/index.js';
import { FIXTURES, SEED_RUNBOOKS } from './helpers.js';

const seed = createRunbookIndex(loadRunbooks(SEED_RUNBOOKS).runbooks);
const good = createRunbookIndex(loadRunbooks(join(FIXTURES, 'good')).runbooks);
const rb = (index: typeof seed, id: string): Runbook => {
  const r = index.byId(id);
  assert.ok(r, id);
  return r;
};

function inline(body: string): Runbook {
  const { runbooks, problems } = parseRunbooksText(`runbooks:\n  t:\n    risk: LOW\n${body}`, 'inline.yaml');
  assert.deepEqual(problems.map(formatProblem), []);
  return runbooks[0]!;
}

function refusal(runbook: Runbook, values: Record<string, string>): string {
  const r = renderPlan(runbook, values);
  assert.ok(!r.ok, 'expected a refusal');
  return r.reason;
}

const K8S_NAME = 'expected a Kubernetes name (lowercase letters, digits, "-" and ".")';
const URL_FORM = 'a URL or a remote path ("scheme:/", "host:/")';
const SCP_FORM = 'a remote path ("user@host:", as scp, rsync and git read it)';
const DAEMON_FORM = 'an rsync daemon address ("host::module")';
const REMOTE_TAIL = ': an alert must not choose the file or host a program reads; write the scheme and host in the runbook';

test("the seed's restart-pod renders with INC001's context", () => {
  const r = renderPlan(rb(seed, 'restart-pod'), { pod_name: 'api-server-abc123', namespace: 'production' });
  assert.deepEqual(r, {
    ok: true,
    plan: {
      params: { pod_name: 'api-server-abc123', namespace: 'production' },
      actions: [
        {
          index: 0,
          phase: 'action',
          type: 'kubernetes',
          summary: 'kubectl delete pod api-server-abc123 -n production (eviction)',
          spec: { type: 'kubernetes', verb: 'evict_pod', kind: 'pod', name: 'api-server-abc123', namespace: 'production', args: {}, timeoutMs: 60_000 },
        },
      ],
      rollback: null,
    },
  });
});

test("the seed's scale-up renders its action and its rollback with INC002's context", () => {
  const r = renderPlan(rb(seed, 'scale-up'), { deployment: 'worker', namespace: 'production', new_replicas: '5', old_replicas: '3', unused: 'x' });
  assert.ok(r.ok);
  assert.deepEqual(r.plan.params, { deployment: 'worker', namespace: 'production', new_replicas: '5', old_replicas: '3' });
  assert.deepEqual(
    [...r.plan.actions, ...(r.plan.rollback ?? [])].map((s) => [s.phase, s.summary]),
    [
      ['action', 'kubectl scale deployment worker --replicas=5 -n production'],
      ['rollback', 'kubectl scale deployment worker --replicas=3 -n production'],
    ],
  );
  // The count the action's replicas were worked out from rides with it, for the executor to
  // refuse a scale the workload has moved past since; the rollback restores what the run read.
  assert.deepEqual((r.plan.actions[0]!.spec as { args: Record<string, string> }).args, { replicas: '5', planned_from: '3' });
  assert.deepEqual((r.plan.rollback![0]!.spec as { args: Record<string, string> }).args, { replicas: '3' });
});

test('a value missing for any placeholder, rollback included, refuses the whole plan', () => {
  assert.equal(refusal(rb(seed, 'rollback-deployment'), { namespace: 'production' }), "no value for placeholder {deployment} (not in the incident's context or labels)");
  const r = renderPlan(rb(seed, 'scale-up'), { deployment: 'worker', namespace: 'production', new_replicas: '5' });
  assert.deepEqual(r, { ok: false, param: 'old_replicas', reason: "no value for placeholder {old_replicas} (not in the incident's context or labels)" });
});

test('shell, path, option and Unicode tricks are refused with the placeholder, the position and the value', () => {
  const restart = rb(seed, 'restart-pod');
  const ns = { namespace: 'production' };
  assert.deepEqual(renderPlan(restart, { ...ns, pod_name: 'a;rm -rf /' }), {
    ok: false,
    param: 'pod_name',
    reason: `placeholder {pod_name} in action 1: value "a;rm -rf /" ${K8S_NAME}`,
  });
  assert.equal(refusal(restart, { ...ns, pod_name: '../etc' }), `placeholder {pod_name} in action 1: value "../etc" ${K8S_NAME}`);
  assert.equal(refusal(restart, { ...ns, pod_name: 'x\ny' }), `placeholder {pod_name} in action 1: value "x\\ny" ${K8S_NAME}`);
  assert.equal(refusal(restart, { ...ns, pod_name: '--kubeconfig=/x' }), `placeholder {pod_name} in action 1: value "--kubeconfig=/x" ${K8S_NAME}`);
  // Cyrillic "а" and fullwidth "ａ" look like "a".
  assert.equal(refusal(restart, { ...ns, pod_name: 'аpi-server' }), `placeholder {pod_name} in action 1: value "аpi-server" ${K8S_NAME}`);
  assert.equal(refusal(restart, { ...ns, pod_name: 'ａpi' }), `placeholder {pod_name} in action 1: value "ａpi" ${K8S_NAME}`);
  assert.equal(refusal(restart, { ...ns, pod_name: '' }), `placeholder {pod_name} in action 1: value "" is empty, ${K8S_NAME}`);
  const long = 'a'.repeat(300);
  assert.equal(
    refusal(restart, { ...ns, pod_name: long }),
    `placeholder {pod_name} in action 1: value "${'a'.repeat(80)}…" is longer than 253 characters, ${K8S_NAME}`,
  );
  assert.equal(
    refusal(restart, { pod_name: 'api', namespace: 'kube-system; x' }),
    'placeholder {namespace} in action 1: value "kube-system; x" expected a Kubernetes namespace (RFC 1123 label)',
  );
  assert.equal(
    refusal(rb(seed, 'scale-up'), { deployment: 'w', namespace: 'p', new_replicas: '5;x', old_replicas: '1' }),
    'placeholder {new_replicas} in action 1: value "5;x" expected a whole number',
  );
  assert.equal(
    refusal(rb(seed, 'scale-up'), { deployment: 'w', namespace: 'p', new_replicas: '5', old_replicas: '-1' }),
    'placeholder {old_replicas} in rollback 1: value "-1" expected a whole number',
  );
});

test('URL placeholders: one path segment or a query value, and the origin never moves', () => {
  const app = rb(good, 'call-the-app');
  const ok = { service: 'api', reason: 'oom', incident: 'INC001', queue: 'jobs', replicas: '2' };
  const seg = 'expected one URL path segment ([A-Za-z0-9._~-])';
  assert.equal(refusal(app, { ...ok, service: '../etc' }), `placeholder {service} in action 1: value "../etc" ${seg}`);
  assert.equal(refusal(app, { ...ok, service: '%2e%2e' }), `placeholder {service} in action 1: value "%2e%2e" ${seg}`);
  assert.equal(refusal(app, { ...ok, service: '..' }), `placeholder {service} in action 1: value ".." ${seg}`);
  assert.equal(refusal(app, { ...ok, service: 'a/b' }), `placeholder {service} in action 1: value "a/b" ${seg}`);
  assert.equal(refusal(app, { ...ok, service: '@evil.example' }), `placeholder {service} in action 1: value "@evil.example" ${seg}`);
  assert.equal(
    refusal(app, { ...ok, reason: 'x&admin=1' }),
    'placeholder {reason} in action 1: value "x&admin=1" expected a URL query value ([A-Za-z0-9._~-])',
  );
  // Values side by side: each must be a segment on its own, and "." is not one.
  const twin = inline('    action: {http: {url: "http://127.0.0.1:8080/a/{x}{y}/b"}}\n');
  assert.equal(refusal(twin, { x: '.', y: '.' }), `placeholder {x} in action 1: value "." ${seg}`);
  const r = renderPlan(twin, { x: 'v', y: '1' });
  assert.ok(r.ok);
  assert.equal(r.plan.actions[0]?.summary, 'POST http://127.0.0.1:8080/a/v1/b');
});

const HEADER = 'expected an HTTP header value (printable ASCII: letters, digits, spaces and punctuation)';

test('headers and bodies: header values printable ASCII, body text without control characters, no smuggled secret references, JSON structure kept', () => {
  const app = rb(good, 'call-the-app');
  const ok = { service: 'api', reason: 'oom', incident: 'INC001', queue: 'jobs', replicas: '2' };
  assert.equal(refusal(app, { ...ok, incident: 'x\r\nX-Admin: 1' }), `placeholder {incident} in action 1: value "x\\r\\nX-Admin: 1" ${HEADER}`);
  // What the HTTP client cannot send (above U+00FF) or a server would misread (Latin-1 bytes, C1 controls, tab).
  const shown: Array<[string, string]> = [
    ['платежи', '"платежи"'],
    // Invisible or line-reordering characters are shown escaped.
    ['\u202e', '"\\u202e"'],
    ['．．', '"．．"'],
    ['café', '"café"'],
    ['\u0085', '"\\u0085"'],
    ['a\tb', '"a\\tb"'],
    ['\u007f', '"\\u007f"'],
  ];
  for (const [incident, quoted] of shown) {
    assert.equal(refusal(app, { ...ok, incident }), `placeholder {incident} in action 1: value ${quoted} ${HEADER}`);
  }
  // A JSON body carries any Unicode; only control characters are refused there.
  const body = inline(`    triggers: [T]\n    action:\n      http: {url: "http://127.0.0.1:8080/note", body: {team: "{team}"}}\n`);
  const rendered = renderPlan(body, { team: 'платежи' });
  assert.ok(rendered.ok);
  assert.deepEqual((rendered.plan.actions[0]?.spec as { body: unknown }).body, { team: 'платежи' });
  assert.equal(refusal(body, { team: 'a\nb' }), 'placeholder {team} in action 1: value "a\\nb" expected printable text without control characters or invisible marks that reorder or hide text');
  // Nor C1 controls (NEL ends a line to some readers), line and paragraph separators, or the
  // bidi embeddings, overrides and isolates that reorder what a person reads ("ok\u202egnp.exe").
  for (const ch of ['\u0080', '\u0085', '\u009f', '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
    const hex = ch.charCodeAt(0).toString(16).padStart(4, '0');
    assert.equal(refusal(body, { team: `ok${ch}gnp.exe` }), `placeholder {team} in action 1: value "ok\\u${hex}gnp.exe" expected printable text without control characters or invisible marks that reorder or hide text`);
  }
  // Regression: the other marks that reorder or hide text passed: the Arabic letter mark,
  // the left-to-right and right-to-left marks, the word joiner, the deprecated format
  // controls, the byte order mark, the interlinear annotation marks and lone surrogates.
  for (const ch of ['\u061c', '\u200e', '\u200f', '\u2060', '\u206a', '\u206f', '\ufeff', '\ufff9', '\ufffb', '\ud800', '\udfff']) {
    const hex = ch.charCodeAt(0).toString(16).padStart(4, '0');
    assert.equal(refusal(body, { team: `ok${ch}gnp.exe` }), `placeholder {team} in action 1: value "ok\\u${hex}gnp.exe" expected printable text without control characters or invisible marks that reorder or hide text`);
  }
  // And the tag characters, invisible ASCII look-alikes (U+E0001-U+E007F).
  for (const cp of [0xe0001, 0xe0041, 0xe007f]) assert.equal(refusal(body, { team: `ok${String.fromCodePoint(cp)}` }).endsWith('expected printable text without control characters or invisible marks that reorder or hide text'), true, cp.toString(16));
  // Other Unicode stays: accents, CJK, Arabic, emoji, a no-break space, a zero-width joiner
  // in an emoji and a zero-width non-joiner in Persian (scripts need them).
  for (const team of ['café', '支付', 'مرحبا', 'pay 💳', 'a\u00a0b', '👩\u200d💻', 'می\u200cخواهم', '🏴\u200d☠️']) assert.ok(renderPlan(body, { team }).ok, team);
  assert.equal(
    refusal(app, { ...ok, incident: '${env:AWS_SECRET_ACCESS_KEY}' }),
    'placeholder {incident} in action 1: value "${env:AWS_SECRET_ACCESS_KEY}" contains "${", which would be read as a secret reference',
  );
  const plain = 'expected a plain argument ([A-Za-z0-9_.:/=@+,-], not starting with "-", "@" or "+", no "." or ".." path segment)';
  assert.equal(refusal(app, { ...ok, queue: '--delete-all' }), `placeholder {queue} in action 2: value "--delete-all" ${plain}`);
  // "@file" is read as a file by curl and compilers; ".." climbs out of the runbook's directory.
  // A path starts after "=" as well: a program reading key=value arguments takes "dir=../x" as one.
  for (const queue of ['@/etc/shadow', '+x', '..', '../../etc', 'a/../../b', 'jobs/..', '.', './jobs', 'dir=../x', 'of=..', 'a=b=./c']) {
    assert.equal(refusal(app, { ...ok, queue }), `placeholder {queue} in action 2: value ${JSON.stringify(queue)} ${plain}`);
  }
  for (const queue of ['jobs@eu', 'a+b', '.jobs', 'v1.2', 'eu/jobs', 'v=1.2', 'dir=.cache']) assert.ok(renderPlan(app, { ...ok, queue }).ok, queue);
  // A URL is read as a file by curl and git (file:), or names the host a program connects to; so is a remote path.
  const url = (v: string, form: string, arg = v) => `placeholder {queue} in action 2: value ${JSON.stringify(v)} makes argv[2] ${JSON.stringify(arg)} ${form}${REMOTE_TAIL}`;
  for (const queue of ['file:///etc/passwd', 'file:/etc/passwd', 'http://evil.example/x', 'jobs=https://evil.example', 'Gopher://x', 'evil.example:/x', 'me@evil.example:/x']) {
    assert.equal(refusal(app, { ...ok, queue }), url(queue, URL_FORM));
  }
  // A host is any host: an IPv4 address or a bare number (2130706433 is 127.0.0.1) too.
  for (const queue of ['10.0.0.1:/etc/shadow', 'root@10.0.0.1:/x', '2130706433:/x', '/usr/bin:/bin']) assert.equal(refusal(app, { ...ok, queue }), url(queue, URL_FORM));
  // scp, rsync and git read "user@host:path" as remote, and rsync "host::module" as its daemon.
  assert.equal(refusal(app, { ...ok, queue: 'git@evil.example:repo' }), url('git@evil.example:repo', SCP_FORM));
  for (const queue of ['evil.example::module', 'evil.example::module/x', '10.0.0.1::module']) assert.equal(refusal(app, { ...ok, queue }), url(queue, DAEMON_FORM));
  // Refused for their shape, though usually harmless (the README says so): an IPv6 address, a name@host:port.
  assert.equal(refusal(app, { ...ok, queue: 'fe80::1' }), url('fe80::1', DAEMON_FORM));
  assert.equal(refusal(app, { ...ok, queue: 'jobs@eu:9100' }), url('jobs@eu:9100', SCP_FORM));
  // Label values with a colon stay plain arguments: a host and port, a namespaced name, a time.
  for (const queue of ['db-1:5432', '10.0.0.5:9100', 'host:9100', 'ns:jobs', 'eu/jobs:v2', '12:00', '2026-12-06T12:00:00Z', '1h30m', 'jobs@eu', 'alice@example.com']) {
    assert.ok(renderPlan(app, { ...ok, queue }).ok, queue);
  }
  // Each value fits, but the name they make together must fit too.
  const svc = 'a'.repeat(250);
  assert.equal(
    refusal(app, { ...ok, service: svc }),
    `action 3: name "${'a'.repeat(80)}…" is longer than 253 characters, ${K8S_NAME}`,
  );

  const r = renderPlan(app, { ...ok, incident: 'INC "quoted" \\ text' });
  assert.ok(r.ok);
  const [post, cmd, sts] = r.plan.actions;
  assert.deepEqual(post?.spec, {
    type: 'http',
    method: 'POST',
    url: 'http://127.0.0.1:8080/restart/api?reason=oom',
    // The secret reference is left for the executor to resolve at run time.
    headers: { Authorization: 'Bearer ${env:APP_TOKEN}', 'X-Incident': 'INC "quoted" \\ text' },
    body: { service: 'api', replicas: 2, tags: ['rectify', 'oom'], literal: '{not a placeholder}' },
    expectStatus: [200, 299],
    timeoutMs: 10_000,
  });
  assert.equal(post?.summary, 'POST http://127.0.0.1:8080/restart/api?reason=oom');
  assert.deepEqual(cmd?.spec, { type: 'command', argv: ['/usr/local/bin/flush-queue', '--queue', 'jobs'], timeoutMs: 15_000 });
  assert.equal(cmd?.summary, '/usr/local/bin/flush-queue --queue jobs');
  assert.equal(sts?.summary, 'kubectl scale statefulset api-workers --replicas=2 -n jobs');
  assert.equal(r.plan.rollback?.[0]?.summary, 'kubectl scale statefulset api-workers --replicas=1 -n jobs');
});

test('command arguments: a URL or a remote path is looked for in the argument a value lands in, not in the value alone', () => {
  const cmd = (argv: string) => inline(`    triggers: [T]\n    action:\n      command: {argv: ${argv}}\n`);
  const refused = (param: string, v: string, index: number, arg: string, form: string) =>
    `placeholder {${param}} in action 1: value ${JSON.stringify(v)} makes argv[${index}] ${JSON.stringify(arg)} ${form}${REMOTE_TAIL}`;
  // Each value fits the argument pattern and holds no URL; the argument they make does.
  const rsync = cmd('[rsync, -a, "{src}/data", /backup/]');
  assert.equal(refusal(rsync, { src: 'evil.example:' }), refused('src', 'evil.example:', 2, 'evil.example:/data', URL_FORM));
  assert.equal(refusal(rsync, { src: '10.0.0.1:' }), refused('src', '10.0.0.1:', 2, '10.0.0.1:/data', URL_FORM));
  const curl = cmd('[curl, "{base}/etc/passwd"]');
  assert.equal(refusal(curl, { base: 'file:' }), refused('base', 'file:', 1, 'file:/etc/passwd', URL_FORM));
  const git = cmd('[git, fetch, "{a}{b}"]');
  assert.equal(refusal(git, { a: 'evil.example:', b: '/srv/repo' }), refused('a', 'evil.example:', 2, 'evil.example:/srv/repo', URL_FORM));
  assert.equal(refusal(git, { a: 'evil.example', b: ':/srv/repo' }), refused('a', 'evil.example', 2, 'evil.example:/srv/repo', URL_FORM));
  assert.equal(refusal(git, { a: 'git@evil.example', b: ':repo' }), refused('a', 'git@evil.example', 2, 'git@evil.example:repo', SCP_FORM));
  assert.equal(refusal(git, { a: 'evil.example:', b: ':module' }), refused('a', 'evil.example:', 2, 'evil.example::module', DAEMON_FORM));
  // The runbook's text around a value: the value chooses the host, or lengthens the runbook's.
  const hostPort = cmd('[rsync, "{host}:/srv/x", /dst]');
  assert.equal(refusal(hostPort, { host: '10.0.0.1' }), refused('host', '10.0.0.1', 1, '10.0.0.1:/srv/x', URL_FORM));
  assert.equal(refusal(cmd('[rsync, "{host}::backup", /dst]'), { host: 'evil.example' }), refused('host', 'evil.example', 1, 'evil.example::backup', DAEMON_FORM));
  assert.equal(refusal(cmd('[curl, "https://{host}/x"]'), { host: 'evil.example' }), refused('host', 'evil.example', 1, 'https://evil.example/x', URL_FORM));
  assert.equal(refusal(cmd('[curl, "https://status.internal{h}/x"]'), { h: '.evil.example' }), refused('h', '.evil.example', 1, 'https://status.internal.evil.example/x', URL_FORM));
  assert.equal(refusal(cmd('[curl, "https:{p}"]'), { p: '//evil.example/x' }), refused('p', '//evil.example/x', 1, 'https://evil.example/x', URL_FORM));
  assert.equal(refusal(cmd('[scp, "{user}@backup:/x", /dst]'), { user: 'root' }), refused('user', 'root', 1, 'root@backup:/x', URL_FORM));
  // A scheme and host, or a remote host, the runbook writes itself stays the runbook's.
  const fixed: Array<[string, Record<string, string>, string[]]> = [
    ['[curl, "https://status.internal/{service}"]', { service: 'api' }, ['curl', 'https://status.internal/api']],
    ['[rsync, "backup@db-1:/srv/{service}", /dst]', { service: 'api' }, ['rsync', 'backup@db-1:/srv/api', '/dst']],
    ['[rsync, "backup@db-1:{path}", /dst]', { path: '/srv/api' }, ['rsync', 'backup@db-1:/srv/api', '/dst']],
    ['[rsync, "backup::{module}", /dst]', { module: 'api' }, ['rsync', 'backup::api', '/dst']],
    ['[git, fetch, "git@git.internal:{repo}"]', { repo: 'ops/api' }, ['git', 'fetch', 'git@git.internal:ops/api']],
    ['[probe, "--target={host}:{port}", "{a}{b}", "--at={t}"]', { host: 'db-1', port: '5432', a: 'ns', b: ':jobs', t: '12:00' }, ['probe', '--target=db-1:5432', 'ns:jobs', '--at=12:00']],
  ];
  for (const [argv, values, want] of fixed) {
    const r = renderPlan(cmd(argv), values);
    assert.ok(r.ok, argv);
    assert.deepEqual((r.plan.actions[0]?.spec as { argv: string[] }).argv, want, argv);
  }
  // After a URL scheme, curl reads one slash or three as two, and URL parsers none: the host is the URL's host all the same.
  const hex = 'a'.repeat(64);
  const slashes: Array<[string, string, string]> = [
    ['https:/{x}', 'evil.example/x', 'https:/evil.example/x'],
    ['https:///{x}', 'evil.example/x', 'https:///evil.example/x'],
    ['https:{x}', '/evil.example/x', 'https:/evil.example/x'],
    ['https:{x}', 'evil.example/x', 'https:evil.example/x'],
    ['HTTP:{x}', '//evil.example', 'HTTP://evil.example'],
    ['https:\\\\{x}', 'evil.example/x', 'https:\\evil.example/x'],
    ['file:{x}', '/etc/passwd', 'file:/etc/passwd'],
    ['https://status.internal@{x}', 'evil.example/x', 'https://status.internal@evil.example/x'],
    ['https://{x}@status.internal/x', 'root', 'https://root@status.internal/x'],
    ['https://status.internal{x}?s=api', '.evil.example', 'https://status.internal.evil.example?s=api'],
    ['db-1:///{x}', 'evil.example/x', 'db-1:///evil.example/x'],
    ['{x}:jobs', 'https', 'https:jobs'],
    ['[{x}]:/data', '10.0.0.1', '[10.0.0.1]:/data'],
  ];
  for (const [arg, x, made] of slashes) assert.equal(refusal(cmd(`[curl, "${arg}"]`), { x }), refused('x', x, 1, made, URL_FORM), arg);
  // "user@host:" is an "@", a host, then ":" (a host in brackets too); the user and the host are the runbook's or refused.
  assert.equal(refusal(cmd('[scp, "root@[{h}]:x", /dst]'), { h: 'fe80::1' }), refused('h', 'fe80::1', 1, 'root@[fe80::1]:x', DAEMON_FORM));
  assert.equal(refusal(cmd('[scp, "root@[{h}]:x", /dst]'), { h: '10.0.0.1' }), refused('h', '10.0.0.1', 1, 'root@[10.0.0.1]:x', SCP_FORM));
  assert.equal(refusal(cmd('[git, fetch, "git@{h}:repo"]'), { h: 'evil.example' }), refused('h', 'evil.example', 2, 'git@evil.example:repo', SCP_FORM));
  assert.equal(refusal(cmd('[tool, "{img}@sha256:abc"]'), { img: 'git' }), refused('img', 'git', 1, 'git@sha256:abc', SCP_FORM));
  // Not a remote: an image digest, an "@" followed by more than a host before a ":", a query after the runbook's host.
  const plainArgs: Array<[string, Record<string, string>, string[]]> = [
    ['[deploy, "app={img}"]', { img: `nginx@sha256:${hex}` }, ['deploy', `app=nginx@sha256:${hex}`]],
    ['[deploy, "app={img}"]', { img: `registry.example/app@sha256:${hex}` }, ['deploy', `app=registry.example/app@sha256:${hex}`]],
    ['[deploy, "{img}"]', { img: `registry.example:5000/app@sha512:${'0'.repeat(128)}` }, ['deploy', `registry.example:5000/app@sha512:${'0'.repeat(128)}`]],
    ['[page, "--notify=oncall@example.com,svc={s},at=12:00"]', { s: 'api' }, ['page', '--notify=oncall@example.com,svc=api,at=12:00']],
    ['[page, "--notify={to},at=12:00"]', { to: 'oncall@example.com' }, ['page', '--notify=oncall@example.com,at=12:00']],
    ['[curl, "https://status.internal?service={s}"]', { s: 'api' }, ['curl', 'https://status.internal?service=api']],
    ['[curl, "https://status.internal#{s}"]', { s: 'api' }, ['curl', 'https://status.internal#api']],
    ['[curl, "https://status.internal:8443?service={s}&at={t}"]', { s: 'api', t: '12:00' }, ['curl', 'https://status.internal:8443?service=api&at=12:00']],
    ['[rsync, "db-1:{path}", /dst]', { path: '/srv/api' }, ['rsync', 'db-1:/srv/api', '/dst']],
  ];
  for (const [argv, values, want] of plainArgs) {
    const r = renderPlan(cmd(argv), values);
    assert.ok(r.ok, `${argv} ${r.ok ? '' : r.reason}`);
    assert.deepEqual((r.plan.actions[0]?.spec as { argv: string[] }).argv, want, argv);
  }
  // Not recognised: a host name and a path (curl and wget fetch evil.example/x over http), and
  // "host:relative-path" (`ns:jobs` has that shape): no placeholder for a program that fetches URLs.
  for (const queue of ['evil.example/x', 'evil.example:repo']) assert.ok(renderPlan(cmd('[tool, "{queue}"]'), { queue }).ok, queue);
});

test('command arguments: a value must not widen the directory the runbook names ("/" alone, an empty path segment) nor form a "." or ".." segment with the text around it', () => {
  const cmd = (argv: string) => inline(`    triggers: [T]\n    action:\n      command: {argv: ${argv}}\n`);
  const TAIL = ': a label must not widen or climb out of the directory the runbook names';
  const only = (param: string, v: string, index: number, arg: string) => `placeholder {${param}} in action 1: value ${JSON.stringify(v)} is only "/" (argv[${index}] ${JSON.stringify(arg)})${TAIL}`;
  const makes = (param: string, v: string, index: number, arg: string, form: string) => `placeholder {${param}} in action 1: value ${JSON.stringify(v)} makes argv[${index}] ${JSON.stringify(arg)} have ${form}${TAIL}`;
  const EMPTY = 'an empty path segment ("//")';
  // "/" filled into the runbook's directory is the whole directory (an empty value, refused, would be too).
  const rm = cmd('[/bin/rm, -rf, "/var/cache/app/{queue}"]');
  assert.equal(refusal(rm, { queue: '/' }), only('queue', '/', 2, '/var/cache/app//'));
  assert.equal(refusal(rm, { queue: '//' }), only('queue', '//', 2, '/var/cache/app///'));
  assert.equal(refusal(rm, { queue: 'jobs//eu' }), makes('queue', 'jobs//eu', 2, '/var/cache/app/jobs//eu', EMPTY));
  const cache = cmd('[ls, "/srv/{svc}/cache"]');
  assert.equal(refusal(cache, { svc: '/' }), only('svc', '/', 1, '/srv///cache'));
  // A slash at either end of a value, beside the runbook's own.
  assert.equal(refusal(cache, { svc: 'api/' }), makes('svc', 'api/', 1, '/srv/api//cache', EMPTY));
  assert.equal(refusal(cache, { svc: '/api' }), makes('svc', '/api', 1, '/srv//api/cache', EMPTY));
  // "/" after the runbook's own text, rooted or not: the directory itself.
  assert.equal(refusal(cmd('[ls, "/var/cache/app{p}"]'), { p: '/' }), only('p', '/', 1, '/var/cache/app/'));
  assert.equal(refusal(cmd('[tool, "--dir=/srv/{p}"]'), { p: '/' }), only('p', '/', 1, '--dir=/srv//'));
  assert.equal(refusal(cmd('[ls, "{p}/cache"]'), { p: '/' }), makes('p', '/', 1, '//cache', EMPTY));
  // Two values side by side, each fine alone.
  assert.equal(refusal(cmd('[ls, "/srv/{a}{b}"]'), { a: 'x/', b: '/y' }), makes('a', 'x/', 1, '/srv/x//y', EMPTY));
  // A "." or ".." segment made with the runbook's text.
  assert.equal(refusal(cmd('[ls, "/srv/..{svc}"]'), { svc: '/etc' }), makes('svc', '/etc', 1, '/srv/../etc', 'a ".." path segment'));
  assert.equal(refusal(cmd('[ls, "/srv/.{svc}"]'), { svc: '/etc' }), makes('svc', '/etc', 1, '/srv/./etc', 'a "." path segment'));
  // A segment starts after "=", "," and ":" too: a list of paths climbs out as "dir=../x" would.
  const paths = cmd('[/usr/local/bin/tool, "--paths={v}"]');
  assert.equal(refusal(paths, { v: 'a,../etc' }), 'placeholder {v} in action 1: value "a,../etc" expected a plain argument ([A-Za-z0-9_.:/=@+,-], not starting with "-", "@" or "+", no "." or ".." path segment)');
  for (const v of ['x,..', 'a:..', '..,b', 'a:../etc', 'a,.']) assert.match(refusal(paths, { v }) ?? '', /no "\." or "\.\." path segment/, v);
  assert.equal(refusal(cmd('[tool, "--paths=a,..{v}"]'), { v: ',b' }), makes('v', ',b', 1, '--paths=a,..,b', 'a ".." path segment'));
  assert.equal(refusal(cmd('[tool, "PATH=/bin:.{v}"]'), { v: ':x' }), makes('v', ':x', 1, 'PATH=/bin:.:x', 'a "." path segment'));
  // Still run: deeper paths, a trailing slash on the runbook's directory, an absolute path given whole,
  // and the runbook's own "//" and "..".
  const fine: Array<[string, Record<string, string>, string[]]> = [
    ['[/bin/rm, -rf, "/var/cache/app/{queue}"]', { queue: 'eu/jobs' }, ['/bin/rm', '-rf', '/var/cache/app/eu/jobs']],
    ['[/bin/rm, -rf, "/var/cache/app/{queue}"]', { queue: 'jobs/' }, ['/bin/rm', '-rf', '/var/cache/app/jobs/']],
    ['[ls, "{p}"]', { p: '/etc' }, ['ls', '/etc']],
    // "/" given whole, or after an option's "=" or a list's "," or ":", is a path like any other.
    ['[ls, "{p}"]', { p: '/' }, ['ls', '/']],
    ['[/usr/local/bin/clear-cache, "--mountpoint={mountpoint}"]', { mountpoint: '/' }, ['/usr/local/bin/clear-cache', '--mountpoint=/']],
    ['[tool, "--paths=/var,{p}"]', { p: '/' }, ['tool', '--paths=/var,/']],
    ['[ls, "/srv/..{svc}"]', { svc: 'x' }, ['ls', '/srv/..x']],
    ['[curl, "https://status.internal/{s}"]', { s: 'api' }, ['curl', 'https://status.internal/api']],
    ['[ls, "/srv/{s}/../shared"]', { s: 'api' }, ['ls', '/srv/api/../shared']],
    ['[tool, "--paths={v}"]', { v: 'a,b..c:d.e,10.0.0.7:9100' }, ['tool', '--paths=a,b..c:d.e,10.0.0.7:9100']],
  ];
  for (const [argv, values, want] of fine) {
    const r = renderPlan(cmd(argv), values);
    assert.ok(r.ok, `${argv} ${JSON.stringify(values)}`);
    assert.deepEqual((r.plan.actions[0]?.spec as { argv: string[] }).argv, want, argv);
  }
});

test('summaries of the other kubernetes verbs', () => {
  const node = rb(good, 'node-maintenance');
  const r = renderPlan(node, { node: 'worker-1', pod_name: 'p-1', namespace: 'prod', deployment: 'web', revision: '4', service: 'db' });
  assert.ok(r.ok);
  assert.deepEqual(
    r.plan.actions.map((s) => s.summary),
    [
      'kubectl cordon worker-1',
      'kubectl drain worker-1 --ignore-daemonsets --delete-emptydir-data --grace-period=30 --timeout=120s',
      'kubectl delete pod p-1 -n prod (delete, skips PodDisruptionBudgets)',
      'kubectl rollout undo deployment web --to-revision=4 -n prod',
      'kubectl scale statefulset db --replicas=3 -n prod',
    ],
  );
  assert.deepEqual(r.plan.rollback?.map((s) => s.summary), ['kubectl uncordon worker-1']);
});

test('checks render with the same safety: PromQL label values, kubernetes names, named-check inputs', () => {
  const medium = rb(good, 'restart-service');
  const values = { service: 'api', deployment: 'api', namespace: 'prod' };
  const r = renderChecks(medium.postChecks, values, 'post_check');
  assert.ok(r.ok);
  assert.deepEqual(r.checks[0], {
    type: 'kubernetes',
    condition: 'deployment_ready',
    kind: 'deployment',
    name: 'api',
    namespace: 'prod',
    params: { min_ready: 2 },
    timeoutMs: 120_000,
    intervalMs: 5_000,
  });
  assert.equal(r.checks[1]?.type === 'http' && r.checks[1].url, 'http://127.0.0.1:8080/health/api?verbose=1');
  assert.equal(
    r.checks[2]?.type === 'promql' && r.checks[2].query,
    'rate(http_errors_total{job="api"}[5m]) / rate(http_requests_total{job="api"}[5m])',
  );
  assert.deepEqual(renderChecks(medium.postChecks, { ...values, service: 'api"} or vector(1) #' }, 'post_check'), {
    ok: false,
    param: 'service',
    reason: 'placeholder {service} in post_check 2: value "api\\"} or vector(1) #" expected one URL path segment ([A-Za-z0-9._~-])',
  });
  assert.deepEqual(renderChecks(medium.guardrails, { ...values, service: 'api"} or vector(1) #' }, 'guardrail'), {
    ok: false,
    param: 'service',
    reason: 'placeholder {service} in guardrail 2: value "api\\"} or vector(1) #" expected a label value ([A-Za-z0-9_.:/@ -])',
  });

  const restart = rb(seed, 'restart-pod');
  const named = renderChecks(restart.preChecks, { pod_name: 'api-1', namespace: 'prod', extra: 'kept' }, 'pre_check');
  assert.ok(named.ok);
  assert.deepEqual(named.checks[1], {
    type: 'named',
    name: 'recent_restarts_less_than_three',
    params: { limit: 3, window_minutes: 60 },
    // The values the check reads, and no others (`extra` is left out).
    values: { pod_name: 'api-1', namespace: 'prod' },
    timeoutMs: 120_000,
    intervalMs: 5_000,
  });
  assert.deepEqual(renderChecks(restart.preChecks, { pod_name: 'api-1', namespace: 'Prod' }, 'pre_check'), {
    ok: false,
    param: 'namespace',
    reason: '{namespace} read by pre_check 1 (replicas_greater_than_one): value "Prod" expected a Kubernetes namespace (RFC 1123 label)',
  });
  assert.deepEqual(renderChecks(medium.postChecks, { deployment: 'api', namespace: 'prod' }), {
    ok: false,
    param: 'service',
    reason: "no value for placeholder {service} (not in the incident's context or labels)",
  });
});

test('a Kubernetes step carries the runbook\'s max_unavailable, and allow_zero only for a --replicas=0 written in the runbook', () => {
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  shrink:',
      '    risk: LOW',
      '    max_unavailable: "25%"',
      '    actions: ["kubectl scale deployment {deployment} --replicas={replicas} -n ns", "kubectl delete pod {pod} -n ns"]',
      '  offline:',
      '    risk: HIGH',
      '    action: kubectl scale deployment {deployment} --replicas=0 -n ns',
      '',
    ].join('\n'),
    'z.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const [shrink, offline] = runbooks;
  const a = renderPlan(shrink!, { deployment: 'web', replicas: '1', pod: 'web-1' });
  assert.ok(a.ok);
  assert.deepEqual(a.plan.actions.map((s) => (s.spec as { args: Record<string, string> }).args), [
    { replicas: '1', max_unavailable: '25%' },
    { max_unavailable: '25%' },
  ]);
  const b = renderPlan(offline!, { deployment: 'web' });
  assert.ok(b.ok);
  assert.deepEqual((b.plan.actions[0]!.spec as { args: Record<string, string> }).args, { replicas: '0', allow_zero: 'true' });
  assert.equal(b.plan.actions[0]!.summary, 'kubectl scale deployment web --replicas=0 -n ns');
});

// Regression: an alert's new_replicas "0" passed rendering and was refused only once the
// run had started, as an execution that failed: each such alert used a rate-limit unit
// and counted against the breaker, so three of them switched the runbook off.
test('a replica count of 0 from a value is refused at rendering, in every form that takes one, rollbacks included', () => {
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  kubectl:',
      '    risk: LOW',
      '    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}',
      '    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}',
      '  map:',
      '    risk: LOW',
      '    action: {kubernetes: {verb: scale, kind: deployment, name: "{deployment}", namespace: "{namespace}", replicas: "{new_replicas}"}}',
      '    rollback: {kubernetes: {verb: scale, kind: statefulset, name: "{deployment}-db", namespace: "{namespace}", replicas: "{replicas}"}}',
      '  joined:',
      '    risk: LOW',
      '    action: kubectl scale deployment {deployment} --replicas={tens}{units} -n {namespace}',
      '',
    ].join('\n'),
    'z.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const [kubectl, map, joined] = runbooks;
  const why = (target: string) =>
    `value "0" would scale ${target} to 0 replicas, removing every replica: rectify scales to 0 only when the runbook itself writes --replicas=0 (a HIGH-risk runbook: a person approves every run), never with a value from an alert or a run's params`;
  const values = { deployment: 'api', namespace: 'prod', new_replicas: '3', old_replicas: '2', replicas: '2' };
  assert.equal(refusal(kubectl!, { ...values, new_replicas: '0' }), `placeholder {new_replicas} in action 1: ${why('deployment prod/api')}`);
  assert.equal(refusal(map!, { ...values, new_replicas: '0' }), `placeholder {new_replicas} in action 1: ${why('deployment prod/api')}`);
  assert.equal(refusal(map!, { ...values, replicas: '0' }), `placeholder {replicas} in rollback 1: ${why('statefulset prod/api-db')}`);
  // Values that fit one by one but make no count together, or a count of 0.
  assert.equal(refusal(joined!, { ...values, tens: '0', units: '0' }), 'action 1: replicas "00" expected a whole number');
  // A rollback's {old_replicas} is the cluster's count before the run: it may be 0 (the
  // executor puts 0 back only when this run's own scale read it).
  const fromZero = renderPlan(kubectl!, { ...values, new_replicas: '1', old_replicas: '0' });
  assert.ok(fromZero.ok);
  assert.equal(fromZero.plan.rollback?.[0]?.summary, 'kubectl scale deployment api --replicas=0 -n prod');
  // Any other count is as before.
  assert.ok(renderPlan(joined!, { ...values, tens: '1', units: '0' }).ok);
  assert.ok(renderPlan(map!, values).ok);
});

test('a scale to a count from values above the cap is refused, naming the placeholder, the value and the cap', () => {
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  burst:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}',
      '    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}',
      '  capped:',
      '    risk: LOW',
      '    triggers: [x]',
      '    pre_checks: [{current_replicas_below_max: {max_replicas: 20}}]',
      '    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}',
      '    rollback: {kubernetes: {verb: scale, kind: statefulset, name: "{deployment}-db", namespace: "{namespace}", replicas: "{replicas}"}}',
      '  written:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl scale deployment {deployment} --replicas=40 -n {namespace}',
      '    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}',
      '',
    ].join('\n'),
    'z.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const [burst, capped, written] = runbooks;
  const values = { deployment: 'web', namespace: 'prod', new_replicas: '4', old_replicas: '3', replicas: '2' };
  const tail = "a scale-up to a count from the alert or the run's params above the cap is refused, not lowered to it; to allow more, set a higher max_replicas on a current_replicas_below_max check in the runbook, or write the count in the runbook";
  assert.equal(
    refusal(burst!, { ...values, new_replicas: '999999' }),
    `placeholder {new_replicas} in action 1: value "999999" would scale deployment prod/web from 3 to 999999 replicas, above the cap of 10 (rectify's default max_replicas): ${tail}`,
  );
  assert.equal(
    refusal(burst!, { ...values, new_replicas: '11' }),
    `placeholder {new_replicas} in action 1: value "11" would scale deployment prod/web from 3 to 11 replicas, above the cap of 10 (rectify's default max_replicas): ${tail}`,
  );
  const atCap = renderPlan(burst!, { ...values, new_replicas: '10' });
  assert.ok(atCap.ok);
  assert.equal(atCap.plan.actions[0]?.summary, 'kubectl scale deployment web --replicas=10 -n prod');
  // The incident's max_replicas may lower the cap, never raise it.
  assert.equal(
    refusal(burst!, { ...values, new_replicas: '6', max_replicas: '5' }),
    `placeholder {new_replicas} in action 1: value "6" would scale deployment prod/web from 3 to 6 replicas, above the cap of 5 (the incident's max_replicas, which may lower the runbook's 10): ${tail}`,
  );
  assert.match(refusal(burst!, { ...values, new_replicas: '11', max_replicas: '50' }), /above the cap of 10 \(rectify's default max_replicas\)/);
  // The runbook's own cap: its current_replicas_below_max check's max_replicas, for a rollback's count from values too.
  assert.ok(renderPlan(capped!, { ...values, new_replicas: '20' }).ok);
  assert.equal(
    refusal(capped!, { ...values, new_replicas: '21' }),
    `placeholder {new_replicas} in action 1: value "21" would scale deployment prod/web from 3 to 21 replicas, above the cap of 20 (the runbook's current_replicas_below_max max_replicas): ${tail}`,
  );
  assert.equal(
    refusal(capped!, { ...values, replicas: '25' }),
    `placeholder {replicas} in rollback 1: value "25" would scale statefulset prod/web-db from 3 to 25 replicas, above the cap of 20 (the runbook's current_replicas_below_max max_replicas): ` +
      "a scale-up to a count from the alert or the run's params above the cap is refused, not lowered to it; to allow more, write the count in the runbook (--replicas=N): a statefulset's cap cannot be raised with a check, since current_replicas_below_max reads only a deployment",
  );
  // A rollback to the cluster's own count puts back what was there, past the cap or not;
  // a count the runbook writes is the runbook's.
  const back = renderPlan(written!, { ...values, old_replicas: '40' });
  assert.ok(back.ok);
  assert.deepEqual(back.plan.actions.concat(back.plan.rollback ?? []).map((s) => s.summary), [
    'kubectl scale deployment web --replicas=40 -n prod',
    'kubectl scale deployment web --replicas=40 -n prod',
  ]);
  assert.ok(renderPlan(burst!, { ...values, old_replicas: '40' }).ok);
});

// Regression: the cap refused scale-downs: a deployment at 30 scaled to an alert's 20
// under the default cap of 10 was refused "above the cap", where it ran before.
test('a count above the cap is refused only as a scale-up: not above the cluster\'s count, it runs; that count unread, it is refused', () => {
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  down:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl scale deployment {deployment} --replicas={target} -n {namespace}',
      '    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}',
      '  joined:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl scale statefulset {statefulset} --replicas=1{n} -n {namespace}',
      '    rollback: none',
      '    rollback_reason: t',
      '  ready:',
      '    risk: LOW',
      '    triggers: [x]',
      '    action: kubectl scale deployment {deployment} --replicas={ready_replicas} -n {namespace}',
      '    rollback: none',
      '    rollback_reason: t',
      '',
    ].join('\n'),
    'z.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const [down, joined, ready] = runbooks;
  const values = { deployment: 'web', statefulset: 'db', namespace: 'prod', target: '20' };
  const scaledDown = renderPlan(down!, { ...values, old_replicas: '30' });
  assert.ok(scaledDown.ok);
  assert.equal(scaledDown.plan.actions[0]?.summary, 'kubectl scale deployment web --replicas=20 -n prod');
  assert.ok(renderPlan(down!, { ...values, old_replicas: '20' }).ok);
  const advice = 'set a higher max_replicas on a current_replicas_below_max check in the runbook, or write the count in the runbook';
  assert.equal(
    refusal(down!, { ...values, old_replicas: '19' }),
    `placeholder {target} in action 1: value "20" would scale deployment prod/web from 19 to 20 replicas, above the cap of 10 (rectify's default max_replicas): ` +
      `a scale-up to a count from the alert or the run's params above the cap is refused, not lowered to it; to allow more, ${advice}`,
  );
  // The cluster's count not read: nothing says it is a scale-down.
  assert.equal(
    refusal(down!, values),
    `placeholder {target} in action 1: value "20" would scale deployment prod/web to 20 replicas (its current count was not read from the cluster, so this may not be taken for a scale-down), above the cap of 10 (rectify's default max_replicas): ` +
      `a scale-up to a count from the alert or the run's params above the cap is refused, not lowered to it; to allow more, ${advice}`,
  );
  // The placeholder's value and the count it makes with the runbook's text, each named; a statefulset's advice works for one.
  assert.equal(
    refusal(joined!, { ...values, n: '5', old_replicas: '3' }),
    'placeholder {n} in action 1: value "5" makes the count 15 (replicas "15"), which would scale statefulset prod/db from 3 to 15 replicas, above the cap of 10 (rectify\'s default max_replicas): ' +
      "a scale-up to a count from the alert or the run's params above the cap is refused, not lowered to it; to allow more, write the count in the runbook (--replicas=N): a statefulset's cap cannot be raised with a check, since current_replicas_below_max reads only a deployment",
  );
  // A count read from the cluster is named as the cluster's.
  assert.match(refusal(ready!, { ...values, ready_replicas: '12' }), /a scale-up to a count from the cluster \(read by Kubernetes enrichment\) above the cap is refused/);
});

test('--replicas=0 written in a LOW or MEDIUM runbook is a load error', () => {
  const { problems } = parseRunbooksText(
    [
      'runbooks:',
      '  low:',
      '    risk: LOW',
      '    action: kubectl scale deployment web --replicas=0 -n ns',
      '  medium:',
      '    risk: MEDIUM',
      '    action: kubectl scale deployment web --replicas=2 -n ns',
      '    rollback: [kubectl rollout restart deployment web -n ns, {kubernetes: {verb: scale, kind: deployment, name: web, namespace: ns, replicas: "0"}}]',
      '',
    ].join('\n'),
    'z.yaml',
  );
  const msg = 'scaling to 0 replicas takes the whole workload down: only a HIGH-risk runbook (a person approves every run) may do it';
  assert.deepEqual(problems.map(formatProblem), [`z.yaml:4: runbooks.low.action: ${msg}`, `z.yaml:8: runbooks.medium.rollback[1]: ${msg}`]);
});

test('a PromQL placeholder outside a quoted string takes only a number: an alert value cannot extend the query', () => {
  const { runbooks, problems } = parseRunbooksText(
    `runbooks:
  watch:
    risk: LOW
    triggers: [x]
    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}
    post_checks:
      - promql: {query: 'sum(up{job="{service}"}) >= {min_ready}', expect: "== 1"}
`,
    'w.yaml',
  );
  assert.deepEqual(problems, []);
  const checks = runbooks[0]!.postChecks;
  const ok = renderChecks(checks, { service: 'api server', min_ready: '2' }, 'post_check');
  assert.equal(ok.ok && ok.checks[0]?.type === 'promql' && ok.checks[0].query, 'sum(up{job="api server"}) >= 2');
  assert.deepEqual(renderChecks(checks, { service: 'api', min_ready: '0 or up' }, 'post_check'), {
    ok: false,
    param: 'min_ready',
    reason: 'placeholder {min_ready} in post_check 1: value "0 or up" is longer than 6 characters, expected a whole number',
  });
});

test('a PromQL placeholder inside a regex matcher or label_replace\'s regex is written regex-escaped (the value is meant literally); in an equality matcher as it is', () => {
  const runbook = inline(`    triggers: [x]
    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}
    post_checks:
      - promql: {query: 'count(probe_good{svc=~"{svc}"})', expect: "== 1"}
      - promql: {query: "count(probe_good{svc !~ '{svc}-canary|b.*'})", expect: "== 1"}
      - promql: {query: 'count(probe_good{svc=~\`{svc}\`})', expect: "== 1"}
      - promql: {query: 'count(probe_good{svc="{svc}"})', expect: "== 1"}
      - promql: {query: 'label_replace(up, "svc", "{svc}", "", "")', expect: "== 1"}
      - promql: {query: 'sum(label_replace(rate(x{a="b,c"}[5m]), "dst", "$1", "src", "({svc})-.*")) + label_replace(up, "svc", "{svc}", "src", \`{svc}\`)', expect: "== 1"}
`);
  const r = renderChecks(runbook.postChecks, { svc: 'a.i' }, 'post_check');
  assert.ok(r.ok);
  assert.deepEqual(
    r.checks.map((c) => c.type === 'promql' && c.query),
    [
      // In a "…" or '…' string the backslash is doubled: the regex sees a\.i.
      'count(probe_good{svc=~"a\\\\.i"})',
      "count(probe_good{svc !~ 'a\\\\.i-canary|b.*'})",
      // A `…` raw string takes the regex as it is.
      'count(probe_good{svc=~`a\\.i`})',
      'count(probe_good{svc="a.i"})',
      'label_replace(up, "svc", "a.i", "", "")',
      // label_replace's regex (its fifth argument) is a regex too; its replacement is not.
      'sum(label_replace(rate(x{a="b,c"}[5m]), "dst", "$1", "src", "(a\\\\.i)-.*")) + label_replace(up, "svc", "a.i", "src", `a\\.i`)',
    ],
  );
});

test('a # comment in a PromQL query is read as Prometheus reads it: a quote in it opens no string, so a placeholder after it still takes only a number', () => {
  const { runbooks, problems } = parseRunbooksText(
    `runbooks:
  guard:
    risk: LOW
    triggers: [x]
    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}
    pre_checks:
      - promql:
          query: |
            # don't act while the error rate is above the threshold
            sum(rate(errors_total{job="{service}"}[5m])) > {threshold}
          expect: "> 0"
          on_empty: pass
`,
    'g.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const checks = runbooks[0]!.preChecks;
  assert.deepEqual(checks[0]?.type === 'promql' && checks[0].query.parts.filter((p) => typeof p !== 'string'), [
    { param: 'service', kind: 'label_value' },
    { param: 'threshold', kind: 'integer' },
  ]);
  assert.deepEqual(renderChecks(checks, { service: 'api', threshold: '1 and nothing' }, 'pre_check'), {
    ok: false,
    param: 'threshold',
    reason: 'placeholder {threshold} in pre_check 1: value "1 and nothing" is longer than 6 characters, expected a whole number',
  });
  const ok = renderChecks(checks, { service: 'api', threshold: '1' }, 'pre_check');
  assert.equal(
    ok.ok && ok.checks[0]?.type === 'promql' && ok.checks[0].query,
    `# don't act while the error rate is above the threshold\nsum(rate(errors_total{job="api"}[5m])) > 1\n`,
  );
});

test('PromQL placeholders after comments holding each kind of quote, or a comma; a # inside a string is no comment', () => {
  const kinds = (query: string): unknown[] => {
    const { runbooks, problems } = parseRunbooksText(
      `runbooks:\n  t:\n    risk: LOW\n    triggers: [x]\n    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n    post_checks:\n      - promql: {query: ${JSON.stringify(query)}, expect: "== 1"}\n`,
      'k.yaml',
    );
    assert.deepEqual(problems.map(formatProblem), [], query);
    const c = runbooks[0]!.postChecks[0];
    assert.ok(c?.type === 'promql');
    return c.query.parts.filter((p) => typeof p !== 'string');
  };
  const n = { param: 'n', kind: 'integer' };
  const v = { param: 'v', kind: 'label_value' };
  const regex = { param: 'v', kind: 'label_value', escape: 'promql_regex' };
  // A quote in a comment opens nothing: the placeholder after it is outside every string.
  assert.deepEqual(kinds('up # say "hi\n> {n}'), [n]);
  assert.deepEqual(kinds("up # it's\n> {n}"), [n]);
  assert.deepEqual(kinds('up # `raw\n> {n}'), [n]);
  // The comment ends at a carriage return too.
  assert.deepEqual(kinds("up # it's\r> {n}"), [n]);
  // Nor does a quote in a comment close a string: the one after it opens as written.
  assert.deepEqual(kinds('up{a="b" # "\n, c="{v}"} > {n}'), [v, n]);
  // A # inside a string is text, not a comment.
  assert.deepEqual(kinds('up{job="a#b", c="{v}"} > {n}'), [v, n]);
  assert.deepEqual(kinds("up{job='a#b'} > {n}"), [n]);
  assert.deepEqual(kinds('up{job=`a#b`, c="{v}"} > {n}'), [v, n]);
  // An escaped quote does not end a "…" or '…' string; a `…` string has no escapes.
  assert.deepEqual(kinds("up{job='a\\'b#', c='{v}'} > {n}"), [v, n]);
  assert.deepEqual(kinds('up{job=`a\\`, c="{v}"} > {n}'), [v, n]);
  // A comment between =~ and its string, or a comma in one inside label_replace, changes nothing.
  assert.deepEqual(kinds('up{svc=~ # the service\n "{v}"}'), [regex]);
  assert.deepEqual(kinds('label_replace(up, "a", "$1", # from src, as it is\n "src", "({v})")'), [regex]);
});

test('a placeholder in a PromQL comment is a load error naming the file and the query (its value would never reach Prometheus)', () => {
  const { runbooks, problems } = parseRunbooksText(
    `runbooks:
  guard:
    risk: LOW
    triggers: [x]
    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}
    post_checks:
      - promql:
          query: |
            # at most {threshold} errors a second
            sum(rate(errors_total{job="{service}"}[5m])) > 1
          expect: "== 0"
`,
    'g.yaml',
  );
  assert.equal(runbooks.length, 0);
  assert.deepEqual(problems.map(formatProblem), [
    'g.yaml:8: runbooks.guard.post_checks[0].promql.query: placeholder {threshold} is in a comment (PromQL ignores everything from a # outside a string to the end of the line), so its value would never reach Prometheus: move it out of the comment, or remove it',
  ]);
});

// Regression: an alert's revision "0" passed rendering, so a HIGH runbook asked a person to
// approve a plan that then failed at its first step ("to_revision \"0\" is not a revision number").
test('a to_revision of 0 from a value is refused at rendering, before anyone is asked; the runbook writing 0 is a load error', () => {
  const { runbooks, problems } = parseRunbooksText(
    [
      'runbooks:',
      '  kubectl:',
      '    risk: HIGH',
      '    action: kubectl rollout undo deployment {deployment} --to-revision={revision} -n {namespace}',
      '  map:',
      '    risk: HIGH',
      '    action: {kubernetes: {verb: rollout_undo, kind: deployment, name: "{deployment}", namespace: "{namespace}", to_revision: "{revision}"}}',
      '  joined:',
      '    risk: HIGH',
      '    action: kubectl rollout undo deployment {deployment} --to-revision={tens}{units} -n {namespace}',
      '',
    ].join('\n'),
    'u.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), []);
  const [kubectl, map, joined] = runbooks;
  const values = { deployment: 'api', namespace: 'prod', revision: '0' };
  const why = "is not a revision number (a deployment's revisions start at 1); to roll back to the previous revision, leave to_revision out";
  assert.equal(refusal(kubectl!, values), `placeholder {revision} in action 1: value "0" ${why}`);
  assert.equal(refusal(map!, values), `placeholder {revision} in action 1: value "0" ${why}`);
  assert.equal(refusal(kubectl!, { ...values, revision: '000' }), 'placeholder {revision} in action 1: value "000" expected a whole number');
  assert.equal(refusal(joined!, { ...values, tens: '0', units: '0' }), `placeholder {tens} in action 1: value "0" makes to_revision "00", which ${why}`);
  // Revisions from 1 render as before.
  for (const [r, v] of [[kubectl!, { ...values, revision: '4' }], [map!, { ...values, revision: '10' }], [joined!, { ...values, tens: '1', units: '0' }]] as const) {
    const ok = renderPlan(r, v);
    assert.ok(ok.ok, JSON.stringify(v));
  }

  const bad = parseRunbooksText(
    [
      'runbooks:',
      '  kubectl:',
      '    risk: HIGH',
      '    action: kubectl rollout undo deployment {deployment} --to-revision=0 -n {namespace}',
      '  map:',
      '    risk: HIGH',
      '    action: {kubernetes: {verb: rollout_undo, kind: deployment, name: "{deployment}", namespace: "{namespace}", to_revision: 0}}',
      '',
    ].join('\n'),
    'z.yaml',
  );
  const load = "to_revision 0 is not a revision number (a deployment's revisions start at 1): to roll back to the previous revision, leave it out";
  assert.deepEqual(bad.problems.map(formatProblem), [
    `z.yaml:4: runbooks.kubectl.action: kubectl rollout undo deployment: ${load}`,
    `z.yaml:7: runbooks.map.action.kubernetes.to_revision: ${load}`,
  ]);
});

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { checkParam } from '../../src/domain/params.js';
import type { ParamKind, Runbook } from '../../src/domain/runbook.js';
import type { RenderedAction } from '../../src/domain/steps.js';
import { parseRunbooksText, renderChecks, renderPlan } from '../../src/runbooks/index.js';
import { count, evilString, report, runs } from './arbitraries.js';

/**
 * The runbook loader on random and mutated text, and placeholder rendering with
 * arbitrary values: the loader never throws and names every problem with a path;
 * a rendered plan holds only values that satisfy the safe pattern of every position
 * they fill, and its URLs keep the runbook's scheme and host.
 */

const VALID = `runbooks:
  everything:
    risk: MEDIUM
    triggers: [broken, "HighLatency"]
    match: ['severity="critical"']
    min_confidence: 0.7
    max_per_hour: 3
    cooldown_minutes: 5
    guardrails:
      - http: {url: "http://health.internal:8080/ready/{service}"}
    pre_checks:
      - promql: {query: 'sum(rate(errors{service="{service}", pod="{pod}"}[5m]))', expect: "< 5"}
    actions:
      - kubectl delete pod {pod} -n {namespace}
      - http:
          method: POST
          url: "https://api.internal:8443/v1/{service}/restart?reason={reason}&n={replicas}"
          headers: {X-Reason: "{reason}", Authorization: "Bearer \${env:API_TOKEN}"}
          body: {note: "{note}", nested: {pod: "{pod}"}, n: 3}
      - command: {argv: [/usr/local/bin/flush, --queue, "{queue}"], timeout_seconds: 30}
    post_checks:
      - http: {url: "http://health.internal:8080/ready/{service}?pod={pod}", timeout_seconds: 60}
    rollback:
      - kubectl scale deployment {deployment} --replicas={replicas} -n {namespace}
`;

const PARAMS = ['service', 'pod', 'namespace', 'reason', 'replicas', 'note', 'queue', 'deployment'];

/**
 * Every placeholder in a compiled structure, with the kind of position it fills.
 * Templates carry `{param, kind}` parts; an http body stays JSON until rendering,
 * where every string leaf is free text.
 */
function placeholderKinds(value: unknown, out = new Map<string, Set<ParamKind>>(), inBody = false): Map<string, Set<ParamKind>> {
  const add = (param: string, kind: ParamKind): void => {
    const set = out.get(param) ?? new Set<ParamKind>();
    set.add(kind);
    out.set(param, set);
  };
  if (typeof value === 'string') {
    if (inBody) for (const m of value.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) add(m[1]!, 'text');
  } else if (Array.isArray(value)) for (const v of value) placeholderKinds(v, out, inBody);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.param === 'string' && typeof o.kind === 'string') add(o.param, o.kind as ParamKind);
    for (const [k, v] of Object.entries(o)) placeholderKinds(v, out, inBody || k === 'body');
  }
  return out;
}

const tokens = ['runbooks:', '\n', '  ', '    ', '- ', ': ', '{', '}', '[', ']', '"', "'", '#', '&a', '*a', '!!str', '---', '|', '>', 'risk', 'LOW', 'HIGH', 'triggers', 'action', 'actions', 'http', 'url', 'kubectl delete pod {pod}', 'command', 'argv', 'rollback', 'post_checks', 'promql', 'query', 'expect', '< 1', 'max_per_hour', '-1', '1e999', 'null', '~', 'true', '{service}', '{{x}}', '${env:X}', 'http://{host}/', 'http://a/{p}', '..', '\t', '\u0000', '🚨'];
const yamlish = fc.array(fc.constantFrom(...tokens), { maxLength: 40 }).map((parts) => parts.join(''));

/** A valid runbook file with a few random edits: characters dropped, inserted, lines swapped or repeated. */
const mutated = fc.array(
  fc.tuple(fc.constantFrom('delete', 'insert', 'swap', 'repeat', 'replace'), fc.nat(), fc.nat(), fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 4 }))),
  { minLength: 1, maxLength: 4 },
).map((edits) => {
  let text = VALID;
  for (const [op, a, b, s] of edits) {
    const i = a % (text.length + 1);
    const lines = text.split('\n');
    const li = a % lines.length;
    const lj = b % lines.length;
    if (op === 'delete') text = text.slice(0, i) + text.slice(i + 1 + (b % 8));
    else if (op === 'insert') text = text.slice(0, i) + s + text.slice(i);
    else if (op === 'replace') text = text.slice(0, i) + s + text.slice(i + s.length);
    else if (op === 'swap') {
      [lines[li], lines[lj]] = [lines[lj]!, lines[li]!];
      text = lines.join('\n');
    } else {
      lines.splice(li, 0, lines[li]!);
      text = lines.join('\n');
    }
  }
  return text;
});

function load(text: string): ReturnType<typeof parseRunbooksText> {
  count('loader');
  const r = parseRunbooksText(text, 'fuzz.yaml');
  for (const p of r.problems) {
    assert.equal(p.file, 'fuzz.yaml');
    assert.equal(typeof p.path, 'string');
    assert.ok(p.message.length > 0);
  }
  if (r.problems.length === 0) for (const rb of r.runbooks) assert.ok(rb.actions.length > 0, `${rb.id} loaded without an action`);
  return r;
}

/** The property every rendered plan must hold, whatever the values. */
function assertSafeRender(rb: Runbook, values: Record<string, string>): void {
  count('render');
  const kinds = placeholderKinds([rb.actions, rb.rollback]);
  const r = renderPlan(rb, values);
  if (!r.ok) {
    assert.ok(kinds.has(r.param), `refusal names a placeholder of the runbook: ${r.param}`);
    assert.ok(r.reason.length > 0);
    return;
  }
  count('rendered');
  for (const [param, value] of Object.entries(r.plan.params)) {
    assert.ok(!value.includes('${'), `${param} smuggles a secret reference`);
    for (const kind of kinds.get(param) ?? []) assert.deepEqual(checkParam(kind, value), { ok: true }, `${param}=${JSON.stringify(value)} as ${kind}`);
  }
  for (const step of [...r.plan.actions, ...(r.plan.rollback ?? [])]) {
    const spec = step.spec as RenderedAction;
    if (spec.type === 'http') assert.ok(spec.url.startsWith('https://api.internal:8443/v1/'), spec.url);
    if (spec.type === 'command') {
      assert.equal(spec.argv[0], '/usr/local/bin/flush');
      assert.ok(spec.argv.slice(1).every((a, i) => i === 0 || !a.startsWith('-')), 'no option injected');
    }
  }
  const checks = renderChecks([...rb.preChecks, ...rb.postChecks], values);
  if (checks.ok) {
    for (const c of checks.checks) if (c.type === 'http') assert.ok(c.url.startsWith('http://health.internal:8080/ready/'), c.url);
  }
}

describe('runbook loader and placeholder rendering, fuzzed', () => {
  after(() => console.log(`# runbook cases tried: ${report()}`));
  const base = parseRunbooksText(VALID, 'valid.yaml');
  it('the reference runbook itself loads', () => {
    assert.deepEqual(base.problems, []);
    assert.equal(base.runbooks.length, 1);
  });

  it('random YAML-ish text: no throw, every problem named', () => {
    fc.assert(fc.property(fc.oneof(yamlish, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })), (t) => void load(t)), { numRuns: runs(1500) });
  });

  it('mutated valid runbooks: no throw; whatever still loads renders safely', () => {
    fc.assert(
      fc.property(mutated, fc.dictionary(fc.constantFrom(...PARAMS), evilString), (text, values) => {
        const r = load(text);
        for (const rb of r.runbooks) {
          count('render');
          const out = renderPlan(rb, values);
          if (out.ok) for (const v of Object.values(out.plan.params)) assert.ok(!v.includes('${'));
        }
      }),
      { numRuns: runs(1500) },
    );
  });

  it('arbitrary values in every placeholder: a rendered plan holds only values that fit their positions', () => {
    const rb = base.runbooks[0]!;
    const plausible = fc.stringMatching(/^[a-z0-9]{1,10}$/);
    // Mostly plausible values, so that many plans render and the property is tested on them, not only on refusals.
    const value = fc.oneof({ weight: 6, arbitrary: plausible }, { weight: 1, arbitrary: evilString });
    const replicas = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 999 }).map(String) }, { weight: 1, arbitrary: evilString });
    const values = fc.oneof(fc.record(Object.fromEntries(PARAMS.map((p) => [p, p === 'replicas' ? replicas : value])) as Record<string, fc.Arbitrary<string>>), fc.dictionary(fc.constantFrom(...PARAMS), evilString));
    fc.assert(fc.property(values, (v) => assertSafeRender(rb, v)), {
      numRuns: runs(4000),
    });
  });

  it('hostile values with prototype keys and look-alike names are never read from the prototype', () => {
    const rb = base.runbooks[0]!;
    const values = Object.create({ service: 'inherited', pod: 'inherited' }) as Record<string, string>;
    const r = renderPlan(rb, values);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && /no value for placeholder/.test(r.reason));
  });
});

import { KUBE_VERBS, type ActionSpec, type CommandActionSpec, type HttpActionSpec, type KubernetesActionSpec, type Template } from '../domain/runbook.js';
import { didYouMean } from '../lib/suggest.js';
import { missingNamespace, readKubeName } from './checks.js';
import { checkKeys, expectMap, has, isMapValue, readNonNegativeNumber, readOneOf, readSecondsMs, readStatusRange, readString, scalarAsText, type YamlMap } from './fields.js';
import { readHeaders, readMethod, readUrl } from './http-parts.js';
import { DEFAULT_KUBE_TIMEOUT_MS, NO_REVISION_ZERO, parseKubectl } from './kubectl.js';
import type { Reporter, YamlPath } from './problems.js';
import { compileTemplate, isLiteral, literalTemplate, literalText, placeholderLike, refuseNearMisses } from './template.js';
import { shellIn } from './argv-programs.js';

/**
 * Actions in their forms: a kubectl-style string, `kubernetes: {…}`, `http: {…}`
 * and `command: {argv: […]}`. Whatever the form, the result is data for an
 * executor; nothing here is ever handed to a shell.
 */
export const ACTION_TYPES = ['kubernetes', 'http', 'command'] as const;

export interface ActionOptions {
  /** The runbook's `force_delete`: turns pod deletion from eviction into a plain delete. */
  forceDelete: boolean;
}

const HTTP_ACTION_DEFAULT_TIMEOUT_MS = 10_000;
const COMMAND_DEFAULT_TIMEOUT_MS = 30_000;
const HTTP_ACTION_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;


export function compileActionList(r: Reporter, items: unknown[], path: YamlPath, opts: ActionOptions): ActionSpec[] | undefined {
  const before = r.count();
  const out: ActionSpec[] = [];
  items.forEach((item, i) => {
    const a = compileAction(r, item, [...path, i], opts);
    if (a) out.push(a);
  });
  return r.count() === before ? out : undefined;
}

export function compileAction(r: Reporter, v: unknown, path: YamlPath, opts: ActionOptions): ActionSpec | undefined {
  if (typeof v === 'string') {
    const parsed = parseKubectl(v, opts);
    if (!parsed.ok) {
      r.report(path, parsed.message);
      return undefined;
    }
    return parsed.value;
  }
  if (!isMapValue(v)) {
    r.report(path, `expected a kubectl command or a map (${ACTION_TYPES.join(', ')}), got ${r.got(path, v)}`);
    return undefined;
  }
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    r.report(path, `an action is a map with one key (${ACTION_TYPES.join(', ')}), got keys ${keys.join(', ') || '(none)'}`);
    return undefined;
  }
  const key = keys[0]!;
  const at = [...path, key];
  switch (key) {
    case 'kubernetes':
      return compileKubeAction(r, v[key], at, opts);
    case 'http':
      return compileHttpAction(r, v[key], at);
    case 'command':
      return compileCommand(r, v[key], at);
    default:
      r.report(at, `unknown action type${didYouMean(key, ACTION_TYPES)} (expected ${ACTION_TYPES.join(', ')})`, 'key');
      return undefined;
  }
}

type Verb = KubernetesActionSpec['verb'];
type Kind = KubernetesActionSpec['kind'];
const VERB_KINDS: Record<Verb, readonly Kind[]> = {
  evict_pod: ['pod'],
  delete_pod: ['pod'],
  scale: ['deployment', 'statefulset'],
  rollout_restart: ['deployment', 'statefulset'],
  rollout_undo: ['deployment'],
  cordon: ['node'],
  uncordon: ['node'],
  drain: ['node'],
};
const VERB_KEYS: Record<Verb, readonly string[]> = {
  evict_pod: [],
  delete_pod: [],
  scale: ['replicas'],
  rollout_restart: [],
  rollout_undo: ['to_revision'],
  cordon: [],
  uncordon: [],
  drain: ['ignore_daemonsets', 'delete_emptydir_data', 'grace_period_seconds'],
};

function compileKubeAction(r: Reporter, v: unknown, path: YamlPath, opts: ActionOptions): KubernetesActionSpec | undefined {
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  const verb = readOneOf(r, m.verb, KUBE_VERBS, [...path, 'verb']);
  if (!verb) return undefined;
  const own = ['verb', 'kind', 'name', 'namespace', 'timeout_seconds', ...VERB_KEYS[verb]];
  for (const key of Object.keys(m)) {
    const owner = (Object.keys(VERB_KEYS) as Verb[]).find((v) => VERB_KEYS[v].includes(key));
    if (!own.includes(key) && owner) r.report([...path, key], `${key} applies only to verb ${owner}`, 'key');
  }
  checkKeys(r, m, [...own, ...Object.values(VERB_KEYS).flat()], path);
  if (verb === 'delete_pod' && !opts.forceDelete) {
    r.report([...path, 'verb'], 'delete_pod skips PodDisruptionBudgets; set force_delete: true on the runbook to allow it, or use evict_pod');
  }
  const kinds = VERB_KINDS[verb];
  const kind = has(m, 'kind') ? readOneOf(r, m.kind, kinds, [...path, 'kind']) : kinds[0];
  let name: Template | undefined;
  if (has(m, 'name')) name = readKubeName(r, m.name, [...path, 'name'], 'k8s_name');
  else r.report(path, 'missing "name"');
  let namespace: Template | null = null;
  if (has(m, 'namespace')) {
    if (kind === 'node') r.report([...path, 'namespace'], 'nodes are not namespaced', 'key');
    else namespace = readKubeName(r, m.namespace, [...path, 'namespace'], 'k8s_label') ?? null;
  } else if (kind && kind !== 'node') missingNamespace(r, path, kind);
  const args: Record<string, Template> = {};
  const intArg = (key: string, argName: string, required: boolean): void => {
    if (!has(m, key)) {
      if (required) r.report(path, `missing "${key}"`);
      return;
    }
    const t = readIntegerTemplate(r, m[key], [...path, key]);
    if (t) args[argName] = t;
  };
  if (verb === 'scale') intArg('replicas', 'replicas', true);
  if (verb === 'rollout_undo') {
    intArg('to_revision', 'to_revision', false);
    const rev = args.to_revision;
    if (rev && isLiteral(rev) && /^0+$/.test(literalText(rev))) {
      r.report([...path, 'to_revision'], NO_REVISION_ZERO);
      delete args.to_revision;
    }
  }
  if (verb === 'drain') {
    intArg('grace_period_seconds', 'grace_period_seconds', false);
    for (const b of ['ignore_daemonsets', 'delete_emptydir_data']) {
      if (!has(m, b)) continue;
      if (typeof m[b] === 'boolean') args[b] = literalTemplate(String(m[b]));
      else r.report([...path, b], `expected true or false, got ${r.got([...path, b], m[b])}`);
    }
  }
  let timeoutMs = DEFAULT_KUBE_TIMEOUT_MS;
  if (has(m, 'timeout_seconds')) {
    // A drain's timeout is handed to it in whole seconds (as kubectl's --timeout, at least 1 s).
    const min = verb === 'drain' ? { ms: 1000, why: "a drain's timeout is given to it in whole seconds" } : undefined;
    timeoutMs = readSecondsMs(r, m.timeout_seconds, [...path, 'timeout_seconds'], { allowZero: false, ...(min ? { min } : {}) }) ?? timeoutMs;
    if (verb === 'drain') args.timeout_seconds = literalTemplate(String(Math.round(timeoutMs / 1000)));
  }
  if (r.count() !== before || !kind || !name) return undefined;
  const source = [
    `kubernetes ${verb} ${kind} ${name.source}`,
    namespace ? ` -n ${namespace.source}` : '',
    ...Object.entries(args).map(([k, t]) => ` ${k}=${t.source}`),
  ].join('');
  return { type: 'kubernetes', source, verb, kind, name, namespace, args, timeoutMs };
}

/** A whole number written as a number, digits, or a `{placeholder}` that must be digits at render. */
function readIntegerTemplate(r: Reporter, v: unknown, path: YamlPath): Template | undefined {
  if (typeof v === 'number') {
    const n = readNonNegativeNumber(r, v, path);
    if (n === undefined) return undefined;
    if (!Number.isSafeInteger(n)) {
      r.report(path, `expected a whole number or a {placeholder}, got ${r.got(path, v, true)}`);
      return undefined;
    }
    return literalTemplate(String(n));
  }
  const s = readString(r, v, path, true);
  if (s === undefined || refuseNearMisses(r, s, path)) return undefined;
  const t = compileTemplate(s, 'integer');
  if (isLiteral(t) && !/^(0|[1-9][0-9]*)$/.test(s)) {
    r.report(path, `expected a whole number or a {placeholder}, got ${r.got(path, v, true)}`);
    return undefined;
  }
  return t;
}

function compileHttpAction(r: Reporter, v: unknown, path: YamlPath): HttpActionSpec | undefined {
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, ['method', 'url', 'headers', 'body', 'expect_status', 'timeout_seconds'], path);
  const method = has(m, 'method') ? readMethod(r, m.method, HTTP_ACTION_METHODS, [...path, 'method']) : 'POST';
  let url: Template | undefined;
  if (has(m, 'url')) url = readUrl(r, m.url, [...path, 'url']);
  else r.report(path, 'missing "url"');
  const headers = readHeaders(r, m.headers, [...path, 'headers']);
  if (has(m, 'body')) refuseKeyPlaceholders(r, m.body, [...path, 'body']);
  const expectStatus = has(m, 'expect_status') ? readStatusRange(r, m.expect_status, [...path, 'expect_status']) : ([200, 299] as [number, number]);
  const timeoutMs = has(m, 'timeout_seconds')
    ? readSecondsMs(r, m.timeout_seconds, [...path, 'timeout_seconds'], { allowZero: false })
    : HTTP_ACTION_DEFAULT_TIMEOUT_MS;
  if (r.count() !== before || !method || !url || !headers || !expectStatus || timeoutMs === undefined) return undefined;
  return {
    type: 'http',
    source: `${method} ${url.source}`,
    method,
    url,
    headers,
    // None written (or `body:` left empty): no body at all, not the JSON text `null`.
    body: has(m, 'body') && m.body !== null ? m.body : undefined,
    expectStatus,
    timeoutMs,
  };
}

/** "__proto__" as a body key: written into a plain object it sets the prototype and is never sent. */
const PROTO_BODY_KEY =
  'the body key "__proto__" cannot be sent: JavaScript objects read it as their prototype, so the step would run without it and nothing would say so; use another name';

/** A body's keys are sent as written (only its string values are filled): a `{name}` in one never is. */
function refuseKeyPlaceholders(r: Reporter, v: unknown, path: YamlPath): void {
  if (Array.isArray(v)) v.forEach((item, i) => refuseKeyPlaceholders(r, item, [...path, i]));
  else if (isMapValue(v)) {
    for (const [k, item] of Object.entries(v)) {
      // Filled into a plain object, "__proto__" sets its prototype: the key would never be sent.
      if (k === '__proto__') r.report([...path, k], PROTO_BODY_KEY, 'key');
      const key = r.keyAt([...path, k]);
      if (key?.written === '<<') {
        // YAML 1.2 has no merge key: `<<: *base` was sent as a key named "<<".
        r.report([...path, k], 'the body key << is no merge in YAML 1.2: it would be sent as a key named "<<"; write the keys out, or quote it ("<<") if that key is meant', 'key');
      } else if (key !== undefined && typeof key.value !== 'string') {
        // `0x1f:` was sent as "31", `1.10:` as "1.1", `~:` as "".
        const read = key.value === null || key.value === undefined ? 'null (sent as "")' : `${typeof key.value === 'number' ? 'the number' : ''} ${String(key.value)} (sent as ${JSON.stringify(String(key.value))})`.trim();
        r.report([...path, k], `the body key ${key.written || '(empty)'} is read as ${read}, not as the text written; a body key is text: quote it (${JSON.stringify(key.written)})`, 'key');
      }
      const name = placeholderLike(k).placeholders[0];
      if (name !== undefined) r.report([...path, k], `placeholder {${name}} is not filled in a body key (only string values are), so the key ${JSON.stringify(k)} would be sent as written: use a fixed key and put the value in a string value`, 'key');
      refuseKeyPlaceholders(r, item, [...path, k]);
    }
  }
}

function compileCommand(r: Reporter, v: unknown, path: YamlPath): CommandActionSpec | undefined {
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, ['argv', 'timeout_seconds'], path);
  const argv = readArgv(r, m, [...path, 'argv']);
  const timeoutMs = has(m, 'timeout_seconds') ? readSecondsMs(r, m.timeout_seconds, [...path, 'timeout_seconds'], { allowZero: false }) : COMMAND_DEFAULT_TIMEOUT_MS;
  if (r.count() !== before || !argv || timeoutMs === undefined) return undefined;
  return { type: 'command', source: argv.map((t) => t.source).join(' '), argv, timeoutMs };
}

function readArgv(r: Reporter, m: YamlMap, path: YamlPath): Template[] | undefined {
  const v = m.argv;
  if (!Array.isArray(v) || v.length === 0) {
    r.report(path, `expected a non-empty list [program, arg, …], got ${r.got(path, v)}`);
    return undefined;
  }
  const out: Template[] = [];
  let ok = true;
  v.forEach((item, i) => {
    const text = typeof item === 'number' ? scalarAsText(r, item, [...path, i], 'an argument') : readString(r, item, [...path, i], true);
    if (text === undefined) {
      ok = false;
      return;
    }
    // The escape "\0" (or "\u0000") in a double-quoted string is a NUL, which no argument
    // can hold: execve ends an argument at it, and the step would fail only when it ran.
    // (A raw NUL byte in the file is refused with the file's hidden characters.)
    if (text.includes('\u0000')) {
      r.report([...path, i], `the ${i === 0 ? 'program' : 'argument'} cannot hold a NUL character: the operating system ends an argument at it, so the program could never be started with it; remove it`);
      ok = false;
    }
    // A program gets `{queue-name}` or `{{service}}` as written: never what was meant.
    if (refuseNearMisses(r, text, [...path, i])) ok = false;
    out.push(compileTemplate(text, 'argv'));
  });
  const prog = out[0];
  if (prog && !isLiteral(prog)) {
    r.report([...path, 0], 'the program (argv[0]) must be written out, not a {placeholder}: an alert must not choose what runs');
    ok = false;
  } else if (prog) {
    const shell = shellIn(out);
    if (shell) {
      r.report([...path, shell.index], shell.message);
      ok = false;
    }
  }
  return ok ? out : undefined;
}

import { checkParam } from '../domain/params.js';
import type { KubernetesActionSpec, ParamKind, Template } from '../domain/runbook.js';
import { MAX_DURATION, durationHint, parseDuration } from '../lib/durations.js';
import { compileTemplate, findNearMisses, isLiteral, literalTemplate, literalText } from './template.js';

/**
 * kubectl-style action strings. They are split into tokens here (quote-aware,
 * never by a shell) and turned into a Kubernetes API call description; kubectl
 * itself is never run. Only a small, reviewed set of verbs, kinds and flags is
 * accepted: anything else is a load error, because an unknown flag silently
 * dropped (`--force`, `--all`) would change what the action does.
 */
export const KUBECTL_SUPPORTED = 'delete pod, scale, rollout restart, rollout undo, cordon, uncordon, drain';
export const DEFAULT_KUBE_TIMEOUT_MS = 60_000;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function tokenize(text: string): Parsed<string[]> {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && (text[i + 1] === '"' || text[i + 1] === '\\')) current += text[++i];
      else current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (quote) return { ok: false, message: `unterminated ${quote} quote in ${JSON.stringify(text)}` };
  if (inToken) tokens.push(current);
  return { ok: true, value: tokens };
}

type Kind = KubernetesActionSpec['kind'];
const KIND_ALIASES: Record<string, Kind> = {
  pod: 'pod',
  pods: 'pod',
  po: 'pod',
  deployment: 'deployment',
  deployments: 'deployment',
  deploy: 'deployment',
  statefulset: 'statefulset',
  statefulsets: 'statefulset',
  sts: 'statefulset',
};

const VALUE_FLAGS = ['replicas', 'to-revision', 'timeout', 'grace-period'] as const;
const BOOL_FLAGS = ['ignore-daemonsets', 'delete-emptydir-data'] as const;

interface Command {
  label: string;
  flags: readonly string[];
}

export function parseKubectl(text: string, opts: { forceDelete: boolean }): Parsed<KubernetesActionSpec> {
  const tok = tokenize(text);
  if (!tok.ok) return tok;
  const tokens = tok.value;
  if (tokens[0] !== 'kubectl') {
    return {
      ok: false,
      message: `expected a kubectl command (${KUBECTL_SUPPORTED}) or an action map (kubernetes:, http:, command:), got ${JSON.stringify(text)}`,
    };
  }
  let namespace: string | undefined;
  const flags = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '-n' || t === '--namespace' || t.startsWith('--namespace=')) {
      const value = t.startsWith('--namespace=') ? t.slice('--namespace='.length) : tokens[++i];
      if (value === undefined || value === '') return { ok: false, message: `${t} needs a namespace` };
      if (namespace !== undefined) return { ok: false, message: 'the namespace is given twice' };
      namespace = value;
      continue;
    }
    if (t.startsWith('-')) {
      const eq = t.indexOf('=');
      const name = (eq < 0 ? t : t.slice(0, eq)).replace(/^--/, '');
      let value: string | undefined = eq < 0 ? undefined : t.slice(eq + 1);
      if (!t.startsWith('--') || !([...VALUE_FLAGS, ...BOOL_FLAGS] as readonly string[]).includes(name)) {
        flags.set(eq < 0 ? t : t.slice(0, eq), '\0unknown');
        continue;
      }
      if ((VALUE_FLAGS as readonly string[]).includes(name) && value === undefined) {
        value = tokens[i + 1];
        if (value === undefined || value.startsWith('-')) return { ok: false, message: `--${name} needs a value` };
        i += 1;
      }
      if ((BOOL_FLAGS as readonly string[]).includes(name)) {
        if (value !== undefined && value !== 'true' && value !== 'false') return { ok: false, message: `--${name} takes true or false, got ${JSON.stringify(value)}` };
        value = value ?? 'true';
      }
      if (flags.has(name)) return { ok: false, message: `--${name} is given twice` };
      flags.set(name, value!);
      continue;
    }
    positionals.push(t);
  }

  const verb = positionals[0];
  const fail = (message: string): Parsed<KubernetesActionSpec> => ({ ok: false, message });
  if (verb === undefined) return fail(`kubectl command has no verb (supported: ${KUBECTL_SUPPORTED})`);

  let cmd: Command;
  let rest: string[];
  let kinds: readonly Kind[];
  let specVerb: KubernetesActionSpec['verb'];
  switch (verb) {
    case 'delete':
      cmd = { label: 'kubectl delete', flags: [] };
      kinds = ['pod'];
      specVerb = opts.forceDelete ? 'delete_pod' : 'evict_pod';
      rest = positionals.slice(1);
      break;
    case 'scale':
      cmd = { label: 'kubectl scale', flags: ['replicas'] };
      kinds = ['deployment', 'statefulset'];
      specVerb = 'scale';
      rest = positionals.slice(1);
      break;
    case 'rollout': {
      const sub = positionals[1];
      if (sub === 'restart') {
        cmd = { label: 'kubectl rollout restart', flags: [] };
        kinds = ['deployment', 'statefulset'];
        specVerb = 'rollout_restart';
      } else if (sub === 'undo') {
        cmd = { label: 'kubectl rollout undo', flags: ['to-revision'] };
        kinds = ['deployment'];
        specVerb = 'rollout_undo';
      } else {
        return fail(`kubectl rollout ${sub === undefined ? 'needs a subcommand' : `${JSON.stringify(sub)} is not supported`} (supported: restart, undo)`);
      }
      rest = positionals.slice(2);
      break;
    }
    case 'cordon':
    case 'uncordon':
    case 'drain':
      cmd = { label: `kubectl ${verb}`, flags: verb === 'drain' ? ['ignore-daemonsets', 'delete-emptydir-data', 'timeout', 'grace-period'] : [] };
      kinds = ['node'];
      specVerb = verb;
      rest = positionals.slice(1);
      break;
    default:
      return fail(`kubectl verb ${JSON.stringify(verb)} is not supported (supported: ${KUBECTL_SUPPORTED})`);
  }

  for (const flag of flags.keys()) {
    if (!cmd.flags.includes(flag)) {
      const shown = flag.startsWith('-') ? flag : `--${flag}`;
      const supported = [...cmd.flags.map((f) => `--${f}`), ...(kinds[0] === 'node' ? [] : ['-n/--namespace'])];
      return fail(`${cmd.label}: flag ${JSON.stringify(shown)} is not supported (supported: ${supported.join(', ') || 'none'})`);
    }
  }

  // Resource: `KIND NAME`, `KIND/NAME`, or just `NODE` for node verbs.
  let kind: Kind;
  let nameText: string | undefined;
  let extra: string[];
  if (kinds[0] === 'node') {
    kind = 'node';
    nameText = rest[0];
    extra = rest.slice(1);
    if (namespace !== undefined) return fail(`${cmd.label}: nodes are not namespaced; remove the namespace`);
  } else {
    const first = rest[0];
    if (first === undefined) return fail(`${cmd.label}: missing the resource (supported: ${kinds.join(', ')})`);
    const slash = first.indexOf('/');
    const kindText = slash < 0 ? first : first.slice(0, slash);
    const k = Object.prototype.hasOwnProperty.call(KIND_ALIASES, kindText) ? KIND_ALIASES[kindText] : undefined;
    if (!k || !kinds.includes(k)) return fail(`${cmd.label}: resource kind ${JSON.stringify(kindText)} is not supported (supported: ${kinds.join(', ')})`);
    kind = k;
    nameText = slash < 0 ? rest[1] : first.slice(slash + 1);
    extra = rest.slice(slash < 0 ? 2 : 1);
  }
  const what = `${cmd.label}${kind === 'node' ? '' : ` ${kind}`}`;
  if (nameText === undefined || nameText === '') return fail(`${what}: missing the ${kind} name`);
  if (extra.length > 0) return fail(`${what}: unexpected argument ${JSON.stringify(extra[0])} (one ${kind} per action)`);

  const name = templ(nameText, 'k8s_name', `${kind} name`);
  if (!name.ok) return fail(`${what}: ${name.message}`);
  let ns: Template | null = null;
  if (namespace !== undefined) {
    const n = templ(namespace, 'k8s_label', 'namespace');
    if (!n.ok) return fail(`${what}: ${n.message}`);
    ns = n.value;
  }

  const args: Record<string, Template> = {};
  let timeoutMs = DEFAULT_KUBE_TIMEOUT_MS;
  if (specVerb === 'scale') {
    const replicas = flags.get('replicas');
    if (replicas === undefined) return fail(`${what}: --replicas is required`);
    const t = templ(replicas, 'integer', '--replicas');
    if (!t.ok) return fail(`${what}: ${t.message}`);
    args.replicas = t.value;
  }
  const revision = flags.get('to-revision');
  if (revision !== undefined) {
    const t = templ(revision, 'integer', '--to-revision');
    if (!t.ok) return fail(`${what}: ${t.message}`);
    // kubectl reads --to-revision=0 as "the previous revision"; rectify has no revision 0
    // and would refuse every run at its first step.
    if (isLiteral(t.value) && /^0+$/.test(literalText(t.value))) return fail(`${what}: ${NO_REVISION_ZERO}`);
    args.to_revision = t.value;
  }
  for (const b of BOOL_FLAGS) {
    const v = flags.get(b);
    if (v !== undefined) args[b.replace(/-/g, '_')] = literalTemplate(v);
  }
  const grace = flags.get('grace-period');
  if (grace !== undefined) {
    const t = templ(grace, 'integer', '--grace-period');
    if (!t.ok) return fail(`${what}: ${t.message}`);
    args.grace_period_seconds = t.value;
  }
  const timeout = flags.get('timeout');
  if (timeout !== undefined) {
    const ms = parseDuration(timeout);
    if (ms === undefined || ms < 1000) return fail(`${what}: --timeout expects a duration such as 120s or 5m, got ${JSON.stringify(timeout)}${durationHint(timeout)}`);
    // 99999999999999999999d loaded, and was refused only when a run reached the drain.
    if (ms > MAX_DURATION.ms) return fail(`${what}: --timeout is at most ${MAX_DURATION.said}, got ${JSON.stringify(timeout)}`);
    args.timeout_seconds = literalTemplate(String(Math.round(ms / 1000)));
    // The drain's own timeout is the action's deadline.
    timeoutMs = ms;
  }
  // kubectl would mean the namespace "default"; rectify names no namespace for the
  // author, so the step would fail on every run (and the approver would read the
  // command as kubectl's, in "default").
  if (kind !== 'node' && namespace === undefined) return fail(`${what}: missing the namespace (a ${kind} is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}`);
  return { ok: true, value: { type: 'kubernetes', source: text, verb: specVerb, kind, name: name.value, namespace: ns, args, timeoutMs } };
}

/** The load error of a runbook's own `--to-revision=0` / `to_revision: 0`. */
export const NO_REVISION_ZERO = 'to_revision 0 is not a revision number (a deployment\'s revisions start at 1): to roll back to the previous revision, leave it out';

/** A token as a template of the given kind; a literal one must already fit the kind, and none may only look like a placeholder. */
function templ(text: string, kind: ParamKind, what: string): Parsed<Template> {
  // The first near-miss, like every kubectl problem: one message per action string.
  const near = findNearMisses(text)[0];
  if (near) return { ok: false, message: near.message };
  const t = compileTemplate(text, kind);
  if (isLiteral(t)) {
    const check = checkParam(kind, literalText(t));
    if (!check.ok) {
      const hint = kind === 'integer' ? ' or a {placeholder}' : '';
      return { ok: false, message: `${what} ${JSON.stringify(text)} ${check.reason}${hint}` };
    }
  }
  return { ok: true, value: t };
}

import type { LoadProblem } from '../domain/errors.js';
import { parseArgv, type FlagKind } from './argv.js';
import { duration, serverUrl, show, type ValueContext } from './values.js';

/**
 * Settings of the client commands (`rectify approvals`, `approve`, `audit`, `run`, …):
 * where the service is and how to prove who we are. Flag over environment over
 * default; they are not read from rectify.yaml, which configures the service, not
 * the person talking to it.
 */
export const CLIENT_ENV = Object.freeze({ server: 'RECTIFY_SERVER', token: 'RECTIFY_TOKEN' });

export const DEFAULT_SERVER = 'http://127.0.0.1:9095';
export const DEFAULT_CLIENT_TIMEOUT = '10s';
/**
 * The deadline of a request that may run actions (`run`, `approve`) when --timeout is not
 * given: the service answers it only after a MEDIUM runbook's guardrail checks, each up to
 * 15 s (GUARDRAIL_BUDGET_MS) and made one after the other, after reading the cluster (up
 * to 5 s). 10 s gave up on answers still to come, while the service went on to act.
 */
export const DEFAULT_ACTING_TIMEOUT_MS = 180_000;

/** Flags every client command takes. */
export const CLIENT_FLAGS: Readonly<Record<string, FlagKind>> = Object.freeze({
  server: 'string',
  token: 'string',
  timeout: 'string',
  json: 'boolean',
});

export interface ClientSettings {
  /** Base URL without a trailing slash. */
  readonly server: string;
  /** Sent as `Authorization: Bearer`; never printed. */
  readonly token: string | undefined;
  /** Deadline of each request. */
  readonly timeoutMs: number;
  /** Deadline of a request that may run actions: --timeout when given, else DEFAULT_ACTING_TIMEOUT_MS. */
  readonly actingTimeoutMs: number;
  readonly json: boolean;
}

export interface ClientArgs {
  readonly client: ClientSettings;
  /** The command's own flags: repeatable strings (in order) or booleans. */
  readonly flags: Readonly<Record<string, readonly string[] | boolean>>;
  readonly args: readonly string[];
}

export type ClientArgsResult = ClientArgs | { problems: LoadProblem[] };

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/**
 * Parses a client command's arguments: the shared client flags plus `commandFlags`.
 * Every problem is reported at once, each naming the flag or variable it came from.
 */
export function loadClientArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  commandFlags: Readonly<Record<string, FlagKind>> = {},
  opts: { cwd?: string } = {},
): ClientArgsResult {
  const known = new Map<string, FlagKind>([...Object.entries(CLIENT_FLAGS), ...Object.entries(commandFlags)]);
  const parsed = parseArgv(argv, known);
  const problems: LoadProblem[] = [...parsed.problems];
  const ctx: ValueContext = { cwd: opts.cwd ?? '/' };
  const flags: Record<string, string[] | boolean> = {};
  for (const f of parsed.flags) {
    if (known.get(f.name) === 'boolean') {
      const v = f.value === true ? 'true' : f.value.trim().toLowerCase();
      if (TRUE.includes(v)) flags[f.name] = true;
      else if (FALSE.includes(v)) flags[f.name] = false;
      else problems.push({ file: `--${f.name}`, path: '', message: `expected true or false, got ${show(f.value)}` });
      continue;
    }
    const prior = flags[f.name];
    flags[f.name] = [...(Array.isArray(prior) ? prior : []), String(f.value)];
  }
  const last = (name: string): string | undefined => {
    const v = flags[name];
    return Array.isArray(v) ? v[v.length - 1] : undefined;
  };

  // --server, else $RECTIFY_SERVER, else loopback: the address `rectify serve` listens on by default.
  let server = DEFAULT_SERVER;
  const serverFlag = last('server');
  const serverEnv = env[CLIENT_ENV.server];
  const serverRaw = serverFlag ?? (serverEnv !== undefined && serverEnv !== '' ? serverEnv : undefined);
  if (serverRaw !== undefined) {
    const r = serverUrl.parse(serverRaw, ctx);
    if (r.ok) server = r.value;
    else problems.push({ file: serverFlag !== undefined ? '--server' : CLIENT_ENV.server, path: '', message: r.message });
  }

  const tokenFlag = last('token');
  const tokenEnv = env[CLIENT_ENV.token];
  const token = tokenFlag ?? (tokenEnv !== undefined && tokenEnv !== '' ? tokenEnv : undefined);
  if (token !== undefined && (token.trim() === '' || /[\s]/.test(token))) {
    // Echoing the value would print a secret: say only what is wrong with it.
    problems.push({ file: tokenFlag !== undefined ? '--token' : CLIENT_ENV.token, path: '', message: 'expected a token without spaces or line breaks' });
  } else if (token !== undefined && /[^\x21-\x7e]/.test(token)) {
    // A header carries printable ASCII only: a curly quote pasted into the token made
    // fetch throw, reported as "cannot reach rectify (is it running?)".
    problems.push({ file: tokenFlag !== undefined ? '--token' : CLIENT_ENV.token, path: '', message: 'expected a token of printable ASCII characters (it holds another character: a quote or dash pasted from a document?)' });
  }

  let timeoutMs = 10_000;
  const timeoutFlag = last('timeout');
  const t = duration({ allowZero: false }).parse(timeoutFlag ?? DEFAULT_CLIENT_TIMEOUT, ctx);
  if (t.ok) timeoutMs = t.value;
  else problems.push({ file: '--timeout', path: '', message: t.message });
  const actingTimeoutMs = timeoutFlag !== undefined ? timeoutMs : DEFAULT_ACTING_TIMEOUT_MS;

  if (problems.length) return { problems };
  const json = flags['json'] === true;
  delete flags['server'];
  delete flags['token'];
  delete flags['timeout'];
  delete flags['json'];
  return { client: { server, token, timeoutMs, actingTimeoutMs, json }, flags, args: parsed.args };
}

import { userInfo } from 'node:os';
import { loadClientArgs, shownArg, type ClientSettings, type FlagKind } from '../../config/index.js';
import { formatProblem } from '../../domain/index.js';
import { EXIT, type CliIO } from '../io.js';
import { ApiFailure, createApiClient, MAX_ID_LENGTH, reportFailure, type ApiClient } from './api.js';

export interface ClientContext {
  io: CliIO;
  api: ApiClient;
  client: ClientSettings;
  flags: Readonly<Record<string, readonly string[] | boolean>>;
  args: readonly string[];
}

export interface ClientCommandSpec {
  /** As typed after `rectify`, for messages. */
  name: string;
  flags?: Readonly<Record<string, FlagKind>>;
  /** Names of the required positional arguments. */
  positional?: readonly string[];
  /** Names of optional positional arguments after them; more than both are refused. */
  optional?: readonly string[];
}

export const TOKEN_IN_ARGV =
  'rectify: warning: a --token on the command line can be read by other users of this host (ps) and stays in shell history; set RECTIFY_TOKEN instead';

/**
 * The shape every client command shares: parse flags (reporting every problem at
 * once, exit 2), check the positionals, then talk to the service; a failed request
 * becomes its message and exit code in one place (reportFailure).
 */
export function clientCommand(spec: ClientCommandSpec, body: (ctx: ClientContext) => Promise<number>) {
  return withJsonUsage(spec.name, commandBody(spec, body));
}

export function withJsonUsage(name: string, command: (argv: string[], io: CliIO) => Promise<number>) {
  /**
   * Under --json, stdout is one JSON document whatever happens: a usage mistake (exit 2)
   * that printed only its sentence on stderr left stdout empty, which `jq` reads as no
   * input at all; it gets the error in the API's shape, the sentences as its message.
   */
  return async function run(argv: string[], io: CliIO): Promise<number> {
    if (!argv.some((a) => a === '--json' || /^--json=(?:true|1|yes|on)$/i.test(a))) return command(argv, io);
    let wrote = false;
    const said: string[] = [];
    const code = await command(argv, {
      ...io,
      out: (l) => {
        wrote = true;
        io.out(l);
      },
      err: (l) => {
        said.push(l);
        io.err(l);
      },
    });
    if (code === EXIT.USAGE && !wrote) {
      const lines = said.filter((l) => l !== TOKEN_IN_ARGV && !l.startsWith('see: '));
      const message = lines.join('; ') || `rectify ${name}: wrong flags or arguments`;
      io.out(JSON.stringify({ error: { code: 'VALIDATION_FAILED', message, details: [] } }));
    }
    return code;
  };
}

function commandBody(spec: ClientCommandSpec, body: (ctx: ClientContext) => Promise<number>) {
  return async function run(argv: string[], io: CliIO): Promise<number> {
    const parsed = loadClientArgs(argv, io.env, spec.flags ?? {}, { cwd: io.cwd });
    if ('problems' in parsed) {
      for (const p of parsed.problems) io.err(formatProblem(p));
      io.err(`see: rectify ${spec.name} --help`);
      return EXIT.USAGE;
    }
    const want = spec.positional ?? [];
    const most = want.length + (spec.optional?.length ?? 0);
    if (parsed.args.length < want.length || parsed.args.length > most) {
      const missing = want.slice(parsed.args.length);
      io.err(
        missing.length
          ? `rectify ${spec.name}: missing ${missing.map((m) => `<${m}>`).join(' ')} (see: rectify ${spec.name} --help)`
          : `rectify ${spec.name}: unexpected argument ${shownArg(parsed.args[most]!)} (see: rectify ${spec.name} --help)`,
      );
      return EXIT.USAGE;
    }
    // A token in argv is readable by every user of the host (ps, /proc/<pid>/cmdline) and
    // kept in shell history: it works, and says so, once, on stderr (stdout stays --json's).
    if (argv.some((a) => a === '--token' || a.startsWith('--token='))) io.err(TOKEN_IN_ARGV);
    const api = createApiClient(parsed.client);
    try {
      return await body({ io, api, client: parsed.client, flags: parsed.flags, args: parsed.args });
    } catch (err) {
      return reportFailure(io, parsed.client.json, err);
    }
  };
}

/** Who is acting: --by, else the operating-system user; the audit log records it. */
export function actor(flags: Readonly<Record<string, readonly string[] | boolean>>, io: CliIO): string {
  const by = flags['by'];
  if (Array.isArray(by) && by.length) return by[by.length - 1]!;
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // No passwd entry (a container running as an arbitrary uid): fall back below.
  }
  return io.env['USER'] || io.env['LOGNAME'] || 'cli';
}

/**
 * Path segments from the command line are encoded: an id is never a path. "." and
 * ".." (and their percent-encoded forms, which URLs read the same) name no id and are
 * refused (exit 2): the URL would collapse them, and `pause --runbook ..` became
 * POST /api/v1/pause, the global switch. So is an id longer than the service takes
 * (MAX_ID_LENGTH).
 */
export function seg(s: string): string {
  const e = encodeURIComponent(s);
  if (/^(?:\.|%2e){0,2}$/i.test(e)) {
    const message = `${JSON.stringify(s)} is not an id`;
    throw new ApiFailure(EXIT.USAGE, message, { error: { code: 'VALIDATION_FAILED', message, details: [] } }, null);
  }
  // The service takes no longer id (a 400 naming params.id): none of its ids is that long,
  // so it is a wrong argument, said before anything is sent.
  if (s.length > MAX_ID_LENGTH) {
    const message = `an id of ${s.length} characters is not an id: rectify's ids have at most ${MAX_ID_LENGTH} (got ${JSON.stringify(s.slice(0, 40))}…)`;
    throw new ApiFailure(EXIT.USAGE, message, { error: { code: 'VALIDATION_FAILED', message, details: [] } }, null);
  }
  return e;
}

import { hostname } from 'node:os';
import { pino, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger, type LoggerOptions as PinoOptions } from 'pino';
import { SecretDescription } from '../lib/index.js';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export const REDACTED = '[REDACTED]';

/**
 * Keys whose values are secrets wherever they sit in a logged object, at any depth
 * and in any letter case: credentials (`token`, `password`, `secret`, API keys) and
 * the headers that carry them (a Fastify request's, an http action's, an error's).
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'password',
  'secret',
  'token',
  'apikey',
  'api_key',
]);

/** The secret keys as a child's bindings may spell them: lower, UPPER, Capitalised, Header-Case (and apiKey). */
const TOP_LEVEL_PATHS = [
  ...new Set(
    [...SECRET_KEYS, 'apiKey'].flatMap((k) => [
      k,
      k.toUpperCase(),
      k[0]!.toUpperCase() + k.slice(1),
      k.replace(/(^|[-_])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase()),
    ]),
  ),
].map((k) => (/^[a-z_]\w*$/i.test(k) ? k : `["${k}"]`));

/** Objects nested deeper than this are written as REDACTED rather than walked further (and cycles end here). */
const MAX_DEPTH = 12;

/**
 * The value as it may be written: every property named in SECRET_KEYS replaced by
 * REDACTED, and every Buffer, typed array or ArrayBuffer written as its length only
 * (`[N bytes]`: bytes cannot be censored by key). The caller's objects are never changed: what holds a secret is copied
 * along the path to it, and a value with nothing to redact is returned as it is,
 * so an ordinary log line costs a walk over its few keys.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, 0, null) as T;
}

/** pino's err serializer, then censored: its result (and the errors inside it) are objects of pino's own class, copied to plain ones to be walked. */
function serializeError(e: unknown): unknown {
  const out = pino.stdSerializers.err(e as Error) as unknown;
  return out !== null && typeof out === 'object' ? redactSecrets(plainError(out as Record<string, unknown>, 0)) : out;
}

function plainError(o: Record<string, unknown>, depth: number): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...o };
  if (depth >= MAX_DEPTH) return copy;
  // An AggregateError's errors (a fetch that tried several addresses) and a cause chain.
  if (Array.isArray(copy.aggregateErrors)) copy.aggregateErrors = copy.aggregateErrors.map((x) => (x !== null && typeof x === 'object' ? plainError(x as Record<string, unknown>, depth + 1) : x));
  if (copy.cause !== null && typeof copy.cause === 'object') copy.cause = plainError(copy.cause as Record<string, unknown>, depth + 1);
  return copy;
}

/** A log line's object: as redactSecrets, except `err`, which pino serialises first (see `serializers.err`). */
function redactLine(obj: Record<string, unknown>): Record<string, unknown> {
  return redact(obj, 0, 'err') as Record<string, unknown>;
}

/**
 * Whether a key names a secret: one of SECRET_KEYS, or any key that, lower-cased and
 * without "-" and "_", ends in token, secret, password, passwd, apikey or signature,
 * or is bearer, cookie or webhookurl (access_token, client_secret, x-auth-token,
 * signingSecret, X-Slack-Signature, webhookUrl…). `token_name` and `tokens` are not.
 */
export function isSecretKey(key: string): boolean {
  const lower = key.toLowerCase();
  if (SECRET_KEYS.has(lower)) return true;
  const k = lower.replace(/[-_]/g, '');
  return SECRET_SUFFIX.test(k) || k === 'bearer' || k === 'webhookurl' || k.endsWith('cookie');
}
const SECRET_SUFFIX = /(token|secret|password|passwd|apikey|signature)$/;

/**
 * A value under a secret key that holds no secret: null (none configured: "[REDACTED]"
 * would say there is one) and what config says about a secret instead of it.
 */
function saysNothingSecret(v: unknown): boolean {
  return v === null || v instanceof SecretDescription;
}

function redact(value: unknown, depth: number, skip: string | null): unknown {
  if (value === null || typeof value !== 'object') return value;
  // A URL with credentials in it (https://user:pass@host) is written without them.
  if (value instanceof URL) return value.username || value.password ? `${value.protocol}//${value.host}${value.pathname}${value.search ? '?…' : ''}` : value;
  // Bytes are never written, only their count: what they hold cannot be censored by key
  // (a parse error's rawPacket is the request as sent, its Authorization header and all).
  if (isBinary(value)) return `[${value.byteLength} bytes]`;
  // Plain objects, arrays and errors are walked (what pino writes of them is their
  // own enumerable properties). Other class instances are left whole: their
  // serializer (Fastify's req and res) or toJSON shapes them, and a copy would lose
  // the getters those read.
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null && !Array.isArray(value) && !(value instanceof Error)) return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = redact(value[i], depth + 1, null);
      if (v !== value[i]) (copy ??= value.slice())[i] = v;
    }
    return copy ?? value;
  }
  const obj = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key) || key === skip) continue;
    const cur = obj[key];
    const v = cur !== undefined && isSecretKey(key) && !saysNothingSecret(cur) ? REDACTED : redact(cur, depth + 1, null);
    if (v !== cur) (copy ??= { ...obj })[key] = v;
  }
  return copy ?? obj;
}

/** A Buffer, typed array, DataView or ArrayBuffer: bytes, written as a count only (see redact). */
function isBinary(value: object): value is ArrayBufferView | ArrayBuffer | SharedArrayBuffer {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer);
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout when absent. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

/**
 * The one pino root. Usage convention: `log.info({ incidentId }, 'decision recorded')`
 * — object first, constant message — so lines can be counted and searched by
 * message; untrusted payloads go under a namespaced key (`{ payload: … }`).
 */
export function createLogger(opts: LoggerOptions): Logger {
  const options: PinoOptions = {
    level: opts.level,
    formatters: {
      // Level names rather than numbers: log pipelines and humans both filter on "error".
      level: (label) => ({ level: label }),
      // Secrets are censored by key in every line (see redactSecrets). pino's
      // wildcard paths (`*.*.headers["…"]`) cost about 60 µs a line; this costs a
      // walk over the line's own keys.
      log: redactLine,
    },
    // A child's bindings do not pass through the formatters: pino's own redaction
    // censors them, by exact top-level key only, which is cheap (no wildcard).
    redact: { paths: TOP_LEVEL_PATHS, censor: REDACTED },
    // An error is made a plain object (message, stack, its own properties) before
    // it is censored, so a secret an error carries (a request's headers) is seen too.
    serializers: { err: serializeError },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Without a destination the log goes to stdout synchronously, so the last lines before
  // a crash or process.exit() are not lost in a buffer.
  return pino(options, opts.destination ?? stdoutElseStderr());
}

/**
 * stdout, until it cannot be written (its reader gone: `rectify serve | shipper` after the
 * shipper died, EPIPE); then stderr, from the line that failed on, after a line saying so.
 * pino's own stdout stream drops every line from then on without a word, errors included,
 * while the service runs on.
 */
function stdoutElseStderr(): DestinationStream {
  const stdout = pino.destination({ fd: 1, sync: true });
  let stderr: ReturnType<typeof pino.destination> | null = null;
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (stderr) return;
    stderr = pino.destination({ fd: 2, sync: true });
    // With stderr gone too there is nowhere left to say anything.
    stderr.on('error', () => undefined);
    stderr.write(
      `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), pid: process.pid, hostname: hostname(), code: err.code, msg: 'stdout cannot be written: the log goes to stderr from here on' })}\n`,
    );
  });
  return {
    write(line: string) {
      if (stderr) return void stderr.write(line);
      stdout.write(line);
      // The write that failed: its line goes where the next ones go.
      if (stderr) (stderr as ReturnType<typeof pino.destination>).write(line);
    },
  };
}

export interface TestLogger {
  logger: Logger;
  /** Raw JSON lines as written, for asserting that a secret never appears. */
  readonly lines: string[];
  /** Parsed records, for asserting messages and fields. */
  records(): Record<string, unknown>[];
}

/**
 * A logger for tests: captures at `trace` by default (nothing reaches stdout),
 * or discards everything with `{ capture: false }`. Same redaction as the real
 * one, since it goes through createLogger.
 */
export function createTestLogger(opts: { capture?: boolean; level?: LogLevel } = {}): TestLogger {
  const lines: string[] = [];
  const capture = opts.capture ?? true;
  const logger = createLogger({
    level: capture ? (opts.level ?? 'trace') : 'silent',
    destination: { write: (s: string) => void lines.push(s.trimEnd()) },
  });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

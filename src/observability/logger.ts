import { pino, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger, type LoggerOptions as PinoOptions } from 'pino';

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
 * REDACTED. The caller's objects are never changed: what holds a secret is copied
 * along the path to it, and a value with nothing to redact is returned as it is,
 * so an ordinary log line costs a walk over its few keys.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, 0, null) as T;
}

/** pino's err serializer, then censored: its result is an object of its own class, copied to a plain one to be walked. */
function serializeError(e: unknown): unknown {
  const out = pino.stdSerializers.err(e as Error) as unknown;
  return out !== null && typeof out === 'object' ? redactSecrets({ ...out }) : out;
}

/** A log line's object: as redactSecrets, except `err`, which pino serialises first (see `serializers.err`). */
function redactLine(obj: Record<string, unknown>): Record<string, unknown> {
  return redact(obj, 0, 'err') as Record<string, unknown>;
}

function redact(value: unknown, depth: number, skip: string | null): unknown {
  if (value === null || typeof value !== 'object') return value;
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
    const v = cur !== undefined && SECRET_KEYS.has(key.toLowerCase()) ? REDACTED : redact(cur, depth + 1, null);
    if (v !== cur) (copy ??= { ...obj })[key] = v;
  }
  return copy ?? obj;
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
  // Without a destination pino writes to stdout synchronously, so the last lines
  // before a crash or process.exit() are not lost in a buffer.
  return opts.destination ? pino(options, opts.destination) : pino(options);
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

import { pino, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger, type LoggerOptions as PinoOptions } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export const REDACTED = '[REDACTED]';

const SECRET_KEYS = ['authorization', 'Authorization', 'password', 'secret', 'token', 'apiKey', 'api_key', 'cookie'];
const SECRET_HEADERS = ['authorization', 'Authorization', 'cookie', 'Cookie', 'set-cookie', 'x-api-key', 'X-Api-Key', 'proxy-authorization'];

/**
 * Every path that may hold a secret, redacted in one place so no call site has
 * to remember. Wildcards match exactly one level, so the common nestings are
 * spelled out: top level (`{ token }`), one object down (`{ approval: { token } }`),
 * two down (`{ step: { action: { token } } }`), and headers wherever they sit
 * (a Fastify `req`, an http action's spec, an error from undici).
 */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  ...SECRET_HEADERS.flatMap((h) => [
    `headers["${h}"]`,
    `*.headers["${h}"]`,
    `*.*.headers["${h}"]`,
    `*.*.*.headers["${h}"]`,
  ]),
]);

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
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    // Level names rather than numbers: log pipelines and humans both filter on "error".
    formatters: { level: (label) => ({ level: label }) },
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

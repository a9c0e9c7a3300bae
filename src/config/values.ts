import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { MAX_DURATION, durationHint, parseDuration } from '../lib/durations.js';
import { didYouMean } from '../lib/suggest.js';
import { ENV_NAME_RE, PERSON_NAME_RE, reservedNameProblem, SLACK_USER_ID_RE } from '../domain/names.js';

/**
 * Value parsers for settings. Each one is a zod schema plus a sentence saying
 * what was expected: zod does the checking, but its messages ("Invalid input:
 * expected number, received string") would leak library wording to operators,
 * so every failure is rewritten as `expected <what>, got <value as given>`.
 *
 * Raw values arrive as strings from flags and env, and as any YAML scalar
 * from rectify.yaml, so every schema accepts both forms.
 */

export interface ValueContext {
  /** Relative paths are resolved against this directory. */
  cwd: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

export interface ValueParser<T> {
  /** Shown in --help as the placeholder, e.g. `<host:port>`. */
  readonly placeholder: string;
  parse(raw: unknown, ctx: ValueContext): ParseResult<T>;
}

/** How a raw value is echoed back: strings quoted, so `got ""` and `got "5 "` are visible. */
export function show(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (raw === undefined) return 'nothing';
  if (Array.isArray(raw)) return 'a list';
  if (raw !== null && typeof raw === 'object') return 'a mapping';
  return String(raw);
}

function fromSchema<T>(
  placeholder: string,
  expected: string,
  schema: (ctx: ValueContext) => z.ZodType<T>,
  hint?: (raw: unknown) => string,
  shown: (raw: unknown) => string = show,
): ValueParser<T> {
  return {
    placeholder,
    parse(raw, ctx) {
      const r = schema(ctx).safeParse(raw);
      if (r.success) return { ok: true, value: r.data };
      return { ok: false, message: `expected ${expected}, got ${shown(raw)}${hint ? hint(raw) : ''}` };
    },
  };
}

const DIGITS = /^\d+$/;
// A YAML `max_pending: 20000` arrives as a number, `--max-pending 20000` as a string.
const intLike = z.union([z.number(), z.string().regex(DIGITS).transform(Number)]);

export const positiveInt: ValueParser<number> = fromSchema('<n>', 'a positive integer', () =>
  intLike.pipe(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)),
);

/**
 * A positive integer of at most `max`: a count past what any deployment needs (a million
 * executions at once, 2^53 decisions waiting) is a slip of the keyboard, and would only
 * show itself as the memory or file handles running out under load.
 */
export function positiveIntUpTo(max: number): ValueParser<number> {
  return {
    placeholder: positiveInt.placeholder,
    parse(raw, ctx) {
      const r = positiveInt.parse(raw, ctx);
      if (!r.ok || r.value <= max) return r;
      return { ok: false, message: `expected a positive integer of at most ${max}, got ${show(raw)}` };
    },
  };
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];
export const boolean: ValueParser<boolean> = fromSchema('[=true|false]', 'true or false', () =>
  z.union([
    z.boolean(),
    z
      .string()
      .transform((s) => s.trim().toLowerCase())
      .refine((s) => TRUE_WORDS.includes(s) || FALSE_WORDS.includes(s))
      .transform((s) => TRUE_WORDS.includes(s)),
  ]),
);

/**
 * Durations are strings with a unit ("30s", "5m", "1h30m"). A bare YAML number
 * is refused: whether `approval_ttl: 3600` means seconds or milliseconds is
 * exactly the ambiguity that makes an approval expire a thousand times too soon.
 */
export function duration(opts: { allowZero: boolean; min?: { ms: number; said: string }; max?: { ms: number; said: string } }): ValueParser<number> {
  const what = opts.allowZero ? 'a duration' : 'a positive duration';
  const max = opts.max ?? MAX_DURATION;
  const min = opts.min;
  const parser = fromSchema(
    '<duration>',
    `${what} such as 30s, 5m or 1h`,
    () =>
      z
        .string()
        .transform((s) => parseDuration(s))
        .pipe(opts.allowZero ? z.number().nonnegative() : z.number().positive()),
    durationHint,
  );
  return {
    placeholder: parser.placeholder,
    parse(raw, ctx) {
      const r = parser.parse(raw, ctx);
      if (!r.ok) return r;
      if (min !== undefined && r.value < min.ms) {
        const range = opts.max !== undefined ? `between ${min.said} and ${max.said}` : `of at least ${min.said}`;
        return { ok: false, message: `expected ${what} ${range}, got ${show(raw)}` };
      }
      if (r.value <= max.ms) return r;
      return { ok: false, message: `expected ${what} ${min !== undefined && opts.max !== undefined ? `between ${min.said} and ${max.said}` : `of at most ${max.said}`}, got ${show(raw)}` };
    },
  };
}


/**
 * SQLite's busy timeout is a 32-bit count of milliseconds (about 24.8 days): a longer
 * `--db-busy-timeout` wrapped to 0, and a write met by a lock failed at once.
 */
export const MAX_BUSY_TIMEOUT_MS = 2_147_483_647;

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i;

/** A size in bytes: a plain integer, or a number with a unit (5MiB, 512KiB, 1MB). */
export const byteSize: ValueParser<number> = fromSchema('<size>', 'a size such as 1048576, 512KiB or 5MiB', () =>
  z
    .union([
      z.number(),
      z.string().transform((s) => {
        const m = SIZE_RE.exec(s.trim());
        if (!m) return NaN;
        const unit = SIZE_UNITS[(m[2] ?? 'b').toLowerCase()];
        return unit === undefined ? NaN : Math.round(Number(m[1]) * unit);
      }),
    ])
    .pipe(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)),
);

/** A size between `min` and `max` bytes, each with the words it is said in (`1KiB`). */
export function byteSizeWithin(min: { bytes: number; said: string }, max: { bytes: number; said: string }): ValueParser<number> {
  return {
    placeholder: byteSize.placeholder,
    parse(raw, ctx) {
      const r = byteSize.parse(raw, ctx);
      if (!r.ok || (r.value >= min.bytes && r.value <= max.bytes)) return r;
      return { ok: false, message: `expected a size between ${min.said} and ${max.said}, got ${show(raw)}` };
    },
  };
}

export function oneOf<const T extends string>(placeholder: string, values: readonly T[]): ValueParser<T> {
  const list = values.join(', ');
  return fromSchema(
    placeholder,
    `one of ${list}`,
    () => z.enum(values as unknown as [T, ...T[]]),
    (raw) => (typeof raw === 'string' ? didYouMean(raw, values) : ''),
  );
}

/** A file or directory path, resolved against cwd so later chdir() cannot move it. */
export const path: ValueParser<string> = fromSchema('<path>', 'a path', (ctx) =>
  z
    .string()
    .refine((s) => s.trim() !== '')
    .transform((s) => resolve(ctx.cwd, s)),
);

/**
 * A secret given as its value or as `${file:/absolute/path}` (read when the
 * service starts). Messages never echo what was given: a rejected secret in an
 * error line is a leaked secret.
 */
export const secretValue: ValueParser<string> = {
  placeholder: '<secret>|${file:/path}',
  parse(raw) {
    if (typeof raw !== 'string' || raw.trim() === '') return { ok: false, message: 'expected a secret or ${file:/absolute/path}, got an empty or non-text value' };
    const ref = /^\$\{file:(.*)\}$/.exec(raw.trim());
    if (ref && !ref[1]!.startsWith('/')) return { ok: false, message: `expected \${file:/absolute/path}, got a relative path ${JSON.stringify(ref[1])}` };
    if (!ref && raw.trim().startsWith('${')) return { ok: false, message: 'expected a secret or ${file:/absolute/path}; other ${...} references are not read here' };
    return { ok: true, value: raw.trim() };
  },
};

/** Secrets, comma-separated, each as itself or `${file:/absolute/path}` (the audit keys a log was rotated from). */
export const secretList: ValueParser<readonly string[]> = {
  placeholder: '<secret>|${file:/path},...',
  parse(raw, ctx) {
    const items = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : null;
    if (items === null || items.length === 0) return { ok: false, message: 'expected one or more secrets or ${file:/absolute/path}, comma-separated' };
    const out: string[] = [];
    for (const item of items) {
      const r = secretValue.parse(item, ctx);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: [...new Set(out)] };
  },
};

/**
 * Label values, such as the scrape jobs of exporters: comma- or space-separated from
 * a flag or the environment, a list or the same string in rectify.yaml. An empty
 * string or list is none. Each is what a Prometheus label value can usefully be here:
 * 1–253 characters, no whitespace or control characters.
 */
const LABEL_VALUE = /^[^\s\p{Cc}]{1,253}$/u;
export const labelValues: ValueParser<readonly string[]> = {
  placeholder: '<value,...>',
  parse(raw) {
    const items = typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : Array.isArray(raw) ? raw : null;
    if (items === null) return { ok: false, message: `expected label values, comma-separated, got ${show(raw)}` };
    for (const item of items) {
      if (typeof item !== 'string' || !LABEL_VALUE.test(item)) {
        return { ok: false, message: `expected label values (each 1-253 characters, no spaces or control characters), comma-separated, got ${show(item)}` };
      }
    }
    return { ok: true, value: [...new Set(items as string[])] };
  },
};

/**
 * Slack user ids (SLACK_USER_ID_RE): comma- or space-separated from a flag or the
 * environment, a list or the same string in rectify.yaml. A username is refused: names
 * can be changed, ids cannot.
 */
export const slackUserIds: ValueParser<readonly string[]> = {
  placeholder: '<U012AB3CD[=name],...>',
  parse(raw) {
    const items = typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : Array.isArray(raw) ? raw : null;
    const expected = 'Slack user ids such as U012AB3CD, each optionally =the person\'s rectify name (U012AB3CD=alice), comma-separated';
    if (items === null || items.length === 0) return { ok: false, message: `expected ${expected}, got ${show(raw)}` };
    const names = new Map<string, string | undefined>();
    for (const item of items) {
      const a = typeof item === 'string' ? parseSlackApprover(item) : undefined;
      if (a === undefined) {
        const hint = typeof item === 'string' && /^[a-z]/.test(item) ? ' (a user id, not a name: names can be changed)' : '';
        return { ok: false, message: `expected ${expected}, got ${show(item)}${hint}` };
      }
      // The name a Slack click acts under is the audit row's actor: never rectify's own.
      const reserved = a.name === undefined ? undefined : reservedNameProblem(a.name);
      if (reserved !== undefined) return { ok: false, message: `${a.id}=${a.name}: ${reserved}` };
      // One person, one name: the same id twice with different names would make the last one win.
      if (names.has(a.id) && names.get(a.id) !== a.name) {
        const shown = (n: string | undefined) => (n === undefined ? 'none' : JSON.stringify(n));
        return { ok: false, message: `${a.id} is given twice with different rectify names (${shown(names.get(a.id))} and ${shown(a.name)}): give it once` };
      }
      names.set(a.id, a.name);
    }
    return { ok: true, value: [...new Set(items as string[])] };
  },
};

/**
 * One `--slack-approvers` entry: a Slack user id, and optionally the name the same
 * person acts under in rectify (their API token's name, or the `by` they give), so
 * that a Slack click and an API call by one person count as one person.
 */
export function parseSlackApprover(entry: string): { id: string; name?: string } | undefined {
  const m = /^([^=]+)(?:=(.+))?$/.exec(entry);
  if (!m || !SLACK_USER_ID_RE.test(m[1]!)) return undefined;
  if (m[2] === undefined) return { id: m[1]! };
  return PERSON_NAME_RE.test(m[2]) ? { id: m[1]!, name: m[2] } : undefined;
}

/**
 * A URL as a message may show it: its scheme and host. The rest (user:password@, the
 * path, the query) is where webhook tokens and credentials live, so it is left out and
 * the message says so; a value that is not scheme://host is not shown at all.
 */
export function showUrl(raw: unknown): string {
  if (typeof raw !== 'string') return show(raw);
  const u = URL.canParse(raw.trim()) ? new URL(raw.trim()) : undefined;
  if (!u || u.host === '') return 'a value that is not scheme://host (not shown: it may hold a secret)';
  const rest = u.username !== '' || u.password !== '' || (u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '';
  return rest ? `${JSON.stringify(`${u.protocol}//${u.host}`)} (the rest is left out: it may hold a secret)` : JSON.stringify(raw);
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

function isHttpUrl(s: string): boolean {
  if (!URL.canParse(s)) return false;
  const u = new URL(s);
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
}

/** Spaces, tabs and line breaks around a value (a copied `RECTIFY_SERVER="http://host:9095 "`); other characters are part of it. */
const trimAscii = (s: string): string => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');

/**
 * An http(s) URL. A base URL (`base`: one callers append `/api/v1/...` to) has its trailing
 * slashes dropped; any other (a webhook's) is kept exactly as written: a receiver's route
 * or a token in the query may end in `/`. A refusal shows only its scheme and host.
 */
function httpUrlParser(base: boolean): ValueParser<string> {
  return {
    placeholder: '<url>',
    parse(raw) {
      // Spaces around it are no part of it: URL parsing ignores them, but kept in the
      // string every request URL was made invalid. Only ASCII ones: another character
      // (U+3000, say) is in the URL as written, and sent as written.
      const s = typeof raw === 'string' ? trimAscii(raw) : undefined;
      if (s !== undefined && isHttpUrl(s)) return { ok: true, value: base && !/[?#]/.test(s) ? s.replace(/\/+$/, '') : s };
      // host:port without its scheme (`--server localhost:9095`), the usual slip: it holds no
      // secret, so it is shown, with the address as it is written.
      if (s !== undefined && HOST_PORT.test(s)) {
        return { ok: false, message: `expected an http:// or https:// URL, got ${JSON.stringify(s)} (with its scheme: http://${s})` };
      }
      return { ok: false, message: `expected an http:// or https:// URL, got ${showUrl(raw)}` };
    },
  };
}

/** A base http(s) URL; trailing slashes dropped so callers can append `/api/v1/...`. */
export const httpUrl: ValueParser<string> = httpUrlParser(true);

const NOT_SENT = 'credentials in the URL are not sent: ';

/**
 * Where notifications are posted (--notify-webhook, and a Slack incoming webhook, whose
 * path is its token: refused like any URL, scheme and host only). Credentials in the URL are refused: they would not be
 * sent (the request carries none), so the receiver would answer 401 to every notification.
 */
export const webhookUrl: ValueParser<string> = urlWithoutCredentials(false, NOT_SENT + 'give the receiver a URL with its token in the path or query');

/**
 * A base URL (`url`) that each use adds a path to: a query or a fragment (even a bare `?`
 * or `#`) has no place there, so it is refused, shown by scheme and host only; `why` says
 * what it would have done.
 */
function withoutQuery(what: string, why: string, url: ValueParser<string>): ValueParser<string> {
  return {
    placeholder: '<url>',
    parse(raw, ctx) {
      const r = url.parse(raw, ctx);
      if (!r.ok || !/[?#]/.test(r.value)) return r;
      return { ok: false, message: `expected ${what} without a query (?…) or fragment (#…) (${why}); got ${showUrl(raw)}` };
    },
  };
}

/**
 * The Prometheus API rectify queries: credentials in its URL would not be sent either (every
 * query would be refused), nor would a query or fragment (an auth proxy's `?token=`): each
 * request is the URL's path with the API's after it.
 */
export const prometheusUrl: ValueParser<string> = withoutQuery(
  'the Prometheus address',
  "each query's API path is added to its path, and a query or fragment in it is never sent: put rectify beside Prometheus, or behind a proxy that adds what it needs",
  urlWithoutCredentials(true, NOT_SENT + 'put rectify beside Prometheus, or behind a proxy that adds them'),
);

/**
 * The service the CLI talks to (--server, RECTIFY_SERVER): the token goes in its own
 * setting, never in the URL. Each request's path is added after it, so a query or a
 * fragment (even a bare `?` or `#`) would hold every path: each request went to its path
 * (`/`), answered there by whatever serves it. Refused, shown by scheme and host only.
 */
export const serverUrl: ValueParser<string> = ((url: ValueParser<string>): ValueParser<string> => ({
  placeholder: '<url>',
  parse(raw, ctx) {
    const r = url.parse(raw, ctx);
    if (!r.ok || !/[?#]/.test(r.value)) return r;
    const path = new URL(r.value).pathname || '/';
    return { ok: false, message: `expected the service's address without a query (?…) or fragment (#…) (each request's path is added to it, so every request would go to its path, ${path}); got ${showUrl(raw)}` };
  },
}))(urlWithoutCredentials(true, NOT_SENT + 'give the token with --token or RECTIFY_TOKEN'));

/**
 * rectify's own address as people reach it (--public-url), which every notification link
 * starts with: credentials in it would be posted to every channel and webhook receiver.
 */
export const publicUrl: ValueParser<string> = withoutQuery(
  "rectify's address",
  "every notification link is this URL with the link's path added, so a query or fragment in it would break each one",
  urlWithoutCredentials(true, 'every notification link starts with this URL, so its credentials would be posted with each one: give the address without them'),
);

/** An http(s) URL (a base URL when `base`) with no user:password@; `why` says why, and what to do instead. */
function urlWithoutCredentials(base: boolean, why: string): ValueParser<string> {
  const url = httpUrlParser(base);
  return {
    placeholder: '<url>',
    parse(raw, ctx) {
      const r = url.parse(raw, ctx);
      if (!r.ok) return r;
      const u = new URL(r.value);
      if (u.username !== '' || u.password !== '') {
        return { ok: false, message: `expected a URL without user:password@ (${why}), got ${showUrl(raw)}` };
      }
      return r;
    },
  };
}

export interface ListenAddress {
  host: string;
  port: number;
}

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function splitListen(s: string): ListenAddress | undefined {
  // IPv6 needs brackets: in "::1:9095" nobody can tell where the address ends.
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  if (m[1] !== undefined) return isIPv6(m[1]) ? { host: m[1], port } : undefined;
  const host = m[2] ?? '';
  // ":9095" means every interface, as in Prometheus' --web.listen-address.
  if (host === '') return { host: '0.0.0.0', port };
  return HOSTNAME_RE.test(host) ? { host, port } : undefined;
}

export const listenAddress: ValueParser<ListenAddress> = fromSchema(
  '<host:port>',
  'host:port such as 127.0.0.1:9095 or [::1]:9095',
  () =>
    z
      .string()
      .transform((s) => splitListen(s))
      .pipe(z.object({ host: z.string(), port: z.number() })),
);

export type DbTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

function toDb(s: string, cwd: string): DbTarget | undefined {
  if (s.startsWith('sqlite:')) {
    const p = s.slice('sqlite:'.length);
    if (p === '') return undefined;
    // better-sqlite3's in-memory database; resolving it would create a file named ":memory:".
    if (p === ':memory:') return { kind: 'sqlite', path: ':memory:' };
    return { kind: 'sqlite', path: resolve(cwd, p) };
  }
  if (/^postgres(ql)?:\/\//.test(s) && URL.canParse(s) && new URL(s).hostname !== '') {
    return { kind: 'postgres', url: s };
  }
  return undefined;
}

export const database: ValueParser<DbTarget> = fromSchema(
  '<url>',
  'sqlite:<path>, sqlite::memory: or postgres://user@host/db',
  (ctx) =>
    z
      .string()
      .transform((s) => toDb(s.trim(), ctx.cwd))
      .pipe(
        z.union([
          z.object({ kind: z.literal('sqlite'), path: z.string() }),
          z.object({ kind: z.literal('postgres'), url: z.string() }),
        ]),
      ),
  // A bare path (`--db ./data/rectify.db`) is the usual slip: say how to write it.
  (raw) => (typeof raw === 'string' && /^[^:\s\p{C}]+$/u.test(raw.trim()) ? ` (a file is written sqlite:${raw.trim()})` : ''),
  // A postgres:// URL may carry a password: shown as scheme and host, like every URL.
  (raw) => (typeof raw === 'string' && raw.includes('://') ? showUrl(raw) : show(raw)),
);

/**
 * Names of environment variables (command_env): comma- or space-separated from a flag or the
 * environment, a list or the same string in rectify.yaml, as label values are. Names only,
 * never values: a flag showing them in `ps` shows nothing secret. An empty string or list is none.
 */
export const envVarNames: ValueParser<readonly string[]> = {
  placeholder: '<NAME,...>',
  parse(raw) {
    const items = typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : Array.isArray(raw) ? raw : null;
    if (items === null) return { ok: false, message: `expected environment variable names, comma-separated, got ${show(raw)}` };
    for (const item of items) {
      if (typeof item !== 'string' || !ENV_NAME_RE.test(item)) {
        return { ok: false, message: `expected environment variable names (letters, digits and _, not starting with a digit), comma-separated, got ${show(item)}` };
      }
    }
    return { ok: true, value: [...new Set(items as string[])] };
  },
};

/**
 * Replaces a userinfo password in a URL so it can be logged. Works on the text
 * rather than through URL.toString(), which would also "normalise" the rest
 * (adding a trailing slash) and make the summary differ from what was given.
 */
export function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]+@/i, '$1REDACTED@');
}

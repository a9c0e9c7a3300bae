import { errnoMessage, MAX_SECRET_FILE_BYTES, readTextFileAsync, unreadableFile } from '../lib/index.js';
import { secretReferenceProblem } from '../domain/index.js';

/**
 * Secret references in HTTP header values and body strings: `${env:NAME}` and
 * `${file:/abs/path}`. They are resolved only at the moment of the request, in the
 * executor, so a secret value never passes through the runbook loader, the render
 * step, the store, the audit log or the API. Everything that reports on a step
 * (details, errors) names the *reference*, never the value.
 *
 * Other `${...}` text is left alone: it is not ours to interpret. A reference that
 * starts like ours but is malformed (`${env:}`, `${file:relative}`) is an error,
 * not literal text: sending `${env:API-TOKEN}` to a target as the token would be a
 * silent failure at best and a leak of intent at worst.
 */

export interface SecretSources {
  /** The variables secrets may come from; the composition root decides which. */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Reads a secret file; by default lib/text-file's readTextFileAsync: a regular file of
   * at most 64 KiB of UTF-8 (a FIFO, a device such as /dev/zero, a folder or a larger file
   * is refused, never waited on nor read to the step's deadline).
   */
  readFile?: (path: string, signal: AbortSignal) => Promise<string>;
}

export type SecretResult<T> =
  | { ok: true; value: T; /** The resolved secret values, so callers can scrub them from any text they report. */ secrets: string[] }
  | { ok: false; error: string };

const REF_RE = /\$\{(env|file):([^}]*)\}/g;

/** Resolves every reference in one string. */
export async function resolveSecrets(
  value: string,
  sources: SecretSources,
  signal: AbortSignal,
): Promise<SecretResult<string>> {
  const secrets: string[] = [];
  let out = '';
  let last = 0;
  for (const m of value.matchAll(REF_RE)) {
    const [whole, kind, ref] = m as unknown as [string, 'env' | 'file', string];
    const resolved = await resolveOne(kind, ref, sources, signal);
    if (!resolved.ok) return resolved;
    secrets.push(resolved.value);
    out += value.slice(last, m.index) + resolved.value;
    last = m.index + whole.length;
  }
  out += value.slice(last);
  return { ok: true, value: out, secrets };
}

/** Resolves references in every string of a JSON value (object keys are left as written). */
export async function resolveSecretsDeep(
  value: unknown,
  sources: SecretSources,
  signal: AbortSignal,
): Promise<SecretResult<unknown>> {
  const secrets: string[] = [];
  const walk = async (v: unknown): Promise<SecretResult<unknown>> => {
    if (typeof v === 'string') {
      const r = await resolveSecrets(v, sources, signal);
      if (r.ok) secrets.push(...r.secrets);
      return r;
    }
    if (Array.isArray(v)) {
      const items: unknown[] = [];
      for (const item of v) {
        const r = await walk(item);
        if (!r.ok) return r;
        items.push(r.value);
      }
      return { ok: true, value: items, secrets: [] };
    }
    if (v !== null && typeof v === 'object') {
      const obj: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        const r = await walk(item);
        if (!r.ok) return r;
        obj[k] = r.value;
      }
      return { ok: true, value: obj, secrets: [] };
    }
    return { ok: true, value: v, secrets: [] };
  };
  const r = await walk(value);
  return r.ok ? { ok: true, value: r.value, secrets } : r;
}

/** Resolves each header value; the first missing reference fails the whole set. */
export async function resolveHeaderSecrets(
  headers: Readonly<Record<string, string>>,
  sources: SecretSources,
  signal: AbortSignal,
): Promise<SecretResult<Record<string, string>>> {
  const out: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, raw] of Object.entries(headers)) {
    const r = await resolveSecrets(raw, sources, signal);
    if (!r.ok) return { ok: false, error: `header ${name}: ${r.error}` };
    out[name] = r.value;
    secrets.push(...r.secrets);
  }
  return { ok: true, value: out, secrets };
}

/**
 * Replaces every resolved secret in `text` with `***`. Defence in depth for error
 * messages we do not write ourselves (a fetch error that quotes a header value).
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is scrubbed whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length > 0) out = out.split(s).join('***');
  }
  return out;
}

async function resolveOne(
  kind: 'env' | 'file',
  ref: string,
  sources: SecretSources,
  signal: AbortSignal,
): Promise<SecretResult<string>> {
  const problem = secretReferenceProblem(kind, ref);
  if (problem !== undefined) return { ok: false, error: `secret \${${kind}:${ref}}: ${problem}` };
  if (kind === 'env') {
    const v = sources.env[ref];
    // An empty variable is as missing as an absent one: an empty bearer token
    // would send "Bearer " and fail in a way that is harder to diagnose.
    if (v === undefined || v === '') return { ok: false, error: `secret \${env:${ref}} is not set` };
    return { ok: true, value: v, secrets: [v] };
  }
  let text: string;
  try {
    if (sources.readFile) text = await sources.readFile(ref, signal);
    else {
      const read = await readTextFileAsync(ref, MAX_SECRET_FILE_BYTES, 'a secret file', signal);
      if (!read.ok) return { ok: false, error: unreadableFile(`secret \${file:${ref}}`, read) };
      text = read.text;
    }
  } catch (err) {
    // The error code only: a message could quote file content in exotic cases, and
    // the code ("ENOENT", "EACCES") is what the operator needs.
    // A step stopped while reading (its signal's reason, an AbortError) reads as fs's own abort did.
    const code = signal.aborted ? 'ABORT_ERR' : (err as { code?: unknown } | null)?.code;
    return { ok: false, error: unreadableFile(`secret \${file:${ref}}`, { message: typeof code === 'string' ? errnoMessage(code) : 'an error without a code' }) };
  }
  // Trim as Prometheus does for credentials_file: a mounted Kubernetes secret or an
  // `echo token > file` ends with a newline that would otherwise become part of the header.
  const v = text.trim();
  if (v === '') return { ok: false, error: `secret \${file:${ref}} is empty` };
  return { ok: true, value: v, secrets: [v] };
}

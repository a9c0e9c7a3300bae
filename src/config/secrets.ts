import { LoadError } from '../domain/index.js';
import { MAX_SECRET_FILE_BYTES, readTextFile, unreadableFile } from '../lib/index.js';
import type { Config } from './types.js';

/** Settings whose value is a secret given as itself or as `${file:/absolute/path}`. */
export type SecretSetting = 'slackSigningSecret' | 'auditKey';

/**
 * The secret a setting names: `${file:/path}` is read now (and trimmed, as
 * Kubernetes secrets end with a newline), a plain value is the secret. A file
 * that cannot be read or is empty is a LoadError naming the setting and the
 * file, never the content.
 */
export function resolveSecret(config: Config, name: SecretSetting): string | undefined {
  const v = config[name];
  if (v === undefined) return undefined;
  return readSecret(v, config.sources[name]);
}

function readSecret(v: string, src: { file: string; path: string }): string {
  const ref = /^\$\{file:(\/.*)\}$/.exec(v);
  if (!ref) return v;
  // Bounded, and never blocking on a FIFO: read at startup and at each SIGHUP, on the event loop.
  const read = readTextFile(ref[1]!, MAX_SECRET_FILE_BYTES, 'a secret file');
  if (!read.ok) throw new LoadError([{ file: src.file, path: src.path, message: settingFileProblem(ref[1]!, read) }]);
  const text = read.text.trim();
  if (text === '') throw new LoadError([{ file: src.file, path: src.path, message: `${JSON.stringify(ref[1])} is empty` }]);
  return text;
}

export { MAX_SECRET_FILE_BYTES } from '../lib/index.js';

/** Why a file a setting names could not be used, naming the file (never its content); the problem's location names the setting. */
export function settingFileProblem(path: string, read: { message: string }): string {
  return unreadableFile(JSON.stringify(path), read);
}

/** Shorter than this, an HMAC key can be guessed; `openssl rand -hex 32` makes a good one. */
export const AUDIT_KEY_MIN_LENGTH = 32;

/** The audit chain's HMAC key (`--audit-key`), resolved and checked, or undefined. */
export function resolveAuditKey(config: Config): Buffer | undefined {
  const text = resolveSecret(config, 'auditKey');
  if (text === undefined) return undefined;
  if (text.length < AUDIT_KEY_MIN_LENGTH) {
    const src = config.sources.auditKey;
    throw new LoadError([{ file: src.file, path: src.path, message: `the audit key must be at least ${AUDIT_KEY_MIN_LENGTH} characters (\`openssl rand -hex 32\` makes one)` }]);
  }
  return Buffer.from(text, 'utf8');
}

/**
 * The audit keys the log was written with before `--audit-key` (`--audit-previous-keys`),
 * resolved and checked like the key; empty without them. They only make sense beside
 * `current`, the resolved key the log moves to, and never include it.
 */
export function resolveAuditPreviousKeys(config: Config, current: Buffer | undefined): Buffer[] {
  const list = config.auditPreviousKeys;
  if (list === undefined) return [];
  const src = config.sources.auditPreviousKeys;
  const problem = (message: string) => new LoadError([{ file: src.file, path: src.path, message }]);
  if (current === undefined) throw problem('previous audit keys need --audit-key: the key the log moves to');
  return list.map((v) => {
    const text = readSecret(v, src);
    if (text.length < AUDIT_KEY_MIN_LENGTH) throw problem(`each previous audit key must be at least ${AUDIT_KEY_MIN_LENGTH} characters`);
    const key = Buffer.from(text, 'utf8');
    if (key.equals(current)) throw problem('a previous audit key is the same as --audit-key');
    return key;
  });
}

import { parseDocument } from 'yaml';
import type { LoadProblem } from '../domain/errors.js';
import { PERSON_NAME_RE, reservedNameProblem } from '../domain/names.js';
import { didYouMean } from '../lib/suggest.js';
import { readTextFile, unreadableFile } from '../lib/text-file.js';

/**
 * The API tokens file: YAML holding only the SHA-256 of each token, never a token.
 *
 *   tokens:
 *     - name: alertmanager
 *       roles: [ingest]
 *       sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *
 * A copy of the file (a backup, a config repository) therefore grants nothing.
 * Every problem is reported with the file and YAML path, and no message ever
 * echoes a `sha256` value or an unknown key's value: someone who pasted the token
 * itself where the hash belongs must not find it in the startup log. An unknown key
 * name or role is quoted only when it cannot be a token (`showable`): a token pasted
 * as a key or into `roles` must not reach the log or /readyz either.
 */

export const ROLES = ['ingest', 'viewer', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenEntry {
  readonly name: string;
  readonly roles: readonly Role[];
  /** Lower-case hex of the token's SHA-256. */
  readonly sha256: string;
}

export type TokensRead = { ok: true; tokens: TokenEntry[] } | { ok: false; problems: LoadProblem[] };

const ENTRY_KEYS = ['name', 'roles', 'sha256'] as const;
const HEX_RE = /^[0-9a-fA-F]{64}$/;
const HASH_HINT = 'printf %s "$TOKEN" | sha256sum';
/** What is said in place of an unknown key name or role that may be a token. */
const NOT_SHOWN = '(not shown: it may be a token)';

/**
 * Whether an unknown key name or role may be quoted: a short word of plain identifier
 * characters not starting as rectify's tokens do (`rct_`). Anything else may be a token
 * written in the wrong place, and problems are shown in the log and at /readyz.
 */
export function showable(word: string): boolean {
  return word.length <= 20 && /^[A-Za-z][A-Za-z0-9_-]*$/.test(word) && !/^rct_/i.test(word);
}
/** Aliases the file may expand, as for rectify.yaml and runbook files. */
const MAX_ALIAS_COUNT = 1000;

/**
 * `from`: where the setting that names the file came from (`set by --tokens`, `set by tokens
 * in rectify.yaml`), said when the file cannot be read: the path alone does not say which
 * setting to correct.
 */
export function readTokensFile(absPath: string, label: string = absPath, from?: string): TokensRead {
  // Bounded and strict, as the runbook files: a FIFO named here blocked startup and every
  // SIGHUP forever, and /dev/zero read until memory ran out.
  const read = readTextFile(absPath);
  if (!read.ok) return { ok: false, problems: [{ file: label, path: '', message: unreadableFile(`the tokens file${from ? ` (${from})` : ''}`, read) }] };
  return parseTokens(read.text, label);
}

export function parseTokens(text: string, label: string): TokensRead {
  const problems: LoadProblem[] = [];
  const report = (path: string, message: string): void => void problems.push({ file: label, path, message });
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    // The YAML library's message may quote the offending text, which could be a token: position only.
    return { ok: false, problems: doc.errors.map((e) => ({ file: label, path: '', message: `invalid YAML (${e.code}) at offset ${e.pos[0]}` })) };
  }
  // toJS resolves anchors and aliases; a file that expands too many of them ("billion
  // laughs") throws, and is a problem naming the file like any other: thrown, it stopped
  // startup as "cannot start" naming no file, and made a reload reject half done.
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (err) {
    // The library's message names the limit, never the file's text.
    return { ok: false, problems: [{ file: label, path: '', message: `invalid YAML: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  // An empty file is refused rather than read as "no tokens": a file caught half-written
  // by an editor on reload must not silently lock everyone out or, worse, change nothing visibly.
  if (root === null || root === undefined) return { ok: false, problems: [{ file: label, path: '', message: 'the file is empty; write `tokens: []` to allow no one' }] };
  if (!isPlainObject(root)) return { ok: false, problems: [{ file: label, path: '', message: 'expected a mapping with a `tokens:` list at the top level' }] };
  for (const key of Object.keys(root)) {
    if (key === 'tokens') continue;
    if (showable(key)) report(key, `unknown key${didYouMean(key, ['tokens'])}`);
    else report('', `an unknown key ${NOT_SHOWN}`);
  }
  const list = root.tokens;
  if (!Array.isArray(list)) {
    report('tokens', list === undefined || list === null ? 'missing: expected a list of {name, roles, sha256}' : 'expected a list of {name, roles, sha256}');
    return { ok: false, problems };
  }
  const tokens: TokenEntry[] = [];
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  list.forEach((item: unknown, i: number) => {
    const at = `tokens[${i}]`;
    if (!isPlainObject(item)) {
      report(at, 'expected a mapping with name, roles and sha256');
      return;
    }
    const before = problems.length;
    for (const key of Object.keys(item)) {
      if ((ENTRY_KEYS as readonly string[]).includes(key)) continue;
      const hint = key === 'token' || key === 'value' || key === 'secret' ? ': this file holds only the SHA-256 of a token (sha256:), never the token' : didYouMean(key, ENTRY_KEYS);
      if (showable(key)) report(`${at}.${key}`, `unknown key${hint}`);
      else report(at, `an unknown key ${NOT_SHOWN}`);
    }
    const name = item.name;
    // A token's name becomes the actor in the audit log: never rectify itself.
    const reserved = typeof name === 'string' ? reservedNameProblem(name) : undefined;
    if (typeof name !== 'string' || !PERSON_NAME_RE.test(name)) {
      report(`${at}.name`, 'expected a name of letters, digits, ".", "_", "@" and "-" (at most 64), starting with a letter or digit');
    } else if (reserved !== undefined) {
      report(`${at}.name`, reserved);
    } else if (names.has(name)) {
      report(`${at}.name`, `"${name}" is already the name of tokens[${names.get(name)}]; names identify callers in the audit log and must be unique`);
    } else {
      names.set(name, i);
    }
    const roles = item.roles;
    if (!Array.isArray(roles) || roles.length === 0) {
      report(`${at}.roles`, `expected a non-empty list of roles (${ROLES.join(', ')})`);
    } else {
      roles.forEach((r: unknown, j: number) => {
        if (typeof r !== 'string' || !(ROLES as readonly string[]).includes(r)) {
          const which = typeof r !== 'string' ? 'unknown role' : showable(r) ? `unknown role "${r}"${didYouMean(r, ROLES)}` : `an unknown role ${NOT_SHOWN}`;
          report(`${at}.roles[${j}]`, `${which}; roles are ${ROLES.join(', ')}`);
        }
      });
    }
    const sha = item.sha256;
    if (typeof sha !== 'string' || !HEX_RE.test(sha)) {
      report(`${at}.sha256`, `expected the token's SHA-256 as 64 hex digits (${HASH_HINT}); the value is not shown`);
    } else {
      const hex = sha.toLowerCase();
      const prior = hashes.get(hex);
      if (prior !== undefined) report(`${at}.sha256`, `the same hash as tokens[${prior}]: one token cannot have two names`);
      else hashes.set(hex, i);
    }
    if (problems.length === before) tokens.push(Object.freeze({ name: name as string, roles: Object.freeze([...new Set(roles as Role[])]), sha256: (sha as string).toLowerCase() }));
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, tokens };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The rectify names `--slack-approvers` gives Slack users (U0ALICE=alice), compared with
 * the token names. A Slack user and a token are one person only when the names are the
 * same exactly; a name that is a token's only when case is ignored (Alice, token alice)
 * is a typo that makes one person two approvers (`caseOnly`, with the tokens it matches);
 * a name no token has (`unmatched`) may be a person who has no token, or such a typo.
 */
export function slackApproversAgainstTokens(
  approvers: ReadonlyArray<{ id: string; name?: string }>,
  tokenNames: readonly string[],
): { caseOnly: Array<{ id: string; name: string; tokens: string[] }>; unmatched: Array<{ id: string; name: string }> } {
  const exact = new Set(tokenNames);
  const caseOnly: Array<{ id: string; name: string; tokens: string[] }> = [];
  const unmatched: Array<{ id: string; name: string }> = [];
  for (const { id, name } of approvers) {
    if (name === undefined || exact.has(name)) continue;
    const folded = name.toLowerCase();
    const tokens = tokenNames.filter((t) => t.toLowerCase() === folded);
    if (tokens.length > 0) caseOnly.push({ id, name, tokens });
    else unmatched.push({ id, name });
  }
  return { caseOnly, unmatched };
}

/**
 * The refusal of a `--slack-approvers` name that is a token's only when case is ignored.
 * At start it is located where the name was set (the flag, the environment variable or
 * the config file's key: `setting`) and the fix is the entry. At a tokens reload the
 * tokens file gave a token that name, while `--slack-approvers` is read at start only: it
 * is located in the tokens file (`tokensFile`), and the fix is the token's name as it was,
 * or a restart with the entry changed; `said` tells where the entry was set.
 */
export function caseOnlyProblem(
  c: { id: string; name: string; tokens: string[] },
  at: { setting: { file: string; path: string } } | { tokensFile: string; said: string },
): LoadProblem {
  const entry = `${c.id}=${c.name}`;
  const tokens = c.tokens.map((t) => JSON.stringify(t)).join(' and ');
  const clash = `names are compared exactly, so that Slack user and that token would count as two approvers`;
  if ('setting' in at) {
    return {
      file: at.setting.file,
      path: at.setting.path,
      message: `${entry}: ${JSON.stringify(c.name)} is the API token name ${tokens} only when case is ignored; ${clash}: write ${c.id}=${c.tokens[0]!}`,
    };
  }
  return {
    file: at.tokensFile,
    path: '',
    message: `${c.tokens.length > 1 ? `tokens ${tokens} differ` : `token ${tokens} differs`} only in case from ${JSON.stringify(c.name)}, the name --slack-approvers gives ${c.id} (${entry}, ${at.said}); ${clash}: give the token its name ${JSON.stringify(c.name)} back, or restart rectify with ${c.id}=${c.tokens[0]!} (--slack-approvers is read at start only)`,
  };
}

import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * API tokens for tests: random tokens, and the tokens file that holds only their
 * hashes, as an operator would write it.
 *
 *   const t = issueToken('alice', ['approver']);
 *   const file = writeTokensFile(dir, [t]);   // --tokens file
 *   fetch(url, { headers: { authorization: `Bearer ${t.token}` } })
 */
export interface IssuedToken {
  name: string;
  roles: string[];
  token: string;
  sha256: string;
}

export function sha256hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function issueToken(name: string, roles: string[]): IssuedToken {
  const token = `rct_${randomBytes(24).toString('base64url')}`;
  return { name, roles, token, sha256: sha256hex(token) };
}

export function tokensYaml(tokens: IssuedToken[]): string {
  if (tokens.length === 0) return 'tokens: []\n';
  return ['tokens:', ...tokens.map((t) => `  - name: ${t.name}\n    roles: [${t.roles.join(', ')}]\n    sha256: ${t.sha256}`)].join('\n') + '\n';
}

export function writeTokensFile(dir: string, tokens: IssuedToken[], name = 'tokens.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, tokensYaml(tokens));
  return path;
}

export const bearer = (t: IssuedToken | string): Record<string, string> => ({ authorization: `Bearer ${typeof t === 'string' ? t : t.token}` });

/** A tokens file whose anchors expand past the alias limit ("billion laughs"), valid YAML otherwise. */
export function aliasBomb(): string {
  const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  let prev = 'a';
  for (let i = 0; i < 6; i++) {
    lines.push(`l${i}: &l${i} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    prev = `l${i}`;
  }
  return [...lines, 'tokens: []'].join('\n') + '\n';
}

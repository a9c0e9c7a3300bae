/**
 * What is said about a secret instead of the secret: "set", or the `${file:/path}` it is
 * read from. The log's redaction censors every value under a secret-looking key
 * (`slackSigningSecret`), which turned these into "[REDACTED]" too, even for a secret
 * not configured; it shows a SecretDescription as its text. Only code that never
 * holds the secret (config/summary.ts) makes one.
 */
export class SecretDescription {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
}

/** null when not configured; else "set", or the file reference it is read from (a path, never the contents). */
export function describeSecret(value: string | undefined): SecretDescription | null {
  if (value === undefined) return null;
  // Config accepts a value starting "${file:" only as a whole file reference (config/values.ts).
  return new SecretDescription(value.startsWith('${file:') ? value : 'set');
}

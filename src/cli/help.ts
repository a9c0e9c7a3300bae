/**
 * --help of the commands that read files directly (serve, lint, test, openapi, audit
 * verify, audit export): usage, what it does, its arguments and flags, and its own exit
 * codes, which are the README's table narrowed to what the command can return.
 */
export interface CommandHelp {
  usage: string;
  about: string;
  /** `name   meaning` lines; empty: "Arguments: none". */
  args: readonly string[];
  /** `--flag <value>   meaning` lines; empty: "Flags: none". */
  flags: readonly string[];
  /** [code, meaning] pairs, in order. */
  exits: ReadonlyArray<readonly [number, string]>;
  /** In place of the flags, a table of its own (serve: the settings table). */
  flagsTable?: string;
}

export function commandHelp(h: CommandHelp): string {
  const section = (title: string, lines: readonly string[]): string[] => (lines.length ? [`${title}:`, ...lines.map((l) => `  ${l}`)] : [`${title}: none`]);
  return [
    `usage: ${h.usage}`,
    '',
    h.about,
    '',
    ...section('Arguments', h.args),
    '',
    ...(h.flagsTable !== undefined ? [h.flagsTable] : section('Flags', h.flags)),
    '',
    'Exit codes:',
    ...h.exits.map(([code, meaning]) => `  ${code}  ${meaning}`),
  ].join('\n');
}

import { envName, fileKeyName, SETTING_NAMES, SETTINGS } from './settings.js';

/**
 * The settings table printed by `--help`, generated from the same table that
 * loadConfig reads, so the help can never list a flag that does not exist.
 */
function buildHelp(): string {
  const rows = SETTING_NAMES.map((n) => {
    const s = SETTINGS[n];
    return [
      `--${s.flag} ${s.parser.placeholder}`,
      envName(s.flag),
      s.fileKey ? fileKeyName(s.flag) : '-',
      // An empty default is none (an empty list), shown as nothing set is.
      s.default === undefined || s.default === '' ? '-' : s.default,
      s.help,
    ];
  });
  const header = ['flag', 'environment', 'rectify.yaml', 'default', ''];
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((r) => r[col]!.length)));
  const lines = all.map((r) =>
    r
      .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!)))
      .join('  ')
      .trimEnd(),
  );
  return [
    'Settings (a flag wins over its environment variable, which wins over rectify.yaml):',
    '',
    ...lines.map((l) => `  ${l}`),
    '',
    'Durations: 30s, 5m, 1h30m. Sizes: bytes, or 512KiB, 5MiB, 1MB. $KUBECONFIG is honoured below kubeconfig in rectify.yaml.',
  ].join('\n');
}

export const HELP: string = buildHelp();

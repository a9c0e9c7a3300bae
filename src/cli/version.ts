import { readFileSync } from 'node:fs';
import { EXIT, type CliIO } from './io.js';

/**
 * The package's version, read from its package.json when asked: two folders up from
 * this file, both from the sources (src/cli, run through tsx) and from the build
 * (dist/cli, the container image, which ships package.json beside dist/).
 */
export function packageVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the version from ${file.pathname}: ${(err as Error).message}`);
  }
  const version = (pkg as { version?: unknown } | null)?.version;
  if (typeof version !== 'string' || version === '') throw new Error(`${file.pathname} has no "version"`);
  return version;
}

export const versionHelp = `usage: rectify version (or rectify --version)

Prints this rectify's version (the package.json "version"), as "rectify 0.1.0".

exit codes: 0 printed; 1 the package.json beside the program could not be read; 2 an argument given.`;

export async function versionCommand(argv: string[], io: CliIO): Promise<number> {
  if (argv.length > 0) {
    io.err(`rectify version: takes no arguments, got ${JSON.stringify(argv[0])}`);
    return EXIT.USAGE;
  }
  try {
    io.out(`rectify ${packageVersion()}`);
    return EXIT.OK;
  } catch (err) {
    io.err(`rectify: ${(err as Error).message}`);
    return EXIT.FAILED;
  }
}

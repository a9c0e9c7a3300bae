import { shownArg } from '../config/index.js';
import { packageVersion } from '../lib/index.js';
import { EXIT, type CliIO } from './io.js';

export const versionHelp = `usage: rectify version (or rectify --version)

Prints this rectify's version (the package.json "version"), as "rectify 0.1.0".

exit codes: 0 printed; 1 the package.json beside the program could not be read; 2 an argument given.`;

export async function versionCommand(argv: string[], io: CliIO): Promise<number> {
  if (argv.length > 0) {
    io.err(`rectify version: takes no arguments, got ${shownArg(argv[0]!)}`);
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

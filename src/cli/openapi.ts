import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, parseCommandArgs, shownArg } from '../config/index.js';
import { formatProblem } from '../domain/index.js';
import { createTestLogger } from '../observability/index.js';
import { createService } from '../service.js';
import { commandHelp } from './help.js';
import { EXIT, type CliIO } from './io.js';

const OPENAPI_USAGE = 'rectify openapi [file] [--check]';

export const openapiHelp = commandHelp({
  usage: OPENAPI_USAGE,
  about: [
    'Writes the OpenAPI document generated from the route schemas (the one /openapi.json serves), or',
    'with --check compares the file with it and writes nothing, so the committed openapi.yaml cannot',
    'drift from the code (npm run openapi, npm run openapi:check).',
  ].join('\n'),
  args: ['file      where to write, or what --check compares (default ./openapi.yaml)'],
  flags: ['--check   write nothing: fail when the file differs from the route schemas'],
  exits: [
    [0, 'written, or with --check the file is up to date'],
    [1, 'with --check the file differs (run npm run openapi and commit the result), or the file could not be written'],
    [2, 'usage: an unknown flag or more than one file; nothing was written'],
  ],
});

/**
 * `rectify openapi [file] [--check]`: writes the OpenAPI document generated from the
 * route schemas (the same one /openapi.json serves), or with --check fails when the
 * file differs, so the committed openapi.yaml cannot drift from the code.
 */
export async function openapiCommand(argv: string[], io: CliIO): Promise<number> {
  // Strict before anything is written: `--chek` or a second name must not overwrite a file.
  const parsed = parseCommandArgs(argv, { check: 'boolean' });
  const refusals = parsed.problems.map(formatProblem);
  if (parsed.args.length > 1) refusals.push(`name one file (got ${parsed.args.map((a) => shownArg(a)).join(', ')})`);
  if (refusals.length) {
    for (const r of refusals) io.err(`rectify openapi: ${r}; usage: ${OPENAPI_USAGE}`);
    return EXIT.USAGE;
  }
  const check = parsed.flags['check'] === true;
  const file = resolve(io.cwd, parsed.args[0] ?? 'openapi.yaml');
  const loaded = loadConfig(['--db', 'sqlite::memory:'], {}, { cwd: io.cwd });
  if ('problems' in loaded) throw new Error('internal: default configuration did not load');
  const service = await createService(loaded.config, createTestLogger({ capture: false }).logger, { runbooks: [] });
  try {
    const yaml = service.app.swagger({ yaml: true });
    if (check) {
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        current = '';
      }
      if (current !== yaml) {
        io.err(`${file} is out of date with the route schemas: run \`npm run openapi\` and commit the result`);
        return EXIT.FAILED;
      }
      io.out(`${file} is up to date`);
      return EXIT.OK;
    }
    try {
      writeFileSync(file, yaml);
    } catch (err) {
      io.err(`rectify openapi: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err))}`);
      return EXIT.FAILED;
    }
    io.out(`wrote ${file}`);
    return EXIT.OK;
  } finally {
    await service.close();
  }
}

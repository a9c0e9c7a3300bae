import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/index.js';
import { createTestLogger } from '../observability/index.js';
import { createService } from '../service.js';
import { EXIT, type CliIO } from './io.js';

/**
 * `rectify openapi [file] [--check]`: writes the OpenAPI document generated from the
 * route schemas (the same one /openapi.json serves), or with --check fails when the
 * file differs, so the committed openapi.yaml cannot drift from the code.
 */
export async function openapiCommand(argv: string[], io: CliIO): Promise<number> {
  const check = argv.includes('--check');
  const file = resolve(io.cwd, argv.find((a) => !a.startsWith('-')) ?? 'openapi.yaml');
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
    writeFileSync(file, yaml);
    io.out(`wrote ${file}`);
    return EXIT.OK;
  } finally {
    await service.close();
  }
}

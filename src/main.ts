/**
 * Entry point: `tsx src/main.ts <command>` (npm start runs `serve`), and the
 * package's bin. Everything is composed in service.ts; this file only wires the
 * process to the CLI.
 */
import { readProcessEnv } from './config/index.js';
import { runCli } from './cli/index.js';

const code = await runCli(process.argv.slice(2), {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  env: readProcessEnv(),
  cwd: process.cwd(),
});
process.exitCode = code;

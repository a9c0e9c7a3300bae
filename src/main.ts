/**
 * Entry point: `tsx src/main.ts <command>` (npm start runs `serve`), and the
 * package's bin. Everything is composed in service.ts; this file only wires the
 * process to the CLI.
 */
import { readProcessEnv } from './config/index.js';
import { runCli } from './cli/index.js';
import { streamIO } from './cli/io.js';

process.exitCode = await runCli(process.argv.slice(2), { ...streamIO(process.stdout, process.stderr), env: readProcessEnv(), cwd: process.cwd() });

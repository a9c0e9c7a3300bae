/**
 * Entry point: `tsx src/main.ts <command>` (npm start runs `serve`), and the
 * package's bin. Everything is composed in service.ts; this file only wires the
 * process to the CLI.
 */
import { holdSignals, takeHeldSignals } from './lib/early-signals.js';

// `rectify serve`: a signal while the rest of rectify is imported waits for the start to end
// (serve takes it over), not ends the process half started. The other commands keep Node's
// default (Ctrl-C stops `rectify lint`).
if (process.argv[2] === 'serve') holdSignals();

const { readProcessEnv } = await import('./config/index.js');
const { runCli } = await import('./cli/index.js');
const { streamIO } = await import('./cli/io.js');

process.exitCode = await runCli(process.argv.slice(2), { ...streamIO(process.stdout, process.stderr), env: readProcessEnv(), cwd: process.cwd() });
// A serve that ended before taking them (a refused configuration, --help).
takeHeldSignals();

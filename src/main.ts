/**
 * Entry point: `tsx src/main.ts <command>` (npm start runs `serve`), and the
 * package's bin. Everything is composed in service.ts; this file only wires the
 * process to the CLI.
 */
import { readProcessEnv } from './config/index.js';
import { runCli, type CliIO } from './cli/index.js';

/**
 * The process's stdout and stderr as the CLI's io. The reader of stdout may go first
 * (`rectify audit export | head -1`): the next write fails with EPIPE, which unhandled is
 * a stack trace and exit 1. Instead the command stops writing, a long-running one
 * (`audit --follow`) ends as on Ctrl-C (io.signal), and the process exits quietly with
 * the command's own code: 0 for a listing. Not 141 (SIGPIPE) as `git log | head` does:
 * under `set -o pipefail` a reader that had enough is no failure, and a failure (a test
 * that failed) keeps its code. The same for stderr (`2>&1 | head`).
 */
function processIO(): CliIO {
  const stdoutGone = new AbortController();
  let stderrGone = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stdoutGone.abort();
  });
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stderrGone = true;
  });
  return {
    out: (l) => void (stdoutGone.signal.aborted || process.stdout.write(`${l}\n`)),
    err: (l) => void (stderrGone || process.stderr.write(`${l}\n`)),
    env: readProcessEnv(),
    cwd: process.cwd(),
    signal: stdoutGone.signal,
  };
}

process.exitCode = await runCli(process.argv.slice(2), processIO());

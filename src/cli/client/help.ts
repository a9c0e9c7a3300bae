import { CLIENT_ENV, DEFAULT_SERVER } from '../../config/index.js';

/** The exit codes, as every --help and README.md state them (EXIT in io.ts). */
export const EXIT_HELP = [
  'Exit codes:',
  '  0  done (a run executed and succeeded, a dry run was recorded)',
  '  1  refused, blocked or failed (unknown id, decided twice, guardrail block, failed run)',
  '  2  usage: wrong flags or arguments, or an invalid input file; nothing was done',
  '  3  no answer from the service: not reachable, timed out, or a 5xx (try again later)',
  '  4  the service wants a token, or refuses this caller (the token\'s role, separation of duties)',
  '  5  waiting on a person (approval requested), or a run started and its outcome not known yet',
  '     (--no-wait, or still running when --wait-timeout ended)',
  '  6  sent, or accepted, but how it went is not known: the answer was lost (no answer in time,',
  '     Ctrl-C before it came, the connection closed), or watching the run failed; the service may',
  '     have acted, so check (rectify audit) before trying again',
].join('\n');

export const CONNECTION_HELP = [
  'Connection:',
  `  --server <url>     the rectify service (${CLIENT_ENV.server}; default ${DEFAULT_SERVER})`,
  `  --token <token>    API token, sent as "Authorization: Bearer" (${CLIENT_ENV.token}; prefer the variable: flags show in ps)`,
  '  --timeout <dur>    deadline of each request (default 10s; run and approve, which may wait on a',
  '                     MEDIUM runbook\'s guardrail checks, up to 15s each: 3m)',
  "  --json             print the API's JSON (stable, for scripts) instead of a table",
].join('\n');

/** A client command's --help: what it does, its own flags, the connection flags, the exit codes. */
export function clientHelp(usage: string, about: string, flags: readonly string[] = []): string {
  return [`usage: ${usage}`, '', about, ...(flags.length ? ['', 'Flags:', ...flags.map((f) => `  ${f}`)] : []), '', CONNECTION_HELP, '', EXIT_HELP].join('\n');
}

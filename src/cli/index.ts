import { HELP } from '../config/index.js';
import { auditExportCommand, auditVerifyCommand } from './audit-verify.js';
import { lintCommand } from './lint.js';
import { openapiCommand } from './openapi.js';
import { serveCommand } from './serve.js';
import { testCommand } from './test.js';
import { EXIT, type CliIO } from './io.js';

export { EXIT, type CliIO } from './io.js';

const COMMANDS: Record<string, { summary: string; run: (argv: string[], io: CliIO) => Promise<number> }> = {
  serve: { summary: 'run the HTTP service', run: serveCommand },
  lint: { summary: 'check every runbook file in a folder (default ./runbooks)', run: lintCommand },
  test: { summary: 'run runbook unit tests: rectify test <tests.yaml|folder>… (decides, never executes)', run: testCommand },
  openapi: { summary: 'write openapi.yaml from the route schemas (--check: fail when it differs)', run: openapiCommand },
  'audit-verify': { summary: 'walk the audit hash chain and name the first row that does not fit (also: audit verify)', run: auditVerifyCommand },
  'audit-export': { summary: 'the audit log as JSON lines with hashes, oldest first (also: audit export)', run: auditExportCommand },
};

function usage(): string {
  const lines = ['usage: rectify <command> [flags]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'settings (flag, environment variable, rectify.yaml key):', HELP);
  return lines.join('\n');
}

/** run(argv, io) → exit code: the whole CLI, testable without a process. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let [name, ...rest] = argv;
  // `audit verify` and `audit export` are the two-word forms of audit-verify and audit-export.
  if (name === 'audit' && (rest[0] === 'verify' || rest[0] === 'export')) [name, ...rest] = [`audit-${rest[0]}`, ...rest.slice(1)];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`rectify: unknown command "${name}"`);
    io.err(usage());
    return EXIT.USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`rectify ${name}: ${cmd.summary}\n\n${HELP}`);
    return EXIT.OK;
  }
  return cmd.run(rest, io);
}

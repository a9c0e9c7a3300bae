import { dashWords, flagName, HELP, shownArg, typographicDash } from '../config/index.js';
import { auditExportCommand, auditExportHelp, auditVerifyCommand, auditVerifyHelp } from './audit-verify.js';
import { backupCommand, backupHelp } from './backup.js';
import { restoreCommand, restoreHelp } from './restore.js';
import { lintCommand, lintHelp } from './lint.js';
import { openapiCommand, openapiHelp } from './openapi.js';
import { serveCommand, serveHelp } from './serve.js';
import { testCommand, testHelp } from './test.js';
import { EXIT, type CliIO } from './io.js';
import { approvalsCommand, approvalsHelp, approveCommand, approveHelp, rejectCommand, rejectHelp } from './client/approvals.js';
import { auditCommand, auditHelp } from './client/audit.js';
import { pauseCommand, pauseHelp, resumeCommand, resumeHelp } from './client/pause.js';
import { runbooksCommand, runbooksHelp } from './client/runbooks.js';
import { circuitCommand, circuitHelp, cooldownCommand, cooldownHelp } from './client/reset.js';
import { runCommand, runHelp } from './client/run.js';
import { replayCommand, replayHelp } from './replay.js';
import { EXIT_HELP } from './client/help.js';
import { versionCommand, versionHelp } from './version.js';
import { nearest, printable } from '../lib/index.js';

export { EXIT, type CliIO } from './io.js';

const COMMANDS: Record<string, { summary: string; run: (argv: string[], io: CliIO) => Promise<number>; help: string }> = {
  serve: { summary: 'run the HTTP service', run: serveCommand, help: serveHelp },
  lint: { summary: 'check every runbook file in a folder (the one serve would load, or one named)', run: lintCommand, help: lintHelp },
  test: { summary: 'run runbook unit tests: rectify test <tests.yaml|folder>… (decides, never executes)', run: testCommand, help: testHelp },
  openapi: { summary: 'write openapi.yaml from the route schemas (--check: fail when it differs)', run: openapiCommand, help: openapiHelp },
  'audit-verify': { summary: 'walk the audit hash chain and name the first row that does not fit (also: audit verify)', run: auditVerifyCommand, help: auditVerifyHelp },
  'audit-export': { summary: 'the audit log as JSON lines with hashes, oldest first (also: audit export)', run: auditExportCommand, help: auditExportHelp },
  backup: { summary: 'a consistent, checked copy of the database to a new file, while the service runs', run: backupCommand, help: backupHelp },
  restore: { summary: 'put a checked backup in place of the database, rectify stopped (the old one kept aside)', run: restoreCommand, help: restoreHelp },
  run: { summary: 'run a runbook by hand through the guardrails, approvals and audit (--local: without a service)', run: runCommand, help: runHelp },
  replay: { summary: 'what the runbooks would have done with a recorded alert stream (simulated; nothing executes)', run: replayCommand, help: replayHelp },
  approvals: { summary: 'approval requests (pending by default)', run: approvalsCommand, help: approvalsHelp },
  approve: { summary: 'approve a pending request; the guardrails run again, then the plan runs', run: approveCommand, help: approveHelp },
  reject: { summary: 'reject a pending request', run: rejectCommand, help: rejectHelp },
  audit: { summary: 'the audit log, newest rows; --follow keeps printing new ones', run: auditCommand, help: auditHelp },
  pause: { summary: 'global kill switch: nothing executes automatically', run: pauseCommand, help: pauseHelp },
  resume: { summary: 'lift the global kill switch', run: resumeCommand, help: resumeHelp },
  runbooks: { summary: 'runbooks with live state: circuit, executions in the last hour, cooldowns', run: runbooksCommand, help: runbooksHelp },
  circuit: { summary: "circuit close <runbook> --reason …: close a runbook's open circuit by hand", run: circuitCommand, help: circuitHelp },
  cooldown: { summary: "cooldown clear <runbook> [--service …] --reason …: end a runbook's cooldown by hand", run: cooldownCommand, help: cooldownHelp },
  version: { summary: 'print this rectify\'s version (also: --version)', run: versionCommand, help: versionHelp },
};

function usage(): string {
  const lines = ['usage: rectify <command> [flags]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push('', EXIT_HELP, '', 'For rectify serve (the client commands take --server, --token and --timeout: see rectify <command> --help):', HELP);
  return lines.join('\n');
}

/**
 * What exists where an on-call engineer looks for a command that does not: the API has
 * incidents and executions, the CLI shows them through the audit log.
 */
const ELSEWHERE: Readonly<Record<string, string>> = {
  incident: 'an incident\'s decisions and steps: rectify audit --incident-id <id>',
  incidents: 'an incident\'s decisions and steps: rectify audit --incident-id <id>',
  execution: 'an execution\'s steps and outcome: rectify audit --execution-id <id>',
  executions: 'an execution\'s steps and outcome: rectify audit --execution-id <id>',
  status: 'the live state: rectify runbooks (circuits, rate limits, cooldowns) and rectify approvals (pending requests)',
};

/**
 * A mistyped command is told in a few lines on stderr: the nearest command, or where the
 * thing looked for is, or the list of commands. The whole usage (a hundred lines of
 * settings) buried the one line that said what was wrong.
 */
function unknownCommand(name: string): string[] {
  // Up to `=`: what follows it may be a secret, whatever the argument looks like.
  const shown = shownArg(name);
  const dash = typographicDash(name);
  if (dash !== undefined) {
    // `—slack-signing-secret=…` pasted from a document: a mistyped --flag, before any command.
    return [`rectify: unknown flag ${JSON.stringify(flagName(name))}: ${dashWords(dash)}; the command comes first, then its flags (rectify serve --name …)`, 'see: rectify --help'];
  }
  if (name.startsWith('-')) {
    // The flag's name only: what follows `=` may be a secret (`--slack-signing-secret=…`).
    const flagOnly = flagName(name);
    const shownFlag = JSON.stringify(flagOnly);
    const flag = nearest(flagOnly, ['--version', '--help']);
    if (flag) return [`rectify: unknown flag ${shownFlag} (did you mean "${flag}"?)`, 'see: rectify --help'];
    return [`rectify: ${shownFlag} before a command: the command comes first, then its flags (rectify approvals --server …)`, 'see: rectify --help'];
  }
  const names = Object.keys(COMMANDS);
  const near = nearest(flagName(name), names);
  const elsewhere = ELSEWHERE[name.toLowerCase()];
  if (near) return [`rectify: unknown command ${shown} (did you mean "${near}"?)`, 'see: rectify --help'];
  if (elsewhere) return [`rectify: unknown command ${shown}; ${elsewhere}`, 'see: rectify --help'];
  return [`rectify: unknown command ${shown}; the commands are ${names.join(', ')}`, 'see: rectify --help'];
}

/** run(argv, io) → exit code: the whole CLI, testable without a process. */
export async function runCli(argv: string[], terminal: CliIO): Promise<number> {
  // Every line printed shows the control characters (but line feeds and tabs) and the
  // characters a terminal draws as nothing as their escape (JSON's, so --json output is
  // the same document): text from the service can neither rewrite the terminal nor pass
  // "shop\u200b" off as "shop".
  const io: CliIO = { ...terminal, out: (line) => terminal.out(printable(line)), err: (line) => terminal.err(printable(line)) };
  // `rectify help <command>…` is `rectify <command>… --help` (help audit verify too).
  let [name, ...rest] = argv[0] === 'help' && argv.length > 1 ? [...argv.slice(1), '--help'] : argv;
  // `audit verify` and `audit export` are the two-word forms of audit-verify and audit-export.
  if (name === 'audit' && (rest[0] === 'verify' || rest[0] === 'export')) [name, ...rest] = [`audit-${rest[0]}`, ...rest.slice(1)];
  // `rectify audit verfy`: audit takes no argument, so a word after it is a mistyped verify or export.
  const sub = name === 'audit' && rest[0] !== undefined && !rest[0].startsWith('-') ? nearest(rest[0], ['verify', 'export']) : undefined;
  if (sub) {
    io.err(`rectify audit: unknown subcommand ${shownArg(rest[0]!)} (did you mean "audit ${sub}"?)`);
    io.err('see: rectify audit --help');
    return EXIT.USAGE;
  }
  if (name === '--version') return versionCommand(rest, io);
  if (!name) {
    // No command is a usage mistake: the usage goes to stderr, as every usage mistake's words do.
    io.err(usage());
    return EXIT.USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return EXIT.OK;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    for (const line of unknownCommand(name)) io.err(line);
    return EXIT.USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(cmd.help);
    return EXIT.OK;
  }
  return cmd.run(rest, io);
}

import { createServer } from 'node:net';
import { createLogger, type Logger } from '../observability/logger.js';
import { configOnReload, configSummary, formatListen, HELP, loadConfig, serveConfigProblems, shownArg } from '../config/index.js';
import { formatProblem, LoadError } from '../domain/index.js';
import { createService } from '../service.js';
import { commandHelp } from './help.js';
import { EXIT, type CliIO } from './io.js';
import { takeHeldSignals } from '../lib/early-signals.js';

export const serveHelp = commandHelp({
  usage: 'rectify serve [flags]',
  about: [
    'Runs the service: intake (Alertmanager and PagerDuty webhooks, POST /api/v1/incidents), decisions,',
    'executions, approvals, the audit log and the API (described at /docs). The runbooks folder is read at',
    'startup (a problem in any file stops it) and again on SIGHUP, with the tokens file, the TLS pair and a',
    '${file:} Slack signing secret; the config file\'s settings take effect only at a restart (SIGHUP warns of each',
    'that differs from the value in force). On SIGTERM or SIGINT it stops intake, lets running executions finish',
    'within --shutdown-grace and records the rest as INTERRUPTED (a second SIGTERM or SIGINT meanwhile is logged',
    'and ignored; kill -9 forces the stop).',
    '',
    'It takes no arguments: every setting is a flag, an environment variable or a rectify.yaml key',
    '(`rectify serve prod` is refused: say --runbooks prod).',
  ].join('\n'),
  args: [],
  flags: [],
  flagsTable: HELP,
  exits: [
    [0, 'stopped cleanly after SIGTERM or SIGINT'],
    [1, 'could not start (the database cannot be opened, the address is taken) or did not stop cleanly'],
    [2, 'usage: a wrong flag or argument, or a setting, the config file, the tokens file, the TLS pair or a runbook has a problem (one line each); nothing was started'],
  ],
});

/** The one line a start refused by its listen address prints; `code` is the error's code (EADDRINUSE) or message. */
function listenRefusal(listen: { host: string; port: number }, code: string): string {
  const fix = code === 'EADDRINUSE' ? ' (another process listens there: stop it, or set --listen)' : code === 'EACCES' ? ' (a port below 1024 needs privileges: set --listen to a higher port)' : ' (set --listen)';
  return `rectify: cannot listen on ${formatListen(listen)}: ${code}${fix}`;
}

/** Binds the address and lets it go at once: the error's code when it cannot be bound, else null. */
function addressProblem(listen: { host: string; port: number }): Promise<string | null> {
  // Port 0 is any free port: nothing to check.
  if (listen.port === 0) return Promise.resolve(null);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    probe.listen({ host: listen.host, port: listen.port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

/**
 * `rectify serve`: runs until SIGTERM/SIGINT, then stops intake, lets running
 * executions finish within the grace period and records the rest as INTERRUPTED.
 */
export async function serveCommand(argv: string[], io: CliIO): Promise<number> {
  const loaded = loadConfig(argv, io.env, { cwd: io.cwd });
  if ('problems' in loaded) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    return EXIT.USAGE;
  }
  const config = loaded.config;
  // Settings are flags: `rectify serve prod` would otherwise serve ./runbooks, not prod.
  if (config.args.length) {
    const [only] = config.args;
    // `--dry-run false`: a boolean flag takes no separate value, so "false" is left over.
    const booleanValue = /^(true|false|yes|no|on|off|1|0)$/i.test(only!) && argv[argv.indexOf(only!) - 1] === '--dry-run';
    io.err(
      config.args.length === 1
        ? booleanValue
          ? `rectify serve takes no arguments; did you mean --dry-run=${only}?`
          : only!.includes('=')
            ? `rectify serve takes no arguments (got ${shownArg(only!)}); settings are flags (--name=value), see rectify serve --help`
            : `rectify serve takes no arguments; did you mean ${/(^|\/)rectify\.ya?ml$/.test(only!) ? '--config' : '--runbooks'} ${only}?`
        : `rectify serve takes no arguments (got ${config.args.map((a) => shownArg(a)).join(', ')}); settings are flags, see rectify serve --help`,
    );
    return EXIT.USAGE;
  }
  const refusals = serveConfigProblems(config);
  if (refusals.length) {
    for (const p of refusals) io.err(formatProblem(p));
    return EXIT.USAGE;
  }
  const log = createLogger({ level: config.logLevel });
  // Signals that arrive while rectify starts (seconds on a busy node) wait for the start to
  // end: Node's default would end the process half started, SIGHUP included (a reloader sent
  // it as the pod came up). SIGTERM or SIGINT then stops it at once, SIGHUP reloads.
  const early: { stop: string | null; hangup: boolean } = { stop: null, hangup: false };
  const stopEarly = (signal: string) => (): void => {
    if (early.stop) return;
    early.stop = signal;
    log.info({ signal }, 'stopping as soon as the start has ended');
  };
  const earlyTerm = stopEarly('SIGTERM');
  const earlyInt = stopEarly('SIGINT');
  const earlyHup = (): void => void (early.hangup = true);
  process.on('SIGTERM', earlyTerm);
  process.on('SIGINT', earlyInt);
  process.on('SIGHUP', earlyHup);
  // Those that came while rectify was being loaded (held by the entry point), in the same turn.
  const held = takeHeldSignals();
  if (held.stop) stopEarly(held.stop)();
  if (held.hangup) earlyHup();
  let service;
  let address: string;
  try {
    for (const w of config.warnings) log.warn({ warning: formatProblem(w) }, 'configuration warning');
    // A taken address is refused before the database is opened: a start that fails there
    // leaves nothing behind (no new database, no recovery run, no notification told again).
    const taken = await addressProblem(config.listen);
    if (taken) {
      io.err(listenRefusal(config.listen, taken));
      return EXIT.FAILED;
    }
    try {
      service = await createService(config, log);
    } catch (err) {
      if (err instanceof LoadError) {
        for (const p of err.problems) io.err(formatProblem(p));
        return EXIT.USAGE;
      }
      io.err(`rectify: cannot start: ${err instanceof Error ? err.message : String(err)}`);
      return EXIT.FAILED;
    }
    if (early.stop) {
      // Stopped before it listened: nothing was taken in, nothing is running.
      return await stopService(service, log);
    }
    try {
      address = await service.listen();
    } catch (err) {
      await service.close().catch(() => undefined);
      io.err(listenRefusal(config.listen, (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err))));
      return EXIT.FAILED;
    }
  } finally {
    // The handlers below take over in the same turn of the event loop: no signal falls between.
    process.off('SIGTERM', earlyTerm);
    process.off('SIGINT', earlyInt);
    process.off('SIGHUP', earlyHup);
  }
  log.info({ address, listen: formatListen(config.listen), runbooks: service.catalog.all.length, executors: [...service.available], config: configSummary(config) }, 'rectify serving');

  return new Promise<number>((resolve) => {
    let stopping = false;
    // SIGHUP re-reads the runbooks, the tokens file, the TLS pair and a ${file:} Slack signing secret; the outcome is logged by reload().
    // The config file is read again only to say what in it differs from the settings in force: they take effect at a restart.
    const hangup = (): void => {
      log.info({ signal: 'SIGHUP' }, 'reloading the runbooks, the tokens file, the TLS certificate and the Slack signing secret (the config file\'s settings take effect only at a restart)');
      try {
        const again = configOnReload(config, argv, io.env);
        for (const p of again.problems) log.warn({ problem: formatProblem(p) }, 'the configuration read again has a problem: the settings in force stay, and a restart would refuse it');
        for (const c of again.changed) log.warn({ setting: formatProblem(c) }, 'a setting differs from the value in force: it takes effect only at a restart');
      } catch (err) {
        log.error({ err }, 'the configuration could not be read again');
      }
      service.reload().catch((err: unknown) => log.error({ err }, 'reload failed'));
    };
    process.on('SIGHUP', hangup);
    const stop = (signal: string) => {
      // A second SIGTERM or Ctrl-C while draining is not let through: Node's default would end
      // the process at once, leaving a command action's process running with nobody to stop
      // it, its execution unrecorded until the next start and ?wait=true callers cut off. The
      // stop is bounded anyway (--shutdown-grace); kill -9 is the way to force it.
      if (stopping) {
        log.warn({ signal, shutdown_grace_ms: config.shutdownGraceMs }, 'already stopping: running executions get --shutdown-grace, then are recorded INTERRUPTED (kill -9 to force: they are then recorded at the next start)');
        return;
      }
      stopping = true;
      // Ignored, not let through: without a handler SIGHUP would end the process mid-drain.
      process.off('SIGHUP', hangup);
      const ignore = (): void => void log.warn({ signal: 'SIGHUP' }, 'ignored: rectify is stopping');
      process.on('SIGHUP', ignore);
      log.info({ signal }, 'stopping: intake closed, draining executions');
      void stopService(service, log).then((code) => {
        process.off('SIGHUP', ignore);
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        resolve(code);
      });
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    if (early.stop) stop(early.stop);
    else if (early.hangup) hangup();
  });
}

/**
 * Closes the service, draining its executions: exit 0, or 1 once an unclean stop is logged
 * (a failure, or executions cut off whose INTERRUPTED could not be recorded: the service
 * logged them); the exit code is logged as stopped.
 */
async function stopService(service: { close(): Promise<{ unrecorded: readonly string[] }> }, log: Logger): Promise<number> {
  const code = await service.close().then(
    (r) => (r.unrecorded.length > 0 ? EXIT.FAILED : EXIT.OK),
    (err: unknown) => {
      log.error({ err }, 'unclean stop');
      return EXIT.FAILED;
    },
  );
  log.info({ exit_code: code }, 'stopped');
  return code;
}

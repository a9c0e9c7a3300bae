import { isIP } from 'node:net';
import type { LoadProblem } from '../domain/errors.js';
import type { Config } from './types.js';

/** Loopback hosts: reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Checks that only matter when serving HTTP, kept out of loadConfig so that
 * `rectify lint` in a container whose env says RECTIFY_LISTEN=0.0.0.0:9095 is
 * not refused. An API reachable from the network without tokens would let
 * anyone trigger remediations, so `serve` refuses it and names the fix.
 */
export function serveConfigProblems(config: Config): LoadProblem[] {
  const problems: LoadProblem[] = [];
  const db = unsupportedDatabase(config) ?? inMemoryDatabase(config);
  if (db) problems.push(db);
  if (config.tokens !== undefined || isLoopbackHost(config.listen.host)) return problems;
  const src = config.sources.listen;
  problems.push({
    file: src.kind === 'default' ? '--listen' : src.file,
    path: src.path,
    message: `refusing to listen on non-loopback address ${config.listen.host} without API tokens; set --tokens (RECTIFY_TOKENS, tokens) or listen on 127.0.0.1`,
  });
  return problems;
}

/**
 * A `--db` this build cannot open (postgres://), named where it was set (the flag, the
 * environment variable or the config file's key); null for sqlite. Checked before any
 * other file is read, so it is the one line a start with it prints.
 */
export function unsupportedDatabase(config: Config): LoadProblem | null {
  if (config.db.kind === 'sqlite') return null;
  const src = config.sources.db;
  return { file: src.kind === 'default' ? '--db' : src.file, path: src.path, message: 'only sqlite: databases are supported by this build' };
}

/**
 * `sqlite::memory:` for `rectify serve`: gone with the process, and with it the audit log,
 * the alerts already decided (a re-delivery after a restart would run the remediation again)
 * and the runs a crash cut off (never recorded INTERRUPTED for a person to check). Refused
 * where it was set; the in-process harness of the tests, which calls createService, is not
 * checked here.
 */
function inMemoryDatabase(config: Config): LoadProblem | null {
  if (config.db.kind !== 'sqlite' || config.db.path !== ':memory:') return null;
  const src = config.sources.db;
  return {
    file: src.kind === 'default' ? '--db' : src.file,
    path: src.path,
    message: 'an in-memory database is refused for rectify serve: the audit log, the alerts already decided (so a re-delivery is not run again) and the recovery of runs a crash cut off need a file that outlives the process; give sqlite:<path>',
  };
}

import { resolveAuditKey, resolveAuditPreviousKeys, type Config } from '../config/index.js';
import { formatProblem, LoadError } from '../domain/index.js';
import type { CliIO } from './io.js';

/**
 * The audit key and the keys before a rotation, as rectify serve is given them, for a
 * command that walks a database's chain (backup, restore); undefined, with each problem
 * said, when they do not load (a usage error).
 */
export function auditKeysOf(config: Config, io: CliIO): { key: Buffer | undefined; previousKeys: Buffer[] } | undefined {
  try {
    const key = resolveAuditKey(config);
    return { key, previousKeys: resolveAuditPreviousKeys(config, key) };
  } catch (err) {
    if (!(err instanceof LoadError)) throw err;
    for (const p of err.problems) io.err(formatProblem(p));
    return undefined;
  }
}

import { readFileSync } from 'node:fs';

/**
 * The package's version, read from its package.json when asked: two folders up from
 * this file, both from the sources (src/lib, run through tsx) and from the build
 * (dist/lib, the container image, which ships package.json beside dist/). The one
 * source of `rectify --version` and the OpenAPI document's `info.version`, so neither
 * can say another version than the package.
 */
export function packageVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the version from ${file.pathname}: ${(err as Error).message}`);
  }
  const version = (pkg as { version?: unknown } | null)?.version;
  if (typeof version !== 'string' || version === '') throw new Error(`${file.pathname} has no "version"`);
  return version;
}

import { closeSync, lstatSync, openSync, statSync, type Stats } from 'node:fs';

/**
 * What a look at a path found: the file, nothing there, or the error that stopped the look.
 * Only ENOENT and ENOTDIR are "nothing there": a folder on the way that this user cannot
 * search (EACCES) hides a file that may well exist, and saying "no database at …" of a
 * database that is there reads, at 3 AM, as a database that is gone.
 */
export type Look = { stats: Stats } | { missing: true } | { error: NodeJS.ErrnoException };

/** stat (or, `link: true`, lstat: a symbolic link itself, even dangling, counts) of `path`. */
export function look(path: string, opts: { link?: boolean } = {}): Look {
  try {
    return { stats: opts.link ? lstatSync(path) : statSync(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { missing: true };
    return { error: err as NodeJS.ErrnoException };
  }
}

/** The error of opening the file at `path` for reading (a mode that keeps this user out), or undefined when it can be read. */
export function readProblem(path: string): NodeJS.ErrnoException | undefined {
  try {
    closeSync(openSync(path, 'r'));
    return undefined;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

/**
 * Why a file could not be looked at or read, for the person running the command:
 * `permission denied (EACCES; run it as the user rectify runs as)`, or the system's
 * words and code for anything else (`too many symbolic links encountered (ELOOP)`).
 */
export function accessReason(err: NodeJS.ErrnoException, hint = 'run it as the user rectify runs as'): string {
  if (err.code === 'EACCES' || err.code === 'EPERM') return `${err.code === 'EACCES' ? 'permission denied' : 'operation not permitted'} (${err.code}; ${hint})`;
  // Node's message is "CODE: words, syscall 'path'": the words only, the path is named by the caller.
  const words = /^[A-Z0-9_]+: ([^,]+)/.exec(err.message)?.[1] ?? err.message;
  return err.code ? `${words} (${err.code})` : words;
}

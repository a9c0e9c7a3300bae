import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * The most a YAML file rectify reads (a runbook file, a runbook test file, rectify.yaml)
 * may hold. The whole bundled library is a few tens of KiB; a file of many MiB is a
 * mistake (a log, a dump) or an attack, and parsing one takes seconds and gigabytes of
 * memory while startup or a SIGHUP reload waits.
 */
export const MAX_YAML_FILE_BYTES = 1024 * 1024;

/**
 * The most a secret file (`${file:/path}`: a key, a signing secret, a token) may hold:
 * it is a line of text, far less than this.
 */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

export type TextFileRead =
  | { ok: true; text: string }
  /** `code`: an errno code (ENOENT, EISDIR, ELOOP, …), or TOO_LARGE, NOT_A_FILE, NOT_UTF8. */
  | { ok: false; code: string; message: string };

export type FileRead = { ok: true; bytes: Buffer } | { ok: false; code: string; message: string };

/**
 * Reads a file of at most `maxBytes`, refusing instead of blocking: a FIFO (or a
 * symlink to one) is opened non-blocking and refused, as is anything but a regular
 * file, and a file above the limit is refused before it is read. `what` names the
 * file in the size refusal ("a YAML file", "a secret file").
 */
export function readBoundedFile(path: string, maxBytes: number, what: string): FileRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return errnoRead(err);
  }
  try {
    const st = fstatSync(fd);
    const refused = refusedByStat(st, maxBytes, what);
    if (refused) return refused;
    let buf: Buffer = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) {
        if (n > maxBytes) break;
        buf = grown(buf, maxBytes);
      }
    }
    if (n > maxBytes) return tooLarge('it grew while being read', maxBytes, what);
    return { ok: true, bytes: buf.subarray(0, n) };
  } catch (err) {
    return errnoRead(err);
  } finally {
    closeSync(fd);
  }
}

/**
 * readBoundedFile without blocking the event loop, for files read while the service
 * runs (a `${file:}` secret at a step's request): the same refusals (a FIFO is opened
 * non-blocking and refused, so no libuv thread waits on a writer; a device such as
 * /dev/zero or a file above `maxBytes` is refused before it is read), and `signal`
 * stops the read between chunks (the refusal is then the signal's reason, thrown).
 */
export async function readBoundedFileAsync(path: string, maxBytes: number, what: string, signal?: AbortSignal): Promise<FileRead> {
  signal?.throwIfAborted();
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return errnoRead(err);
  }
  try {
    const st = await fh.stat();
    const refused = refusedByStat(st, maxBytes, what);
    if (refused) return refused;
    let buf: Buffer = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) {
        if (n > maxBytes) break;
        buf = grown(buf, maxBytes);
      }
    }
    if (n > maxBytes) return tooLarge('it grew while being read', maxBytes, what);
    return { ok: true, bytes: buf.subarray(0, n) };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    return errnoRead(err);
  } finally {
    await fh.close();
  }
}

/** readTextFile without blocking the event loop (see readBoundedFileAsync). */
export async function readTextFileAsync(path: string, maxBytes: number, what: string, signal?: AbortSignal): Promise<TextFileRead> {
  const read = await readBoundedFileAsync(path, maxBytes, what, signal);
  return read.ok ? decodeUtf8(read.bytes) : read;
}

/**
 * Reads a UTF-8 text file of at most `maxBytes` as readBoundedFile does, and refuses
 * bytes that are not UTF-8 with their line rather than silently turning them into
 * U+FFFD (a path or an argument that is no longer the one written).
 */
export function readTextFile(path: string, maxBytes: number = MAX_YAML_FILE_BYTES, what = 'a YAML file'): TextFileRead {
  const read = readBoundedFile(path, maxBytes, what);
  return read.ok ? decodeUtf8(read.bytes) : read;
}

function decodeUtf8(bytes: Buffer): TextFileRead {
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, code: 'NOT_UTF8', message: `is not UTF-8 text: invalid bytes at line ${firstInvalidLine(bytes)} (save the file as UTF-8)` };
  }
}

/**
 * A larger buffer holding `buf`, at most the limit and a byte: the file holds more than its
 * stat said. It grew while being read, or it is one whose size the kernel gives as 0 (a
 * /proc or /sys file, read as it is made): it is read on, up to the limit.
 */
function grown(buf: Buffer, maxBytes: number): Buffer {
  const next = Buffer.alloc(Math.min(Math.max(buf.length * 2, 4096), maxBytes + 1));
  buf.copy(next);
  return next;
}

/**
 * What the file's stat already refuses: not a regular file, or above the limit. The
 * read that follows reads one byte past the limit, so a file growing meanwhile is
 * caught too.
 */
function refusedByStat(st: { isDirectory(): boolean; isFile(): boolean; size: number }, maxBytes: number, what: string): FileRead | undefined {
  if (st.isDirectory()) return { ok: false, code: 'EISDIR', message: 'is a directory' };
  if (!st.isFile()) return { ok: false, code: 'NOT_A_FILE', message: 'is not a regular file (a FIFO, a socket or a device)' };
  if (st.size > maxBytes) return tooLarge(`${st.size} bytes`, maxBytes, what);
  return undefined;
}

function tooLarge(size: string, maxBytes: number, what: string): { ok: false; code: string; message: string } {
  return { ok: false, code: 'TOO_LARGE', message: `is larger than the ${formatBytes(maxBytes)} ${what} may be (${size})` };
}

function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  return n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

/**
 * How every reader tells a file it could not read, in one wording: `cannot read NAME:
 * WHY`. NAME is how the reader knows the file: "the file" where the problem's location
 * is the file's path, the quoted path or the reference where the location is the setting
 * or the step that names it. WHY is the refusal: an errno code with what it means, or
 * what the file is. `hint`, what to do about it, where the reader has one.
 */
export function unreadableFile(name: string, read: { message: string }, hint?: string): string {
  return `cannot read ${name}: ${read.message}${hint ? `: ${hint}` : ''}`;
}

/** An errno code as a refusal says it: with its meaning for the codes a person can act on. */
export function errnoMessage(code: string): string {
  const meaning = ERRNO_MEANING[code];
  return meaning ? `${code} (${meaning})` : code;
}

/** What an errno means here, for the codes a person can act on; others show as the code. */
const ERRNO_MEANING: Record<string, string> = {
  ENOENT: 'file not found',
  ELOOP: 'a symlink loop',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of the path is not a folder',
  ENAMETOOLONG: 'the name is too long',
  // What opening a socket (or a device with nothing behind it) for reading answers.
  ENXIO: 'a socket or a device, not a regular file',
};

function errnoRead(err: unknown): { ok: false; code: string; message: string } {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  return { ok: false, code, message: errnoMessage(code) };
}

/** The line of the first byte sequence that is not UTF-8 (read leniently, it is the first U+FFFD). */
function firstInvalidLine(bytes: Buffer): number {
  const lenient = new TextDecoder('utf-8').decode(bytes);
  const at = lenient.indexOf('\uFFFD');
  let line = 1;
  for (let i = 0; i < at; i++) if (lenient.charCodeAt(i) === 10) line++;
  return line;
}

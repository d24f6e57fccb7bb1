import { isUtf8 } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';

/**
 * A file could not be read, written or parsed. The message names the path and the operation, says why in words and
 * what to do.
 *
 * @example
 * throw new FileError('runs/glue/manifest.json', 'read', 'the file is empty; ...');
 * // runs/glue/manifest.json: cannot read: the file is empty; ...
 */
export class FileError extends Error {
  override name = 'FileError';

  constructor(
    readonly path: string,
    /** What was being done: `read`, `write`, `create the directory`, `parse as JSON`, ... */
    readonly operation: string,
    readonly problem: string,
    /** The system error code, when the operating system refused (`ENOSPC`, `EROFS`, ...). */
    readonly code?: string,
  ) {
    super(`${path}: cannot ${operation}: ${problem}`);
  }
}

/** What each system error means to a user, and what to do about it. */
const REASONS: Record<string, string> = {
  ENOENT: 'it does not exist (check the path)',
  EISDIR: 'it is a directory; expected a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EACCES: 'permission denied; check its permissions or choose another location',
  EPERM: 'operation not permitted; check its permissions or choose another location',
  EROFS: 'the file system is read-only; choose a writable location (for a run directory: --run <dir>)',
  ENOSPC: 'no space left on the device; free some space and run the command again (with --resume to continue from the last checkpoint, which is intact)',
  EDQUOT: 'the disk quota is exceeded; free some space and run the command again (with --resume to continue from the last checkpoint)',
  EMFILE: 'too many open files; raise the limit (ulimit -n) and run again',
  EEXIST: 'something else already exists at this path; move it away',
};

/**
 * A `FileError` for a failed file operation: the system error code in words with what to do, or the error's own
 * message. A `FileError` passes through unchanged.
 *
 * @example
 * try { writeFileSync(path, data); } catch (error) { throw fileError(error, path, 'write'); }
 */
export function fileError(error: unknown, path: string, operation: string): FileError {
  if (error instanceof FileError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? undefined : REASONS[code];
  return new FileError(path, operation, reason ?? (error as Error).message, code);
}

/** Text files (configurations, vocabularies, tokenizer.json, manifests, checkpoint state) larger than this are refused. */
export const MAX_TEXT_FILE_BYTES = 256 * 1024 * 1024;

/** The most bytes one read can hold (Node's limit); larger weight files must be sharded. */
export const MAX_BINARY_FILE_BYTES = 2 ** 31 - 1;

/**
 * Reads a whole regular file of at most `maxBytes`; anything else (missing, a directory, a device, too large,
 * unreadable) is a `FileError` naming the file.
 *
 * @example
 * const bytes = readFileBounded('models/bert/model.safetensors', MAX_BINARY_FILE_BYTES);
 */
export function readFileBounded(path: string, maxBytes: number): Buffer {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new FileError(path, 'read', REASONS.EISDIR as string, 'EISDIR');
    if (!stat.isFile()) throw new FileError(path, 'read', 'it is not a regular file (a device, a pipe or a socket); expected a file');
    size = stat.size;
  } catch (error) {
    throw fileError(error, path, 'read');
  }
  if (size > maxBytes) {
    throw new FileError(path, 'read', `it has ${size} bytes, more than the ${maxBytes} a file of this kind may have; is it the right file?`);
  }
  try {
    return readFileSync(path);
  } catch (error) {
    throw fileError(error, path, 'read');
  }
}

/**
 * The byte offset of the first byte that is not part of a well-formed UTF-8 sequence (overlong forms, surrogates and
 * code points past U+10FFFF included), or -1 when all of `bytes` is UTF-8. A sequence cut off at the end counts as
 * invalid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1;
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] as number;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    const second = bytes[i + 1] ?? 0;
    // The second byte's range excludes overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (length > 1 && (second < low || second > high)) return i;
    for (let k = 2; k < length; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/**
 * The line of invalid UTF-8 at `bytes[at]` and a message with its file offset and byte, for `bytes` that start on
 * line `firstLine` at file offset `firstByte`.
 */
export function describeInvalidUtf8(bytes: Uint8Array, at: number, firstLine = 1, firstByte = 0): { line: number; message: string } {
  let line = firstLine;
  for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
  const shown = (bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, '0');
  return { line, message: `invalid UTF-8 at byte offset ${firstByte + at} (byte 0x${shown}); expected UTF-8 text: convert the file (e.g. iconv -f latin1 -t utf-8)` };
}

/**
 * Reads a UTF-8 text file of at most `maxBytes` (default `MAX_TEXT_FILE_BYTES`); invalid UTF-8 is refused with the
 * line and byte offset, never replaced.
 */
export function readTextFile(path: string, maxBytes = MAX_TEXT_FILE_BYTES): string {
  const bytes = readFileBounded(path, maxBytes);
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const { line, message } = describeInvalidUtf8(bytes, bad);
    throw new FileError(path, 'read', `line ${line}: ${message}`);
  }
  return bytes.toString('utf8');
}

/**
 * Reads and parses a JSON file; every failure (unreadable, empty, invalid UTF-8 or JSON) is a `FileError` naming the
 * file. `what` says what the file should be, for the message (`a run manifest`).
 *
 * @example
 * const json = readJsonFile('runs/glue/adapters/rte/adapter_config.json');
 */
export function readJsonFile(path: string, what = 'JSON'): unknown {
  const text = readTextFile(path);
  if (text.trim() === '') throw new FileError(path, 'parse as JSON', `the file is empty; expected ${what}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FileError(path, 'parse as JSON', `${(error as Error).message}; expected ${what}`);
  }
}

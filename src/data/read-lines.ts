import { createReadStream } from 'node:fs';
import { describeInvalidUtf8, fileError, firstInvalidUtf8 } from '../io/read-file';
import { DataFileError } from './data-error';

/** One line of a text file, without its line break. */
export interface Line {
  /** 1-based line number. */
  number: number;
  text: string;
}

/** A line longer than this is refused: no data file has one, and holding it could exhaust memory. */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Streams a data file as text, refusing bytes that are not UTF-8 (a Latin-1 `è`, a stray 0xFF) with a
 * `DataFileError` naming the line and byte offset, never replacing them; an unreadable file is a `FileError`.
 * Chunks end on whole characters.
 */
export async function* readUtf8Chunks(file: string): AsyncGenerator<string> {
  let carry: Buffer = Buffer.alloc(0);
  let offset = 0; // file offset of carry[0]
  let line = 1; // line of carry[0]
  const check = (bytes: Buffer): string => {
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) {
      const where = describeInvalidUtf8(bytes, bad, line, offset);
      throw new DataFileError(file, where.line, undefined, where.message);
    }
    for (const byte of bytes) if (byte === 0x0a) line++;
    offset += bytes.length;
    return bytes.toString('utf8');
  };
  try {
    for await (const chunk of createReadStream(file)) {
      const bytes = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
      // Keep a character cut by the chunk's end (at most 3 bytes of it) for the next chunk.
      let end = bytes.length;
      for (let back = 1; back <= 3 && back <= bytes.length; back++) {
        const byte = bytes[bytes.length - back] as number;
        if (byte < 0x80) break;
        if (byte >= 0xc0) {
          const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
          if (length > back) end = bytes.length - back;
          break;
        }
      }
      carry = bytes.subarray(end);
      yield check(bytes.subarray(0, end));
    }
  } catch (error) {
    if (error instanceof DataFileError) throw error;
    throw fileError(error, file, 'read');
  }
  if (carry.length > 0) yield check(carry);
}

/**
 * Streams the lines of a UTF-8 text file. `\n` and `\r\n` end lines (a lone `\r` is kept as text: GLUE files contain
 * none, and splitting on it would break a quoted field); a leading byte-order mark is dropped (MRPC's header has one).
 * Invalid UTF-8 and lines over `MAX_LINE_CHARS` are refused with a `DataFileError`.
 */
export async function* readLines(file: string): AsyncGenerator<Line> {
  let pending = '';
  let number = 0;
  for await (const chunk of readUtf8Chunks(file)) {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    if (pending.length > MAX_LINE_CHARS) throw new DataFileError(file, number + parts.length + 1, undefined, `expected lines of at most ${MAX_LINE_CHARS} characters, got a longer one; is this a data file?`);
    for (const part of parts) yield { number: ++number, text: clean(part, number) };
  }
  if (pending !== '') yield { number: ++number, text: clean(pending, number) };
}

function clean(text: string, number: number): string {
  const withoutBom = number === 1 && text.startsWith('\uFEFF') ? text.slice(1) : text;
  return withoutBom.endsWith('\r') ? withoutBom.slice(0, -1) : withoutBom;
}

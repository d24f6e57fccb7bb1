import { createReadStream } from 'node:fs';

/** One line of a text file, without its line break. */
export interface Line {
  /** 1-based line number. */
  number: number;
  text: string;
}

/**
 * Streams the lines of a UTF-8 text file. `\n` and `\r\n` end lines (a lone `\r` is kept as text: GLUE files contain
 * none, and splitting on it would break a quoted field); a leading byte-order mark is dropped (MRPC's header has one).
 */
export async function* readLines(file: string): AsyncGenerator<Line> {
  let pending = '';
  let number = 0;
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    const parts = (pending + (chunk as string)).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) yield { number: ++number, text: clean(part, number) };
  }
  if (pending !== '') yield { number: ++number, text: clean(pending, number) };
}

function clean(text: string, number: number): string {
  const withoutBom = number === 1 && text.startsWith('\uFEFF') ? text.slice(1) : text;
  return withoutBom.endsWith('\r') ? withoutBom.slice(0, -1) : withoutBom;
}

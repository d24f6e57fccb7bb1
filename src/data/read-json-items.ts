import { DataError, DataFileError } from './data-error';
import { MAX_LINE_CHARS, readUtf8Chunks } from './read-lines';

/** One element of a top-level JSON array, or one member of a top-level JSON object (then `key` is its name). */
export interface JsonItem {
  /** Line on which the element starts. */
  line: number;
  key?: string;
  value: unknown;
}

/**
 * Streams the elements of a file holding one JSON array (`[{...}, ...]`) or one object of rows (`{"id": {...}, ...}`),
 * parsing one element at a time so a large file is never held in memory whole. The scanner only tracks nesting and
 * strings to find where each top-level element ends; `JSON.parse` does the rest. An element that does not parse is
 * yielded as a `DataError` (the caller decides whether to skip it); a broken outer structure throws a `DataFileError`.
 */
export async function* readJsonItems(file: string): AsyncGenerator<JsonItem | DataError> {
  let container: '[' | '{' | undefined;
  let finished = false;
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: string[] = [];
  let itemLine = 0;
  let separators = 0;

  const emit = (): JsonItem | DataError | undefined => {
    const text = parts.join('').trim();
    parts = [];
    if (text === '') {
      // `[]` and `{}` are empty files of rows; an empty element elsewhere is a stray comma.
      return separators === 0 && itemLine === 0 ? undefined : new DataError(file, itemLine || line, undefined, 'expected a JSON value between commas, got nothing (a stray comma?)');
    }
    try {
      if (container === '[') return { line: itemLine, value: JSON.parse(text) as unknown };
      // A non-empty member text between separators is exactly one `"key": value` pair, or it does not parse.
      const [key, value] = Object.entries(JSON.parse(`{${text}}`) as Record<string, unknown>)[0] as [string, unknown];
      return { line: itemLine, key, value };
    } catch (error) {
      return new DataError(file, itemLine, undefined, `invalid JSON: ${(error as Error).message}`);
    }
  };

  for await (const text of readUtf8Chunks(file)) {
    let segmentStart = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (c === '\n') line++;
      if (container === undefined || finished) {
        if (/\s|\uFEFF/.test(c)) continue;
        if (finished) throw new DataFileError(file, line, undefined, `expected nothing after the closing "${container === '[' ? ']' : '}'}", got "${c}"`);
        if (c !== '[' && c !== '{') throw new DataFileError(file, line, undefined, `expected a JSON array or an object of rows, got "${c}"`);
        container = c;
        segmentStart = i + 1;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (depth === 0 && (c === ',' || c === ']' || c === '}')) {
        parts.push(text.slice(segmentStart, i));
        if (c === ',') separators++;
        else finished = true;
        const item = emit();
        if (item) yield item;
        itemLine = 0;
        segmentStart = i + 1;
        continue;
      }
      if (itemLine === 0 && !/\s/.test(c)) itemLine = line;
      if (c === '"') inString = true;
      else if (c === '[' || c === '{') depth++;
      else if (c === ']' || c === '}') depth--;
    }
    if (container !== undefined && !finished) {
      parts.push(text.slice(segmentStart));
      // One element as large as a line may be: a file that is one endless element is refused, not held in memory.
      if (parts.reduce((sum, part) => sum + part.length, 0) > MAX_LINE_CHARS) throw new DataFileError(file, itemLine || line, undefined, `expected elements of at most ${MAX_LINE_CHARS} characters, got a longer one`);
    }
  }
  if (container === undefined) throw new DataFileError(file, line, undefined, 'expected a JSON array or an object of rows, got an empty file');
  if (!finished) throw new DataFileError(file, line, undefined, `expected the closing "${container === '[' ? ']' : '}'}", got the end of the file`);
}

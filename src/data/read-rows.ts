import { extname } from 'node:path';
import { DataError, DataFileError } from './data-error';
import { readJsonItems } from './read-json-items';
import { readLines, type Line } from './read-lines';

/** A column: its header name (or JSON field name), or its 0-based position in a delimited file. */
export type Column = string | number;

/** A column, or alternatives of which the first the file has is used (BoolQ's label is `answer` or `label`). */
export type ColumnChoice = Column | readonly Column[];

/** File formats the readers understand. */
export type DataFormat = 'tsv' | 'csv' | 'jsonl' | 'json';

/** How readers treat bad lines. */
export interface BadLineOptions {
  /** Skip bad lines, counting them, instead of stopping at the first one (default false). */
  skipBadLines?: boolean;
  /** Receives the summary of skipped lines at the end of a file (default: `console.warn`). */
  warn?: (message: string) => void;
}

/** Options of `readRows`. */
export interface RowReadOptions extends BadLineOptions {
  /** Default: from the extension (`.tsv` and `.txt` tab-separated, `.csv`, `.jsonl`/`.ndjson`, `.json`). */
  format?: DataFormat;
  /** Delimited files: whether the first line names the columns (default true). */
  header?: boolean;
}

/**
 * One row of a data file: fields of a delimited line, or the fields of a JSON object.
 *
 * @example
 * for await (const row of readRows('data/rte/dev.tsv')) console.log(row.line, row.get('sentence1'));
 */
export class Row {
  constructor(
    readonly file: string,
    /** 1-based line on which the row starts. */
    readonly line: number,
    /** 0-based position among the file's rows (bad ones included, so positions do not shift when skipping). */
    readonly index: number,
    private readonly values: readonly string[] | Readonly<Record<string, unknown>>,
    private readonly header?: readonly string[],
    /** The member name when the file is a JSON object of rows. */
    readonly key?: string,
  ) {}

  /** The value of a column; a column that is not there is an error naming it. */
  get(column: Column): unknown {
    if (Array.isArray(this.values)) return this.values[this.position(column)];
    const record = this.values as Readonly<Record<string, unknown>>;
    if (typeof column === 'number') {
      throw new DataFileError(this.file, this.line, undefined, `expected a field name (JSON rows have named fields), got column index ${column}`);
    }
    const value = record[column];
    if (value === undefined || value === null) {
      throw new DataError(this.file, this.line, column, `expected a value, got ${value === null ? 'null' : `nothing (fields: ${Object.keys(record).join(', ')})`}`);
    }
    return value;
  }

  /** The column of a choice that this row has; with none of the alternatives, an error listing them. */
  resolve(choice: ColumnChoice): Column {
    if (!Array.isArray(choice)) return choice as Column;
    const found = choice.find((column) => this.has(column));
    if (found !== undefined) return found;
    const names = choice.map((column) => `"${this.columnName(column)}"`).join(' or ');
    if (Array.isArray(this.values)) throw new DataFileError(this.file, 1, undefined, `expected a column ${names} in the header, got ${(this.header ?? []).map((name) => `"${name}"`).join(', ')}`);
    throw new DataError(this.file, this.line, undefined, `expected a field ${names}, got none (fields: ${Object.keys(this.values).join(', ')})`);
  }

  /** Whether the row has a value in this column. */
  has(column: Column): boolean {
    if (Array.isArray(this.values)) return typeof column === 'number' ? column < this.values.length : (this.header?.includes(column) ?? false);
    const value = typeof column === 'string' ? (this.values as Readonly<Record<string, unknown>>)[column] : undefined;
    return value !== undefined && value !== null;
  }

  /** A readable name of a column for messages: its header name where there is one. */
  columnName(column: Column): string {
    return typeof column === 'number' ? (this.header?.[column] ?? `column ${column}`) : column;
  }

  private position(column: Column): number {
    const fields = this.values.length as number;
    if (typeof column === 'number') {
      if (column < 0 || column >= fields) throw new DataFileError(this.file, this.line, undefined, `expected a column index below ${fields}, got ${column}`);
      return column;
    }
    if (!this.header) {
      throw new DataFileError(this.file, this.line, undefined, `expected columns by index (the file is read without a header), got the name "${column}"`);
    }
    const index = this.header.indexOf(column);
    if (index < 0) throw new DataFileError(this.file, 1, undefined, `expected a column "${column}" in the header, got ${this.header.map((name) => `"${name}"`).join(', ')}`);
    return index;
  }
}

/** The format a file's extension implies. */
export function formatOf(file: string): DataFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.tsv' || ext === '.txt') return 'tsv';
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  throw new Error(`${file}: expected a .tsv, .txt, .csv, .jsonl, .ndjson or .json file, got "${ext || 'no extension'}"; set "format" to read it anyway`);
}

/**
 * Splits one CSV record (RFC 4180: comma-separated, fields optionally in double quotes, `""` for a quote inside
 * quotes, line breaks allowed inside quotes). Returns undefined while a quoted field is still open, so the caller
 * can append the next line.
 */
function splitCsv(text: string, file: string, line: number): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0) return undefined;
        field += text.slice(i, close);
        if (text[close + 1] === '"') {
          field += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      if (i < text.length && text[i] !== ',') {
        throw new DataError(file, line, `column ${fields.length}`, `expected a comma after the closing quote, got "${text[i]}"`);
      }
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      field = text.slice(i, end);
      i = end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

/**
 * Delimited records: tab-separated lines as they are (no quoting, as GLUE writes them), or CSV records. A CSV record
 * that spans lines and turns out bad (its quote never closes, or text follows the closing quote) is reported at the
 * line where it opened, and the lines after that one are read again as records of their own: one stray quote costs
 * one row, not the rest of the file.
 */
async function* records(file: string, format: 'tsv' | 'csv'): AsyncGenerator<{ line: number; fields: string[] } | DataError> {
  let open: Line[] = [];
  // Lines to read (again) before the next one from the file.
  const queue: Line[] = [];
  const lines = readLines(file)[Symbol.asyncIterator]();
  for (;;) {
    let current = queue.shift();
    if (!current) {
      const next = await lines.next();
      if (next.done) {
        if (open.length === 0) break;
        const [first, ...rest] = open;
        open = [];
        queue.push(...rest);
        yield new DataError(file, (first as Line).number, undefined, 'expected a closing quote, got the end of the file (a quoted field opened on this line is never closed)');
        continue;
      }
      current = next.value;
    }
    if (format === 'tsv') {
      if (current.text !== '') yield { line: current.number, fields: current.text.split('\t') };
      continue;
    }
    if (open.length === 0 && current.text === '') continue;
    open.push(current);
    const first = open[0] as Line;
    try {
      const fields = splitCsv(open.map((line) => line.text).join('\n'), file, first.number);
      if (!fields) continue;
      yield { line: first.number, fields };
      open = [];
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      queue.unshift(...open.slice(1));
      open = [];
      yield error;
    }
  }
}

/** Rows (or line errors) of a file, before any bad-line policy. */
export async function* rowsOrErrors(file: string, options: RowReadOptions = {}): AsyncGenerator<Row | DataError> {
  const format = options.format ?? formatOf(file);
  let index = 0;
  if (format === 'jsonl') {
    for await (const { number, text } of readLines(file)) {
      if (text.trim() === '') continue;
      yield jsonRow(file, number, index++, () => JSON.parse(text) as unknown);
    }
  } else if (format === 'json') {
    for await (const item of readJsonItems(file)) {
      yield item instanceof DataError ? item : jsonRow(file, item.line, index, () => item.value, item.key);
      index++;
    }
  } else {
    let header: string[] | undefined;
    let expected: number | undefined;
    const separator = format === 'tsv' ? 'tab' : 'comma';
    for await (const record of records(file, format)) {
      if (record instanceof DataError) {
        // Without its header the file cannot be read at all.
        if (options.header !== false && !header) throw new DataFileError(record.file, record.line, record.field, record.detail);
        index++;
        yield record;
      } else if (options.header !== false && !header) {
        header = record.fields;
        expected = header.length;
      } else {
        expected ??= record.fields.length;
        const names = header ? ` (${header.join(', ')})` : '';
        yield record.fields.length === expected
          ? new Row(file, record.line, index, record.fields, header)
          : new DataError(file, record.line, undefined, `expected ${expected} ${separator}-separated fields${names}, got ${record.fields.length}`);
        index++;
      }
    }
  }
}

function jsonRow(file: string, line: number, index: number, parse: () => unknown, key?: string): Row | DataError {
  let value: unknown;
  try {
    value = parse();
  } catch (error) {
    return new DataError(file, line, undefined, `invalid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return new DataError(file, line, undefined, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  return new Row(file, line, index, value as Record<string, unknown>, undefined, key);
}

/**
 * Applies the bad-line policy to a stream of items and line errors: stop at the first bad line (default), or skip
 * bad lines and report their count at the end. Errors about the file as a whole always stop.
 */
export async function* skippingBadLines<T>(file: string, items: AsyncIterable<T | DataError>, options: BadLineOptions = {}): AsyncGenerator<T> {
  let skipped = 0;
  let first: DataError | undefined;
  try {
    for await (const item of items) {
      if (!(item instanceof DataError)) {
        yield item;
        continue;
      }
      if (item instanceof DataFileError) throw item;
      if (!options.skipBadLines) {
        throw new DataError(item.file, item.line, item.field, `${item.detail} (reading stops at the first bad line; set skipBadLines to skip bad lines and count them)`);
      }
      skipped++;
      first ??= item;
    }
  } finally {
    if (first) (options.warn ?? console.warn)(`${file}: skipped ${skipped} bad line${skipped === 1 ? '' : 's'}; the first: ${first.message}`);
  }
}

/**
 * Streams the rows of a TSV, CSV, JSONL or JSON file, a line at a time. TSV follows GLUE (no quoting: quotes are
 * text); CSV follows RFC 4180; JSON is an array of objects or an object of rows keyed by id. Blank lines are ignored.
 * A wrong field count or invalid JSON stops reading with an error naming the file and line, or, with
 * `skipBadLines`, is skipped and counted.
 *
 * @example
 * for await (const row of readRows('data/cola/train.tsv', { header: false })) console.log(row.get(3), row.get(1));
 */
export function readRows(file: string, options: RowReadOptions = {}): AsyncGenerator<Row> {
  return skippingBadLines(file, rowsOrErrors(file, options), options);
}

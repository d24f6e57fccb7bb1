import type { Example, HeadSpec } from '../task/task-plugin';
import { DataError } from './data-error';
import { rowsOrErrors, skippingBadLines, type BadLineOptions, type Column, type ColumnChoice, type DataFormat, type Row } from './read-rows';

/**
 * Which columns of a file make an `Example`. Columns are header names, JSON field names, or 0-based positions in a
 * delimited file read with `header: false`; a list of alternatives uses the first the file has.
 */
export interface ColumnMapping {
  /** Default: from the file extension. */
  format?: DataFormat;
  /** Delimited files: whether the first line names the columns (default true). */
  header?: boolean;
  /** Default: the member name in a JSON object of rows, else the row's 0-based position in the file. */
  id?: ColumnChoice;
  /** The text, or the first text of a pair; for multiple choice, the shared context. Not used by tagging. */
  text?: ColumnChoice;
  /** The second text of a pair. */
  textPair?: ColumnChoice;
  /** Multiple choice: one column per choice, `numChoices` of them. */
  choices?: readonly Column[];
  /** Tagging: the words, as a JSON array or whitespace-separated. */
  words?: ColumnChoice;
  /** The gold label; leave out on unlabelled splits. */
  label?: ColumnChoice;
  /** Renames raw label values before they are looked up in the head's labels (e.g. SciTail's `entails` → `entailment`). */
  labelMap?: Readonly<Record<string, string>>;
}

function textOf(row: Row, column: Column): string {
  const value = row.get(column);
  if (typeof value !== 'string') throw new DataError(row.file, row.line, row.columnName(column), `expected a text, got ${JSON.stringify(value)}`);
  if (value.trim() === '') throw new DataError(row.file, row.line, row.columnName(column), `expected a non-empty text, got ${JSON.stringify(value)}`);
  return value;
}

/** A list field: a JSON array, or a string split on `separator`. */
function listOf(row: Row, column: Column, separator: RegExp): string[] {
  const value = row.get(column);
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(separator).filter((item) => item !== '') : undefined;
  if (!items) throw new DataError(row.file, row.line, row.columnName(column), `expected a list, got ${JSON.stringify(value)}`);
  return items.map((item) => String(item));
}

function classIndex(row: Row, column: Column, raw: unknown, labels: readonly string[], labelMap: ColumnMapping['labelMap']): number {
  const name = typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : JSON.stringify(raw);
  const index = labels.indexOf(labelMap?.[name] ?? name);
  if (index < 0) {
    const known = labelMap ? [...labels, ...Object.keys(labelMap)] : labels;
    throw new DataError(row.file, row.line, row.columnName(column), `expected one of ${known.map((label) => `"${label}"`).join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return index;
}

function numberOf(row: Row, column: Column, raw: unknown): number {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(value)) throw new DataError(row.file, row.line, row.columnName(column), `expected a number, got ${JSON.stringify(raw)}`);
  return value;
}

function labelOf(row: Row, column: Column, head: HeadSpec, mapping: ColumnMapping, wordCount: number): number | number[] {
  const where = (detail: string): DataError => new DataError(row.file, row.line, row.columnName(column), detail);
  switch (head.type) {
    case 'classification':
      return classIndex(row, column, row.get(column), head.labels, mapping.labelMap);
    case 'multi-label':
      return listOf(row, column, /\s*,\s*/).map((label) => classIndex(row, column, label, head.labels, mapping.labelMap));
    case 'tagging': {
      const tags = listOf(row, column, /\s+/).map((tag) => classIndex(row, column, tag, head.labels, mapping.labelMap));
      if (tags.length !== wordCount) throw where(`expected one tag per word (${wordCount}), got ${tags.length}`);
      return tags;
    }
    case 'regression': {
      const value = numberOf(row, column, row.get(column));
      if (head.range && (value < head.range[0] || value > head.range[1])) throw where(`expected a number in [${head.range[0]}, ${head.range[1]}], got ${value}`);
      return value;
    }
    case 'multiple-choice': {
      const value = numberOf(row, column, row.get(column));
      if (!Number.isInteger(value) || value < 0 || value >= head.numChoices) throw where(`expected a choice index from 0 to ${head.numChoices - 1}, got ${value}`);
      return value;
    }
  }
}

function toExample(row: Row, head: HeadSpec, mapping: ColumnMapping): Example {
  const id = mapping.id === undefined ? (row.key ?? String(row.index)) : String(row.get(row.resolve(mapping.id)));
  const example: Example = { id, text: '' };
  if (head.type === 'tagging') {
    const column = row.resolve(mapping.words as ColumnChoice);
    example.words = listOf(row, column, /\s+/);
    if (example.words.length === 0) throw new DataError(row.file, row.line, row.columnName(column), 'expected at least one word, got none');
    example.text = example.words.join(' ');
  } else {
    example.text = textOf(row, row.resolve(mapping.text as ColumnChoice));
  }
  if (mapping.textPair !== undefined) example.textPair = textOf(row, row.resolve(mapping.textPair));
  if (mapping.choices) example.choices = mapping.choices.map((column) => textOf(row, column));
  if (mapping.label !== undefined) example.label = labelOf(row, row.resolve(mapping.label), head, mapping, example.words?.length ?? 0);
  return example;
}

/** Mapping mistakes are programming errors, reported before any line is read. */
function checkMapping(file: string, head: HeadSpec, mapping: ColumnMapping): void {
  const problem =
    head.type === 'tagging'
      ? mapping.words === undefined && 'a tagging head needs a "words" column'
      : mapping.text === undefined && 'a "text" column is needed';
  if (problem) throw new Error(`${file}: column mapping: ${problem}`);
  if (head.type === 'multiple-choice' && mapping.choices?.length !== head.numChoices) {
    throw new Error(`${file}: column mapping: expected ${head.numChoices} "choices" columns for the multiple-choice head, got ${mapping.choices?.length ?? 0}`);
  }
}

/**
 * Streams the examples of a data file: reads rows (see `readRows`), picks the mapped columns and turns labels into
 * what the head expects (class index, value, class indices, tag indices or choice index). A bad line (wrong field
 * count, invalid JSON, missing field, empty text, a label outside the head's labels) stops reading with an error
 * naming the file, line and field, or, with `skipBadLines`, is skipped and counted.
 *
 * @example
 * const head = { type: 'classification', labels: ['entailment', 'not_entailment'] } as const;
 * for await (const example of readExamples('data/rte/dev.tsv', head, { id: 'index', text: 'sentence1', textPair: 'sentence2', label: 'label' })) {
 *   console.log(example.id, example.label);
 * }
 */
export function readExamples(file: string, head: HeadSpec, mapping: ColumnMapping, options: BadLineOptions = {}): AsyncGenerator<Example> {
  checkMapping(file, head, mapping);
  async function* convert(): AsyncGenerator<Example | DataError> {
    for await (const row of rowsOrErrors(file, mapping)) {
      if (row instanceof DataError) {
        yield row;
        continue;
      }
      let example: Example | DataError;
      try {
        example = toExample(row, head, mapping);
      } catch (error) {
        if (!(error instanceof DataError)) throw error;
        example = error;
      }
      yield example;
    }
  }
  return skippingBadLines(file, convert(), options);
}

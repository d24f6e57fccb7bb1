/**
 * A problem with one line of a data file. The message names the file, the line and, where one is at fault, the field,
 * and says what was expected and what was found.
 *
 * @example
 * throw new DataError('data/rte/train.tsv', 12, 'label', 'expected one of "entailment", "not_entailment", got "maybe"');
 * // data/rte/train.tsv line 12, field "label": expected one of "entailment", "not_entailment", got "maybe"
 */
export class DataError extends Error {
  override name = 'DataError';

  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    super(`${file} line ${line}${field === undefined ? '' : `, field "${field}"`}: ${detail}`);
  }
}

/** A line-level problem that makes a file unreadable as a whole (a bad header, a broken JSON structure): never skipped. */
export class DataFileError extends DataError {
  override name = 'DataFileError';
}

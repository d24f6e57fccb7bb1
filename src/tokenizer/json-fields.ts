import { readJsonFile } from '../io/read-file';
import { TokenizerError } from './tokenizer-error';

/** A JSON object as read from a tokenizer file. */
export type Json = Record<string, unknown>;

/** A value as an error message shows it. */
export function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

/**
 * Reads the fields of one tokenizer file, throwing a `TokenizerError` that names the file, the dotted field, what was
 * expected and what was found.
 */
export class JsonFields {
  constructor(
    /** The file the fields come from. */
    readonly source: string,
  ) {}

  /** The file parsed as JSON; `what` says what it should be, for the message of a `FileError`. */
  static parse(path: string, what: string): unknown {
    return readJsonFile(path, what);
  }

  /** Throws `<file>: <field>: expected <expected>, got <got as JSON>`. */
  fail(field: string, expected: string, got: unknown): never {
    throw new TokenizerError(this.source, `${field}: expected ${expected}, got ${show(got)}`);
  }

  /** A JSON object (not null, not an array). */
  object(value: unknown, field: string): Json {
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Json)
      : this.fail(field, 'an object', value);
  }

  /** A JSON array. */
  array(value: unknown, field: string): unknown[] {
    return Array.isArray(value) ? value : this.fail(field, 'an array', value);
  }

  /** A string. */
  string(value: unknown, field: string): string {
    return typeof value === 'string' ? value : this.fail(field, 'a string', value);
  }

  /** A number. */
  number(value: unknown, field: string): number {
    return typeof value === 'number' ? value : this.fail(field, 'a number', value);
  }

  /** A boolean; `fallback` stands in for an absent or null field where one is given. */
  flag(value: unknown, field: string, fallback?: boolean): boolean {
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    return typeof value === 'boolean' ? value : this.fail(field, 'true or false', value);
  }

  /** A string, or null when the field is absent or null. */
  optionalString(value: unknown, field: string): string | null {
    return value === undefined || value === null ? null : this.string(value, field);
  }
}

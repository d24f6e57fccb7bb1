/**
 * A vocabulary or tokenizer file cannot be used. The message starts with what was read (a file, a directory, or
 * "vocabulary given in code"), then says what was expected and what was found.
 *
 * @example
 * try {
 *   await loadTokenizer('models/bert');
 * } catch (error) {
 *   if (error instanceof TokenizerError) console.error(error.message);
 * }
 */
export class TokenizerError extends Error {
  constructor(
    /** The file, directory or vocabulary the problem is in. */
    readonly source: string,
    problem: string,
  ) {
    super(`${source}: ${problem}`);
    this.name = 'TokenizerError';
  }
}

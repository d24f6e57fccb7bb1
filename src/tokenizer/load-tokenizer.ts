import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from '../io/read-file';
import { readTokenizerJson } from './read-tokenizer-json';
import { TokenizerError } from './tokenizer-error';
import type { Tokenizer } from './tokenizer';
import { WordPieceTokenizer, type WordPieceTokenizerOptions } from './word-piece-tokenizer';

/**
 * The options a Hugging Face `tokenizer_config.json` sets (`do_lower_case`, `strip_accents`,
 * `tokenize_chinese_chars`); other keys are ignored.
 */
function readTokenizerConfig(path: string): WordPieceTokenizerOptions {
  const config = readJsonFile(path, 'a Hugging Face tokenizer_config.json');
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new TokenizerError(path, `expected a JSON object, got ${JSON.stringify(config)}`);
  }
  const fields = config as Record<string, unknown>;
  const options: WordPieceTokenizerOptions = {};
  const keys = [
    ['do_lower_case', 'doLowerCase'],
    ['strip_accents', 'stripAccents'],
    ['tokenize_chinese_chars', 'tokenizeChineseChars'],
  ] as const;
  for (const [key, option] of keys) {
    const value = fields[key];
    // null means "not set" (strip_accents: null follows do_lower_case).
    if (value === undefined || value === null) continue;
    if (typeof value !== 'boolean')
      throw new TokenizerError(path, `${key}: expected true or false, got ${JSON.stringify(value)}`);
    options[option] = value;
  }
  return options;
}

/**
 * Refuses a tokenizer with more entries than the model's `vocab_size`: ids past it have no embedding and would fail
 * inside a kernel long after training started. `modelDir` names the model in the message.
 *
 * @example
 * checkTokenizerFitsModel(tokenizer, 'models/bert', backbone.config, 'models/bert');
 */
export function checkTokenizerFitsModel(tokenizer: Pick<Tokenizer, 'vocabSize'>, tokenizerDir: string, model: { vocabSize: number }, modelDir: string): void {
  if (tokenizer.vocabSize > model.vocabSize) {
    throw new TokenizerError(
      tokenizerDir,
      `the tokenizer has ${tokenizer.vocabSize} entries, more than the model's vocab_size ${model.vocabSize} (${join(modelDir, 'config.json')}); ` +
        'token ids past it have no embedding: use the tokenizer that belongs to this model',
    );
  }
}

/**
 * Loads the tokenizer of a Hugging Face model directory: `vocab.txt` when present, else `tokenizer.json` (a BERT
 * WordPiece fast tokenizer, read into the same implementation). `tokenizer_config.json`, when present, overrides
 * `do_lower_case`, `strip_accents` and `tokenize_chinese_chars`; without it a `vocab.txt` is lowercased unless it is
 * cased, and a `tokenizer.json` follows its normalizer.
 *
 * @example
 * const tokenizer = await loadTokenizer('models/bert-base-uncased');
 * const encoding = tokenizer.encode('Adapters are small.', null, { maxLength: 128 });
 */
export async function loadTokenizer(dir: string): Promise<WordPieceTokenizer> {
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? readTokenizerConfig(configPath) : {};
  const vocabPath = join(dir, 'vocab.txt');
  if (existsSync(vocabPath)) return WordPieceTokenizer.fromVocabFile(vocabPath, config);
  const jsonPath = join(dir, 'tokenizer.json');
  if (existsSync(jsonPath)) {
    const { tokens, options } = readTokenizerJson(jsonPath);
    return WordPieceTokenizer.fromVocab(tokens, { ...options, ...config });
  }
  throw new TokenizerError(dir, 'no tokenizer found: expected vocab.txt or tokenizer.json in this directory');
}

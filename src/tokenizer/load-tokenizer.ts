import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readTextFile } from '../io/read-file';
import type { AddedToken } from './added-tokens';
import { BpeModel } from './bpe-model';
import { JsonFields, type Json } from './json-fields';
import { PipelineTokenizer } from './pipeline-tokenizer';
import { configToken, padTokenId, pipelineFromJson, readVocabulary } from './pipeline-from-json';
import { NO_SPECIAL_TOKENS, robertaProcessing } from './post-processor';
import { readPreTokenizer } from './pre-tokenizers';
import { wordPieceFromJson } from './read-tokenizer-json';
import type { Tokenizer } from './tokenizer';
import { TokenizerError } from './tokenizer-error';
import { WordPieceTokenizer, type WordPieceTokenizerOptions } from './word-piece-tokenizer';

/**
 * The options a Hugging Face `tokenizer_config.json` sets for WordPiece (`do_lower_case`, `strip_accents`,
 * `tokenize_chinese_chars`); other keys are ignored.
 */
function wordPieceOptions(config: Json, fields: JsonFields): WordPieceTokenizerOptions {
  const options: WordPieceTokenizerOptions = {};
  const keys = [
    ['do_lower_case', 'doLowerCase'],
    ['strip_accents', 'stripAccents'],
    ['tokenize_chinese_chars', 'tokenizeChineseChars'],
  ] as const;
  for (const [key, option] of keys) {
    const value = config[key];
    // null means "not set" (strip_accents: null follows do_lower_case).
    if (value === undefined || value === null) continue;
    options[option] = fields.flag(value, key);
  }
  return options;
}

/** RoBERTa's special tokens, which `tokenizer_config.json` may rename. */
const ROBERTA_SPECIAL_TOKENS = {
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
  sep_token: '</s>',
  cls_token: '<s>',
  pad_token: '<pad>',
  mask_token: '<mask>',
} as const;

/**
 * A legacy byte-level BPE tokenizer (`vocab.json` + `merges.txt`, as RoBERTa and GPT-2 checkpoints ship them): GPT-2
 * pre-tokenization with `add_prefix_space` from `tokenizer_config.json` (default false), RoBERTa's `<s> a </s></s>
 * b </s>` when the vocabulary holds the `cls_token` and `sep_token` (default `<s>`, `</s>`), the special tokens cut
 * out of the text and `<mask>` taking the space before it.
 */
function byteLevelBpe(dir: string, config: Json, configFields: JsonFields): PipelineTokenizer {
  const vocabPath = join(dir, 'vocab.json');
  const vocabFields = new JsonFields(vocabPath);
  const vocabulary = readVocabulary(JsonFields.parse(vocabPath, 'a byte-level BPE vocab.json'), vocabFields, '(root)');
  const mergesPath = join(dir, 'merges.txt');
  const lines = readTextFile(mergesPath).split(/\r?\n/);
  const merges = lines.flatMap((line, index): Array<[string, string]> => {
    if ((index === 0 && line.startsWith('#version')) || line.length === 0) return [];
    const pair = line.split(' ');
    if (pair.length !== 2) throw new TokenizerError(mergesPath, `line ${index + 1}: expected two tokens separated by a space, got ${JSON.stringify(line)}`);
    return [pair as [string, string]];
  });
  const special = (key: keyof typeof ROBERTA_SPECIAL_TOKENS): string => configToken(config, key) ?? ROBERTA_SPECIAL_TOKENS[key];
  const unk = special('unk_token');
  const model = new BpeModel(vocabulary, merges, mergesPath, { unkToken: vocabulary.has(unk) ? unk : null });
  const tokens: string[] = [];
  for (const [token, id] of vocabulary) tokens[id] = token;
  const addedTokens = (Object.keys(ROBERTA_SPECIAL_TOKENS) as Array<keyof typeof ROBERTA_SPECIAL_TOKENS>).flatMap((key): AddedToken[] => {
    const content = special(key);
    const id = vocabulary.get(content);
    return id === undefined ? [] : [{ id, content, singleWord: false, lstrip: key === 'mask_token', rstrip: false, normalized: false }];
  });
  const [cls, sep] = [vocabulary.get(special('cls_token')), vocabulary.get(special('sep_token'))];
  const addPrefixSpace = configFields.flag(config.add_prefix_space, 'add_prefix_space', false);
  return new PipelineTokenizer({
    normalize: (text) => text,
    preTokenize: readPreTokenizer({ type: 'ByteLevel', add_prefix_space: addPrefixSpace }, 'pre_tokenizer', vocabFields),
    model,
    postProcessor: cls !== undefined && sep !== undefined ? robertaProcessing(cls, sep) : NO_SPECIAL_TOKENS,
    addedTokens,
    tokens,
    padTokenId: padTokenId(vocabulary, config, null, configFields),
  });
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
 * Loads the tokenizer of a Hugging Face model directory, trying in turn:
 *
 * - `vocab.txt`: BERT WordPiece, exactly as the Python `BertTokenizer`;
 * - `tokenizer.json`: WordPiece (BERT's normalizer and pre-tokenizer), byte-level BPE (RoBERTa, GPT-2) or
 *   SentencePiece unigram (XLM-R, ALBERT, T5), run as Hugging Face's `tokenizers` runs the file;
 * - `vocab.json` + `merges.txt`: byte-level BPE as RoBERTa ships it.
 *
 * `tokenizer_config.json`, when present, overrides WordPiece's `do_lower_case`, `strip_accents` and
 * `tokenize_chinese_chars` and names the padding token (and, for `vocab.json`, the special tokens and
 * `add_prefix_space`).
 *
 * @example
 * const tokenizer = await loadTokenizer('models/bert-base-uncased');
 * const encoding = tokenizer.encode('Adapters are small.', null, { maxLength: 128 });
 */
export async function loadTokenizer(dir: string): Promise<WordPieceTokenizer | PipelineTokenizer> {
  const configPath = join(dir, 'tokenizer_config.json');
  const configFields = new JsonFields(configPath);
  const config = existsSync(configPath) ? configFields.object(JsonFields.parse(configPath, 'a Hugging Face tokenizer_config.json'), '(root)') : {};
  const vocabPath = join(dir, 'vocab.txt');
  if (existsSync(vocabPath)) return WordPieceTokenizer.fromVocabFile(vocabPath, wordPieceOptions(config, configFields));
  const jsonPath = join(dir, 'tokenizer.json');
  if (existsSync(jsonPath)) {
    const fields = new JsonFields(jsonPath);
    const json = fields.object(JsonFields.parse(jsonPath, 'a Hugging Face tokenizer.json'), '(root)');
    if ((json.model as { type?: unknown } | null)?.type !== 'WordPiece') return pipelineFromJson(json, fields, config);
    const { tokens, options } = wordPieceFromJson(json, fields);
    return WordPieceTokenizer.fromVocab(tokens, { ...options, ...wordPieceOptions(config, configFields) });
  }
  if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) return byteLevelBpe(dir, config, configFields);
  throw new TokenizerError(dir, 'no tokenizer found: expected vocab.txt, tokenizer.json, or vocab.json and merges.txt in this directory');
}

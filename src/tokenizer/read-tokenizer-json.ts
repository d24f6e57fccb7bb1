import { JsonFields, show, type Json } from './json-fields';
import { TokenizerError } from './tokenizer-error';
import { BERT_SPECIAL_TOKENS, type WordPieceTokenizerOptions } from './word-piece-tokenizer';

/** A BERT WordPiece vocabulary and options read from a Hugging Face `tokenizer.json`. */
export interface TokenizerJson {
  /** Vocabulary in id order. */
  tokens: string[];
  /** The BertNormalizer flags and the WordPiece model's settings. */
  options: WordPieceTokenizerOptions;
}

const BERT_TEMPLATES = { single: '[CLS]:0 $A:0 [SEP]:0', pair: '[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1' };

/**
 * Reads a Hugging Face fast-tokenizer file holding a BERT WordPiece tokenizer (WordPiece model, BertNormalizer,
 * BertPreTokenizer, TemplateProcessing or BertProcessing). Anything else (BPE, other normalizers, extra added tokens,
 * another special-token template) is refused with the field named, rather than tokenized differently.
 *
 * @example
 * const { tokens, options } = readTokenizerJson('models/bert/tokenizer.json');
 * const tokenizer = WordPieceTokenizer.fromVocab(tokens, options);
 */
export function readTokenizerJson(path: string): TokenizerJson {
  return wordPieceFromJson(JsonFields.parse(path, 'a Hugging Face tokenizer.json'), new JsonFields(path));
}

/** `readTokenizerJson` on a parsed file; `fields` names the file in errors. */
export function wordPieceFromJson(root: unknown, fields: JsonFields): TokenizerJson {
  const fail = (field: string, expected: string, got: string): never => {
    throw new TokenizerError(fields.source, `${field}: expected ${expected}, got ${got}`);
  };
  const object = (value: unknown, field: string): Json => fields.object(value, field);
  const flag = (value: unknown, field: string): boolean => fields.flag(value, field);

  const json = object(root, '(root)');
  const model = object(json.model, 'model');
  if (model.type !== 'WordPiece') fail('model.type', '"WordPiece"', show(model.type));
  if (model.unk_token !== BERT_SPECIAL_TOKENS.unk)
    fail('model.unk_token', `"${BERT_SPECIAL_TOKENS.unk}"`, show(model.unk_token));
  const prefix = model.continuing_subword_prefix;
  if (typeof prefix !== 'string') fail('model.continuing_subword_prefix', 'a string', show(prefix));
  const maxChars = model.max_input_chars_per_word;
  if (typeof maxChars !== 'number') fail('model.max_input_chars_per_word', 'a number', show(maxChars));

  const vocab = object(model.vocab, 'model.vocab');
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      fail(`model.vocab["${token}"]`, 'a token id', show(id));
    const holder = tokens[id as number];
    if (holder !== undefined)
      fail(`model.vocab["${token}"]`, `an id no other token has ("${holder}" has it)`, show(id));
    tokens[id as number] = token;
  }
  for (let id = 0; id < tokens.length; id++) {
    if (tokens[id] === undefined)
      fail('model.vocab', `ids 0 to ${tokens.length - 1} without gaps`, `no token with id ${id}`);
  }
  for (const special of Object.values(BERT_SPECIAL_TOKENS)) {
    if (vocab[special] === undefined) fail('model.vocab', `the BERT special token "${special}"`, 'no such entry');
  }

  const normalizer = object(json.normalizer, 'normalizer');
  if (normalizer.type !== 'BertNormalizer') fail('normalizer.type', '"BertNormalizer"', show(normalizer.type));
  const stripAccents =
    normalizer.strip_accents === null ? undefined : flag(normalizer.strip_accents, 'normalizer.strip_accents');
  const preTokenizer = object(json.pre_tokenizer, 'pre_tokenizer');
  if (preTokenizer.type !== 'BertPreTokenizer')
    fail('pre_tokenizer.type', '"BertPreTokenizer"', show(preTokenizer.type));

  const vocabId = (token: string): number | undefined => {
    const id = vocab[token];
    return typeof id === 'number' ? id : undefined;
  };
  checkPostProcessor(object(json.post_processor, 'post_processor'), vocabId, fail);
  const addedTokens = Array.isArray(json.added_tokens)
    ? json.added_tokens
    : fail('added_tokens', 'an array', show(json.added_tokens));
  addedTokens.forEach((added, index) => {
    const { content, id } = object(added, `added_tokens[${index}]`);
    const isBertSpecial = (Object.values(BERT_SPECIAL_TOKENS) as unknown[]).includes(content);
    if (!isBertSpecial || vocabId(content as string) !== id) {
      fail(`added_tokens[${index}]`, 'only the BERT special tokens, with their vocabulary ids', show({ content, id }));
    }
  });

  return {
    tokens,
    options: {
      doLowerCase: flag(normalizer.lowercase, 'normalizer.lowercase'),
      ...(stripAccents === undefined ? {} : { stripAccents }),
      tokenizeChineseChars: flag(normalizer.handle_chinese_chars, 'normalizer.handle_chinese_chars'),
      cleanText: flag(normalizer.clean_text, 'normalizer.clean_text'),
      continuingSubwordPrefix: prefix as string,
      maxInputCharsPerWord: maxChars as number,
    },
  };
}

/** The post-processor must add `[CLS]`/`[SEP]` the way BERT does, with the vocabulary's ids. */
function checkPostProcessor(
  processor: Json,
  vocabId: (token: string) => number | undefined,
  fail: (field: string, expected: string, got: string) => never,
): void {
  const expectedIds = `[CLS] as ${vocabId(BERT_SPECIAL_TOKENS.cls)} and [SEP] as ${vocabId(BERT_SPECIAL_TOKENS.sep)}`;
  if (processor.type === 'BertProcessing') {
    const { cls, sep } = processor;
    const found = JSON.stringify({ cls, sep });
    const expected = JSON.stringify({
      cls: [BERT_SPECIAL_TOKENS.cls, vocabId(BERT_SPECIAL_TOKENS.cls)],
      sep: [BERT_SPECIAL_TOKENS.sep, vocabId(BERT_SPECIAL_TOKENS.sep)],
    });
    if (found !== expected) fail('post_processor', expectedIds, show({ cls, sep }));
    return;
  }
  if (processor.type !== 'TemplateProcessing')
    fail('post_processor.type', '"TemplateProcessing" or "BertProcessing"', show(processor.type));
  for (const [name, expected] of Object.entries(BERT_TEMPLATES)) {
    const template = processor[name];
    const found = Array.isArray(template) ? template.map(describeTemplatePiece).join(' ') : template;
    if (found !== expected) fail(`post_processor.${name}`, `"${expected}"`, show(found));
  }
  const specialTokens = (processor.special_tokens ?? {}) as Record<string, { ids?: unknown } | undefined>;
  for (const token of [BERT_SPECIAL_TOKENS.cls, BERT_SPECIAL_TOKENS.sep]) {
    const ids = specialTokens[token]?.ids;
    if (JSON.stringify(ids) !== JSON.stringify([vocabId(token)]))
      fail(`post_processor.special_tokens["${token}"].ids`, expectedIds, show(ids));
  }
}

/** A template piece as text: `[CLS]:0` for a special token, `$A:0` for a sequence, each with its type id. */
function describeTemplatePiece(piece: unknown): string {
  const { SpecialToken: special, Sequence: sequence } = (piece ?? {}) as Record<
    string,
    { id?: unknown; type_id?: unknown } | undefined
  >;
  if (special) return `${String(special.id)}:${String(special.type_id)}`;
  if (sequence) return `$${String(sequence.id)}:${String(sequence.type_id)}`;
  return JSON.stringify(piece);
}

import type { AddedToken } from './added-tokens';
import { BpeModel } from './bpe-model';
import type { Json, JsonFields } from './json-fields';
import { readNormalizer } from './normalizers';
import { PipelineTokenizer } from './pipeline-tokenizer';
import { readPostProcessor } from './post-processor';
import { readPreTokenizer } from './pre-tokenizers';
import { UnigramModel } from './unigram-model';

/** The model types a `tokenizer.json` may name (WordPiece goes to `WordPieceTokenizer`, the others here). */
export const MODEL_TYPES = ['WordPiece', 'BPE', 'Unigram'];

/** The token a `tokenizer_config.json` entry names: a string, or an object with `content`; null when unset. */
export function configToken(config: Json, key: string): string | null {
  const value = config[key];
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null | undefined)?.content;
  return typeof content === 'string' ? content : null;
}

/**
 * The id padding uses: `padding.pad_id` of the `tokenizer.json`, else the `pad_token` of `tokenizer_config.json`,
 * else a `<pad>` or `[PAD]` token.
 */
export function padTokenId(ids: ReadonlyMap<string, number>, config: Json, padding: unknown, fields: JsonFields): number {
  const padId = (padding as { pad_id?: unknown } | null | undefined)?.pad_id;
  if (typeof padId === 'number') return padId;
  for (const token of [configToken(config, 'pad_token'), '<pad>', '[PAD]']) {
    const id = token === null ? undefined : ids.get(token);
    if (id !== undefined) return id;
  }
  return fields.fail('padding', 'a padding token (padding.pad_id, pad_token in tokenizer_config.json, or a <pad> or [PAD] token)', padding ?? null);
}

function readAddedTokens(value: unknown, fields: JsonFields): AddedToken[] {
  return fields.array(value ?? [], 'added_tokens').map((entry, index) => {
    const field = `added_tokens[${index}]`;
    const token = fields.object(entry, field);
    return {
      id: fields.number(token.id, `${field}.id`),
      content: fields.string(token.content, `${field}.content`),
      singleWord: fields.flag(token.single_word, `${field}.single_word`, false),
      lstrip: fields.flag(token.lstrip, `${field}.lstrip`, false),
      rstrip: fields.flag(token.rstrip, `${field}.rstrip`, false),
      normalized: fields.flag(token.normalized, `${field}.normalized`, !fields.flag(token.special, `${field}.special`, false)),
    };
  });
}

/** A BPE vocabulary (`model.vocab`, or a whole `vocab.json`): token to id, ids as given. */
export function readVocabulary(value: unknown, fields: JsonFields, field = 'model.vocab'): Map<string, number> {
  const vocabulary = new Map<string, number>();
  for (const [token, id] of Object.entries(fields.object(value, field))) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fields.fail(`${field}["${token}"]`, 'a token id', id);
    vocabulary.set(token, id);
  }
  return vocabulary;
}

/** `merges` of a BPE model: `"a b"` strings (older files) or `["a", "b"]` pairs. */
export function readMerges(value: unknown, fields: JsonFields, field = 'model.merges'): Array<[string, string]> {
  return fields.array(value, field).map((merge, index) => {
    const pair = typeof merge === 'string' ? merge.split(' ') : merge;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
      return fields.fail(`${field}[${index}]`, 'two tokens ("a b" or ["a", "b"])', merge);
    return [pair[0], pair[1]];
  });
}

/**
 * A BPE or unigram `tokenizer.json` (already parsed) as a `PipelineTokenizer`, with `config` the model's
 * `tokenizer_config.json` (or `{}`). Unknown model, normalizer, pre-tokenizer or post-processor types are refused,
 * naming the field and the type.
 */
export function pipelineFromJson(json: Json, fields: JsonFields, config: Json): PipelineTokenizer {
  const model = fields.object(json.model, 'model');
  const tokens: string[] = [];
  const ids = new Map<string, number>();
  let tokenize: (piece: string) => readonly number[];
  if (model.type === 'BPE') {
    if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0)
      fields.fail('model.dropout', 'null (BPE dropout is for training only)', model.dropout);
    const vocabulary = readVocabulary(model.vocab, fields);
    for (const [token, id] of vocabulary) {
      tokens[id] = token;
      ids.set(token, id);
    }
    const bpe = new BpeModel(vocabulary, readMerges(model.merges, fields), fields.source, {
      unkToken: fields.optionalString(model.unk_token, 'model.unk_token'),
      fuseUnk: fields.flag(model.fuse_unk, 'model.fuse_unk', false),
      byteFallback: fields.flag(model.byte_fallback, 'model.byte_fallback', false),
      continuingSubwordPrefix: fields.optionalString(model.continuing_subword_prefix, 'model.continuing_subword_prefix'),
      endOfWordSuffix: fields.optionalString(model.end_of_word_suffix, 'model.end_of_word_suffix'),
      ignoreMerges: fields.flag(model.ignore_merges, 'model.ignore_merges', false),
    });
    tokenize = (piece) => bpe.tokenize(piece);
  } else if (model.type === 'Unigram') {
    const pieces = fields.array(model.vocab, 'model.vocab').map((entry, index): [string, number] => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number')
        return fields.fail(`model.vocab[${index}]`, '[piece, score]', entry);
      return [entry[0], entry[1]];
    });
    pieces.forEach(([piece], id) => {
      tokens[id] = piece;
      if (!ids.has(piece)) ids.set(piece, id);
    });
    const unkId = model.unk_id === null || model.unk_id === undefined ? null : fields.number(model.unk_id, 'model.unk_id');
    const unigram = new UnigramModel(pieces, unkId, fields.source, fields.flag(model.byte_fallback, 'model.byte_fallback', false));
    tokenize = (piece) => unigram.tokenize(piece);
  } else {
    return fields.fail('model.type', `one of ${MODEL_TYPES.join(', ')}`, model.type);
  }
  const addedTokens = readAddedTokens(json.added_tokens, fields);
  for (const token of addedTokens) {
    tokens[token.id] ??= token.content;
    if (!ids.has(token.content)) ids.set(token.content, token.id);
  }
  for (let id = 0; id < tokens.length; id++)
    if (tokens[id] === undefined) fields.fail('model.vocab', `ids 0 to ${tokens.length - 1} without gaps`, `no token with id ${id}`);
  return new PipelineTokenizer({
    normalize: readNormalizer(json.normalizer, 'normalizer', fields),
    preTokenize: readPreTokenizer(json.pre_tokenizer, 'pre_tokenizer', fields),
    model: { tokenize },
    postProcessor: readPostProcessor(json.post_processor, 'post_processor', fields),
    addedTokens,
    tokens,
    padTokenId: padTokenId(ids, config, json.padding, fields),
  });
}

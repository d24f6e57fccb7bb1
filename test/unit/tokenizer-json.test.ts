// loadTokenizer: vocab.txt or a Hugging Face tokenizer.json (generated here in the fast-tokenizer format), options
// from tokenizer_config.json, and the errors for files it cannot use.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer';
import { TokenizerError } from '../../src/tokenizer/tokenizer-error';
import { WordPieceTokenizer } from '../../src/tokenizer/word-piece-tokenizer';
import { hasShared, sharedPath } from '../shared-fixtures';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const VOCABULARY = [
  ...SPECIALS,
  ...'hello world ! naive naïve Naïve ##s 你 好 zero ##width [ ] cl , ς σ a b ##b'.split(' '),
];
const TEXTS = [
  'Hello, world!',
  'NAÏVE naïve Naïves',
  '你好hello',
  'zero\u200bwidth\tworld',
  '[CLS]a[SEP] [cls]',
  'ΣΣ bb',
];

interface NormalizerFlags {
  clean_text: boolean;
  handle_chinese_chars: boolean;
  strip_accents: boolean | null;
  lowercase: boolean;
}

const UNCASED: NormalizerFlags = { clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true };

/** A tokenizer.json as Hugging Face's BertTokenizerFast saves it. */
function bertTokenizerJson(tokens: readonly string[], normalizer: NormalizerFlags = UNCASED): Record<string, unknown> {
  const id = (token: string): number => tokens.indexOf(token);
  const special = (token: string, typeId: number): unknown => ({ SpecialToken: { id: token, type_id: typeId } });
  const sequence = (name: string, typeId: number): unknown => ({ Sequence: { id: name, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((token) => ({
      id: id(token),
      content: token,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', ...normalizer },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(tokens.map((token, index) => [token, index])),
    },
  };
}

/** A fresh directory holding the given files (objects are written as JSON). */
function modelDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokenizer-json-'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

function encodings(tokenizer: WordPieceTokenizer): unknown[] {
  return TEXTS.map((text, index) => [tokenizer.tokenize(text), tokenizer.encode(text, TEXTS[index + 1] ?? null)]);
}

/** loadTokenizer, which must give the WordPiece implementation for these files. */
async function loadWordPiece(dir: string): Promise<WordPieceTokenizer> {
  const tokenizer = await loadTokenizer(dir);
  expect(tokenizer).toBeInstanceOf(WordPieceTokenizer);
  return tokenizer as WordPieceTokenizer;
}

/** `base` with `patch` merged into its top-level member `key`. */
function patched(base: Record<string, unknown>, key: string, patch: Record<string, unknown>): Record<string, unknown> {
  return { ...base, [key]: { ...(base[key] as Record<string, unknown>), ...patch } };
}

describe('tokenizer.json', () => {
  it('round-trips: a generated tokenizer.json tokenizes exactly like the same vocabulary given in code', async () => {
    const loaded = await loadWordPiece(modelDir({ 'tokenizer.json': bertTokenizerJson(VOCABULARY) }));
    const inCode = WordPieceTokenizer.fromVocab(VOCABULARY, { doLowerCase: true });
    expect(loaded.options).toEqual(inCode.options);
    expect(loaded.vocabulary).toEqual(VOCABULARY);
    expect(encodings(loaded)).toEqual(encodings(inCode));
    expect(loaded.tokenize('NAÏVE [CLS]')).toEqual(['naive', '[CLS]']);
  });

  it('reads the BertNormalizer flags', async () => {
    const load = (flags: Partial<NormalizerFlags>): Promise<WordPieceTokenizer> =>
      loadWordPiece(modelDir({ 'tokenizer.json': bertTokenizerJson(VOCABULARY, { ...UNCASED, ...flags }) }));
    const cased = await load({ lowercase: false });
    expect(cased.tokenize('Naïve naïve NAIVE')).toEqual(['Naïve', 'naïve', '[UNK]']);
    expect(encodings(cased)).toEqual(encodings(WordPieceTokenizer.fromVocab(VOCABULARY, { doLowerCase: false })));
    expect((await load({ lowercase: false, strip_accents: true })).tokenize('Naïve naïve')).toEqual(['[UNK]', 'naive']);
    expect((await load({ strip_accents: false })).tokenize('NAÏVE')).toEqual(['naïve']);
    expect((await load({ handle_chinese_chars: false })).tokenize('你好')).toEqual(['[UNK]']);
    expect((await load({ clean_text: false })).tokenize('zero\u200bwidth')).toEqual(['[UNK]']);
  });

  it('accepts the older BertProcessing post-processor and follows the WordPiece model settings', async () => {
    const json = patched(bertTokenizerJson(VOCABULARY), 'model', { max_input_chars_per_word: 4 });
    json.post_processor = { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] };
    const tokenizer = await loadWordPiece(modelDir({ 'tokenizer.json': json }));
    expect(tokenizer.tokenize('zero hello')).toEqual(['zero', '[UNK]']);
    expect(tokenizer.encode('zero', 'zero').inputIds).toEqual([2, 14, 3, 14, 3]);
  });

  it('refuses what is not a BERT WordPiece tokenizer, naming the file and the field', async () => {
    const base = bertTokenizerJson(VOCABULARY);
    const failure = async (json: unknown): Promise<string> => {
      const dir = modelDir({ 'tokenizer.json': json });
      const error = await loadTokenizer(dir).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(TokenizerError);
      const message = (error as Error).message;
      expect(message.startsWith(`${join(dir, 'tokenizer.json')}: `)).toBe(true);
      return message.slice(join(dir, 'tokenizer.json').length + 2);
    };
    expect(await failure(patched(base, 'model', { type: 'WordLevel' }))).toBe(
      'model.type: expected one of WordPiece, BPE, Unigram, got "WordLevel"',
    );
    expect(await failure({ ...base, normalizer: null })).toBe('normalizer: expected an object, got null');
    expect(await failure(patched(base, 'normalizer', { lowercase: 'yes' }))).toBe(
      'normalizer.lowercase: expected true or false, got "yes"',
    );
    expect(await failure(patched(base, 'pre_tokenizer', { type: 'Whitespace' }))).toBe(
      'pre_tokenizer.type: expected "BertPreTokenizer", got "Whitespace"',
    );
    const vocab = (base.model as { vocab: Record<string, number> }).vocab;
    expect(await failure(patched(base, 'model', { vocab: { ...vocab, extra: 99 } }))).toBe(
      'model.vocab: expected ids 0 to 99 without gaps, got no token with id 25',
    );
    expect(await failure(patched(base, 'model', { vocab: { ...vocab, extra: 5 } }))).toBe(
      'model.vocab["extra"]: expected an id no other token has ("hello" has it), got 5',
    );
    const { '[MASK]': maskId, ...withoutMask } = vocab;
    expect(await failure(patched(base, 'model', { vocab: { ...withoutMask, '<mask>': maskId } }))).toBe(
      'model.vocab: expected the BERT special token "[MASK]", got no such entry',
    );
    expect(
      await failure({ ...base, added_tokens: [...(base.added_tokens as unknown[]), { id: 30, content: '<new>' }] }),
    ).toBe(
      'added_tokens[5]: expected only the BERT special tokens, with their vocabulary ids, got {"content":"<new>","id":30}',
    );
    const single = [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }];
    expect(await failure(patched(base, 'post_processor', { single }))).toBe(
      'post_processor.single: expected "[CLS]:0 $A:0 [SEP]:0", got "[CLS]:0 $A:0"',
    );
    // A file that is not JSON at all is a file error, named the same way.
    const broken = modelDir({ 'tokenizer.json': '{"model": ' });
    await expect(loadTokenizer(broken)).rejects.toThrow(`${join(broken, 'tokenizer.json')}: cannot parse as JSON: `);
  });
});

describe('loadTokenizer', () => {
  const vocabText = `${VOCABULARY.join('\n')}\n`;

  it('prefers vocab.txt over tokenizer.json', async () => {
    const other = bertTokenizerJson([...SPECIALS, 'other']);
    const tokenizer = await loadWordPiece(modelDir({ 'vocab.txt': vocabText, 'tokenizer.json': other }));
    expect(tokenizer.vocabulary).toEqual(VOCABULARY);
  });

  it('lowercases an uncased vocab.txt by default and leaves a cased one alone', async () => {
    expect((await loadWordPiece(modelDir({ 'vocab.txt': vocabText }))).options.doLowerCase).toBe(false);
    const uncased = VOCABULARY.filter((token) => token !== 'Naïve');
    const tokenizer = await loadWordPiece(modelDir({ 'vocab.txt': uncased.join('\n') }));
    expect(tokenizer.options).toMatchObject({ doLowerCase: true, stripAccents: true });
  });

  it('takes do_lower_case, strip_accents and tokenize_chinese_chars from tokenizer_config.json', async () => {
    const config = { do_lower_case: true, strip_accents: false, tokenize_chinese_chars: false, model_max_length: 512 };
    const fromVocab = await loadWordPiece(modelDir({ 'vocab.txt': vocabText, 'tokenizer_config.json': config }));
    expect(fromVocab.options).toMatchObject({ doLowerCase: true, stripAccents: false, tokenizeChineseChars: false });
    expect(fromVocab.tokenize('Naïve 你好')).toEqual(['naïve', '[UNK]']);
    // As Hugging Face's BertTokenizerFast does, the config overrides the normalizer of tokenizer.json.
    const json = bertTokenizerJson(VOCABULARY);
    const fromJson = await loadWordPiece(
      modelDir({ 'tokenizer.json': json, 'tokenizer_config.json': { do_lower_case: false } }),
    );
    expect(fromJson.options).toMatchObject({ doLowerCase: false, stripAccents: false, tokenizeChineseChars: true });
    const nullAccents = { do_lower_case: true, strip_accents: null };
    const followsCase = await loadWordPiece(modelDir({ 'vocab.txt': vocabText, 'tokenizer_config.json': nullAccents }));
    expect(followsCase.options.stripAccents).toBe(true);
  });

  it('names the directory that holds no tokenizer and the config field that is wrong', async () => {
    const empty = modelDir({});
    await expect(loadTokenizer(empty)).rejects.toThrow(
      `${empty}: no tokenizer found: expected vocab.txt, tokenizer.json, or vocab.json and merges.txt in this directory`,
    );
    const dir = modelDir({ 'vocab.txt': vocabText, 'tokenizer_config.json': { do_lower_case: 'yes' } });
    await expect(loadTokenizer(dir)).rejects.toThrow(
      `${join(dir, 'tokenizer_config.json')}: do_lower_case: expected true or false, got "yes"`,
    );
  });
});

const FIXTURE = ['conformance', 'bert-tokenizer', 'expected.jsonl'] as const;
const VOCAB = ['vocab', 'bert-base-uncased', 'vocab.txt'] as const;

describe.skipIf(!hasShared(...FIXTURE) || !hasShared(...VOCAB))('tokenizer.json of the BERT vocabulary', () => {
  it('encodes all 500 reference records exactly like vocab.txt does', async () => {
    const tokens = readFileSync(sharedPath(...VOCAB), 'utf8')
      .split('\n')
      .slice(0, -1);
    const uncased = await loadWordPiece(modelDir({ 'tokenizer.json': bertTokenizerJson(tokens) }));
    const cased = await loadWordPiece(
      modelDir({ 'tokenizer.json': bertTokenizerJson(tokens, { ...UNCASED, lowercase: false }) }),
    );
    const records = readFileSync(sharedPath(...FIXTURE), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map(
        (line) =>
          JSON.parse(line) as { do_lower_case: boolean; text: string; text_pair: string | null; input_ids: number[] },
      );
    expect(records).toHaveLength(500);
    const mismatches = records.filter((record) => {
      const tokenizer = record.do_lower_case ? uncased : cased;
      const encoding = tokenizer.encode(record.text, record.text_pair, { maxLength: 128, padding: 'max_length' });
      return JSON.stringify(encoding.inputIds) !== JSON.stringify(record.input_ids);
    });
    expect(mismatches).toEqual([]);
  });
});

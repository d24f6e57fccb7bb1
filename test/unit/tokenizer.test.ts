// WordPiece and basic-tokenizer rules on hand-made vocabularies: every trap of the reference BertTokenizer, encoding,
// truncation, padding and errors. No shared files needed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenizerError } from '../../src/tokenizer/tokenizer-error';
import { truncateLongestFirst } from '../../src/tokenizer/encoding';
import { WordPieceTokenizer } from '../../src/tokenizer/word-piece-tokenizer';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
// ids: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, then these from 5 on.
const WORDS = (
  'un ##believ ##able ! hello world zero ##width a ##a b ##b οδοσ οδος i angstrom [ ] cl ##s $ 5 ##€ 你 好 てす ' +
  'naive naïve é +'
).split(' ');
const tokenizer = WordPieceTokenizer.fromVocab([...SPECIALS, ...WORDS]);
const cased = WordPieceTokenizer.fromVocab([...SPECIALS, ...WORDS], { doLowerCase: false });

describe('WordPieceTokenizer.tokenize (uncased)', () => {
  it('runs the class example', () => {
    const vocabulary = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'un', '##believ', '##able', '!'];
    const example = WordPieceTokenizer.fromVocab(vocabulary);
    expect(example.tokenize('Unbelievable!')).toEqual(['un', '##believ', '##able', '!']);
    expect(example.encode('Unbelievable!', null, { maxLength: 8, padding: 'max_length' }).inputIds).toEqual([
      2, 5, 6, 7, 8, 3, 0, 0,
    ]);
    expect(WordPieceTokenizer.fromVocab([...SPECIALS, 'hello']).tokenize('Hello')).toEqual(['hello']);
  });

  it('runs the example of docs/tokenizer.md', () => {
    const docs = WordPieceTokenizer.fromVocab([...SPECIALS, 'adapter', '##s', 'fuse', '!', 'οδοσ']);
    expect(docs.tokenize('Adapters FUSE!')).toEqual(['adapter', '##s', 'fuse', '!']);
    expect(docs.tokenize('ΟΔΟΣ')).toEqual(['οδοσ']);
    expect(docs.encode('Adapters fuse', '!', { maxLength: 8, padding: 'max_length' })).toEqual({
      inputIds: [2, 5, 6, 7, 3, 8, 3, 0],
      tokenTypeIds: [0, 0, 0, 0, 0, 1, 1, 0],
      attentionMask: [1, 1, 1, 1, 1, 1, 1, 0],
    });
    expect(docs.encodeBatch(['fuse', ['adapters', 'fuse !']]).map((row) => row.inputIds)).toEqual([
      [2, 7, 3, 0, 0, 0, 0],
      [2, 5, 6, 3, 7, 8, 3],
    ]);
  });

  it('lowercases one code point at a time: no final sigma, İ loses its dot', () => {
    // JavaScript's "ΟΔΟΣ".toLowerCase() is "οδος"; the reference lowercases Σ on its own to σ.
    expect(tokenizer.tokenize('ΟΔΟΣ')).toEqual(['οδοσ']);
    expect(tokenizer.tokenize('οδος')).toEqual(['οδος']);
    expect(tokenizer.tokenize('İ')).toEqual(['i']);
  });

  it('strips accents after NFD, including decomposed input', () => {
    expect(tokenizer.tokenize('Ångström')).toEqual(['angstrom']);
    expect(tokenizer.tokenize('nai\u0308ve NAÏVE')).toEqual(['naive', 'naive']);
  });

  it('cuts out special tokens case-sensitively, even glued to text', () => {
    expect(tokenizer.tokenize('hello[SEP]world')).toEqual(['hello', '[SEP]', 'world']);
    expect(tokenizer.tokenize('[PAD]a[MASK]')).toEqual(['[PAD]', 'a', '[MASK]']);
    expect(tokenizer.tokenize('[cls] [CLS]')).toEqual(['[', 'cl', '##s', ']', '[CLS]']);
  });

  it('drops control and format characters, joining their neighbours', () => {
    expect(tokenizer.tokenize('zero\u200bwidth')).toEqual(['zero', '##width']);
    expect(tokenizer.tokenize('zero\u00adwidth\ufeff\u0085\u0000\ufffd')).toEqual(['zero', '##width']);
    // U+001C is whitespace for Python's str.split, but cleaning removes it first (category Cc).
    expect(tokenizer.tokenize('zero\u001cwidth')).toEqual(['zero', '##width']);
  });

  it('drops code points unassigned in Unicode 14.0, as the reference did, though newer Unicode assigns them', () => {
    // U+31350 (CJK Extension H) and U+1FAE8 (an emoji) were assigned in Unicode 15.0.
    expect(tokenizer.tokenize('zero\u{31350}width \u{1FAE8}')).toEqual(['zero', '##width']);
    // U+A7CB (Unicode 16.0) lowercases to the older ɤ, which cleaning keeps; the reference never lowercased it.
    expect(tokenizer.tokenize('zero\ua7cbwidth')).toEqual(['zero', '##width']);
  });

  it('splits on tabs, newlines, Unicode spaces and the line/paragraph separators', () => {
    expect(tokenizer.tokenize('hello\tworld\r\nhello\u00a0world\u3000a\u2028b\u2029a')).toEqual([
      'hello',
      'world',
      'hello',
      'world',
      'a',
      'b',
      'a',
    ]);
    expect(tokenizer.tokenize(' \t\n ')).toEqual([]);
  });

  it('makes each CJK ideograph a word, but not kana (whose voicing marks are accents)', () => {
    expect(tokenizer.tokenize('你好です')).toEqual(['你', '好', 'てす']);
  });

  it('splits ASCII symbols and Unicode punctuation, but not currency signs', () => {
    expect(tokenizer.tokenize('$5+5€!')).toEqual(['$', '5', '+', '5', '##€', '!']);
    expect(tokenizer.tokenize('hello«world»')).toEqual(['hello', '[UNK]', 'world', '[UNK]']);
  });

  it('turns a word longer than 100 code points into [UNK]; exactly 100 is still split', () => {
    expect(tokenizer.tokenize('a'.repeat(100))).toEqual(['a', ...new Array<string>(99).fill('##a')]);
    expect(tokenizer.tokenize('a'.repeat(101))).toEqual(['[UNK]']);
    expect(tokenizer.tokenize(`${'a'.repeat(100)}!`)).toHaveLength(101);
  });

  it('gives the whole word [UNK] when any position cannot be matched', () => {
    expect(tokenizer.tokenize('hellox world')).toEqual(['[UNK]', 'world']);
  });
});

describe('WordPieceTokenizer.tokenize (cased)', () => {
  it('neither lowercases nor strips accents, but applies NFC', () => {
    expect(cased.tokenize('Hello hello naïve nai\u0308ve')).toEqual(['[UNK]', 'hello', 'naïve', 'naïve']);
    expect(cased.tokenize('e\u0301')).toEqual(['é']);
  });

  it('keeps a special token that cleaning joins back together', () => {
    expect(cased.tokenize('[CL\u200bS] [C\u200bLS]a')).toEqual(['[CLS]', '[', '[UNK]', ']', 'a']);
  });

  it('defaults to lowercasing only for uncased vocabularies', () => {
    expect(tokenizer.options).toMatchObject({ doLowerCase: true, stripAccents: true });
    const casedVocabulary = WordPieceTokenizer.fromVocab([...SPECIALS, 'The', 'the']);
    expect(casedVocabulary.options).toMatchObject({ doLowerCase: false, stripAccents: false });
    expect(casedVocabulary.tokenize('The the')).toEqual(['The', 'the']);
  });
});

describe('WordPieceTokenizer.encode', () => {
  const hello = 9;
  const world = 10;

  it('adds [CLS] and [SEP], with token type 1 for the pair', () => {
    expect(tokenizer.encode('hello', 'world')).toEqual({
      inputIds: [2, hello, 3, world, 3],
      tokenTypeIds: [0, 0, 0, 1, 1],
      attentionMask: [1, 1, 1, 1, 1],
    });
  });

  it('encodes empty texts; an empty pair is still a pair', () => {
    expect(tokenizer.encode('').inputIds).toEqual([2, 3]);
    expect(tokenizer.encode('hello', '')).toEqual({
      inputIds: [2, hello, 3, 3],
      tokenTypeIds: [0, 0, 0, 1],
      attentionMask: [1, 1, 1, 1],
    });
    expect(tokenizer.encode('', '').inputIds).toEqual([2, 3, 3]);
  });

  it('truncates a single text to maxLength and pads with [PAD], type 0, mask 0', () => {
    expect(tokenizer.encode('hello world hello', null, { maxLength: 4 }).inputIds).toEqual([2, hello, world, 3]);
    expect(tokenizer.encode('hello', null, { maxLength: 5, padding: 'max_length' })).toEqual({
      inputIds: [2, hello, 3, 0, 0],
      tokenTypeIds: [0, 0, 0, 0, 0],
      attentionMask: [1, 1, 1, 0, 0],
    });
  });

  it('truncates pairs longest-first, the odd token coming off the second text unless the first is longer', () => {
    const ids = (count: number, start: number): number[] => Array.from({ length: count }, (_, index) => start + index);
    const lengths = (a: number, b: number, budget: number): number[] =>
      truncateLongestFirst(ids(a, 0), ids(b, 100), budget).map((kept) => kept?.length ?? -1);
    expect(lengths(10, 4, 10)).toEqual([6, 4]); // only the longer loses
    expect(lengths(10, 9, 10)).toEqual([5, 5]); // A longer: excess 9 = 1 + 4 + 4
    expect(lengths(9, 10, 10)).toEqual([5, 5]);
    expect(lengths(8, 8, 11)).toEqual([6, 5]); // equal: the odd token comes off B
    expect(lengths(200, 150, 125)).toEqual([63, 62]); // the reference's 128 with two long texts
    expect(lengths(150, 200, 125)).toEqual([63, 62]);
    expect(truncateLongestFirst(ids(5, 0), ids(3, 100), 4)).toEqual([ids(2, 0), ids(2, 100)]); // keeps the starts
    const encoding = tokenizer.encode('hello hello hello', 'world world', { maxLength: 6 });
    expect(encoding.inputIds).toEqual([2, hello, hello, 3, world, 3]);
  });

  it('refuses a maxLength that cannot hold the special tokens, and max_length padding without maxLength', () => {
    expect(() => tokenizer.encode('hello', null, { maxLength: 1 })).toThrow(
      'maxLength: expected an integer of at least 2 for a single text, got 1',
    );
    expect(() => tokenizer.encode('hello', 'world', { maxLength: 2 })).toThrow(
      'maxLength: expected an integer of at least 3 for a pair, got 2',
    );
    expect(() => tokenizer.encode('hello', null, { padding: 'max_length' })).toThrow(
      'padding "max_length" needs maxLength, got none',
    );
  });
});

describe('WordPieceTokenizer.encodeBatch', () => {
  const inputs = ['hello', ['hello world', 'world'], 'a b a b a'] as const;

  it('pads every row to the longest by default', () => {
    const batch = tokenizer.encodeBatch(inputs);
    expect(batch.map((row) => row.inputIds.length)).toEqual([7, 7, 7]);
    expect(batch[0]).toEqual({
      inputIds: [2, 9, 3, 0, 0, 0, 0],
      tokenTypeIds: [0, 0, 0, 0, 0, 0, 0],
      attentionMask: [1, 1, 1, 0, 0, 0, 0],
    });
    expect(batch[1]?.tokenTypeIds).toEqual([0, 0, 0, 0, 1, 1, 0]);
  });

  it('truncates and pads to maxLength, or leaves rows ragged', () => {
    expect(tokenizer.encodeBatch(inputs, { maxLength: 5, padding: 'max_length' }).map((row) => row.inputIds)).toEqual([
      [2, 9, 3, 0, 0],
      [2, 9, 3, 10, 3],
      [2, 13, 15, 13, 3],
    ]);
    expect(tokenizer.encodeBatch(inputs, { maxLength: 6 }).map((row) => row.inputIds.length)).toEqual([6, 6, 6]);
    expect(tokenizer.encodeBatch(inputs, { padding: false }).map((row) => row.inputIds.length)).toEqual([3, 6, 7]);
  });
});

describe('vocabulary files and errors', () => {
  it('reads vocab.txt with any line ending; line i is id i; a final newline adds no entry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenizer-'));
    const path = join(dir, 'vocab.txt');
    writeFileSync(path, `${SPECIALS.join('\r\n')}\rhello\nworld\n`);
    const fromFile = WordPieceTokenizer.fromVocabFile(path);
    expect(fromFile.vocabSize).toBe(7);
    expect(fromFile.convertIdsToTokens([0, 4, 5, 6])).toEqual(['[PAD]', '[MASK]', 'hello', 'world']);
    expect([
      fromFile.padTokenId,
      fromFile.unkTokenId,
      fromFile.clsTokenId,
      fromFile.sepTokenId,
      fromFile.maskTokenId,
    ]).toEqual([0, 1, 2, 3, 4]);
  });

  it('names the file it cannot read and the special token a vocabulary lacks', () => {
    expect(() => WordPieceTokenizer.fromVocabFile('/nonexistent/vocab.txt')).toThrow(
      '/nonexistent/vocab.txt: cannot read: it does not exist (check the path)',
    );
    const withoutMask = (): WordPieceTokenizer =>
      WordPieceTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hello']);
    expect(withoutMask).toThrow(TokenizerError);
    expect(withoutMask).toThrow(
      'vocabulary given in code: the vocabulary has no "[MASK]" token (a BERT vocabulary holds [PAD], [UNK], [CLS], [SEP], [MASK])',
    );
  });

  it('refuses ids outside the vocabulary and a non-positive word limit', () => {
    expect(() => tokenizer.convertIdsToTokens([2, 99])).toThrow(
      `token id 99 is outside the vocabulary (expected an integer from 0 to ${tokenizer.vocabSize - 1})`,
    );
    expect(() => WordPieceTokenizer.fromVocab(SPECIALS, { maxInputCharsPerWord: 0 })).toThrow(
      'vocabulary given in code: maxInputCharsPerWord: expected a positive integer, got 0',
    );
  });

  it('follows the WordPiece options', () => {
    const short = WordPieceTokenizer.fromVocab([...SPECIALS, 'a', '@@a'], {
      maxInputCharsPerWord: 3,
      continuingSubwordPrefix: '@@',
    });
    expect(short.tokenize('aaa aaaa')).toEqual(['a', '@@a', '@@a', '[UNK]']);
    const plain = WordPieceTokenizer.fromVocab([...SPECIALS, ...WORDS], {
      tokenizeChineseChars: false,
      stripAccents: false,
    });
    expect(plain.tokenize('你好 naïve')).toEqual(['[UNK]', 'naïve']);
    const raw = WordPieceTokenizer.fromVocab([...SPECIALS, ...WORDS], { cleanText: false });
    expect(raw.tokenize('zero\u200bwidth a\u001cb')).toEqual(['[UNK]', 'a', 'b']);
  });
});

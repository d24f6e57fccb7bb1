// Byte-level BPE and SentencePiece unigram tokenizers read from tokenizer.json (and RoBERTa's vocab.json +
// merges.txt), their normalizers, pre-tokenizers and post-processors, against cases worked out by hand from each
// algorithm's definition.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpeModel } from '../../src/tokenizer/bpe-model';
import { JsonFields } from '../../src/tokenizer/json-fields';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer';
import { readNormalizer } from '../../src/tokenizer/normalizers';
import { PipelineTokenizer } from '../../src/tokenizer/pipeline-tokenizer';
import { readPostProcessor, type PostProcessor } from '../../src/tokenizer/post-processor';
import { PrecompiledCharsmap } from '../../src/tokenizer/precompiled-charsmap';
import { readPreTokenizer } from '../../src/tokenizer/pre-tokenizers';
import { TokenizerError } from '../../src/tokenizer/tokenizer-error';
import { BPE_MERGES, byteLevelVocabulary, modelDir, robertaTokenizerJson, unigramTokenizerJson } from './tokenizer-files';

const fields = new JsonFields('test.json');

async function loadPipeline(files: Record<string, unknown>): Promise<PipelineTokenizer> {
  const tokenizer = await loadTokenizer(modelDir(files));
  expect(tokenizer).toBeInstanceOf(PipelineTokenizer);
  return tokenizer as PipelineTokenizer;
}

/** The message of what `load` rejects with, without the file name in front (which it checks). */
async function refusal(files: Record<string, unknown>, file = 'tokenizer.json'): Promise<string> {
  const dir = modelDir(files);
  const error = await loadTokenizer(dir).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TokenizerError);
  const prefix = `${join(dir, file)}: `;
  expect((error as Error).message.startsWith(prefix)).toBe(true);
  return (error as Error).message.slice(prefix.length);
}

// Ids in the byte-level fixture: specials 0-4, byte b at 5 + b, then hi 261, Ġh 262, Ġhi 263, ðŁ 264.
const byte = (value: number): number => 5 + value;
const [HI, SPACE] = [261, byte(0x20)];

describe('byte-level BPE (RoBERTa tokenizer.json)', () => {
  it('merges by rank, not left to right: " hi" is Ġ + hi although Ġh is a merge', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': robertaTokenizerJson() });
    expect(tokenizer.tokenize('hi hi')).toEqual(['hi', 'Ġ', 'hi']);
    expect(tokenizer.encode('hi hi').inputIds).toEqual([0, HI, SPACE, HI, 2]);
  });

  it('maps every UTF-8 byte to its printable stand-in: accents, combining marks, emoji', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': robertaTokenizerJson() });
    // é = C3 A9, both printable Latin-1 bytes standing for themselves.
    expect(tokenizer.tokenize('é')).toEqual(['Ã', '©']);
    // e + U+0301 = 65 CC 81: the mark is a word of its own for the GPT-2 pattern; 0x81 is the 36th unprintable byte.
    expect(tokenizer.tokenize('e\u0301')).toEqual(['e', 'Ì', 'ģ']);
    // 😀 = F0 9F 98 80 = ð Ł ĺ Ģ, of which ð Ł is merged.
    expect(tokenizer.tokenize('😀')).toEqual(['ðŁ', 'ĺ', 'Ģ']);
    expect(tokenizer.encode('😀').inputIds).toEqual([0, 264, byte(0x98), byte(0x80), 2]);
  });

  it('leaves the last space of a run to the next word, and maps newlines and tabs to Ċ and ĉ', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': robertaTokenizerJson() });
    expect(tokenizer.tokenize('a  b')).toEqual(['a', 'Ġ', 'Ġ', 'b']);
    expect(tokenizer.encode('a  b').inputIds).toEqual([0, byte(0x61), SPACE, SPACE, byte(0x62), 2]);
    expect(tokenizer.tokenize('a\n\tb')).toEqual(['a', 'Ċ', 'ĉ', 'b']);
  });

  it('adds a space before the text with add_prefix_space', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': robertaTokenizerJson(true) });
    expect(tokenizer.tokenize('hi')).toEqual(['Ġ', 'hi']);
  });

  it('cuts out special tokens, <mask> taking the space before it (lstrip)', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': robertaTokenizerJson() });
    expect(tokenizer.encode('hi <mask>!').inputIds).toEqual([0, HI, 4, byte(0x21), 2]);
    expect(tokenizer.encode('hi</s>hi').inputIds).toEqual([0, HI, 2, HI, 2]);
    const json = robertaTokenizerJson();
    const added = (json.added_tokens as Array<Record<string, unknown>>).map((token) => ({ ...token, lstrip: false }));
    const plain = await loadPipeline({ 'tokenizer.json': { ...json, added_tokens: added } });
    expect(plain.encode('hi <mask>!').inputIds).toEqual([0, HI, SPACE, 4, byte(0x21), 2]);
  });

  it('encodes pairs as <s> a </s></s> b </s>, all of token type 0, truncated longest first and padded with <pad>', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': robertaTokenizerJson() });
    expect(tokenizer.encode('hi', 'hi hi')).toEqual({
      inputIds: [0, HI, 2, 2, HI, SPACE, HI, 2],
      tokenTypeIds: [0, 0, 0, 0, 0, 0, 0, 0],
      attentionMask: [1, 1, 1, 1, 1, 1, 1, 1],
    });
    // 5 + 1 tokens and 4 special tokens into 7: the longer text gives up all 3.
    expect(tokenizer.encode('hi hi hi', 'hi', { maxLength: 7 }).inputIds).toEqual([0, HI, SPACE, 2, 2, HI, 2]);
    expect(() => tokenizer.encode('hi', 'hi', { maxLength: 3 })).toThrow('maxLength: expected an integer of at least 4 for a pair, got 3');
    expect(tokenizer.padTokenId).toBe(1);
    expect(tokenizer.encodeBatch(['hi', ['hi', 'hi']]).map((row) => row.inputIds)).toEqual([
      [0, HI, 2, 1, 1, 1],
      [0, HI, 2, 2, HI, 2],
    ]);
  });

  it('reads vocab.json + merges.txt into the same tokenizer, with add_prefix_space from tokenizer_config.json', async () => {
    const files = {
      'vocab.json': byteLevelVocabulary(),
      'merges.txt': `#version: 0.2\n${BPE_MERGES.map((merge) => merge.join(' ')).join('\n')}\n`,
    };
    const legacy = await loadPipeline(files);
    const fromJson = await loadPipeline({ 'tokenizer.json': robertaTokenizerJson() });
    for (const text of ['hi hi', 'hi <mask>!', 'a  b😀', 'e\u0301</s>é']) {
      expect(legacy.encode(text, 'hi')).toEqual(fromJson.encode(text, 'hi'));
    }
    const prefixed = await loadPipeline({ ...files, 'tokenizer_config.json': { add_prefix_space: true } });
    expect(prefixed.tokenize('hi')).toEqual(['Ġ', 'hi']);
    expect(await refusal({ ...files, 'merges.txt': 'h i\nh i x\n' }, 'merges.txt')).toBe(
      'line 2: expected two tokens separated by a space, got "h i x"',
    );
  });

  it('takes a vocabulary of 300,000 entries', () => {
    const vocabulary = new Map<string, number>(Array.from({ length: 300_000 }, (_, id) => [`t${id}`, id]));
    vocabulary.set('a', 300_000).set('b', 300_001).set('ab', 300_002);
    expect(new BpeModel(vocabulary, [['a', 'b']], 'big').tokenize('ab')).toEqual([300_002]);
  });

  it('falls back to <0xAB> byte tokens, and fuses unknown characters, where the model says so', async () => {
    const vocab = { '<unk>': 0, a: 1, '<0xC3>': 2, '<0xA9>': 3 };
    const model = { type: 'BPE', vocab, merges: [], unk_token: '<unk>', byte_fallback: true, fuse_unk: true };
    const tokenizer = await loadPipeline({ 'tokenizer.json': { model, added_tokens: [], padding: { pad_id: 0 } } });
    expect(tokenizer.encode('aéxyа').inputIds).toEqual([1, 2, 3, 0]); // x, y and Cyrillic а fused into one <unk>
  });
});

// Ids in the unigram fixture (UNIGRAM_PIECES).
const [BLANK, A, B, AB, C, BC, E_ACUTE] = [4, 5, 6, 7, 8, 9, 14];

describe('SentencePiece unigram (XLM-R-style tokenizer.json)', () => {
  it('takes the split whose scores sum highest, not the longest first piece', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': unigramTokenizerJson() });
    // ▁ab = -2.5 beats ▁a + b = -3.
    expect(tokenizer.encode('ab').inputIds).toEqual([0, AB, 2]);
    // ▁a + bc = -1.5 beats ▁ab + c = -5.5.
    expect(tokenizer.tokenize('abc')).toEqual(['▁a', 'bc']);
    expect(tokenizer.tokenize('ab abc')).toEqual(['▁ab', '▁a', 'bc']);
  });

  it('normalizes (NFKC, runs of spaces to one) and marks word starts with ▁', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': unigramTokenizerJson() });
    expect(tokenizer.tokenize('ａｂ')).toEqual(['▁ab']); // fullwidth letters
    expect(tokenizer.encode('e\u0301').inputIds).toEqual([0, BLANK, E_ACUTE, 2]); // composed by NFKC
    expect(tokenizer.encode('a   b').inputIds).toEqual([0, A, BLANK, B, 2]);
    const noReplace = unigramTokenizerJson({ normalizer: null });
    // Without the Replace step each ▁ after the first joins the next piece: ▁a, ▁▁b.
    expect((await loadPipeline({ 'tokenizer.json': noReplace })).encode('a  b').inputIds).toEqual([0, A, BLANK, BLANK, B, 2]);
  });

  it('gives characters no piece covers the unknown piece, one per run, or their bytes with byte_fallback', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': unigramTokenizerJson() });
    expect(tokenizer.encode('xy').inputIds).toEqual([0, BLANK, 3, 2]);
    expect(tokenizer.encode('c😀x c').inputIds).toEqual([0, BLANK, C, 3, BLANK, C, 2]);
    const bytes = await loadPipeline({ 'tokenizer.json': unigramTokenizerJson({}, true) });
    expect(bytes.encode('😀').inputIds).toEqual([0, BLANK, 10, 11, 12, 13, 2]);
    expect(bytes.encode('x').inputIds).toEqual([0, BLANK, 3, 2]); // no <0x78> piece: unknown after all
  });

  it('follows the TemplateProcessing post-processor, the <mask> lstrip and longest-first truncation', async () => {
    const tokenizer = await loadPipeline({ 'tokenizer.json': unigramTokenizerJson() });
    expect(tokenizer.encode('ab', 'abc').inputIds).toEqual([0, AB, 2, 2, A, BC, 2]);
    expect(tokenizer.encode('ab <mask>').inputIds).toEqual([0, AB, 15, 2]);
    expect(tokenizer.encode('abc abc', 'ab', { maxLength: 6 }).inputIds).toEqual([0, A, 2, 2, AB, 2]);
    expect(tokenizer.padTokenId).toBe(1);
    const albert = unigramTokenizerJson({
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
      },
    });
    expect((await loadPipeline({ 'tokenizer.json': albert })).encode('ab', 'ab').tokenTypeIds).toEqual([0, 0, 1]);
  });

  it('refuses unknown model, normalizer, pre-tokenizer and post-processor types, naming them', async () => {
    const base = unigramTokenizerJson();
    expect(await refusal({ 'tokenizer.json': { ...base, normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Nmt' }] } } })).toBe(
      'normalizer.normalizers[1].type: expected one of NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Precompiled, Sequence, got "Nmt"',
    );
    expect(await refusal({ 'tokenizer.json': { ...base, pre_tokenizer: { type: 'CharDelimiterSplit', delimiter: ' ' } } })).toBe(
      'pre_tokenizer.type: expected one of ByteLevel, Metaspace, Whitespace, WhitespaceSplit, Split, Punctuation, Digits, Sequence, got "CharDelimiterSplit"',
    );
    expect(await refusal({ 'tokenizer.json': { ...base, post_processor: { type: 'Fancy' } } })).toBe(
      'post_processor.type: expected one of TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence, got "Fancy"',
    );
    expect(await refusal({ 'tokenizer.json': { ...base, model: { type: 'WordLevel', vocab: {} } } })).toBe(
      'model.type: expected one of WordPiece, BPE, Unigram, got "WordLevel"',
    );
    expect(await refusal({ 'tokenizer.json': { ...base, model: { ...(base.model as object), vocab: [['a', 'high']] } } })).toBe(
      'model.vocab[0]: expected [piece, score], got ["a","high"]',
    );
    const noPad = { ...base, added_tokens: [], model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0], ['a', -1]] } };
    expect(await refusal({ 'tokenizer.json': noPad })).toMatch(/^padding: expected a padding token/);
  });
});

describe('normalizers', () => {
  const normalize = (json: unknown, text: string): string => readNormalizer(json, 'normalizer', fields)(text);

  it('lowercases one code point at a time, strips accents and white space, replaces and prepends', () => {
    expect(normalize({ type: 'Lowercase' }, 'ΟΔΟΣ İ')).toBe('οδοσ i̇');
    expect(normalize({ type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }] }, 'Ångström')).toBe('Angstrom');
    expect(normalize({ type: 'Strip', strip_left: true, strip_right: false }, '\u3000\t a b \u00a0')).toBe('a b \u00a0');
    expect(normalize({ type: 'Strip', strip_left: true, strip_right: true }, '\u0085a\ufeff')).toBe('a\ufeff'); // BOM is no space
    expect(normalize({ type: 'Replace', pattern: { String: '``' }, content: '"' }, '``a`` b')).toBe('"a" b');
    expect(normalize({ type: 'Replace', pattern: { Regex: '\\s+' }, content: '_' }, 'a \t b')).toBe('a_b');
    expect(normalize({ type: 'Prepend', prepend: '▁' }, 'a')).toBe('▁a');
    expect(normalize({ type: 'NFKC' }, 'ﬁ①')).toBe('fi1');
    expect(() => normalize({ type: 'Replace', pattern: { Regex: '(?<x' }, content: '' }, 'a')).toThrow(/^test.json: normalizer.pattern.Regex: expected a regular expression JavaScript reads/);
  });

  /** A precompiled charsmap holding `rules`: a double-array trie over the keys' UTF-8 bytes, then the replacements. */
  function charsmap(rules: Record<string, string>): Uint8Array {
    const encoder = new TextEncoder();
    const replacements: number[] = [];
    interface Node { children: Map<number, Node>; value?: number }
    const root: Node = { children: new Map() };
    for (const [key, replacement] of Object.entries(rules)) {
      let node = root;
      for (const value of encoder.encode(key)) {
        if (!node.children.has(value)) node.children.set(value, { children: new Map() });
        node = node.children.get(value) as Node;
      }
      node.value = replacements.length;
      replacements.push(...encoder.encode(replacement), 0);
    }
    const units: number[] = [];
    const used = new Set<number>([0]);
    // As in darts-clone, no two nodes share a base, so a byte read from the wrong node never finds its own label.
    const bases = new Set<number>();
    const place = (node: Node, position: number, label: number): void => {
      const labels = [...node.children.keys(), ...(node.value === undefined ? [] : [0])];
      let base = 1;
      while (bases.has(base) || labels.some((value) => used.has(base ^ value))) base++;
      bases.add(base);
      for (const value of labels) used.add(base ^ value);
      units[position] = ((position ^ base) << 10) | (node.value === undefined ? 0 : 1 << 8) | label;
      if (node.value !== undefined) units[base] = (node.value | 0x80000000) >>> 0;
      for (const [value, child] of node.children) place(child, base ^ value, value);
    };
    place(root, 0, 0);
    const trie = Array.from({ length: units.length }, (_, index) => units[index] ?? 0);
    const bytes = new Uint8Array(4 + 4 * trie.length + replacements.length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 4 * trie.length, true);
    trie.forEach((unit, index) => view.setUint32(4 + 4 * index, unit, true));
    bytes.set(replacements, 4 + 4 * trie.length);
    return bytes;
  }

  it('applies a precompiled charsmap per grapheme cluster, else per character, as the reference does', () => {
    const rules = charsmap({ 'ﬁ': 'fi', '\u00a0': ' ', 'e\u0301': 'é', '\u200b': '', 'Ａ': 'A', '\r': ' ' });
    const map = new PrecompiledCharsmap(rules, 'test');
    expect(map.normalize('ﬁ\u00a0e\u0301x\u200by')).toBe('fi éxy');
    // A cluster is looked up whole: the shortest key that is its prefix (Ａ) gives the replacement of all of it, so
    // the accent goes. A cluster of 6 bytes or more is looked up per character, and the accent stays.
    expect(map.normalize('Ａ\u0301😀')).toBe('A😀');
    expect(map.normalize('Ａ\u0301\u0301')).toBe('A\u0301\u0301');
    // CR LF is one cluster, so the rule for CR replaces both; a lone CR is replaced alone.
    expect(map.normalize('a\r\nb\rc\r')).toBe('a b c ');
    const base64 = Buffer.from(rules).toString('base64');
    expect(normalize({ type: 'Precompiled', precompiled_charsmap: base64 }, 'ﬁ\u00a0')).toBe('fi ');
    expect(() => new PrecompiledCharsmap(new Uint8Array([9, 0, 0, 0]), 'spiece')).toThrow(
      'spiece: normalizer.precompiled_charsmap: expected a trie length (a multiple of 4 within the 4 bytes) first, got 9',
    );
  });
});

describe('pre-tokenizers', () => {
  const split = (json: unknown, text: string): string[] =>
    readPreTokenizer(json, 'pre_tokenizer', fields)([{ text, first: true }]).map((piece) => piece.text);

  it('splits as Whitespace, WhitespaceSplit, Punctuation, Digits and Split say', () => {
    expect(split({ type: 'Whitespace' }, "Héllo, wörld!! it's")).toEqual(['Héllo', ',', 'wörld', '!!', 'it', "'", 's']);
    expect(split({ type: 'WhitespaceSplit' }, ' a\u3000b\n c ')).toEqual(['a', 'b', 'c']);
    expect(split({ type: 'Punctuation', behavior: 'Isolated' }, 'a,b.')).toEqual(['a', ',', 'b', '.']);
    expect(split({ type: 'Digits', individual_digits: true }, 'a12')).toEqual(['a', '1', '2']);
    expect(split({ type: 'Digits', individual_digits: false }, 'a12')).toEqual(['a', '12']);
    const pattern = { String: '-' };
    expect(split({ type: 'Split', pattern, behavior: 'Removed', invert: false }, 'a--b')).toEqual(['a', 'b']);
    expect(split({ type: 'Split', pattern, behavior: 'MergedWithPrevious', invert: false }, 'a--b')).toEqual(['a-', '-', 'b']);
    expect(split({ type: 'Split', pattern, behavior: 'MergedWithNext', invert: false }, 'a--b')).toEqual(['a', '--b']);
    expect(split({ type: 'Split', pattern, behavior: 'Contiguous', invert: false }, 'a--b')).toEqual(['a', '--', 'b']);
  });

  it('prepends ▁ always, never, or only at the start of the text (Metaspace prepend_scheme)', () => {
    const metaspace = (scheme: string): unknown => ({ type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split: false });
    expect(split(metaspace('always'), 'a b')).toEqual(['▁a▁b']);
    expect(split(metaspace('never'), 'a b')).toEqual(['a▁b']);
    const first = readPreTokenizer(metaspace('first'), 'pre_tokenizer', fields);
    expect(first([{ text: 'a', first: false }]).map((piece) => piece.text)).toEqual(['a']);
    expect(split({ type: 'Metaspace', replacement: '▁', add_prefix_space: true }, ' a')).toEqual(['▁a']);
  });
});

describe('post-processors', () => {
  const read = (json: unknown): PostProcessor => readPostProcessor(json, 'post_processor', fields);

  it('BertProcessing: [CLS] a [SEP] b [SEP], the second text and its [SEP] of type 1', () => {
    const bert = read({ type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] });
    expect(bert.apply([7, 8], [9])).toEqual({ inputIds: [101, 7, 8, 102, 9, 102], tokenTypeIds: [0, 0, 0, 0, 1, 1] });
    expect([bert.addedCount(false), bert.addedCount(true)]).toEqual([2, 3]);
  });

  it('RobertaProcessing, ByteLevel, none, and a Sequence of ByteLevel and a template', () => {
    expect(read({ type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0] }).apply([7], [9])).toEqual({ inputIds: [0, 7, 2, 2, 9, 2], tokenTypeIds: [0, 0, 0, 0, 0, 0] });
    expect(read({ type: 'ByteLevel', trim_offsets: true }).apply([7], [9])).toEqual({ inputIds: [7, 9], tokenTypeIds: [0, 1] });
    expect(read(null).apply([7], null)).toEqual({ inputIds: [7], tokenTypeIds: [0] });
    const template = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    };
    const sequence = read({ type: 'Sequence', processors: [{ type: 'ByteLevel' }, template] });
    expect(sequence.apply([7], null)).toEqual({ inputIds: [1, 7], tokenTypeIds: [0, 0] });
    expect(() => read({ type: 'Sequence', processors: [template, template] })).toThrow(
      'test.json: post_processor.processors: expected at most one processor besides ByteLevel, got ["TemplateProcessing","TemplateProcessing"]',
    );
    expect(() => read({ ...template, single: [{ SpecialToken: { id: '<cls>', type_id: 0 } }] })).toThrow(
      'test.json: post_processor.special_tokens["<cls>"]: expected an object, got nothing',
    );
  });
});

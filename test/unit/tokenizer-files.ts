// Tiny tokenizer files in the formats Hugging Face models ship, built in code for the tokenizer and Hub tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BYTE_TO_CHARACTER } from '../../src/tokenizer/pre-tokenizers';

/** A fresh directory holding the given files (objects are written as JSON). */
export function modelDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokenizer-files-'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

/** An `added_tokens` entry for a special token, as `tokenizers` saves it. */
function specialToken(content: string, id: number, lstrip = false): unknown {
  return { id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true };
}

/** RoBERTa's special tokens, ids 0 to 4 as in roberta-base (`<mask>` comes last there; here it is id 4). */
export const ROBERTA_SPECIALS = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'];
/** Merges in rank order: `h i` outranks `Ġ h`, so ` hi` becomes `Ġ` + `hi`, never `Ġh` + `i` = `Ġhi`. */
export const BPE_MERGES: Array<[string, string]> = [
  ['h', 'i'],
  ['Ġ', 'h'],
  ['Ġh', 'i'],
  ['ð', 'Ł'],
];

/** A byte-level BPE vocabulary: the specials, the 256 byte characters (ids 5 to 260), then the merged tokens. */
export function byteLevelVocabulary(): Record<string, number> {
  const tokens = [...ROBERTA_SPECIALS, ...BYTE_TO_CHARACTER, 'hi', 'Ġh', 'Ġhi', 'ðŁ'];
  return Object.fromEntries(tokens.map((token, id) => [token, id]));
}

/** A RoBERTa `tokenizer.json` over `byteLevelVocabulary()`. */
export function robertaTokenizerJson(addPrefixSpace = false): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ROBERTA_SPECIALS.map((token, id) => specialToken(token, id, token === '<mask>')),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: addPrefixSpace },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: byteLevelVocabulary(),
      merges: BPE_MERGES.map((merge) => merge.join(' ')),
    },
  };
}

/** SentencePiece pieces and scores (XLM-R's specials first; byte pieces for the emoji 😀). */
export const UNIGRAM_PIECES: Array<[string, number]> = [
  ['<s>', 0],
  ['<pad>', 0],
  ['</s>', 0],
  ['<unk>', 0],
  ['▁', -2],
  ['▁a', -1],
  ['b', -2],
  ['▁ab', -2.5],
  ['c', -3],
  ['bc', -0.5],
  ['<0xF0>', -5],
  ['<0x9F>', -5],
  ['<0x98>', -5],
  ['<0x80>', -5],
  ['é', -2],
  ['<mask>', 0],
];

/** An XLM-R-style unigram `tokenizer.json` over `UNIGRAM_PIECES`; `patch` replaces top-level members. */
export function unigramTokenizerJson(patch: Record<string, unknown> = {}, byteFallback = false): Record<string, unknown> {
  const added = (content: string, lstrip = false): unknown =>
    specialToken(content, UNIGRAM_PIECES.findIndex(([piece]) => piece === content), lstrip);
  const special = (id: string): unknown => ({ SpecialToken: { id, type_id: 0 } });
  const sequence = (id: string): unknown => ({ Sequence: { id, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added('<s>'), added('<pad>'), added('</s>'), added('<unk>'), added('<mask>', true)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
    },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('<s>'), sequence('A'), special('</s>')],
      pair: [special('<s>'), sequence('A'), special('</s>'), special('</s>'), sequence('B'), special('</s>')],
      special_tokens: {
        '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] },
        '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] },
      },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 3, vocab: UNIGRAM_PIECES, byte_fallback: byteFallback },
    ...patch,
  };
}

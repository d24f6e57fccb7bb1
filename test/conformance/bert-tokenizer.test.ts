// Every record of the reference encodings (Hugging Face's slow BertTokenizer, Python 3.11 / Unicode 14.0) must match
// exactly: tokens, truncated and padded model inputs, and the untruncated encoding.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { WordPieceTokenizer } from '../../src/tokenizer/word-piece-tokenizer';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer';
import { hasShared, sharedPath } from '../shared-fixtures';

interface TokenizerRecord {
  id: string;
  do_lower_case: boolean;
  text: string;
  text_pair: string | null;
  tokens: string[];
  tokens_pair: string[] | null;
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
  input_tokens: string[];
  untruncated_input_ids: number[];
  untruncated_token_type_ids: number[];
  truncated: boolean;
}

const FIXTURE = ['conformance', 'bert-tokenizer', 'expected.jsonl'] as const;
const VOCAB_DIR = ['vocab', 'bert-base-uncased'] as const;
const available = hasShared(...FIXTURE) && hasShared(...VOCAB_DIR);

// The README asks for splitting on \n only: U+2028/U+2029 inside texts are escaped, but other splitters would differ.
const records: TokenizerRecord[] = available
  ? readFileSync(sharedPath(...FIXTURE), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as TokenizerRecord)
  : [];

describe.skipIf(!available)('BERT WordPiece conformance (500 reference records)', () => {
  let uncased: WordPieceTokenizer;
  let cased: WordPieceTokenizer;

  beforeAll(async () => {
    // No tokenizer_config.json in the shared folder: the uncased default comes from the vocabulary itself.
    uncased = (await loadTokenizer(sharedPath(...VOCAB_DIR))) as WordPieceTokenizer;
    cased = WordPieceTokenizer.fromVocabFile(sharedPath(...VOCAB_DIR, 'vocab.txt'), { doLowerCase: false });
  });

  it('reads all 500 records, both casings and the truncated ones', () => {
    expect(records).toHaveLength(500);
    expect(records.filter((record) => !record.do_lower_case)).toHaveLength(50);
    expect(records.filter((record) => record.truncated)).toHaveLength(33);
    expect(uncased.options.doLowerCase).toBe(true);
    expect(uncased.vocabSize).toBe(30522);
  });

  it.each(records.map((record) => [record.id, record] as const))('%s', (_id, record) => {
    const tokenizer = record.do_lower_case ? uncased : cased;
    expect(tokenizer.tokenize(record.text)).toEqual(record.tokens);
    if (record.text_pair !== null) expect(tokenizer.tokenize(record.text_pair)).toEqual(record.tokens_pair);

    const encoding = tokenizer.encode(record.text, record.text_pair, { maxLength: 128, padding: 'max_length' });
    expect(encoding.inputIds).toEqual(record.input_ids);
    expect(encoding.tokenTypeIds).toEqual(record.token_type_ids);
    expect(encoding.attentionMask).toEqual(record.attention_mask);
    expect(tokenizer.convertIdsToTokens(encoding.inputIds)).toEqual(record.input_tokens);

    const untruncated = tokenizer.encode(record.text, record.text_pair);
    expect(untruncated.inputIds).toEqual(record.untruncated_input_ids);
    expect(untruncated.tokenTypeIds).toEqual(record.untruncated_token_type_ids);
  });
});

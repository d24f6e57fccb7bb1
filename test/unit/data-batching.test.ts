import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  batchToTensors,
  encodeExamples,
  IGNORE_INDEX,
  makeBatches,
  SeededRandom,
  type Batch,
  type EncodeOptions,
  type Encoding,
  type EncodedExample,
  type Example,
  type HeadSpec,
  type Tokenizer,
} from '../../src/index';

/**
 * A trivial tokenizer: whitespace words, each cut into pieces of at most `pieceLength` characters (a stand-in for
 * WordPiece sub-tokens); ids are handed out on first sight. [PAD] 0, [CLS] 1, [SEP] 2.
 */
class PieceTokenizer implements Tokenizer {
  readonly padTokenId = 0;
  private readonly vocabulary = new Map<string, number>([['[PAD]', 0], ['[CLS]', 1], ['[SEP]', 2]]);

  constructor(private readonly pieceLength = Infinity) {}

  get vocabSize(): number {
    return this.vocabulary.size;
  }

  protected pieces(text: string): string[] {
    return text
      .split(/\s+/)
      .filter((word) => word !== '')
      .flatMap((word) => word.match(new RegExp(`.{1,${Math.min(this.pieceLength, 1000)}}`, 'g')) ?? []);
  }

  private id(token: string): number {
    if (!this.vocabulary.has(token)) this.vocabulary.set(token, this.vocabulary.size);
    return this.vocabulary.get(token) as number;
  }

  encode(text: string, textPair?: string | null, options: EncodeOptions = {}): Encoding {
    const first = this.pieces(text);
    const second = textPair ? this.pieces(textPair) : undefined;
    const budget = (options.maxLength ?? Infinity) - (second ? 3 : 2);
    while (first.length + (second?.length ?? 0) > budget) (second && second.length > first.length ? second : first).pop();
    const ids = [1, ...first.map((t) => this.id(t)), 2, ...(second ? [...second.map((t) => this.id(t)), 2] : [])];
    return {
      inputIds: ids,
      tokenTypeIds: ids.map((_, i) => (i < first.length + 2 ? 0 : 1)),
      attentionMask: ids.map(() => 1),
    };
  }
}

/** The same, also exposing `tokenize` as WordPiece does. */
class TokenizingPieceTokenizer extends PieceTokenizer {
  tokenize(text: string): string[] {
    return this.pieces(text);
  }
}

const binary: HeadSpec = { type: 'classification', labels: ['neg', 'pos'] };

describe('encodeExamples', () => {
  it('encodes a pair with token types and keeps the label', () => {
    const [encoded] = encodeExamples([{ id: 'a', text: 'a b', textPair: 'c', label: 1 }], new PieceTokenizer(), binary, 16);
    expect(encoded).toEqual({ id: 'a', rows: [{ inputIds: [1, 3, 4, 2, 5, 2], tokenTypeIds: [0, 0, 0, 0, 1, 1], attentionMask: [1, 1, 1, 1, 1, 1] }], label: 1 });
  });

  it('multiple choice: one row per choice, each paired with the shared text', () => {
    const head: HeadSpec = { type: 'multiple-choice', numChoices: 2 };
    const [encoded] = encodeExamples([{ id: 'q', text: 'sky is', choices: ['blue', 'very green'], label: 0 }], new PieceTokenizer(), head, 16);
    expect(encoded?.rows.map((row) => row.inputIds)).toEqual([
      [1, 3, 4, 2, 5, 2],
      [1, 3, 4, 2, 6, 7, 2],
    ]);
    expect(encoded?.label).toBe(0);
    expect(() => encodeExamples([{ id: 'q', text: 'x', choices: ['one'], label: 0 }], new PieceTokenizer(), head, 16)).toThrow('example q: expected 2 choices, got 1');
  });

  it.each([
    ['tokenize', new TokenizingPieceTokenizer(4)],
    ['encoding each word', new PieceTokenizer(4)],
  ])('tagging: each word tag goes to its first sub-token, -100 elsewhere (sub-tokens by %s)', (_, tokenizer) => {
    const head: HeadSpec = { type: 'tagging', labels: ['O', 'A', 'B'] };
    const example: Example = { id: 't', text: 'hello a wonderful', words: ['hello', 'a', 'wonderful'], label: [1, 0, 2] };
    // [CLS] hell o a wond erfu l [SEP]
    expect(encodeExamples([example], tokenizer, head, 32)[0]?.label).toEqual([-100, 1, -100, 0, 2, -100, -100, -100]);
    // Truncated to [CLS] hell o a [SEP]: the last word's tag is dropped with its tokens.
    const [truncated] = encodeExamples([example], tokenizer, head, 5);
    expect(truncated?.rows[0]?.inputIds).toHaveLength(5);
    expect(truncated?.label).toEqual([-100, 1, -100, 0, -100]);
  });

  it('refuses a tokenizer that returns more than maxLength tokens', () => {
    const careless: Tokenizer = { padTokenId: 0, vocabSize: 3, encode: () => ({ inputIds: [1, 0, 0, 2], tokenTypeIds: [0, 0, 0, 0], attentionMask: [1, 1, 1, 1] }) };
    expect(() => encodeExamples([{ id: 'x', text: 'a' }], careless, binary, 3)).toThrow('example x: the tokenizer returned 4 tokens for maxLength 3');
  });
});

/** Examples of random lengths 1–60 words, as a real dataset's spread. */
function randomExamples(count: number): Example[] {
  const random = new SeededRandom(7);
  return Array.from({ length: count }, (_, i) => ({ id: `e${i}`, text: Array.from({ length: 1 + random.int(60) }, (_, k) => `w${k}`).join(' '), label: i % 2 }));
}

function paddingOf(batches: readonly Batch[]): number {
  return batches.reduce((sum, batch) => sum + batch.attentionMask.flat().filter((m) => m === 0).length, 0);
}

describe('makeBatches', () => {
  const encoded = encodeExamples(randomExamples(400), new PieceTokenizer(), binary, 48);

  it('pads each batch to its longest row: ids with the pad id, token types and mask with 0', () => {
    const two: EncodedExample[] = [
      { id: 'a', rows: [{ inputIds: [1, 5, 2], tokenTypeIds: [0, 0, 0], attentionMask: [1, 1, 1] }], label: 0 },
      { id: 'b', rows: [{ inputIds: [1, 2], tokenTypeIds: [0, 0], attentionMask: [1, 1] }], label: 1 },
    ];
    expect(makeBatches(two, { batchSize: 2, shuffle: false, seed: 0, padTokenId: 9 })).toEqual([
      { ids: ['a', 'b'], inputIds: [[1, 5, 2], [1, 2, 9]], tokenTypeIds: [[0, 0, 0], [0, 0, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]], labels: [0, 1] },
    ]);
  });

  it('keeps the order without shuffle and every example exactly once with it', () => {
    const ordered = makeBatches(encoded, { batchSize: 32, shuffle: false, seed: 1 });
    expect(ordered.flatMap((b) => b.ids)).toEqual(encoded.map((e) => e.id));
    expect(ordered.map((b) => b.ids.length)).toEqual([...new Array<number>(12).fill(32), 16]);
    const shuffled = makeBatches(encoded, { batchSize: 32, shuffle: true, seed: 1, sortWindow: 128 });
    expect(shuffled.flatMap((b) => b.ids).sort()).toEqual(encoded.map((e) => e.id).sort());
  });

  it('is repeatable for a seed and differs between seeds', () => {
    const options = { batchSize: 16, shuffle: true, sortWindow: 64 };
    const first = makeBatches(encoded, { ...options, seed: 42 });
    expect(makeBatches(encoded, { ...options, seed: 42 })).toEqual(first);
    expect(makeBatches(encoded, { ...options, seed: 43 }).map((b) => b.ids)).not.toEqual(first.map((b) => b.ids));
  });

  it('sorting by length within a window cuts padding several-fold', () => {
    const unsorted = paddingOf(makeBatches(encoded, { batchSize: 16, shuffle: true, seed: 3 }));
    const sorted = paddingOf(makeBatches(encoded, { batchSize: 16, shuffle: true, seed: 3, sortWindow: 160 }));
    expect(sorted).toBeLessThan(unsorted / 4);
  });

  it('never exceeds maxLength: long texts are truncated when encoded', () => {
    const batches = makeBatches(encoded, { batchSize: 16, shuffle: true, seed: 5, sortWindow: 64 });
    const widths = batches.map((b) => b.inputIds[0]?.length ?? 0);
    expect(Math.max(...widths)).toBe(48);
    for (const batch of batches) expect(new Set(batch.inputIds.map((row) => row.length)).size).toBe(1);
  });

  it('keeps the choices of an example together and refuses a half-labelled batch', () => {
    const head: HeadSpec = { type: 'multiple-choice', numChoices: 3 };
    const examples = [0, 1, 2].map((i) => ({ id: `q${i}`, text: 'q', choices: ['a', 'b b', 'c c c'], label: i }));
    const [batch] = makeBatches(encodeExamples(examples, new PieceTokenizer(), head, 16), { batchSize: 2, shuffle: false, seed: 0 });
    expect(batch?.inputIds).toHaveLength(6);
    expect(batch?.labels).toEqual([0, 1]);
    const mixed = encodeExamples([{ id: 'x', text: 'a', label: 1 }, { id: 'y', text: 'b' }], new PieceTokenizer(), binary, 8);
    expect(() => makeBatches(mixed, { batchSize: 2, shuffle: false, seed: 0 })).toThrow('example y has no label while others in its batch do');
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => makeBatches(encoded, { batchSize: 0, shuffle: false, seed: 0 })).toThrow('batchSize: expected a positive integer, got 0');
  });
});

describe('batchToTensors', () => {
  const base = { ids: ['a', 'b'], inputIds: [[1, 5, 2], [1, 2, 0]], tokenTypeIds: [[0, 0, 0], [0, 0, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]] };

  async function labelsOf(batch: Batch, head: HeadSpec): Promise<{ dtype: string; shape: number[]; values: unknown }> {
    const before = tf.memory().numTensors;
    const tensors = batchToTensors(batch, head);
    const labels = tensors.labels as tf.Tensor;
    const result = { dtype: labels.dtype, shape: labels.shape, values: await labels.array() };
    expect(tensors.inputIds.dtype).toBe('int32');
    expect(await tensors.attentionMask.array()).toEqual(batch.attentionMask);
    tf.dispose([tensors.inputIds, tensors.tokenTypeIds, tensors.attentionMask, labels]);
    expect(tf.memory().numTensors).toBe(before);
    return result;
  }

  it('classification: int32 (B) class indices', async () => {
    expect(await labelsOf({ ...base, labels: [1, 0] }, binary)).toEqual({ dtype: 'int32', shape: [2], values: [1, 0] });
  });

  it('regression: float32 (B)', async () => {
    expect(await labelsOf({ ...base, labels: [3.5, 0.25] }, { type: 'regression' })).toEqual({ dtype: 'float32', shape: [2], values: [3.5, 0.25] });
  });

  it('multi-label: float32 (B, L) multi-hot', async () => {
    const head: HeadSpec = { type: 'multi-label', labels: ['x', 'y', 'z'] };
    expect(await labelsOf({ ...base, labels: [[0, 2], []] }, head)).toEqual({ dtype: 'float32', shape: [2, 3], values: [[1, 0, 1], [0, 0, 0]] });
  });

  it('tagging: int32 (B, T), padding positions ignored', async () => {
    const head: HeadSpec = { type: 'tagging', labels: ['O', 'A'] };
    const labels = [[-100, 1, -100], [-100, -100]];
    expect(await labelsOf({ ...base, labels }, head)).toEqual({ dtype: 'int32', shape: [2, 3], values: [[-100, 1, -100], [-100, -100, IGNORE_INDEX]] });
  });

  it('no labels on an unlabelled batch', () => {
    const tensors = batchToTensors(base, binary);
    expect(tensors.labels).toBeUndefined();
    expect(tensors.inputIds.shape).toEqual([2, 3]);
    tf.dispose([tensors.inputIds, tensors.tokenTypeIds, tensors.attentionMask]);
  });
});

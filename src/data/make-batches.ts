import { SeededRandom } from '../util/random';
import type { EncodedExample } from './encode-examples';

/**
 * A padded batch of examples, as plain arrays. Rows are padded to the batch's longest row. Multiple choice: B examples
 * give B×numChoices rows (example-major) and B labels; tagging: one label per token of the example's row, unpadded
 * (`batchToTensors` pads them with `IGNORE_INDEX`).
 */
export interface Batch {
  ids: string[];
  inputIds: number[][];
  tokenTypeIds: number[][];
  attentionMask: number[][];
  /** Present when every example of the batch has a label. */
  labels?: (number | number[])[];
}

/** How `makeBatches` groups examples. */
export interface BatchOptions {
  /** Examples per batch (the last batch may be smaller). */
  batchSize: number;
  /** Shuffle the examples (and, with `sortWindow`, the batches) with `seed`. */
  shuffle: boolean;
  /** Seed of the shuffle; the same encoded examples, options and seed give the same batches. Vary it per epoch. */
  seed: number;
  /**
   * Sort examples by length within windows of this many examples (rounded up to a multiple of `batchSize`) so each
   * batch holds rows of similar length and needs less padding; 0 or 1 keeps the order (default 0).
   */
  sortWindow?: number;
  /** Id that pads `inputIds` (default 0, BERT's [PAD]; pass `tokenizer.padTokenId` for other vocabularies). */
  padTokenId?: number;
}

function lengthOf(example: EncodedExample): number {
  return Math.max(...example.rows.map((row) => row.inputIds.length));
}

function pad(values: readonly number[], width: number, filler: number): number[] {
  return values.length === width ? [...values] : [...values, ...new Array<number>(width - values.length).fill(filler)];
}

function toBatch(examples: readonly EncodedExample[], padTokenId: number): Batch {
  const width = Math.max(...examples.map(lengthOf));
  const rows = examples.flatMap((example) => example.rows);
  const batch: Batch = {
    ids: examples.map((example) => example.id),
    inputIds: rows.map((row) => pad(row.inputIds, width, padTokenId)),
    tokenTypeIds: rows.map((row) => pad(row.tokenTypeIds, width, 0)),
    attentionMask: rows.map((row) => pad(row.attentionMask, width, 0)),
  };
  const labelled = examples.filter((example) => example.label !== undefined).length;
  if (labelled === examples.length) batch.labels = examples.map((example) => example.label as number | number[]);
  else if (labelled > 0) {
    const missing = examples.find((example) => example.label === undefined) as EncodedExample;
    throw new Error(`example ${missing.id} has no label while others in its batch do; a split is either labelled or not`);
  }
  return batch;
}

/**
 * Groups encoded examples into padded batches. With `shuffle`, the order is drawn from `seed` (repeatable); with
 * `sortWindow`, examples are sorted by length inside each window, then the batches are shuffled, so batches hold
 * rows of similar length without ordering the epoch by length.
 *
 * @example
 * const batches = makeBatches(encoded, { batchSize: 32, shuffle: true, seed: 42 + epoch, sortWindow: 32 * 50 });
 */
export function makeBatches(encoded: readonly EncodedExample[], options: BatchOptions): Batch[] {
  const { batchSize, shuffle, seed, sortWindow = 0, padTokenId = 0 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize: expected a positive integer, got ${batchSize}`);
  if (!Number.isInteger(sortWindow) || sortWindow < 0) throw new Error(`sortWindow: expected a non-negative integer, got ${sortWindow}`);
  const random = new SeededRandom(seed);
  let order = encoded.map((_, i) => i);
  if (shuffle) order = random.shuffle(order);
  if (sortWindow > 1) {
    const window = Math.ceil(sortWindow / batchSize) * batchSize;
    const lengths = encoded.map(lengthOf);
    const sorted: number[] = [];
    for (let start = 0; start < order.length; start += window) {
      // Array.prototype.sort is stable, so equal lengths keep their (shuffled) order.
      sorted.push(...order.slice(start, start + window).sort((a, b) => (lengths[a] as number) - (lengths[b] as number)));
    }
    order = sorted;
  }
  let batches: Batch[] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    batches.push(toBatch(order.slice(start, start + batchSize).map((i) => encoded[i] as EncodedExample), padTokenId));
  }
  if (shuffle && sortWindow > 1) batches = random.shuffle(batches);
  return batches;
}

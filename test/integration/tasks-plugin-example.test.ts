// The example plugin in docs/examples/plugin is loaded by file path, as a user's config would name it, and run through
// the data pipeline up to the loss.
import * as tf from '@tensorflow/tfjs-core';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batchToTensors,
  computeMetrics,
  createContainer,
  encodeExamples,
  loadModules,
  makeBatches,
  readTaskSplit,
  taskRegistry,
  type Encoding,
  type TaskPlugin,
  type Tokenizer,
} from '../../src/index';

const repoRoot = resolve(__dirname, '../..');
const dataDir = resolve(repoRoot, 'docs/examples/plugin/data');

/** Whitespace words with ids handed out on first sight; [PAD] 0, [CLS] 1, [SEP] 2. */
const words = new Map<string, number>();
const tokenizer: Tokenizer = {
  padTokenId: 0,
  vocabSize: 30000,
  encode(text: string): Encoding {
    const ids = text.toLowerCase().split(/\s+/).map((word) => {
      if (!words.has(word)) words.set(word, words.size + 3);
      return words.get(word) as number;
    });
    const inputIds = [1, ...ids, 2];
    return { inputIds, tokenTypeIds: inputIds.map(() => 0), attentionMask: inputIds.map(() => 1) };
  },
};

let plugin: TaskPlugin;
beforeAll(async () => {
  const modules = await loadModules(['./docs/examples/plugin/sentiment-task.ts'], repoRoot);
  plugin = taskRegistry(createContainer(modules)).get('sentiment');
});

describe('example plugin docs/examples/plugin/sentiment-task.ts', () => {
  it('declares its head, metrics and splits', () => {
    expect(plugin.head).toEqual({ type: 'classification', labels: ['negative', 'positive'] });
    expect(plugin.metrics).toEqual(['accuracy', 'macro_f1']);
    expect(plugin.splits).toEqual(['train', 'dev', 'test']);
  });

  it('reads its shipped data: balanced labelled train and dev, unlabelled test', async () => {
    const train = await readTaskSplit(plugin, 'train', { dataDir });
    const dev = await readTaskSplit(plugin, 'dev', { dataDir });
    const test = await readTaskSplit(plugin, 'test', { dataDir });
    expect([train.length, dev.length, test.length]).toEqual([12, 6, 4]);
    expect(train[0]).toEqual({ id: 't01', text: 'A warm, funny film that I would gladly watch again.', label: 1 });
    expect(train.filter((e) => e.label === 1)).toHaveLength(6);
    expect(dev.filter((e) => e.label === 0)).toHaveLength(3);
    expect(test.every((e) => e.label === undefined)).toBe(true);
  });

  it('overrides the loss: cross-entropy against targets smoothed by 0.1', async () => {
    const logits = tf.tensor2d([[2, 0], [0, 1]]);
    const labels = tf.tensor1d([0, 1], 'int32');
    const loss = plugin.loss?.(logits, labels) as tf.Scalar;
    const crossEntropy = (row: number[], target: number[]): number => {
      const logSum = Math.log(row.reduce((sum, value) => sum + Math.exp(value), 0));
      return -row.reduce((sum, value, i) => sum + (target[i] as number) * (value - logSum), 0);
    };
    const expected = (crossEntropy([2, 0], [0.95, 0.05]) + crossEntropy([0, 1], [0.05, 0.95])) / 2; // 0.29509
    expect(loss.shape).toEqual([]);
    expect((await loss.data())[0]).toBeCloseTo(expected, 5);
    tf.dispose([logits, labels, loss]);
  });

  it('feeds the pipeline: encode, batch, tensors, loss, with no tensor left behind', async () => {
    const train = await readTaskSplit(plugin, 'train', { dataDir });
    const batches = makeBatches(encodeExamples(train, tokenizer, plugin.head, 16), { batchSize: 4, shuffle: true, seed: 1, sortWindow: 8 });
    expect(batches).toHaveLength(3);
    const before = tf.memory().numTensors;
    for (const batch of batches) {
      const value = tf.tidy(() => {
        const tensors = batchToTensors(batch, plugin.head);
        const logits = tf.zeros([tensors.inputIds.shape[0], 2]); // (B, 2) stands in for the head's output
        return (plugin.loss?.(logits, tensors.labels as tf.Tensor) as tf.Scalar).dataSync()[0];
      });
      expect(value).toBeCloseTo(Math.log(2), 5); // uniform logits: ln 2 whatever the smoothing
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('scores predictions with its metrics and writes its leaderboard file', async () => {
    const dev = await readTaskSplit(plugin, 'dev', { dataDir });
    const golds = dev.map((e) => e.label as number);
    expect(computeMetrics(plugin.metrics, [1, 0, 1, 0, 1, 1], golds)).toEqual({ accuracy: 5 / 6, macro_f1: expect.closeTo((0.8 + 6 / 7) / 2, 12) });
    const test = await readTaskSplit(plugin, 'test', { dataDir });
    expect(plugin.formatPredictions?.('test', test.map((e, i) => ({ id: e.id, value: i % 2 ? 0 : 1 })))).toEqual({
      fileName: 'sentiment-test.tsv',
      content: 'index\tprediction\nx01\tpositive\nx02\tnegative\nx03\tpositive\nx04\tnegative\n',
    });
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryCrossEntropyWithLogitsLoss, crossEntropyLoss, meanSquaredErrorLoss } from '../../src/heads/loss-functions';
import { createHead, loadHead, type PredictionHead } from '../../src/heads/prediction-head';
import type { HeadSpec } from '../../src/task/task-plugin';
import { hasShared, sharedPath } from '../shared-fixtures';

const D = 6;
const scalar = (t: tf.Scalar): number => {
  const value = t.dataSync()[0] ?? NaN;
  t.dispose();
  return value;
};

/** Plain-loop reference of AdapterHub's two-layer head on one vector. */
function twoLayer(head: PredictionHead, x: number[]): number[] {
  const [w1, b1, w4, b4] = ['1.weight', '1.bias', '4.weight', '4.bias'].map((k) => head.variables.get(`heads.${head.name}.${k}`)?.arraySync()) as [number[][], number[], number[][], number[]];
  const hidden = b1.map((b, j) => Math.tanh(x.reduce((a, v, i) => a + v * (w1[i]?.[j] ?? 0), b)));
  return b4.map((b, k) => hidden.reduce((a, v, j) => a + v * (w4[j]?.[k] ?? 0), b));
}

function bigWeights(head: PredictionHead): void {
  let i = 0;
  for (const variable of head.variables.values()) variable.assign(tf.tidy(() => tf.randomNormal(variable.shape, 0, 0.5, 'float32', 50 + i++)));
}

describe('loss functions', () => {
  it('match PyTorch on known values', () => {
    expect(scalar(crossEntropyLoss(tf.tensor2d([[2, 0], [0, 0]]), tf.tensor1d([0, 1], 'int32')))).toBeCloseTo((Math.log(1 + Math.exp(-2)) + Math.log(2)) / 2, 6);
    // -100 positions are left out of the mean.
    expect(scalar(crossEntropyLoss(tf.tensor3d([[[2, 0], [5, -5]]]), tf.tensor2d([[0, -100]], [1, 2], 'int32')))).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
    expect(scalar(crossEntropyLoss(tf.tensor2d([[2, 0]]), tf.tensor1d([-100], 'int32')))).toBeCloseTo(0, 10);
    expect(scalar(meanSquaredErrorLoss(tf.tensor2d([[1], [3]]), tf.tensor1d([0, 1])))).toBeCloseTo(2.5, 6);
    expect(scalar(binaryCrossEntropyWithLogitsLoss(tf.tensor2d([[0, 100]]), tf.tensor2d([[1, 0]])))).toBeCloseTo((Math.log(2) + 100) / 2, 4);
  });
});

describe('prediction heads', () => {
  let hidden: tf.Tensor3D;
  let pooled: tf.Tensor2D;
  beforeAll(() => {
    hidden = tf.randomNormal<tf.Rank.R3>([2, 3, D], 0, 1, 'float32', 9); // (B, T, D)
    pooled = tf.randomNormal<tf.Rank.R2>([2, D], 0, 1, 'float32', 10); // (B, D)
  });

  it('classification: AdapterHub layout heads.{name}.1 (d→d, tanh) and .4 (d→labels) on the first token', async () => {
    const head = createHead('nli', { type: 'classification', labels: ['yes', 'no', 'maybe'] }, D, 1);
    expect([...head.variables].map(([name, v]) => `${name} ${v.shape.join('x')}`)).toEqual([
      'heads.nli.1.weight 6x6',
      'heads.nli.1.bias 6',
      'heads.nli.4.weight 6x3',
      'heads.nli.4.bias 3',
    ]);
    bigWeights(head);
    const logits = head.forward(hidden, pooled, false);
    expect(logits.shape).toEqual([2, 3]);
    const rows = logits.arraySync() as number[][];
    const firstTokens = (hidden.arraySync()).map((sequence) => sequence[0] ?? []);
    rows.forEach((row, b) => row.forEach((v, k) => expect(v).toBeCloseTo(twoLayer(head, firstTokens[b] ?? [])[k] ?? NaN, 5)));
    expect(await head.predict(logits)).toEqual(rows.map((row) => row.indexOf(Math.max(...row))));
    expect(head.parameterCount()).toBe(6 * 6 + 6 + 6 * 3 + 3);
    logits.dispose();
    head.dispose();
  });

  it('uses dropout only in training', () => {
    const head = createHead('c', { type: 'classification', labels: ['a', 'b'] }, D, 1, { dropoutProb: 0.5 });
    bigWeights(head);
    const [evalA, evalB, train] = tf.tidy(() => [head.forward(hidden, pooled, false).arraySync(), head.forward(hidden, pooled, false).arraySync(), head.forward(hidden, pooled, true).arraySync()]);
    expect(evalB).toEqual(evalA);
    expect(train).not.toEqual(evalA);
    head.dispose();
  });

  it('regression, multi-label, tagging and multiple choice: shapes, losses and predictions', async () => {
    const regression = createHead('r', { type: 'regression' }, D, 1);
    const value = regression.forward(hidden, pooled, false);
    expect(value.shape).toEqual([2, 1]);
    expect(await regression.predict(value)).toEqual(Array.from(value.dataSync()));

    const multi = createHead('m', { type: 'multi-label', labels: ['a', 'b', 'c'] }, D, 1);
    expect(await multi.predict(tf.tensor2d([[1, -1, 0.5], [-1, -2, -3]]))).toEqual([[0, 2], []]);
    expect(scalar(multi.loss(tf.tensor2d([[0, 0, 0]]), tf.tensor2d([[1, 0, 1]])))).toBeCloseTo(Math.log(2), 6);

    const tagging = createHead('t', { type: 'tagging', labels: ['O', 'B', 'I'] }, D, 1);
    expect([...tagging.variables.keys()]).toEqual(['heads.t.1.weight', 'heads.t.1.bias']);
    const tags = tagging.forward(hidden, pooled, false);
    expect(tags.shape).toEqual([2, 3, 3]);
    expect(await tagging.predict(tags)).toHaveLength(2);
    expect(((await tagging.predict(tags))[0] as number[]).length).toBe(3);

    const choice = createHead('mc', { type: 'multiple-choice', numChoices: 3 }, D, 1);
    const six = tf.concat<tf.Tensor3D>([hidden, hidden, hidden]); // 2 examples × 3 choices
    const logits = choice.forward(six, tf.concat<tf.Tensor2D>([pooled, pooled, pooled]), false);
    expect(logits.shape).toEqual([2, 3]);
    expect(scalar(choice.loss(tf.zeros([2, 3]), tf.tensor1d([0, 2], 'int32')))).toBeCloseTo(Math.log(3), 6);
    tf.dispose([value, tags, six, logits]);
    for (const head of [regression, multi, tagging, choice]) head.dispose();
  });

  const specs: [string, HeadSpec][] = [
    ['classification', { type: 'classification', labels: ['neg', 'pos'] }],
    ['regression', { type: 'regression' }],
    ['multi-label', { type: 'multi-label', labels: ['x', 'y', 'z'] }],
    ['tagging', { type: 'tagging', labels: ['O', 'PER'] }],
    ['multiple choice', { type: 'multiple-choice', numChoices: 4 }],
  ];
  for (const [title, spec] of specs) {
    it(`${title}: save → load gives the same head and outputs`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'af-head-'));
      const head = createHead('task', spec, D, 3);
      bigWeights(head);
      await head.save(dir);
      const loaded = await loadHead(dir, { hiddenSize: D });
      expect(loaded.spec).toEqual(spec);
      expect(loaded.options).toEqual(head.options);
      const rows = spec.type === 'multiple-choice' ? tf.tile(hidden, [4, 1, 1]) : hidden;
      const poolRows = spec.type === 'multiple-choice' ? tf.tile(pooled, [4, 1]) : pooled;
      const [a, b] = tf.tidy(() => [head.forward(rows, poolRows, false).arraySync(), loaded.forward(rows, poolRows, false).arraySync()]);
      expect(b).toEqual(a);
      // A head that says it reads only the first token gives the same logits from that row alone.
      expect(head.readsFirstTokenOnly).toBe(spec.type !== 'tagging');
      if (head.readsFirstTokenOnly) expect(tf.tidy(() => head.forward(tf.slice(rows, 0, [-1, 1]), poolRows, false).arraySync())).toEqual(a);
      if (rows !== hidden) tf.dispose([rows, poolRows]);
      head.dispose();
      loaded.dispose();
    });
  }

  it('writes the head file AdapterHub reads: head type, label2id, [out, in] kernels, BertAdapterModel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-head-'));
    const head = createHead('sst2', { type: 'classification', labels: ['negative', 'positive'] }, D, 3);
    await head.save(dir);
    expect(JSON.parse(readFileSync(join(dir, 'head_config.json'), 'utf8'))).toMatchObject({
      config: { head_type: 'classification', num_labels: 2, layers: 2, activation_function: 'tanh', use_pooler: false, bias: true, dropout_prob: 0.1, label2id: { negative: 0, positive: 1 } },
      hidden_size: D,
      model_class: 'BertAdapterModel',
      model_type: 'bert',
      name: 'sst2',
    });
    head.dispose();
  });

  it('refuses unknown head types, another hidden size and wrong weights, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-head-'));
    const head = createHead('h', { type: 'classification', labels: ['a', 'b'] }, D, 3);
    await head.save(dir);
    await expect(loadHead(dir, { hiddenSize: 8 })).rejects.toThrow(`${join(dir, 'head_config.json')}: the head was made for hidden size 6, but this backbone has 8`);
    const json = JSON.parse(readFileSync(join(dir, 'head_config.json'), 'utf8'));
    writeFileSync(join(dir, 'head_config.json'), JSON.stringify({ ...json, config: { ...json.config, num_labels: 3, label2id: null } }));
    await expect(loadHead(dir)).rejects.toThrow(/model_head\.safetensors: weights do not match the model .*\n {2}wrong shape: heads\.h\.4\.weight: expected \[3, 6\], got \[2, 6\]/);
    writeFileSync(join(dir, 'head_config.json'), JSON.stringify({ ...json, config: { ...json.config, head_type: 'question_answering' } }));
    await expect(loadHead(dir)).rejects.toThrow('unsupported head type "question_answering"; expected classification, multilabel_classification, tagging or multiple_choice');
    head.dispose();
  });

  it.skipIf(!hasShared('conformance', 'adapterhub-training-trajectory'))('loads the head AdapterHub saved and writes back the same config', async () => {
    const dir = sharedPath('conformance', 'adapterhub-training-trajectory', 'head');
    const head = await loadHead(dir, { hiddenSize: 32 });
    expect(head.spec).toEqual({ type: 'classification', labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'] });
    expect(head.toAdapterHub()).toEqual(JSON.parse(readFileSync(join(dir, 'head_config.json'), 'utf8')).config);
    head.dispose();
  });
});

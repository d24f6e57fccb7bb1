import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FusionLayer } from '../../fusion/fusion-layer';
import { FUSION_PRESETS, type FusionOptions } from '../../fusion/fusion-options';
import { StackedAdapters, type BottleneckModule } from '../../fusion/stacked-adapters';
import { countMatMulFlops } from '../count-matmul-flops';

const [B, T, N, D] = [2, 3, 3, 8];

type Matrix = number[][];
const rows = (t: tf.Tensor): Matrix => t.arraySync() as Matrix;
const vector = (t: tf.Tensor): number[] => Array.from(t.dataSync());
const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);
/** x·W + b for a row vector x and W stored [in, out]. */
const affine = (x: readonly number[], w: Matrix, b?: readonly number[]): number[] =>
  (w[0] as number[]).map((_, j) => dot(x, w.map((row) => row[j] as number)) + (b?.[j] ?? 0));

/** The fusion equations of SPEC.md written out per token and per adapter, in float64. */
function referenceFusion(layer: FusionLayer, query: number[][][], z: number[][][][], residual: number[][][], temperature: number) {
  const s: FusionOptions = layer.settings;
  const w = (name: string) => rows(layer.weights.get(name) as tf.Variable);
  const b = (name: string) => vector(layer.weights.get(name) as tf.Variable);
  const context: number[][][] = [];
  const probabilities: number[][][] = [];
  query.forEach((sequence, i) => {
    context.push([]);
    probabilities.push([]);
    sequence.forEach((q, t) => {
      const r = residual[i]?.[t] as number[];
      const outputs = (z[i]?.[t] as number[][]).map((zn) => (s.residualBefore ? zn.map((x, j) => x + (r[j] as number)) : zn));
      const qp = s.query ? affine(q, w('query.weight'), b('query.bias')) : q;
      const keys = outputs.map((zn) => (s.key ? affine(zn, w('key.weight'), b('key.bias')) : zn));
      const values = outputs.map((zn) => (s.value && s.valueBeforeSoftmax ? affine(zn, w('value.weight')) : zn));
      const scores = keys.map((k) => dot(qp, k) / temperature);
      const max = Math.max(...scores);
      const exps = scores.map((x) => Math.exp(x - max));
      const p = exps.map((e) => e / exps.reduce((x, y) => x + y, 0));
      let c = values[0]?.map((_, j) => values.reduce((sum, v, n) => sum + (p[n] as number) * (v[j] as number), 0)) as number[];
      if (s.value && !s.valueBeforeSoftmax) c = affine(c, w('value.weight'));
      if (!s.residualBefore) c = c.map((x, j) => x + (r[j] as number));
      context[i]?.push(c);
      probabilities[i]?.push(p);
    });
  });
  return { context, probabilities };
}

function maxDifference(a: unknown, b: unknown): number {
  const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
  const [fa, fb] = [flat(a), flat(b)];
  expect(fa.length).toBe(fb.length);
  return fa.reduce((worst, x, i) => Math.max(worst, Math.abs(x - (fb[i] as number))), 0);
}

/** A layer whose W_V is random (not the identity), so the value path is visible in the numbers. */
function layerWith(settings: Partial<FusionOptions>, seed = 3): FusionLayer {
  return new FusionLayer({ hiddenSize: D, settings: { ...FUSION_PRESETS.create('dynamic'), valueInitialized: false, ...settings }, dropoutRate: 0.1, seed });
}

function inputs(seed = 11) {
  return {
    query: tf.randomNormal<tf.Rank.R3>([B, T, D], 0, 1, 'float32', seed), // (B, T, D)
    adapterOutputs: tf.randomNormal<tf.Rank.R4>([B, T, N, D], 0, 1, 'float32', seed + 1), // (B, T, N, D)
    residual: tf.randomNormal<tf.Rank.R3>([B, T, D], 0, 1, 'float32', seed + 2), // (B, T, D)
  };
}

describe('FusionLayer', () => {
  const variants: [string, Partial<FusionOptions>][] = [
    ['dynamic', {}],
    ['static', FUSION_PRESETS.create('static')],
    ['residual before', { residualBefore: true }],
    ['value after softmax', { valueBeforeSoftmax: false }],
    ['no query, key or value projection', { query: false, key: false, value: false }],
  ];
  for (const [name, settings] of variants) {
    it(`matches the written-out equations: ${name}`, () => {
      const layer = layerWith(settings);
      const x = inputs();
      for (const temperature of [1, 7.5]) {
        const out = layer.apply(x, { temperature, training: false });
        expect(out.context.shape).toEqual([B, T, D]);
        expect(out.probabilities.shape).toEqual([B, T, N]);
        const expected = referenceFusion(layer, x.query.arraySync(), x.adapterOutputs.arraySync(), x.residual.arraySync(), temperature);
        expect(maxDifference(out.context.arraySync(), expected.context)).toBeLessThan(1e-4);
        expect(maxDifference(out.probabilities.arraySync(), expected.probabilities)).toBeLessThan(1e-5);
        tf.dispose([out.context, out.probabilities]);
      }
      tf.dispose(Object.values(x));
      layer.dispose();
    });
  }

  it('creates only the weights its settings ask for, initialised as AdapterHub does', () => {
    const dynamic = new FusionLayer({ hiddenSize: D, settings: FUSION_PRESETS.create('dynamic'), dropoutRate: 0, seed: 1 });
    expect([...dynamic.weights.keys()]).toEqual(['query.weight', 'query.bias', 'key.weight', 'key.bias', 'value.weight']);
    const value = rows(dynamic.weights.get('value.weight') as tf.Variable);
    expect(value[0]?.[0]).toBe(1);
    expect(value[0]?.[1]).toBeCloseTo(1e-6, 12);
    expect(vector(dynamic.weights.get('query.bias') as tf.Variable)).toEqual(new Array(D).fill(0));
    const std = Math.sqrt(vector(dynamic.weights.get('key.weight') as tf.Variable).reduce((s, x) => s + x * x, 0) / (D * D));
    expect(std).toBeGreaterThan(0.01);
    expect(std).toBeLessThan(0.03);
    // Identity start: the regularization is D·(D − 1)·(1e-6)², i.e. essentially zero.
    expect(dynamic.regularizationLoss().dataSync()[0]).toBeCloseTo(D * (D - 1) * 1e-12, 15);
    expect(dynamic.parameterCount()).toBe(3 * D * D + 2 * D);
    const fixed = new FusionLayer({ hiddenSize: D, settings: FUSION_PRESETS.create('static'), dropoutRate: 0, seed: 1 });
    expect([...fixed.weights.keys()]).toEqual(['query.weight', 'query.bias', 'key.weight', 'key.bias']);
    expect(fixed.regularizationLoss().dataSync()[0]).toBe(0);
    dynamic.dispose();
    fixed.dispose();
  });

  it('masks adapters by renormalising the others, and forces one with a one-hot mask', () => {
    const layer = layerWith({});
    const x = inputs();
    const full = layer.apply(x, { temperature: 1, training: false }).probabilities.arraySync();
    const masked = layer.apply(x, { temperature: 1, training: false, adapterMask: [1, 0, 1] }).probabilities.arraySync();
    const forced = layer.apply(x, { temperature: 1, training: false, adapterMask: [0, 1, 0] });
    for (let i = 0; i < B; i++) {
      for (let t = 0; t < T; t++) {
        const p = full[i]?.[t] as number[];
        const kept = (p[0] as number) + (p[2] as number);
        expect(masked[i]?.[t]).toEqual([expect.closeTo((p[0] as number) / kept, 6), 0, expect.closeTo((p[2] as number) / kept, 6)]);
      }
    }
    expect(vector(forced.probabilities)).toEqual(Array.from({ length: B * T }, () => [0, 1, 0]).flat());
    // Forcing adapter 1 makes the context its value projection plus the residual, as if it were alone.
    const alone = tf.add(tf.matMul(tf.reshape(tf.slice(x.adapterOutputs, [0, 0, 1, 0], [B, T, 1, D]), [B * T, D]), layer.weights.get('value.weight') as tf.Variable), tf.reshape(x.residual, [B * T, D]));
    expect(maxDifference(forced.context.arraySync(), tf.reshape(alone, [B, T, D]).arraySync())).toBeLessThan(1e-5);
    expect(() => layer.apply(x, { temperature: 1, training: false, adapterMask: [0, 0, 0] })).toThrow('adapter mask: expected 3 entries of 0 or 1 with at least one 1, got [0, 0, 0]');
    expect(() => layer.apply(x, { temperature: 1, training: false, adapterMask: [1, 1] })).toThrow('expected 3 entries');
    layer.dispose();
  });

  it('applies score dropout only in training', () => {
    const layer = new FusionLayer({ hiddenSize: D, settings: FUSION_PRESETS.create('dynamic'), dropoutRate: 0.5, seed: 3 });
    const x = inputs();
    const evaluation = [1, 2].map(() => vector(layer.apply(x, { temperature: 1, training: false }).probabilities));
    expect(evaluation[0]).toEqual(evaluation[1]);
    const training = vector(layer.apply(x, { temperature: 1, training: true }).probabilities);
    expect(maxDifference(training, evaluation[0])).toBeGreaterThan(1e-3);
    layer.dispose();
  });

  it('has gradients for every weight that agree with finite differences, and none for the key bias', () => {
    const layer = layerWith({});
    const x = inputs();
    const target = tf.randomNormal([B, T, D], 0, 1, 'float32', 99);
    const loss = () => tf.sum<tf.Scalar>(tf.mul(layer.apply(x, { temperature: 1, training: false }).context, target));
    const { grads } = tf.variableGrads(loss, [...layer.weights.values()]);
    const byName = new Map([...layer.weights].map(([name, weight]) => [name, grads[weight.name] as tf.Tensor]));
    for (const [name, grad] of byName) {
      const norm = Math.sqrt(vector(grad).reduce((s, g) => s + g * g, 0));
      if (name === 'key.bias') expect(norm).toBeLessThan(1e-4); // q·b_K is the same for every adapter: softmax ignores it
      else expect(norm).toBeGreaterThan(1e-3);
    }
    // Central difference on one entry of each matrix.
    for (const name of ['query.weight', 'key.weight', 'value.weight']) {
      const weight = layer.weights.get(name) as tf.Variable;
      const original = weight.clone();
      const h = 1e-2;
      const at = (delta: number) => {
        weight.assign(tf.tidy(() => tf.add(original, tf.mul(tf.reshape(tf.oneHot([5], D * D), [D, D]), delta))));
        return loss().dataSync()[0] as number;
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      weight.assign(original);
      expect(vector(byName.get(name) as tf.Tensor)[5]).toBeCloseTo(numeric, 2);
      original.dispose();
    }
    layer.dispose();
  });

  it('costs three D×D products per token whatever the number of adapters, plus 2·N·D multiply-adds for scores and mixing', async () => {
    const d = 16;
    const flops = async (n: number) => {
      const layer = new FusionLayer({ hiddenSize: d, settings: FUSION_PRESETS.create('dynamic'), dropoutRate: 0, seed: 1 });
      const [query, residual] = [tf.ones<tf.Rank.R3>([B, T, d]), tf.ones<tf.Rank.R3>([B, T, d])];
      const adapterOutputs = tf.ones<tf.Rank.R4>([B, T, n, d]);
      const counted = await countMatMulFlops(() => {
        const { context, probabilities } = layer.apply({ query, adapterOutputs, residual }, { temperature: 1, training: false });
        tf.dispose([context, probabilities]);
      });
      tf.dispose([query, residual, adapterOutputs]);
      layer.dispose();
      return counted;
    };
    // Per token: W_Q, W_Kᵀ and W_V (3·D²), q·b_K (D), scores and mixing (2·N·D); 2 FLOPs per multiply-add.
    for (const n of [2, 8]) expect(await flops(n)).toBe(2 * B * T * (3 * d * d + d + 2 * n * d));
  });

  it('leaves no tensor behind across forward and backward passes', () => {
    const layer = layerWith({});
    const x = inputs();
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.sum<tf.Scalar>(layer.apply(x, { temperature: 2, training: true }).context)));
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    layer.dispose();
  });
});

describe('StackedAdapters', () => {
  function module(m: number, nonLinearity: 'relu' | 'tanh', scaling: number, seed: number): BottleneckModule {
    return {
      down: tf.randomNormal([D, m], 0, 0.5, 'float32', seed),
      downBias: tf.randomNormal([m], 0, 0.5, 'float32', seed + 1),
      up: tf.randomNormal([m, D], 0, 0.5, 'float32', seed + 2),
      upBias: tf.randomNormal([D], 0, 0.5, 'float32', seed + 3),
      nonLinearity,
      activate: nonLinearity === 'relu' ? tf.relu : tf.tanh,
      scaling,
    };
  }

  it('equals the adapters computed one by one, with different bottleneck sizes, non-linearities and scalings', () => {
    const modules = [module(2, 'relu', 1, 10), module(4, 'relu', 2, 20), module(3, 'tanh', 0.5, 30)];
    const stack = new StackedAdapters(modules);
    const input = tf.randomNormal<tf.Rank.R3>([B, T, D], 0, 1, 'float32', 5);
    const batched = stack.project(input);
    expect(batched.shape).toEqual([B, T, modules.length, D]);
    const separate = tf.tidy(() =>
      tf.stack(modules.map((m) => {
        const hidden = m.activate(tf.add(tf.matMul(tf.reshape(input, [B * T, D]), m.down), m.downBias)); // (BT, m)
        return tf.reshape(tf.mul(tf.add(tf.matMul(hidden, m.up), m.upBias), m.scaling), [B, T, D]); // (B, T, D)
      }), 2),
    );
    expect(maxDifference(batched.arraySync(), separate.arraySync())).toBeLessThan(1e-5);
    const before = tf.memory().numTensors;
    tf.dispose(stack.project(input));
    expect(tf.memory().numTensors).toBe(before);
    stack.dispose();
  });
});

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { floatKernel } from '../../src/backend/kernels/float-kernel';
import { loadNativeBlas } from '../../src/backend/native/native-blas';
import { attention, ATTENTION_KERNEL } from '../../src/ops/attention';
import { applyDropoutMask, dropout, DROPOUT_KERNEL } from '../../src/ops/dropout';
import { gelu, GELU_KERNEL } from '../../src/ops/gelu';
import { layerNorm, LAYER_NORM_KERNEL, layerNormRows, layerNormRowsGrad, RESIDUAL_LAYER_NORM_KERNEL } from '../../src/ops/layer-norm';
import { lacking, offWasm } from '../requirements';
import { normalCdf, normalDensity } from './erf-reference';
import { linear } from '../../src/ops/linear';
import { sumRows } from '../../src/ops/sum-rows';

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** The first index where a and b differ in any bit, or -1 (toEqual on long arrays takes minutes to print a difference). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const [bitsA, bitsB] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  if (a.length !== b.length) return Math.min(a.length, b.length);
  return bitsA.findIndex((bits, i) => bits !== bitsB[i]);
}

/** Names of the matrix-product kernels `f` runs. */
async function matMulKernels(f: () => tf.TensorContainer): Promise<string[]> {
  const profile = await tf.profile(() => f());
  return profile.kernels.map((kernel) => kernel.name).filter((name) => name === 'BatchMatMul' || name === '_FusedMatMul');
}

describe('linear', () => {
  it('computes x·kernel + bias over the last axis', async () => {
    const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]); // (B, T, in)
    const kernel = tf.tensor2d([1, 0, 0, 1, 1, 1], [3, 2]); // (in, out)
    const bias = tf.tensor1d([10, 20]);
    const y = linear(x, kernel, bias);
    expect(y.shape).toEqual([2, 2, 2]);
    // Row r of x is (a, b, c): output (a + c + 10, b + c + 20).
    expect(Array.from(await y.data())).toEqual([14, 25, 20, 31, 26, 37, 32, 43]);
    expect(Array.from(await linear(x, kernel).data())).toEqual([4, 5, 10, 11, 16, 17, 22, 23]);
    tf.dispose([x, kernel, bias, y]);
  });

  it('has the gradients of matMul + add', async () => {
    const x = seeded([2, 3, 4], 1);
    const kernel = seeded([4, 5], 2);
    const bias = seeded([5], 3);
    const weights = seeded([2, 3, 5], 4); // makes the loss sensitive to every output element differently
    type Projection = (xs: tf.Tensor, ks: tf.Tensor2D, bs: tf.Tensor1D) => tf.Tensor;
    const loss = (f: Projection) => (xs: tf.Tensor, ks: tf.Tensor, bs: tf.Tensor) =>
      tf.sum<tf.Scalar>(tf.mul(f(xs, ks as tf.Tensor2D, bs as tf.Tensor1D), weights));
    const reference: Projection = (xs, ks, bs) => {
      const product = tf.add(tf.matMul(tf.reshape(xs, [-1, ks.shape[0]]), ks), bs); // (N, out)
      return tf.reshape(product, [...xs.shape.slice(0, -1), ks.shape[1]]);
    };
    const ours = tf.grads(loss(linear))([x, kernel, bias]);
    const expected = tf.grads(loss(reference))([x, kernel, bias]);
    for (let i = 0; i < 3; i++) {
      const [got, want] = [ours[i] as tf.Tensor, expected[i] as tf.Tensor];
      expect(got.shape).toEqual(want.shape);
      const error = (await tf.max(tf.abs(tf.sub(got, want))).data())[0] ?? NaN;
      expect(error).toBeLessThan(1e-5);
    }
    tf.dispose([x, kernel, bias, weights, ...ours, ...expected]);
  });

  it('skips the weight-gradient product when the kernel is frozen, which tf.fused.matMul does not', async () => {
    const x = tf.variable(seeded([2, 8, 16], 5));
    const kernel = seeded([16, 16], 6) as tf.Tensor2D; // frozen: not differentiated
    const bias = seeded([16], 7) as tf.Tensor1D;
    const step = (f: (input: tf.Tensor3D) => tf.Tensor) => () => {
      const { grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(f(x as unknown as tf.Tensor3D))), [x]);
      return Object.values(grads);
    };
    const fused = await matMulKernels(step((input) => tf.fused.matMul({ a: tf.reshape(input, [-1, 16]), b: kernel, bias })));
    const ours = await matMulKernels(step((input) => linear(input, kernel, bias)));
    // Forward 1 + backward 2 (input and kernel gradients) for fused.matMul; forward 1 + backward 1 for linear.
    expect(fused).toHaveLength(3);
    expect(ours).toHaveLength(2);
    tf.dispose([x, kernel, bias]);
  });

  it('leaves no tensors behind', () => {
    const x = seeded([4, 6], 8);
    const kernel = tf.variable(seeded([6, 3], 9));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(linear(x, kernel as unknown as tf.Tensor2D)), [kernel]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, kernel]);
  });

  it('names the mismatch in shape errors', () => {
    const kernel = tf.zeros<tf.Rank.R2>([6, 3]);
    expect(() => linear(tf.zeros([2, 5]), kernel)).toThrow("linear: expected the input's last axis to match the kernel's 6 input features, got input shape [2, 5]");
    expect(() => linear(tf.zeros([2, 6]), kernel, tf.zeros<tf.Rank.R1>([4]))).toThrow('linear: expected a bias of shape [3], got [4]');
    kernel.dispose();
  });
});

/** Runs `f` with the named kernel of the current backend unregistered (the op's fallback path), then restores it. */
async function withoutKernel(kernelName: string, f: () => Promise<void>): Promise<void> {
  const kernel = tf.getKernel(kernelName, tf.getBackend());
  if (kernel) tf.unregisterKernel(kernelName, tf.getBackend());
  try {
    await f();
  } finally {
    if (kernel) tf.registerKernel(kernel);
  }
}

describe('gelu', () => {
  const points = Array.from({ length: 61 }, (_, i) => (i - 30) / 4); // -7.5 … 7.5

  async function check(): Promise<void> {
    const x = tf.tensor1d(points);
    const [y, dx] = [gelu(x), tf.grad((input: tf.Tensor) => tf.sum(tf.mul(gelu(input), 3)))(x)];
    const [values, grads] = [await y.data(), await dx.data()];
    points.forEach((p, i) => {
      expect(values[i]).toBeCloseTo(p * normalCdf(p), 5);
      expect(grads[i]).toBeCloseTo(3 * (normalCdf(p) + p * normalDensity(p)), 5);
    });
    tf.dispose([x, y, dx]);
  }

  it.skipIf(lacking('the native add-on', loadNativeBlas().blas))('matches float64 erf through the native kernels', async () => {
    expect(tf.getKernel(GELU_KERNEL, 'wasm')).toBeDefined();
    await check();
  });
  it('matches float64 erf through tfjs ops where no kernel is registered', () => withoutKernel(GELU_KERNEL, check));
});

describe('dropout', () => {
  it('keeps 1 - rate of the elements, scaled by 1 / (1 - rate), the same ones for the same seed', async () => {
    const x = tf.fill([100, 100], 2);
    const first = await dropout(x, 0.25, 7).data();
    const again = await dropout(x, 0.25, 7).data();
    const other = await dropout(x, 0.25, 8).data();
    expect(Array.from(again)).toEqual(Array.from(first));
    expect(Array.from(other)).not.toEqual(Array.from(first));
    const kept = first.filter((value) => value !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(2 / 0.75)]));
    expect(kept.length / first.length).toBeGreaterThan(0.74);
    expect(kept.length / first.length).toBeLessThan(0.76);
    x.dispose();
  });

  it('passes gradients through the kept elements only, with the same scale', async () => {
    const x = tf.randomNormal([50, 40], 0, 1, 'float32', 3);
    const mask = await dropout(tf.onesLike(x), 0.5, 11).data();
    const dx = await tf.grad((input: tf.Tensor) => tf.sum(dropout(input, 0.5, 11)))(x).data();
    expect(Array.from(dx)).toEqual(Array.from(mask));
    expect(new Set(mask)).toEqual(new Set([0, 2]));
    x.dispose();
  });

  it.skipIf(offWasm())('draws the same mask on wasm and cpu, and falls back to tf.dropout elsewhere', async () => {
    const onWasm = await dropout(tf.ones([1000]), 0.3, 5).data();
    await tf.setBackend('cpu');
    try {
      await withKernels([floatKernel(DROPOUT_KERNEL, 'cpu', ['x'], ([x], [out], attrs) => applyDropoutMask(x as Float32Array, out as Float32Array, attrs.rate as number, attrs.seed as number))], async () => {
        expect(Array.from(await dropout(tf.ones([1000]), 0.3, 5).data())).toEqual(Array.from(onWasm));
      });
      const fallback = await dropout(tf.ones([1000]), 0.3, 5).data();
      expect(fallback.filter((value) => value !== 0).length).toBeGreaterThan(600);
      expect(new Set(fallback)).toEqual(new Set([0, Math.fround(1 / 0.7)]));
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('refuses a rate outside [0, 1) and copies the input at rate 0', async () => {
    const x = tf.ones([3]);
    expect(() => dropout(x, 1)).toThrow('dropout: expected a rate in [0, 1), got 1');
    expect(Array.from(await dropout(x, 0).data())).toEqual([1, 1, 1]);
    x.dispose();
  });
});

/** Runs `f` with `configs` registered (replacing any of the same name), then removes them again. */
async function withKernels(configs: tf.KernelConfig[], f: () => Promise<void>): Promise<void> {
  for (const config of configs) tf.registerKernel(config);
  try {
    await f();
  } finally {
    for (const config of configs) tf.unregisterKernel(config.kernelName, config.backendName);
  }
}

describe('layerNorm', () => {
  /** The composed ops the backbone used before: tf.moments, then scale and shift. */
  const reference = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
  };

  async function check(): Promise<void> {
    const x = tf.add(tf.randomNormal([3, 5, 16], 0, 2, 'float32', 1), 4);
    const gamma = tf.randomNormal([16], 1, 0.5, 'float32', 2);
    const beta = tf.randomNormal([16], 0, 1, 'float32', 3);
    const weights = tf.randomNormal([3, 5, 16], 0, 1, 'float32', 4);
    const residual = tf.randomNormal([3, 5, 16], 1, 3, 'float32', 5);
    type Norm = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, residual?: tf.Tensor) => tf.Tensor;
    const loss = (f: Norm) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, r?: tf.Tensor) => tf.sum<tf.Scalar>(tf.mul(f(a, b, c, r), weights));
    const ours: Norm = (a, b, c, r) => layerNorm(a, b, c, 1e-5, r);
    const composed: Norm = (a, b, c, r) => reference(r ? tf.add(a, r) : a, b, c);
    const [got, want] = [ours, composed].map((f) => [
      f(x, gamma, beta), ...tf.grads(loss(f))([x, gamma, beta]),
      f(x, gamma, beta, residual), ...tf.grads(loss(f))([x, gamma, beta, residual]), // the last two: dx and dresidual
    ]) as [tf.Tensor[], tf.Tensor[]];
    expect(got.length).toBe(9);
    for (const [i, value] of got.entries()) {
      const expected = want[i] as tf.Tensor;
      expect(value.shape).toEqual(expected.shape);
      expect((await tf.max(tf.abs(tf.sub(value, expected))).data())[0], `output ${i}`).toBeLessThan(2e-5);
    }
    // The residual changes the result: it is not ignored.
    expect((await tf.max(tf.abs(tf.sub(got[0] as tf.Tensor, got[4] as tf.Tensor))).data())[0]).toBeGreaterThan(0.1);
    tf.dispose([x, gamma, beta, weights, residual, ...got, ...want]);
  }

  it('matches the composed ops, gradients included, with its kernels', async () => {
    expect(tf.getKernel(LAYER_NORM_KERNEL, 'wasm')).toBeDefined();
    expect(tf.getKernel(RESIDUAL_LAYER_NORM_KERNEL, 'wasm')).toBeDefined();
    await check();
  });
  it('is the composed ops where no kernel is registered', () => withoutKernel(LAYER_NORM_KERNEL, () => withoutKernel(RESIDUAL_LAYER_NORM_KERNEL, check)));

  it('names the shapes when the residual does not fit', () => {
    expect(() => layerNorm(tf.zeros([2, 4]), tf.ones([4]), tf.zeros([4]), 1e-12, tf.zeros([1, 4]))).toThrow('layerNorm: expected a residual of the input\'s shape [2, 4], got [1, 4]');
  });

  it('names the shapes when gamma does not fit', () => {
    expect(() => layerNorm(tf.zeros([2, 4]), tf.ones([3]), tf.zeros([3]), 1e-12)).toThrow('layerNorm: expected gamma and beta of shape [4] (the input\'s last axis), got [3] and [3]');
  });
});

describe('sumRows', () => {
  it('sums every axis but the last as one product, without the Sum kernel', async () => {
    const t = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 3, 2]); // (B, T, n)
    const profile = await tf.profile(() => sumRows(t));
    expect(profile.kernels.map((kernel) => kernel.name)).not.toContain('Sum');
    const sums = sumRows(t);
    expect(sums.shape).toEqual([2]);
    expect(Array.from(await sums.data())).toEqual([36, 42]);
    tf.dispose([t, sums]);
  });
});

describe('attention', () => {
  // B·H = 6 (batch, head) pairs, more than the BLAS's threads; T = 5 is off the vector width; the second sequence
  // has two padding tokens.
  const [B, T, D, H] = [3, 5, 16, 2];
  const keyBias = tf.tensor2d([[0, 0, 0, 0, 0], [0, 0, 0, -3.4e38, -3.4e38], [0, 0, 0, 0, 0]]);
  const operands = () => [1, 2, 3].map((seed) => tf.mul<tf.Tensor3D>(seeded([B, T, D], seed), 2));
  const weights = seeded([B, T, D], 4);

  /** The context and the gradients of Σ context·weights with respect to query, key and value. */
  function run(rate: number, seed: number): number[][] {
    const loss = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, keyBias, H, rate, seed), weights));
    const inputs = operands();
    const [q, k, v] = inputs as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const results = [attention(q, k, v, keyBias, H, rate, seed), ...tf.grads(loss)(inputs)];
    const values = results.map((t) => Array.from(t.dataSync()));
    tf.dispose([...inputs, ...results]);
    return values;
  }

  const difference = (a: number[][], b: number[][]) => Math.max(...a.map((values, i) => Math.max(...values.map((x, j) => Math.abs(x - (b[i]?.[j] ?? NaN))))));

  it.skipIf(lacking('the native add-on', loadNativeBlas().blas))('is one native kernel that matches the tfjs ops, gradients and dropout mask included', async () => {
    expect(tf.getKernel(ATTENTION_KERNEL, 'wasm')).toBeDefined();
    for (const rate of [0, 0.3]) {
      const fused = run(rate, 7);
      let composed: number[][] = [];
      await withoutKernel(ATTENTION_KERNEL, async () => {
        composed = run(rate, 7);
      });
      expect(difference(fused, composed)).toBeLessThan(1e-5);
      expect(Math.max(...fused.flat().map(Math.abs))).toBeGreaterThan(0.1);
    }
    // Another seed drops other probabilities.
    expect(difference(run(0.3, 7), run(0.3, 8))).toBeGreaterThan(1e-2);
  });

  it.skipIf(lacking('the native add-on', loadNativeBlas().blas))('backpropagates without a gradient array for the probabilities it keeps', () => {
    // A registered gradient of a two-output kernel is handed zeros for the unused output, made in JavaScript and
    // written into the backend: (B, H, T, T) floats each step.
    const write = vi.spyOn(tf.backend(), 'write');
    run(0.3, 7);
    expect(write.mock.calls.map(([values]) => (values as Float32Array | null)?.length)).not.toContain(B * H * T * T);
    expect(write).toHaveBeenCalled(); // the spy sees the test's own tensors
    write.mockRestore();
  });

  it('gives padding keys no weight: the real tokens\' context does not depend on them', () => {
    const [q, k, v] = operands() as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const noisy = tf.where<tf.Tensor3D>(tf.reshape(tf.tensor1d([0, 0, 0, 1, 1], 'bool'), [1, T, 1]), tf.add<tf.Tensor3D>(v, 5), v); // values of tokens 3 and 4 changed
    const [before, after] = [attention(q, k, v, keyBias, H), attention(q, k, noisy, keyBias, H)].map((t) => t.arraySync()) as [number[][][], number[][][]];
    // Sequence 1 masks tokens 3 and 4: none of its outputs moves. Sequence 0 attends to them: its outputs move.
    expect(difference(before[1] as number[][], after[1] as number[][])).toBe(0);
    expect(difference(before[0] as number[][], after[0] as number[][])).toBeGreaterThan(0.1);
    tf.dispose([q, k, v, noisy]);
  });

  it('names the shapes that do not fit', () => {
    const [q, k] = [tf.zeros<tf.Rank.R3>([2, 4, 6]), tf.zeros<tf.Rank.R3>([2, 3, 6])];
    expect(() => attention(q, k, q, tf.zeros<tf.Rank.R2>([2, 4]), 4)).toThrow('attention: expected query, key and value of one shape (B, T, D) with D a multiple of 4 heads and keyBias (B, T); got [2, 4, 6], [2, 3, 6], [2, 4, 6] and [2, 4]');
    expect(() => attention(q, q, q, tf.zeros<tf.Rank.R2>([2, 4]), 2, 1)).toThrow('attention: expected a dropout rate in [0, 1), got 1');
  });
});

describe.skipIf(lacking('the native add-on', loadNativeBlas({}).blas))('the native add-on\'s element-wise kernels', () => {
  const blas = loadNativeBlas({}).blas;
  const random = (length: number, seed: number) => seeded([length], seed).dataSync() as Float32Array;

  it('draw bit for bit the dropout mask and values of the JavaScript kernel', () => {
    const x = random(10_007, 1);
    for (const [rate, seed] of [[0.1, 0], [0.5, 123456789], [0.25, -7], [0.9, 2 ** 31 + 5]] as const) {
      const [native, script] = [new Float32Array(x.length), new Float32Array(x.length)];
      blas?.dropout(x, native, rate, seed);
      applyDropoutMask(x, script, rate, seed);
      expect(native).toEqual(script);
      expect(native.filter((value) => value === 0).length / x.length).toBeCloseTo(rate, 1);
    }
  });

  it('normalise rows as the JavaScript kernels do, gradient included, for row lengths off the vector width', () => {
    for (const size of [768, 13]) {
      const rows = 5;
      const [x, dy] = [random(rows * size, 2).map((value) => 3 * value + 2), random(rows * size, 3)];
      const [gamma, beta] = [random(size, 4), random(size, 5)];
      for (const residual of [new Float32Array(0), random(rows * size, 6)]) {
        const outputs = Array.from({ length: 4 }, () => new Float32Array(rows * size));
        blas?.layerNorm(x, residual, gamma, beta, outputs[0] as Float32Array, 1e-12);
        layerNormRows(x, residual, gamma, beta, outputs[1] as Float32Array, 1e-12);
        blas?.layerNormGrad(x, residual, gamma, dy, outputs[2] as Float32Array, 1e-12);
        layerNormRowsGrad(x, residual, gamma, dy, outputs[3] as Float32Array, 1e-12);
        for (const [native, script] of [[outputs[0], outputs[1]], [outputs[2], outputs[3]]] as const) {
          const error = Math.max(...Array.from(native as Float32Array, (value, i) => Math.abs(value - ((script as Float32Array)[i] ?? NaN))));
          expect(error).toBeLessThan(2e-6);
        }
      }
    }
  });

  it('split long arrays over the BLAS threads without changing a bit of the result', () => {
    // 1537 rows of 128 (3·64Ki + 128 elements) take the threaded path (parts of at least 64Ki elements); slices of
    // 1000 elements or rows take the single-threaded one.
    const size = 128;
    const length = 1537 * size;
    const [x, dy, m, v] = [random(length, 6), random(length, 7), random(length, 8), random(length, 9).map(Math.abs)];
    const [gamma, beta] = [random(size, 10), random(size, 11)];
    const none = new Float32Array(0);
    type Kernel = (from: number, to: number, outputs: Float32Array[]) => void;
    const slice = (array: Float32Array, from: number, to: number) => array.subarray(from, to);
    const kernels: [string, number, number, Kernel][] = [
      ['gelu', 1, 1, (from, to, [y]) => blas?.gelu(slice(x, from, to), y as Float32Array)],
      ['geluGrad', 1, 1, (from, to, [dx]) => blas?.geluGrad(slice(x, from, to), slice(dy, from, to), dx as Float32Array)],
      ['layerNorm', 1, size, (from, to, [out]) => blas?.layerNorm(slice(x, from, to), none, gamma, beta, out as Float32Array, 1e-12)],
      ['layerNormGrad', 1, size, (from, to, [out]) => blas?.layerNormGrad(slice(x, from, to), none, gamma, slice(dy, from, to), out as Float32Array, 1e-12)],
      ['layerNorm with a residual', 1, size, (from, to, [out]) => blas?.layerNorm(slice(x, from, to), slice(m, from, to), gamma, beta, out as Float32Array, 1e-12)],
      ['layerNormGrad with a residual', 1, size, (from, to, [out]) =>
        blas?.layerNormGrad(slice(x, from, to), slice(m, from, to), gamma, slice(dy, from, to), out as Float32Array, 1e-12)],
      ['adamW', 3, 1, (from, to, [p, mOut, vOut]) => blas?.adamW(slice(x, from, to), slice(m, from, to), slice(v, from, to), slice(dy, from, to),
        p as Float32Array, mOut as Float32Array, vOut as Float32Array, 0.999, 0.9, 0.999, 0.3, 1e-8, 1e-3)],
    ];
    for (const [name, count, unit, kernel] of kernels) {
      const whole = Array.from({ length: count }, () => new Float32Array(length));
      kernel(0, length, whole);
      const step = 1000 * unit;
      const pieces = Array.from({ length: count }, () => new Float32Array(length));
      for (let from = 0; from < length; from += step) {
        const to = Math.min(from + step, length);
        kernel(from, to, pieces.map((piece) => piece.subarray(from, to)));
      }
      whole.forEach((output, i) => expect({ name, firstDifference: firstDifference(output, pieces[i] as Float32Array) }).toEqual({ name, firstDifference: -1 }));
    }
    // Dropout's mask depends on each element's index: the threaded kernel still draws the JavaScript kernel's.
    const [native, script] = [new Float32Array(length), new Float32Array(length)];
    blas?.dropout(x, native, 0.1, 99);
    applyDropoutMask(x, script, 0.1, 99);
    expect(firstDifference(native, script)).toBe(-1);
  });

  it('refuse arrays that do not fit, naming the kernel', () => {
    expect(() => blas?.dropout(new Float32Array(4), new Float32Array(3), 0.1, 1)).toThrow('dropout: expected x and out of one length');
    expect(() => blas?.dropout(new Float32Array(4), new Float32Array(4), 1, 1)).toThrow('dropout: expected a rate in [0, 1)');
    const none = new Float32Array(0);
    expect(() => blas?.layerNorm(new Float32Array(10), none, new Float32Array(4), new Float32Array(4), new Float32Array(10), 1e-5))
      .toThrow('layerNorm: expected gamma and beta of the row length, x and out of whole rows, and residual empty or as long as x');
    expect(() => blas?.layerNorm(new Float32Array(8), new Float32Array(4), new Float32Array(4), new Float32Array(4), new Float32Array(8), 1e-5))
      .toThrow('layerNorm: expected gamma and beta of the row length, x and out of whole rows, and residual empty or as long as x');
    expect(() => blas?.layerNormGrad(new Float32Array(8), none, new Float32Array(4), new Float32Array(4), new Float32Array(8), 1e-5))
      .toThrow('layerNormGrad: expected gamma of the row length, x, dy and out of whole rows, and residual empty or as long as x');
    expect(() => (blas?.layerNormGrad as unknown as (...args: unknown[]) => void)(new Float32Array(4), new Float32Array(4)))
      .toThrow('layerNormGrad: expected 6 arguments');
  });
});

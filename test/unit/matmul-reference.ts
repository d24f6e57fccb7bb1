import * as tf from '@tensorflow/tfjs-core';

// The matrix-product cases the kernels are checked on, and a float64 reference straight from the definition.

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: number[];
  activation?: 'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'sigmoid' | 'elu' | 'prelu';
}

const CASES: Case[] = [
  { name: 'plain 2-D', a: [5, 7], b: [7, 3] },
  { name: 'transposed A', a: [7, 5], b: [7, 3], transposeA: true },
  { name: 'transposed B', a: [5, 7], b: [3, 7], transposeB: true },
  { name: 'both transposed', a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
  { name: 'batched A, one B (rows folded)', a: [2, 4, 6], b: [6, 5] },
  { name: 'batched both', a: [3, 4, 6], b: [3, 6, 5] },
  { name: 'batched, transposed B (attention scores)', a: [2, 2, 4, 3], b: [2, 2, 4, 3], transposeB: true },
  { name: 'batched, transposed A', a: [3, 6, 4], b: [3, 6, 5], transposeA: true },
  { name: 'broadcast batch', a: [2, 1, 3, 4], b: [1, 3, 4, 2] },
  { name: 'one A, batched B', a: [3, 4], b: [2, 4, 5] },
  // An inner dimension above 48 with a bias: the stock wasm slow path adds the bias once per 48-wide block and
  // reads it from the wrong element after the first row.
  { name: 'bias, batched, inner 100', a: [2, 3, 100], b: [2, 100, 4], bias: [4] },
  { name: 'bias, transposed B, inner 100', a: [3, 100], b: [4, 100], transposeB: true, bias: [4] },
  { name: 'bias [1, n] with relu', a: [4, 5], b: [5, 6], bias: [1, 6], activation: 'relu' },
  { name: 'relu6', a: [2, 5, 9], b: [9, 4], bias: [4], activation: 'relu6' },
  { name: 'leakyrelu', a: [5, 9], b: [2, 9, 4], activation: 'leakyrelu' },
  { name: 'sigmoid', a: [5, 9], b: [9, 4], transposeA: false, bias: [4], activation: 'sigmoid' },
  { name: 'elu', a: [9, 5], b: [9, 4], transposeA: true, activation: 'elu' },
  { name: 'prelu', a: [5, 9], b: [9, 4], bias: [4], activation: 'prelu' },
  // Above the direct-loop size (32·1024 multiply-adds), so the tuned paths run too.
  { name: 'large, transposed B, bias', a: [2, 40, 64], b: [2, 48, 64], transposeB: true, bias: [48], activation: 'relu' },
  { name: 'large, transposed A', a: [2, 64, 40], b: [64, 48], transposeA: true },
  { name: 'inner dimension 0 with bias', a: [3, 0], b: [0, 4], bias: [4] },
  // Columns in whole steps of 8: without the add-on, the SIMD kernel's cases.
  { name: 'batched, n 16, rows off the block of four', a: [3, 7, 5], b: [3, 5, 16] },
  { name: 'batched, transposed B, n 16 (attention scores)', a: [2, 2, 6, 8], b: [2, 2, 16, 8], transposeB: true },
  { name: 'batched, transposed A, bias, n 8', a: [3, 9, 5], b: [3, 9, 8], transposeA: true, bias: [8] },
  { name: 'one A, batched B, n 8', a: [3, 4], b: [2, 4, 8] },
  { name: 'thin, transposed A (a weight gradient), n 24', a: [300, 6], b: [300, 24], transposeA: true },
  { name: 'batched, transposed B, split over threads', a: [4, 2, 128, 64], b: [4, 2, 128, 64], transposeB: true },
  // More inner rows and columns than the SIMD kernel packs at once (256 × 384): blocks that continue a sum, and a last block that is partly full.
  { name: 'larger than one packed block, transposed B, bias', a: [9, 264], b: [392, 264], transposeB: true, bias: [392] },
  { name: 'larger than one packed block, both transposed', a: [264, 6], b: [392, 264], transposeA: true, transposeB: true },
];

export function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -2, 2, 'float32', seed);
}

/** The product computed in float64, straight from the definition (batch broadcasting from the trailing end). */
function reference(c: Case, a: Float32Array, b: Float32Array, bias: Float32Array | undefined, prelu: Float32Array | undefined): { shape: number[]; values: Float64Array; magnitudes: Float64Array } {
  const [aRows, aCols] = c.a.slice(-2) as [number, number];
  const [bRows, bCols] = c.b.slice(-2) as [number, number];
  const [m, k] = c.transposeA ? [aCols, aRows] : [aRows, aCols];
  const n = c.transposeB ? bRows : bCols;
  const aBatch = c.a.slice(0, -2);
  const bBatch = c.b.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (dims: number[]) => [...Array<number>(rank - dims.length).fill(1), ...dims];
  const [aDims, bDims] = [pad(aBatch), pad(bBatch)];
  const batch = aDims.map((size, i) => Math.max(size, bDims[i] ?? 1));
  const count = batch.reduce((x, y) => x * y, 1);
  const flatIndex = (coordinates: number[], dims: number[]) => coordinates.reduce((flat, coordinate, i) => flat * (dims[i] ?? 1) + ((dims[i] ?? 1) === 1 ? 0 : coordinate), 0);
  const values = new Float64Array(count * m * n);
  const magnitudes = new Float64Array(count * m * n);
  for (let p = 0; p < count; p++) {
    const coordinates: number[] = [];
    for (let i = rank - 1, rest = p; i >= 0; i--) {
      coordinates[i] = rest % (batch[i] ?? 1);
      rest = Math.floor(rest / (batch[i] ?? 1));
    }
    const [aBase, bBase] = [flatIndex(coordinates, aDims) * m * k, flatIndex(coordinates, bDims) * k * n];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = bias ? (bias[j] ?? NaN) : 0;
        let magnitude = Math.abs(sum);
        for (let l = 0; l < k; l++) {
          const x = a[aBase + (c.transposeA ? l * m + i : i * k + l)] ?? NaN;
          const y = b[bBase + (c.transposeB ? j * k + l : l * n + j)] ?? NaN;
          sum += x * y;
          magnitude += Math.abs(x * y);
        }
        values[p * m * n + i * n + j] = activate(sum, c.activation ?? 'linear', prelu?.[j] ?? NaN);
        magnitudes[p * m * n + i * n + j] = magnitude;
      }
    }
  }
  return { shape: [...batch, m, n], values, magnitudes };
}

function activate(x: number, activation: string, preluSlope: number): number {
  switch (activation) {
    case 'relu': return Math.max(x, 0);
    case 'relu6': return Math.min(Math.max(x, 0), 6);
    case 'leakyrelu': return x < 0 ? 0.2 * x : x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'elu': return x < 0 ? Math.expm1(x) : x;
    case 'prelu': return x < 0 ? preluSlope * x : x;
    default: return x;
  }
}

/**
 * Each case's product on the current backend and kernels against `reference`: shapes and the worst error relative to
 * 1 + Σ|bias, aᵢₗ·bₗⱼ| (float32 sums of k terms err in proportion to that, not to the sum itself).
 */
export async function productErrors(): Promise<{ name: string; shape: number[]; expectedShape: number[]; worst: number }[]> {
  const results = [];
  for (const [index, c] of CASES.entries()) {
    const a = seeded(c.a, index * 4 + 1);
    const b = seeded(c.b, index * 4 + 2);
    const bias = c.bias ? seeded(c.bias, index * 4 + 3) : undefined;
    const n = c.transposeB ? (c.b[c.b.length - 2] ?? 0) : (c.b[c.b.length - 1] ?? 0);
    const prelu = c.activation === 'prelu' ? seeded([n], index * 4 + 4) : undefined;
    const y = c.bias || c.activation
      ? tf.fused.matMul({ a, b, transposeA: c.transposeA ?? false, transposeB: c.transposeB ?? false, activation: c.activation ?? 'linear', ...(bias ? { bias } : {}), ...(prelu ? { preluActivationWeights: prelu } : {}) })
      : tf.matMul(a, b, c.transposeA, c.transposeB);
    const want = reference(c, (await a.data()) as Float32Array, (await b.data()) as Float32Array, (await bias?.data()) as Float32Array | undefined, (await prelu?.data()) as Float32Array | undefined);
    const got = await y.data();
    const worst = want.values.reduce((max, value, i) => Math.max(max, Math.abs(value - (got[i] ?? NaN)) / (1 + (want.magnitudes[i] ?? NaN))), 0);
    results.push({ name: c.name, shape: y.shape, expectedShape: want.shape, worst });
    tf.dispose([a, b, y, ...(bias ? [bias] : []), ...(prelu ? [prelu] : [])]);
  }
  return results;
}

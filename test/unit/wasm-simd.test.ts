import { describe, expect, it } from 'vitest';
import { compileSimdKernels, fusedMultiplyAdd, instantiateSimdKernels, PACK_FLOATS, WASM_FMA_ENV } from '../../src/backend/kernels/wasm-simd';
import type { SimdExports } from '../../src/backend/kernels/wasm-types';
import { applyDropoutMask } from '../../src/ops/dropout';
import { layerNormRows, layerNormRowsGrad } from '../../src/ops/layer-norm';
import { normalCdf, normalDensity } from './erf-reference';

// @types/node leaves WebAssembly.Memory out; what these tests use of it:
type Memory = new (pages: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBuffer | SharedArrayBuffer };
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: Memory } }).WebAssembly;

/**
 * The kernels on a fresh memory of 4 MiB, shared (as the threaded build's) or not, and a float allocator on it; `env`
 * may turn the fused multiply-add off.
 */
async function kernels(shared: boolean, env: NodeJS.ProcessEnv = {}): Promise<{ simd: SimdExports; floats: (length: number) => Float32Array }> {
  const memory = new Memory({ initial: 64, ...(shared ? { maximum: 64, shared: true } : {}) });
  const simd = instantiateSimdKernels(await compileSimdKernels(shared, env), memory);
  let next = 64; // bytes; address 0 means "no bias"
  const floats = (length: number) => {
    const array = new Float32Array(memory.buffer, next, length);
    next += 4 * length + 64;
    return array;
  };
  return { simd, floats };
}

describe.each([false, true])('WebAssembly SIMD kernels (shared memory: %s)', (shared) => {
  it('compute the exact GELU and its gradient to 1e-6 of float64 erf, odd lengths included', async () => {
    const { simd, floats } = await kernels(shared);
    const count = 1003; // 250 steps of four, then three one by one
    const [x, dy, out] = [floats(count), floats(count), floats(count)];
    x.forEach((_, i) => (x[i] = (i - 501) / 60)); // -8.35 … 8.37
    dy.forEach((_, i) => (dy[i] = Math.cos(i)));
    simd.gelu(x.byteOffset, out.byteOffset, count);
    const geluErrors = Array.from(x, (v, i) => Math.abs((out[i] as number) - v * normalCdf(v)));
    simd.geluGrad(x.byteOffset, dy.byteOffset, out.byteOffset, count);
    const gradErrors = Array.from(x, (v, i) => Math.abs((out[i] as number) - (dy[i] as number) * (normalCdf(v) + v * normalDensity(v))));
    expect(Math.max(...geluErrors)).toBeLessThan(1e-6);
    expect(Math.max(...gradErrors)).toBeLessThan(1e-6);
  });

  it('draw the JavaScript dropout mask bit for bit, from any element of the tensor', async () => {
    const { simd, floats } = await kernels(shared);
    const count = 1001;
    const [x, out] = [floats(count), floats(count)];
    x.forEach((_, i) => (x[i] = Math.sin(i) * 3));
    for (const [rate, seed, first] of [[0.1, 77, 0], [0.5, 0xdeadbeef, 377], [0.999, 5, 12]] as const) {
      const want = new Float32Array(count);
      applyDropoutMask(x, want, rate, seed, first);
      simd.dropout(x.byteOffset, out.byteOffset, count, first, seed, Math.ceil((1 - rate) * 2 ** 32) - 1, 1 / (1 - rate));
      expect(Array.from(out).filter((v, i) => !Object.is(v, want[i])), `rate ${rate}`).toEqual([]);
      expect(want.filter((v) => v === 0).length / count, `rate ${rate}`).toBeCloseTo(rate, 1);
    }
  });

  it('normalise rows as the JavaScript LayerNorm does (float64 sums) to 2e-6, with and without a residual, and its gradient', async () => {
    const { simd, floats } = await kernels(shared);
    const [rows, size] = [7, 36];
    const [x, residual, dy, out, gamma, beta] = [floats(rows * size), floats(rows * size), floats(rows * size), floats(rows * size), floats(size), floats(size)];
    x.forEach((_, i) => (x[i] = 5 + Math.sin(i) * 3)); // a mean far from 0, as a post-LN residual sum has
    residual.forEach((_, i) => (residual[i] = Math.cos(3 * i)));
    dy.forEach((_, i) => (dy[i] = Math.sin(7 * i)));
    gamma.forEach((_, j) => (gamma[j] = 1 + j / size));
    beta.forEach((_, j) => (beta[j] = j / (2 * size)));
    const want = new Float32Array(rows * size);
    const none = new Float32Array(0);
    for (const withResidual of [false, true]) {
      const at = withResidual ? residual.byteOffset : 0;
      simd.layerNorm(x.byteOffset, at, gamma.byteOffset, beta.byteOffset, out.byteOffset, rows, size, 1e-5);
      layerNormRows(x, withResidual ? residual : none, gamma, beta, want, 1e-5);
      expect(Math.max(...out.map((v, i) => Math.abs(v - (want[i] as number)))), `layerNorm, residual ${withResidual}`).toBeLessThan(2e-6);
      simd.layerNormGrad(x.byteOffset, at, gamma.byteOffset, dy.byteOffset, out.byteOffset, rows, size, 1e-12);
      layerNormRowsGrad(x, withResidual ? residual : none, gamma, dy, want, 1e-12);
      expect(Math.max(...out.map((v, i) => Math.abs(v - (want[i] as number)))), `layerNormGrad, residual ${withResidual}`).toBeLessThan(2e-6);
    }
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5); // the gradient is not trivially small
  });

  it.each([['fused', {}], ['unfused', { [WASM_FMA_ENV]: '0' }]] as const)('multiply matrices (%s multiply-add) as float64 does, either operand transposed, with or without a bias, over several packed blocks, rows off the block of four', async (_, env) => {
    const { simd, floats } = await kernels(shared, env);
    // k and n above the 256 × 384 block of B the kernel packs at once: sums continued over blocks, a partial last one.
    const [m, n, k] = [7, 392, 264];
    const [a, b, bias, out, pack] = [floats(m * k), floats(k * n), floats(n), floats(m * n), floats(PACK_FLOATS)];
    a.forEach((_, i) => (a[i] = Math.sin(i)));
    b.forEach((_, i) => (b[i] = Math.cos(0.7 * i)));
    bias.forEach((_, i) => (bias[i] = i / 10));
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        for (const withBias of [false, true]) {
          out.fill(NaN);
          const [rowStride, innerStride] = transposeA ? [4, 4 * m] : [4 * k, 4];
          const [bRowStride, bColumnStride] = transposeB ? [4, 4 * k] : [4 * n, 4];
          simd.matMul(a.byteOffset, b.byteOffset, out.byteOffset, m, n, k, rowStride, innerStride, bRowStride, bColumnStride, withBias ? bias.byteOffset : 0, pack.byteOffset);
          let worst = 0;
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let sum = withBias ? (bias[j] as number) : 0;
              let magnitude = Math.abs(sum);
              for (let p = 0; p < k; p++) {
                const term = (a[transposeA ? p * m + i : i * k + p] as number) * (b[transposeB ? j * k + p : p * n + j] as number);
                sum += term;
                magnitude += Math.abs(term);
              }
              // float32 sums of k terms err in proportion to Σ|terms|
              worst = Math.max(worst, Math.abs(sum - (out[i * n + j] as number)) / (1 + magnitude));
            }
          }
          expect(worst, `transposeA ${transposeA}, transposeB ${transposeB}, bias ${withBias}`).toBeLessThan(1e-6);
        }
      }
    }
  });
});

describe('the product kernel\'s multiply-add', () => {
  it('is fused where relaxed SIMD compiles (Node 20 with the flag set at run time), rounding once per step, and off with ADAPTERFUSION_WASM_FMA=0', async () => {
    expect(await fusedMultiplyAdd({})).toBe(true);
    expect(await fusedMultiplyAdd({ [WASM_FMA_ENV]: '0' })).toBe(false);
    const results = await Promise.all([{}, { [WASM_FMA_ENV]: '0' }].map(async (env) => {
      const { simd, floats } = await kernels(false, env);
      const [a, b, out, pack] = [floats(2), floats(16), floats(8), floats(PACK_FLOATS)];
      const epsilon = 2 ** -13;
      a.set([-1, 1 + epsilon]);
      b.fill(1 + 2 * epsilon, 0, 8);
      b.fill(1 + epsilon, 8, 16);
      simd.matMul(a.byteOffset, b.byteOffset, out.byteOffset, 1, 8, 2, 8, 4, 32, 4, 0, pack.byteOffset);
      return out[0];
    }));
    // −(1 + 2ε) + (1 + ε)² = ε² exactly when fused; unfused, (1 + ε)² first rounds to 1 + 2ε in float32 and the sum is 0.
    expect(results).toEqual([2 ** -26, 0]);
  });
});

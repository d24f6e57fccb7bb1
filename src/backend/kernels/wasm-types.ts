// The types the WebAssembly kernels share: the heap they work on and the SIMD module's interface, which
// wasm-simd.ts compiles and heap-workers.ts and wasm-matmul.ts call.

/** tfjs-backend-wasm's memory (a `WebAssembly.Memory`); shared in the threaded build. */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}

/** A compiled `WebAssembly.Module` of the SIMD kernels (which workers can be sent). */
export type SimdModule = { readonly compiledKernels?: never };

/** The SIMD module's exports; every address is a byte offset into the wasm heap. */
export interface SimdExports {
  /**
   * `rows` rows of C = A·B (+ bias): C is rows×n, row-major; A's element (i, p) lies at `a + i·rowStride +
   * p·innerStride` and B's (p, j) at `b + p·bRowStride + j·bColumnStride` (bytes), so either may be transposed;
   * `bias` is n floats, or 0 for none; `pack` is `PACK_FLOATS` floats of scratch. n % 8 = 0.
   */
  matMul(a: number, b: number, c: number, rows: number, n: number, k: number, rowStride: number, innerStride: number,
    bRowStride: number, bColumnStride: number, bias: number, pack: number): void;
  /** out = x·Φ(x) for `count` floats. */
  gelu(x: number, out: number, count: number): void;
  /** out = dy·(Φ(x) + x·φ(x)) for `count` floats. */
  geluGrad(x: number, dy: number, out: number, count: number): void;
  /**
   * `applyDropoutMask` (src/ops/dropout.ts) bit for bit on `count` floats from element `first` of the tensor: x·scale
   * where mulberry32's draw is at most `lastKept`, else 0.
   */
  dropout(x: number, out: number, count: number, first: number, seed: number, lastKept: number, scale: number): void;
  /**
   * `layerNormRows` (src/ops/layer-norm.ts) on `rows` rows of `size` floats (a multiple of `SIMD_LANES`) of x +
   * residual (x alone when `residual` is 0), its sums in four float lanes combined in float64.
   */
  layerNorm(x: number, residual: number, gamma: number, beta: number, out: number, rows: number, size: number, epsilon: number): void;
  /** `layerNormRowsGrad` likewise. */
  layerNormGrad(x: number, residual: number, gamma: number, dy: number, out: number, rows: number, size: number, epsilon: number): void;
}

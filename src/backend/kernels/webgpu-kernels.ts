import * as tf from '@tensorflow/tfjs-core';
import { DROPOUT_KERNEL } from '../../ops/dropout';
import { isRowBias, planMatMul } from './matmul-plan';

/** A program in tfjs-backend-webgpu's form: WGSL for one output, over a flat index, with extra uniforms. */
interface WebGpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  size: boolean;
  getUserCode(): string;
}

/** The part of tfjs-backend-webgpu's backend a kernel calls. */
interface WebGpuBackend {
  runWebGPUProgram(program: WebGpuProgram, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: { type: 'uint32' | 'float32' | 'int32'; data: number[] }[]): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

const WORKGROUP = 128;

/**
 * The dropout mask of `applyDropoutMask` (src/ops/dropout.ts), bit for bit: element i is kept when draw i + 1 of a
 * mulberry32 generator started at `seed` is below (1 - rate)·2³², and scaled by fround(1 / (1 - rate)). The
 * generator's state after n draws is seed + n·0x6d2b79f5, so every invocation draws its own element's number without a
 * sequential pass. u32 arithmetic wraps as Math.imul and `>>> 0` do.
 */
export const DROPOUT_WGSL = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let state = uniforms.seed + (u32(index) + 1u) * 0x6d2b79f5u;
      var t = (state ^ (state >> 15u)) * (state | 1u);
      t = t ^ (t + (t ^ (t >> 7u)) * (t | 61u));
      let draw = t ^ (t >> 14u);
      setOutputAtIndex(index, select(0.0, x[index] * uniforms.scale, draw <= uniforms.limit));
    }
  }
`;

/** The largest draw that keeps an element: draws are whole numbers, so `draw < (1 - rate)·2³²` is `draw <= ceil(…) - 1`. */
export function dropoutLimit(rate: number): number {
  return Math.ceil((1 - rate) * 4294967296) - 1;
}

function dropoutProgram(shape: number[]): WebGpuProgram {
  const size = tf.util.sizeFromShape(shape);
  return {
    variableNames: ['x'],
    outputShape: shape,
    shaderKey: 'adapterfusion_dropout',
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    uniforms: 'seed : u32, limit : u32, scale : f32,',
    size: true,
    getUserCode: () => DROPOUT_WGSL,
  };
}

/** Output tile side of the product kernel; each of its 8 × 8 invocations computes 4 × 4 outputs. */
const TILE = 32;

/**
 * A tiled matrix product, `op(A)·op(B) (+ bias)` per batch: a workgroup stages 32 × 32 tiles of A and B in workgroup
 * memory (adjacent invocations load adjacent addresses) and accumulates a 32 × 32 block of the result, 4 × 4 outputs
 * per invocation held in registers. Transposes are read in place; `offsets` holds each batch's first element in A and
 * in B, so any broadcast of the batch dims is one dispatch.
 */
function matMulWgsl(transposeA: boolean, transposeB: boolean, bias: boolean): string {
  const a = transposeA ? 'A[aBase + k * M + r]' : 'A[aBase + r * K + k]';
  const b = transposeB ? 'B[bBase + c * K + k]' : 'B[bBase + k * N + c]';
  return `
  var<workgroup> tileA : array<array<f32, ${TILE}>, ${TILE}>;
  var<workgroup> tileB : array<array<f32, ${TILE}>, ${TILE}>;

  fn main() {
    let M = uniforms.m; let N = uniforms.n; let K = uniforms.k;
    let batch = i32(workgroupId.z);
    let aBase = offsets[2 * batch];
    let bBase = offsets[2 * batch + 1];
    let row0 = i32(workgroupId.y) * ${TILE};
    let col0 = i32(workgroupId.x) * ${TILE};
    let tr = i32(localId.y) * 4;
    let tc = i32(localId.x) * 4;
    var acc : array<vec4<f32>, 4>;
    for (var k0 = 0; k0 < K; k0 += ${TILE}) {
      for (var i = 0; i < ${(TILE * TILE) / 64}; i++) {
        let flat = i * 64 + i32(localIndex);
        let y = flat / ${TILE};
        let x = flat % ${TILE};
        var av = 0.0;
        let r = row0 + y;
        var k = k0 + x;
        if (r < M && k < K) { av = ${a}; }
        tileA[y][x] = av;
        var bv = 0.0;
        k = k0 + y;
        let c = col0 + x;
        if (k < K && c < N) { bv = ${b}; }
        tileB[y][x] = bv;
      }
      workgroupBarrier();
      for (var kk = 0; kk < ${TILE}; kk++) {
        let bRow = vec4<f32>(tileB[kk][tc], tileB[kk][tc + 1], tileB[kk][tc + 2], tileB[kk][tc + 3]);
        for (var i = 0; i < 4; i++) {
          acc[i] = fma(vec4<f32>(tileA[tr + i][kk]), bRow, acc[i]);
        }
      }
      workgroupBarrier();
    }
    for (var i = 0; i < 4; i++) {
      let r = row0 + tr + i;
      for (var j = 0; j < 4; j++) {
        let c = col0 + tc + j;
        if (r < M && c < N) {
          setOutputAtIndex(batch * M * N + r * N + c, acc[i][j]${bias ? ' + bias[c]' : ''});
        }
      }
    }
  }
`;
}

/** The tiled kernel where it applies (float32, a row bias, no activation), else tfjs-webgpu's own (`fallback`). */
function runMatMul(backend: WebGpuBackend, fallback: tf.KernelFunc, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b, bias } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
  const plan = planMatMul(a.shape, b.shape, transposeA, transposeB);
  const count = plan.products.length;
  const supported = a.dtype === 'float32' && b.dtype === 'float32' && (activation === undefined || activation === 'linear') &&
    (!bias || isRowBias(bias.shape, plan.n));
  if (!supported) return fallback(args);
  const { m, n, k } = plan;
  const program: WebGpuProgram = {
    variableNames: bias ? ['A', 'B', 'offsets', 'bias'] : ['A', 'B', 'offsets'],
    outputShape: [count, m, n],
    shaderKey: `adapterfusion_matmul_${transposeA}_${transposeB}_${bias !== undefined}`,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(n / TILE), Math.ceil(m / TILE), count],
    workgroupSize: [8, 8, 1],
    uniforms: 'm : i32, n : i32, k : i32,',
    size: false,
    getUserCode: () => matMulWgsl(transposeA, transposeB, bias !== undefined),
  };
  const offsets = backend.makeTensorInfo([count * 2], 'int32', Int32Array.from(plan.products.flatMap((p) => [p.a * m * k, p.b * k * n])));
  // Empty operands (an inner dimension of 0) get no buffer to bind; one unread element stands in for each.
  const operands = k === 0 ? [a, b].map(() => backend.makeTensorInfo([1], 'float32', new Float32Array(1))) : [a, b];
  const product = backend.runWebGPUProgram(program, [...operands, offsets, ...(bias ? [bias] : [])], 'float32', [
    { type: 'int32', data: [m] }, { type: 'int32', data: [n] }, { type: 'int32', data: [k] },
  ]);
  for (const temporary of [offsets, ...(k === 0 ? operands : [])]) backend.disposeData(temporary.dataId);
  const reshape = tf.getKernel('Reshape', 'webgpu');
  const shaped = reshape.kernelFunc({ inputs: { x: product }, backend: args.backend, attrs: { shape: plan.outShape } }) as tf.TensorInfo;
  backend.disposeData(product.dataId);
  return shaped;
}

/** Environment variable: `wgsl` runs matrix products in the framework's tiled WGSL kernel instead of tfjs-webgpu's. */
export const WEBGPU_MATMUL_ENV = 'ADAPTERFUSION_WEBGPU_MATMUL';

/** tfjs-webgpu's BatchMatMul and _FusedMatMul, replaced by the tiled kernel where it applies (else they run). */
export function webGpuMatMulKernels(): tf.KernelConfig[] {
  return [tf.BatchMatMul, tf._FusedMatMul].map((kernelName) => {
    const stock = tf.getKernel(kernelName, 'webgpu');
    return { kernelName, backendName: 'webgpu', kernelFunc: (args) => runMatMul(args.backend as unknown as WebGpuBackend, stock.kernelFunc, args) };
  });
}

/**
 * The framework's WGSL kernels for tfjs-backend-webgpu: the counter-based dropout mask of the other backends, and with
 * `ADAPTERFUSION_WEBGPU_MATMUL=wgsl` the tiled product kernel.
 */
export function webGpuKernels(env: NodeJS.ProcessEnv = process.env): tf.KernelConfig[] {
  return [
    ...(env[WEBGPU_MATMUL_ENV] === 'wgsl' ? webGpuMatMulKernels() : []),
    {
      kernelName: DROPOUT_KERNEL,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { x } = inputs as { x: tf.TensorInfo };
        const { rate, seed } = attrs as unknown as { rate: number; seed: number };
        return (backend as unknown as WebGpuBackend).runWebGPUProgram(dropoutProgram([...x.shape]), [x], 'float32', [
          { type: 'uint32', data: [seed >>> 0] },
          { type: 'uint32', data: [dropoutLimit(rate)] },
          { type: 'float32', data: [Math.fround(1 / (1 - rate))] },
        ]);
      },
    },
  ];
}

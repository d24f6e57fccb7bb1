import * as tf from '@tensorflow/tfjs-core';
import { DROPOUT_KERNEL } from '../../ops/dropout';

/** A program in tfjs-backend-webgpu's form: WGSL for one output, over a flat index, with extra uniforms. */
interface WebGpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  size: boolean;
  getUserCode(): string;
}

/** The part of tfjs-backend-webgpu's backend a kernel calls. */
interface WebGpuBackend {
  runWebGPUProgram(program: WebGpuProgram, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: { type: 'uint32' | 'float32' | 'int32'; data: number[] }[]): tf.TensorInfo;
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

/** The framework's WGSL kernels for tfjs-backend-webgpu: the counter-based dropout mask of the other backends. */
export function webGpuKernels(): tf.KernelConfig[] {
  return [
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

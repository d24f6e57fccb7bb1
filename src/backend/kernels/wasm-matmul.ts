import * as tf from '@tensorflow/tfjs-core';
import { BLAS_ACTIVATIONS, type NativeBlas } from '../native/native-blas';
import type { HeapWorkers } from './heap-workers';
import type { WasmMemory } from './wasm-types';
import { PACK_FLOATS, SIMD_COLUMNS } from './wasm-simd';
import { isRowBias, planMatMul, productOffsets, type MatMulPlan } from './matmul-plan';

/** The parts of @tensorflow/tfjs-backend-wasm's BackendWasm these kernels use (its heap and tensor registry). */
export interface WasmBackend extends tf.KernelBackend {
  wasm: {
    HEAPF32: Float32Array;
    HEAPU8: Uint8Array;
    _malloc(bytes: number): number;
    cwrap(name: string, returns: null, argumentTypes: string[]): (...args: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void };
    /** The threaded build's memory (its buffer a SharedArrayBuffer). */
    wasmMemory?: WasmMemory;
    /** The module's exports; `memory` is the single-threaded build's memory. */
    asm: { memory: WasmMemory };
  };
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

/** What follows the product: a row bias, then an activation (the names tf.fused.matMul takes). */
interface Epilogue {
  bias?: tf.TensorInfo;
  activation: string;
  preluWeights?: tf.TensorInfo;
  leakyreluAlpha: number;
}

/** The inputs of `_FusedMatMul`; a and b always present. */
export interface FusedInputs {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  bias?: tf.TensorInfo;
  preluActivationWeights?: tf.TensorInfo;
}

// The wasm backend's FusableActivation numbering (tfjs-backend-wasm src/cc/fusable_activations.h).
const WASM_ACTIVATIONS: Readonly<Record<string, number>> = { ...BLAS_ACTIVATIONS, prelu: 3 };

const FLOAT_BYTES = 4;

/** Product p pairs A's batch p mod batchA with B's batch p mod batchB (the stock kernel's and the SIMD one's rule). */
function pairedByModulo({ products, batchA, batchB }: MatMulPlan): boolean {
  return products.every((product, index) => product.a === index % batchA && product.b === index % batchB);
}

const NO_BIAS = new Float32Array(0);

/** Multiply-adds below which a product is done by a direct loop rather than a tuned kernel (see `direct`). */
const SMALL_PRODUCT = 32 * 1024;

/**
 * Matrix-product kernels for the wasm backend. Every product (transposed, batched, broadcast, with bias and
 * activation) takes a fast path: with the native add-on one batched `cblas_sgemm` call straight on the wasm heap;
 * without it, the SIMD kernel on the heap workers (`heap`) wherever the columns come in whole SIMD steps and there is
 * no activation, the others through XNNPACK's fully-connected operator that the stock kernel reserves for
 * untransposed single-batch products, reached for every product by transposing operands into place and naming each
 * batch as its own tensor.
 * This also fixes the stock kernel's bias on its slow path (added per 48-wide block of the inner dimension, and
 * taken from the wrong element beyond the first row).
 */
export function wasmMatMulKernels(backend: WasmBackend, blas: NativeBlas | undefined, heap?: HeapWorkers): tf.KernelConfig[] {
  const transposeKernel = tf.getKernel(tf.Transpose, 'wasm');
  if (!transposeKernel) throw new Error('the wasm backend registers no Transpose kernel');
  const fusedMatMul = backend.wasm.cwrap(tf._FusedMatMul, null, [
    'number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number', 'number', 'number', 'number', 'number',
  ]);

  /** A contiguous copy of x with its last two axes swapped, as [batch, cols, rows]. */
  const transposeLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
    const [rows, cols] = x.shape.slice(-2) as [number, number];
    const batched = { ...x, shape: [tf.util.sizeFromShape(x.shape) / (rows * cols), rows, cols] };
    return transposeKernel.kernelFunc({ inputs: { x: batched }, backend, attrs: { perm: [0, 2, 1] } }) as tf.TensorInfo;
  };

  /** A tensor id naming `size` floats at `memoryOffset`, for the wasm kernels that address tensors by id. */
  const view = (memoryOffset: number, size: number): number => {
    const id = backend.dataIdNextNumber++;
    backend.wasm.tfjs.registerTensor(id, size, memoryOffset);
    return id;
  };

  function xnnpack(plan: MatMulPlan, a: tf.TensorInfo, b: tf.TensorInfo, out: tf.TensorInfo, transposeA: boolean, transposeB: boolean, epilogue: Epilogue): void {
    const { m, n, k } = plan;
    const single = plan.products.length === 1;
    const rowsA = transposeA ? transposeLastTwo(a) : a; // (batchA, m, k)
    const colsB = transposeB ? transposeLastTwo(b) : b; // (batchB, k, n)
    const [aData, bData, outData] = [rowsA, colsB, out].map((info) => backend.dataIdMap.get(info.dataId));
    if (!aData || !bData || !outData) throw new Error('matMul on wasm: an operand is not on the wasm backend');
    // One product covers whole tensors: use their own ids, so XNNPACK's packed weights stay cached on a weight.
    const ids = single ? [[aData.id, bData.id, outData.id]] : plan.products.map((product, index) => [
      view(aData.memoryOffset + product.a * m * k * FLOAT_BYTES, m * k),
      view(bData.memoryOffset + product.b * k * n * FLOAT_BYTES, k * n),
      view(outData.memoryOffset + index * m * n * FLOAT_BYTES, m * n),
    ]);
    const biasId = epilogue.bias ? backend.dataIdMap.get(epilogue.bias.dataId).id : 0;
    const preluId = epilogue.preluWeights ? backend.dataIdMap.get(epilogue.preluWeights.dataId).id : 0;
    const activation = WASM_ACTIVATIONS[epilogue.activation] ?? 0;
    const [aShape, bShape] = [[m, k], [k, n]].map((shape) => new Uint8Array(new Int32Array([1, ...shape]).buffer));
    for (const [aId, bId, outId] of ids) fusedMatMul(aId, aShape, 3, bId, bShape, 3, false, false, activation, biasId, preluId, epilogue.leakyreluAlpha, outId);
    if (!single) for (const id of ids.flat()) backend.wasm.tfjs.disposeData(id);
    if (rowsA !== a) backend.disposeData(rowsA.dataId);
    if (colsB !== b) backend.disposeData(colsB.dataId);
  }

  /** `size` floats of a tensor on the heap, read after every allocation (which may have grown and replaced it). */
  const floats = (info: tf.TensorInfo, size = tf.util.sizeFromShape(info.shape)): Float32Array => {
    const start = backend.dataIdMap.get(info.dataId).memoryOffset / FLOAT_BYTES;
    return backend.wasm.HEAPF32.subarray(start, start + size);
  };

  function native(library: NativeBlas, plan: MatMulPlan, a: tf.TensorInfo, b: tf.TensorInfo, out: tf.TensorInfo, transposeA: boolean, transposeB: boolean, epilogue: Epilogue): void {
    const { m, n, k } = plan;
    const bias = epilogue.bias ? floats(epilogue.bias, n) : null;
    library.matMul(floats(a), floats(b), floats(out), bias, productOffsets(plan), m, n, k, transposeA, transposeB,
      BLAS_ACTIVATIONS[epilogue.activation] ?? 0, epilogue.leakyreluAlpha);
  }

  /** Scratch on the heap the SIMD product kernel packs B into, `PACK_FLOATS` per thread: made on first use, kept. */
  let packAt = 0;
  const pack = (threads: number): Float32Array => {
    packAt ||= backend.wasm._malloc(threads * PACK_FLOATS * FLOAT_BYTES);
    return backend.wasm.HEAPF32.subarray(packAt / FLOAT_BYTES, packAt / FLOAT_BYTES + threads * PACK_FLOATS);
  };

  /**
   * The SIMD kernel, its products' rows split over the heap workers: every product whose columns come in whole SIMD
   * steps and that has no activation. It reads either operand transposed in place, packs B itself per call (XNNPACK
   * through tfjs copies transposed operands, and sets up an operator, packing B, per product of a batch) and, with
   * relaxed SIMD, multiplies and adds in one instruction: 1.5-2× XNNPACK's rate on BERT-base's products.
   */
  function simd(library: HeapWorkers, plan: MatMulPlan, a: tf.TensorInfo, b: tf.TensorInfo, out: tf.TensorInfo, transposeA: boolean, transposeB: boolean, epilogue: Epilogue): boolean {
    const { m, n, k, batchA, batchB } = plan;
    if (n % SIMD_COLUMNS !== 0 || epilogue.activation !== 'linear' || !pairedByModulo(plan)) return false;
    const scratch = pack(library.threads);
    library.matMul(floats(a), floats(b), floats(out), epilogue.bias ? floats(epilogue.bias, n) : NO_BIAS, scratch, m, n, k, transposeA, transposeB, batchA, batchB);
    return true;
  }

  /**
   * Many small products (fusion's per-token scores, 1×N·N×D) cost more to set up for XNNPACK than to compute: the
   * stock kernel's direct loop does them in one call. It adds a bias wrongly, and pairs batches by modulo.
   */
  function direct(plan: MatMulPlan, a: tf.TensorInfo, b: tf.TensorInfo, out: tf.TensorInfo, transposeA: boolean, transposeB: boolean, epilogue: Epilogue): boolean {
    const { m, n, k, batchA, batchB } = plan;
    if (m * n * k > SMALL_PRODUCT || plan.products.length === 1 || epilogue.bias || epilogue.preluWeights || !pairedByModulo(plan)) return false;
    const shape = (info: tf.TensorInfo, batch: number) => new Uint8Array(new Int32Array([batch, ...info.shape.slice(-2)]).buffer);
    const id = (info: tf.TensorInfo) => backend.dataIdMap.get(info.dataId).id;
    fusedMatMul(id(a), shape(a, batchA), 3, id(b), shape(b, batchB), 3, transposeA, transposeB, WASM_ACTIVATIONS[epilogue.activation] ?? 0, 0, 0, epilogue.leakyreluAlpha, id(out));
    return true;
  }

  /** With an inner dimension of 0 every element is act(bias), which no product routine computes. */
  function emptyProduct(plan: MatMulPlan, out: tf.TensorInfo, epilogue: Epilogue): void {
    const bias = epilogue.bias ? floats(epilogue.bias, plan.n) : undefined;
    const slopes = epilogue.preluWeights ? floats(epilogue.preluWeights, plan.n) : undefined;
    const activate = (x: number, column: number): number => {
      switch (epilogue.activation) {
        case 'relu': return Math.max(x, 0);
        case 'relu6': return Math.min(Math.max(x, 0), 6);
        case 'leakyrelu': return x < 0 ? epilogue.leakyreluAlpha * x : x;
        case 'prelu': return x < 0 ? (slopes?.[column] ?? 0) * x : x;
        case 'sigmoid': return 1 / (1 + Math.exp(-x));
        case 'elu': return x < 0 ? Math.expm1(x) : x;
        default: return x;
      }
    };
    const values = floats(out);
    values.forEach((_, i) => (values[i] = activate(bias?.[i % plan.n] ?? 0, i % plan.n)));
  }

  function product(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, epilogue: Epilogue): tf.TensorInfo {
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`matMul on wasm: expected float32 operands, got ${a.dtype} and ${b.dtype}`);
    const plan = planMatMul(a.shape, b.shape, transposeA, transposeB);
    if (epilogue.bias && !isRowBias(epilogue.bias.shape, plan.n)) {
      throw new Error(`fused matMul on wasm: expected a bias of ${plan.n} values (shape [${plan.n}]), got shape [${epilogue.bias.shape.join(', ')}]`);
    }
    if (!(epilogue.activation in WASM_ACTIVATIONS)) throw new Error(`fused matMul on wasm: unsupported activation "${epilogue.activation}"`);
    const out = backend.makeOutput(plan.outShape, 'float32');
    if (tf.util.sizeFromShape(plan.outShape) === 0) return out;
    if (plan.k === 0) emptyProduct(plan, out, epilogue);
    else if (blas && epilogue.activation !== 'prelu') native(blas, plan, a, b, out, transposeA, transposeB, epilogue);
    else if (!(heap && simd(heap, plan, a, b, out, transposeA, transposeB, epilogue)) && !direct(plan, a, b, out, transposeA, transposeB, epilogue)) {
      xnnpack(plan, a, b, out, transposeA, transposeB, epilogue);
    }
    return out;
  }

  return [
    {
      kernelName: tf.BatchMatMul,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs }) => {
        const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
        const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
        return product(a, b, transposeA, transposeB, { activation: 'linear', leakyreluAlpha: 0 });
      },
    },
    {
      kernelName: tf._FusedMatMul,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs }) => {
        const { a, b, bias, preluActivationWeights } = inputs as unknown as FusedInputs;
        const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as unknown as tf._FusedMatMulAttrs;
        return product(a, b, transposeA, transposeB, {
          ...(bias ? { bias } : {}),
          ...(preluActivationWeights ? { preluWeights: preluActivationWeights } : {}),
          activation,
          leakyreluAlpha: leakyreluAlpha ?? 0,
        });
      },
    },
  ];
}

/**
 * Identity on wasm shares the input's memory, as the cpu backend's does, instead of copying it: the engine clones
 * every tensor it keeps for backprop, so the stock copy costs a full pass over each saved activation.
 */
export function wasmIdentityKernel(): tf.KernelConfig {
  return {
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      (backend as tf.KernelBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
}

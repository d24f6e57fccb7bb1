import { broadcast_util, util } from '@tensorflow/tfjs-core';

/**
 * A (batched, broadcast) matrix product reduced to a list of 2-D products `op(A_p)·op(B_p)`, each m×k by k×n.
 * When B is a single matrix and A is not transposed, A's batches are folded into the rows of one product: one large
 * product runs far faster than many small ones.
 */
export interface MatMulPlan {
  m: number;
  n: number;
  k: number;
  /** Shape of the result: broadcast batch dims, then the rows and columns of each product. */
  outShape: number[];
  /** Batches in A and B as stored (their leading dims flattened), before any folding. */
  batchA: number;
  batchB: number;
  /** For each product: the batch of A, the batch of B (the result's batch is the product's index). */
  products: { a: number; b: number }[];
}

/** Plans `matMul(a, b, transposeA, transposeB)` for rank ≥ 2 operands whose leading dims broadcast. */
export function planMatMul(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean): MatMulPlan {
  if (aShape.length < 2 || bShape.length < 2) {
    throw new Error(`matMul: expected operands of rank 2 or more, got shapes [${aShape.join(', ')}] and [${bShape.join(', ')}]`);
  }
  const [aRows, aCols] = aShape.slice(-2) as [number, number];
  const [bRows, bCols] = bShape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const [kB, n] = transposeB ? [bCols, bRows] : [bRows, bCols];
  if (k !== kB) {
    throw new Error(`matMul: inner dimensions differ: [${aShape.join(', ')}]${transposeA ? 'ᵀ' : ''} · [${bShape.join(', ')}]${transposeB ? 'ᵀ' : ''} (${k} vs ${kB})`);
  }
  const aBatchShape = aShape.slice(0, -2);
  const bBatchShape = bShape.slice(0, -2);
  const batchShape = broadcast_util.assertAndGetBroadcastShape(aBatchShape, bBatchShape);
  const batchA = util.sizeFromShape(aBatchShape);
  const batchB = util.sizeFromShape(bBatchShape);
  const outShape = [...batchShape, m, n];
  if (batchB === 1 && !transposeA) {
    return { m: m * batchA, n, k, outShape, batchA, batchB, products: [{ a: 0, b: 0 }] };
  }
  const count = util.sizeFromShape(batchShape);
  const products = Array.from({ length: count }, (_, index) => ({
    a: broadcastIndex(index, batchShape, aBatchShape),
    b: broadcastIndex(index, batchShape, bBatchShape),
  }));
  return { m, n, k, outShape, batchA, batchB, products };
}

/** `[a, b, out]` element offsets of every product, for the native add-on. */
export function productOffsets(plan: MatMulPlan): Float64Array {
  const { m, n, k } = plan;
  const offsets = new Float64Array(plan.products.length * 3);
  plan.products.forEach((product, index) => offsets.set([product.a * m * k, product.b * k * n, index * m * n], index * 3));
  return offsets;
}

/** The flat index in an operand's batch dims of the result's batch `index` (size-1 dims repeat). */
function broadcastIndex(index: number, batchShape: readonly number[], operandShape: readonly number[]): number {
  let flat = 0;
  let stride = 1;
  let remaining = index;
  for (let axis = batchShape.length - 1, own = operandShape.length - 1; axis >= 0; axis--, own--) {
    const size = batchShape[axis] ?? 1;
    const coordinate = remaining % size;
    remaining = Math.floor(remaining / size);
    if (own < 0) continue;
    const ownSize = operandShape[own] ?? 1;
    if (ownSize !== 1) flat += coordinate * stride;
    stride *= ownSize;
  }
  return flat;
}

/** True when a bias adds the same n values to every row: shape `[n]`, `[1, n]`, `[1, 1, n]`, … */
export function isRowBias(biasShape: readonly number[], n: number): boolean {
  return biasShape.length >= 1 && biasShape[biasShape.length - 1] === n && biasShape.slice(0, -1).every((size) => size === 1);
}

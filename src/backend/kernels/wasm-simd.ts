/**
 * Kernels in WebAssembly SIMD that work on tfjs-backend-wasm's own heap, for when the native add-on is absent: the
 * exact GELU and its gradient (the composed tfjs ops run `Erf` and `Exp` single-threaded, a tenth of a BERT-tiny
 * step), dropout (the JavaScript kernel's mask, four draws at a time), LayerNorm and its gradient (8-9× the
 * JavaScript loops), and matrix products (blocked, with fused multiply-adds where relaxed SIMD compiles: 1.5-2×
 * XNNPACK through tfjs). The module imports the backend's memory, so it reads and writes tensors where they lie, and
 * in the threaded build every heap worker runs its own instance on the same memory.
 *
 * The source is WebAssembly text, assembled once per process by `wabt`.
 */

import type { SimdExports, SimdModule, WasmMemory } from './wasm-types';

/** The columns one step of the product kernel computes: n must be a multiple. */
export const SIMD_COLUMNS = 8;

/** The product kernel packs B in blocks of this many rows (of the inner dimension) … */
const PACK_INNER = 256;
/** … by this many columns, so that a block stays in a core's L2 cache while every row of A passes over it. */
const PACK_COLUMNS = 384;
/** Floats of scratch a product kernel call packs B into: one such area per thread. */
export const PACK_FLOATS = PACK_INNER * PACK_COLUMNS;

/** Floats in a SIMD vector: LayerNorm's rows must hold a multiple. */
export const SIMD_LANES = 4;

/** mulberry32's state increment. */
const MULBERRY = 0x6d2b79f5;

/** A v128 constant of four equal floats. */
const f32x4 = (value: number): string => `(v128.const f32x4 ${value} ${value} ${value} ${value})`;

/**
 * An exported loop over `count` floats: four at a time, then the last count % 4 one by one through lane 0. Its
 * parameters are the `inputs`' addresses, $out, $count, then `params`; `value` makes the vector stored at $out from
 * the inputs' vectors, `advance` moves any state of its own by `lanes` elements.
 */
function elementLoop(name: string, inputs: string[], params: string, locals: string, setup: string,
  value: (vectors: string[]) => string, advance: (lanes: number) => string = () => ''): string {
  const pointers = [...inputs, 'out'];
  const step = (lanes: number) => [advance(lanes), ...pointers.map((p) => `(local.set $${p} (i32.add (local.get $${p}) (i32.const ${4 * lanes})))`)].join('\n      ');
  const stored = (lanes: number) => lanes === 4
    ? `(v128.store (local.get $out) ${value(inputs.map((p) => `(v128.load (local.get $${p}))`))})`
    : `(f32.store (local.get $out) (f32x4.extract_lane 0 ${value(inputs.map((p) => `(f32x4.splat (f32.load (local.get $${p})))`))}))`;
  const loop = (lanes: number) => `(block $done (loop $next
      (br_if $done (i32.ge_u (local.get $${inputs[0]}) (local.get $end)))
      ${stored(lanes)}
      ${step(lanes)}
      (br $next)))`;
  return `(func (export "${name}") ${pointers.map((p) => `(param $${p} i32)`).join(' ')} (param $count i32) ${params}
    (local $end i32) ${locals}
    ${setup}
    (local.set $end (i32.add (local.get $${inputs[0]}) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2))))
    ${loop(4)}
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $count) (i32.const 3)) (i32.const 2))))
    ${loop(1)})`;
}

/**
 * C's rows $i … $i + rows − 1 (4 or 1) over the packed block of B: per panel of 8 columns, the rows' accumulators
 * start at C (after the first block of the inner dimension), the bias or 0, gather the block's inner dimension in
 * registers with `multiplyAdd`, and are stored once.
 */
function panelBlock(rows: number, multiplyAdd: (accumulator: string, x: string, y: string) => string): string {
  const each = (line: (r: number) => string) => Array.from({ length: rows }, (_, r) => line(r)).join('\n          ');
  const rowA = (r: number) => (r === 0 ? '(local.get $pa)' : `(i32.add (local.get $pa) (local.get $row${r}))`);
  const rowC = (r: number) => (r === 0 ? '(local.get $pc)' : `(i32.add (local.get $pc) (i32.mul (local.get $rowC) (i32.const ${r})))`);
  return `(local.set $jj (i32.const 0))
      (local.set $pb (local.get $pack))
      (block $panelsDone (loop $panels
        (br_if $panelsDone (i32.ge_u (local.get $jj) (local.get $nc)))
        (local.set $pc (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (i32.add (local.get $j0) (local.get $jj))) (i32.const 2))))
        (if (local.get $p0)
          (then
            ${each((r) => `(local.set $c${r}0 (v128.load ${rowC(r)})) (local.set $c${r}1 (v128.load offset=16 ${rowC(r)}))`)})
          (else
            (if (local.get $bias)
              (then
                (local.set $c00 (v128.load (i32.add (local.get $bias) (i32.shl (i32.add (local.get $j0) (local.get $jj)) (i32.const 2)))))
                (local.set $c01 (v128.load offset=16 (i32.add (local.get $bias) (i32.shl (i32.add (local.get $j0) (local.get $jj)) (i32.const 2))))))
              (else (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))))
            ${each((r) => (r === 0 ? '' : `(local.set $c${r}0 (local.get $c00)) (local.set $c${r}1 (local.get $c01))`))}))
        (local.set $pa (i32.add (local.get $a) (i32.add (i32.mul (local.get $i) (local.get $rowStride)) (i32.mul (local.get $p0) (local.get $innerStride)))))
        (local.set $p (local.get $kc))
        (loop $inner
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          ${each((r) => `(local.set $x (v128.load32_splat ${rowA(r)}))
          (local.set $c${r}0 ${multiplyAdd(`(local.get $c${r}0)`, '(local.get $x)', '(local.get $b0)')})
          (local.set $c${r}1 ${multiplyAdd(`(local.get $c${r}1)`, '(local.get $x)', '(local.get $b1)')})`)}
          (local.set $pa (i32.add (local.get $pa) (local.get $innerStride)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
          (br_if $inner (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
        ${each((r) => `(v128.store ${rowC(r)} (local.get $c${r}0)) (v128.store offset=16 ${rowC(r)} (local.get $c${r}1))`)}
        (local.set $jj (i32.add (local.get $jj) (i32.const 8)))
        (br $panels)))`;
}

/** A loop over one row's bytes ($j from 0 to $bytes, a vector at a time) running `body`. */
const rowLoop = (body: string): string => `(local.set $j (i32.const 0))
    (block $rowDone (loop $row
      (br_if $rowDone (i32.ge_u (local.get $j) (local.get $bytes)))
      ${body}
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $row)))`;

/** (x − mean)·(1/σ) of the row's vector at $j. */
const NORMALISED = 'f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $input) (local.get $j))) (local.get $mean)) (local.get $inverseDeviation)';

/**
 * An exported LayerNorm kernel over $rows rows: per row, its input, mean and 1/σ, then `statistics` (more sums
 * over the row) and `element` (storing the vector at $j of out's row); `third` names the third input (beta or dy).
 */
function layerNormExport(name: string, third: string, locals: string, statistics: string, element: string): string {
  const advance = (pointer: string) => `(local.set $${pointer} (i32.add (local.get $${pointer}) (local.get $bytes)))`;
  return `(func (export "${name}") (param $x i32) (param $residual i32) (param $gamma i32) (param $${third} i32) (param $out i32)
                           (param $rows i32) (param $size i32) (param $epsilon f64)
    (local $bytes i32) (local $row i32) (local $j i32) (local $input i32) (local $mean v128) (local $inverseDeviation v128) ${locals}
    (local.set $bytes (i32.shl (local.get $size) (i32.const 2)))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $input (call $rowInput (local.get $x) (local.get $residual) (local.get $out) (local.get $bytes)))
      (local.set $mean (call $rowMean (local.get $input) (local.get $bytes)))
      (local.set $inverseDeviation (call $rowInverseDeviation (local.get $input) (local.get $bytes) (local.get $mean) (local.get $epsilon)))
      ${statistics}
      ${rowLoop(element)}
      ${advance('x')}
      (if (local.get $residual) (then ${advance('residual')}))
      ${third === 'dy' ? advance('dy') : ''}
      ${advance('out')}
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows))))`;
}

/** a + x·y in four lanes: one fused multiply-add where relaxed SIMD is there, else a product and a sum. */
const multiplyAddWith = (fused: boolean) => (accumulator: string, x: string, y: string): string =>
  (fused ? `(f32x4.relaxed_madd ${x} ${y} ${accumulator})` : `(f32x4.add ${accumulator} (f32x4.mul ${x} ${y}))`);

// Φ(x) through erf(x/√2) by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7) and exp(x) for x ≤ 0 by range
// reduction and a degree-6 polynomial: the native add-on's formulas (src/backend/native), four lanes at a time.
const WAT = (shared: boolean, multiplyAdd: ReturnType<typeof multiplyAddWith>) => `(module
  (import "env" "memory" (memory 1 ${shared ? '65536 shared' : ''}))

  ;; exp(x) for x <= 0; 0 below -87.
  (func $expNonpositive (param $x v128) (result v128)
    (local $clamped v128) (local $shifted v128) (local $k v128) (local $r v128) (local $p v128)
    (local.set $clamped (f32x4.max (local.get $x) ${f32x4(-87)}))
    (local.set $shifted (f32x4.add (f32x4.mul (local.get $clamped) ${f32x4(1.44269504)}) ${f32x4(12582912)}))
    (local.set $k (f32x4.sub (local.get $shifted) ${f32x4(12582912)}))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $clamped) (f32x4.mul (local.get $k) ${f32x4(0.693145752)}))
                              (f32x4.mul (local.get $k) ${f32x4(1.42860677e-6)})))
    (local.set $p ${f32x4(0.00138888892)})
    ${[0.00833333377, 0.0416666679, 0.166666672, 0.5, 1, 1]
      .map((c) => `(local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) ${f32x4(c)}))`).join('\n    ')}
    ;; 2^k from k's bits in the shifted sum
    (v128.and
      (f32x4.mul (local.get $p) (i32x4.shl (i32x4.add (i32x4.sub (local.get $shifted) (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000))
                                                      (v128.const i32x4 127 127 127 127)) (i32.const 23)))
      (f32x4.ge (local.get $x) ${f32x4(-87)})))

  ;; Φ(x), given e = exp(-x²/2).
  (func $normalCdf (param $x v128) (param $e v128) (result v128)
    (local $t v128) (local $poly v128)
    (local.set $t (f32x4.div ${f32x4(1)} (f32x4.add ${f32x4(1)} (f32x4.mul (f32x4.abs (local.get $x)) ${f32x4(0.3275911 * Math.SQRT1_2)}))))
    (local.set $poly ${f32x4(1.061405429)})
    ${[-1.453152027, 1.421413741, -0.284496736, 0.254829592]
      .map((c) => `(local.set $poly (f32x4.add (f32x4.mul (local.get $poly) (local.get $t)) ${f32x4(c)}))`).join('\n    ')}
    (local.set $poly (f32x4.mul (local.get $poly) (local.get $t)))
    ;; 0.5·(1 + sign(x)·(1 - poly·e)); 1 - poly·e >= 0, so the sign is x's sign bit
    (f32x4.mul ${f32x4(0.5)} (f32x4.add ${f32x4(1)}
      (v128.or (f32x4.sub ${f32x4(1)} (f32x4.mul (local.get $poly) (local.get $e)))
               (v128.and (local.get $x) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))))

  (func $geluOf (param $x v128) (result v128)
    (f32x4.mul (local.get $x)
      (call $normalCdf (local.get $x) (call $expNonpositive (f32x4.mul (f32x4.mul (local.get $x) (local.get $x)) ${f32x4(-0.5)})))))

  (func $geluGradOf (param $x v128) (param $dy v128) (result v128)
    (local $e v128)
    (local.set $e (call $expNonpositive (f32x4.mul (f32x4.mul (local.get $x) (local.get $x)) ${f32x4(-0.5)})))
    (f32x4.mul (local.get $dy) (f32x4.add (call $normalCdf (local.get $x) (local.get $e))
                                          (f32x4.mul (f32x4.mul (local.get $x) ${f32x4(0.398942280)}) (local.get $e)))))

  ;; mulberry32's draws for the generator states s, kept (x·scale) or dropped (0).
  (func $dropped (param $x v128) (param $s v128) (param $lastKept v128) (param $scale v128) (result v128)
    (local $t v128)
    (local.set $t (i32x4.mul (v128.xor (local.get $s) (i32x4.shr_u (local.get $s) (i32.const 15)))
                             (v128.or (local.get $s) (v128.const i32x4 1 1 1 1))))
    (local.set $t (v128.xor (local.get $t)
      (i32x4.add (local.get $t) (i32x4.mul (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 7)))
                                            (v128.or (local.get $t) (v128.const i32x4 61 61 61 61))))))
    (v128.and (f32x4.mul (local.get $x) (local.get $scale))
              (i32x4.le_u (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 14))) (local.get $lastKept))))

  ;; Element i (of the tensor) draws from state seed + (i + 1)·${MULBERRY}.
  ${elementLoop('dropout', ['x'], '(param $first i32) (param $seed i32) (param $lastKept i32) (param $scale f32)',
    '(local $state v128) (local $kept v128) (local $scales v128)',
    `(local.set $kept (i32x4.splat (local.get $lastKept)))
    (local.set $scales (f32x4.splat (local.get $scale)))
    (local.set $state (i32x4.add (i32x4.splat (i32.add (local.get $seed) (i32.mul (i32.add (local.get $first) (i32.const 1)) (i32.const ${MULBERRY}))))
                                 (v128.const i32x4 ${[0, 1, 2, 3].map((lane) => Math.imul(lane, MULBERRY) >>> 0).join(' ')})))`,
    ([x]) => `(call $dropped ${x} (local.get $state) (local.get $kept) (local.get $scales))`,
    (lanes) => `(local.set $state (i32x4.add (local.get $state) (v128.const i32x4 ${Array(4).fill(Math.imul(lanes, MULBERRY) >>> 0).join(' ')})))`)}

  ${elementLoop('gelu', ['x'], '', '', '', ([x]) => `(call $geluOf ${x})`)}

  ${elementLoop('geluGrad', ['x', 'dy'], '', '', '', ([x, dy]) => `(call $geluGradOf ${x} ${dy})`)}

  ;; LayerNorm, row by row: the row (x, or x + residual written into out's row), its mean and 1/sqrt(variance +
  ;; epsilon) in two passes summed in four float lanes and combined in float64 (as the native add-on does), then the
  ;; result. Rows are whole vectors; $residual is 0 for none.

  ;; The mean over a row of $bytes of the sums in four lanes, in float64.
  (func $rowAverage (param $v v128) (param $bytes i32) (result f64)
    (f64.div
      (f64.add (f64.add (f64.promote_f32 (f32x4.extract_lane 0 (local.get $v))) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $v))))
               (f64.add (f64.promote_f32 (f32x4.extract_lane 2 (local.get $v))) (f64.promote_f32 (f32x4.extract_lane 3 (local.get $v)))))
      (f64.convert_i32_u (i32.shr_u (local.get $bytes) (i32.const 2)))))

  (func $rowInput (param $x i32) (param $residual i32) (param $out i32) (param $bytes i32) (result i32)
    (local $j i32)
    (if (i32.eqz (local.get $residual)) (then (return (local.get $x))))
    ${rowLoop(`(v128.store (i32.add (local.get $out) (local.get $j))
        (f32x4.add (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $residual) (local.get $j)))))`)}
    (local.get $out))

  (func $rowMean (param $input i32) (param $bytes i32) (result v128)
    (local $j i32) (local $lanes v128)
    ${rowLoop('(local.set $lanes (f32x4.add (local.get $lanes) (v128.load (i32.add (local.get $input) (local.get $j)))))')}
    (f32x4.splat (f32.demote_f64 (call $rowAverage (local.get $lanes) (local.get $bytes)))))

  (func $rowInverseDeviation (param $input i32) (param $bytes i32) (param $mean v128) (param $epsilon f64) (result v128)
    (local $j i32) (local $lanes v128) (local $centred v128)
    ${rowLoop(`(local.set $centred (f32x4.sub (v128.load (i32.add (local.get $input) (local.get $j))) (local.get $mean)))
      (local.set $lanes (f32x4.add (local.get $lanes) (f32x4.mul (local.get $centred) (local.get $centred))))`)}
    (f32x4.splat (f32.demote_f64 (f64.div (f64.const 1) (f64.sqrt (f64.add
      (call $rowAverage (local.get $lanes) (local.get $bytes))
      (local.get $epsilon)))))))

  ${layerNormExport('layerNorm', 'beta', '', '',
    `(v128.store (i32.add (local.get $out) (local.get $j))
        (f32x4.add (f32x4.mul (${NORMALISED}) (v128.load (i32.add (local.get $gamma) (local.get $j)))) (v128.load (i32.add (local.get $beta) (local.get $j)))))`)}

  ;; dL/dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·gamma.
  ${layerNormExport('layerNormGrad', 'dy', '(local $sumG v128) (local $sumGX v128) (local $g v128) (local $meanG v128) (local $meanGX v128)',
    `(local.set $sumG (v128.const i32x4 0 0 0 0))
      (local.set $sumGX (v128.const i32x4 0 0 0 0))
      ${rowLoop(`(local.set $g (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (i32.add (local.get $gamma) (local.get $j)))))
        (local.set $sumG (f32x4.add (local.get $sumG) (local.get $g)))
        (local.set $sumGX (f32x4.add (local.get $sumGX) (f32x4.mul (local.get $g) (${NORMALISED}))))`)}
      (local.set $meanG (f32x4.splat (f32.demote_f64 (call $rowAverage (local.get $sumG) (local.get $bytes)))))
      (local.set $meanGX (f32x4.splat (f32.demote_f64 (call $rowAverage (local.get $sumGX) (local.get $bytes)))))`,
    `(v128.store (i32.add (local.get $out) (local.get $j))
        (f32x4.mul (local.get $inverseDeviation) (f32x4.sub
          (f32x4.sub (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (i32.add (local.get $gamma) (local.get $j)))) (local.get $meanG))
          (f32x4.mul (${NORMALISED}) (local.get $meanGX)))))`)}

  ;; A block of B (PACK_INNER rows of the inner dimension × PACK_COLUMNS columns) at a time is packed as panels of 8
  ;; columns, each panel's rows contiguous, then every block of 4 rows of A (then the rows left one by one) passes
  ;; over the panels with 4 × 8 accumulators in registers. A block of B is read from memory once per call, not once
  ;; per rows of A.
  (func (export "matMul") (param $a i32) (param $b i32) (param $c i32) (param $rows i32) (param $n i32) (param $k i32)
                          (param $rowStride i32) (param $innerStride i32) (param $bRowStride i32) (param $bColumnStride i32)
                          (param $bias i32) (param $pack i32)
    (local $p0 i32) (local $kc i32) (local $j0 i32) (local $nc i32) (local $i i32) (local $jj i32) (local $p i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $rowC i32) (local $row1 i32) (local $row2 i32) (local $row3 i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $rowC (i32.shl (local.get $n) (i32.const 2)))
    (local.set $row1 (local.get $rowStride))
    (local.set $row2 (i32.shl (local.get $rowStride) (i32.const 1)))
    (local.set $row3 (i32.add (local.get $row2) (local.get $rowStride)))
    (block $innerDone (loop $innerBlocks
      (br_if $innerDone (i32.ge_u (local.get $p0) (local.get $k)))
      (local.set $kc (call $blockSize (i32.sub (local.get $k) (local.get $p0)) (i32.const ${PACK_INNER})))
      (local.set $j0 (i32.const 0))
      (block $columnsDone (loop $columnBlocks
        (br_if $columnsDone (i32.ge_u (local.get $j0) (local.get $n)))
        (local.set $nc (call $blockSize (i32.sub (local.get $n) (local.get $j0)) (i32.const ${PACK_COLUMNS})))
        (call $packPanels (i32.add (local.get $b) (i32.add (i32.mul (local.get $p0) (local.get $bRowStride)) (i32.mul (local.get $j0) (local.get $bColumnStride))))
          (local.get $bRowStride) (local.get $bColumnStride) (local.get $kc) (local.get $nc) (local.get $pack))
        (local.set $i (i32.const 0))
        (block $blocksDone (loop $blocks
          (br_if $blocksDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $rows)))
          ${panelBlock(4, multiplyAdd)}
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $blocks)))
        (block $rowsDone (loop $rowsLeft
          (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
          ${panelBlock(1, multiplyAdd)}
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $rowsLeft)))
        (local.set $j0 (i32.add (local.get $j0) (i32.const ${PACK_COLUMNS})))
        (br $columnBlocks)))
      (local.set $p0 (i32.add (local.get $p0) (i32.const ${PACK_INNER})))
      (br $innerBlocks))))

  (func $blockSize (param $left i32) (param $most i32) (result i32)
    (select (local.get $left) (local.get $most) (i32.lt_u (local.get $left) (local.get $most))))

  ;; B's block of $kc rows × $nc columns from $from (strides in bytes) to $to as panels of 8 columns, kc×8 each.
  (func $packPanels (param $from i32) (param $rowStride i32) (param $columnStride i32) (param $kc i32) (param $nc i32) (param $to i32)
    (local $jj i32) (local $p i32) (local $source i32)
    (block $done (loop $panels
      (br_if $done (i32.ge_u (local.get $jj) (local.get $nc)))
      (local.set $source (i32.add (local.get $from) (i32.mul (local.get $jj) (local.get $columnStride))))
      (local.set $p (local.get $kc))
      (loop $rows
        (if (i32.eq (local.get $columnStride) (i32.const 4))
          (then
            (v128.store (local.get $to) (v128.load (local.get $source)))
            (v128.store offset=16 (local.get $to) (v128.load offset=16 (local.get $source))))
          (else
            ${Array.from({ length: SIMD_COLUMNS }, (_, column) => `(f32.store offset=${4 * column} (local.get $to) (f32.load (i32.add (local.get $source) (i32.mul (local.get $columnStride) (i32.const ${column})))))`).join('\n            ')}))
        (local.set $source (i32.add (local.get $source) (local.get $rowStride)))
        (local.set $to (i32.add (local.get $to) (i32.const 32)))
        (br_if $rows (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
      (local.set $jj (i32.add (local.get $jj) (i32.const 8)))
      (br $panels))))
)`;

interface Wabt {
  parseWat(filename: string, text: string, features?: { relaxed_simd?: boolean }): { toBinary(options: object): { buffer: Uint8Array }; destroy(): void };
}

// The parts of the WebAssembly API used here: TypeScript's ES2022 library and @types/node leave it out.
const { Module, Instance, validate } = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => SimdModule;
    Instance: new (module: SimdModule, imports: { env: { memory: WasmMemory } }) => { exports: unknown };
    validate(this: void, bytes: Uint8Array): boolean;
  };
}).WebAssembly;

/** Environment variable: `0` keeps the product kernel off relaxed SIMD's fused multiply-add. */
export const WASM_FMA_ENV = 'ADAPTERFUSION_WASM_FMA';

const loadWabt = (): Promise<Wabt> => (require('wabt') as () => Promise<Wabt>)();
let relaxedSimd: Promise<boolean> | undefined;

/**
 * Whether the product kernel multiplies and adds in one instruction: WebAssembly's relaxed SIMD, which Node 22 compiles
 * as it is and Node 20's V8 behind a flag, set here (before any module uses it) when a probe does not compile
 * without it. Off with `ADAPTERFUSION_WASM_FMA=0`.
 */
export function fusedMultiplyAdd(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (env[WASM_FMA_ENV] === '0') return Promise.resolve(false);
  relaxedSimd ??= (async () => {
    const probe = (await loadWabt()).parseWat('probe.wat', '(module (func (param v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 0) (local.get 0))))', { relaxed_simd: true });
    const bytes = probe.toBinary({}).buffer;
    probe.destroy();
    if (validate(bytes)) return true;
    (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
    return validate(bytes);
  })();
  return relaxedSimd;
}

const compiled = new Map<string, Promise<SimdModule>>();

/**
 * The kernels' module for a shared memory (the threaded build's) or not, with the product's multiply-adds fused
 * where `fusedMultiplyAdd` says so; assembled once per process.
 */
export function compileSimdKernels(shared: boolean, env: NodeJS.ProcessEnv = process.env): Promise<SimdModule> {
  return fusedMultiplyAdd(env).then((fused) => {
    const key = `${shared} ${fused}`;
    let module = compiled.get(key);
    if (!module) {
      module = loadWabt().then((wabt) => {
        const parsed = wabt.parseWat('simd-kernels.wat', WAT(shared, multiplyAddWith(fused)), { relaxed_simd: fused });
        try {
          return new Module(parsed.toBinary({}).buffer);
        } finally {
          parsed.destroy();
        }
      });
      compiled.set(key, module);
    }
    return module;
  });
}

/** The kernels on `memory` (the backend's `WebAssembly.Memory`, which the module imports). */
export function instantiateSimdKernels(module: SimdModule, memory: WasmMemory): SimdExports {
  return new Instance(module, { env: { memory } }).exports as SimdExports;
}

import * as tf from '@tensorflow/tfjs-core';
import type { Sublayer } from '../backbone/sublayer-hook';
import type { AdapterConfig } from './adapter-config';

/** What goes into the adapter modules at one sublayer, and what comes around them. */
export interface AdapterInputs {
  /** The bottleneck's input `a`. (B, T, D) */
  input: tf.Tensor3D;
  /** The residual `r` added to the bottleneck output. (B, T, D) */
  residual: tf.Tensor3D;
  /** The fusion query: `h` when `queryBeforeLn`, else the bottleneck input. (B, T, D) */
  query: tf.Tensor3D;
}

/**
 * AdapterHub's `pre_forward`: from the sublayer output `h` and its input `x`, the bottleneck input, the residual and
 * the fusion query, as the adapter configuration wires them. With `originalLnBefore` the input is `LN(h + x)`
 * (else `h`); the residual is `h` (`residualBeforeLn: true`), `h + x` (`post_add`) or the input itself (`false`).
 * A parallel adapter (`isParallel`) reads `x` and has the residual `h`.
 * Call inside `tf.tidy`.
 *
 * @example
 * const { input, residual } = adapterInputs(adapter.config, sublayer);
 * const output = adapterOutput(adapter.config, sublayer, adapter.project(sublayer.layer, sublayer.location, input), residual);
 */
export function adapterInputs(config: AdapterConfig, sublayer: Sublayer, options: { queryBeforeLn?: boolean } = {}): AdapterInputs {
  const { h, x } = sublayer;
  // A parallel adapter reads the sublayer's input; its output joins the sublayer output (AdapterHub `ParallelAdapter`).
  if (config.isParallel) return { input: x, residual: h, query: x };
  let input = h; // (B, T, D)
  let residual = h; // (B, T, D)
  if (config.originalLnBefore && config.residualBeforeLn === 'post_add') {
    residual = tf.add<tf.Tensor3D>(h, x); // (B, T, D)
    input = sublayer.layerNorm(residual); // (B, T, D)
  } else if (config.originalLnBefore) {
    input = sublayer.layerNorm(h, x); // LN(h + x), (B, T, D)
  }
  if (config.residualBeforeLn === false) residual = input;
  return { input, residual, query: options.queryBeforeLn ? h : input };
}

/**
 * AdapterHub's residual add and `post_forward`: `hidden + residual` (when a residual is given: fusion with
 * `residual_before` has added it already), then, with `originalLnAfter`, the pretrained `LN(· + x)`. Call inside
 * `tf.tidy`.
 *
 * @example
 * const output = adapterOutput(config, sublayer, up, residual); // LN(up + r + x) for seq_bn
 */
export function adapterOutput(config: AdapterConfig, sublayer: Sublayer, hidden: tf.Tensor3D, residual?: tf.Tensor3D): tf.Tensor3D {
  const withResidual = residual ? tf.add<tf.Tensor3D>(hidden, residual) : hidden; // (B, T, D)
  // AdapterHub returns the adapter output alone when original_ln_after is off; the residual stream then flows only
  // through `residual` (post_add) — reproduced as it is.
  return config.originalLnAfter ? sublayer.layerNorm(withResidual, sublayer.x) : withResidual; // LN(· + x), (B, T, D)
}

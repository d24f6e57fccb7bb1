import type * as tf from '@tensorflow/tfjs-core';

/**
 * Where adapters and fusion attach, named as the reference names them: `mh_adapter` after the self-attention output
 * projection, `output_adapter` after the feed-forward output projection.
 */
export type SublayerLocation = 'mh_adapter' | 'output_adapter';

/** One insertion point during a forward pass: everything an adapter or fusion layer needs there. */
export interface Sublayer {
  /** 0-based transformer layer index. */
  readonly layer: number;
  readonly location: SublayerLocation;
  /** The sublayer's output after its output projection and dropout, before the residual. (B, T, D) */
  readonly h: tf.Tensor3D;
  /** The sublayer's input: the residual stream. (B, T, D) */
  readonly x: tf.Tensor3D;
  /** The sublayer's pretrained (frozen) LayerNorm, of `input + residual` when a residual is given (one pass, no sum kept). */
  layerNorm(input: tf.Tensor3D, residual?: tf.Tensor3D): tf.Tensor3D;
  /** 1 on real tokens, 0 on padding. (B, T) */
  readonly attentionMask: tf.Tensor2D;
  /** Dropout is active only when true. */
  readonly training: boolean;
  /**
   * A seed for dropout inside the hook: the next draw of the forward pass's generator when the pass is seeded
   * (`dropoutSeed`), so a training step is repeatable; undefined otherwise (dropout then draws its own). Call it only
   * when dropout runs: each call advances the generator the backbone's own dropout draws from.
   */
  nextDropoutSeed(): number | undefined;
}

/** An encoder Linear layer a delta module can wrap (AdapterHub LoRA's `attn_matrices` q, k, v, `intermediate`, `output`). */
export type ProjectionName = 'query' | 'key' | 'value' | 'intermediate' | 'output';

/** One wrapped Linear layer during a forward pass. */
export interface Projection {
  /** 0-based transformer layer index. */
  readonly layer: number;
  readonly name: ProjectionName;
  /** The Linear layer's input. (B, T, in) */
  readonly x: tf.Tensor3D;
  /** Its pretrained output `x·W + b`. (B, T, out) */
  readonly y: tf.Tensor3D;
  /** Dropout is active only when true. */
  readonly training: boolean;
  /** As `Sublayer.nextDropoutSeed`. */
  nextDropoutSeed(): number | undefined;
}

/**
 * Computes a sublayer's final output in place of the default `layerNorm(h + x)`; returning undefined keeps the default.
 * Hooks are pure functions of their inputs and weights.
 */
export type SublayerHook = ((sublayer: Sublayer) => tf.Tensor3D | undefined) & {
  /** True when the hook reads every position of a sublayer (an adapter gate averages over them): no `firstTokenOnly`. */
  readonly needsEveryPosition?: boolean;
  /** Replaces a wrapped Linear layer's output (a LoRA adds its delta); returning undefined keeps `y`. */
  readonly projection?: (projection: Projection) => tf.Tensor3D | undefined;
};

import * as tf from '@tensorflow/tfjs-core';
import { dropout, linear, normalInit, WeightStore, zerosInit, type WeightDefinition } from '../src/index';
import type { FusionOptions } from './fusion-options';

/** Weight of the value regularization 0.01 · ‖I − W_V‖² (AdapterHub `get_fusion_regularization_loss`). */
export const FUSION_REGULARIZATION_WEIGHT = 0.01;

/** Arguments of one fusion layer. */
export interface FusionLayerArgs {
  /** Hidden size D of the backbone. */
  hiddenSize: number;
  settings: FusionOptions;
  /** Dropout on the attention scores while training: `settings.dropoutProb`, or the backbone's attention dropout. */
  dropoutRate: number;
  /** Seeds the N(0, 0.02) initialisation of W_Q, W_K (and W_V when it does not start at the identity). */
  seed: number;
}

/** What a fusion layer attends over at one sublayer. */
export interface FusionInputs {
  /** The query source: the adapters' input, or h when `queryBeforeLn`. (B, T, D) */
  query: tf.Tensor3D;
  /** The N adapters' up-projections z_n, scaled, without residual. (B, T, N, D) */
  adapterOutputs: tf.Tensor4D;
  /** The adapter residual r. (B, T, D) */
  residual: tf.Tensor3D;
}

/** The inputs a caller chooses per call; the layer keeps no state between calls. */
export interface FusionCallOptions {
  /** Softmax temperature T (1 unless the temperature schedule is on). */
  temperature: number;
  /** Dropout on the scores is active only when true. */
  training: boolean;
  /** Seeds the dropout mask so a training step is repeatable (Math.random without it). */
  dropoutSeed?: number;
  /**
   * Per adapter, 1 keeps it and 0 removes it: removed adapters get weight 0 and the others' weights are renormalised
   * to sum to 1 (a mask with one 1 forces that adapter). Length N, at least one 1.
   */
  adapterMask?: readonly number[];
}

/** The result of one fusion call. */
export interface FusionOutput {
  /** Σ_n P_n·V_n, plus the residual unless `residualBefore`; the caller applies the adapters' post-processing. (B, T, D) */
  context: tf.Tensor3D;
  /** Attention weights over the adapters, summing to 1 per token. (B, T, N) */
  probabilities: tf.Tensor3D;
}

/**
 * One AdapterFusion layer (Pfeiffer et al. 2021, AdapterHub `BertFusion`) at one sublayer: attention of each token over
 * the outputs of N frozen adapters, with the query from the sublayer, keys and values from the adapters. Scores are
 * Q·K over D per adapter, without 1/sqrt(D) and without a padding mask, as in the reference.
 *
 * The layer is pure: temperature, training flag and adapter mask are arguments of `apply`, which returns plain tensors.
 *
 * @example
 * const layer = new FusionLayer({ hiddenSize: 32, settings: new FusionOptions(), dropoutRate: 0.1, seed: 1 });
 * const { context, probabilities } = layer.apply({ query, adapterOutputs, residual }, { temperature: 1, training: false });
 */
export class FusionLayer {
  /** Trainable weights under AdapterHub's suffixes: `query.weight`, `query.bias`, `key.weight`, `key.bias`, `value.weight`. */
  readonly weights: WeightStore;
  readonly settings: FusionOptions;
  private readonly dropoutRate: number;

  constructor(args: FusionLayerArgs) {
    const { hiddenSize: d, settings, seed } = args;
    this.settings = settings;
    this.dropoutRate = args.dropoutRate;
    const definitions = new Map<string, WeightDefinition>();
    const kernel = (offset: number): WeightDefinition => ({ shape: [d, d], init: normalInit(0.02, seed + offset), kernel: true });
    const bias: WeightDefinition = { shape: [d], init: zerosInit };
    if (settings.query) definitions.set('query.weight', kernel(0)).set('query.bias', bias);
    if (settings.key) definitions.set('key.weight', kernel(1)).set('key.bias', bias);
    if (settings.value) {
      // Identity with 1e-6 off the diagonal, as AdapterHub initialises it: fusion starts as a plain weighted average.
      const identity = () => tf.add(tf.mul(tf.eye(d), 1 - 1e-6), 1e-6); // (D, D)
      definitions.set('value.weight', settings.valueInitialized ? { shape: [d, d], init: identity, kernel: true } : kernel(2));
    }
    this.weights = WeightStore.create('fusion layer', definitions);
  }

  private weight(name: string): tf.Variable {
    return this.weights.variable(name);
  }

  /**
   * Attention over the adapters; see `FusionOutput`.
   *
   * Computed in an order that costs three D×D products per token whatever the number of adapters N, where the
   * reference's order costs 2N + 1, with the same result up to float rounding: the score of adapter n,
   * q·(z_n·W_K + b_K), is (q·W_Kᵀ)·z_n + q·b_K, and since W_V has no bias, Σ_n p_n·(z_n·W_V) is (Σ_n p_n·z_n)·W_V
   * (so `valueBeforeSoftmax` does not change the function, only the reference's cost).
   */
  apply(inputs: FusionInputs, options: FusionCallOptions): FusionOutput {
    return tf.tidy(() => {
      const { settings } = this;
      const [b, t, n, d] = inputs.adapterOutputs.shape;
      const rows = b * t;
      let z: tf.Tensor = inputs.adapterOutputs; // (B, T, N, D)
      if (settings.residualBefore) z = tf.add(z, tf.expandDims(inputs.residual, 2)); // (B, T, N, D)
      const adapters = tf.reshape(z, [rows, n, d]); // (BT, N, D)
      const query = tf.reshape(settings.query ? linear(inputs.query, this.weight('query.weight') as tf.Tensor2D, this.weight('query.bias') as tf.Tensor1D) : inputs.query, [rows, d]); // (BT, D)

      let scores: tf.Tensor; // (BT, 1, N)
      if (settings.key) {
        const queryKey = tf.matMul(query, this.weight('key.weight'), false, true); // q·W_Kᵀ (BT, D)
        const queryBias = tf.matMul(query, tf.reshape(this.weight('key.bias'), [d, 1])); // q·b_K, the same for every adapter (BT, 1)
        scores = tf.add(tf.matMul(tf.reshape(queryKey, [rows, 1, d]), adapters, false, true), tf.reshape(queryBias, [rows, 1, 1]));
      } else {
        scores = tf.matMul(tf.reshape(query, [rows, 1, d]), adapters, false, true);
      }
      if (options.training && this.dropoutRate > 0) scores = dropout(scores, this.dropoutRate, options.dropoutSeed);
      if (options.adapterMask) scores = tf.add(scores, logMask(options.adapterMask, n)); // (BT, 1, N)
      const probabilities = tf.softmax(tf.div(scores, options.temperature)); // (BT, 1, N)

      let context: tf.Tensor = tf.reshape(tf.matMul(probabilities, adapters), [b, t, d]); // Σ_n p_n·z_n (B, T, D)
      if (settings.value) context = linear(context, this.weight('value.weight') as tf.Tensor2D); // (B, T, D)
      if (!settings.residualBefore) context = tf.add(context, inputs.residual); // (B, T, D)
      return { context: context as tf.Tensor3D, probabilities: tf.reshape<tf.Rank.R3>(probabilities, [b, t, n]) };
    });
  }

  /** ‖I − W_V‖²_F (sum of squares), without the 0.01 weight; zero when the layer has no value matrix. */
  regularizationLoss(): tf.Scalar {
    return tf.tidy(() => {
      const value = this.weights.get('value.weight');
      if (!value) return tf.scalar(0);
      return tf.sum(tf.square(tf.sub(tf.eye(value.shape[0] ?? 0), value)));
    });
  }

  /** Number of trainable values. */
  parameterCount(): number {
    return this.weights.parameterCount();
  }

  dispose(): void {
    this.weights.dispose();
  }
}

/**
 * log(mask): 0 for kept adapters, -∞ for removed ones. Added to the scores it gives removed adapters exactly weight 0
 * and the kept ones the softmax over themselves, i.e. their weights renormalised.
 */
function logMask(mask: readonly number[], n: number): tf.Tensor1D {
  if (mask.length !== n || !mask.includes(1) || mask.some((keep) => keep !== 0 && keep !== 1)) {
    throw new Error(`adapter mask: expected ${n} entries of 0 or 1 with at least one 1, got [${mask.join(', ')}]`);
  }
  return tf.tensor1d(mask.map((keep) => (keep === 1 ? 0 : -Infinity))); // (N)
}

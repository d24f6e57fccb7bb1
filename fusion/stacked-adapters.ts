import * as tf from '@tensorflow/tfjs-core';

/** One frozen bottleneck adapter module at one sublayer, as the stack needs it. */
export interface BottleneckModule {
  /** Down-projection W_down. (D, m) */
  down: tf.Tensor;
  /** (m) */
  downBias: tf.Tensor;
  /** Up-projection W_up. (m, D) */
  up: tf.Tensor;
  /** (D) */
  upBias: tf.Tensor;
  /** The adapter's non-linearity f, and its name (adapters with the same name share one call). */
  nonLinearity: string;
  activate: (x: tf.Tensor) => tf.Tensor;
  /** Output scaling of the adapter. */
  scaling: number;
}

/**
 * The N frozen adapters of one sublayer as a single batched computation: z_n = scaling_n·(f_n(a·W_down,n + b_down,n)·W_up,n
 * + b_up,n) for every n at once. Weights are copied into stacked tensors once, when the fusion is set up; adapters with
 * smaller bottlenecks are zero-padded to the largest m, which is exact because the padded rows of W_up are zero.
 *
 * @example
 * const stack = new StackedAdapters(adapters.map((a) => ({ ...a.moduleWeights(0, 'output_adapter'), nonLinearity: 'relu', activate: tf.relu, scaling: 1 })));
 * const z = stack.project(input); // (B, T, N, D)
 */
export class StackedAdapters {
  readonly count: number;
  /** Every W_down side by side, so the down-projection is one matMul. (D, N·M) */
  private readonly down: tf.Tensor2D;
  /** (N·M) */
  private readonly downBias: tf.Tensor1D;
  /** scaling_n·W_up,n. (N, M, D) */
  private readonly up: tf.Tensor3D;
  /** scaling_n·b_up,n. (N, 1, D) */
  private readonly upBias: tf.Tensor3D;
  /** Runs of consecutive adapters sharing a non-linearity, in order. */
  private readonly activationRuns: { count: number; activate: (x: tf.Tensor) => tf.Tensor }[];
  private readonly bottleneck: number;

  constructor(modules: readonly BottleneckModule[]) {
    if (modules.length === 0) throw new Error('StackedAdapters: expected at least one adapter module, got none');
    this.count = modules.length;
    const m = Math.max(...modules.map((module) => module.down.shape[1] as number));
    this.bottleneck = m;
    const padColumns = (x: tf.Tensor, width: number) => tf.pad(x, [[0, 0], [0, m - width]]);
    [this.down, this.downBias, this.up, this.upBias] = tf.tidy(() => {
      const downs = modules.map((module) => padColumns(module.down, module.down.shape[1] as number)); // N × (D, M)
      const downBiases = modules.map((module) => tf.pad(module.downBias, [[0, m - (module.downBias.shape[0] ?? 0)]])); // N × (M)
      const ups = modules.map((module) => tf.mul(tf.pad(module.up, [[0, m - (module.up.shape[0] ?? 0)], [0, 0]]), module.scaling)); // N × (M, D)
      const upBiases = modules.map((module) => tf.mul(tf.reshape(module.upBias, [1, -1]), module.scaling)); // N × (1, D)
      return [tf.concat(downs, 1) as tf.Tensor2D, tf.concat(downBiases) as tf.Tensor1D, tf.stack(ups) as tf.Tensor3D, tf.stack(upBiases) as tf.Tensor3D];
    });
    this.activationRuns = [];
    modules.forEach((module, i) => {
      const last = this.activationRuns[this.activationRuns.length - 1];
      if (last && modules[i - 1]?.nonLinearity === module.nonLinearity) last.count++;
      else this.activationRuns.push({ count: 1, activate: module.activate });
    });
  }

  /** The adapters' up-projections of one input. input (B, T, D) → (B, T, N, D) */
  project(input: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, t, d] = input.shape;
      const n = this.count;
      const m = this.bottleneck;
      const down = tf.add(tf.matMul(tf.reshape(input, [b * t, d]), this.down), this.downBias); // (BT, N·M)
      const activated = this.activate(down as tf.Tensor2D); // (BT, N·M)
      const perAdapter = tf.transpose(tf.reshape(activated, [b * t, n, m]), [1, 0, 2]); // (N, BT, M)
      const up = tf.add(tf.matMul(perAdapter, this.up), this.upBias); // (N, BT, D)
      return tf.reshape<tf.Rank.R4>(tf.transpose(up, [1, 0, 2]), [b, t, n, d]); // (B, T, N, D)
    });
  }

  private activate(down: tf.Tensor2D): tf.Tensor {
    const [only] = this.activationRuns;
    if (only && this.activationRuns.length === 1) return only.activate(down); // (BT, N·M)
    const parts = tf.split(down, this.activationRuns.map((run) => run.count * this.bottleneck), 1);
    return tf.concat(parts.map((part, i) => (this.activationRuns[i] as (typeof this.activationRuns)[number]).activate(part)), 1); // (BT, N·M)
  }

  dispose(): void {
    tf.dispose([this.down, this.downBias, this.up, this.upBias]);
  }
}

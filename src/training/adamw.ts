import * as tf from '@tensorflow/tfjs-core';
import { SafetensorsError, writeSafetensors } from '../io/safetensors';
import { assignSnapshot, readSnapshot, snapshotTensors } from './tensor-snapshot';
import type { TrainingConfig } from './training-config';

/**
 * Whether a tensor gets weight decay, as Hugging Face `Trainer.get_decay_parameter_names` decides: every tensor except
 * biases and LayerNorm parameters.
 *
 * @example
 * isDecayed('heads.rte.1.weight'); // true
 * isDecayed('encoder.layer.0.output.LayerNorm.weight'); // false
 */
export function isDecayed(name: string): boolean {
  return !/bias|LayerNorm|layer_norm|\.ln/.test(name);
}

/** Kernel of one AdamW update in one pass (wasm and cpu with the native add-on): outputs the variable and both moments. */
export const ADAMW_KERNEL = 'AdapterFusionAdamW';

/** Attributes of `ADAMW_KERNEL`: `p·decay − stepSize·m/(√v/secondCorrection + ε)` with the updated moments. */
export interface AdamWAttrs {
  decay: number;
  beta1: number;
  beta2: number;
  secondCorrection: number;
  epsilon: number;
  stepSize: number;
}

/** AdamW hyper-parameters, named as in `TrainingConfig`. */
export type AdamWOptions = Partial<Pick<TrainingConfig, 'adamBeta1' | 'adamBeta2' | 'adamEpsilon' | 'weightDecay'>>;

interface Slot {
  variable: tf.Variable;
  /** Exponential average of the gradient (PyTorch `exp_avg`). */
  firstMoment: tf.Variable;
  /** Exponential average of the squared gradient (PyTorch `exp_avg_sq`). */
  secondMoment: tf.Variable;
  /** Updates this variable has had: a variable without a gradient in a step is skipped, as in PyTorch. */
  steps: number;
  weightDecay: number;
}

/**
 * AdamW with PyTorch 1.13 `torch.optim.AdamW` semantics, per variable:
 * `p ← p·(1 − lr·wd)`, `m ← β1·m + (1 − β1)·g`, `v ← β2·v + (1 − β2)·g²`,
 * `p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)`, with `wd` = 0 where `isDecayed(name)` is false.
 *
 * @example
 * const optimizer = new AdamW(trainable, { weightDecay: 0.01 });
 * optimizer.apply(grads, 1e-4); // grads: Map from variable name to gradient
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly slots = new Map<string, Slot>();

  constructor(variables: ReadonlyMap<string, tf.Variable>, options: AdamWOptions = {}) {
    this.beta1 = options.adamBeta1 ?? 0.9;
    this.beta2 = options.adamBeta2 ?? 0.999;
    this.epsilon = options.adamEpsilon ?? 1e-8;
    const weightDecay = options.weightDecay ?? 0.01;
    for (const [name, variable] of variables) {
      this.slots.set(name, {
        variable,
        // tidy frees the zeros a variable is made from (variables themselves survive a tidy).
        firstMoment: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
        secondMoment: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
        steps: 0,
        weightDecay: isDecayed(name) ? weightDecay : 0,
      });
    }
  }

  /** Updates each variable that has a gradient in `grads` (by name); variables without one are left alone. */
  apply(grads: ReadonlyMap<string, tf.Tensor>, learningRate: number): void {
    for (const name of grads.keys()) {
      if (!this.slots.has(name)) throw new Error(`AdamW: got a gradient for "${name}", which is not one of its ${this.slots.size} variables`);
    }
    for (const [name, g] of grads) {
      const slot = this.slots.get(name) as Slot;
      slot.steps += 1;
      const stepSize = learningRate / (1 - this.beta1 ** slot.steps);
      const secondCorrection = Math.sqrt(1 - this.beta2 ** slot.steps);
      if (tf.getKernel(ADAMW_KERNEL, tf.getBackend())) {
        const attrs: AdamWAttrs = { decay: 1 - learningRate * slot.weightDecay, beta1: this.beta1, beta2: this.beta2, secondCorrection, epsilon: this.epsilon, stepSize };
        const inputs = { variable: slot.variable, firstMoment: slot.firstMoment, secondMoment: slot.secondMoment, gradient: g };
        const updated = tf.engine().runKernel<tf.Tensor[]>(ADAMW_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap);
        [slot.variable, slot.firstMoment, slot.secondMoment].forEach((target, i) => target.assign(updated[i] as tf.Tensor));
        tf.dispose(updated);
        continue;
      }
      tf.tidy(() => {
        const p = slot.weightDecay > 0 ? tf.mul(slot.variable, 1 - learningRate * slot.weightDecay) : slot.variable; // decay uses the pre-update value
        const m = tf.add(tf.mul(slot.firstMoment, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(slot.secondMoment, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        const denominator = tf.add(tf.div(tf.sqrt(v), secondCorrection), this.epsilon);
        slot.firstMoment.assign(m);
        slot.secondMoment.assign(v);
        slot.variable.assign(tf.sub(p, tf.mul(tf.div(m, denominator), stepSize)));
      });
    }
  }

  /** Updates done so far: the most any variable has had. */
  get steps(): number {
    return Math.max(0, ...[...this.slots.values()].map((slot) => slot.steps));
  }

  /**
   * Writes the moments (`<name>.exp_avg`, `<name>.exp_avg_sq`) and per-variable step counts (metadata) to a
   * safetensors file, atomically.
   */
  async saveState(file: string): Promise<void> {
    const steps = Object.fromEntries([...this.slots].map(([name, slot]) => [name, slot.steps]));
    writeSafetensors(file, Object.fromEntries(await snapshotTensors(this.moments())), { format: 'adamw', steps: JSON.stringify(steps) });
  }

  /** Restores a state written by `saveState` for the same variables; errors name the file and every mismatch. */
  loadState(file: string): void {
    const moments = this.moments();
    const { tensors, metadata } = readSnapshot(file, new Map([...moments].map(([name, moment]) => [name, moment.shape])));
    let steps: Record<string, unknown>;
    try {
      steps = Object(JSON.parse(metadata.steps ?? '{}')) as Record<string, unknown>;
    } catch (error) {
      throw new SafetensorsError(file, `expected the metadata "steps" to be JSON, got an error: ${(error as Error).message}`);
    }
    for (const name of this.slots.keys()) {
      if (!Number.isSafeInteger(steps[name]) || (steps[name] as number) < 0) throw new SafetensorsError(file, `expected a step count for "${name}" in the metadata, got ${JSON.stringify(steps[name])}`);
    }
    assignSnapshot(moments, tensors);
    for (const [name, slot] of this.slots) slot.steps = steps[name] as number;
  }

  /** The moment variables under their file names. */
  private moments(): Map<string, tf.Variable> {
    const moments = new Map<string, tf.Variable>();
    for (const [name, slot] of this.slots) {
      moments.set(`${name}.exp_avg`, slot.firstMoment);
      moments.set(`${name}.exp_avg_sq`, slot.secondMoment);
    }
    return moments;
  }

  /** Frees the moment variables (the optimized variables stay). */
  dispose(): void {
    for (const slot of this.slots.values()) tf.dispose([slot.firstMoment, slot.secondMoment]);
  }
}

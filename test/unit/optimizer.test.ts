import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate';
import { loadNativeBlas } from '../../src/backend/native/native-blas';
import { lacking } from '../requirements';
import { readSafetensors } from '../../src/io/safetensors';
import { ADAMW_KERNEL, AdamW, isDecayed } from '../../src/training/adamw';
import { clipByGlobalNorm } from '../../src/training/clip-by-global-norm';
import { learningRateAt } from '../../src/training/learning-rate-at';
import { TrainingConfig } from '../../src/training/training-config';
import { SeededRandom } from '../../src/util/random';

function randomValues(random: SeededRandom, size: number): number[] {
  return Array.from({ length: size }, () => random.next() * 2 - 1);
}

/** The AdamW update written out in float64, one element at a time, as the reference defines it. */
function referenceAdamW(p: number[], grads: number[][], lr: number, wd: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): number[] {
  const param = [...p];
  const m = param.map(() => 0);
  const v = param.map(() => 0);
  grads.forEach((g, index) => {
    const t = index + 1;
    for (let i = 0; i < param.length; i++) {
      const gi = g[i] as number;
      param[i] = (param[i] as number) * (1 - lr * wd);
      m[i] = beta1 * (m[i] as number) + (1 - beta1) * gi;
      v[i] = beta2 * (v[i] as number) + (1 - beta2) * gi * gi;
      const denominator = Math.sqrt(v[i] as number) / Math.sqrt(1 - beta2 ** t) + eps;
      param[i] = (param[i] as number) - (lr / (1 - beta1 ** t)) * ((m[i] as number) / denominator);
    }
  });
  return param;
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe('isDecayed', () => {
  it('exempts biases and LayerNorm parameters, as Hugging Face does', () => {
    expect(isDecayed('encoder.layer.0.output.adapters.a.adapter_down.0.weight')).toBe(true);
    expect(isDecayed('heads.rte.4.weight')).toBe(true);
    expect(isDecayed('encoder.layer.0.output.adapters.a.adapter_up.bias')).toBe(false);
    expect(isDecayed('encoder.layer.0.output.LayerNorm.weight')).toBe(false);
    expect(isDecayed('encoder.layer.0.adapter_layer_norm.weight')).toBe(false);
    expect(isDecayed('blocks.0.ln.weight')).toBe(false);
  });
});

describe('AdamW', () => {
  it.skipIf(lacking('the native add-on', loadNativeBlas().blas))('gives bit for bit the tfjs ops\' result through its one-pass native kernel', async () => {
    expect(tf.getKernel(ADAMW_KERNEL, tf.getBackend())).toBeDefined();
    /** Six steps on a decayed weight and an undecayed bias; the final values and moments. */
    const run = async (): Promise<number[][]> => {
      const random = new SeededRandom(3);
      const variables = new Map<string, tf.Variable>([['w.weight', tf.variable(tf.tensor1d(randomValues(random, 37)))], ['w.bias', tf.variable(tf.tensor1d(randomValues(random, 5)))]]);
      const optimizer = new AdamW(variables, { weightDecay: 0.1 });
      for (let step = 0; step < 6; step++) {
        const grads = new Map([...variables].map(([name, v]) => [name, tf.mul(tf.tensor1d(randomValues(random, v.size)), 10 ** (step - 3))]));
        optimizer.apply(grads, 1e-2);
        tf.dispose([...grads.values()]);
      }
      const file = join(mkdtempSync(join(tmpdir(), 'af-adamw-')), 'state.safetensors');
      await optimizer.saveState(file);
      const moments = readSafetensors(file);
      const values = [...[...variables.values()].map((v) => Array.from(v.dataSync())), ...[...moments.tensors.values()].map((t) => Array.from(t.values))];
      optimizer.dispose();
      tf.dispose([...variables.values()]);
      return values;
    };
    const native = await run();
    const kernel = tf.getKernel(ADAMW_KERNEL, tf.getBackend());
    tf.unregisterKernel(ADAMW_KERNEL, tf.getBackend());
    try {
      expect(native).toEqual(await run());
    } finally {
      tf.registerKernel(kernel);
    }
  });

  it('matches the float64 update rule over six steps, with and without weight decay', () => {
    const random = new SeededRandom(7);
    const initialWeight = randomValues(random, 12);
    const initialBias = randomValues(random, 4);
    const weight = tf.variable(tf.tensor2d(initialWeight, [3, 4]));
    const bias = tf.variable(tf.tensor1d(initialBias));
    const optimizer = new AdamW(new Map<string, tf.Variable>([['dense.weight', weight], ['dense.bias', bias]]), { weightDecay: 0.1 });
    const weightGrads: number[][] = [];
    const biasGrads: number[][] = [];
    const lr = 1e-2;
    for (let step = 0; step < 6; step++) {
      // Gradients of very different sizes exercise the bias corrections and epsilon.
      weightGrads.push(randomValues(random, 12).map((g) => g * 10 ** (step - 3)));
      biasGrads.push(randomValues(random, 4));
      const grads = new Map<string, tf.Tensor>([
        ['dense.weight', tf.tensor2d(weightGrads[step] as number[], [3, 4])],
        ['dense.bias', tf.tensor1d(biasGrads[step] as number[])],
      ]);
      optimizer.apply(grads, lr);
      tf.dispose([...grads.values()]);
    }
    expect(optimizer.steps).toBe(6);
    expect(maxDifference(weight.dataSync(), referenceAdamW(initialWeight, weightGrads, lr, 0.1))).toBeLessThan(1e-6);
    expect(maxDifference(bias.dataSync(), referenceAdamW(initialBias, biasGrads, lr, 0))).toBeLessThan(1e-6);
    // The reference with decay differs from one without, so the test would notice decay applied to the wrong group.
    expect(maxDifference(referenceAdamW(initialWeight, weightGrads, lr, 0.1), referenceAdamW(initialWeight, weightGrads, lr, 0))).toBeGreaterThan(1e-4);
    optimizer.dispose();
    tf.dispose([weight, bias]);
  });

  it('skips variables without a gradient (no decay, no step) and keeps the tensor count stable', () => {
    const a = tf.variable(tf.ones([2]));
    const b = tf.variable(tf.ones([2]));
    const optimizer = new AdamW(new Map([['a.weight', a], ['b.weight', b]]), { weightDecay: 0.5 });
    const g = tf.tensor1d([0.5, -0.5]);
    optimizer.apply(new Map([['a.weight', g]]), 0.1);
    const before = tf.memory().numTensors;
    optimizer.apply(new Map([['a.weight', g]]), 0.1);
    expect(tf.memory().numTensors).toBe(before);
    expect([...b.dataSync()]).toEqual([1, 1]);
    expect(maxDifference(a.dataSync(), referenceAdamW([1, 1], [[0.5, -0.5], [0.5, -0.5]], 0.1, 0.5))).toBeLessThan(1e-6);
    expect(() => optimizer.apply(new Map([['c.weight', g]]), 0.1)).toThrow('AdamW: got a gradient for "c.weight", which is not one of its 2 variables');
    optimizer.dispose();
    tf.dispose([a, b, g]);
  });

  it('leaves no tensor behind once disposed', () => {
    const variable = tf.variable(tf.ones([3, 2]));
    const before = tf.memory().numTensors;
    new AdamW(new Map([['w', variable]])).dispose();
    expect(tf.memory().numTensors).toBe(before);
    variable.dispose();
  });

  it('saves and restores its state so that a restored optimizer continues identically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adamw-'));
    const random = new SeededRandom(3);
    const start = randomValues(random, 6);
    const grads = Array.from({ length: 4 }, () => randomValues(random, 6));
    const run = (variable: tf.Variable, optimizer: AdamW, from: number, to: number): void => {
      for (let step = from; step < to; step++) {
        const g = tf.tensor1d(grads[step] as number[]);
        optimizer.apply(new Map([['w', g]]), 1e-2);
        g.dispose();
      }
    };
    const straight = tf.variable(tf.tensor1d(start));
    const straightOptimizer = new AdamW(new Map([['w', straight]]));
    run(straight, straightOptimizer, 0, 4);

    const first = tf.variable(tf.tensor1d(start));
    const firstOptimizer = new AdamW(new Map([['w', first]]));
    run(first, firstOptimizer, 0, 2);
    await firstOptimizer.saveState(join(dir, 'optimizer.safetensors'));
    const resumedOptimizer = new AdamW(new Map([['w', first]]));
    resumedOptimizer.loadState(join(dir, 'optimizer.safetensors'));
    expect(resumedOptimizer.steps).toBe(2);
    run(first, resumedOptimizer, 2, 4);
    expect([...first.dataSync()]).toEqual([...straight.dataSync()]);

    const other = tf.variable(tf.zeros([3]));
    const otherOptimizer = new AdamW(new Map([['v', other]]));
    expect(() => otherOptimizer.loadState(join(dir, 'optimizer.safetensors'))).toThrow(/v\.exp_avg/);
    for (const optimizer of [straightOptimizer, firstOptimizer, resumedOptimizer, otherOptimizer]) optimizer.dispose();
    tf.dispose([straight, first, other]);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales every gradient by maxNorm / (total + 1e-6) when the total norm is larger', async () => {
    const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([3, 0])], ['b', tf.tensor2d([[0, 4]])]]);
    const { grads: clipped, norm } = await clipByGlobalNorm(grads, 1);
    expect(norm).toBeCloseTo(5, 6);
    const coefficient = 1 / (5 + 1e-6);
    expect(maxDifference(clipped.get('a')?.dataSync() ?? [], [3 * coefficient, 0])).toBeLessThan(1e-7);
    expect(clipped.get('b')?.shape).toEqual([1, 2]);
    expect(maxDifference(clipped.get('b')?.dataSync() ?? [], [0, 4 * coefficient])).toBeLessThan(1e-7);
    tf.dispose([...grads.values(), ...clipped.values()]);
  });

  it('leaves gradients below the limit, or with a limit of 0, unchanged and reports the norm', async () => {
    const grads = new Map([['a', tf.tensor1d([0.3, 0.4])]]);
    const before = tf.memory().numTensors;
    const small = await clipByGlobalNorm(grads, 1);
    const off = await clipByGlobalNorm(grads, 0);
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(small.norm).toBeCloseTo(0.5, 6);
    expect([...(small.grads.get('a')?.dataSync() ?? [])]).toEqual([...(grads.get('a')?.dataSync() ?? [])]);
    expect(off.norm).toBeCloseTo(0.5, 6);
    tf.dispose([...grads.values(), ...small.grads.values(), ...off.grads.values()]);
  });
});

describe('learningRateAt', () => {
  it('warms up linearly and decays linearly to 0 (Hugging Face linear schedule)', () => {
    const config = validateConfig(TrainingConfig, { learningRate: 1e-3, warmupSteps: 10 });
    expect([0, 5, 10, 55, 100, 120].map((step) => learningRateAt(step, config, 100))).toEqual([0, 5e-4, 1e-3, 5e-4, 0, 0]);
  });

  it('takes the warm-up from warmupRatio (rounded up) when warmupSteps is 0, and stays flat when constant', () => {
    const ratio = validateConfig(TrainingConfig, { learningRate: 1, warmupRatio: 0.25 });
    expect(learningRateAt(1, ratio, 10)).toBeCloseTo(1 / 3, 12); // ceil(2.5) = 3 warm-up steps
    expect(learningRateAt(3, ratio, 10)).toBe(1);
    expect(learningRateAt(6, ratio, 10)).toBeCloseTo(4 / 7, 12);
    const constant = validateConfig(TrainingConfig, { learningRate: 2e-5, schedule: 'constant' });
    expect([0, 50, 99].map((step) => learningRateAt(step, constant, 100))).toEqual([2e-5, 2e-5, 2e-5]);
  });
});

describe('TrainingConfig', () => {
  it('has the paper and Hugging Face defaults and refuses bad values by name', () => {
    const config = validateConfig(TrainingConfig, {});
    expect(config).toMatchObject({ learningRate: 1e-4, epochs: 30, batchSize: 32, weightDecay: 0.01, maxGradNorm: 1, schedule: 'linear', earlyStoppingPatience: 3 });
    expect(config.maxSteps).toBeUndefined();
    let message = '';
    try {
      validateConfig(TrainingConfig, { schedule: 'cosine', epochs: 0, learningRat: 1 });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('schedule: must be one of the following values: linear, constant, got "cosine"');
    expect(message).toContain('epochs: must not be less than 1, got 0');
    expect(message).toContain('learningRat: unknown key');
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { CheckpointError, Trainer, TrainingDivergedError, type TrainerOptions, type TrainResult } from '../../src/training/trainer';
import { TrainingConfig } from '../../src/training/training-config';
import { SeededRandom } from '../../src/util/random';

/** Features (N, 6) and class ids (N). */
interface Batch {
  x: number[][];
  labels: number[];
}

const EXAMPLES: Batch[] = (() => {
  const random = new SeededRandom(5);
  return Array.from({ length: 7 }, () => {
    const x = Array.from({ length: 4 }, () => Array.from({ length: 6 }, () => random.next() * 2 - 1));
    return { x, labels: x.map((row) => ((row[0] as number) + (row[3] as number) > 0 ? 1 : 0)) };
  });
})();

/**
 * A fresh seeded order of the micro-batches for each epoch, as callers of `fit` make them; epochs differ in length
 * (7, 6, 5, 7 micro-batches), as a multi-task sampler's may.
 */
const batchesForEpoch = (epoch: number): Batch[] => new SeededRandom(100 + epoch).shuffle(EXAMPLES).slice(0, 7 - (epoch % 3));

/**
 * A run with everything that could make a resumed run drift: dropout drawing seeds from the trainer's generator,
 * gradient accumulation with an odd number of micro-batches per epoch, a deferred loss, a linear schedule with
 * warm-up, early stopping on a metric, checkpoints every 2 steps.
 */
function setUp(dir: string, failAtStep?: number, extra: Partial<TrainerOptions<Batch>> = {}) {
  const random = new SeededRandom(1);
  const init = (n: number) => Array.from({ length: n }, () => (random.next() - 0.5) * 0.5);
  const hidden = tf.variable(tf.tensor2d(init(6 * 5), [6, 5]));
  const frozen = new Map([['encoder.weight', tf.variable(tf.tensor2d(init(6 * 6), [6, 6]))]]);
  const trainable = new Map<string, tf.Variable>([
    ['hidden.weight', hidden],
    ['hidden.bias', tf.variable(tf.zeros([5]))],
    ['classifier.weight', tf.variable(tf.tensor2d(init(5 * 2), [5, 2]))],
  ]);
  const forward = (x: number[][], dropoutSeed?: number) => {
    const encoded = tf.matMul(tf.tensor2d(x), frozen.get('encoder.weight') as tf.Variable); // (N, 6)
    let h = tf.tanh(tf.add(tf.matMul(encoded, hidden), trainable.get('hidden.bias') as tf.Variable)); // (N, 5)
    if (dropoutSeed !== undefined) h = tf.dropout(h, 0.3, undefined, dropoutSeed);
    return tf.matMul(h, trainable.get('classifier.weight') as tf.Variable); // (N, 2)
  };
  const dev = EXAMPLES.slice(0, 2);
  const config = extra.config ?? validateConfig(TrainingConfig, {
    learningRate: 0.05,
    epochs: 4,
    gradientAccumulationSteps: 2,
    warmupSteps: 3,
    evaluateEverySteps: 3,
    checkpointEverySteps: 2,
    earlyStoppingPatience: 4,
    logEverySteps: 1,
  });
  const trainer = new Trainer<Batch>({
    config,
    trainable,
    frozen,
    loss: (batch, context) => {
      if (context.step === failAtStep) throw new Error(`interrupted at step ${context.step}`);
      const logits = forward(batch.x, context.random.int(2 ** 31));
      return tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(tf.oneHot(tf.tensor1d(batch.labels, 'int32'), 2), logits);
    },
    deferredLoss: () => tf.mul<tf.Scalar>(tf.sum(tf.square(hidden)), 0.01),
    evaluate: async () =>
      tf.tidy(() => {
        const logits = forward(dev.flatMap((batch) => batch.x));
        const labels = dev.flatMap((batch) => batch.labels);
        const predicted = tf.argMax(logits, 1).arraySync() as number[];
        const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 2), logits).dataSync()[0] as number;
        return { accuracy: predicted.filter((label, i) => label === labels[i]).length / labels.length, loss };
      }),
    primaryMetric: 'loss',
    checkpointDir: join(dir, 'checkpoint'),
    metricsLog: join(dir, 'metrics.jsonl'),
    log: () => {},
    progress: false,
    ...(extra.fingerprint ? { fingerprint: extra.fingerprint } : {}),
  });
  const weights = () => Object.fromEntries([...trainable].map(([name, variable]) => [name, Float32Array.from(variable.dataSync())]));
  const dispose = () => {
    trainer.dispose();
    tf.dispose([...trainable.values(), ...frozen.values()]);
  };
  return { trainer, weights, dispose };
}

/** The metrics log without the timing field, which differs from run to run. */
function metrics(dir: string): unknown[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { examplesPerSecond: _timing, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return rest;
    });
}

describe('resuming from a checkpoint', () => {
  it('ends with exactly the weights, history and log of an uninterrupted run', async () => {
    const straightDir = mkdtempSync(join(tmpdir(), 'resume-straight-'));
    const straight = setUp(straightDir);
    const expected = await straight.trainer.fit(batchesForEpoch);
    const expectedWeights = straight.weights();
    straight.dispose();
    expect(expected.steps).toBe(14); // micro-batches in groups of 2: 4 + 3 + 3 + 4 steps
    expect(expected.history.length).toBeGreaterThanOrEqual(5);

    const dir = mkdtempSync(join(tmpdir(), 'resume-interrupted-'));
    // Step 10 fails: the last checkpoint is the evaluation at step 9, in the middle of epoch 2 (steps 8 to 10), whose
    // length differs from epoch 0's, so the resumed run must keep the schedule length it planned.
    const interrupted = setUp(dir, 10);
    await expect(interrupted.trainer.fit(batchesForEpoch)).rejects.toThrow('interrupted at step 10');
    interrupted.dispose();
    const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8'));
    expect(state).toMatchObject({ step: 9, totalSteps: 16, epoch: 2, position: 4, finished: false });

    const resumed = setUp(dir);
    const result: TrainResult = await resumed.trainer.fit(batchesForEpoch, { resume: true });
    expect(result).toEqual(expected);
    expect(resumed.weights()).toEqual(expectedWeights);
    expect(metrics(dir)).toEqual(metrics(straightDir));
    resumed.dispose();

    // Resuming a finished run trains no further and restores the same best weights.
    const again = setUp(dir);
    expect(await again.trainer.fit(() => { throw new Error('no batches are needed'); }, { resume: true })).toEqual(expected);
    expect(again.weights()).toEqual(expectedWeights);
    again.dispose();
  });

  it('refuses a checkpoint whose weights do not fit the variables, naming them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resume-mismatch-'));
    const first = setUp(dir, 3);
    await expect(first.trainer.fit(batchesForEpoch)).rejects.toThrow('interrupted at step 3');
    first.dispose();
    const other = tf.variable(tf.zeros([3]));
    const trainer = new Trainer<Batch>({
      config: first.trainer.config,
      trainable: new Map([['other.weight', other]]),
      frozen: new Map(),
      loss: () => tf.sum<tf.Scalar>(other),
      checkpointDir: join(dir, 'checkpoint'),
      log: () => {},
    });
    await expect(trainer.fit(() => EXAMPLES, { resume: true })).rejects.toThrow(
      /trainable-2\.safetensors: weights do not match the model \(1 missing, 3 unexpected, 0 of the wrong shape\):\n {2}missing: other\.weight \[3\]/,
    );
    trainer.dispose();
    other.dispose();
  });
});

describe('a checkpoint is never lost or misused silently', () => {
  /** A run interrupted at step 3, leaving the checkpoint of step 2. */
  async function interrupted(extra: Partial<TrainerOptions<Batch>> = {}): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'resume-guard-'));
    const first = setUp(dir, 3, extra);
    await expect(first.trainer.fit(batchesForEpoch)).rejects.toThrow('interrupted at step 3');
    first.dispose();
    return dir;
  }

  it('refuses to start over an existing checkpoint without resume, and discards it only with restart', async () => {
    const dir = await interrupted();
    const again = setUp(dir);
    const refused = again.trainer.fit(batchesForEpoch);
    await expect(refused).rejects.toThrow(CheckpointError);
    await expect(refused).rejects.toThrow(
      `${join(dir, 'checkpoint')}: holds the checkpoint of an earlier run of this stage (step 2); run again with --resume to continue from it, or with --restart to discard it and start over`,
    );
    again.dispose();
    expect(readdirSync(join(dir, 'checkpoint')).sort()).toEqual(['optimizer-2.safetensors', 'state.json', 'trainable-2.safetensors']);

    const straightDir = mkdtempSync(join(tmpdir(), 'resume-guard-straight-'));
    const straight = setUp(straightDir);
    const expected = await straight.trainer.fit(batchesForEpoch);
    const expectedWeights = straight.weights();
    straight.dispose();
    const restarted = setUp(dir);
    expect(await restarted.trainer.fit(batchesForEpoch, { restart: true })).toEqual(expected);
    expect(restarted.weights()).toEqual(expectedWeights);
    restarted.dispose();
  });

  it('refuses a resume over other data or another configuration, naming what differs', async () => {
    const fingerprint = { 'training data': 'a'.repeat(64), configuration: 'c'.repeat(64) };
    const dir = await interrupted({ fingerprint });
    const otherData = setUp(dir, undefined, { fingerprint: { ...fingerprint, 'training data': 'b'.repeat(64) } });
    await expect(otherData.trainer.fit(batchesForEpoch, { resume: true })).rejects.toThrow(
      `${join(dir, 'checkpoint')}: was made with other inputs than this run: training data differ; resume with the same data and configuration, or run with --restart to start over`,
    );
    otherData.dispose();
    const config = validateConfig(TrainingConfig, { learningRate: 0.1, epochs: 4, gradientAccumulationSteps: 2, warmupSteps: 3, evaluateEverySteps: 3, checkpointEverySteps: 2, earlyStoppingPatience: 4, logEverySteps: 1 });
    const otherConfig = setUp(dir, undefined, { fingerprint, config });
    await expect(otherConfig.trainer.fit(batchesForEpoch, { resume: true })).rejects.toThrow('training.learningRate (0.05 in the checkpoint, 0.1 now) differ');
    otherConfig.dispose();
    // Without a fingerprint, an epoch shorter than the checkpoint's position still says that the data changed.
    const plain = await interrupted();
    const shorter = setUp(plain);
    await expect(shorter.trainer.fit((epoch) => batchesForEpoch(epoch).slice(0, 1), { resume: true })).rejects.toThrow(
      'continues epoch 1 at micro-batch 5, but the epoch has 1: the training data differ from the checkpoint\'s',
    );
    shorter.dispose();
  });

  it('names the file and tensor of a checkpoint weight that is not finite, and a damaged state.json', async () => {
    const dir = await interrupted();
    const file = join(dir, 'checkpoint', 'trainable-2.safetensors');
    const { tensors } = readSafetensors(file);
    const bias = tensors.get('hidden.bias') as { shape: number[]; values: Float32Array };
    bias.values[3] = NaN;
    writeSafetensors(file, Object.fromEntries(tensors));
    const resumed = setUp(dir);
    await expect(resumed.trainer.fit(batchesForEpoch, { resume: true })).rejects.toThrow(
      `${file}: tensor "hidden.bias": holds values that are not finite (NaN or infinity); the checkpoint is damaged: run with --restart to start over`,
    );
    resumed.dispose();
  });
});

describe('divergence', () => {
  /** One scalar weight at 1 with the given loss, constant learning rate, a checkpoint every step. */
  function scalarRun(dir: string, loss: (w: tf.Variable) => tf.Scalar, learningRate: number) {
    const w = tf.variable(tf.scalar(1));
    const trainer = new Trainer<number>({
      config: validateConfig(TrainingConfig, { learningRate, epochs: 5, schedule: 'constant', checkpointEverySteps: 1, logEverySteps: 1 }),
      trainable: new Map([['w', w]]),
      frozen: new Map(),
      loss: () => loss(w),
      checkpointDir: join(dir, 'checkpoint'),
      log: () => {},
      progress: false,
    });
    return { trainer, dispose: () => (trainer.dispose(), w.dispose()) };
  }

  it('stops at an exploding loss, naming the step and learning rate, before anything of it is saved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diverge-'));
    // AdamW moves w by about the learning rate: 1 -> -9.1, so the loss w^4 goes from 1 to 6857.
    const run = scalarRun(dir, (w) => tf.pow<tf.Scalar>(w, 4), 10);
    const fit = run.trainer.fit(() => [0]);
    await expect(fit).rejects.toThrow(TrainingDivergedError);
    await expect(fit).rejects.toThrow(/^training diverged at step 2 \(learning rate 10\): the loss grew to 68\d\d\.\d+, over 1000 times the first step's 1 \(divergenceFactor\); lower learningRate/);
    run.dispose();
    // The last checkpoint is step 1's: the diverging step saved nothing.
    expect(JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8')).step).toBe(1);
  });

  it('stops at a weight that is not finite and never writes it to a checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diverge-nan-'));
    // The gradient of sqrt(|w - 1|) at w = 1 is not finite; the loss (0) is.
    const run = scalarRun(dir, (w) => tf.sqrt(tf.abs(tf.sub<tf.Scalar>(w, 1))), 0.1);
    await expect(run.trainer.fit(() => [0])).rejects.toThrow(/^training diverged at step 1 \(learning rate 0\.1\): weight "w" is not finite after the step/);
    run.dispose();
    expect(existsSync(join(dir, 'checkpoint', 'state.json'))).toBe(false);
  });
});

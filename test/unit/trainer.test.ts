import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate';
import * as api from '../../src/index';
import { formatDuration, ProgressBar } from '../../src/training/progress-bar';
import { Trainer, type TrainerOptions } from '../../src/training/trainer';
import { TrainingConfig } from '../../src/training/training-config';
import { SeededRandom } from '../../src/util/random';

/** Inputs (N, 4) and one-hot targets (N, 3) of a seeded 3-class problem. */
interface Batch {
  x: number[][];
  y: number[][];
}

/**
 * A two-layer network on 4 features: a frozen projection (4, 4), then trainable dense (4, 3) with bias. Every test
 * builds a fresh one from the same seed.
 */
function tinyModel(seed = 1) {
  const random = new SeededRandom(seed);
  const values = (n: number) => Array.from({ length: n }, () => random.next() - 0.5);
  const frozen = new Map([['projection.weight', tf.variable(tf.tensor2d(values(16), [4, 4]))]]);
  const trainable = new Map<string, tf.Variable>([
    ['dense.weight', tf.variable(tf.tensor2d(values(12), [4, 3]))],
    ['dense.bias', tf.variable(tf.zeros([3]))],
  ]);
  const projection = frozen.get('projection.weight') as tf.Variable;
  const weight = trainable.get('dense.weight') as tf.Variable;
  const bias = trainable.get('dense.bias') as tf.Variable;
  const logits = (x: number[][]) => tf.add(tf.matMul(tf.matMul(tf.tensor2d(x), projection), weight), bias); // (N, 3)
  const loss = (batch: Batch) => tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(tf.tensor2d(batch.y), logits(batch.x));
  const batches = (count: number, size: number, batchSeed: number): Batch[] => {
    const data = new SeededRandom(batchSeed);
    return Array.from({ length: count }, () => {
      const x = Array.from({ length: size }, () => Array.from({ length: 4 }, () => data.next() * 2 - 1));
      // The class is the largest of the first three features: linearly separable, so a good model gets it right.
      const y = x.map((row) => {
        const label = [0, 1, 2].reduce((best, k) => ((row[k] as number) > (row[best] as number) ? k : best), 0);
        return [0, 1, 2].map((k) => (k === label ? 1 : 0));
      });
      return { x, y };
    });
  };
  const dispose = () => tf.dispose([...trainable.values(), ...frozen.values()]);
  return { trainable, frozen, loss, logits, batches, dispose };
}

function config(raw: Record<string, unknown>): TrainingConfig {
  return validateConfig(TrainingConfig, { schedule: 'constant', learningRate: 0.01, ...raw });
}

function values(variables: ReadonlyMap<string, tf.Variable>): Record<string, number[]> {
  return Object.fromEntries([...variables].map(([name, variable]) => [name, [...variable.dataSync()]]));
}

function trainer(model: ReturnType<typeof tinyModel>, raw: Record<string, unknown>, extra: Partial<TrainerOptions<Batch>> = {}) {
  return new Trainer<Batch>({ config: config(raw), trainable: model.trainable, frozen: model.frozen, loss: model.loss, log: () => {}, ...extra });
}

describe('Trainer.step', () => {
  it('averages accumulated micro-batches exactly like one batch of all their examples', async () => {
    const small = tinyModel();
    const large = tinyModel();
    const micro = small.batches(6, 4, 9);
    const accumulated = trainer(small, { gradientAccumulationSteps: 2 });
    const single = trainer(large, {});
    for (let step = 0; step < 3; step++) {
      const [a, b] = [micro[2 * step] as Batch, micro[2 * step + 1] as Batch];
      const left = await accumulated.step([a, b]);
      const right = await single.step([{ x: [...a.x, ...b.x], y: [...a.y, ...b.y] }]);
      expect(left.loss).toBeCloseTo(right.loss, 6);
      expect(left.gradNorm).toBeCloseTo(right.gradNorm, 6);
    }
    const [after, expected] = [values(small.trainable), values(large.trainable)];
    for (const name of Object.keys(expected)) {
      (after[name] as number[]).forEach((value, i) => expect(value).toBeCloseTo((expected[name] as number[])[i] as number, 6));
    }
    for (const item of [accumulated, single, small, large]) item.dispose();
  });

  it('changes only the trainable variables, leaks no tensors, and clips to maxGradNorm', async () => {
    const model = tinyModel();
    const frozenBefore = values(model.frozen);
    const trainableBefore = values(model.trainable);
    const run = trainer(model, { maxGradNorm: 0.05 }, { deferredLoss: () => tf.sum(tf.square(model.trainable.get('dense.weight') as tf.Variable)) });
    const batches = model.batches(5, 8, 3);
    const counts: number[] = [];
    for (const batch of batches) {
      const result = await run.step([batch]);
      expect(result.gradNorm).toBeGreaterThan(0.05); // so clipping is active and the clipped path is what runs
      counts.push(tf.memory().numTensors);
    }
    expect(counts[4]).toBe(counts[1]);
    expect(values(model.frozen)).toEqual(frozenBefore); // exact: not one bit changed
    expect(values(model.trainable)).not.toEqual(trainableBefore);
    run.dispose();
    model.dispose();
  });

  it('adds the deferred gradient, taken at the updated weights, to the next step only', async () => {
    const model = tinyModel();
    const weight = model.trainable.get('dense.weight') as tf.Variable;
    const deferredLoss = () => tf.mul<tf.Scalar>(tf.sum(tf.square(weight)), 3);
    const run = trainer(model, {}, { deferredLoss });
    const [first, second] = model.batches(2, 8, 5) as [Batch, Batch];
    const norm = (f: () => tf.Scalar) => {
      const { value, grads } = tf.variableGrads(f, [...model.trainable.values()]);
      const total = tf.tidy(() => Math.sqrt(Object.values(grads).reduce((sum, g) => sum + tf.sum(tf.square(g)).dataSync()[0]!, 0)));
      tf.dispose([value, ...Object.values(grads)]);
      return total;
    };
    const plainAtStart = norm(() => model.loss(first));
    expect((await run.step([first])).gradNorm).toBeCloseTo(plainAtStart, 5); // step 1: nothing deferred yet
    const withDeferred = norm(() => tf.add<tf.Scalar>(model.loss(second), deferredLoss()));
    const plain = norm(() => model.loss(second));
    expect(Math.abs(withDeferred - plain)).toBeGreaterThan(0.1);
    expect((await run.step([second])).gradNorm).toBeCloseTo(withDeferred, 5);
    run.dispose();
    model.dispose();
  });

  it('explains what is wrong with its inputs', async () => {
    const model = tinyModel();
    const weight = model.trainable.get('dense.weight') as tf.Variable;
    expect(() => new Trainer<Batch>({ config: config({}), trainable: model.trainable, frozen: new Map([['w', weight]]), loss: model.loss })).toThrow(
      'variable "dense.weight" is both trainable and frozen (as "w")',
    );
    const linear = trainer(model, { schedule: 'linear' });
    await expect(linear.step(model.batches(1, 2, 1))).rejects.toThrow('the learning-rate schedule needs the number of steps; set config.maxSteps or train with fit()');
    const diverging = trainer(model, {}, { loss: (batch) => tf.mul<tf.Scalar>(model.loss(batch), NaN) });
    await expect(diverging.step(model.batches(1, 2, 1))).rejects.toThrow(/^training diverged at step 1 \(learning rate [\d.e-]+\): the loss is NaN/);
    for (const item of [linear, diverging, model]) item.dispose();
  });
});

describe('Trainer.fit', () => {
  it('learns: held-out accuracy rises from chance level to above 0.9', async () => {
    const model = tinyModel();
    const dev = model.batches(1, 64, 77)[0] as Batch;
    const accuracy = async () => {
      const predicted = tf.tidy(() => tf.argMax(model.logits(dev.x), 1).arraySync() as number[]);
      return { accuracy: predicted.filter((k, i) => dev.y[i]?.[k] === 1).length / predicted.length };
    };
    const before = (await accuracy()).accuracy;
    const run = trainer(model, { learningRate: 0.1, epochs: 15, batchSize: 16, weightDecay: 0, earlyStoppingPatience: 0 }, { evaluate: accuracy });
    const train = model.batches(10, 16, 11);
    const result = await run.fit(() => train);
    expect(result.steps).toBe(150);
    expect(before).toBeLessThan(0.4);
    expect(result.bestMetrics.accuracy).toBeGreaterThan(0.9);
    expect((await accuracy()).accuracy).toBe(result.bestMetrics.accuracy); // the best weights are the ones left
    run.dispose();
    model.dispose();
  });

  it('stops early after `earlyStoppingPatience` evaluations without improvement and restores the best weights', async () => {
    const model = tinyModel();
    const scores = [0.5, 0.7, 0.6, 0.65, 0.9];
    const seen: Record<string, number[]>[] = [];
    const lines: string[] = [];
    const run = trainer(
      model,
      { epochs: 10, evaluateEverySteps: 1, earlyStoppingPatience: 2 },
      {
        evaluate: async () => {
          seen.push(values(model.trainable));
          return { f1: 0, accuracy: scores[seen.length - 1] ?? 1 };
        },
        primaryMetric: 'accuracy',
        log: (line) => lines.push(line),
      },
    );
    const result = await run.fit(() => model.batches(3, 4, 2));
    expect(result.stoppedEarly).toBe(true);
    expect(result.steps).toBe(4);
    expect(result.bestStep).toBe(2);
    expect(result.bestMetrics).toEqual({ f1: 0, accuracy: 0.7 });
    expect(result.history.map((entry) => entry.metrics.accuracy)).toEqual([0.5, 0.7, 0.6, 0.65]);
    expect(result.history.map((entry) => entry.epoch)).toEqual([0.3333, 0.6667, 1, 1.3333]);
    expect(values(model.trainable)).toEqual(seen[1]);
    expect(lines[0]).toBe('training 2 tensors / 15 parameters, frozen 1 tensors / 16 parameters');
    expect(lines).toContain('stopped early: accuracy did not improve in 2 evaluations');
    expect(lines).toContain('restored the best weights (step 2, accuracy 0.7)');
    run.dispose();
    model.dispose();
  });

  it('treats `loss` as lower-is-better and refuses an evaluation without the primary metric', async () => {
    const model = tinyModel();
    const losses = [3, 2, 2.5];
    let calls = 0;
    const run = trainer(model, { epochs: 3, earlyStoppingPatience: 0 }, { evaluate: async () => ({ loss: losses[calls++] ?? 9 }) });
    const result = await run.fit(() => model.batches(2, 4, 2));
    expect(result).toMatchObject({ steps: 6, epochs: 3, bestStep: 4, bestMetrics: { loss: 2 }, stoppedEarly: false });
    const missing = trainer(tinyModel(), {}, { evaluate: async () => ({ accuracy: 1 }), primaryMetric: 'f1' });
    await expect(missing.fit(() => model.batches(1, 4, 2))).rejects.toThrow('evaluate() returned no "f1" metric (got {"accuracy":1}); set primaryMetric to one it returns');
    for (const item of [run, missing, model]) item.dispose();
  });

  it('logs every logEverySteps steps, writes a JSON-lines metrics log and a checkpoint', async () => {
    const model = tinyModel();
    const dir = mkdtempSync(join(tmpdir(), 'trainer-'));
    const lines: string[] = [];
    const run = trainer(
      model,
      { epochs: 2, logEverySteps: 2, checkpointEverySteps: 3, schedule: 'linear', warmupSteps: 2 },
      {
        evaluate: async () => ({ accuracy: 0.5 }),
        checkpointDir: join(dir, 'checkpoint'),
        metricsLog: join(dir, 'metrics', 'extract-toy.jsonl'),
        log: (line) => lines.push(line),
      },
    );
    await run.fit(() => model.batches(4, 4, 6));
    const records = readFileSync(join(dir, 'metrics', 'extract-toy.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(records.map((record) => record.step)).toEqual([2, 4, 6, 8]);
    expect(Object.keys(records[1])).toEqual(['step', 'epoch', 'loss', 'learningRate', 'gradNorm', 'examplesPerSecond', 'eval_accuracy']);
    expect(records.map((record) => record.learningRate)).toEqual([0.005, 0.01 * ((8 - 3) / 6), 0.01 * ((8 - 5) / 6), 0.01 * ((8 - 7) / 6)]);
    expect(records[0].eval_accuracy).toBeUndefined();
    expect(lines.filter((line) => line.startsWith('step ')).map((line) => line.split(':')[0])).toEqual([
      'step 2/8 epoch 0.50',
      'step 4/8 epoch 1.00',
      'step 6/8 epoch 1.50',
      'step 8/8 epoch 2.00',
    ]);
    expect(readdirSync(join(dir, 'checkpoint')).sort()).toEqual(['best-4.safetensors', 'optimizer-8.safetensors', 'state.json', 'trainable-8.safetensors']);
    const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8'));
    expect(state).toMatchObject({ step: 8, epoch: 2, position: 0, finished: true, best: { step: 4, value: 0.5 } });
    // A fresh run with the same log starts it again instead of appending to the old lines.
    const again = trainer(model, { epochs: 1, logEverySteps: 2 }, { metricsLog: join(dir, 'metrics', 'extract-toy.jsonl') });
    await again.fit(() => model.batches(4, 4, 6));
    expect(readFileSync(join(dir, 'metrics', 'extract-toy.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line).step)).toEqual([2, 4]);
    again.dispose();
    run.dispose();
    model.dispose();
  });

  it('keeps the tensor count stable from step to step and leaves frozen variables bit-identical', async () => {
    const model = tinyModel();
    const frozenBefore = values(model.frozen);
    const counts = new Map<number, number>();
    const loss = (batch: Batch, context: { step: number }) => {
      if (!counts.has(context.step)) counts.set(context.step, tf.memory().numTensors);
      return model.loss(batch);
    };
    const run = trainer(
      model,
      { epochs: 2, gradientAccumulationSteps: 2, checkpointEverySteps: 2 },
      { loss, evaluate: async () => ({ accuracy: 0.5 }), deferredLoss: () => tf.sum(model.trainable.get('dense.bias') as tf.Variable), checkpointDir: mkdtempSync(join(tmpdir(), 'trainer-')) },
    );
    const before = tf.memory().numTensors;
    await run.fit(() => model.batches(6, 4, 8));
    // Steps 3 and 6 start after the state of steps 2 and 5 (one epoch-end evaluation in between).
    expect(counts.get(6)).toBe(counts.get(3));
    run.dispose();
    expect(tf.memory().numTensors).toBe(before - 4); // only the optimizer's moments were freed; nothing else is left
    expect(values(model.frozen)).toEqual(frozenBefore);
    model.dispose();
  });
});

describe('ProgressBar', () => {
  it('redraws one line in place and keeps log lines off it', () => {
    const written: string[] = [];
    const bar = new ProgressBar({ write: (text: string) => written.push(text), columns: 80 }, 8);
    bar.update(2, 'loss 0.5000');
    bar.interrupt(() => written.push('evaluation at step 2\n'));
    bar.finish();
    expect(written).toEqual([
      '\r\x1b[K[######------------------] 2/8 loss 0.5000',
      '\r\x1b[K',
      'evaluation at step 2\n',
      '[######------------------] 2/8 loss 0.5000',
      '\n',
    ]);
    expect([5, 65, 3725, Infinity].map(formatDuration)).toEqual(['5s', '1m05s', '1h02m', '?']);
  });
});

describe('docs/training.md', () => {
  it('runs its example and gets what the comment says', async () => {
    const markdown = readFileSync(resolve(__dirname, '..', '..', 'docs', 'training.md'), 'utf8');
    const source = /```ts\n([\s\S]*?)```/.exec(markdown)?.[1] ?? '';
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    const modules: Record<string, unknown> = { adapterfusion: api, '@tensorflow/tfjs-core': tf };
    const printed: string[] = [];
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...names: string[]) => (...args: unknown[]) => Promise<void>;
    const run = new AsyncFunction('require', 'exports', 'console', outputText);
    await run((name: string) => modules[name], {}, { log: (...parts: unknown[]) => printed.push(parts.join(' ')) });
    expect(printed[0]).toBe('training 2 tensors / 2 parameters, frozen 0 tensors / 0 parameters');
    expect(printed.at(-1)).toBe(/\/\/ (.*)\n```/.exec(markdown)?.[1]);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import * as api from '../../src/index';
import { BottleneckAdapter } from '../../src/adapters/bottleneck-adapter';
import { BertModel } from '../../src/backbone/bert-model';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runProgram } from '../../src/cli/program';
import { validateConfig } from '../../src/config/validate';
import { createContainer, taskModule, taskRegistry } from '../../src/di/container';
import { encodeExamples, type EncodedExample } from '../../src/data/encode-examples';
import { makeBatches } from '../../src/data/make-batches';
import { readTaskSplit } from '../../src/data/read-task-split';
import { loadHead } from '../../src/heads/prediction-head';
import { RunDirectory } from '../../src/io/run-directory';
import { ExtractionConfig } from '../../src/pipeline/extraction-config';
import { evaluateTask, type ExtractionTaskResult } from '../../src/pipeline/extraction-stage';
import { BackboneMismatchError, backboneForAdapters } from '../../src/backbone/backbone-for-adapters';
import { MultiTaskExtractionStage, planMtaEpoch } from '../../src/pipeline/mt-a-stage';
import type { Example, TaskDataOptions, TaskPlugin } from '../../src/task/task-plugin';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer';
import { SeededRandom } from '../../src/util/random';
import { SPECIAL_TOKENS, writeTinyBackbone } from '../tiny-bert';

// Two tiny synthetic tasks over one vocabulary: the mood of a sentence and the kind of thing it is about.
const POSITIVE = ['good', 'great', 'happy', 'nice', 'fine', 'lovely'];
const NEGATIVE = ['bad', 'awful', 'sad', 'poor', 'grim', 'ugly'];
const ANIMALS = ['cat', 'dog', 'horse', 'bird', 'cow', 'fox'];
const VEHICLES = ['car', 'bus', 'train', 'truck', 'boat', 'van'];
const FILLERS = ['the', 'a', 'was', 'is', 'very', 'and', 'it', 'so'];
const VOCAB = [...SPECIAL_TOKENS, ...POSITIVE, ...NEGATIVE, ...ANIMALS, ...VEHICLES, ...FILLERS];


/** A two-class task: one keyword of either class among fillers. */
function keywordTask(id: string, labels: [string, string], words: [string[], string[]], trainSize: number): TaskPlugin {
  return {
    id,
    description: `synthetic ${labels.join(' vs ')}`,
    head: { type: 'classification', labels },
    metrics: ['accuracy'],
    splits: ['train', 'dev'],
    async *read(split: string, options: TaskDataOptions): AsyncIterable<Example> {
      const random = new SeededRandom(id.length * 100 + (split === 'train' ? 1 : 2));
      const count = Math.min(split === 'train' ? trainSize : 40, options.maxExamples ?? Infinity);
      for (let i = 0; i < count; i++) {
        const label = random.int(2);
        const text = [0, 1, 2].map(() => FILLERS[random.int(FILLERS.length)]);
        const pool = words[label] as string[];
        text.splice(random.int(4), 0, pool[random.int(pool.length)]);
        yield { id: `${split}-${i}`, text: text.join(' '), label };
      }
    },
  };
}

const MOOD = keywordTask('mood', ['negative', 'positive'], [NEGATIVE, POSITIVE], 160);
const TOPIC = keywordTask('topic', ['animal', 'vehicle'], [ANIMALS, VEHICLES], 64);
const MODULES = [taskModule(MOOD, TOPIC)];

const RAW_CONFIG = {
  backbone: 'backbone',
  mode: 'mt-a',
  sampler: 'annealed',
  tasks: [{ id: 'mood', dataDir: '.' }, { id: 'topic', dataDir: '.' }],
  adapter: { preset: 'seq_bn', reductionFactor: 4 },
  training: { learningRate: 2e-3, schedule: 'constant', epochs: 4, batchSize: 16, earlyStoppingPatience: 0, checkpointEverySteps: 0, logEverySteps: 2 },
  maxLength: 12,
  seed: 5,
};

/** A random tiny backbone over this test's vocabulary, at BERT's own initialisation (MT-A tunes it). */
async function writeBackbone(dir: string): Promise<void> {
  await writeTinyBackbone(dir, VOCAB, 11, { initializerRange: 0.02 });
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('MT-A (multi-task extraction with the backbone tuned jointly)', () => {
  let root: string;
  let run: RunDirectory;
  let results: ExtractionTaskResult[];
  let lines: string[];
  let leakedTensors: number;
  /** tf.memory().numTensors at every logged training step. */
  const tensorsAtSteps: number[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'af-mt-a-'));
    await writeBackbone(join(root, 'backbone'));
    run = new RunDirectory(join(root, 'run'));
    lines = [];
    const stage = new MultiTaskExtractionStage(taskRegistry(createContainer(MODULES)), validateConfig(ExtractionConfig, RAW_CONFIG));
    const tensorsBefore = tf.memory().numTensors;
    const log = (line: string): void => {
      lines.push(line);
      if (/^step \d+\//.test(line)) tensorsAtSteps.push(tf.memory().numTensors);
    };
    results = await stage.run({ run, baseDir: root, log, progress: false });
    leakedTensors = tf.memory().numTensors - tensorsBefore;
  });

  it('trains backbone, adapters and heads in one loop: the loss drops and both tasks are learned', () => {
    // 39 backbone tensors + 2 adapters × 8 + 2 heads × 4, nothing frozen.
    expect(lines.filter((line) => /^training 63 tensors \/ \d+ parameters, frozen 0 tensors \/ 0 parameters$/.test(line))).toHaveLength(1);
    const logged = readFileSync(run.metricsFile('mt-a', 'joint'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    const losses = logged.map((line) => line.loss as number);
    expect(Math.min(...losses.slice(-4))).toBeLessThan(0.5 * (losses[0] as number));
    // 160/16 + 64/16 = 14 steps an epoch, evaluated after each of the 4 epochs on both tasks.
    const evaluations = logged.filter((line) => line.eval_mean !== undefined);
    expect(evaluations.map((line) => line.step)).toEqual([14, 28, 42, 56]);
    expect(evaluations.every((line) => line.eval_mean === ((line['eval_mood/accuracy'] as number) + (line['eval_topic/accuracy'] as number)) / 2)).toBe(true);
    expect(results.map((result) => result.task)).toEqual(['mood', 'topic']);
    for (const result of results) expect(result.metrics.accuracy, result.task).toBeGreaterThanOrEqual(0.9);
    // Steps free what they create; the whole run leaves nothing behind.
    expect(tensorsAtSteps).toHaveLength(28);
    expect(new Set(tensorsAtSteps).size).toBe(1);
    expect(leakedTensors).toBe(0);
  });

  it('saves the tuned backbone beside the adapters, records its own hash, and the files reproduce the dev metrics exactly', async () => {
    const manifest = run.readManifest();
    const record = manifest.stages['mt-a'];
    expect(manifest.backboneHash).toBe(sha256(join(root, 'backbone', 'model.safetensors')));
    expect(record?.backboneHash).toBe(sha256(join(run.backboneDir(), 'model.safetensors')));
    expect(record?.backboneHash).not.toBe(manifest.backboneHash);
    expect(record).toMatchObject({ seed: 5, files: { backbone: 'backbone', adapters: { mood: join('adapters', 'mood') }, heads: { topic: join('heads', 'topic') } } });
    expect(record?.metrics?.mean).toBe(((results[0]?.metrics.accuracy ?? 0) + (results[1]?.metrics.accuracy ?? 0)) / 2);

    const original = await BertModel.fromPretrained(join(root, 'backbone'));
    const tuned = await backboneForAdapters(run, undefined);
    for (const name of ['embeddings.word_embeddings.weight', 'encoder.layer.0.attention.self.query.weight', 'encoder.layer.1.output.LayerNorm.bias']) {
      const change = tf.tidy(() => tf.max(tf.abs(tf.sub(tuned.weights.get(name) as tf.Tensor, original.weights.get(name) as tf.Tensor))).dataSync()[0] as number);
      expect(change, name).toBeGreaterThan(1e-4);
    }
    original.dispose();

    const tokenizer = await loadTokenizer(run.backboneDir()); // the tokenizer files were copied beside the backbone
    for (const [plugin, result] of [[MOOD, results[0]], [TOPIC, results[1]]] as const) {
      const dev: EncodedExample[] = encodeExamples(await readTaskSplit(plugin, 'dev', { dataDir: root }), tokenizer, plugin.head, 12);
      const batches = makeBatches(dev, { batchSize: 16, shuffle: false, seed: 0 });
      const adapter = await BottleneckAdapter.load(run.adapterDir(plugin.id), tuned);
      const head = await loadHead(run.headDir(plugin.id), { hiddenSize: 32 });
      expect(await evaluateTask(batches, plugin, tuned, adapter, head), plugin.id).toEqual(result?.metrics);
      adapter.dispose();
      head.dispose();
    }
    tuned.dispose();
  });

  it('refuses MT-A adapters on the original backbone unless forced', async () => {
    const originalDir = join(root, 'backbone');
    const originalHash = sha256(join(originalDir, 'model.safetensors'));
    const tunedHash = run.readManifest().stages['mt-a']?.backboneHash as string;
    const refusal = backboneForAdapters(run, originalDir);
    await expect(refusal).rejects.toThrow(BackboneMismatchError);
    await expect(backboneForAdapters(run, originalDir)).rejects.toThrow(
      `${originalDir}: expected the backbone with weights sha256 ${tunedHash}, got sha256 ${originalHash}; ` +
        `the adapters in ${run.root} were trained by MT-A together with the backbone saved in ${run.backboneDir()}; leave the backbone out to use it, or force this one`,
    );
    const warnings: string[] = [];
    const forced = await backboneForAdapters(run, originalDir, { force: true, warn: (line) => warnings.push(line) });
    expect(forced.checkpointHash).toBe(originalHash);
    expect(warnings).toEqual([expect.stringContaining(`warning (forced): ${originalDir}: expected the backbone with weights sha256 ${tunedHash}`)]);
    forced.dispose();
  });

  it('documents a configuration that validates and an example that loads the tuned backbone', async () => {
    const markdown = readFileSync(join(__dirname, '..', '..', 'docs', 'mt-a.md'), 'utf8');
    const config = validateConfig(ExtractionConfig, parseYaml(/```yaml\n([\s\S]*?)```/.exec(markdown)?.[1] ?? ''));
    expect(config).toMatchObject({ mode: 'mt-a', sampler: 'annealed', training: { learningRate: 2e-5, gradientAccumulationSteps: 4 } });
    const source = (/```ts\n([\s\S]*?)```/.exec(markdown)?.[1] ?? '').replace("'runs/glue-mt-a'", JSON.stringify(run.root));
    const { outputText } = ts.transpileModule(`${source}\nexports.backbone = backbone;`, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...names: string[]) => (...args: unknown[]) => Promise<void>;
    const exported: { backbone?: BertModel } = {};
    await new AsyncFunction('require', 'exports', outputText)((name: string) => (name === 'adapterfusion' ? api : undefined), exported);
    expect(exported.backbone?.checkpointHash).toBe(run.readManifest().stages['mt-a']?.backboneHash);
    exported.backbone?.dispose();
  });

  it('skips a finished run and refuses a run directory holding ST-A adapters', async () => {
    const stage = new MultiTaskExtractionStage(taskRegistry(createContainer(MODULES)), validateConfig(ExtractionConfig, RAW_CONFIG));
    const again = await stage.run({ run, baseDir: root, log: () => undefined });
    expect(again).toEqual(results.map((result) => ({ ...result, skipped: true })));

    await expect(stage.run({ run, baseDir: root, only: ['mood'] })).rejects.toThrow('MT-A trains every task of the configuration jointly; expected no task selection, got mood');
    const singleTaskConfig = new MultiTaskExtractionStage(taskRegistry(createContainer(MODULES)), validateConfig(ExtractionConfig, { ...RAW_CONFIG, mode: 'st-a' }));
    await expect(singleTaskConfig.run({ run, baseDir: root })).rejects.toThrow('MultiTaskExtractionStage runs MT-A; a configuration with mode "st-a" runs with ExtractionStage');

    const singleTask = new RunDirectory(join(root, 'st-a'));
    singleTask.recordStage('extract/mood', { config: {} });
    await expect(stage.run({ run: singleTask, baseDir: root })).rejects.toThrow(
      `${singleTask.manifestPath}: expected a run without ST-A adapters, got extract/mood; MT-A tunes the backbone, so its adapters need a run directory of their own`,
    );
    await expect(backboneForAdapters(singleTask, undefined)).rejects.toThrow('the run holds ST-A adapters and no tuned backbone');
    singleTask.updateManifest({ backboneHash: 'f'.repeat(64), backbonePath: 'models/other' });
    await expect(backboneForAdapters(singleTask, join(root, 'backbone'))).rejects.toThrow(
      `expected the backbone with weights sha256 ${'f'.repeat(64)}, got sha256 ${sha256(join(root, 'backbone', 'model.safetensors'))}; the adapters in ${singleTask.root} were extracted from models/other`,
    );
  });
});

describe('planMtaEpoch', () => {
  const encoded = (count: number): EncodedExample[] =>
    Array.from({ length: count }, (_, i) => ({ id: String(i), rows: [{ inputIds: [2, 5 + (i % 7), 3], tokenTypeIds: [0, 0, 0], attentionMask: [1, 1, 1] }], label: i % 2 }));
  const train = new Map([['big', encoded(50)], ['small', encoded(10)]]);
  const options = { sampler: 'proportional' as const, epoch: 1, epochs: 3, batchSize: 4, gradientAccumulationSteps: 2, seed: 9, padTokenId: 0 };

  it('fills whole optimizer steps of one task each, and gives the same plan for the same epoch', () => {
    const plan = planMtaEpoch(train, options);
    // ⌈50/4⌉ + ⌈10/4⌉ = 16 micro-batches: 8 steps of 2.
    expect(plan).toHaveLength(16);
    for (let i = 0; i < plan.length; i += 2) expect(plan[i]?.task).toBe(plan[i + 1]?.task);
    expect(planMtaEpoch(train, options)).toEqual(plan);
    expect(planMtaEpoch(train, { ...options, epoch: 2 })).not.toEqual(plan);
    // A task's batches are used in turn: the first 13 batches of "big" hold 50 distinct examples.
    const bigIds = plan.filter((item) => item.task === 'big').slice(0, 13).flatMap((item) => item.batch.ids);
    expect(new Set(bigIds).size).toBe(Math.min(50, bigIds.length));
  });

  it('visits the tasks in turn with the round-robin sampler', () => {
    const plan = planMtaEpoch(train, { ...options, sampler: 'round-robin', gradientAccumulationSteps: 1 });
    expect(plan.slice(0, 4).map((item) => item.task)).toEqual(['big', 'small', 'big', 'small']);
  });
});

describe('adapterfusion extract --mode', () => {
  it("overrides the configuration's mode and accepts only st-a or mt-a", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-mt-a-cli-'));
    const file = join(dir, 'extract.json');
    writeFileSync(file, JSON.stringify({ backbone: 'backbone', tasks: [{ id: 'mood', dataDir: '.' }] }));
    const errors: string[] = [];
    const io = { out: () => undefined, err: (text: string) => void errors.push(text) };
    // The configuration says st-a; --mode mt-a reaches the MT-A stage, which refuses a task selection before loading anything.
    expect(await runProgram(BUILTIN_MODULES, ['extract', '--config', file, '--mode', 'mt-a', '--tasks', 'mood', '--run', join(dir, 'run')], io)).toBe(1);
    expect(errors.join('')).toContain('error: MT-A trains every task of the configuration jointly; expected no task selection, got mood');
    expect(await runProgram(BUILTIN_MODULES, ['extract', '--config', file, '--mode', 'joint'], io)).toBe(2);
    expect(errors.join('')).toContain("option '--mode <mode>' argument 'joint' is invalid. Allowed choices are st-a, mt-a.");
  });
});

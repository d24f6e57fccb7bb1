import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { BottleneckAdapter } from '../adapters/bottleneck-adapter';
import { BertModel } from '../backbone/bert-model';
import { batchToTensors } from '../data/batch-to-tensors';
import type { EncodedExample } from '../data/encode-examples';
import { makeBatches, type Batch } from '../data/make-batches';
import { createHead, type PredictionHead } from '../heads/prediction-head';
import { writeFileAtomic } from '../io/atomic';
import { MAX_TEXT_FILE_BYTES, readFileBounded } from '../io/read-file';
import { MTA_STAGE_KEY, type RunDirectory } from '../io/run-directory';
import { metricNamed } from '../task/metrics';
import type { TaskPlugin } from '../task/task-plugin';
import type { TaskRegistry } from '../task/task-registry';
import { checkTokenizerFitsModel, loadTokenizer } from '../tokenizer/load-tokenizer';
import { resolveModelPath } from '../hub/resolve-model-path';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { Trainer, trainingRecord, type TrainResult } from '../training/trainer';
import type { ExtractionConfig, ExtractionTaskConfig } from './extraction-config';
import { fingerprintOf, loadTaskData, taskLoss } from '../data/task-data';
import { evaluateTask, logitsOf, recordEnvironment, type ExtractionRunOptions, type ExtractionTaskResult } from './extraction-stage';
import { TaskSampler, type SamplerKind } from './task-sampler';

/** Tokenizer files copied beside the tuned backbone, so that `<run>/backbone` is a complete model directory. */
const TOKENIZER_FILES = ['vocab.txt', 'tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];

/** One MT-A micro-batch: a batch of one task's training examples. */
export interface TaskBatch {
  task: string;
  batch: Batch;
}

/** How `planMtaEpoch` lays out an epoch. */
export interface MtaEpochOptions {
  /** How each optimizer step's task is drawn. */
  sampler: SamplerKind;
  /** 0-based epoch, and the number of epochs (the annealed sampler's α depends on both). */
  epoch: number;
  epochs: number;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step; all of a step's micro-batches come from the step's task. */
  gradientAccumulationSteps: number;
  /** The run's seed; the epoch's draws and shuffles use `seed + epoch`. */
  seed: number;
  /** Id that pads the batches' token ids. */
  padTokenId: number;
}

/**
 * The micro-batches of one MT-A epoch, a pure function of its arguments (so a resumed run sees the same epoch):
 * as many optimizer steps as all tasks' batches fill (Σ_i ⌈N_i / batchSize⌉ micro-batches), each step's task drawn by
 * the sampler, each task's batches taken in an order shuffled for the epoch and started over when used up.
 *
 * @example
 * const plan = planMtaEpoch(new Map([['rte', rteTrain], ['mnli', mnliTrain]]), {
 *   sampler: 'annealed', epoch: 0, epochs: 3, batchSize: 32, gradientAccumulationSteps: 1, seed: 42, padTokenId: 0,
 * });
 */
export function planMtaEpoch(train: ReadonlyMap<string, readonly EncodedExample[]>, options: MtaEpochOptions): TaskBatch[] {
  const { batchSize, gradientAccumulationSteps: accumulation, epoch } = options;
  const seed = options.seed + epoch;
  const sizes = Object.fromEntries([...train].map(([task, examples]) => [task, examples.length]));
  const sampler = new TaskSampler(options.sampler, sizes, { epochs: options.epochs, seed });
  const batches = new Map([...train].map(([task, examples]) => [task, makeBatches(examples, { batchSize, shuffle: true, seed, padTokenId: options.padTokenId })]));
  const taken = new Map<string, number>();
  const microBatches = [...batches.values()].reduce((sum, list) => sum + list.length, 0);
  const plan: TaskBatch[] = [];
  for (let step = 0; step < Math.ceil(microBatches / accumulation); step++) {
    const task = sampler.next(epoch);
    const list = batches.get(task) as Batch[];
    for (let k = 0; k < accumulation; k++) {
      const index = taken.get(task) ?? 0;
      taken.set(task, index + 1);
      plan.push({ task, batch: list[index % list.length] as Batch });
    }
  }
  return plan;
}

/** What MT-A trains and evaluates for one task. */
interface JointTask {
  id: string;
  plugin: TaskPlugin;
  train: EncodedExample[];
  devBatches: Batch[];
  adapter: BottleneckAdapter;
  head: PredictionHead;
  loss: (logits: tf.Tensor, labels: tf.Tensor) => tf.Scalar;
}

/** The metrics of one task, from MT-A's joint record (`<task>/<metric>` keys). */
function taskMetrics(metrics: Record<string, number>, task: string): Record<string, number> {
  const prefix = `${task}/`;
  return Object.fromEntries(Object.entries(metrics).filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [key.slice(prefix.length), value]));
}

/**
 * Multi-task adapter extraction (MT-A) as the AdapterFusion paper defines it, after Stickland & Murray (2019): every
 * task's adapter and head are trained in ONE loop together with the backbone itself. Each optimizer step draws a task
 * with the configured sampler (`annealed` by default) and takes that task's next batch through the backbone, that
 * task's adapter and its head. After every epoch each task is evaluated on its dev split; the best weights and early
 * stopping follow the mean of the tasks' first metrics. The tuned backbone is saved to `<run>/backbone` (Hugging Face
 * layout) with its sha256 in the manifest, the adapters and heads where ST-A puts them; fusion over these adapters
 * must use that backbone (`backboneForAdapters`). The paper's learning rate for MT-A is 2e-5.
 *
 * @example
 * const config = loadConfigFile(ExtractionConfig, 'mt-a.yaml'); // mode: mt-a, sampler: annealed, training: { learningRate: 2e-5 }
 * const stage = new MultiTaskExtractionStage(taskRegistry(createContainer([tasksModule])), config);
 * const results = await stage.run({ run: new RunDirectory('runs/glue-mt-a'), baseDir: '.' });
 */
export class MultiTaskExtractionStage {
  constructor(
    private readonly tasks: TaskRegistry,
    private readonly config: ExtractionConfig,
  ) {}

  /** Trains every task of the configuration jointly (or skips them when the run already has MT-A); one result per task. */
  async run(options: ExtractionRunOptions): Promise<ExtractionTaskResult[]> {
    const { run } = options;
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const path = (file: string) => (isAbsolute(file) ? file : resolve(options.baseDir ?? process.cwd(), file));
    const tasks = this.config.tasks;
    if (this.config.mode !== 'mt-a') throw new Error(`MultiTaskExtractionStage runs MT-A; a configuration with mode "${this.config.mode}" runs with ExtractionStage`);
    if (options.only) throw new Error(`MT-A trains every task of the configuration jointly; expected no task selection, got ${options.only.join(', ')}`);
    const result = (task: string, skipped: boolean, metrics: Record<string, number>): ExtractionTaskResult =>
      ({ task, skipped, metrics: taskMetrics(metrics, task), adapterDir: run.adapterDir(task), headDir: run.headDir(task) });

    const manifest = run.readManifest();
    const done = run.completedStage(MTA_STAGE_KEY, log);
    if (done) {
      log(`mt-a: already done in ${run.root}, skipped (dev ${JSON.stringify(done.metrics ?? {})})`);
      return tasks.map((task) => result(task.id, true, done.metrics ?? {}));
    }
    const singleTask = Object.keys(manifest.stages).filter((key) => key.startsWith('extract/'));
    if (singleTask.length > 0) {
      throw new Error(`${run.manifestPath}: expected a run without ST-A adapters, got ${singleTask.join(', ')}; MT-A tunes the backbone, so its adapters need a run directory of their own`);
    }
        const plugins = tasks.map((task) => this.tasks.get(task.id)); // unknown ids fail before anything loads

    const baseDir = options.baseDir ?? process.cwd();
    const backboneDir = await resolveModelPath(this.config.backbone, { baseDir });
    const backbone = await BertModel.fromPretrained(backboneDir);
    const models: JointTask[] = [];
    try {
      const tokenizerDir = this.config.tokenizer ? await resolveModelPath(this.config.tokenizer, { baseDir }) : backboneDir;
      const tokenizer = await loadTokenizer(tokenizerDir);
      checkTokenizerFitsModel(tokenizer, tokenizerDir, backbone.config, backboneDir);
      recordEnvironment(run, backbone, backboneDir, options.backend);
      for (const [i, task] of tasks.entries()) {
        models.push(await this.taskModel(task, plugins[i] as TaskPlugin, backbone, tokenizer, path(task.dataDir), log));
      }
      const fitted = await this.train(models, backbone, tokenizer.padTokenId, { ...options, log });
      const files = await this.save(models, backbone, tokenizerDir, run);
      const { training, seed, sampler } = this.config;
      run.recordStage(MTA_STAGE_KEY, {
        config: { mode: 'mt-a', sampler, tasks, adapter: this.config.adapter, training, maxLength: this.config.maxLength, backbone: this.config.backbone },
        seed,
        ...trainingRecord(fitted),
        backboneHash: backbone.checkpointHash,
        files,
      });
      log(`mt-a: saved the tuned backbone (sha256 ${backbone.checkpointHash ?? ''}), ${models.length} adapters and heads (dev mean ${(fitted.bestMetrics.mean ?? NaN).toFixed(4)})`);
      return models.map((model) => result(model.id, false, fitted.bestMetrics));
    } finally {
      for (const model of models) {
        model.adapter.dispose();
        model.head.dispose();
      }
      backbone.dispose();
    }
  }

  /**
   * Trains backbone, adapters and heads in one loop until the epochs are done or early stopping ends it; they then
   * hold the best evaluated weights.
   */
  private async train(models: readonly JointTask[], backbone: BertModel, padTokenId: number, options: ExtractionRunOptions & { log: (line: string) => void }): Promise<TrainResult> {
    const { run } = options;
    const { training, seed, sampler } = this.config;
    const byId = new Map(models.map((model) => [model.id, model]));
    const trainable = new Map([...backbone.weights, ...models.flatMap((model) => [...model.adapter.variables, ...model.head.variables])]);
    const trainer = new Trainer<TaskBatch>({
      config: training,
      trainable,
      frozen: new Map(),
      loss: ({ task, batch }, { random }) => {
        const model = byId.get(task) as JointTask;
        const tensors = batchToTensors(batch, model.plugin.head);
        return model.loss(logitsOf(backbone, model.adapter, model.head, tensors, true, random.int(2 ** 31)), tensors.labels as tf.Tensor);
      },
      evaluate: async () => this.evaluate(models, backbone),
      primaryMetric: 'mean',
      checkpointDir: run.checkpointDir(MTA_STAGE_KEY, 'joint'),
      metricsLog: run.metricsFile(MTA_STAGE_KEY, 'joint'),
      log: options.log,
      fingerprint: Object.assign(
        { configuration: fingerprintOf([{ ...this.config, backboneHash: backbone.checkpointHash }]) },
        ...models.map((model) => ({ [`training data of ${model.id}`]: fingerprintOf(model.train), [`evaluation data of ${model.id}`]: fingerprintOf(model.devBatches) })),
      ) as Record<string, string>,
      ...(options.progress === undefined ? {} : { progress: options.progress }),
    });
    try {
      const train = new Map(models.map((model) => [model.id, model.train]));
      const epochOptions = { sampler, epochs: training.epochs, batchSize: training.batchSize, gradientAccumulationSteps: training.gradientAccumulationSteps, seed, padTokenId };
      return await trainer.fit((epoch) => planMtaEpoch(train, { ...epochOptions, epoch }), { resume: options.resume === true, restart: options.restart === true });
    } finally {
      trainer.dispose();
    }
  }

  /**
   * Writes the tuned backbone (with the tokenizer files, so that `<run>/backbone` is a complete model directory), the
   * adapters and the heads; returns their paths relative to the run directory.
   */
  private async save(models: readonly JointTask[], backbone: BertModel, tokenizerDir: string, run: RunDirectory): Promise<Record<string, unknown>> {
    await backbone.save(run.backboneDir());
    for (const file of TOKENIZER_FILES) {
      if (existsSync(join(tokenizerDir, file))) writeFileAtomic(join(run.backboneDir(), file), readFileBounded(join(tokenizerDir, file), MAX_TEXT_FILE_BYTES));
    }
    for (const model of models) {
      await model.adapter.save(run.adapterDir(model.id));
      await model.head.save(run.headDir(model.id));
    }
    const files = (dir: (task: string) => string) => Object.fromEntries(models.map((model) => [model.id, relative(run.root, dir(model.id))]));
    return { backbone: relative(run.root, run.backboneDir()), adapters: files((task) => run.adapterDir(task)), heads: files((task) => run.headDir(task)) };
  }

  /** Reads and encodes one task's data and creates its adapter and head, seeded as ST-A seeds them. */
  private async taskModel(
    task: ExtractionTaskConfig,
    plugin: TaskPlugin,
    backbone: BertModel,
    tokenizer: Tokenizer,
    dataDir: string,
    log: (line: string) => void,
  ): Promise<JointTask> {
    const { seed } = this.config;
    const maxLength = task.maxLength ?? this.config.maxLength;
    const { train, devBatches } = await loadTaskData(plugin, tokenizer, { dataDir, maxExamples: task.maxExamples, skipBadLines: task.skipBadLines, maxLength, batchSize: this.config.training.batchSize, seed, stage: 'MT-A' });
    log(`mt-a ${task.id}: ${train.length} training examples, ${devBatches.length} dev batches from ${dataDir}`);
    const adapter = BottleneckAdapter.create(task.id, this.config.adapter, backbone, seed);
    const head = createHead(task.id, plugin.head, backbone.config.hiddenSize, seed + 1, { dropoutProb: backbone.config.hiddenDropoutProb, modelType: backbone.config.modelType });
    const loss = taskLoss(plugin, head);
    return { id: task.id, plugin, train, devBatches, adapter, head, loss };
  }

  /**
   * Every task's dev metrics as `<task>/<metric>`, after `mean`: the mean of the tasks' first metrics (negated where
   * lower is better), which selects the best weights and drives early stopping.
   */
  private async evaluate(models: readonly JointTask[], backbone: BertModel): Promise<Record<string, number>> {
    const metrics: Record<string, number> = {};
    let sum = 0;
    for (const model of models) {
      const scores = await evaluateTask(model.devBatches, model.plugin, backbone, model.adapter, model.head);
      for (const [name, value] of Object.entries(scores)) metrics[`${model.id}/${name}`] = value;
      const primary = model.plugin.metrics[0] as string;
      sum += (metricNamed(primary).higherIsBetter ? 1 : -1) * (scores[primary] as number);
    }
    return { mean: sum / models.length, ...metrics };
  }
}

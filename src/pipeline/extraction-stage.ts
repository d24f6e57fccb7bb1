import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { packageVersion } from '../adapters/adapterhub-files';
import { BottleneckAdapter } from '../adapters/bottleneck-adapter';
import { LoraModule } from '../adapters/lora';
import { BertModel } from '../backbone/bert-model';
import type { BackendInfo } from '../backend/backend';
import { batchToTensors } from '../data/batch-to-tensors';
import { makeBatches, type Batch } from '../data/make-batches';
import { createHead, type PredictionHead } from '../heads/prediction-head';
import { extractionStageKey, MTA_STAGE_KEY, type RunDirectory } from '../io/run-directory';
import type { TaskPlugin } from '../task/task-plugin';
import type { TaskRegistry } from '../task/task-registry';
import { scorePredictions } from '../task/metrics';
import { checkTokenizerFitsModel, loadTokenizer } from '../tokenizer/load-tokenizer';
import { resolveModelPath } from '../hub/resolve-model-path';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { Trainer, trainingRecord } from '../training/trainer';
import type { ExtractionConfig, ExtractionTaskConfig } from './extraction-config';
import { loadTaskData, taskLoss, trainingFingerprint } from '../data/task-data';
import { predictWithModel } from './task-model';

/** How one extraction run goes. */
export interface ExtractionRunOptions {
  /** Where adapters, heads, metrics, checkpoints and the manifest go. */
  run: RunDirectory;
  /** Extract only these task ids (each must be in the config); default: every task, in config order. */
  only?: readonly string[];
  /** Continue an interrupted task from its checkpoint instead of starting it over. */
  resume?: boolean;
  /** Discard the checkpoint of an interrupted task and start it over (without this or `resume`, such a checkpoint is an error). */
  restart?: boolean;
  /** Directory that relative paths of the config are resolved against (the config file's); default: the working directory. */
  baseDir?: string;
  /** The running backend, recorded in the manifest. */
  backend?: BackendInfo;
  /** Receives log lines; default: stderr. */
  log?: (line: string) => void;
  /** Draw a progress bar when stderr is a terminal (default true). */
  progress?: boolean;
}

/** What extraction did for one task. */
export interface ExtractionTaskResult {
  task: string;
  /** True when the task was already recorded as done and was left as it was. */
  skipped: boolean;
  /** Dev metrics of the saved (best) weights. */
  metrics: Record<string, number>;
  adapterDir: string;
  headDir: string;
}

/**
 * The logits of a batch: the backbone with the adapter hooked in, then the head. In training, `seed` draws the
 * dropout masks (the backbone's from `seed`, the head's from `seed + 1`) so that a step is repeatable.
 */
export function logitsOf(backbone: BertModel, adapter: Pick<BottleneckAdapter, 'hook'>, head: PredictionHead, tensors: ReturnType<typeof batchToTensors>, training: boolean, seed?: number): tf.Tensor {
  const { inputIds, attentionMask, tokenTypeIds } = tensors;
  const output = backbone.forward({ inputIds, attentionMask, tokenTypeIds }, { training, hook: adapter.hook(), dropoutSeed: seed, firstTokenOnly: head.readsFirstTokenOnly });
  return head.forward(output.lastHiddenState, output.pooledOutput, training, seed === undefined ? undefined : seed + 1);
}

/**
 * Writes the backbone (sha256 and path) and the environment (package, Node and tfjs versions, backend) to the run's
 * manifest, refusing a run directory that was made with another backbone.
 */
export function recordEnvironment(run: RunDirectory, backbone: BertModel, backbonePath: string, backend?: BackendInfo): void {
  const manifest = run.readManifest();
  const hash = backbone.checkpointHash;
  if (manifest.backboneHash !== undefined && manifest.backboneHash !== hash) {
    throw new Error(
      `${run.manifestPath}: this run was made with the backbone ${manifest.backbonePath ?? ''} (sha256 ${manifest.backboneHash}), ` +
        `but ${backbonePath} has sha256 ${hash ?? 'unknown'}; use another run directory`,
    );
  }
  const environment: Record<string, string> = { adapterfusion: packageVersion(), node: process.version, ...(backend?.versions ?? {}) };
  if (backend) environment.backend = backend.name;
  run.updateManifest({ ...(hash === undefined ? {} : { backboneHash: hash }), backbonePath, environment });
}

/** A task's metrics on its (labelled) dev batches, in inference mode. */
export async function evaluateTask(batches: readonly Batch[], plugin: TaskPlugin, backbone: BertModel, adapter: Pick<BottleneckAdapter, 'hook'>, head: PredictionHead): Promise<Record<string, number>> {
  return scorePredictions(plugin.head, plugin.metrics, await predictWithModel({ backbone, head, hook: adapter.hook() }, batches));
}

/**
 * Single-task adapter extraction (ST-A): for each task, a new bottleneck adapter and head are trained on the task's
 * training split with the backbone frozen, selected on the dev split by the task's first metric (early stopping),
 * and saved in AdapterHub's layout in the run directory, which also records metrics, checkpoints and the manifest
 * (backbone hash, configuration, seed, versions, backend). Tasks already recorded as done are skipped.
 *
 * @example
 * const stage = new ExtractionStage(taskRegistry(createContainer([tasksModule])), loadConfigFile(ExtractionConfig, 'extract.yaml'));
 * const results = await stage.run({ run: new RunDirectory('runs/glue'), baseDir: '.' });
 */
export class ExtractionStage {
  constructor(
    private readonly tasks: TaskRegistry,
    private readonly config: ExtractionConfig,
  ) {}

  /** Extracts every selected task in config order; returns what happened to each. */
  async run(options: ExtractionRunOptions): Promise<ExtractionTaskResult[]> {
    if (this.config.mode !== 'st-a') throw new Error(`ExtractionStage runs ST-A; a configuration with mode "${this.config.mode}" runs with MultiTaskExtractionStage`);
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const path = (file: string) => (isAbsolute(file) ? file : resolve(options.baseDir ?? process.cwd(), file));
    const tasks = this.selectedTasks(options.only);
        const plugins = tasks.map((task) => this.tasks.get(task.id)); // unknown ids fail before anything loads
    if (options.run.isDone(MTA_STAGE_KEY)) {
      throw new Error(`${options.run.manifestPath}: expected a run without MT-A results, got stage "${MTA_STAGE_KEY}"; ST-A adapters belong to the frozen backbone, so they need a run directory of their own`);
    }

    const absent = tasks.filter((task) => !existsSync(path(task.dataDir)));
    if (absent.length > 0) throw new Error(`tasks ${absent.map((task) => `${task.id} (dataDir ${path(task.dataDir)})`).join(', ')}: the data directory does not exist`);

    const baseDir = options.baseDir ?? process.cwd();
    const backboneDir = await resolveModelPath(this.config.backbone, { baseDir });
    const backbone = await BertModel.fromPretrained(backboneDir);
    try {
      const tokenizerDir = this.config.tokenizer ? await resolveModelPath(this.config.tokenizer, { baseDir }) : backboneDir;
      const tokenizer = await loadTokenizer(tokenizerDir);
      checkTokenizerFitsModel(tokenizer, tokenizerDir, backbone.config, backboneDir);
      recordEnvironment(options.run, backbone, backboneDir, options.backend);
      const results: ExtractionTaskResult[] = [];
      for (const [i, task] of tasks.entries()) {
        const plugin = plugins[i] as TaskPlugin;
        const run = options.run;
        const done = run.completedStage(extractionStageKey(task.id), log);
        if (done) {
          log(`extract ${task.id}: already done in ${run.root}, skipped (dev ${JSON.stringify(done.metrics ?? {})})`);
          results.push({ task: task.id, skipped: true, metrics: done.metrics ?? {}, adapterDir: run.adapterDir(task.id), headDir: run.headDir(task.id) });
          continue;
        }
        results.push(await this.extract(task, plugin, backbone, tokenizer, { ...options, log, dataDir: path(task.dataDir) }));
      }
      return results;
    } finally {
      backbone.dispose();
    }
  }

  private selectedTasks(only: readonly string[] | undefined): ExtractionTaskConfig[] {
    if (!only) return this.config.tasks;
    const known = this.config.tasks.map((task) => task.id);
    const unknown = only.filter((id) => !known.includes(id));
    if (unknown.length > 0) throw new Error(`tasks ${unknown.join(', ')}: not in the configuration; its tasks are ${known.join(', ')}`);
    return this.config.tasks.filter((task) => only.includes(task.id));
  }

  private async extract(
    task: ExtractionTaskConfig,
    plugin: TaskPlugin,
    backbone: BertModel,
    tokenizer: Tokenizer,
    options: ExtractionRunOptions & { log: (line: string) => void; dataDir: string },
  ): Promise<ExtractionTaskResult> {
    const { run, log } = options;
    const { training, seed } = this.config;
    const maxLength = task.maxLength ?? this.config.maxLength;
    const { train, dev, devBatches } = await loadTaskData(plugin, tokenizer, { dataDir: options.dataDir, maxExamples: task.maxExamples, skipBadLines: task.skipBadLines, maxLength, batchSize: training.batchSize, seed, stage: 'extraction' });
    const batching = { batchSize: training.batchSize, padTokenId: tokenizer.padTokenId };
    log(`extract ${task.id}: ${train.length} training and ${dev.length} dev examples from ${options.dataDir}`);
    const { lora } = this.config;
    const stageConfig = { task, ...(lora ? { lora } : { adapter: this.config.adapter }), training, maxLength, backbone: this.config.backbone };

    const adapter = lora ? LoraModule.create(task.id, lora, backbone, seed) : BottleneckAdapter.create(task.id, this.config.adapter, backbone, seed);
    const head = createHead(task.id, plugin.head, backbone.config.hiddenSize, seed + 1, { dropoutProb: backbone.config.hiddenDropoutProb, modelType: backbone.config.modelType });
    const adapterParameters = adapter.parameterCount();
    const share = (100 * adapterParameters) / backbone.parameterCount();
    log(`extract ${task.id}: adapter ${adapterParameters} parameters (${share.toFixed(2)}% of the backbone's ${backbone.parameterCount()}), head ${head.parameterCount()}`);

    const loss = taskLoss(plugin, head);
    const trainer = new Trainer<Batch>({
      config: training,
      trainable: new Map([...adapter.variables, ...head.variables]),
      frozen: backbone.weights,
      loss: (batch, { random }) => {
        const tensors = batchToTensors(batch, plugin.head);
        return loss(logitsOf(backbone, adapter, head, tensors, true, random.int(2 ** 31)), tensors.labels as tf.Tensor);
      },
      evaluate: async () => evaluateTask(devBatches, plugin, backbone, adapter, head),
      primaryMetric: plugin.metrics[0],
      checkpointDir: run.checkpointDir('extract', task.id),
      metricsLog: run.metricsFile('extract', task.id),
      log,
      fingerprint: trainingFingerprint({ train, dev }, { ...stageConfig, seed, backboneHash: backbone.checkpointHash }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
    });
    try {
      const result = await trainer.fit((epoch) => makeBatches(train, { ...batching, shuffle: true, seed: seed + epoch }), { resume: options.resume === true, restart: options.restart === true });
      await adapter.save(run.adapterDir(task.id));
      await head.save(run.headDir(task.id));
      run.recordStage(extractionStageKey(task.id), {
        config: stageConfig,
        seed,
        ...trainingRecord(result),
        adapterParameters,
        adapterPercentOfBackbone: Number(share.toFixed(4)),
        files: { adapter: relative(run.root, run.adapterDir(task.id)), head: relative(run.root, run.headDir(task.id)) },
      });
      log(`extract ${task.id}: saved adapter and head (dev ${Object.entries(result.bestMetrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')})`);
      return { task: task.id, skipped: false, metrics: result.bestMetrics, adapterDir: run.adapterDir(task.id), headDir: run.headDir(task.id) };
    } finally {
      trainer.dispose();
      adapter.dispose();
      head.dispose();
    }
  }
}

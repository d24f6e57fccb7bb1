import { appendFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import {
  ADAPTER_CONFIG_FILE,
  backboneForAdapters,
  BottleneckAdapter,
  checkTokenizerFitsModel,
  createHead,
  inject,
  injectable,
  isTaskId,
  loadTaskData,
  loadTokenizer,
  makeBatches,
  fusionStageKey,
  resolveModelPath,
  RunDirectory,
  TaskRegistryToken,
  taskLoss,
  trainingFingerprint,
  trainingRecord,
  type FitOptions,
  type Stage,
  type Batch,
  type StageContext,
  type TaskPlugin,
  type TaskRegistry,
} from '../src/index';
import { AdapterFusion } from './adapter-fusion';
import type { FusionFileExtras } from './adapter-fusion-loader';
import { AttentionRecorder, type SiteAttention } from './attention-recorder';
import { AttentionAggregator } from './attention-report';
import type { AttentionSnapshot } from './explorer-data';
import { FusionConfig, SMALLEST_STABLE_FUSION_BATCH } from './fusion-config';
import { createFusionTrainer, evaluateBatches, FusionTemperature, type FusionModel, type TemperatureRecord } from './fusion-model';

/** What the stage records in the manifest besides the common fields; the inspector reads it back. */
export interface FusionStageRecord {
  /** The validated configuration with every path made absolute. */
  config: FusionConfig;
  /** Adapter names and directories (relative to the run directory), in fusion order. */
  adapters: string[];
  adapterDirs: string[];
  backbone: string;
  backboneHash?: string;
  /** The temperature schedule, and the temperature of the kept weights. */
  temperature: TemperatureRecord;
}

/** What a finished fusion stage produced. */
export interface FusionResult {
  target: string;
  /** True when the run directory already held this target's fusion, which was left as it was. */
  skipped: boolean;
  /** Directory of the trained fusion (AdapterHub layout), with the target head in `head/`. */
  fusionDir: string;
  /** Dev metrics of the kept (best) weights. */
  metrics: Record<string, number>;
  /** Optimizer steps done. */
  steps: number;
}

/** The mean attention of one recorded evaluation: `sites` holds each batch's sites in the order they ran. */
function attentionSnapshot(step: number, adapters: readonly string[], sites: readonly SiteAttention[], batches: readonly Batch[]): AttentionSnapshot {
  const aggregator = new AttentionAggregator(adapters);
  const perBatch = sites.length / batches.length;
  batches.forEach((batch, b) => aggregator.add(sites.slice(b * perBatch, (b + 1) * perBatch), batch.ids.map((id) => ({ id }))));
  const { sites: means, overall } = aggregator.group();
  return { step, sites: means, overall };
}

const stderrLog = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * The fusion stage (`fuse`; Pfeiffer et al. 2021, stage 2): AdapterFusion over frozen adapters for a target task. Only
 * the fusion layers and the target head train; the backbone and every adapter stay as they are. Writes the fusion in
 * AdapterHub's layout (`<run>/fusion/<target>/`, head in `head/`), the metrics log and the manifest record.
 *
 * @example
 * const fuse = stageRegistry(container).get<FusionConfig, FusionResult>('fuse');
 * const config = loadConfigFile(FusionConfig, 'fuse.yaml');
 * await fuse.run(config, { run: new RunDirectory('runs/glue'), baseDir: '.', source: 'fuse.yaml' });
 */
@injectable()
export class FusionStage implements Stage<FusionConfig, FusionResult> {
  readonly id = 'fuse';

  constructor(@inject(TaskRegistryToken) private readonly tasks: TaskRegistry) {}

  /** The target task is registered and every adapter is on disk or extracted by an earlier stage of the pipeline. */
  check(config: FusionConfig, context: StageContext): void {
    this.tasks.get(config.target);
    config.adapters.forEach((entry, i) => {
      if (!context.extracting?.includes(entry)) this.adapterDir(entry, i, context);
    });
  }

  async run(config: FusionConfig, context: StageContext): Promise<FusionResult> {
    const log = context.log ?? stderrLog;
    const path = (file: string) => (isAbsolute(file) ? file : resolve(context.baseDir, file));
    const { run } = context;
    const plugin = this.tasks.get(config.target);
    const done = run.completedStage(fusionStageKey(config.target), log);
    if (done) {
      log(`fuse ${config.target}: already done in ${run.root}, skipped (${config.evalSplit} ${JSON.stringify(done.metrics ?? {})}); use another run directory to train it again`);
      return { target: config.target, skipped: true, fusionDir: run.fusionDir(config.target), metrics: done.metrics ?? {}, steps: Number(done.steps ?? 0) };
    }
    const modelDir = (pathOrId: string): Promise<string> => resolveModelPath(pathOrId, { baseDir: context.baseDir });
    const backboneDir = config.backbone === undefined ? run.backboneDir() : await modelDir(config.backbone);
    const adapterDirs = config.adapters.map((entry, i) => this.adapterDir(entry, i, context));
    const resolved: FusionConfig = Object.assign(new FusionConfig(), config, {
      run: run.root,
      dataDir: path(config.dataDir),
      adapters: adapterDirs,
      backbone: backboneDir,
      tokenizer: config.tokenizer === undefined ? backboneDir : await modelDir(config.tokenizer),
      modules: config.modules.map((module) => (module.startsWith('.') ? path(module) : module)),
    });

    // The backbone the run's adapters were trained on (an MT-A run's tuned one by default); another is refused.
    const backbone = await backboneForAdapters(run, config.backbone === undefined ? undefined : backboneDir, { warn: log });
    const adapters: BottleneckAdapter[] = [];
    try {
      if (run.readManifest().backboneHash === undefined && backbone.checkpointHash !== undefined) {
        run.updateManifest({ backboneHash: backbone.checkpointHash, backbonePath: backboneDir });
      }
      for (const dir of adapterDirs) adapters.push(await BottleneckAdapter.load(dir, backbone));
      return await this.train(resolved, plugin, run, { backbone, adapters }, { resume: context.resume === true, restart: context.restart === true }, log);
    } finally {
      for (const adapter of adapters) adapter.dispose();
      backbone.dispose();
    }
  }

  private async train(
    config: FusionConfig,
    plugin: TaskPlugin,
    run: RunDirectory,
    frozen: Pick<FusionModel, 'backbone' | 'adapters'>,
    checkpoint: FitOptions,
    log: (line: string) => void,
  ): Promise<FusionResult> {
    const { backbone, adapters } = frozen;
    const { training, target } = config;
    const seed = training.seed;
    const tokenizer = await loadTokenizer(config.tokenizer as string);
    checkTokenizerFitsModel(tokenizer, config.tokenizer as string, backbone.config, config.backbone as string);
    const { train, dev, devBatches } = await loadTaskData(plugin, tokenizer, {
      dataDir: config.dataDir,
      maxExamples: config.maxExamples,
      skipBadLines: config.skipBadLines,
      maxLength: config.maxLength,
      batchSize: training.batchSize,
      seed,
      trainSplit: config.trainSplit,
      devSplit: config.evalSplit,
      stage: 'fusion',
    });
    const batching = { batchSize: training.batchSize, padTokenId: tokenizer.padTokenId };
    const stepsPerEpoch = Math.ceil(Math.ceil(train.length / training.batchSize) / training.gradientAccumulationSteps);
    const totalSteps = training.maxSteps ?? stepsPerEpoch * training.epochs;

    const settings = config.fusion;
    const fusion = AdapterFusion.create(adapters, settings, backbone, seed);
    const head = createHead(target, plugin.head, backbone.config.hiddenSize, seed + 1, { dropoutProb: backbone.config.hiddenDropoutProb, modelType: backbone.config.modelType });
    const model: FusionModel = { backbone, adapters, fusion, head };
    const effectiveBatch = training.batchSize * training.gradientAccumulationSteps;
    if (effectiveBatch < SMALLEST_STABLE_FUSION_BATCH) {
      log(`warning: fuse ${target}: batch size ${effectiveBatch} (batchSize × gradientAccumulationSteps); fusion training is unstable below ${SMALLEST_STABLE_FUSION_BATCH} (Pfeiffer et al. 2021 use 32)`);
    }
    const share = (100 * fusion.parameterCount()) / backbone.parameterCount();
    log(
      `fuse ${target}: adapters [${fusion.adapterNames.join(', ')}] at ${fusion.sites.length} sites, fusion ${fusion.parameterCount()} parameters ` +
        `(${share.toFixed(2)}% of the backbone), head ${head.parameterCount()}; ${train.length} training and ${dev.length} ${config.evalSplit} examples`,
    );

    const loss = taskLoss(plugin, head);
    const temperature = new FusionTemperature(settings, config.fusion.temperatureSchedule, totalSteps);
    const attentionLog = run.metricsFile('fuse-attention', target);
    let evaluations = 0;
    const evaluate = async () => {
      evaluations += 1;
      // Once the trainer has accepted the checkpoint: a fresh run starts the log afresh; a resumed one appends, and
      // readers keep the last line of a step.
      if (evaluations === 1 && !checkpoint.resume) rmSync(attentionLog, { force: true });
      const recorder = config.logAttentionEvery !== undefined && evaluations % config.logAttentionEvery === 0 ? new AttentionRecorder() : undefined;
      const metrics = await evaluateBatches(model, devBatches, plugin.metrics, { temperature: () => temperature.evaluation(trainer.steps), ...(recorder ? { recorder } : {}) });
      if (recorder) {
        mkdirSync(dirname(attentionLog), { recursive: true });
        appendFileSync(attentionLog, `${JSON.stringify(attentionSnapshot(trainer.steps, fusion.adapterNames, await recorder.take(), devBatches))}\n`);
      }
      return metrics;
    };
    const trainer = createFusionTrainer(model, {
      config: training,
      regularizationTiming: config.regularizationTiming,
      temperature,
      loss,
      evaluate,
      primaryMetric: plugin.metrics[0],
      checkpointDir: run.checkpointDir('fuse', target),
      metricsLog: run.metricsFile('fuse', target),
      log,
      // Where the run directory is changes nothing trained.
      fingerprint: trainingFingerprint({ train, dev }, { ...config, run: undefined, backboneHash: backbone.checkpointHash }),
    });
    try {
      const result = await trainer.fit((epoch) => makeBatches(train, { ...batching, shuffle: true, seed: seed + epoch }), checkpoint);
      const fusionDir = run.fusionDir(target);
      const extras: FusionFileExtras = {
        adapter_dirs: config.adapters.map((dir) => relative(fusionDir, dir)),
        ...(settings.temperature ? { inference_temperature: temperature.atStep(result.bestStep) } : {}),
      };
      await fusion.save(fusionDir, extras as Record<string, unknown>);
      await head.save(run.fusionHeadDir(target));
      const record: FusionStageRecord = {
        config,
        adapters: [...fusion.adapterNames],
        adapterDirs: config.adapters.map((dir) => relative(run.root, dir)),
        backbone: config.backbone as string,
        ...(backbone.checkpointHash === undefined ? {} : { backboneHash: backbone.checkpointHash }),
        temperature: temperature.record(result.bestStep),
      };
      run.recordStage(fusionStageKey(target), {
        ...record,
        seed,
        ...trainingRecord(result),
        fusionParameters: fusion.parameterCount(),
        files: { fusion: relative(run.root, fusionDir), head: relative(run.root, run.fusionHeadDir(target)) },
      });
      log(`fuse ${target}: saved ${fusionDir} (${config.evalSplit} ${Object.entries(result.bestMetrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')})`);
      return { target, skipped: false, fusionDir, metrics: result.bestMetrics, steps: result.steps };
    } finally {
      trainer.dispose();
      fusion.dispose();
      head.dispose();
    }
  }

  /** An adapter directory, or the extracted adapter of a task id in the run directory. */
  private adapterDir(entry: string, index: number, { run, baseDir, source }: StageContext): string {
    const direct = resolve(baseDir, entry);
    if (existsSync(join(direct, ADAPTER_CONFIG_FILE))) return direct;
    const extracted = run.adapterDir(entry);
    if (isTaskId(entry) && existsSync(join(extracted, ADAPTER_CONFIG_FILE))) return extracted;
    throw new Error(
      `${source}: adapters.${index} "${entry}": expected an adapter directory (with ${ADAPTER_CONFIG_FILE}) or the id of a task extracted in ${run.root}; ` +
        `found neither ${direct} nor ${extracted} (run "adapterfusion extract" for it first)`,
    );
  }
}

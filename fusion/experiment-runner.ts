import { join, resolve } from 'node:path';
import { RunDirectory, stageRegistry, taskRegistry, withFileLockSync, writeJsonAtomic, type BackendInfo, type Container, type ExtractionConfig, type ExtractionTaskResult, type StageContext } from '../src/index';
import { AttentionInspector, type InspectResult } from './attention-inspector';
import { ExperimentConfig, experimentForSeed, experimentSeeds, seedRunDir, type FusionRecipe } from './experiment-config';
import { FusionConfig } from './fusion-config';
import type { FusionResult } from './fusion-stage';

/** How one `run` goes. */
export interface ExperimentRunOptions {
  /** Where relative paths of the configuration point from (the configuration file's directory). */
  baseDir: string;
  /** Where the configuration came from, named in errors. */
  source: string;
  /** Overrides the configuration's `run`. */
  runDir?: string;
  /** Continue interrupted stages from their checkpoints. */
  resume?: boolean;
  /** Discard the checkpoints of interrupted stages and start them over. */
  restart?: boolean;
  backend?: BackendInfo;
  log?: (line: string) => void;
}

/** What a whole run produced. */
export interface ExperimentResult {
  runDir: string;
  extraction: ExtractionTaskResult[];
  fusions: FusionResult[];
  report?: InspectResult;
  /** With several seeds: each seed's result (the fields above stay empty) and the metrics over the seeds. */
  seeds?: { seed: number; result: ExperimentResult }[];
  summary?: SeedMetric[];
}

/** The `fuse` stage configuration of one recipe: the recipe plus what the experiment says for every stage. */
export function fusionStageConfig(config: ExperimentConfig, recipe: FusionRecipe, index: number, source: string): FusionConfig {
  const task = config.tasks.find((candidate) => candidate.id === recipe.target);
  const dataDir = recipe.dataDir ?? task?.dataDir;
  if (dataDir === undefined) {
    throw new Error(`${source}: fusions.${index}.target: "${recipe.target}" is not among the tasks (${config.tasks.map((t) => t.id).join(', ')}); give the recipe a dataDir`);
  }
  const maxExamples = recipe.maxExamples ?? task?.maxExamples;
  return Object.assign(new FusionConfig(), {
    target: recipe.target,
    adapters: recipe.adapters,
    fusion: recipe.fusion,
    regularizationTiming: recipe.regularizationTiming,
    training: recipe.training,
    dataDir,
    // MT-A adapters belong to the tuned backbone in <run>/backbone, which the fusion stage picks up by itself.
    ...(config.mode === 'st-a' ? { backbone: config.backbone } : {}),
    tokenizer: config.tokenizer ?? config.backbone,
    maxLength: task?.maxLength ?? config.maxLength,
    modules: config.modules,
    ...(maxExamples === undefined ? {} : { maxExamples }),
    ...(task?.skipBadLines === undefined ? {} : { skipBadLines: task.skipBadLines }),
    ...(recipe.logAttentionEvery === undefined ? {} : { logAttentionEvery: recipe.logAttentionEvery }),
  });
}

/** One seed's stages, every one checked: `runExperiment` runs them in order, a queue worker one piece per job. */
export interface ExperimentStages {
  /** The seed's run directory. */
  runDir: string;
  config: ExperimentConfig;
  /** Extracts the adapters of `tasks` (default: every task; MT-A always trains every task); finished ones are skipped. */
  extract(tasks?: readonly string[]): Promise<ExtractionTaskResult[]>;
  /** Trains fusion recipe `index` (skipped when done). */
  fuse(index: number): Promise<FusionResult>;
  /** Writes the attention report of the fused `targets`. */
  inspect(targets: readonly string[]): Promise<InspectResult>;
}

/**
 * The stages of `config` (one seed's: see `experimentForSeed`) over `runDir`, checked before anything runs: task ids,
 * each recipe's target and adapters (those the extraction makes count as present).
 */
export function experimentStages(container: Container, config: ExperimentConfig, runDir: string, options: ExperimentRunOptions): ExperimentStages {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stages = stageRegistry(container);
  const extract = stages.get<ExtractionConfig, ExtractionTaskResult[]>('extract');
  const fuse = stages.get<FusionConfig, FusionResult>('fuse');
  const context: StageContext = {
    run: new RunDirectory(runDir),
    baseDir: options.baseDir,
    source: options.source,
    resume: options.resume === true,
    restart: options.restart === true,
    log,
    ...(options.backend ? { backend: options.backend } : {}),
  };
  const recipes = config.fusions.map((recipe, i) => fusionStageConfig(config, recipe, i, options.source));
  extract.check(config, context);
  recipes.forEach((recipe, i) => fuse.check(recipe, { ...context, source: `${options.source}: fusions.${i}`, extracting: config.tasks.map((task) => task.id) }));
  return {
    runDir,
    config,
    extract: (tasks) => extract.run(tasks === undefined || config.mode === 'mt-a' ? config : Object.assign(new ExperimentConfig(), config, { tasks: config.tasks.filter((task) => tasks.includes(task.id)) }), context),
    fuse: (index) => fuse.run(recipes[index] as FusionConfig, { ...context, source: `${options.source}: fusions.${index}` }),
    inspect: (targets) =>
      new AttentionInspector(taskRegistry(container)).inspect({ runDir, targets: [...targets], split: config.inspect.split, perClass: config.inspect.perClass, ablate: config.inspect.ablate, ...(config.inspect.tokens === undefined ? {} : { tokens: config.inspect.tokens }), log }),
  };
}

/** One seed's dev metric over the seeds of an experiment. */
export interface SeedMetric {
  /** The stage's manifest key (`extract/rte`, `fuse/rte`). */
  stage: string;
  metric: string;
  /** By seed, in the experiment's order. */
  values: { seed: number; value: number }[];
  mean: number;
  /** Sample standard deviation (n − 1); 0 for one seed. */
  std: number;
}

/**
 * The dev metrics of every finished stage of every seed, with their mean and standard deviation over the seeds that
 * finished it, read from the seeds' manifests (so a queued run's are summarized as a local run's).
 */
export function summarizeSeeds(config: ExperimentConfig, runDir: string): SeedMetric[] {
  const byKey = new Map<string, SeedMetric>();
  for (const seed of experimentSeeds(config)) {
    for (const [stage, record] of Object.entries(new RunDirectory(seedRunDir(config, runDir, seed)).readManifest().stages)) {
      for (const [metric, value] of Object.entries(record.metrics ?? {})) {
        const key = `${stage}\u0000${metric}`;
        const entry = byKey.get(key) ?? { stage, metric, values: [], mean: 0, std: 0 };
        entry.values.push({ seed, value });
        byKey.set(key, entry);
      }
    }
  }
  const order = (entry: SeedMetric) => `${entry.stage}\u0000${entry.metric}`;
  return [...byKey.values()].sort((a, b) => order(a).localeCompare(order(b))).map((entry) => {
    const n = entry.values.length;
    const mean = entry.values.reduce((sum, { value }) => sum + value, 0) / n;
    const variance = n > 1 ? entry.values.reduce((sum, { value }) => sum + (value - mean) ** 2, 0) / (n - 1) : 0;
    return { ...entry, mean, std: Math.sqrt(variance) };
  });
}

/**
 * Writes `<run>/seeds.json` (the seeds and `summarizeSeeds`) for an experiment with several seeds, under a lock file so
 * that jobs finishing at once on several workers leave the summary of everything finished.
 */
export function writeSeedSummary(config: ExperimentConfig, runDir: string): void {
  if (experimentSeeds(config).length < 2) return;
  const file = join(runDir, 'seeds.json');
  withFileLockSync(`${file}.lock`, 'seed summary', () => writeJsonAtomic(file, { seeds: experimentSeeds(config), metrics: summarizeSeeds(config, runDir) }));
}

/**
 * Runs a whole experiment: extraction of every task (skipping tasks already done), each fusion recipe (skipping fused
 * targets already done), then the attention report of every fused target; with `seeds`, all of that once per seed in
 * the seed's run directory, then `<run>/seeds.json` (`summarizeSeeds`). Every stage of every seed is checked before the
 * first runs (task ids, each recipe's target and adapters), so a mistake in the last recipe fails before anything
 * trains. Killed half way and run again, it goes on where it stopped.
 *
 * @example
 * const config = loadConfigFile(ExperimentConfig, 'experiment.yaml');
 * const container = createContainer([coreModule, tasksModule, fusionModule]);
 * const result = await runExperiment(container, config, { baseDir: '.', source: 'experiment.yaml' });
 */
export async function runExperiment(container: Container, config: ExperimentConfig, options: ExperimentRunOptions): Promise<ExperimentResult> {
  const runDir = resolve(options.baseDir, options.runDir ?? config.run);
  const seeds = experimentSeeds(config).map((seed) => experimentStages(container, experimentForSeed(config, seed), seedRunDir(config, runDir, seed), options));
  const results: ExperimentResult[] = [];
  for (const stages of seeds) {
    const extraction = await stages.extract();
    const fusions: FusionResult[] = [];
    for (const i of stages.config.fusions.keys()) fusions.push(await stages.fuse(i));
    const report = fusions.length === 0 ? undefined : await stages.inspect(fusions.map((fusion) => fusion.target));
    results.push({ runDir: stages.runDir, extraction, fusions, ...(report ? { report } : {}) });
  }
  if (results.length === 1) return results[0] as ExperimentResult;
  writeSeedSummary(config, runDir);
  return { runDir, extraction: [], fusions: [], seeds: results.map((result, i) => ({ seed: experimentSeeds(config)[i] as number, result })), summary: summarizeSeeds(config, runDir) };
}

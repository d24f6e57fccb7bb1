import { resolve } from 'node:path';
import { RunDirectory, stageRegistry, taskRegistry, type BackendInfo, type Container, type ExtractionConfig, type ExtractionTaskResult, type StageContext } from '../src/index';
import { AttentionInspector, type InspectResult } from './attention-inspector';
import type { ExperimentConfig, FusionRecipe } from './experiment-config';
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

/**
 * Runs a whole experiment: extraction of every task (skipping tasks already done), each fusion recipe (skipping fused
 * targets already done), then the attention report of every fused target. Every stage is checked before the first
 * runs (task ids, each recipe's target and adapters), so a mistake in the last recipe fails before anything trains.
 * Killed half way and run again, it goes on where it stopped.
 *
 * @example
 * const config = loadConfigFile(ExperimentConfig, 'experiment.yaml');
 * const container = createContainer([coreModule, tasksModule, fusionModule]);
 * const result = await runExperiment(container, config, { baseDir: '.', source: 'experiment.yaml' });
 */
export async function runExperiment(container: Container, config: ExperimentConfig, options: ExperimentRunOptions): Promise<ExperimentResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runDir = resolve(options.baseDir, options.runDir ?? config.run);
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

  const extraction = await extract.run(config, context);
  const fusions: FusionResult[] = [];
  for (const [i, recipe] of recipes.entries()) fusions.push(await fuse.run(recipe, { ...context, source: `${options.source}: fusions.${i}` }));
  if (fusions.length === 0) return { runDir, extraction, fusions };
  const report = await new AttentionInspector(taskRegistry(container)).inspect({
    runDir,
    targets: fusions.map((fusion) => fusion.target),
    split: config.inspect.split,
    perClass: config.inspect.perClass,
    ablate: config.inspect.ablate,
    ...(config.inspect.tokens === undefined ? {} : { tokens: config.inspect.tokens }),
    log,
  });
  return { runDir, extraction, fusions, report };
}

import { isAbsolute, resolve } from 'node:path';
import type { BackendInfo } from '../backend/backend';
import { AttentionInspector, type InspectResult } from '../composition/attention-inspector';
import { CompositionStage, type CompositionResult } from '../composition/composition-stage';
import { resolveToken, type Container } from '../di/container';
import { RunDirectory } from '../io/run-directory';
import type { ExperimentConfig, FusionRecipe } from './experiment-config';
import type { ExtractionConfig } from './extraction-config';
import { ExtractionStage, type ExtractionTaskResult } from './extraction-stage';
import { MultiTaskExtractionStage } from './mt-a-stage';

/** The extraction stage a configuration's `mode` asks for. */
export function createExtractionStage(container: Container, config: ExtractionConfig): ExtractionStage | MultiTaskExtractionStage {
  return config.mode === 'mt-a' ? new MultiTaskExtractionStage(container, config) : new ExtractionStage(container, config);
}

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
  backend?: BackendInfo;
  log?: (line: string) => void;
}

/** What a whole run produced. */
export interface ExperimentResult {
  runDir: string;
  extraction: ExtractionTaskResult[];
  fusions: CompositionResult[];
  report?: InspectResult;
}

/** The raw fusion-stage configuration of one recipe: the recipe plus what the experiment says for every stage. */
export function fusionStageConfig(config: ExperimentConfig, recipe: FusionRecipe, runDir: string): Record<string, unknown> {
  const task = config.tasks.find((candidate) => candidate.id === recipe.target);
  const dataDir = recipe.dataDir ?? task?.dataDir;
  if (dataDir === undefined) {
    throw new Error(`fusions: target "${recipe.target}" is not among the tasks (${config.tasks.map((t) => t.id).join(', ')}); give the recipe a dataDir`);
  }
  const maxExamples = recipe.maxExamples ?? task?.maxExamples;
  return {
    target: recipe.target,
    dataDir,
    adapters: recipe.adapters,
    run: runDir,
    // MT-A adapters belong to the tuned backbone in <run>/backbone, which the fusion stage picks up by itself.
    ...(config.mode === 'st-a' ? { backbone: config.backbone } : {}),
    tokenizer: config.tokenizer ?? config.backbone,
    maxLength: task?.maxLength ?? config.maxLength,
    modules: config.modules,
    ...(recipe.fusion ? { fusion: recipe.fusion } : {}),
    training: { seed: config.seed, ...recipe.training },
    ...(recipe.regularizationTiming ? { regularizationTiming: recipe.regularizationTiming } : {}),
    ...(maxExamples === undefined ? {} : { maxExamples }),
    ...(task?.skipBadLines === undefined ? {} : { skipBadLines: task.skipBadLines }),
  };
}

/**
 * Runs a whole experiment: extraction of every task (skipping tasks already done), each fusion recipe (skipping fused
 * targets already done), then the attention report of every fused target. Killed half way and run again, it goes on
 * where it stopped.
 *
 * @example
 * const config = loadConfigFile(ExperimentConfig, 'experiment.yaml');
 * const container = await createCliContainer(config.modules, '.');
 * const result = await runExperiment(container, config, { baseDir: '.', source: 'experiment.yaml' });
 */
export async function runExperiment(container: Container, config: ExperimentConfig, options: ExperimentRunOptions): Promise<ExperimentResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const path = (file: string) => (isAbsolute(file) ? file : resolve(options.baseDir, file));
  const runDir = path(options.runDir ?? config.run);
  const run = new RunDirectory(runDir);
  const stage = resolveToken<CompositionStage>(container, CompositionStage);
  const recipes = config.fusions.map((recipe) => ({ recipe, raw: fusionStageConfig(config, recipe, runDir) }));
  for (const [i, { raw }] of recipes.entries()) stage.validate(raw, `${options.source}: fusions.${i}`);

  const extraction = await createExtractionStage(container, config).run({
    run,
    baseDir: options.baseDir,
    log,
    resume: options.resume === true,
    ...(options.backend ? { backend: options.backend } : {}),
  });
  const fusions: CompositionResult[] = [];
  for (const [i, { raw }] of recipes.entries()) {
    fusions.push(await stage.run({ config: raw, source: `${options.source}: fusions.${i}`, baseDir: options.baseDir, runDir, resume: options.resume === true, log }));
  }
  if (fusions.length === 0) return { runDir, extraction, fusions };
  const inspector = resolveToken<AttentionInspector>(container, AttentionInspector);
  const report = await inspector.inspect({
    runDir,
    targets: fusions.map((fusion) => fusion.target),
    split: config.inspect.split,
    perClass: config.inspect.perClass,
    ablate: config.inspect.ablate,
    log,
  });
  return { runDir, extraction, fusions, report };
}

import { Transform, Type } from 'class-transformer';
import { join } from 'node:path';
import { ArrayNotEmpty, ArrayUnique, IsArray, IsBoolean, IsInt, IsOptional, IsString, Max, Min, ValidateNested } from 'class-validator';
import { ExtractionConfig } from '../src/index';
import { FusionSetup } from './fusion-config';

/**
 * One fusion to train: a target task over adapters extracted in the same run (or adapter directories), with the
 * fusion options, training options and regularization timing of a `fuse` configuration.
 */
export class FusionRecipe extends FusionSetup {
  /** The target's data directory when the target is not among `tasks`. */
  @IsOptional() @IsString()
  dataDir?: string;
}

/** What `run` writes after the fusions: the attention report of every fused target. */
export class InspectRecipe {
  /** Split the report runs over. */
  @IsString()
  split = 'dev';

  /** Also aggregate the attention per gold class. */
  @IsBoolean()
  perClass = false;

  /** Also measure the dev metric with each adapter masked in turn. */
  @IsBoolean()
  ablate = false;

  /** Also keep the first this many examples' attention token by token (the explorer's token view). */
  @IsOptional() @IsInt() @Min(1) @Max(10_000)
  tokens?: number;
}

/** Recipes whose training seed is the experiment's (their `training` names none): with `seeds`, it follows each seed. */
const followsExperimentSeed = new WeakSet<FusionRecipe>();

/** A recipe's training seed is the experiment's unless the recipe's `training` sets one. */
function withExperimentSeed(recipes: unknown, raw: Record<string, unknown>): unknown {
  if (!Array.isArray(recipes)) return recipes;
  const rawRecipes = Array.isArray(raw.fusions) ? (raw.fusions as unknown[]) : [];
  const seed = typeof raw.seed === 'number' ? raw.seed : new ExtractionConfig().seed;
  recipes.forEach((recipe: unknown, i) => {
    const training = (rawRecipes[i] as { training?: unknown } | undefined)?.training;
    const seeded = training !== null && typeof training === 'object' && 'seed' in training;
    if (recipe instanceof FusionRecipe && recipe.training instanceof Object && !seeded) {
      recipe.training.seed = seed;
      followsExperimentSeed.add(recipe);
    }
  });
  return recipes;
}

/**
 * A whole pipeline in one file: extraction (ST-A or MT-A) of every task, then each fusion recipe, then the attention
 * report. Every field of the extraction configuration applies (backbone, tokenizer, tasks, mode, adapter, training,
 * modules, maxLength, seed); `adapterfusion run` executes what is not yet done and skips what is.
 *
 * @example
 * // experiment.yaml
 * // run: runs/glue
 * // backbone: models/bert-base-uncased
 * // tasks: [{ id: rte, dataDir: data/RTE }, { id: mnli, dataDir: data/MNLI, maxExamples: 20000 }]
 * // adapter: { preset: seq_bn }
 * // fusions: [{ target: rte, adapters: [mnli, rte] }]
 * const config = loadConfigFile(ExperimentConfig, 'experiment.yaml');
 */
export class ExperimentConfig extends ExtractionConfig {
  /**
   * Run the whole experiment once per seed (each in `<run>/seed-<n>/`, a run directory of its own) and report each
   * seed's dev metrics with their mean and standard deviation; default: `seed` alone, in `<run>` itself. A fusion
   * uses the adapters of its own seed, and trains with that seed unless its `training` names one.
   */
  @IsOptional() @IsArray() @ArrayNotEmpty() @ArrayUnique() @IsInt({ each: true }) @Min(0, { each: true }) @Max(4_294_967_295, { each: true })
  seeds?: number[];

  /** Run directory (relative to the configuration file); the `--run` option overrides it. */
  @IsString()
  run = 'runs/experiment';

  /** Fusions to train after extraction, in order. */
  @IsArray() @ArrayUnique((recipe: FusionRecipe) => recipe.target, { message: 'must fuse each target once' }) @ValidateNested({ each: true }) @Type(() => FusionRecipe)
  @Transform(({ value, obj }) => withExperimentSeed(value, obj as Record<string, unknown>), { toClassOnly: true })
  fusions: FusionRecipe[] = [];

  /** Attention report settings; the report is written for every fused target. */
  @ValidateNested() @Type(() => InspectRecipe)
  inspect: InspectRecipe = new InspectRecipe();
}

/** The seeds an experiment runs with: its `seeds`, else its `seed`. */
export function experimentSeeds(config: ExperimentConfig): number[] {
  return config.seeds ?? [config.seed];
}

/**
 * The run directory of one seed: `<run>` itself when the experiment has one seed (the layout of a run without
 * `seeds`), `<run>/seed-<n>` when it has several.
 */
export function seedRunDir(config: ExperimentConfig, runDir: string, seed: number): string {
  return experimentSeeds(config).length > 1 ? join(runDir, `seed-${seed}`) : runDir;
}

/** The experiment as it runs for one seed: `seed` set, and every recipe that follows the experiment's seed on it. */
export function experimentForSeed(config: ExperimentConfig, seed: number): ExperimentConfig {
  const fusions = config.fusions.map((recipe) =>
    followsExperimentSeed.has(recipe) ? Object.assign(new FusionRecipe(), recipe, { training: Object.assign(Object.create(Object.getPrototypeOf(recipe.training) as object) as object, recipe.training, { seed }) }) : recipe,
  );
  return Object.assign(new ExperimentConfig(), config, { seed, fusions });
}

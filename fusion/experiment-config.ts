import { Transform, Type } from 'class-transformer';
import { ArrayUnique, IsArray, IsBoolean, IsInt, IsOptional, IsString, Max, Min, ValidateNested } from 'class-validator';
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

/** A recipe's training seed is the experiment's unless the recipe's `training` sets one. */
function withExperimentSeed(recipes: unknown, raw: Record<string, unknown>): unknown {
  if (!Array.isArray(recipes)) return recipes;
  const rawRecipes = Array.isArray(raw.fusions) ? (raw.fusions as unknown[]) : [];
  const seed = typeof raw.seed === 'number' ? raw.seed : new ExtractionConfig().seed;
  recipes.forEach((recipe: unknown, i) => {
    const training = (rawRecipes[i] as { training?: unknown } | undefined)?.training;
    const seeded = training !== null && typeof training === 'object' && 'seed' in training;
    if (recipe instanceof FusionRecipe && recipe.training instanceof Object && !seeded) recipe.training.seed = seed;
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

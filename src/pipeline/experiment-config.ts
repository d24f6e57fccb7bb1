import { Type } from 'class-transformer';
import { ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsObject, IsOptional, IsString, Matches, Min, ValidateNested } from 'class-validator';
import { ExtractionConfig } from './extraction-config';

/** One fusion to train: a target task over adapters extracted in the same run. */
export class FusionRecipe {
  /** Target task id; its data directory is the one listed under `tasks` unless `dataDir` is given. */
  @IsString() @Matches(/^[a-z0-9_-]+$/, { message: 'must be a task id (lower-case letters, digits, "_" or "-")' })
  target!: string;

  /** Adapters to fuse, in this order: task ids extracted in this run, or adapter directories. */
  @IsArray() @ArrayMinSize(2, { message: 'needs at least 2 adapters' }) @IsString({ each: true })
  adapters!: string[];

  /** The target's data directory when the target is not among `tasks`. */
  @IsOptional() @IsString()
  dataDir?: string;

  /** Fusion options (`preset`, AdapterHub's fusion fields); see docs/fusion.md. Validated by the fusion stage. */
  @IsOptional() @IsObject()
  fusion?: Record<string, unknown>;

  /** Training options of the fusion (paper defaults: lr 5e-5, 10 epochs, batch 32); see docs/training.md. */
  @IsOptional() @IsObject()
  training?: Record<string, unknown>;

  /** `same-step` (default) or `adaptertrainer`: when the value regularization acts; see docs/fusion.md. */
  @IsOptional() @IsIn(['same-step', 'adaptertrainer'])
  regularizationTiming?: string;

  /** Read at most this many target examples per split (default: the target task's `maxExamples`). */
  @IsOptional() @IsInt() @Min(1)
  maxExamples?: number;
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
  @IsArray() @ValidateNested({ each: true }) @Type(() => FusionRecipe)
  fusions: FusionRecipe[] = [];

  /** Attention report settings; the report is written for every fused target. */
  @ValidateNested() @Type(() => InspectRecipe)
  inspect: InspectRecipe = new InspectRecipe();
}

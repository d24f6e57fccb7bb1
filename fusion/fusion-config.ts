import { Type } from 'class-transformer';
import { ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, Min, ValidateNested } from 'class-validator';
import { ConfigProperty, IsTaskId, TrainingConfig } from '../src/index';
import { FusionOptions } from './fusion-options';

/**
 * When the fusion regularization's gradient is applied: `same-step` adds it to the loss of the step it is computed in;
 * `adaptertrainer` reproduces AdapterHub's AdapterTrainer, which takes it at the updated weights after each step and
 * applies it with the next one (step 1 gets none, the last one is dropped).
 */
export const REGULARIZATION_TIMINGS = ['same-step', 'adaptertrainer'] as const;
export type RegularizationTiming = (typeof REGULARIZATION_TIMINGS)[number];

/** Training defaults of the paper's fusion recipe: AdamW lr 5e-5, up to 10 epochs, batch 32, early stopping. */
export class FusionTrainingConfig extends TrainingConfig {
  override learningRate = 5e-5;
  override epochs = 10;
}

/** Below this batch size fusion training is unstable (Pfeiffer et al. 2021); the stage warns. */
export const SMALLEST_STABLE_FUSION_BATCH = 16;

/**
 * What to fuse for which target and how to train it: the fields a `fuse` configuration and a fusion recipe of an
 * experiment (`fusions[]` in `adapterfusion run`) share, declared once.
 */
export class FusionSetup {
  /** Id of the target task: a task plugin registered by the built-in tasks or by `modules`. */
  @IsString() @IsTaskId()
  target!: string;

  /**
   * The adapters to fuse, in this order: adapter directories (holding `adapter_config.json`) or task ids of adapters
   * in the run directory (`<run>/adapters/<id>`). The order is part of the fusion: loading checks it.
   */
  @IsArray() @ArrayMinSize(2, { message: 'needs at least 2 adapters' }) @ArrayUnique({ message: 'must name each adapter once' }) @IsString({ each: true })
  adapters!: string[];

  /** Fusion architecture: a preset (`dynamic`, `static`) and overrides of AdapterHub's fusion options. */
  @ConfigProperty(() => FusionOptions)
  fusion: FusionOptions = new FusionOptions();

  /** When the regularization 0.01·Σ‖I − W_V‖² acts: `same-step` (default) or `adaptertrainer`. */
  @IsIn(REGULARIZATION_TIMINGS)
  regularizationTiming: RegularizationTiming = 'same-step';

  /** Optimizer, schedule, batching and early stopping; defaults are the paper's fusion recipe. */
  @ValidateNested() @Type(() => FusionTrainingConfig)
  training: FusionTrainingConfig = new FusionTrainingConfig();

  /** Read at most this many examples per split (for quick runs). */
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000_000)
  maxExamples?: number;

  /**
   * Every this many evaluations, also record the fusion attention over the evaluation split (mean per site and
   * adapter) in `<run>/metrics/fuse-attention-<target>.jsonl`, for the explorer's attention-over-training view. Off by
   * default: a recording evaluation runs every token through the last layer.
   */
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000)
  logAttentionEvery?: number;
}

/**
 * The composition stage (`adapterfusion fuse`): which adapters to fuse for which target task, the fusion architecture
 * and how to train it. Relative paths are resolved against the directory of the config file.
 *
 * @example
 * // fuse.yaml
 * // target: rte
 * // dataDir: data/RTE
 * // adapters: [mnli, qnli, sst2, rte]     # task ids of adapters in the run directory, or adapter directories
 * // fusion: { preset: dynamic }
 * // training: { learningRate: 5.0e-5, epochs: 10, batchSize: 32 }
 * const config = loadConfigFile(FusionConfig, 'fuse.yaml');
 */
export class FusionConfig extends FusionSetup {
  /** Directory holding the target task's files. */
  @IsString()
  dataDir!: string;

  /** Run directory for the fusion, head, metrics and manifest (the `--run` option overrides it). */
  @IsOptional() @IsString()
  run?: string;

  /**
   * Backbone directory (Hugging Face layout) or Hub id: the one the adapters were extracted with. Leave it out for an MT-A run,
   * whose tuned backbone (`<run>/backbone`) is then used. A backbone other than the adapters' is refused.
   */
  @IsOptional() @IsString()
  backbone?: string;

  /** Directory or Hub id with the tokenizer files (default: the backbone's). */
  @IsOptional() @IsString()
  tokenizer?: string;

  /** Tokens per sequence, special tokens included; longer inputs are truncated. */
  @IsInt() @Min(4) @Max(65_536)
  maxLength = 128;

  /** Skip malformed lines of the target's files (their count is reported) instead of stopping at the first. */
  @IsOptional() @IsBoolean()
  skipBadLines?: boolean;

  /** The split to train on and the one that selects the best weights. */
  @IsString()
  trainSplit = 'train';

  @IsString()
  evalSplit = 'dev';

  /** Plugin modules registering more tasks (paths relative to the config file, or package names). */
  @IsArray() @IsString({ each: true })
  modules: string[] = [];
}

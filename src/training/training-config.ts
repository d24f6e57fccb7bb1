import { IsIn, IsInt, IsNumber, IsOptional, Max, Min } from 'class-validator';

/** Learning-rate schedules: linear warm-up then linear decay to 0, or warm-up then constant. */
export const SCHEDULES = ['linear', 'constant'] as const;
export type Schedule = (typeof SCHEDULES)[number];

/**
 * How a stage trains: optimizer (AdamW), schedule, batching, evaluation, early stopping and checkpoints.
 * Defaults follow the paper's ST-A recipe and Hugging Face `TrainingArguments`.
 *
 * @example
 * const training = validateConfig(TrainingConfig, { learningRate: 5e-5, epochs: 10 });
 */
export class TrainingConfig {
  /** Peak learning rate (reached after warm-up). */
  @IsNumber() @Min(0) @Max(10)
  learningRate = 1e-4;

  /** Passes over the training data (early stopping and `maxSteps` may end training sooner). */
  @IsInt() @Min(1) @Max(1_000_000)
  epochs = 30;

  /** Examples per micro-batch; one optimizer step sees `batchSize · gradientAccumulationSteps` examples. */
  @IsInt() @Min(1) @Max(65_536)
  batchSize = 32;

  /** Micro-batches whose gradients are averaged into one optimizer step. */
  @IsInt() @Min(1) @Max(65_536)
  gradientAccumulationSteps = 1;

  /** Optimizer steps of linear warm-up from 0; when 0, `warmupRatio` decides. */
  @IsInt() @Min(0) @Max(1_000_000_000)
  warmupSteps = 0;

  /** Warm-up as a fraction of all optimizer steps (rounded up); used only when `warmupSteps` is 0. */
  @IsNumber() @Min(0) @Max(1)
  warmupRatio = 0;

  /** `linear`: decay to 0 at the last step after warm-up; `constant`: stay at `learningRate` after warm-up. */
  @IsIn(SCHEDULES)
  schedule: Schedule = 'linear';

  /** Decoupled weight decay, applied to every tensor except biases and LayerNorm parameters. */
  @IsNumber() @Min(0) @Max(1)
  weightDecay = 0.01;

  /** Clip gradients to this global L2 norm; 0 turns clipping off. */
  @IsNumber() @Min(0) @Max(1_000_000)
  maxGradNorm = 1.0;

  /** AdamW decay rate of the first moment. */
  @IsNumber() @Min(0) @Max(0.999999)
  adamBeta1 = 0.9;

  /** AdamW decay rate of the second moment. */
  @IsNumber() @Min(0) @Max(0.999999)
  adamBeta2 = 0.999;

  /** AdamW term added to the denominator for numerical stability. */
  @IsNumber() @Min(0) @Max(1)
  adamEpsilon = 1e-8;

  /** Stop after this many evaluations without improvement of the primary metric; 0 never stops early. */
  @IsInt() @Min(0) @Max(1_000_000)
  earlyStoppingPatience = 3;

  /** Evaluate every this many optimizer steps; 0 evaluates at the end of every epoch. */
  @IsInt() @Min(0) @Max(1_000_000_000)
  evaluateEverySteps = 0;

  /** Write a resumable checkpoint every this many optimizer steps (and at every evaluation); 0 only at evaluations. */
  @IsInt() @Min(0) @Max(1_000_000_000)
  checkpointEverySteps = 50;

  /** Log the mean training loss every this many optimizer steps. */
  @IsInt() @Min(1) @Max(1_000_000_000)
  logEverySteps = 10;

  /** Seed of the training random generator (dropout seeds and anything else the loss draws). */
  @IsInt() @Min(0) @Max(4_294_967_295)
  seed = 42;

  /** Stop after this many optimizer steps, even within an epoch; the linear schedule then decays over them. */
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000_000)
  maxSteps?: number;

  /**
   * Training stops with an error when a step's loss exceeds this many times the first step's (at least 1), as it does
   * when the learning rate is far too high; 0 turns the check off. A non-finite loss or weight always stops it.
   */
  @IsNumber() @Min(0) @Max(1e12)
  divergenceFactor = 1000;
}

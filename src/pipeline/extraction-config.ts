import { Type } from 'class-transformer';
import { ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, Min, ValidateBy, ValidateNested } from 'class-validator';
import { AdapterConfig } from '../adapters/adapter-config';
import { LoraConfig } from '../adapters/lora';
import { ConfigProperty } from '../config/presets';
import { IsTaskId } from '../task/task-id';
import { TrainingConfig } from '../training/training-config';
import { SAMPLER_KINDS, type SamplerKind } from './task-sampler';

/** How adapters are extracted: one task at a time with the backbone frozen, or all tasks jointly with it. */
export const EXTRACTION_MODES = ['st-a', 'mt-a'] as const;
export type ExtractionMode = (typeof EXTRACTION_MODES)[number];

/** One task to extract an adapter for. */
export class ExtractionTaskConfig {
  /** Task id, as a registered task plugin names it. */
  @IsString() @IsTaskId()
  id!: string;

  /** Directory with the task's files (relative paths are relative to the configuration file). */
  @IsString()
  dataDir!: string;

  /** Read at most this many training and dev examples each (quick runs). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000_000)
  maxExamples?: number;

  /** Skip malformed lines of the task's files (their count is reported) instead of stopping at the first. */
  @IsOptional()
  @IsBoolean()
  skipBadLines?: boolean;

  /** Tokens per sequence for this task, special tokens included (default: the config's `maxLength`). */
  @IsOptional()
  @IsInt()
  @Min(4)
  @Max(65_536)
  maxLength?: number;
}

/**
 * Adapter extraction. ST-A (the default): one bottleneck adapter and head per task, trained with the backbone frozen;
 * training defaults follow the paper's recipe (AdamW, learning rate 1e-4 with linear decay, batch 32, up to 30 epochs
 * with early stopping on the task's first dev metric). MT-A: every task's adapter and head trained in one loop
 * together with the backbone (the paper uses learning rate 2e-5 there).
 *
 * @example
 * const config = loadConfigFile(ExtractionConfig, 'extract.yaml');
 * // backbone: models/bert-base-uncased
 * // tasks: [{ id: rte, dataDir: data/RTE }, { id: sst2, dataDir: data/SST-2, maxExamples: 20000 }]
 * // adapter: { preset: seq_bn, reductionFactor: 16 }
 */
export class ExtractionConfig {
  /** `st-a`: each task alone, backbone frozen; `mt-a`: all tasks jointly, backbone tuned with them. */
  @IsIn(EXTRACTION_MODES)
  mode: ExtractionMode = 'st-a';

  /** Hugging Face model directory of the frozen backbone (config.json + model.safetensors), or a Hub id (org/name@revision). */
  @IsString()
  backbone!: string;

  /** Directory or Hub id with the tokenizer files (default: the backbone's). */
  @IsOptional()
  @IsString()
  tokenizer?: string;

  /** The tasks, extracted in this order. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique((task: ExtractionTaskConfig) => task.id, { message: 'must name each task id once' })
  @ValidateNested({ each: true })
  @Type(() => ExtractionTaskConfig)
  tasks: ExtractionTaskConfig[] = [];

  /** The adapter architecture every task gets (a `preset` fills the options left out). */
  @ConfigProperty(() => AdapterConfig)
  adapter = new AdapterConfig();

  /** ST-A only: a LoRA or (IA)³ module per task instead of the bottleneck adapter (`adapter` is then not used). */
  @IsOptional()
  @ValidateNested()
  @Type(() => LoraConfig)
  @ValidateBy({
    name: 'loraStA',
    validator: {
      validate: (value, args) => value === undefined || (args?.object as ExtractionConfig).mode === 'st-a',
      defaultMessage: () => 'is for mode st-a only (MT-A trains bottleneck adapters)',
    },
  })
  lora?: LoraConfig;

  /** Optimizer, schedule, batching, early stopping and checkpoints. */
  @ValidateNested()
  @Type(() => TrainingConfig)
  training = new TrainingConfig();

  /** Plugin modules registering further tasks: file paths (relative to the configuration file) or package names. */
  @IsArray()
  @IsString({ each: true })
  modules: string[] = [];

  /** MT-A only: how each step's task is drawn (`annealed`: probability ∝ N_i^α, α from 1 down to 0.2). */
  @IsIn(SAMPLER_KINDS)
  sampler: SamplerKind = 'annealed';

  /** Tokens per sequence, special tokens included, unless a task sets its own. */
  @IsInt()
  @Min(4)
  @Max(65_536)
  maxLength = 128;

  /** Seeds the adapter and head initialisation and the order of the training examples. */
  @IsInt()
  @Min(0)
  @Max(4_294_967_295)
  seed = 42;
}

import { IsArray, IsBoolean, IsIn, IsInt, IsNumber, Max, Min, ValidateBy } from 'class-validator';
import { IsPreset, Presets } from '../config/presets';
import { validateConfig } from '../config/validate';
import { ACTIVATION_NAMES } from '../ops/activation';

/** How the residual around the bottleneck is taken (AdapterHub `residual_before_ln`). */
export type ResidualBeforeLn = boolean | 'post_add';

/** Adapter weight initialisations, as AdapterHub names them. */
export const INIT_WEIGHTS = ['bert', 'mam_adapter', 'houlsby'] as const;
export type InitWeights = (typeof INIT_WEIGHTS)[number];

/** A reduction factor for every layer, or per layer: `{ "0": 8, "default": 16 }` (keys are 0-based layer indices). */
export type ReductionFactor = number | Record<string, number>;

function isReductionFactor(value: unknown): boolean {
  // Below 1/64 the bottleneck would be over 64 times the hidden size: a typo, not an adapter.
  const positive = (v: unknown): boolean => typeof v === 'number' && v >= 1 / 64 && v <= 1_000_000;
  if (positive(value)) return true;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length > 0 && entries.every(([key, v]) => (key === 'default' || /^\d+$/.test(key)) && positive(v));
}

/**
 * A bottleneck adapter's architecture: where modules sit, their size, non-linearity and how they connect to the
 * sublayer's residual stream and pretrained LayerNorm. Field names are AdapterHub's `BnConfig` options in camelCase;
 * the defaults are the `seq_bn` (Pfeiffer) preset. Configuration files may name a `preset` (`ADAPTER_PRESETS`) that
 * fills every option they leave out: read them with `validateConfig` (or `validateAdapterConfig`), or nest them with
 * `@ConfigProperty(() => AdapterConfig)`.
 *
 * @example
 * const houlsby = validateAdapterConfig({ preset: 'double_seq_bn', reductionFactor: 8 });
 * houlsby.mhAdapter; // true
 */
export class AdapterConfig {
  /** `seq_bn` (alias `pfeiffer`), `double_seq_bn` (alias `houlsby`) or `par_bn`: fills every option not given; input only. */
  @IsPreset()
  preset?: string;

  /** A module after the self-attention output projection of each layer (Houlsby adds one there). */
  @IsBoolean()
  mhAdapter = false;

  /** A module after the feed-forward output projection of each layer. */
  @IsBoolean()
  @ValidateBy({
    name: 'someLocation',
    validator: {
      validate: (value, args) => value === true || (args?.object as AdapterConfig).mhAdapter,
      defaultMessage: () => 'outputAdapter must be true when mhAdapter is false (an adapter needs at least one location)',
    },
  })
  outputAdapter = true;

  /** Hidden size divided by the bottleneck size: `bottleneck = floor(hidden / reductionFactor)` (at least 1). */
  @ValidateBy({
    name: 'reductionFactor',
    validator: {
      validate: isReductionFactor,
      defaultMessage: () => 'reductionFactor must be a number from 1/64 to 1000000, or a record of layer index (or "default") to such a number',
    },
  })
  reductionFactor: ReductionFactor = 16;

  /** The bottleneck's non-linearity (`relu`, `swish`/`silu`, `gelu`, `gelu_new`, `tanh`, ...). */
  @IsIn(ACTIVATION_NAMES)
  nonLinearity = 'relu';

  /** Apply the pretrained residual and LayerNorm before the adapter: its input is `LN(h + x)`. */
  @IsBoolean()
  originalLnBefore = true;

  /** Apply the pretrained residual and LayerNorm after the adapter: the output is `LN(adapter + x)`. */
  @IsBoolean()
  originalLnAfter = true;

  /** Residual around the bottleneck: `true` = the sublayer output `h`, `false` = the adapter input, `post_add` = `h + x`. */
  @IsIn([true, false, 'post_add'])
  residualBeforeLn: ResidualBeforeLn = true;

  /** Factor on the bottleneck output (He et al. 2021): a constant, or `learned` (one trained scalar, starting at 1). */
  @ValidateBy({
    name: 'scaling',
    validator: {
      // Beyond ±1000 a constant factor is a typo, not a scaling.
      validate: (value) => value === 'learned' || (typeof value === 'number' && value >= -1000 && value <= 1000),
      defaultMessage: () => 'scaling must be a number from -1000 to 1000, or "learned"',
    },
  })
  scaling: number | 'learned' = 1.0;

  /** A LayerNorm of the adapter's own (eps 1e-5) on its input, before the down-projection. */
  @IsBoolean()
  lnBefore = false;

  /** A LayerNorm of the adapter's own (eps 1e-5) on its output, before the residual. */
  @IsBoolean()
  lnAfter = false;

  /**
   * Multiply the output by a learned gate: the sigmoid of a linear map of the adapter input, averaged over every
   * position of the sequence (padding included, as AdapterHub does), one value per sequence.
   */
  @IsBoolean()
  useGating = false;

  /**
   * A parallel adapter (He et al. 2022): it reads the sublayer's input `x` instead of its output, and its output is
   * added to the sublayer output `h` before the pretrained `LN(· + x)`.
   */
  @IsBoolean()
  isParallel = false;

  /** `bert`: N(0, 0.02) weights, zero biases; `mam_adapter`: Kaiming-uniform down, zero up; `houlsby`: truncated N(0, 0.01). */
  @IsIn(INIT_WEIGHTS)
  initWeights: InitWeights = 'bert';

  /** 0-based layers that get no adapter module. */
  @IsArray()
  @IsInt({ each: true })
  @Min(0, { each: true })
  @Max(1000, { each: true })
  leaveOut: number[] = [];

  /** Dropout on the bottleneck output while training. */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  dropout = 0;

  /**
   * The AdapterHub `config` object of `adapter_config.json` (snake_case, every `BnConfig` option of adapters 1.0.1,
   * sorted as AdapterHub writes them), so that AdapterHub's `load_adapter` builds the same architecture.
   */
  toAdapterHub(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...UNSUPPORTED_DEFAULTS };
    for (const [field, key] of Object.entries(ADAPTERHUB_KEYS)) out[key] = this[field as AdapterOption];
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** The options of an adapter configuration (its data fields). */
export type AdapterOption = Exclude<keyof AdapterConfig, 'toAdapterHub' | 'preset'>;

/**
 * Named adapter architectures (AdapterHub's `SeqBnConfig`, `DoubleSeqBnConfig` and `ParBnConfig`, the first two also
 * known by their earlier names `pfeiffer` and `houlsby`); every option they do not name keeps the `AdapterConfig`
 * default.
 */
export const ADAPTER_PRESETS = Presets.define(
  AdapterConfig,
  {
    seq_bn: {},
    double_seq_bn: { mhAdapter: true, outputAdapter: true, originalLnBefore: false, nonLinearity: 'swish' },
    par_bn: { reductionFactor: 2, originalLnBefore: false, isParallel: true, scaling: 4.0, initWeights: 'mam_adapter' },
  },
  { pfeiffer: 'seq_bn', houlsby: 'double_seq_bn' },
);

/**
 * Validates a raw adapter configuration (parsed JSON or YAML), its `preset` expanded: `validateConfig(AdapterConfig, raw, source)`.
 *
 * @example
 * const config = validateAdapterConfig({ preset: 'pfeiffer', reductionFactor: { '0': 8, default: 16 } }, 'experiment.yaml');
 */
export function validateAdapterConfig(raw: unknown, source?: string): AdapterConfig {
  return validateConfig(AdapterConfig, raw, source);
}

/**
 * The bottleneck size of an adapter module in `layer`: `floor(hiddenSize / reductionFactor)`, at least 1, using the
 * layer's own factor or `default` when the factor is a record.
 */
export function bottleneckSize(config: AdapterConfig, hiddenSize: number, layer: number): number {
  const factor = config.reductionFactor;
  const value = typeof factor === 'number' ? factor : (factor[String(layer)] ?? factor.default);
  if (value === undefined) {
    throw new Error(`reductionFactor ${JSON.stringify(factor)} gives no value for layer ${layer}: add "${layer}" or "default"`);
  }
  return Math.max(1, Math.floor(hiddenSize / value));
}

/** Parameters of one adapter module with hidden size d and bottleneck m: `2·m·d + d + m`. */
export function moduleParameterCount(hiddenSize: number, bottleneck: number): number {
  return 2 * bottleneck * hiddenSize + hiddenSize + bottleneck;
}

/**
 * AdapterHub `BnConfig` options this project does not implement, with the value that means "off". A file setting
 * one of them differently is refused rather than loaded with different behaviour.
 */
const UNSUPPORTED_DEFAULTS: Record<string, unknown> = {
  adapter_residual_before_ln: false,
  cross_adapter: false,
  factorized_phm_W: true,
  factorized_phm_rule: false,
  hypercomplex_nonlinearity: 'glorot-uniform',
  inv_adapter: null,
  inv_adapter_reduction_factor: null,
  learn_phm: true,
  phm_bias: true,
  phm_c_init: 'normal',
  phm_dim: 4,
  phm_init_range: 0.0001,
  phm_layer: false,
  phm_rank: 1,
  shared_W_phm: false,
  shared_phm_rule: true,
};

/** Options that newer AdapterHub versions write; accepted at their "off" value, never written. */
const NEWER_DEFAULTS: Record<string, unknown> = { init_weights_seed: null, stochastic_depth: 0.0, architecture: null };

/** Our field ↔ AdapterHub key. */
const ADAPTERHUB_KEYS: Record<AdapterOption, string> = {
  mhAdapter: 'mh_adapter',
  outputAdapter: 'output_adapter',
  reductionFactor: 'reduction_factor',
  nonLinearity: 'non_linearity',
  originalLnBefore: 'original_ln_before',
  originalLnAfter: 'original_ln_after',
  residualBeforeLn: 'residual_before_ln',
  scaling: 'scaling',
  initWeights: 'init_weights',
  leaveOut: 'leave_out',
  dropout: 'dropout',
  lnBefore: 'ln_before',
  lnAfter: 'ln_after',
  useGating: 'use_gating',
  isParallel: 'is_parallel',
};

/**
 * Reads the `config` object of an AdapterHub `adapter_config.json`. Options this project does not implement
 * (PHM layers, invertible adapters, cross adapters, a residual before the adapter's own LayerNorm, ...) must have
 * their "off" value; unknown keys are refused. Errors name `file`.
 */
export function adapterConfigFromAdapterHub(json: unknown, file: string): AdapterConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${file}: expected "config" to be an AdapterHub bottleneck adapter configuration object, got ${JSON.stringify(json)?.slice(0, 60)}`);
  }
  const raw = json as Record<string, unknown>;
  const fields = Object.fromEntries(Object.entries(ADAPTERHUB_KEYS).map(([field, key]) => [key, field]));
  const camel: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const field = fields[key];
    const off = key in UNSUPPORTED_DEFAULTS ? UNSUPPORTED_DEFAULTS[key] : NEWER_DEFAULTS[key];
    if (field !== undefined) camel[field] = value;
    else if (key === 'architecture' && value !== null) problems.push(`architecture ${JSON.stringify(value)} is not a bottleneck adapter`);
    else if (key in UNSUPPORTED_DEFAULTS || key in NEWER_DEFAULTS) {
      if (JSON.stringify(value) !== JSON.stringify(off)) problems.push(`${key} is ${JSON.stringify(value)}, but only ${JSON.stringify(off)} is supported`);
    } else problems.push(`unknown option ${key}`);
  }
  if (typeof camel.scaling === 'string' && camel.scaling !== 'learned') problems.push(`scaling "${camel.scaling}" is not supported; expected a number or "learned"`);
  if (problems.length > 0) throw new Error(`${file}: unsupported AdapterHub adapter configuration: ${problems.join('; ')}`);
  return validateConfig(AdapterConfig, camel, file);
}

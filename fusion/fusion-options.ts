import { IsBoolean, IsIn, IsNumber, IsOptional, Max, Min, ValidateIf } from 'class-validator';

/** Named fusion architectures of the paper (AdapterHub `DynamicAdapterFusionConfig`, `StaticAdapterFusionConfig`). */
export type FusionPreset = 'dynamic' | 'static';
export const FUSION_PRESETS: readonly FusionPreset[] = ['dynamic', 'static'];

/**
 * How a fusion with `temperature` on anneals it from 50 to 1: `linear` over the planned optimizer steps, or
 * `adapterhub`, AdapterHub's 0.05 lower after every forward call (see `FusionTemperature`).
 */
export const TEMPERATURE_SCHEDULES = ['linear', 'adapterhub'] as const;
export type TemperatureSchedule = (typeof TEMPERATURE_SCHEDULES)[number];

/** Every switch of a fusion layer, resolved from a preset and its overrides. */
export interface FusionSettings {
  /** Project the adapter outputs with a trained key matrix W_K (and bias). */
  key: boolean;
  /** Project the query with a trained query matrix W_Q (and bias). */
  query: boolean;
  /** Mix the adapter outputs with a trained value matrix W_V (no bias). */
  value: boolean;
  /** The query is the sublayer output h before the pretrained LayerNorm instead of the adapters' input. */
  queryBeforeLn: boolean;
  /** Add the adapter residual to every adapter output before attention instead of to the context after it. */
  residualBefore: boolean;
  /** Apply W_V to each adapter output before weighting them (true) or to the weighted context (false). */
  valueBeforeSoftmax: boolean;
  /** Start W_V at the identity (off-diagonal entries 1e-6) instead of N(0, 0.02). */
  valueInitialized: boolean;
  /** Anneal the softmax temperature from 50 to 1 during training (otherwise it is 1). */
  temperature: boolean;
  /** Dropout on the attention scores while training; null takes the backbone's attention dropout. */
  dropoutProb: number | null;
  /** Add 0.01 · Σ_layers ‖I − W_V‖² to the training loss (needs `value`). */
  regularization: boolean;
}

const PRESETS: Record<FusionPreset, FusionSettings> = {
  dynamic: {
    key: true,
    query: true,
    value: true,
    queryBeforeLn: false,
    residualBefore: false,
    valueBeforeSoftmax: true,
    valueInitialized: true,
    temperature: false,
    dropoutProb: null,
    regularization: true,
  },
  static: {
    key: true,
    query: true,
    value: false,
    queryBeforeLn: false,
    residualBefore: false,
    valueBeforeSoftmax: true,
    valueInitialized: false,
    temperature: false,
    dropoutProb: null,
    regularization: false,
  },
};

/** The settings of a preset. */
export function presetSettings(preset: FusionPreset): FusionSettings {
  return { ...PRESETS[preset] };
}

/**
 * The fusion layer's architecture as a user writes it: a preset plus any field to override. Field names mirror
 * AdapterHub's `AdapterFusionConfig` in camelCase (`query_before_ln` is `queryBeforeLn`).
 *
 * @example
 * const options = validateConfig(FusionOptions, { preset: 'dynamic', temperature: true });
 * options.settings().value; // true
 */
export class FusionOptions {
  /** `dynamic` (query, key, value, regularization) or `static` (query and key only). */
  @IsIn(FUSION_PRESETS)
  preset: FusionPreset = 'dynamic';

  @IsOptional() @IsBoolean()
  key?: boolean;

  @IsOptional() @IsBoolean()
  query?: boolean;

  @IsOptional() @IsBoolean()
  value?: boolean;

  @IsOptional() @IsBoolean()
  queryBeforeLn?: boolean;

  @IsOptional() @IsBoolean()
  residualBefore?: boolean;

  @IsOptional() @IsBoolean()
  valueBeforeSoftmax?: boolean;

  @IsOptional() @IsBoolean()
  valueInitialized?: boolean;

  @IsOptional() @IsBoolean()
  temperature?: boolean;

  /** With `temperature`: `linear` over the planned training steps, or `adapterhub` (by forward call, as AdapterHub). */
  @IsIn(TEMPERATURE_SCHEDULES)
  temperatureSchedule: TemperatureSchedule = 'linear';

  /** A probability in [0, 1); null takes the backbone's `attentionProbsDropoutProb`. */
  @ValidateIf((options: FusionOptions) => options.dropoutProb !== null && options.dropoutProb !== undefined)
  @IsNumber() @Min(0) @Max(0.99)
  dropoutProb?: number | null;

  @IsOptional() @IsBoolean()
  regularization?: boolean;

  /** The preset's settings with this object's overrides applied. */
  settings(): FusionSettings {
    const resolved = presetSettings(this.preset);
    for (const name of Object.keys(resolved) as (keyof FusionSettings)[]) {
      const override = this[name];
      if (override !== undefined) (resolved as unknown as Record<string, unknown>)[name] = override;
    }
    return resolved;
  }
}

/** The AdapterHub spelling of each setting (`adapter_fusion_config.json` → `config`). */
const ADAPTERHUB_KEYS: Record<keyof FusionSettings, string> = {
  key: 'key',
  query: 'query',
  value: 'value',
  queryBeforeLn: 'query_before_ln',
  residualBefore: 'residual_before',
  valueBeforeSoftmax: 'value_before_softmax',
  valueInitialized: 'value_initialized',
  temperature: 'temperature',
  dropoutProb: 'dropout_prob',
  regularization: 'regularization',
};

/** Settings in AdapterHub's form, keys sorted as AdapterHub writes them. */
export function fusionSettingsToAdapterHub(settings: FusionSettings): Record<string, boolean | number | null> {
  const entries = (Object.keys(ADAPTERHUB_KEYS) as (keyof FusionSettings)[]).map((name) => [ADAPTERHUB_KEYS[name], settings[name]] as const);
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Reads AdapterHub's fusion `config` object. Booleans follow Python truthiness (AdapterHub types `value_initialized` as
 * a string). Every key must be present, as AdapterHub writes them all; an unknown or missing key is refused.
 */
export function fusionSettingsFromAdapterHub(config: unknown, file: string): FusionSettings {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(`${file}: "config" must be an object with the fusion settings, got ${JSON.stringify(config)}`);
  }
  const raw = config as Record<string, unknown>;
  const byAdapterHubKey = new Map(Object.entries(ADAPTERHUB_KEYS).map(([name, key]) => [key, name as keyof FusionSettings]));
  const unknown = Object.keys(raw).filter((key) => !byAdapterHubKey.has(key));
  const missing = [...byAdapterHubKey.keys()].filter((key) => !(key in raw));
  if (unknown.length > 0 || missing.length > 0) {
    const problems = [unknown.length ? `unknown ${unknown.join(', ')}` : '', missing.length ? `missing ${missing.join(', ')}` : ''];
    throw new Error(`${file}: fusion settings ${problems.filter(Boolean).join('; ')} (expected exactly ${[...byAdapterHubKey.keys()].sort().join(', ')})`);
  }
  const settings = presetSettings('dynamic');
  for (const [key, name] of byAdapterHubKey) {
    const value = raw[key];
    if (name === 'dropoutProb') {
      if (value !== null && (typeof value !== 'number' || value < 0 || value >= 1)) {
        throw new Error(`${file}: config.dropout_prob must be null or a number in [0, 1), got ${JSON.stringify(value)}`);
      }
      settings.dropoutProb = value;
    } else {
      settings[name] = Boolean(value);
    }
  }
  return settings;
}

import { IsBoolean, IsIn, IsNumber, Max, Min, ValidateIf } from 'class-validator';
import { IsPreset, Presets } from '../src/index';

/**
 * How a fusion with `temperature` on anneals it from 50 to 1: `linear` over the planned optimizer steps, or
 * `adapterhub`, AdapterHub's 0.05 lower after every forward call (see `FusionTemperature`).
 */
export const TEMPERATURE_SCHEDULES = ['linear', 'adapterhub'] as const;
export type TemperatureSchedule = (typeof TEMPERATURE_SCHEDULES)[number];

/**
 * The fusion layer's architecture: every switch of AdapterHub's `AdapterFusionConfig`, in camelCase
 * (`query_before_ln` is `queryBeforeLn`). The defaults are the `dynamic` preset; a configuration may name a `preset`
 * (`FUSION_PRESETS`) that fills every option it leaves out.
 *
 * @example
 * const options = validateConfig(FusionOptions, { preset: 'static', temperature: true });
 * options.value; // false
 */
export class FusionOptions {
  /** `dynamic` (query, key, value, regularization) or `static` (query and key only); input only. */
  @IsPreset()
  preset?: string;

  /** Project the adapter outputs with a trained key matrix W_K (and bias). */
  @IsBoolean()
  key = true;

  /** Project the query with a trained query matrix W_Q (and bias). */
  @IsBoolean()
  query = true;

  /** Mix the adapter outputs with a trained value matrix W_V (no bias). */
  @IsBoolean()
  value = true;

  /** The query is the sublayer output h before the pretrained LayerNorm instead of the adapters' input. */
  @IsBoolean()
  queryBeforeLn = false;

  /** Add the adapter residual to every adapter output before attention instead of to the context after it. */
  @IsBoolean()
  residualBefore = false;

  /** Apply W_V to each adapter output before weighting them (true) or to the weighted context (false). */
  @IsBoolean()
  valueBeforeSoftmax = true;

  /** Start W_V at the identity (off-diagonal entries 1e-6) instead of N(0, 0.02). */
  @IsBoolean()
  valueInitialized = true;

  /** Anneal the softmax temperature from 50 to 1 during training (otherwise it is 1). */
  @IsBoolean()
  temperature = false;

  /** With `temperature`: `linear` over the planned training steps, or `adapterhub` (by forward call, as AdapterHub). */
  @IsIn(TEMPERATURE_SCHEDULES)
  temperatureSchedule: TemperatureSchedule = 'linear';

  /** Dropout on the attention scores while training, in [0, 1); null takes the backbone's `attentionProbsDropoutProb`. */
  @ValidateIf((options: FusionOptions) => options.dropoutProb !== null)
  @IsNumber() @Min(0) @Max(0.99)
  dropoutProb: number | null = null;

  /** Add 0.01 · Σ_layers ‖I − W_V‖² to the training loss (needs `value`). */
  @IsBoolean()
  regularization = true;
}

/** The options of a fusion architecture (its data fields). */
export type FusionOption = Exclude<keyof FusionOptions, 'preset'>;

/** The options AdapterHub's `AdapterFusionConfig` has (the temperature schedule is this project's own). */
type AdapterHubFusionOption = Exclude<FusionOption, 'temperatureSchedule'>;

/** Named fusion architectures of the paper (AdapterHub `DynamicAdapterFusionConfig`, `StaticAdapterFusionConfig`). */
export const FUSION_PRESETS = Presets.define(FusionOptions, {
  dynamic: {},
  static: { value: false, valueInitialized: false, regularization: false },
});

/** The AdapterHub spelling of each option (`adapter_fusion_config.json` → `config`). */
const ADAPTERHUB_KEYS: Record<AdapterHubFusionOption, string> = {
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

/** Options in AdapterHub's form, keys sorted as AdapterHub writes them. */
export function fusionSettingsToAdapterHub(settings: FusionOptions): Record<string, boolean | number | null> {
  const entries = (Object.keys(ADAPTERHUB_KEYS) as AdapterHubFusionOption[]).map((name) => [ADAPTERHUB_KEYS[name], settings[name]] as const);
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Reads AdapterHub's fusion `config` object. Booleans follow Python truthiness (AdapterHub types `value_initialized` as
 * a string). Every key must be present, as AdapterHub writes them all; an unknown or missing key is refused.
 */
export function fusionSettingsFromAdapterHub(config: unknown, file: string): FusionOptions {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(`${file}: "config" must be an object with the fusion settings, got ${JSON.stringify(config)}`);
  }
  const raw = config as Record<string, unknown>;
  const byAdapterHubKey = new Map(Object.entries(ADAPTERHUB_KEYS).map(([name, key]) => [key, name as AdapterHubFusionOption]));
  const unknown = Object.keys(raw).filter((key) => !byAdapterHubKey.has(key));
  const missing = [...byAdapterHubKey.keys()].filter((key) => !(key in raw));
  if (unknown.length > 0 || missing.length > 0) {
    const problems = [unknown.length ? `unknown ${unknown.join(', ')}` : '', missing.length ? `missing ${missing.join(', ')}` : ''];
    throw new Error(`${file}: fusion settings ${problems.filter(Boolean).join('; ')} (expected exactly ${[...byAdapterHubKey.keys()].sort().join(', ')})`);
  }
  const settings = new FusionOptions();
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

import { plainToInstance, Transform, Type } from 'class-transformer';
import { IsOptional, ValidateBy, ValidateNested } from 'class-validator';

type ConfigClass<T extends object = object> = new () => T;

/** The presets of each configuration class that has them; `validateConfig` and `ConfigProperty` consult it. */
const PRESETS = new WeakMap<ConfigClass, Presets<object>>();

/**
 * Named starting points of a configuration class (adapter architectures, fusion architectures). A raw configuration
 * names one with its `preset` key; the preset fills every option the configuration leaves out, options given
 * explicitly win, and the validated object holds the resolved options only (two configurations that mean the same
 * thing are equal). The class's defaults are one of the presets; the others list only where they differ.
 *
 * @example
 * export const FUSION_PRESETS = Presets.define(FusionOptions, { dynamic: {}, static: { value: false } });
 * validateConfig(FusionOptions, { preset: 'static', temperature: true }).value; // false
 * FUSION_PRESETS.create('static').value; // false
 */
export class Presets<T extends object> {
  private constructor(
    private readonly type: ConfigClass<T>,
    private readonly values: Readonly<Record<string, Partial<T>>>,
    private readonly aliases: Readonly<Record<string, string>>,
  ) {}

  /**
   * Declares the presets of `type`, each as the options it sets, and older names (`aliases`) of some of them. The
   * class declares a `preset` field with `@IsPreset()` so that an unknown name is reported with the known ones.
   */
  static define<T extends object>(type: ConfigClass<T>, values: Record<string, Partial<T>>, aliases: Record<string, string> = {}): Presets<T> {
    const presets = new Presets(type, values, aliases);
    PRESETS.set(type, presets);
    return presets;
  }

  /** Every accepted name: the presets, then their aliases. */
  get names(): string[] {
    return [...Object.keys(this.values), ...Object.keys(this.aliases)];
  }

  /** The options of the named preset (or alias); undefined for an unknown name. */
  options(name: unknown): Partial<T> | undefined {
    if (typeof name !== 'string') return undefined;
    const canonical = Object.hasOwn(this.aliases, name) ? this.aliases[name] : name;
    return canonical !== undefined && Object.hasOwn(this.values, canonical) ? this.values[canonical] : undefined;
  }

  /**
   * A configuration with the named preset's options and the class defaults for the rest.
   *
   * @example
   * const settings = FUSION_PRESETS.create('static');
   */
  create(name: string): T {
    const options = this.options(name);
    if (!options) throw new Error(`unknown preset "${name}"; expected one of: ${this.names.join(', ')}`);
    return Object.assign(new this.type(), options);
  }
}

/**
 * Raw configuration data with its `preset` replaced by the preset's options (options given explicitly win). Data of a
 * class without presets, data without a `preset`, and an unknown preset (for validation to report) are returned as
 * they are.
 */
export function expandPreset(type: ConfigClass, raw: unknown): unknown {
  const presets = PRESETS.get(type);
  if (!presets || raw === null || typeof raw !== 'object' || Array.isArray(raw) || !('preset' in raw)) return raw;
  const { preset, ...options } = raw as { preset: unknown } & Record<string, unknown>;
  const values = presets.options(preset);
  return values ? { ...values, ...options } : raw;
}

/**
 * Declares a configuration class's `preset` field: input only (validation replaces it by the preset's options), so it
 * stays only when the name is unknown, which this reports with the known names.
 */
export function IsPreset(): PropertyDecorator {
  return (target, key) => {
    IsOptional()(target, key);
    const names = (object: object) => PRESETS.get(object.constructor as ConfigClass)?.names ?? [];
    ValidateBy({
      name: 'isPreset',
      validator: {
        validate: () => false,
        defaultMessage: (args) => `must be one of the following values: ${names(args?.object ?? {}).join(', ')}`,
      },
    })(target, key);
  };
}

/**
 * Declares a field holding a nested configuration of class `type`: validated as a nested object, with its `preset`
 * expanded.
 *
 * @example
 * class MyStageConfig {
 *   @ConfigProperty(() => AdapterConfig)
 *   adapter = new AdapterConfig();
 * }
 */
export function ConfigProperty(type: () => ConfigClass): PropertyDecorator {
  return (target, key) => {
    ValidateNested()(target, key);
    Type(type)(target, key);
    // Transforms run after class-transformer built the nested instance; rebuilding it from the raw value is the one
    // place where the preset is known.
    Transform(
      ({ obj, value }: { obj: Record<string | symbol, unknown>; value: unknown }) =>
        obj[key] === undefined ? value : plainToInstance(type(), expandPreset(type(), obj[key]), { exposeDefaultValues: true }),
      { toClassOnly: true },
    )(target, key);
  };
}

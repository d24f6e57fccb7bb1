import * as tf from '@tensorflow/tfjs-core';
import { IsArray, IsBoolean, IsIn, IsInt, IsNumber, Max, Min, ValidateBy } from 'class-validator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Projection, ProjectionName, SublayerHook } from '../backbone/sublayer-hook';
import { validateConfig } from '../config/validate';
import { makeDirectory, writeJsonAtomic } from '../io/atomic';
import { readJsonFile } from '../io/read-file';
import { readSafetensors } from '../io/safetensors';
import { normalInit, onesInit, uniformInit, WeightStore, withoutPrefix, zerosInit, type Initializer, type WeightDefinition } from '../io/weight-store';
import { dropout } from '../ops/dropout';
import { linear } from '../ops/linear';
import { SeededRandom } from '../util/random';
import { adapterHubFileFields, requireField } from './adapterhub-files';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type AdapterBackboneShape } from './bottleneck-adapter';

/** The backbone facts a LoRA depends on (a `BertModel` config has them). */
export type LoraBackboneShape = AdapterBackboneShape & { readonly intermediateSize: number };

/** The attention projections AdapterHub's `attn_matrices` names. */
const ATTENTION_MATRICES = { q: 'query', k: 'key', v: 'value' } as const;

/**
 * A LoRA (Hu et al. 2021) or (IA)³ (Liu et al. 2022) architecture: which Linear layers of each transformer layer are
 * wrapped and how. Field names are AdapterHub's `LoRAConfig` options in camelCase, with its defaults.
 *
 * @example
 * const config = validateConfig(LoraConfig, { r: 4, alpha: 8, attnMatrices: ['q', 'v'], outputLora: true });
 */
export class LoraConfig {
  /** Wrap the self-attention projections named by `attnMatrices`. */
  @IsBoolean()
  selfattnLora = true;

  /** Wrap the feed-forward input projection (`intermediate.dense`). */
  @IsBoolean()
  intermediateLora = false;

  /** Wrap the feed-forward output projection (`output.dense`). */
  @IsBoolean()
  outputLora = false;

  /** 0-based layers that get no LoRA. */
  @IsArray()
  @IsInt({ each: true })
  @Min(0, { each: true })
  @Max(1000, { each: true })
  leaveOut: number[] = [];

  /** The rank of the update `B·A`; 1 for `scale`. */
  @IsInt()
  @Min(1)
  @Max(4096)
  r = 8;

  /** The update is multiplied by `alpha / r`. */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-1e6)
  @Max(1e6)
  alpha = 8;

  /** Dropout on the LoRA branch's input while training (`add` only). */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  dropout = 0;

  /** The self-attention projections wrapped: any of `q`, `k`, `v`. */
  @IsArray()
  @IsIn(Object.keys(ATTENTION_MATRICES), { each: true })
  attnMatrices: ('q' | 'k' | 'v')[] = ['q', 'v'];

  /** `add`: `y + (alpha/r)·x·Aᵀ·Bᵀ` (LoRA); `scale`: `y ⊙ (alpha/r)·l` with the vector `l` = B (IA)³, r must be 1. */
  @IsIn(['add', 'scale'])
  @ValidateBy({
    name: 'scaleRankOne',
    validator: {
      validate: (value, args) => value === 'add' || (args?.object as LoraConfig).r === 1,
      defaultMessage: () => 'must be "add" when r > 1 ("scale" needs r = 1)',
    },
  })
  compositionMode: 'add' | 'scale' = 'add';

  /** `lora`: A Kaiming-uniform, B zero; `bert`: both N(0, 0.02); `ia3`: B (the scaling vector) ones. */
  @IsIn(['lora', 'bert', 'ia3'])
  initWeights: 'lora' | 'bert' | 'ia3' = 'lora';

  /** The factor `alpha / r` on the update. */
  get scaling(): number {
    return this.alpha / this.r;
  }

  /** The AdapterHub `config` object of `adapter_config.json` (snake_case, sorted as AdapterHub writes it). */
  toAdapterHub(): Record<string, unknown> {
    const out: Record<string, unknown> = { architecture: 'lora', use_gating: false };
    for (const [field, key] of Object.entries(LORA_KEYS)) out[key] = this[field as keyof typeof LORA_KEYS];
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** Our field ↔ AdapterHub key. */
const LORA_KEYS = {
  selfattnLora: 'selfattn_lora',
  intermediateLora: 'intermediate_lora',
  outputLora: 'output_lora',
  leaveOut: 'leave_out',
  r: 'r',
  alpha: 'alpha',
  dropout: 'dropout',
  attnMatrices: 'attn_matrices',
  compositionMode: 'composition_mode',
  initWeights: 'init_weights',
} as const satisfies Record<string, string>;

/** True when an AdapterHub `config` object describes a LoRA / (IA)³ (`architecture: "lora"`). */
export function isLoraConfig(json: unknown): boolean {
  return json !== null && typeof json === 'object' && (json as Record<string, unknown>).architecture === 'lora';
}

/** True when `dir`'s `adapter_config.json` holds a LoRA / (IA)³ rather than a bottleneck adapter. */
export function isLoraDirectory(dir: string): boolean {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  return existsSync(file) && isLoraConfig((readJsonFile(file) as { config?: unknown } | null)?.config);
}

/**
 * Reads the `config` object of an AdapterHub LoRA `adapter_config.json`. `version` is the file's: adapters before
 * 1.1.0 ignored `alpha / r` in the forward pass, so for them `alpha` becomes `r`, as AdapterHub 1.1+ reads them.
 */
export function loraConfigFromAdapterHub(json: unknown, version: unknown, file: string): LoraConfig {
  const raw = json as Record<string, unknown>;
  const fields = Object.fromEntries(Object.entries(LORA_KEYS).map(([field, key]) => [key, field]));
  const camel: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const field = fields[key];
    if (field !== undefined) camel[field] = value;
    else if (key === 'use_gating') {
      if (value !== false) problems.push(`use_gating is ${JSON.stringify(value)}, but only false is supported`);
    } else if (key !== 'architecture') problems.push(`unknown option ${key}`);
  }
  if (problems.length > 0) throw new Error(`${file}: unsupported AdapterHub LoRA configuration: ${problems.join('; ')}`);
  const config = validateConfig(LoraConfig, camel, file);
  if (writtenBeforeScaling(version)) config.alpha = config.r;
  return config;
}

/** True for a file of AdapterHub `adapters` older than 1.1.0, whose LoRA forward did not apply `alpha / r`. */
function writtenBeforeScaling(version: unknown): boolean {
  const match = typeof version === 'string' ? /^adapters\.(\d+)\.(\d+)/.exec(version) : null;
  return match !== null && (Number(match[1]) < 1 || (Number(match[1]) === 1 && Number(match[2]) < 1));
}

/** Where each wrapped projection sits in the model, as AdapterHub names the BERT submodules. */
const PROJECTION_PATHS: Record<ProjectionName, string> = {
  query: 'attention.self.query',
  key: 'attention.self.key',
  value: 'attention.self.value',
  intermediate: 'intermediate.dense',
  output: 'output.dense',
};

/** The wrapped projections of one layer with their [in, out] sizes. */
function wrappedProjections(config: LoraConfig, backbone: LoraBackboneShape): [ProjectionName, number, number][] {
  const d = backbone.hiddenSize;
  const out: [ProjectionName, number, number][] = [];
  if (config.selfattnLora) for (const m of ['q', 'k', 'v'] as const) if (config.attnMatrices.includes(m)) out.push([ATTENTION_MATRICES[m], d, d]);
  if (config.intermediateLora) out.push(['intermediate', d, backbone.intermediateSize]);
  if (config.outputLora) out.push(['output', backbone.intermediateSize, d]);
  return out;
}

/** The weights of one wrapped projection: `a` [in, r] and `b` [r, out] (`add`), or `b` [1, out] = l (`scale`). */
interface LoraWeights {
  a?: tf.Variable;
  b: tf.Variable;
}

/** A backbone whose wrapped Linear kernels a LoRA can merge into (a `BertModel`). */
export interface MergeTarget {
  readonly weights: ReadonlyMap<string, tf.Variable>;
}

/**
 * A LoRA or (IA)³ module: low-rank updates (or scaling vectors) on Linear layers of a frozen backbone, applied through
 * the backbone hook's `projection`, saved and loaded in AdapterHub's file layout (`adapter_config.json` with
 * `architecture: "lora"`, `adapter.safetensors` with `...loras.<name>.lora_A` / `lora_B`). `merge` folds the update
 * into the backbone's kernels for inference; `unmerge` restores them exactly.
 *
 * @example
 * const lora = LoraModule.create('rte', validateConfig(LoraConfig, { r: 8, alpha: 16 }), backbone, 42);
 * backbone.forward(inputs, { hook: lora.hook() });
 */
export class LoraModule {
  private readonly modules = new Map<string, LoraWeights>();
  /** The backbone's original kernels while merged. */
  private original: { target: MergeTarget; kernels: Map<string, tf.Tensor>; biases: Map<string, tf.Tensor> } | undefined;

  private constructor(
    readonly name: string,
    readonly config: LoraConfig,
    readonly backbone: LoraBackboneShape,
    /** Every trainable weight, by its AdapterHub name without the base-model prefix. */
    readonly variables: WeightStore,
  ) {
    for (const [weight, variable] of variables) {
      const [, site, part] = /^(.*)\.loras\.[^.]+\.lora_(A|B)$/.exec(weight) ?? [];
      if (site === undefined) continue;
      const module = this.modules.get(site) ?? ({} as LoraWeights);
      if (part === 'A') module.a = variable;
      else module.b = variable;
      this.modules.set(site, module);
    }
  }

  /** A new module: `lora` init gives A Kaiming-uniform and B zero (so it starts as the identity), from `seed`. */
  static create(name: string, config: LoraConfig, backbone: { readonly config: LoraBackboneShape }, seed: number): LoraModule {
    return new LoraModule(name, config, backbone.config, WeightStore.create(`LoRA "${name}"`, definitions(name, config, backbone.config, seed)));
  }

  /**
   * Loads a LoRA directory written here or by AdapterHub, under `name` (default: the name in the file). Refuses
   * another backbone's module, missing or unexpected weights and options this project does not implement.
   */
  static load(dir: string, backbone: { readonly config: LoraBackboneShape }, name?: string): LoraModule {
    const configFile = join(dir, ADAPTER_CONFIG_FILE);
    const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
    const json = readJsonFile(configFile);
    const savedName = requireField(configFile, json, 'name', (v): v is string => typeof v === 'string', 'the adapter name');
    const rawConfig = requireField(configFile, json, 'config', isLoraConfig as (v: unknown) => v is Record<string, unknown>, 'a LoRA configuration (architecture "lora")');
    const hiddenSize = requireField(configFile, json, 'hidden_size', (v): v is number => typeof v === 'number', 'a number');
    const target = backbone.config;
    if (hiddenSize !== target.hiddenSize) throw new Error(`${configFile}: the LoRA was made for hidden size ${hiddenSize} (this backbone: ${target.hiddenSize})`);
    const config = loraConfigFromAdapterHub(rawConfig, (json as Record<string, unknown>).version, configFile);
    const loraName = name ?? savedName;
    const stripped = withoutPrefix(readSafetensors(weightsFile).tensors, [`${target.modelType}.`]);
    const renamed = new Map([...stripped].map(([weight, entry]) => [weight.replace(`.loras.${savedName}.`, `.loras.${loraName}.`), entry]));
    return new LoraModule(loraName, config, target, WeightStore.load(`LoRA "${loraName}"`, definitions(loraName, config, target, 0), weightsFile, renamed));
  }

  /** The backbone's output of one projection with this module's update, or undefined where it has none or is merged. */
  project(projection: Projection): tf.Tensor3D | undefined {
    const module = this.original ? undefined : this.modules.get(`encoder.layer.${projection.layer}.${PROJECTION_PATHS[projection.name]}`);
    if (!module) return undefined;
    const scaling = this.config.scaling;
    return tf.tidy(() => {
      if (!module.a) return tf.mul<tf.Tensor3D>(projection.y, tf.mul(module.b, scaling)); // (B, T, out)
      const input = projection.training && this.config.dropout > 0 ? dropout(projection.x, this.config.dropout, projection.nextDropoutSeed()) : projection.x;
      const delta = linear(linear(input, module.a as tf.Tensor2D), module.b as tf.Tensor2D); // (B, T, out)
      return tf.add<tf.Tensor3D>(projection.y, scaling === 1 ? delta : tf.mul(delta, scaling));
    });
  }

  /** A backbone hook applying this module's updates to the projections it wraps (and nothing else). */
  hook(): SublayerHook {
    return Object.assign(() => undefined, { projection: (projection: Projection) => this.project(projection) });
  }

  /**
   * Folds the update into `target`'s kernels for inference (`add`: `W + (alpha/r)·Aᵀ·Bᵀ` in the `[in, out]` layout;
   * `scale`: each output column and its bias times `(alpha/r)·l`, so merged equals unmerged, unlike AdapterHub,
   * which leaves the bias unscaled). The hook then adds nothing until `unmerge`.
   */
  merge(target: MergeTarget): void {
    if (this.original) throw new Error(`LoRA "${this.name}" is already merged; unmerge it first`);
    const kernels = new Map<string, tf.Tensor>();
    const biases = new Map<string, tf.Tensor>();
    for (const [site, { a, b }] of this.modules) {
      const kernel = target.weights.get(`${site}.weight`);
      const bias = target.weights.get(`${site}.bias`);
      if (!kernel || !bias) throw new Error(`LoRA "${this.name}": the backbone has no Linear layer ${site}`);
      kernels.set(site, tf.clone(kernel));
      if (a) kernel.assign(tf.tidy(() => tf.add(kernel, tf.mul(tf.matMul(a, b), this.config.scaling))));
      else {
        biases.set(site, tf.clone(bias));
        const factor = tf.tidy(() => tf.mul(b, this.config.scaling)); // (1, out)
        kernel.assign(tf.tidy(() => tf.mul(kernel, factor)));
        bias.assign(tf.tidy(() => tf.mul(bias, tf.reshape(factor, [-1]))));
        factor.dispose();
      }
    }
    this.original = { target, kernels, biases };
  }

  /** Restores the kernels (and biases) `merge` changed to their exact previous values. */
  unmerge(): void {
    if (!this.original) throw new Error(`LoRA "${this.name}" is not merged`);
    const { target, kernels, biases } = this.original;
    for (const [names, suffix] of [[kernels, 'weight'], [biases, 'bias']] as const) {
      for (const [site, value] of names) {
        target.weights.get(`${site}.${suffix}`)?.assign(value);
        value.dispose();
      }
    }
    this.original = undefined;
  }

  /** Number of trainable values: `r·(in + out)` per wrapped projection (`out` for `scale`). */
  parameterCount(): number {
    return this.variables.parameterCount();
  }

  /** Writes `adapter_config.json` and `adapter.safetensors` in AdapterHub's layout (base-model prefix, F32). */
  async save(dir: string): Promise<void> {
    makeDirectory(dir);
    await this.variables.save(join(dir, ADAPTER_WEIGHTS_FILE), { prefix: `${this.backbone.modelType}.` });
    writeJsonAtomic(join(dir, ADAPTER_CONFIG_FILE), { config: this.config.toAdapterHub(), ...adapterHubFileFields(this.backbone.modelType, this.backbone.hiddenSize, this.name) });
  }

  /** Releases the weights (unmerge first to keep the backbone's original kernels). */
  dispose(): void {
    this.variables.dispose();
  }
}

/**
 * The module's weights by AdapterHub name: `lora_A` [r, in] and `lora_B` [out, r] in files (kernels, `[in, r]` and
 * `[r, out]` here), or only `lora_B` [out, 1] for `scale`; each initialiser from the next seed `seed` draws.
 */
function definitions(name: string, config: LoraConfig, backbone: LoraBackboneShape, seed: number): Map<string, WeightDefinition> {
  const random = new SeededRandom(seed);
  const out = new Map<string, WeightDefinition>();
  for (let layer = 0; layer < backbone.numHiddenLayers; layer++) {
    if (config.leaveOut.includes(layer)) continue;
    for (const [projection, inSize, outSize] of wrappedProjections(config, backbone)) {
      const prefix = `encoder.layer.${layer}.${PROJECTION_PATHS[projection]}.loras.${name}`;
      const [aInit, bInit] = initializers(config, inSize, random.int(2 ** 31), random.int(2 ** 31));
      if (config.compositionMode === 'add') out.set(`${prefix}.lora_A`, { shape: [inSize, config.r], init: aInit, kernel: true });
      out.set(`${prefix}.lora_B`, { shape: [config.compositionMode === 'add' ? config.r : 1, outSize], init: bInit, kernel: true });
    }
  }
  return out;
}

/** AdapterHub's `init_weights`: `lora` = A Kaiming-uniform (bound 1/√in), B zero; `bert` = N(0, 0.02); `ia3` = B ones. */
function initializers(config: LoraConfig, inSize: number, seedA: number, seedB: number): [Initializer, Initializer] {
  switch (config.initWeights) {
    case 'lora':
      return [uniformInit(1 / Math.sqrt(inSize), seedA), zerosInit];
    case 'bert':
      return [normalInit(0.02, seedA), normalInit(0.02, seedB)];
    case 'ia3':
      return [normalInit(0.02, seedA), onesInit];
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import type { Sublayer, SublayerHook, SublayerLocation } from '../backbone/sublayer-hook';
import { makeDirectory, writeJsonAtomic } from '../io/atomic';
import { readSafetensors } from '../io/safetensors';
import { normalInit, onesInit, truncatedNormalInit, uniformInit, WeightStore, withoutPrefix, zerosInit, type Initializer, type WeightDefinition, type WeightDefinitions } from '../io/weight-store';
import { layerNorm } from '../ops/layer-norm';
import { linear } from '../ops/linear';
import { SeededRandom } from '../util/random';
import { activation } from '../ops/activation';
import { AdapterConfig, adapterConfigFromAdapterHub, bottleneckSize } from './adapter-config';
import { adapterInputs, adapterOutput } from './adapter-inputs';
import { adapterHubFileFields, requireField } from './adapterhub-files';
import { readJsonFile } from '../io/read-file';
import { dropout } from '../ops/dropout';

/** File names of an adapter directory, as AdapterHub names them. */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter.safetensors';

/** Where each insertion point's modules sit in the model, as AdapterHub names the BERT submodules. */
const LOCATION_PATHS: Record<SublayerLocation, string> = { mh_adapter: 'attention.output', output_adapter: 'output' };

/** Activation names older AdapterHub files (without a `version`) used, mapped as AdapterHub's loader maps them. */
const LEGACY_ACTIVATIONS: Record<string, string> = { gelu: 'gelu_new', gelu_orig: 'gelu' };

/** The weights of one adapter module. */
export interface AdapterModuleWeights {
  /** W_down. (D, m) */
  down: tf.Variable;
  /** (m) */
  downBias: tf.Variable;
  /** W_up. (m, D) */
  up: tf.Variable;
  /** (D) */
  upBias: tf.Variable;
  /** With `lnBefore`: the adapter's own LayerNorm of its input. (D) each */
  normBefore?: { weight: tf.Variable; bias: tf.Variable };
  /** With `lnAfter`: the adapter's own LayerNorm of its output. (D) each */
  normAfter?: { weight: tf.Variable; bias: tf.Variable };
  /** With `useGating`: the gate's kernel (D, 1) and bias (1). */
  gate?: { weight: tf.Variable; bias: tf.Variable };
  /** With `scaling: learned`: the trained scale. (1) */
  scaling?: tf.Variable;
}

/** PyTorch's default LayerNorm epsilon, which AdapterHub's own adapter LayerNorms keep (not the backbone's). */
const ADAPTER_LAYER_NORM_EPS = 1e-5;

/** An adapter file was made for a backbone of another shape; the message lists every difference. */
export class AdapterBackboneMismatchError extends Error {
  override name = 'AdapterBackboneMismatchError';

  constructor(
    readonly file: string,
    readonly differences: string[],
  ) {
    super(`${file}: the adapter was made for another backbone: ${differences.join('; ')}`);
  }
}

/** Valid adapter names: they become part of weight names and of comma-joined fusion names. */
const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** The AdapterHub-style name prefix of one adapter module, without the base-model prefix. */
export function adapterModulePrefix(name: string, layer: number, location: SublayerLocation): string {
  return `encoder.layer.${layer}.${LOCATION_PATHS[location]}.adapters.${name}`;
}

/** The backbone facts an adapter depends on (a `BertModel` config has them). */
export interface AdapterBackboneShape {
  readonly modelType: string;
  readonly hiddenSize: number;
  readonly numHiddenLayers: number;
}

/** Anything with a backbone configuration, e.g. a `BertModel`. */
export interface AdapterBackbone {
  readonly config: AdapterBackboneShape;
}

/** Every (layer, location) that gets a module. */
function moduleSites(config: AdapterConfig, numLayers: number): { layer: number; location: SublayerLocation }[] {
  const locations = adapterLocations(config);
  const sites: { layer: number; location: SublayerLocation }[] = [];
  for (let layer = 0; layer < numLayers; layer++) {
    if (config.leaveOut.includes(layer)) continue;
    for (const location of locations) sites.push({ layer, location });
  }
  return sites;
}

function adapterLocations(config: AdapterConfig): SublayerLocation[] {
  return [...(config.mhAdapter ? ['mh_adapter' as const] : []), ...(config.outputAdapter ? ['output_adapter' as const] : [])];
}

/**
 * An adapter's weights under AdapterHub's names (without the base-model prefix), initialised as the configuration
 * says (AdapterHub `Adapter.__init__`), each from the next seed `seed` draws.
 */
function weightDefinitions(name: string, config: AdapterConfig, backbone: AdapterBackboneShape, seed: number): WeightDefinitions {
  const d = backbone.hiddenSize;
  const random = new SeededRandom(seed);
  const definitions = new Map<string, WeightDefinition>();
  for (const { layer, location } of moduleSites(config, backbone.numHiddenLayers)) {
    const m = bottleneckSize(config, d, layer);
    const prefix = adapterModulePrefix(name, layer, location);
    const define = (suffix: string, definition: WeightDefinition) => definitions.set(`${prefix}.${suffix}`, definition);
    const layerNorm = (suffix: string, aliases: string[] = []) => {
      define(`${suffix}.weight`, { shape: [d], init: onesInit, aliases: aliases.map((alias) => `${prefix}.${alias}.weight`) });
      define(`${suffix}.bias`, { shape: [d], init: zerosInit, aliases: aliases.map((alias) => `${prefix}.${alias}.bias`) });
    };
    // With ln_before the LayerNorm is the first module of AdapterHub's `adapter_down` Sequential, which PyTorch saves
    // under both of its names, and the down Linear moves to index 1.
    if (config.lnBefore) layerNorm('adapter_norm_before', ['adapter_down.0']);
    const down = config.lnBefore ? 'adapter_down.1' : 'adapter_down.0';
    const module: [suffix: string, shape: number[], init: (seed: number) => Initializer][] = [
      [`${down}.weight`, [d, m], (weightSeed) => kernelInit(config, 'down', weightSeed)],
      [`${down}.bias`, [m], () => zerosInit],
      ['adapter_up.weight', [m, d], (weightSeed) => kernelInit(config, 'up', weightSeed)],
      ['adapter_up.bias', [d], () => zerosInit],
    ];
    // Biases draw a seed too, so that every kernel's seed is the same whatever the initialisation.
    for (const [suffix, shape, init] of module) define(suffix, { shape, init: init(random.int(2 ** 31)), kernel: shape.length === 2 });
    if (config.lnAfter) layerNorm('adapter_norm_after');
    if (config.useGating) {
      define('gate.weight', { shape: [d, 1], init: normalInit(0.02, random.int(2 ** 31)), kernel: true });
      define('gate.bias', { shape: [1], init: zerosInit });
    }
    if (config.scaling === 'learned') define('scaling', { shape: [1], init: onesInit });
  }
  return definitions;
}

/** The initialiser of a down- or up-projection kernel under the configured initialisation. */
function kernelInit(config: AdapterConfig, role: 'down' | 'up', seed: number): Initializer {
  switch (config.initWeights) {
    case 'bert':
      return normalInit(0.02, seed);
    case 'houlsby':
      return truncatedNormalInit(0.01, seed);
    case 'mam_adapter':
      // Up starts at zero; down is kaiming_uniform_(a=√5) over fan_in = D: bound = sqrt(6 / ((1 + 5)·D)) = 1/√D.
      return role === 'up' ? zerosInit : (shape) => uniformInit(1 / Math.sqrt(shape[0] ?? 1), seed)(shape);
  }
}

/**
 * A bottleneck adapter (Houlsby et al. 2019; Pfeiffer et al. 2021) as AdapterHub computes it: at each insertion point
 * of each layer, `z = scaling·(f(a·W_down + b_down)·W_up + b_up)` on the input `a` that the configuration wires, added
 * to its residual and, with `originalLnAfter`, passed through the frozen pretrained LayerNorm. Files are AdapterHub's
 * (`adapter_config.json` + `adapter.safetensors`), so adapters move between the two libraries both ways.
 *
 * @example
 * const adapter = BottleneckAdapter.create('rte', validateAdapterConfig({ preset: 'seq_bn' }), backbone, 42);
 * const output = backbone.forward(inputs, { hook: adapter.hook() });
 * await adapter.save('runs/demo/adapters/rte');
 * const again = await BottleneckAdapter.load('runs/demo/adapters/rte', backbone);
 */
export class BottleneckAdapter {
  /** The insertion points this adapter uses (`mh_adapter` for Houlsby, `output_adapter` for both presets). */
  readonly locations: SublayerLocation[];
  private readonly modules = new Map<string, AdapterModuleWeights>();
  private readonly nonLinearity: (x: tf.Tensor) => tf.Tensor;

  private constructor(
    readonly name: string,
    readonly config: AdapterConfig,
    private readonly backbone: AdapterBackboneShape,
    /** Weights by AdapterHub name without the base-model prefix. */
    readonly variables: WeightStore,
  ) {
    this.locations = adapterLocations(config);
    this.nonLinearity = activation(config.nonLinearity);
    for (const { layer, location } of moduleSites(config, backbone.numHiddenLayers)) {
      const prefix = adapterModulePrefix(name, layer, location);
      const get = (suffix: string): tf.Variable => variables.variable(`${prefix}.${suffix}`);
      const pair = (module: string) => ({ weight: get(`${module}.weight`), bias: get(`${module}.bias`) });
      const down = config.lnBefore ? 'adapter_down.1' : 'adapter_down.0';
      this.modules.set(`${layer}/${location}`, {
        down: get(`${down}.weight`),
        downBias: get(`${down}.bias`),
        up: get('adapter_up.weight'),
        upBias: get('adapter_up.bias'),
        ...(config.lnBefore ? { normBefore: pair('adapter_norm_before') } : {}),
        ...(config.lnAfter ? { normAfter: pair('adapter_norm_after') } : {}),
        ...(config.useGating ? { gate: pair('gate') } : {}),
        ...(config.scaling === 'learned' ? { scaling: get('scaling') } : {}),
      });
    }
  }

  /**
   * A new adapter for `backbone`, initialised as the configuration says (`bert`: N(0, 0.02) weights, zero biases) from
   * `seed`.
   */
  static create(name: string, config: AdapterConfig, backbone: AdapterBackbone, seed: number): BottleneckAdapter {
    if (!NAME_PATTERN.test(name)) throw new Error(`adapter name "${name}": expected letters, digits, "_" or "-" only`);
    const variables = WeightStore.create(`adapter "${name}"`, weightDefinitions(name, config, backbone.config, seed));
    return new BottleneckAdapter(name, config, backbone.config, variables);
  }

  /**
   * Loads an adapter directory written here or by AdapterHub (weight names with or without the base-model prefix,
   * `[out, in]` kernels), under `name` (default: the name in the file). Refuses an adapter made for another backbone
   * (hidden size, layer count, model type), missing or unexpected weights, and options this project does not implement.
   */
  static async load(dir: string, backbone: AdapterBackbone, name?: string): Promise<BottleneckAdapter> {
    const configFile = join(dir, ADAPTER_CONFIG_FILE);
    const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
    const json = readJsonFile(configFile);
    const savedName = requireField(configFile, json, 'name', (v): v is string => typeof v === 'string', 'the adapter name');
    const rawConfig = requireField(configFile, json, 'config', (v): v is Record<string, unknown> => v !== null && typeof v === 'object', 'an object');
    if (rawConfig.architecture === 'lora') {
      throw new Error(`${configFile}: "${savedName}" is a LoRA module (method "lora"), not a bottleneck adapter; fusion and the commands that run bottleneck adapters do not take LoRA modules (load it with LoraModule.load)`);
    }
    const hiddenSize = requireField(configFile, json, 'hidden_size', (v): v is number => typeof v === 'number', 'a number');
    const modelType = requireField(configFile, json, 'model_type', (v): v is string => typeof v === 'string', 'a string');
    const legacy = !('version' in (json as object));
    const nonLinearity = rawConfig.non_linearity;
    const config = adapterConfigFromAdapterHub(
      legacy && typeof nonLinearity === 'string' ? { ...rawConfig, non_linearity: LEGACY_ACTIVATIONS[nonLinearity] ?? nonLinearity } : rawConfig,
      configFile,
    );
    const target = backbone.config;
    const adapterName = name ?? savedName;
    if (!NAME_PATTERN.test(adapterName)) throw new Error(`adapter name "${adapterName}": expected letters, digits, "_" or "-" only`);

    const stripped = withoutPrefix(readSafetensors(weightsFile).tensors, [`${target.modelType}.`]);
    const renamed = new Map([...stripped].map(([weight, entry]) => [weight.replace(`.adapters.${savedName}.`, `.adapters.${adapterName}.`), entry]));

    const differences: string[] = [];
    if (modelType !== target.modelType) differences.push(`model type "${modelType}" (this backbone: "${target.modelType}")`);
    if (hiddenSize !== target.hiddenSize) differences.push(`hidden size ${hiddenSize} (this backbone: ${target.hiddenSize})`);
    // Layer count as the highest layer with weights (AdapterHub files do not record it); leaveOut may drop the last ones.
    const fileLayers = Math.max(-1, ...[...renamed.keys()].map((key) => Number(/^encoder\.layer\.(\d+)\./.exec(key)?.[1] ?? -1))) + 1;
    const expectedLayers = Math.max(-1, ...moduleSites(config, target.numHiddenLayers).map((site) => site.layer)) + 1;
    if (fileLayers > 0 && fileLayers !== expectedLayers) differences.push(`${fileLayers} layers (this backbone: ${target.numHiddenLayers})`);
    if (differences.length > 0) throw new AdapterBackboneMismatchError(configFile, differences);

    const variables = WeightStore.load(`adapter "${adapterName}"`, weightDefinitions(adapterName, config, target, 0), weightsFile, renamed);
    return new BottleneckAdapter(adapterName, config, target, variables);
  }

  /** True when this adapter has a module at `location` of `layer` (not left out, location configured). */
  hasModule(layer: number, location: SublayerLocation): boolean {
    return this.modules.has(`${layer}/${location}`);
  }

  /** The weights of the module at `location` of `layer`. */
  moduleWeights(layer: number, location: SublayerLocation): AdapterModuleWeights {
    const module = this.modules.get(`${layer}/${location}`);
    if (!module) throw new Error(`adapter "${this.name}" has no module at layer ${layer} ${location} (locations: ${this.locations.join(', ')}; left out: [${this.config.leaveOut.join(', ')}])`);
    return module;
  }

  /**
   * The bottleneck output `z = scaling·(f(LN_before(input)·W_down + b_down)·W_up + b_up)` of one module, without
   * gate, `LN_after` or residual: what AdapterHub's fusion attends over. `LN_before` only with `lnBefore`.
   */
  project(layer: number, location: SublayerLocation, input: tf.Tensor3D): tf.Tensor3D {
    const { down, downBias, up, upBias, normBefore, scaling } = this.moduleWeights(layer, location);
    return tf.tidy(() => {
      const normalized = normBefore ? layerNorm(input, normBefore.weight, normBefore.bias, ADAPTER_LAYER_NORM_EPS) : input; // (B, T, D)
      const hidden = this.nonLinearity(linear(normalized, down as tf.Tensor2D, downBias as tf.Tensor1D)); // (B, T, m)
      const z = linear(hidden, up as tf.Tensor2D, upBias as tf.Tensor1D) as tf.Tensor3D; // (B, T, D)
      const factor = scaling ?? this.config.scaling;
      return factor === 1 ? z : tf.mul<tf.Tensor3D>(z, factor); // (B, T, D)
    });
  }

  /**
   * The sublayer output with this adapter applied (AdapterHub `Stack(name)` at one insertion point): the bottleneck
   * output, dropped out while training, gated (`useGating`), normalised (`lnAfter`), then joined to the residual.
   */
  apply(sublayer: Sublayer): tf.Tensor3D {
    return tf.tidy(() => {
      const { input, residual } = adapterInputs(this.config, sublayer);
      const { gate, normAfter } = this.moduleWeights(sublayer.layer, sublayer.location);
      let z = this.project(sublayer.layer, sublayer.location, input); // (B, T, D)
      if (sublayer.training && this.config.dropout > 0) z = dropout(z, this.config.dropout, sublayer.nextDropoutSeed());
      if (gate) {
        // One gate per sequence: the mean over every position (padding included, as AdapterHub computes it).
        const perPosition = tf.sigmoid(linear(input, gate.weight as tf.Tensor2D, gate.bias as tf.Tensor1D)); // (B, T, 1)
        z = tf.mul(z, tf.mean(perPosition, 1, true)); // (B, T, D)
      }
      if (normAfter) z = layerNorm(z, normAfter.weight, normAfter.bias, ADAPTER_LAYER_NORM_EPS); // (B, T, D)
      return adapterOutput(this.config, sublayer, z, residual); // (B, T, D)
    });
  }

  /**
   * A backbone hook running this adapter alone at every insertion point it has a module at. A gated adapter's hook
   * needs every position (its gate averages over them), so the backbone then ignores `firstTokenOnly`.
   */
  hook(): SublayerHook {
    const hook = (sublayer: Sublayer) => (this.hasModule(sublayer.layer, sublayer.location) ? this.apply(sublayer) : undefined);
    return this.config.useGating ? Object.assign(hook, { needsEveryPosition: true }) : hook;
  }

  /** Number of trainable values: `2·m·d + d + m` per module. */
  parameterCount(): number {
    return this.variables.parameterCount();
  }

  /**
   * Writes `adapter_config.json` and `adapter.safetensors` in AdapterHub's layout (names with the base-model prefix,
   * `[out, in]` kernels, F32), each file atomically.
   */
  async save(dir: string): Promise<void> {
    makeDirectory(dir);
    await this.variables.save(join(dir, ADAPTER_WEIGHTS_FILE), { prefix: `${this.backbone.modelType}.` });
    writeJsonAtomic(join(dir, ADAPTER_CONFIG_FILE), {
      config: this.config.toAdapterHub(),
      ...adapterHubFileFields(this.backbone.modelType, this.backbone.hiddenSize, this.name),
    });
  }

  /** Releases the weights. */
  dispose(): void {
    this.variables.dispose();
  }
}

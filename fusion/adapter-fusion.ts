import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  activation,
  adapterHubFileFields,
  adapterInputs,
  adapterOutput,
  makeDirectory,
  readJsonFile,
  readSafetensors,
  WeightStore,
  withoutPrefix,
  writeJsonAtomic,
  type AdapterConfig,
  type BottleneckAdapter,
  type SublayerHook,
  type SublayerLocation,
} from '../src/index';
import type { AttentionRecorder } from './attention-recorder';
import { FUSION_REGULARIZATION_WEIGHT, FusionLayer } from './fusion-layer';
import { fusionSettingsFromAdapterHub, fusionSettingsToAdapterHub, type FusionOptions } from './fusion-options';
import { StackedAdapters } from './stacked-adapters';

/** File names of a fusion directory, as AdapterHub names them. */
export const FUSION_CONFIG_FILE = 'adapter_fusion_config.json';
export const FUSION_WEIGHTS_FILE = 'model_adapter_fusion.safetensors';

/** Where each insertion point sits in the model, as AdapterHub names the BERT submodules. */
const LOCATION_PATHS: Record<SublayerLocation, string> = { mh_adapter: 'attention.output', output_adapter: 'output' };

/** The backbone facts a fusion depends on (a `BertModel` has them). */
export interface FusionBackbone {
  readonly config: {
    readonly modelType: string;
    readonly hiddenSize: number;
    readonly numHiddenLayers: number;
    /** The fusion's score dropout when its `dropoutProb` is null. */
    readonly attentionProbsDropoutProb: number;
  };
}

/** One (layer, insertion point) where every fused adapter has a module, and so where fusion runs. */
export interface FusionSite {
  layer: number;
  location: SublayerLocation;
}

/** Per-call inputs of a fusion hook; the fusion keeps no state between calls. */
export interface FusionHookOptions {
  /** Softmax temperature (default 1; the composition stage passes its schedule's value while training). */
  temperature?: number;
  /** Per adapter, in fusion order: 1 keeps it, 0 removes it and renormalises the others; one 1 forces that adapter. */
  adapterMask?: readonly number[];
  /** Receives every site's attention weights as plain numbers. */
  recorder?: AttentionRecorder;
  /** Seeds the score dropout of a training pass (each site draws from it) so a step is repeatable. */
  dropoutSeed?: number;
}

/** A fusion directory was written for other adapters, or in another order, than the ones given. */
export class FusionAdapterMismatchError extends Error {
  override name = 'FusionAdapterMismatchError';

  constructor(
    readonly file: string,
    readonly expected: readonly string[],
    readonly got: readonly string[],
  ) {
    super(`${file}: the fusion was trained over adapters [${expected.join(', ')}] in this order, got [${got.join(', ')}]; load the same adapters in the same order`);
  }
}

/**
 * AdapterFusion over N frozen adapters (Pfeiffer et al. 2021): a `FusionLayer` at every insertion point all the
 * adapters share, each attending over the adapters' outputs there. The adapters' weights are stacked once here so
 * every site runs them as one batched computation. As in AdapterHub, the input wiring and output LayerNorm of the
 * last adapter in the list apply.
 *
 * Weights are named as AdapterHub names them, without the base-model prefix:
 * `encoder.layer.{i}.output.adapter_fusion_layer.{a,b,c}.{query,key}.{weight,bias}`, `...value.weight` (kernels
 * `[in, out]` in memory, `[out, in]` on disk).
 *
 * @example
 * const fusion = AdapterFusion.create([sentiment, topic], FUSION_PRESETS.create('dynamic'), backbone, 42);
 * const output = backbone.forward(inputs, { hook: fusion.hook() });
 * await fusion.save('runs/demo/fusion/review');
 */
export class AdapterFusion {
  /** The comma-joined adapter names, AdapterHub's fusion name (`a,b,c`). */
  readonly name: string;
  readonly adapterNames: readonly string[];
  readonly sites: readonly FusionSite[];
  /** Trainable weights by AdapterHub name without the base-model prefix: every site's fusion layer's, combined. */
  readonly variables: WeightStore;
  private readonly layers = new Map<string, { index: number; fusion: FusionLayer; adapters: StackedAdapters }>();
  /** AdapterHub wires the fusion's input and output with the last adapter's configuration. */
  private readonly wiring: AdapterConfig;

  private constructor(
    adapters: readonly BottleneckAdapter[],
    readonly settings: FusionOptions,
    private readonly backbone: FusionBackbone['config'],
    seed: number,
  ) {
    const last = adapters[adapters.length - 1];
    if (!last || adapters.length < 2) throw new Error(`AdapterFusion: needs at least 2 adapters, got ${adapters.length}`);
    const names = adapters.map((adapter) => adapter.name);
    const repeated = names.filter((name, i) => names.indexOf(name) !== i);
    if (repeated.length > 0) throw new Error(`AdapterFusion: every adapter must appear once, got [${names.join(', ')}] (repeated: ${repeated.join(', ')})`);
    const scalings = adapters.map(plainScaling);
    this.adapterNames = names;
    this.name = names.join(',');
    this.wiring = last.config;
    const sites: FusionSite[] = [];
    for (let layer = 0; layer < backbone.numHiddenLayers; layer++) {
      for (const location of ['mh_adapter', 'output_adapter'] as const) {
        if (adapters.every((adapter) => adapter.hasModule(layer, location))) sites.push({ layer, location });
      }
    }
    if (sites.length === 0) throw new Error(`AdapterFusion: adapters [${names.join(', ')}] share no insertion point (each has modules at: ${adapters.map((a) => `${a.name} ${a.locations.join('+')}`).join('; ')})`);
    this.sites = sites;
    const parts: [prefix: string, weights: WeightStore][] = [];
    const dropoutRate = settings.dropoutProb ?? backbone.attentionProbsDropoutProb;
    sites.forEach(({ layer, location }, i) => {
      const fusion = new FusionLayer({ hiddenSize: backbone.hiddenSize, settings, dropoutRate, seed: seed + 3 * i });
      const stacked = new StackedAdapters(adapters.map((adapter, n) => ({
        ...adapter.moduleWeights(layer, location),
        nonLinearity: adapter.config.nonLinearity,
        activate: activation(adapter.config.nonLinearity),
        scaling: scalings[n] ?? 1,
      })));
      this.layers.set(siteKey(layer, location), { index: i, fusion, adapters: stacked });
      parts.push([fusionPrefix(this.name, layer, location), fusion.weights]);
    });
    this.variables = WeightStore.combine(`fusion "${this.name}"`, parts);
  }

  /** A new fusion over `adapters` (in this order), initialised as AdapterHub does, from `seed`. */
  static create(adapters: readonly BottleneckAdapter[], settings: FusionOptions, backbone: FusionBackbone, seed: number): AdapterFusion {
    return new AdapterFusion(adapters, settings, backbone.config, seed);
  }

  /**
   * Loads a fusion directory written here or by AdapterHub (weight names with or without the base-model prefix,
   * `[out, in]` kernels). Refuses a fusion trained over other adapters or another order than `adapters`, and missing,
   * unexpected or misshapen weights, naming them.
   */
  static async load(dir: string, adapters: readonly BottleneckAdapter[], backbone: FusionBackbone): Promise<AdapterFusion> {
    const configFile = join(dir, FUSION_CONFIG_FILE);
    const weightsFile = join(dir, FUSION_WEIGHTS_FILE);
    if (!existsSync(configFile)) throw new Error(`${dir}: not a fusion directory (no ${FUSION_CONFIG_FILE}); train one with "adapterfusion fuse"`);
    const json = readJsonFile(configFile) as Record<string, unknown>;
    const settings = fusionSettingsFromAdapterHub(json.config, configFile);
    const savedNames = adapterNamesOf(json, configFile);
    const given = adapters.map((adapter) => adapter.name);
    if (savedNames.join(',') !== given.join(',')) throw new FusionAdapterMismatchError(configFile, savedNames, given);
    if (typeof json.hidden_size === 'number' && json.hidden_size !== backbone.config.hiddenSize) {
      throw new Error(`${configFile}: the fusion was made for hidden size ${json.hidden_size}, this backbone has ${backbone.config.hiddenSize}`);
    }

    const fusion = new AdapterFusion(adapters, settings, backbone.config, 0);
    try {
      fusion.variables.assign(weightsFile, withoutPrefix(readSafetensors(weightsFile).tensors, [`${backbone.config.modelType}.`]));
    } catch (error) {
      fusion.dispose();
      throw error;
    }
    return fusion;
  }

  /**
   * A backbone hook that runs the fusion at every site. Pure: temperature, mask and recorder are this call's inputs,
   * dropout follows the sublayer's training flag.
   */
  hook(options: FusionHookOptions = {}): SublayerHook {
    const { temperature = 1, adapterMask, recorder, dropoutSeed } = options;
    return (sublayer) => {
      const site = this.layers.get(siteKey(sublayer.layer, sublayer.location));
      if (!site) return undefined;
      return tf.tidy(() => {
        const { input, residual, query } = adapterInputs(this.wiring, sublayer, { queryBeforeLn: this.settings.queryBeforeLn });
        const adapterOutputs = site.adapters.project(input); // (B, T, N, D)
        const { context, probabilities } = site.fusion.apply(
          { query, adapterOutputs, residual },
          {
            temperature,
            training: sublayer.training,
            ...(adapterMask ? { adapterMask } : {}),
            ...(dropoutSeed === undefined ? {} : { dropoutSeed: dropoutSeed + site.index }),
          },
        );
        recorder?.record(sublayer.layer, sublayer.location, probabilities, sublayer.attentionMask);
        return adapterOutput(this.wiring, sublayer, context); // (B, T, D)
      });
    };
  }

  /** AdapterHub's `get_fusion_regularization_loss`: 0.01 · Σ_sites ‖I − W_V‖²; zero without value matrices. */
  regularizationLoss(): tf.Scalar {
    return tf.tidy(() => tf.mul(tf.addN([...this.layers.values()].map((site) => site.fusion.regularizationLoss())), FUSION_REGULARIZATION_WEIGHT));
  }

  /** Number of trainable values (3·d² + 2·d per site for the dynamic preset). */
  parameterCount(): number {
    return this.variables.parameterCount();
  }

  /**
   * Writes `adapter_fusion_config.json` and `model_adapter_fusion.safetensors` in AdapterHub's layout (names with the
   * base-model prefix, `[out, in]` kernels, F32), each atomically. `extra` adds top-level fields to the config file.
   */
  async save(dir: string, extra: Record<string, unknown> = {}): Promise<void> {
    makeDirectory(dir);
    await this.variables.save(join(dir, FUSION_WEIGHTS_FILE), { prefix: `${this.backbone.modelType}.` });
    writeJsonAtomic(join(dir, FUSION_CONFIG_FILE), {
      config: fusionSettingsToAdapterHub(this.settings),
      adapter_names: this.adapterNames,
      ...adapterHubFileFields(this.backbone.modelType, this.backbone.hiddenSize, this.name),
      ...extra,
    });
  }

  /** Releases the fusion weights and the stacked copies of the adapter weights (the adapters stay). */
  dispose(): void {
    for (const site of this.layers.values()) {
      site.fusion.dispose();
      site.adapters.dispose();
    }
  }
}

/**
 * The constant scaling of a plain bottleneck adapter, the kind the stacked computation runs; an adapter with its own
 * LayerNorms, a gate, a learned scaling or parallel wiring is refused by name.
 */
function plainScaling(adapter: BottleneckAdapter): number {
  const { lnBefore, lnAfter, useGating, isParallel, scaling } = adapter.config;
  const options = { lnBefore, lnAfter, useGating, isParallel, 'scaling: learned': scaling === 'learned' };
  const used = Object.entries(options).filter(([, on]) => on).map(([option]) => option);
  if (used.length > 0 || typeof scaling !== 'number') throw new Error(`AdapterFusion: adapter "${adapter.name}" uses ${used.join(', ')}; fusion runs over plain bottleneck adapters only so far`);
  return scaling;
}

function siteKey(layer: number, location: SublayerLocation): string {
  return `${layer}/${location}`;
}

/** `encoder.layer.{i}.output.adapter_fusion_layer.{name}`: where a site's fusion weights live. */
export function fusionPrefix(name: string, layer: number, location: SublayerLocation): string {
  return `encoder.layer.${layer}.${LOCATION_PATHS[location]}.adapter_fusion_layer.${name}`;
}

/** The adapter order of a fusion config file: `adapter_names` when present, else the comma-joined `name`. */
export function adapterNamesOf(json: Record<string, unknown>, file: string): string[] {
  const listed = json.adapter_names;
  if (Array.isArray(listed) && listed.every((name) => typeof name === 'string')) return listed;
  if (typeof json.name === 'string' && json.name.length > 0) return json.name.split(',');
  throw new Error(`${file}: expected "adapter_names" (a list of adapter names) or "name" ("a,b,c"), got neither`);
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BertModel } from '../backbone/bert-model';
import type { SublayerHook, SublayerLocation } from '../backbone/sublayer-hook';
import { contributions, type Container } from '../di/container';
import type { PredictionHead } from '../heads/prediction-head';

/**
 * Token under which modules bind loaders of saved adapter compositions (same name as the interface, by design): a
 * directory that combines several adapters at each site, such as an AdapterFusion.
 */
export const CompositionLoader = Symbol.for('adapterfusion.CompositionLoader');

/** The attention a composition paid to its adapters at one sublayer in one forward pass, as plain numbers. */
export interface CompositionAttention {
  layer: number;
  location: SublayerLocation;
  /** Weights over the adapters (composition order) per batch row and token, padding included: [B][T][N]. */
  weights: number[][][];
}

/** A composition ready to run on a backbone, with the adapters it combines and, when saved with it, its head. */
export interface LoadedComposition {
  /** The composition's name (for AdapterFusion, the adapter names joined by commas). */
  readonly name: string;
  readonly adapterNames: readonly string[];
  /** The softmax temperature it was saved with (1 where it has none). */
  readonly temperature: number;
  /** The target head saved with it, when present. */
  readonly head?: PredictionHead;
  /**
   * A backbone hook running the adapters and the composition in inference mode. `adapterMask` (composition order): 0
   * removes an adapter and renormalises the others' weights; a single 1 forces that adapter. `recordAttention` keeps
   * every sublayer's weights for `takeAttention`.
   */
  hook(options?: { temperature?: number; adapterMask?: readonly number[]; recordAttention?: boolean }): SublayerHook;
  /**
   * With `recordAttention`, the attention of every sublayer since the last call, in the order the sublayers ran (read
   * asynchronously, as WebGPU allows).
   */
  takeAttention(): Promise<CompositionAttention[]>;
  /** Releases the composition, its adapters and head (not the backbone). */
  dispose(): void;
}

/**
 * Loads one kind of saved composition; a directory is this kind's when it holds `configFile`.
 *
 * @example
 * const composition = await loadComposition(container, 'runs/demo/fusion/demo-review', backbone);
 * const output = backbone.forward(inputs, { hook: composition.hook() });
 */
export interface CompositionLoader {
  /** What it loads, for messages (`AdapterFusion`). */
  readonly kind: string;
  /** The file that marks a directory as this kind's (`adapter_fusion_config.json`). */
  readonly configFile: string;
  /**
   * Loads the composition in `dir` and its adapters: from `adapterDirs` (in composition order) when given, else from
   * the adapter directories it recorded when it was trained. Refuses adapters other than, or in another order than,
   * the ones it was trained over.
   */
  load(dir: string, backbone: BertModel, options?: { adapterDirs?: readonly string[] }): Promise<LoadedComposition>;
}

/** Loads `dir` with the contributed loader whose config file it holds; a directory no loader knows is refused. */
export async function loadComposition(container: Container, dir: string, backbone: BertModel, options: { adapterDirs?: readonly string[] } = {}): Promise<LoadedComposition> {
  const loaders = contributions<CompositionLoader>(container, CompositionLoader);
  const loader = loaders.find((candidate) => existsSync(join(dir, candidate.configFile)));
  if (!loader) {
    const known = loaders.map((candidate) => `${candidate.configFile} (${candidate.kind})`).join(', ');
    throw new Error(`${dir}: not a composition directory: expected ${known ? `one of ${known}` : 'a module that loads compositions (none is loaded)'}`);
  }
  return loader.load(dir, backbone, options);
}

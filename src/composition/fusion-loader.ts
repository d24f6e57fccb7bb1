import type { BertModel } from '../backbone/bert-model';
import type { SublayerHook, SublayerLocation } from '../backbone/sublayer-hook';
import type { PredictionHead } from '../heads/prediction-head';

/** Token of the service that loads a trained fusion for inference; the `fusion/` module binds the implementation. */
export const FusionLoader = Symbol.for('adapterfusion.FusionLoader');

/** The fusion attention of one sublayer in one forward pass, as plain numbers. */
export interface FusionAttention {
  layer: number;
  location: SublayerLocation;
  /** Softmax weights over the adapters (fusion order) per batch row and token, padding included: [B][T][N]. */
  weights: number[][][];
}

/** A fusion ready to run on a backbone, with the adapters it fuses and, when saved with it, its target head. */
export interface LoadedFusion {
  /** AdapterHub's fusion name: the adapter names joined by commas. */
  readonly name: string;
  readonly adapterNames: readonly string[];
  /** The temperature the fusion was saved with (1 unless its temperature schedule was on). */
  readonly temperature: number;
  /** The target head from `<fusion>/head/`, when present. */
  readonly head?: PredictionHead;
  /**
   * A backbone hook running the adapters and the fusion in inference mode. `adapterMask` (fusion order): 0 removes an
   * adapter and renormalises the others' weights; a single 1 forces that adapter. `recordAttention` keeps every
   * sublayer's weights for `takeAttention`.
   */
  hook(options?: { temperature?: number; adapterMask?: readonly number[]; recordAttention?: boolean }): SublayerHook;
  /**
   * With `recordAttention`, the attention of every sublayer since the last call, in the order the sublayers ran
   * (recording copies the weights out; no tensor escapes).
   */
  takeAttention(): FusionAttention[];
  /** Releases the fusion, its adapters and head (not the backbone). */
  dispose(): void;
}

/**
 * Loads a fusion directory for `adapterfusion forward --fusion <dir>` and other inference.
 *
 * @example
 * const loader = resolveToken<FusionLoader>(container, FusionLoader);
 * const fusion = await loader.load('runs/demo/fusion/demo-review', backbone);
 * const output = backbone.forward(inputs, { hook: fusion.hook() });
 */
export interface FusionLoader {
  /**
   * Loads the fusion in `dir` and its adapters: from `adapterDirs` (in fusion order) when given, else from the adapter
   * directories the fusion recorded when it was trained. Refuses adapters other than, or in another order than, the
   * ones the fusion was trained over.
   */
  load(dir: string, backbone: BertModel, options?: { adapterDirs?: readonly string[] }): Promise<LoadedFusion>;
}

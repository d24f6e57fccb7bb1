import * as tf from '@tensorflow/tfjs-core';
import type { SublayerLocation } from '../src/index';

/** The fusion attention of one batch at one sublayer, copied out as plain numbers. */
export interface SiteAttention {
  layer: number;
  location: SublayerLocation;
  /** Per batch row, each adapter's weight summed over the row's non-padding tokens. [rows][N] */
  sums: number[][];
  /** Per batch row, the number of non-padding tokens. [rows] */
  tokens: number[];
  /**
   * Per batch row and token, the raw weights, padding included (only when recording tokens; with a bound, only the
   * site's first rows overall, so later batches may have fewer rows here than in `sums`, or none). [rows][T][N]
   */
  perToken?: number[][][];
}

/** One site's attention as the forward pass left it: tensors kept until `take` reads them. */
interface PendingSite {
  layer: number;
  location: SublayerLocation;
  sums: tf.Tensor2D;
  tokens: tf.Tensor1D;
  perToken?: tf.Tensor3D;
}

/**
 * Collects fusion attention while a model runs: the fusion hook hands it each site's weights and it keeps what it
 * needs (sums over non-padding tokens, and raw per-token weights on request) until `take` copies them out as plain
 * arrays. The copy is asynchronous, as reads on WebGPU are. Recording is opt-in: a fusion hook without a recorder keeps
 * nothing.
 *
 * @example
 * const recorder = new AttentionRecorder();
 * backbone.forward(inputs, { hook: fusion.hook({ recorder }) });
 * for (const site of await recorder.take()) console.log(site.layer, site.sums);
 */
export class AttentionRecorder {
  private pending: PendingSite[] = [];
  /** Per site, the rows whose per-token weights were kept so far. */
  private readonly tokenRows = new Map<string, number>();

  /**
   * @param options.perToken also keep per-token weights: `true` for every row, or a number to keep only each site's
   *   first that many rows (across batches), so memory stays bounded however long the split.
   */
  constructor(private readonly options: { perToken?: boolean | number } = {}) {}

  /** Keeps one site's attention. probabilities (B, T, N), attentionMask (B, T) with 1 on real tokens. */
  record(layer: number, location: SublayerLocation, probabilities: tf.Tensor3D, attentionMask: tf.Tensor2D): void {
    const [sums, tokens] = tf.tidy(() => {
      const mask = tf.cast(attentionMask, 'float32'); // (B, T)
      return [tf.sum(tf.mul(probabilities, tf.expandDims(mask, 2)), 1), tf.sum(mask, 1)]; // (B, N), (B)
    });
    const perToken = this.perTokenRows(`${layer}/${location}`, probabilities);
    // Kept past the forward pass's tidy; `take` disposes them.
    this.pending.push({
      layer,
      location,
      sums: tf.keep(sums as tf.Tensor2D),
      tokens: tf.keep(tokens as tf.Tensor1D),
      ...(perToken ? { perToken } : {}),
    });
  }

  /** The rows of `probabilities` (B, T, N) whose per-token weights this site still keeps, if any, kept for `take`. */
  private perTokenRows(site: string, probabilities: tf.Tensor3D): tf.Tensor3D | undefined {
    const { perToken } = this.options;
    if (perToken === undefined || perToken === false) return undefined;
    if (perToken === true) return tf.keep(tf.clone(probabilities));
    const kept = this.tokenRows.get(site) ?? 0;
    const rows = Math.min(probabilities.shape[0], perToken - kept);
    if (rows <= 0) return undefined;
    this.tokenRows.set(site, kept + rows);
    return tf.keep(tf.slice(probabilities, 0, rows));
  }

  /** Everything recorded since the last call, in the order the sites ran; the recorder starts empty again. */
  async take(): Promise<SiteAttention[]> {
    const pending = this.pending;
    this.pending = [];
    try {
      return await Promise.all(pending.map(async ({ layer, location, sums, tokens, perToken }) => ({
        layer,
        location,
        sums: await sums.array(),
        tokens: Array.from(await tokens.data()),
        ...(perToken ? { perToken: await perToken.array() } : {}),
      })));
    } finally {
      for (const site of pending) tf.dispose([site.sums, site.tokens, ...(site.perToken ? [site.perToken] : [])]);
    }
  }
}

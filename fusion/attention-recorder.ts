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
  /** Per batch row and token, the raw weights, padding included (only when recording tokens). [rows][T][N] */
  perToken?: number[][][];
}

/**
 * Collects fusion attention while a model runs, as plain arrays: the fusion hook hands it each site's weights and it
 * copies out what it needs (sums over non-padding tokens, and raw per-token weights on request), so no tensor
 * outlives the forward pass. Recording is opt-in: a fusion hook without a recorder copies nothing.
 *
 * @example
 * const recorder = new AttentionRecorder();
 * backbone.forward(inputs, { hook: fusion.hook({ recorder }) });
 * for (const site of recorder.take()) console.log(site.layer, site.sums);
 */
export class AttentionRecorder {
  private records: SiteAttention[] = [];

  constructor(private readonly options: { perToken?: boolean } = {}) {}

  /** Copies one site's attention. probabilities (B, T, N), attentionMask (B, T) with 1 on real tokens. */
  record(layer: number, location: SublayerLocation, probabilities: tf.Tensor3D, attentionMask: tf.Tensor2D): void {
    const [sums, tokens] = tf.tidy(() => {
      const mask = tf.cast(attentionMask, 'float32'); // (B, T)
      return [tf.sum(tf.mul(probabilities, tf.expandDims(mask, 2)), 1), tf.sum(mask, 1)]; // (B, N), (B)
    });
    this.records.push({
      layer,
      location,
      sums: sums.arraySync() as number[][],
      tokens: Array.from(tokens.dataSync()),
      ...(this.options.perToken ? { perToken: probabilities.arraySync() } : {}),
    });
    tf.dispose([sums, tokens]);
  }

  /** Everything recorded since the last call, in the order the sites ran; the recorder starts empty again. */
  take(): SiteAttention[] {
    const records = this.records;
    this.records = [];
    return records;
  }
}

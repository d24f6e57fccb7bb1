import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { activation } from '../ops/activation';
import { WeightStore } from '../io/weight-store';
import { attention } from '../ops/attention';
import { dropout as seededDropout } from '../ops/dropout';
import { layerNorm } from '../ops/layer-norm';
import { linear } from '../ops/linear';
import { SeededRandom } from '../util/random';
import { readBertConfig, writeBertConfig, type BertConfig } from './bert-config';
import { bertWeightDefinitions, INITIALIZER_RANGE, POOLER_WEIGHTS, readBertCheckpoint } from './bert-checkpoint';
import type { ProjectionName, SublayerHook, SublayerLocation } from './sublayer-hook';

/** Model inputs for a batch of B sequences of T tokens. */
export interface BertInputs {
  /** Token ids, int32. (B, T) */
  inputIds: tf.Tensor2D;
  /** 1 on real tokens, 0 on padding. (B, T) */
  attentionMask: tf.Tensor2D;
  /** Segment ids, int32; zeros when absent. (B, T) */
  tokenTypeIds?: tf.Tensor2D;
}

/** How a forward pass runs. */
export interface BertForwardOptions {
  /** Dropout is active only when true. */
  training?: boolean;
  /** Replaces `LN(h + x)` at each insertion point (adapters, fusion). */
  hook?: SublayerHook;
  /** Also return the embedding output and every layer's output. */
  outputHiddenStates?: boolean;
  /** Seeds the dropout masks so a training step is repeatable; without it they are drawn from Math.random. */
  dropoutSeed?: number;
  /**
   * Compute the last layer past its attention for the first token only (its attention still reads every token):
   * `lastHiddenState` (and the last of `hiddenStates`) is then (B, 1, D). For heads that read only the first token,
   * whose results it leaves unchanged; a quarter of BERT's products per layer are in attention's projections, so this
   * saves three quarters of the last layer. Ignored when the hook `needsEveryPosition` (`lastHiddenState` is then
   * (B, T, D), and a head reading the first token gives the same result).
   */
  firstTokenOnly?: boolean;
}

/** What a forward pass returns; the caller owns (and disposes) these tensors. */
export interface BertOutput {
  /** The last layer's output. (B, T, D) */
  lastHiddenState: tf.Tensor3D;
  /** tanh(dense(first token of the last layer)). (B, D) */
  pooledOutput: tf.Tensor2D;
  /** With `outputHiddenStates`: the embedding output, then each layer's output; L + 1 tensors. (B, T, D) each */
  hiddenStates?: tf.Tensor3D[];
}

/** Where a checkpoint load reports what it did. */
export interface BertLoadOptions {
  /** Details nobody needs to act on (weights of pretraining heads that were ignored). */
  debug?: (line: string) => void;
  /** Things worth knowing (a pooler that had to be initialised); defaults to stderr. */
  warn?: (line: string) => void;
}

/** Added to the attention scores of padding keys, as BERT does: their softmax weight underflows to exactly 0. */
const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * An embedding lookup whose gradient is a scatter-add: tfjs differentiates `gather` through UnsortedSegmentSum, which
 * the wasm backend lacks, and MT-A trains the embeddings.
 */
function embeddingLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [rows = 0, width = 0] = table.shape;
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [weights, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([tf.reshape(ids, [ids.size, 1])]); // (N, 1)
    return {
      value: tf.gather(weights, ids), // (..., D)
      gradFunc: (dy: tf.Tensor, [indices]: tf.Tensor[]) => tf.scatterND(indices as tf.Tensor, tf.reshape(dy, [ids.size, width]), [rows, width]), // (V, D)
    };
  });
  return lookup(table);
}

/**
 * A BERT or RoBERTa encoder in tfjs with adapter insertion points, loading Hugging Face checkpoints.
 *
 * Weights are held by their Hugging Face names without the `bert.` / `roberta.` prefix; Linear kernels are stored
 * `[in, out]` (transposed from the file) so a forward pass multiplies without transposing.
 *
 * @example
 * const model = await BertModel.fromPretrained('models/bert-base-uncased');
 * const { lastHiddenState, pooledOutput } = model.forward({ inputIds, attentionMask });
 */
export class BertModel {
  private hash: string | undefined;
  private readonly activation: (x: tf.Tensor) => tf.Tensor;

  private constructor(
    readonly config: BertConfig,
    /** The encoder's weights in Hugging Face's order and names. */
    readonly weights: WeightStore,
    hash?: string,
  ) {
    this.hash = hash;
    this.activation = activation(config.hiddenAct);
  }

  /** sha256 of the weight file(s) this model was loaded from or last saved to; undefined for a fresh random model. */
  get checkpointHash(): string | undefined {
    return this.hash;
  }

  /**
   * Loads a Hugging Face checkpoint directory: config.json and model.safetensors (or a sharded
   * model.safetensors.index.json), F32, F16 or BF16. Refuses weights that do not match the configuration, listing them.
   *
   * @example
   * const model = await BertModel.fromPretrained('models/roberta-base', { debug: console.error });
   */
  static async fromPretrained(dir: string, options: BertLoadOptions = {}): Promise<BertModel> {
    const config = readBertConfig(dir);
    const { tensors, source, hash } = readBertCheckpoint(dir, config, options.debug);
    // Hugging Face accepts a checkpoint without a pooler (roberta-base has none) and initialises it.
    const poolerMissing = POOLER_WEIGHTS.every((name) => !tensors.has(name));
    const weights = WeightStore.load('BertModel', bertWeightDefinitions(config, 0), source, tensors, { initializeMissing: poolerMissing ? POOLER_WEIGHTS : [] });
    if (poolerMissing) {
      const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
      warn(`${dir}: the checkpoint has no pooler weights; initialised them randomly (pooledOutput is untrained until fine-tuned)`);
    }
    return new BertModel(config, weights, hash);
  }

  /**
   * A randomly initialised encoder, as Hugging Face initialises one (weights and embeddings N(0, initializerRange),
   * 0.02 by default; LayerNorm weight 1 and bias 0, other biases 0, padding embedding 0), from seeded tfjs randoms: the
   * same seed gives the same weights. Tests and demos build tiny backbones with it.
   *
   * @example
   * const tiny = BertModel.random({ ...config, hiddenSize: 32, numHiddenLayers: 2 }, 42);
   */
  static random(config: BertConfig, seed: number): BertModel {
    const complete = { ...config, initializerRange: config.initializerRange ?? INITIALIZER_RANGE };
    return new BertModel(complete, WeightStore.create('BertModel', bertWeightDefinitions(complete, seed)));
  }

  /**
   * Runs the encoder. Post-LN BERT: each sublayer computes `h` (projection + dropout) from its input `x`, then the hook
   * (if any) or `LN(h + x)` gives its output. All intermediate tensors are released; the outputs belong to the caller.
   */
  forward(inputs: BertInputs, options: BertForwardOptions = {}): BertOutput {
    const { training = false, hook, outputHiddenStates = false, firstTokenOnly = false } = options;
    const [batch, length] = inputs.inputIds.shape;
    const firstPosition = this.config.modelType === 'roberta' ? this.config.padTokenId + 1 : 0;
    if (firstPosition + length > this.config.maxPositionEmbeddings) {
      throw new Error(`sequence length ${length} exceeds the ${this.config.maxPositionEmbeddings - firstPosition} positions this model has`);
    }
    const dropoutRandom = options.dropoutSeed === undefined ? undefined : new SeededRandom(options.dropoutSeed);
    const nextSeed = () => dropoutRandom?.int(2 ** 31);
    const dropout = (x: tf.Tensor, rate: number): tf.Tensor => (training && rate > 0 ? seededDropout(x, rate, nextSeed()) : x);
    const output = tf.tidy(() => {
      const mask = tf.cast<tf.Tensor2D>(inputs.attentionMask, 'float32'); // (B, T)
      const keyBias = tf.mul<tf.Tensor2D>(tf.sub(1, mask), FLOAT32_MIN); // (B, T)
      let hidden = this.embed(inputs, dropout); // (B, T, D)
      const hiddenStates = [hidden];
      const layers = this.config.numHiddenLayers;
      for (let layer = 0; layer < layers; layer++) {
        const firstOnly = firstTokenOnly && !hook?.needsEveryPosition && layer === layers - 1;
        const run = { layer, mask: firstOnly ? firstRow(mask) : mask, firstTokenOnly: firstOnly, training, hook, dropout, nextSeed };
        hidden = this.feedForward(run, this.selfAttention(run, hidden, keyBias)); // (B, T, D), or (B, 1, D) with firstOnly
        hiddenStates.push(hidden);
      }
      const first = tf.reshape<tf.Rank.R2>(firstRow(hidden), [batch, this.config.hiddenSize]); // (B, D)
      const pooledOutput = tf.tanh(this.dense(first, 'pooler.dense')); // (B, D)
      return { lastHiddenState: hidden, pooledOutput, hiddenStates: outputHiddenStates ? hiddenStates : [] };
    });
    return outputHiddenStates ? output : { lastHiddenState: output.lastHiddenState, pooledOutput: output.pooledOutput };
  }

  /** Word + position + token-type embeddings, LayerNorm, dropout. (B, T, D) */
  private embed(inputs: BertInputs, dropout: (x: tf.Tensor, rate: number) => tf.Tensor): tf.Tensor3D {
    const { inputIds } = inputs;
    const words = embeddingLookup(this.weight('embeddings.word_embeddings.weight'), inputIds); // (B, T, D)
    const positions = embeddingLookup(this.weight('embeddings.position_embeddings.weight'), this.positionIds(inputIds)); // (B, T, D), or (T, D) for BERT
    const typeIds = inputs.tokenTypeIds ?? tf.zerosLike(inputIds); // (B, T)
    const types = embeddingLookup(this.weight('embeddings.token_type_embeddings.weight'), typeIds); // (B, T, D)
    const normalized = this.layerNorm(tf.add<tf.Tensor3D>(words, positions), 'embeddings.LayerNorm', types as tf.Tensor3D); // LN(words + positions + types)
    return dropout(normalized, this.config.hiddenDropoutProb) as tf.Tensor3D;
  }

  /**
   * BERT counts positions 0..T-1. RoBERTa counts real tokens from padding_idx + 1 and gives padding the padding
   * position, from the input ids alone (Hugging Face's create_position_ids_from_input_ids).
   */
  private positionIds(inputIds: tf.Tensor2D): tf.Tensor {
    const [, length] = inputIds.shape;
    if (this.config.modelType === 'bert') return tf.range(0, length, 1, 'int32'); // (T)
    const pad = this.config.padTokenId;
    const real = tf.cast(tf.notEqual(inputIds, pad), 'int32'); // (B, T)
    return tf.add(tf.mul(tf.cumsum(real, 1), real), tf.scalar(pad, 'int32')); // (B, T)
  }

  /**
   * Multi-head self-attention, its output projection and dropout, then the `mh_adapter` insertion point; with
   * `run.firstTokenOnly` everything after attention runs on the first token's row. (B, T, D) or (B, 1, D)
   */
  private selfAttention(run: LayerRun, x: tf.Tensor3D, keyBias: tf.Tensor2D): tf.Tensor3D {
    const prefix = `encoder.layer.${run.layer}.attention`;
    const project = (name: 'query' | 'key' | 'value') => this.projection(run, name, x, `${prefix}.self.${name}`); // (B, T, D)
    const rate = run.training ? this.config.attentionProbsDropoutProb : 0;
    const context = attention(project('query'), project('key'), project('value'), keyBias, this.config.numAttentionHeads, rate, rate > 0 ? run.nextSeed() : undefined); // (B, T, D)
    const rows = (t: tf.Tensor3D) => (run.firstTokenOnly ? firstRow(t) : t);
    const h = this.dense(rows(context), `${prefix}.output.dense`); // (B, T, D) or (B, 1, D)
    return this.sublayer(run, 'mh_adapter', run.dropout(h, this.config.hiddenDropoutProb) as tf.Tensor3D, rows(x), `${prefix}.output.LayerNorm`);
  }

  /** Feed-forward block (dense, activation, dense, dropout), then the `output_adapter` insertion point. */
  private feedForward(run: LayerRun, x: tf.Tensor3D): tf.Tensor3D {
    const prefix = `encoder.layer.${run.layer}`;
    const inner = this.activation(this.projection(run, 'intermediate', x, `${prefix}.intermediate.dense`)) as tf.Tensor3D; // (B, T, I)
    const h = this.projection(run, 'output', inner, `${prefix}.output.dense`); // (B, T, D)
    return this.sublayer(run, 'output_adapter', run.dropout(h, this.config.hiddenDropoutProb) as tf.Tensor3D, x, `${prefix}.output.LayerNorm`);
  }

  /** An insertion point: the hook's result, or the pretrained `LN(h + x)`. (B, T, D) */
  private sublayer(run: LayerRun, location: SublayerLocation, h: tf.Tensor3D, x: tf.Tensor3D, layerNormPrefix: string): tf.Tensor3D {
    const layerNorm = (input: tf.Tensor3D, residual?: tf.Tensor3D): tf.Tensor3D => this.layerNorm(input, layerNormPrefix, residual);
    const replaced = run.hook?.({ layer: run.layer, location, h, x, layerNorm, attentionMask: run.mask, training: run.training, nextDropoutSeed: run.nextSeed });
    return replaced ?? layerNorm(h, x);
  }

  /** A Linear layer a delta module may wrap: the hook's `projection`, or the pretrained `x·W + b`. (B, T, out) */
  private projection(run: LayerRun, name: ProjectionName, x: tf.Tensor3D, prefix: string): tf.Tensor3D {
    const y = this.dense(x, prefix);
    return run.hook?.projection?.({ layer: run.layer, name, x, y, training: run.training, nextDropoutSeed: run.nextSeed }) ?? y;
  }

  /** LayerNorm over the last axis with the named pretrained weight and bias. (B, T, D) */
  private layerNorm(input: tf.Tensor3D, prefix: string, residual?: tf.Tensor3D): tf.Tensor3D {
    return layerNorm(input, this.weight(`${prefix}.weight`), this.weight(`${prefix}.bias`), this.config.layerNormEps, residual);
  }

  /** The named Linear layer applied over the last axis. (..., out) */
  private dense<R extends tf.Rank>(x: tf.Tensor<R>, prefix: string): tf.Tensor<R> {
    return linear(x, this.weight(`${prefix}.weight`) as tf.Tensor2D, this.weight(`${prefix}.bias`) as tf.Tensor1D);
  }

  private weight(name: string): tf.Variable {
    return this.weights.variable(name);
  }

  /**
   * Writes config.json and model.safetensors (F32, Hugging Face layout: Linear weights `[out, in]`, no prefix)
   * atomically; `fromPretrained(dir)` and Hugging Face's `from_pretrained` read it back. Afterwards `checkpointHash`
   * is the saved file's.
   *
   * @example
   * await model.save('runs/demo/backbone');
   */
  async save(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'model.safetensors');
    await this.weights.save(file, { metadata: { format: 'pt' } });
    writeBertConfig(dir, this.config);
    this.hash = createHash('sha256').update(readFileSync(file)).digest('hex');
  }

  /** Number of scalar weights (110M for BERT-base). */
  parameterCount(): number {
    return this.weights.parameterCount();
  }

  /** Releases the weights; the model is unusable afterwards. */
  dispose(): void {
    this.weights.dispose();
  }
}

/** Per-layer state threaded through a forward pass. */
interface LayerRun {
  layer: number;
  /** 1 on real tokens, 0 on padding, float32. (B, T), or (B, 1) with firstTokenOnly */
  mask: tf.Tensor2D;
  /** Past attention, only the first token's row is computed (the last layer of a `firstTokenOnly` pass). */
  firstTokenOnly: boolean;
  training: boolean;
  hook: SublayerHook | undefined;
  dropout: (x: tf.Tensor, rate: number) => tf.Tensor;
  /** The next dropout seed of a seeded forward pass; undefined draws a random one. */
  nextSeed: () => number | undefined;
}

/** The first position along axis 1: (B, 1, ...). */
function firstRow<R extends tf.Rank>(t: tf.Tensor<R>): tf.Tensor<R> {
  return tf.slice(t, 0, [-1, 1]);
}

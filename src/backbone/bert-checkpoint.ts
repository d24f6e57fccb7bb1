import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FileError, MAX_BINARY_FILE_BYTES, readFileBounded, readJsonFile } from '../io/read-file';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, SafetensorsError, type SafetensorsEntry } from '../io/safetensors';
import { normalInit, onesInit, zerosInit, type Initializer, type WeightDefinition, type WeightDefinitions } from '../io/weight-store';
import { stripPrefix } from '../io/weights';
import { SeededRandom } from '../util/random';
import type { BertConfig } from './bert-config';

/** Names the pooler's weights have; some published checkpoints (roberta-base) lack them. */
export const POOLER_WEIGHTS = ['pooler.dense.weight', 'pooler.dense.bias'] as const;

/** Hugging Face's initialiser range for weights and embeddings when the configuration gives none. */
export const INITIALIZER_RANGE = 0.02;

/**
 * Every weight of the encoder, in Hugging Face's order and names (without the `bert.` / `roberta.` prefix), initialised
 * as Hugging Face initialises them: weights and embeddings N(0, initializerRange), LayerNorm gain 1 and bias 0, other
 * biases 0, the padding embedding 0. Each weight draws its seed from `seed` in turn, so its value does not depend on
 * which others are created.
 */
export function bertWeightDefinitions(config: BertConfig, seed: number): WeightDefinitions {
  const d = config.hiddenSize;
  const std = config.initializerRange ?? INITIALIZER_RANGE;
  const random = new SeededRandom(seed);
  const definitions = new Map<string, WeightDefinition>();
  const define = (name: string, shape: number[], init: (seed: number) => Initializer, kernel = false): void => {
    definitions.set(name, { shape, init: init(random.int(2 ** 31)), kernel });
  };
  const normal = (weightSeed: number) => normalInit(std, weightSeed);
  // The padding embedding starts at zero, as nn.Embedding(padding_idx=...) makes it.
  const embedding = (padded: boolean) => (weightSeed: number): Initializer => (shape) => {
    const values = normal(weightSeed)(shape);
    if (!padded) return values;
    const rows = shape[0] ?? 0;
    const keep = tf.reshape(tf.notEqual(tf.range(0, rows, 1, 'int32'), config.padTokenId), [rows, 1]); // (V, 1)
    return tf.mul(values, tf.cast(keep, 'float32'));
  };
  const layerNorm = (prefix: string): void => {
    define(`${prefix}.weight`, [d], () => onesInit);
    define(`${prefix}.bias`, [d], () => zerosInit);
  };
  const linear = (prefix: string, inputs: number, outputs: number): void => {
    define(`${prefix}.weight`, [inputs, outputs], normal, true);
    define(`${prefix}.bias`, [outputs], () => zerosInit);
  };
  define('embeddings.word_embeddings.weight', [config.vocabSize, d], embedding(true));
  define('embeddings.position_embeddings.weight', [config.maxPositionEmbeddings, d], embedding(config.modelType === 'roberta'));
  define('embeddings.token_type_embeddings.weight', [config.typeVocabSize, d], normal);
  layerNorm('embeddings.LayerNorm');
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const prefix = `encoder.layer.${layer}`;
    for (const projection of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) linear(`${prefix}.${projection}`, d, d);
    layerNorm(`${prefix}.attention.output.LayerNorm`);
    linear(`${prefix}.intermediate.dense`, d, config.intermediateSize);
    linear(`${prefix}.output.dense`, config.intermediateSize, d);
    layerNorm(`${prefix}.output.LayerNorm`);
  }
  linear('pooler.dense', d, d);
  return definitions;
}

/** Weights a checkpoint may carry beyond the encoder's: a position-id buffer and pretraining heads. */
function isHarmlessExtra(name: string): boolean {
  return name === 'embeddings.position_ids' || name.startsWith('cls.') || name.startsWith('lm_head.');
}

/** The encoder weights of a checkpoint directory. */
export interface BertCheckpoint {
  /** Encoder weights by name without prefix, in file layout (Linear weights `[out, in]`). */
  tensors: Map<string, SafetensorsEntry>;
  /** The file that lists the weights (the single file, or the shard index); errors name it. */
  source: string;
  /** sha256 of the weight file bytes, shards in name order. */
  hash: string;
}

/** Where a checkpoint's weights are: one file, or shards listed by an index. */
function weightFiles(dir: string): { source: string; files: string[] } {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return { source: single, files: [single] };
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const json = readJsonFile(index, 'a safetensors shard index');
    const weightMap = json !== null && typeof json === 'object' ? (json as { weight_map?: unknown }).weight_map : undefined;
    if (weightMap === null || typeof weightMap !== 'object' || !Object.values(weightMap).every((file) => typeof file === 'string')) {
      throw new SafetensorsError(index, `expected "weight_map" to map weight names to shard file names, got ${JSON.stringify(weightMap)?.slice(0, 60)}`);
    }
    const shards = [...new Set(Object.values(weightMap as Record<string, string>))].sort();
    // A shard is a file beside the index: a path that leaves the directory is not one.
    const outside = shards.filter((shard) => shard === '' || basename(shard) !== shard || shard === '.' || shard === '..');
    if (outside.length > 0) throw new SafetensorsError(index, `expected shard file names in ${dir}, got paths ${outside.map((shard) => JSON.stringify(shard)).join(', ')}`);
    const absent = shards.filter((shard) => !existsSync(join(dir, shard)));
    if (absent.length > 0) throw new SafetensorsError(index, `lists shard files that do not exist in ${dir}: ${absent.map((shard) => JSON.stringify(shard)).join(', ')}`);
    return { source: index, files: shards.map((shard) => join(dir, shard)) };
  }
  const hint = existsSync(join(dir, 'pytorch_model.bin')) ? ' (pytorch_model.bin is a PyTorch pickle: convert it to safetensors with the Hugging Face tools)' : '';
  throw new FileError(dir, 'read the model weights', `expected model.safetensors or model.safetensors.index.json, found neither${hint}`);
}

/**
 * Reads the weights of a Hugging Face BERT or RoBERTa checkpoint directory (single file or sharded). Accepts the
 * `bert.` / `roberta.` prefix; drops the position-id buffer and pretraining heads (reporting them through `debug`).
 * `BertModel.fromPretrained` checks the rest against the configuration.
 */
export function readBertCheckpoint(dir: string, config: BertConfig, debug: (line: string) => void = () => undefined): BertCheckpoint {
  const { source, files } = weightFiles(dir);
  const all = new Map<string, SafetensorsEntry>();
  const hash = createHash('sha256');
  for (const file of files) {
    const bytes = readFileBounded(file, MAX_BINARY_FILE_BYTES);
    hash.update(bytes);
    for (const [name, entry] of parseSafetensors(bytes, file).tensors) {
      if (all.has(name)) throw new SafetensorsError(file, 'appears in two shards', name);
      all.set(name, entry);
    }
  }
  const tensors = new Map<string, SafetensorsEntry>();
  const ignored: string[] = [];
  for (const [name, original] of stripPrefix(all.keys(), [`${config.modelType}.`])) {
    const entry = all.get(original);
    if (isHarmlessExtra(name)) ignored.push(original);
    else if (entry) tensors.set(name, entry);
  }
  if (ignored.length > 0) debug(`${source}: ignored ${ignored.length} weights the encoder does not use: ${ignored.join(', ')}`);
  return { tensors, source, hash: hash.digest('hex') };
}

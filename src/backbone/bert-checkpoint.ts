import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FileError, MAX_BINARY_FILE_BYTES, readFileBounded, readJsonFile } from '../io/read-file';
import { parseSafetensors, SafetensorsError, type SafetensorsEntry } from '../io/safetensors';
import { checkWeights, stripPrefix } from '../io/weights';
import type { BertConfig } from './bert-config';

/** Names the pooler's weights have; some published checkpoints (roberta-base) lack them. */
export const POOLER_WEIGHTS = ['pooler.dense.weight', 'pooler.dense.bias'] as const;

/**
 * Every weight of the encoder with its shape as Hugging Face stores it (Linear weights `[out, in]`), in Hugging Face's
 * order, without the `bert.` / `roberta.` prefix.
 */
export function bertWeightShapes(config: BertConfig): Map<string, number[]> {
  const d = config.hiddenSize;
  const inner = config.intermediateSize;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [config.vocabSize, d]],
    ['embeddings.position_embeddings.weight', [config.maxPositionEmbeddings, d]],
    ['embeddings.token_type_embeddings.weight', [config.typeVocabSize, d]],
    ['embeddings.LayerNorm.weight', [d]],
    ['embeddings.LayerNorm.bias', [d]],
  ]);
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const prefix = `encoder.layer.${layer}`;
    for (const projection of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      shapes.set(`${prefix}.${projection}.weight`, [d, d]);
      shapes.set(`${prefix}.${projection}.bias`, [d]);
    }
    shapes.set(`${prefix}.attention.output.LayerNorm.weight`, [d]);
    shapes.set(`${prefix}.attention.output.LayerNorm.bias`, [d]);
    shapes.set(`${prefix}.intermediate.dense.weight`, [inner, d]);
    shapes.set(`${prefix}.intermediate.dense.bias`, [inner]);
    shapes.set(`${prefix}.output.dense.weight`, [d, inner]);
    shapes.set(`${prefix}.output.dense.bias`, [d]);
    shapes.set(`${prefix}.output.LayerNorm.weight`, [d]);
    shapes.set(`${prefix}.output.LayerNorm.bias`, [d]);
  }
  shapes.set('pooler.dense.weight', [d, d]);
  shapes.set('pooler.dense.bias', [d]);
  return shapes;
}

/** True for a Linear layer's weight, stored `[out, in]` on disk and `[in, out]` in the model. */
export function isLinearKernel(name: string): boolean {
  return /\.(query|key|value|dense)\.weight$/.test(name);
}

/** Weights a checkpoint may carry beyond the encoder's: a position-id buffer and pretraining heads. */
function isHarmlessExtra(name: string): boolean {
  return name === 'embeddings.position_ids' || name.startsWith('cls.') || name.startsWith('lm_head.');
}

/** The encoder weights of a checkpoint directory, checked against the configuration. */
export interface BertCheckpoint {
  /** Encoder weights by name without prefix, in file layout (Linear weights `[out, in]`). */
  tensors: Map<string, SafetensorsEntry>;
  /** sha256 of the weight file bytes, shards in name order. */
  hash: string;
  /** True when the checkpoint has no pooler, which the caller then initialises. */
  poolerMissing: boolean;
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
 * Reads and checks the weights of a Hugging Face BERT or RoBERTa checkpoint directory (single file or sharded).
 * Accepts the `bert.` / `roberta.` prefix; drops the position-id buffer and pretraining heads (reporting them through
 * `debug`); refuses missing, unexpected or mis-shaped weights with a `WeightMismatchError` listing them all.
 * A checkpoint without pooler weights is accepted, as Hugging Face does, with `poolerMissing` set.
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
  const expected = bertWeightShapes(config);
  const poolerMissing = POOLER_WEIGHTS.every((name) => !tensors.has(name));
  if (poolerMissing) for (const name of POOLER_WEIGHTS) expected.delete(name);
  checkWeights(source, expected, new Map([...tensors].map(([name, entry]) => [name, entry.shape])));
  return { tensors, hash: hash.digest('hex'), poolerMissing };
}

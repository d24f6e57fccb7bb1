import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic';
import { FileError, readJsonFile } from '../io/read-file';

/** The architectures this encoder implements; RoBERTa differs from BERT only in its position ids and weight prefix. */
export type BertModelType = 'bert' | 'roberta';

/** Values of `hidden_act` the feed-forward block supports. */
export const HIDDEN_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish'] as const;

/** The architecture of a BERT-family encoder: Hugging Face `config.json` fields, camel-cased. */
export interface BertConfig {
  modelType: BertModelType;
  vocabSize: number;
  /** d, the width of the residual stream. */
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Width of the feed-forward block. */
  intermediateSize: number;
  /** Feed-forward non-linearity: `gelu` is the exact erf GELU, `gelu_new` and `gelu_pytorch_tanh` the tanh approximation. */
  hiddenAct: (typeof HIDDEN_ACTIVATIONS)[number];
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  /** Standard deviation of the random initialisation (`BertModel.random`); 0.02 when absent, as in BERT. */
  initializerRange?: number;
}

/** Hugging Face's defaults for keys a config.json leaves out (BertConfig / RobertaConfig). */
function defaults(modelType: BertModelType): BertConfig {
  return {
    modelType,
    vocabSize: modelType === 'bert' ? 30522 : 50265,
    hiddenSize: 768,
    numHiddenLayers: 12,
    numAttentionHeads: 12,
    intermediateSize: 3072,
    hiddenAct: 'gelu',
    hiddenDropoutProb: 0.1,
    attentionProbsDropoutProb: 0.1,
    maxPositionEmbeddings: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    padTokenId: modelType === 'bert' ? 0 : 1,
    initializerRange: 0.02,
  };
}

/** config.json key of each field. */
const JSON_KEYS: Record<Exclude<keyof BertConfig, 'modelType'>, string> = {
  vocabSize: 'vocab_size',
  hiddenSize: 'hidden_size',
  numHiddenLayers: 'num_hidden_layers',
  numAttentionHeads: 'num_attention_heads',
  intermediateSize: 'intermediate_size',
  hiddenAct: 'hidden_act',
  hiddenDropoutProb: 'hidden_dropout_prob',
  attentionProbsDropoutProb: 'attention_probs_dropout_prob',
  maxPositionEmbeddings: 'max_position_embeddings',
  typeVocabSize: 'type_vocab_size',
  layerNormEps: 'layer_norm_eps',
  padTokenId: 'pad_token_id',
  initializerRange: 'initializer_range',
};

const COUNTS = new Set<keyof BertConfig>(['vocabSize', 'hiddenSize', 'numHiddenLayers', 'numAttentionHeads', 'intermediateSize', 'maxPositionEmbeddings', 'typeVocabSize']);

/**
 * Turns a parsed Hugging Face config.json into a `BertConfig`, applying Hugging Face's defaults for absent keys.
 * Errors name the source and the key, with what was expected and what was found.
 */
export function bertConfigFromJson(json: unknown, source: string): BertConfig {
  const fail = (key: string, expected: string, got: unknown): never => {
    throw new Error(`${source}: "${key}": expected ${expected}, got ${JSON.stringify(got)}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('(root)', 'an object', json);
  const raw = json as Record<string, unknown>;
  const modelType = raw.model_type;
  if (modelType !== 'bert' && modelType !== 'roberta') fail('model_type', '"bert" or "roberta"', modelType);
  if (raw.position_embedding_type !== undefined && raw.position_embedding_type !== 'absolute') {
    fail('position_embedding_type', '"absolute" (the only kind implemented)', raw.position_embedding_type);
  }
  const config = defaults(modelType as BertModelType);
  for (const [field, key] of Object.entries(JSON_KEYS) as [Exclude<keyof BertConfig, 'modelType'>, string][]) {
    const value = raw[key];
    if (value === undefined) continue;
    if (field === 'hiddenAct') {
      if (!(HIDDEN_ACTIVATIONS as readonly unknown[]).includes(value)) fail(key, `one of ${HIDDEN_ACTIVATIONS.join(', ')}`, value);
      config.hiddenAct = value as BertConfig['hiddenAct'];
    } else if (COUNTS.has(field)) {
      if (!Number.isSafeInteger(value) || (value as number) < 1) fail(key, 'a positive integer', value);
      config[field] = value as number;
    } else if (field === 'padTokenId') {
      if (!Number.isSafeInteger(value) || (value as number) < 0) fail(key, 'a non-negative integer', value);
      config.padTokenId = value as number;
    } else {
      if (typeof value !== 'number' || value < 0 || value >= 1) fail(key, 'a number in [0, 1)', value);
      config[field] = value as number;
    }
  }
  if (config.hiddenSize % config.numAttentionHeads !== 0) {
    fail('hidden_size', `a multiple of num_attention_heads (${config.numAttentionHeads})`, config.hiddenSize);
  }
  return config;
}

/**
 * Reads `<dir>/config.json` of a Hugging Face BERT or RoBERTa checkpoint.
 *
 * @example
 * const config = readBertConfig('models/bert-base-uncased'); // { modelType: 'bert', hiddenSize: 768, ... }
 */
export function readBertConfig(dir: string): BertConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new FileError(path, 'read the model configuration', 'it does not exist; expected a Hugging Face model directory (config.json, model.safetensors, vocab.txt)');
  return bertConfigFromJson(readJsonFile(path, 'the model configuration of a Hugging Face model directory'), path);
}

/**
 * The config.json content Hugging Face writes for this architecture, so saved backbones load there too.
 *
 * @example
 * writeJsonAtomic('out/config.json', bertConfigToJson(model.config));
 */
export function bertConfigToJson(config: BertConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architectures: [config.modelType === 'bert' ? 'BertModel' : 'RobertaModel'],
    model_type: config.modelType,
    position_embedding_type: 'absolute',
  };
  for (const [field, key] of Object.entries(JSON_KEYS) as [keyof typeof JSON_KEYS, string][]) json[key] = config[field];
  return json;
}

/** Writes `<dir>/config.json` atomically. */
export function writeBertConfig(dir: string, config: BertConfig): void {
  writeJsonAtomic(join(dir, 'config.json'), bertConfigToJson(config));
}

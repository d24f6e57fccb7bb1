// The tiny random BERT that tests build their backbones from: small enough to train in seconds on two cores.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfig } from '../src/backbone/bert-config';
import { BertModel } from '../src/backbone/bert-model';

/** BERT's special tokens, the first words of every tiny vocabulary. */
export const SPECIAL_TOKENS: readonly string[] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/** A post-LN BERT with hidden size 32 and 2 layers of 4 heads, without dropout, at BERT's initialisation (std 0.02). */
const TINY_BERT: BertConfig = {
  modelType: 'bert',
  vocabSize: 50,
  hiddenSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  intermediateSize: 64,
  hiddenAct: 'gelu',
  hiddenDropoutProb: 0,
  attentionProbsDropoutProb: 0,
  maxPositionEmbeddings: 32,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  padTokenId: 0,
};

/** TINY_BERT with what a test varies. */
export function tinyBert(overrides: Partial<BertConfig> = {}): BertConfig {
  return { ...TINY_BERT, ...overrides };
}

/**
 * Writes a random tiny backbone (`tinyBert(overrides)` sized to the vocabulary, from `seed`) and its vocab.txt to `dir`
 * as a Hugging Face model directory, and returns its config. `vocabulary` is the words, or the path of a vocab.txt.
 */
export async function writeTinyBackbone(
  dir: string,
  vocabulary: readonly string[] | string,
  seed: number,
  overrides: Partial<BertConfig> = {},
): Promise<BertConfig> {
  const words = typeof vocabulary === 'string' ? readFileSync(vocabulary, 'utf8').trimEnd().split('\n') : vocabulary;
  const config = tinyBert({ ...overrides, vocabSize: words.length });
  mkdirSync(dir, { recursive: true });
  const model = BertModel.random(config, seed);
  await model.save(dir);
  model.dispose();
  if (typeof vocabulary === 'string') copyFileSync(vocabulary, join(dir, 'vocab.txt'));
  else writeFileSync(join(dir, 'vocab.txt'), `${words.join('\n')}\n`);
  return config;
}

import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bertConfigFromJson, BertModel, taskRegistry, validateConfig, writeFileAtomic, writeJsonAtomic, type BackendInfo, type Container } from '../src/index';
import { ExperimentConfig } from './experiment-config';
import { runExperiment, type ExperimentResult } from './experiment-runner';

/** What the demo runs: a small backbone made from scratch and an experiment over tasks that need no files. */
export interface DemoRecipe {
  /** Hugging Face config.json fields of the backbone to build (the vocabulary size comes from the tasks' words). */
  backbone: Record<string, unknown>;
  /**
   * Zero the attention query and key weights so every layer averages the words of a sentence evenly. A random
   * encoder is no pretrained one; even mixing is the one property of pretraining the demo needs, so that what a
   * word means can reach the `[CLS]` token the heads read.
   */
  uniformAttention?: boolean;
  /** The experiment (ExperimentConfig fields) without `backbone` and `run`, which the demo fills in. */
  experiment: Record<string, unknown>;
}

const [sentiment, topic, filler, review] = ['demo-sentiment', 'demo-topic', 'demo-filler', 'demo-review'];

/**
 * The built-in demo: three source tasks (one of which the target needs), a low-resource target, and a backbone small
 * enough to train every stage on two CPU cores in a few minutes.
 */
export const DEMO_RECIPE: DemoRecipe = {
  backbone: { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 32, initializer_range: 0.125, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
  uniformAttention: true,
  experiment: {
    tasks: [sentiment, topic, filler, review].map((id) => ({ id, dataDir: '.' })),
    maxLength: 16,
    seed: 7,
    adapter: { preset: 'seq_bn', reductionFactor: 4 },
    training: { learningRate: 1e-2, epochs: 6, batchSize: 32, earlyStoppingPatience: 2 },
    fusions: [{ target: review, adapters: [sentiment, topic, filler, review], logAttentionEvery: 1, training: { learningRate: 3e-3, epochs: 15, batchSize: 16 } }],
    inspect: { split: 'dev', perClass: true, ablate: true, tokens: 8 },
  },
};

const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/** Every whitespace-separated word of the tasks' train and dev splits, sorted: the demo backbone's vocabulary. */
async function taskVocabulary(container: Container, tasks: readonly { id: string; dataDir: string }[]): Promise<string[]> {
  const registry = taskRegistry(container);
  const words = new Set<string>();
  for (const task of tasks) {
    for (const split of ['train', 'dev']) {
      for await (const example of registry.get(task.id).read(split, { dataDir: task.dataDir })) {
        for (const text of [example.text, example.textPair ?? '']) for (const word of text.toLowerCase().split(/\s+/)) if (word) words.add(word);
      }
    }
  }
  return [...words].sort();
}

/**
 * Writes the demo's backbone into `dir` unless it is there: random weights (seeded by `seed`), uniform attention as the
 * recipe asks, and a word-level vocabulary of `tasks`' words. Returns whether it built one.
 *
 * @example
 * await buildDemoBackbone(container, 'runs/demo/base-model', [{ id: 'demo-topic', dataDir: '.' }], 7);
 */
export async function buildDemoBackbone(container: Container, dir: string, tasks: readonly { id: string; dataDir: string }[], seed: number, log?: (line: string) => void): Promise<boolean> {
  if (existsSync(join(dir, 'model.safetensors'))) return false;
  const recipe = DEMO_RECIPE;
  const vocabulary = [...SPECIAL_TOKENS, ...(await taskVocabulary(container, tasks))];
  const backboneConfig = bertConfigFromJson({ model_type: 'bert', ...recipe.backbone, vocab_size: vocabulary.length }, 'the built-in demo backbone');
  const model = BertModel.random(backboneConfig, seed);
  try {
    if (recipe.uniformAttention) {
      for (const [name, weight] of model.weights) if (/attention\.self\.(query|key)\./.test(name)) weight.assign(tf.zerosLike(weight));
    }
    writeFileAtomic(join(dir, 'vocab.txt'), `${vocabulary.join('\n')}\n`);
    writeJsonAtomic(join(dir, 'tokenizer_config.json'), { do_lower_case: true });
    await model.save(dir);
  } finally {
    model.dispose();
  }
  log?.(`demo: built a ${backboneConfig.numHiddenLayers}-layer backbone (hidden ${backboneConfig.hiddenSize}, ${vocabulary.length} words) with random weights in ${dir}`);
  return true;
}

/**
 * Builds the demo's backbone (random weights, a word-level vocabulary of the demo tasks) in `<run>/base-model` unless
 * it is there, then runs the demo experiment (`DEMO_RECIPE`): ST-A adapters for every task, a fusion for the low-resource target, and
 * the attention report. Running it again skips what is done and continues an interrupted stage from its checkpoint.
 *
 * @example
 * const container = createContainer([coreModule, fusionModule]);
 * const result = await runDemo(container, { runDir: 'runs/demo' });
 */
export async function runDemo(
  container: Container,
  options: { runDir: string; backend?: BackendInfo; log?: (line: string) => void; seed?: number },
): Promise<ExperimentResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = validateConfig(ExperimentConfig, { ...DEMO_RECIPE.experiment, backbone: join(options.runDir, 'base-model'), run: options.runDir }, 'the built-in demo');
  await buildDemoBackbone(container, config.backbone, config.tasks, options.seed ?? config.seed, log);
  return runExperiment(container, config, { baseDir: process.cwd(), source: 'the built-in demo', runDir: options.runDir, resume: true, log, ...(options.backend ? { backend: options.backend } : {}) });
}

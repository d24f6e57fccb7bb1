import { featureModule, taskModule, DemoRecipe, type DemoRecipe as Recipe } from '../../src/index';
import { DEMO_TASKS } from './synthetic-tasks';

const [sentiment, topic, filler, review] = ['demo-sentiment', 'demo-topic', 'demo-filler', 'demo-review'];

/**
 * The built-in demo: three source tasks (one of which the target needs), a low-resource target, and a backbone small
 * enough to train every stage on two CPU cores in a few minutes.
 */
export const DEMO_RECIPE: Recipe = {
  backbone: { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 32, initializer_range: 0.125, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
  uniformAttention: true,
  experiment: {
    tasks: [sentiment, topic, filler, review].map((id) => ({ id, dataDir: '.' })),
    maxLength: 16,
    seed: 7,
    adapter: { preset: 'seq_bn', reductionFactor: 4 },
    training: { learningRate: 1e-2, epochs: 6, batchSize: 32, earlyStoppingPatience: 2 },
    fusions: [{ target: review, adapters: [sentiment, topic, filler, review], training: { learningRate: 3e-3, epochs: 15, batchSize: 16 } }],
    inspect: { split: 'dev', perClass: true, ablate: true },
  },
};

/** The demo tasks and recipe as modules. */
export const demoModules = [taskModule(...DEMO_TASKS), featureModule([[DemoRecipe, DEMO_RECIPE]])];

import { injectable, SeededRandom, type Example, type HeadSpec, type TaskPlugin } from '../src/index';

// Word lists of the built-in demo, kept below the backbone's width (64) so a layer can tell every word apart. The target task needs the polarity of words it never sees in training, which only
// the sentiment adapter learned: that is what makes fusion beat the target's own adapter, and which adapter it picks.
const POSITIVE = ['good', 'great', 'happy', 'lovely', 'excellent', 'superb', 'nice', 'wonderful'];
const NEGATIVE = ['bad', 'awful', 'sad', 'terrible', 'horrible', 'poor', 'nasty', 'gloomy'];
const ANIMALS = ['cat', 'dog', 'horse', 'bird', 'fish', 'cow', 'sheep', 'goat'];
const VEHICLES = ['car', 'bus', 'train', 'truck', 'bike', 'boat', 'plane', 'ship'];
const FILLERS = ['the', 'a', 'this', 'was', 'is', 'very', 'really', 'so'];

/** The few sentiment words the low-resource target sees in training (its dev split uses all of them). */
const TARGET_TRAIN_POSITIVE = POSITIVE.slice(0, 2);
const TARGET_TRAIN_NEGATIVE = NEGATIVE.slice(0, 2);

type Rng = SeededRandom;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)] as T;
const fillers = (rng: Rng, count: number): string[] => Array.from({ length: count }, () => pick(rng, FILLERS));

/** Every word the demo tasks use (tests build vocabularies from them). */
export const DEMO_WORDS: readonly string[] = [...new Set([...POSITIVE, ...NEGATIVE, ...ANIMALS, ...VEHICLES, ...FILLERS])];

/** One synthetic task: its id, labels, split sizes and how to make one example. */
interface SyntheticSpec {
  id: string;
  description: string;
  labels: readonly string[];
  sizes: Record<'train' | 'dev', number>;
  /** One example: its words and its label index. */
  make(rng: Rng, split: 'train' | 'dev'): { words: string[]; label: number };
}

function hashString(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return hash >>> 0;
}

/** A task whose examples are generated from a seed: no files, the same examples on every machine. */
abstract class SyntheticTask implements TaskPlugin {
  protected abstract readonly spec: SyntheticSpec;
  readonly metrics = ['accuracy'];
  readonly splits = ['train', 'dev'];

  get id(): string {
    return this.spec.id;
  }

  get description(): string {
    return this.spec.description;
  }

  get head(): HeadSpec {
    return { type: 'classification', labels: this.spec.labels };
  }

  async *read(split: string, options: { maxExamples?: number }): AsyncIterable<Example> {
    if (split !== 'train' && split !== 'dev') throw new Error(`task ${this.id}: no split "${split}" (expected train or dev)`);
    const rng = new SeededRandom(hashString(`${this.id}/${split}`));
    const count = Math.min(this.spec.sizes[split], options.maxExamples ?? Infinity);
    for (let i = 0; i < count; i++) {
      const { words, label } = this.spec.make(rng, split);
      yield { id: `${split}-${i}`, text: words.join(' '), label };
    }
  }
}

function sentence(rng: Rng, sentiment: string, noun: string): string[] {
  return [...fillers(rng, rng.int(2)), noun, sentiment];
}

/** Source task: is the sentence positive or negative? Sees every sentiment word. */
@injectable()
export class DemoSentimentTask extends SyntheticTask {
  protected readonly spec: SyntheticSpec = {
    id: 'demo-sentiment',
    description: 'synthetic: polarity of the sentiment word (source task)',
    labels: ['negative', 'positive'],
    sizes: { train: 1600, dev: 300 },
    make: (rng) => {
      const label = rng.int(2);
      const noun = pick(rng, rng.int(2) ? ANIMALS : VEHICLES);
      return { words: sentence(rng, pick(rng, label ? POSITIVE : NEGATIVE), noun), label };
    },
  };
}

/** Source task: is the sentence about an animal or a vehicle? Irrelevant to the target. */
@injectable()
export class DemoTopicTask extends SyntheticTask {
  protected readonly spec: SyntheticSpec = {
    id: 'demo-topic',
    description: 'synthetic: animal or vehicle (source task, irrelevant to the target)',
    labels: ['vehicle', 'animal'],
    sizes: { train: 1600, dev: 300 },
    make: (rng) => {
      const label = rng.int(2);
      const sentiment = pick(rng, rng.int(2) ? POSITIVE : NEGATIVE);
      return { words: sentence(rng, sentiment, pick(rng, label ? ANIMALS : VEHICLES)), label };
    },
  };
}

/** Source task: does the sentence start with a filler word? Irrelevant to the target. */
@injectable()
export class DemoFillerTask extends SyntheticTask {
  protected readonly spec: SyntheticSpec = {
    id: 'demo-filler',
    description: 'synthetic: is there a filler word (source task, irrelevant to the target)',
    labels: ['plain', 'filler'],
    sizes: { train: 1600, dev: 300 },
    make: (rng) => {
      const label = rng.int(2);
      const noun = pick(rng, rng.int(2) ? ANIMALS : VEHICLES);
      const sentiment = pick(rng, rng.int(2) ? POSITIVE : NEGATIVE);
      return { words: [...fillers(rng, label), noun, sentiment], label };
    },
  };
}

/**
 * Low-resource target: review polarity with only 64 training examples that use 2 positive and 2 negative words;
 * its dev split uses all 16. Its own adapter cannot know the unseen words; the sentiment adapter does.
 */
@injectable()
export class DemoReviewTask extends SyntheticTask {
  protected readonly spec: SyntheticSpec = {
    id: 'demo-review',
    description: 'synthetic: low-resource review polarity (fusion target)',
    labels: ['negative', 'positive'],
    sizes: { train: 64, dev: 300 },
    make: (rng, split) => {
      const label = rng.int(2);
      const words = split === 'train' ? (label ? TARGET_TRAIN_POSITIVE : TARGET_TRAIN_NEGATIVE) : label ? POSITIVE : NEGATIVE;
      const noun = pick(rng, rng.int(2) ? ANIMALS : VEHICLES);
      return { words: sentence(rng, pick(rng, words), noun), label };
    },
  };
}

/** The demo's task plugins, sources first, target last. */
export const DEMO_TASKS = [DemoSentimentTask, DemoTopicTask, DemoFillerTask, DemoReviewTask] as const;

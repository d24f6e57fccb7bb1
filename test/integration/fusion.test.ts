// End to end on synthetic tasks: extract adapters (ST-A), fuse them for a low-resource target, inspect the attention.
// The target asks the polarity question with 40 examples, too few to learn 24 sentiment words; the `polarity` source
// adapter learned them from 384. The topic adapter never saw a sentiment word.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fusionModule, { AttentionInspector, FusionConfig, readTrainingLog, type FusionResult } from '../../fusion/index';
import {
  BertModel,
  createContainer,
  ExtractionConfig,
  ExtractionStage,
  loadComposition,
  RunDirectory,
  SeededRandom,
  stageRegistry,
  taskModule,
  taskRegistry,
  validateConfig,
  type Example,
  type TaskPlugin,
} from '../../src/index';
import type { AttentionReport } from '../../fusion/attention-report';
import { SPECIAL_TOKENS, writeTinyBackbone } from '../tiny-bert';

const POSITIVE = ['good', 'great', 'happy', 'lovely', 'superb', 'nice', 'bright', 'pleasant', 'joyful', 'charming', 'fine', 'glad'];
const NEGATIVE = ['bad', 'awful', 'sad', 'terrible', 'horrible', 'poor', 'nasty', 'gloomy', 'dreadful', 'ugly', 'grim', 'sour'];
const ANIMALS = ['cat', 'dog', 'horse', 'bird', 'fish', 'cow', 'sheep', 'goat'];
const VEHICLES = ['car', 'bus', 'train', 'truck', 'bike', 'boat', 'plane', 'ship'];
const FILLERS = ['the', 'a', 'this', 'was', 'is', 'very', 'quite', 'and', 'it', 'so'];

type Maker = (random: SeededRandom, split: 'train' | 'dev') => { words: string[]; label: number };

/** A task whose examples are drawn from a seed: no files needed. */
class SyntheticTask implements TaskPlugin {
  readonly metrics = ['accuracy'];
  readonly splits = ['train', 'dev'];
  readonly head;

  constructor(
    readonly id: string,
    labels: readonly string[],
    private readonly sizes: Record<'train' | 'dev', number>,
    private readonly make: Maker,
  ) {
    this.head = { type: 'classification', labels } as const;
  }

  get description(): string {
    return `synthetic ${this.id}`;
  }

  async *read(split: string): AsyncIterable<Example> {
    const random = new SeededRandom(split === 'train' ? 1 : 2);
    for (let i = 0; i < this.sizes[split as 'train' | 'dev']; i++) {
      const { words, label } = this.make(random, split as 'train' | 'dev');
      yield { id: `${split}-${i}`, text: words.join(' '), label };
    }
  }
}

const pick = <T>(random: SeededRandom, items: readonly T[]): T => items[random.int(items.length)] as T;
function sentence(random: SeededRandom, sentiment: string, noun: string): string[] {
  return [pick(random, FILLERS), noun, sentiment];
}
const nouns = (random: SeededRandom) => pick(random, random.int(2) ? ANIMALS : VEHICLES);

const TASKS = [
  new SyntheticTask('polarity', ['negative', 'positive'], { train: 384, dev: 96 }, (random) => {
    const label = random.int(2);
    return { words: sentence(random, pick(random, label ? POSITIVE : NEGATIVE), nouns(random)), label };
  }),
  new SyntheticTask('topic', ['vehicle', 'animal'], { train: 384, dev: 96 }, (random) => {
    const label = random.int(2);
    return { words: sentence(random, pick(random, FILLERS), pick(random, label ? ANIMALS : VEHICLES)), label };
  }),
  // Low resource: the same question with 40 training examples, too few to learn 24 sentiment words from.
  new SyntheticTask('review', ['negative', 'positive'], { train: 40, dev: 120 }, (random) => {
    const label = random.int(2);
    return { words: sentence(random, pick(random, label ? POSITIVE : NEGATIVE), nouns(random)), label };
  }),
];

async function tinyBackbone(dir: string): Promise<void> {
  await writeTinyBackbone(dir, [...SPECIAL_TOKENS, ...POSITIVE, ...NEGATIVE, ...ANIMALS, ...VEHICLES, ...FILLERS], 7, { initializerRange: 0.2 });
}

describe('extract → fuse → inspect on synthetic tasks', () => {
  it('attends to the adapter that knows what the target needs, and beats the target\'s own adapter', async () => {
    const root = mkdtempSync(join(tmpdir(), 'af-fusion-e2e-'));
    const backboneDir = join(root, 'backbone');
    await tinyBackbone(backboneDir);
    const container = createContainer([taskModule(...TASKS), fusionModule]);
    const run = new RunDirectory(join(root, 'run'));
    const log: string[] = [];
    const logLine = (line: string) => log.push(line);

    const extraction = validateConfig(ExtractionConfig, {
      backbone: backboneDir,
      tasks: TASKS.map((task) => ({ id: task.id, dataDir: root })),
      adapter: { preset: 'seq_bn', reductionFactor: 4 },
      training: { learningRate: 1e-2, epochs: 6, batchSize: 32, earlyStoppingPatience: 0 },
      maxLength: 12,
      seed: 3,
    });
    const extracted = await new ExtractionStage(taskRegistry(container), extraction).run({ run, baseDir: root, log: logLine, progress: false });
    const own = extracted.find((result) => result.task === 'review')?.metrics.accuracy ?? NaN;
    expect(extracted.find((result) => result.task === 'polarity')?.metrics.accuracy).toBeGreaterThan(0.9);

    const stage = stageRegistry(container).get<FusionConfig, FusionResult>('fuse');
    const context = { run, baseDir: root, source: 'test', log: logLine };
    const fused = await stage.run(validateConfig(FusionConfig, {
      target: 'review',
      dataDir: '.',
      adapters: ['polarity', 'topic', 'review'],
      backbone: backboneDir,
      maxLength: 12,
      logAttentionEvery: 1,
      training: { learningRate: 5e-3, epochs: 20, batchSize: 16, earlyStoppingPatience: 0, seed: 3 },
    }), context);

    const inspector = new AttentionInspector(taskRegistry(container));
    const { files, table } = await inspector.inspect({ runDir: run.root, targets: ['review'], perClass: true, ablate: true, tokens: 3, log: logLine });
    const report = JSON.parse(readFileSync(join(run.reportDir('review'), 'attention.json'), 'utf8')) as AttentionReport;
    expect(files).toEqual(['attention.json', 'attention.csv', 'attention.html'].map((file) => join(run.reportDir('review'), file)));
    expect(report.adapters).toEqual(['polarity', 'topic', 'review']);
    expect(report.metrics?.accuracy).toBeCloseTo(fused.metrics.accuracy ?? NaN, 6);
    expect(fused.skipped).toBe(false);
    expect(fused.metrics.accuracy).toBeGreaterThan(own + 0.15);
    expect(log).toContain('training 14 tensors / 7394 parameters, frozen 63 tensors / 24368 parameters'); // 2 sites × 5 + head 4; backbone 39 + 3 × 8
    // Uniform attention would give each adapter 1/3.
    const [polarity, ...others] = report.all.overall as [number, number, number];
    expect(polarity).toBeGreaterThan(1.25 / 3);
    expect(polarity).toBeGreaterThan(Math.max(...others));
    // Every site averages over every token, the last layer's included (training skips its other tokens, inspection does not).
    for (const site of report.all.sites) expect(site.mean.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const lastLayer = report.all.sites.at(-1)?.mean ?? [];
    expect(lastLayer[0]).toBe(Math.max(...lastLayer));
    expect(report.perClass?.map((group) => group.key).sort()).toEqual(['negative', 'positive']);
    // Masking the polarity adapter hurts most.
    const drops = report.ablation?.withoutAdapter.map((value) => (report.ablation?.full ?? 0) - value) ?? [];
    expect(drops[0]).toBe(Math.max(...drops));
    expect(table).toContain('fusion attention for review over dev');
    // The token view: the first 3 examples, their real tokens spelled, each token's weights summing to 1 at every site.
    expect(report.tokens?.map((example) => example.tokens[0])).toEqual(['[CLS]', '[CLS]', '[CLS]']);
    for (const example of report.tokens ?? []) {
      expect(example.sites).toHaveLength(2);
      for (const site of example.sites) {
        expect(site.weights).toHaveLength(example.tokens.length);
        for (const weights of site.weights) expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    }
    // Attention logged at every evaluation; at the kept step it is what inspection measures with the kept weights.
    const training = readTrainingLog(run, 'review');
    expect(training.metrics.length).toBeGreaterThan(training.attention.length);
    const bestStep = run.readManifest().stages['fuse/review']?.bestStep;
    const atBest = training.attention.find((snapshot) => snapshot.step === bestStep);
    atBest?.overall.forEach((weight, n) => expect(weight).toBeCloseTo(report.all.overall[n] ?? NaN, 5));
    expect(atBest).toBeDefined();
    expect(readFileSync(join(run.reportDir('review'), 'attention.html'), 'utf8')).toContain('Attention over training');

    // The fusion loads again for inference, with its adapters found through the directories it recorded.
    const backbone = await BertModel.fromPretrained(backboneDir);
    const loaded = await loadComposition(container, fused.fusionDir, backbone);
    expect([loaded.name, loaded.temperature, loaded.head?.name]).toEqual(['polarity,topic,review', 1, 'review']);
    loaded.dispose();
    backbone.dispose();

    // A second run of the stage finds the target done and leaves it.
    expect((await stage.run(validateConfig(FusionConfig, { target: 'review', dataDir: '.', adapters: ['polarity', 'topic', 'review'], backbone: backboneDir }), context)).skipped).toBe(true);
    expect(existsSync(join(run.checkpointDir('fuse', 'review'), 'state.json'))).toBe(true);
    console.log(`fusion e2e: own adapter ${own.toFixed(3)}, fusion ${fused.metrics.accuracy?.toFixed(3)}, attention [${report.all.overall.map((w) => w.toFixed(3)).join(', ')}]`);
  });
});

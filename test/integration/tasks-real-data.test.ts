// Every built-in task reads its real distribution files in ../shared/data; counts and label distributions are the
// ones ../shared/data/SOURCES.md states.
import { describe, expect, it } from 'vitest';
import { createContainer, readTaskSplit, taskRegistry, type Example, type TaskPlugin } from '../../src/index';
import builtinTasks from '../../tasks/index';
import { hasShared, sharedPath } from '../shared-fixtures';

interface Case {
  task: string;
  /** Folder under ../shared/data. */
  folder: string;
  split: string;
  count: number;
  /** Examples per label name; absent for unlabelled splits. */
  labels?: Record<string, number>;
  /** Id of the first example. */
  firstId: string;
}

const CASES: Case[] = [
  { task: 'rte', folder: 'rte', split: 'train', count: 2490, labels: { entailment: 1249, not_entailment: 1241 }, firstId: '0' },
  { task: 'rte', folder: 'rte', split: 'dev', count: 277, labels: { entailment: 146, not_entailment: 131 }, firstId: '0' },
  { task: 'rte', folder: 'rte', split: 'test', count: 3000, firstId: '0' },
  { task: 'rte', folder: 'rte/superglue_jsonl', split: 'train', count: 2490, labels: { entailment: 1249, not_entailment: 1241 }, firstId: '0' },
  { task: 'rte', folder: 'rte/superglue_jsonl', split: 'dev', count: 277, labels: { entailment: 146, not_entailment: 131 }, firstId: '0' },
  { task: 'rte', folder: 'rte/superglue_jsonl', split: 'test', count: 3000, firstId: '0' },
  { task: 'cb', folder: 'cb', split: 'train', count: 250, labels: { contradiction: 119, entailment: 115, neutral: 16 }, firstId: '0' },
  { task: 'cb', folder: 'cb', split: 'dev', count: 56, labels: { contradiction: 28, entailment: 23, neutral: 5 }, firstId: '0' },
  { task: 'cb', folder: 'cb', split: 'test', count: 250, firstId: '0' },
  { task: 'cola', folder: 'cola', split: 'train', count: 8551, labels: { '1': 6023, '0': 2528 }, firstId: '0' },
  { task: 'cola', folder: 'cola', split: 'dev', count: 1043, labels: { '1': 721, '0': 322 }, firstId: '0' },
  { task: 'cola', folder: 'cola', split: 'test', count: 1063, firstId: '0' },
  { task: 'mrpc', folder: 'mrpc', split: 'train', count: 3668, labels: { '1': 2474, '0': 1194 }, firstId: '0' },
  { task: 'mrpc', folder: 'mrpc', split: 'dev', count: 408, labels: { '1': 279, '0': 129 }, firstId: '0' },
  { task: 'mrpc', folder: 'mrpc', split: 'test', count: 1725, firstId: '0' },
  { task: 'sst2', folder: 'sst2', split: 'train', count: 67349, labels: { '1': 37569, '0': 29780 }, firstId: '0' },
  { task: 'sst2', folder: 'sst2', split: 'dev', count: 872, labels: { '1': 444, '0': 428 }, firstId: '0' },
  { task: 'sst2', folder: 'sst2', split: 'test', count: 1821, firstId: '0' },
  { task: 'stsb', folder: 'stsb', split: 'train', count: 5749, firstId: '0' },
  { task: 'stsb', folder: 'stsb', split: 'dev', count: 1500, firstId: '0' },
  { task: 'stsb', folder: 'stsb', split: 'test', count: 1379, firstId: '0' },
  { task: 'sick', folder: 'sick', split: 'train', count: 4500, labels: { NEUTRAL: 2536, ENTAILMENT: 1299, CONTRADICTION: 665 }, firstId: '1' },
  { task: 'sick', folder: 'sick', split: 'dev', count: 500, labels: { NEUTRAL: 282, ENTAILMENT: 144, CONTRADICTION: 74 }, firstId: '4' },
  { task: 'sick', folder: 'sick', split: 'test', count: 4927, labels: { NEUTRAL: 2793, ENTAILMENT: 1414, CONTRADICTION: 720 }, firstId: '6' },
  { task: 'qnli', folder: 'qnli', split: 'dev', count: 5463, labels: { entailment: 2702, not_entailment: 2761 }, firstId: '0' },
  { task: 'qnli', folder: 'qnli', split: 'train_subset', count: 8999, labels: { entailment: 4523, not_entailment: 4476 }, firstId: '0' },
  { task: 'qnli', folder: 'qnli', split: 'dev_subset', count: 1000, labels: { entailment: 504, not_entailment: 496 }, firstId: '0' },
  { task: 'mnli', folder: 'mnli', split: 'dev_matched', count: 9815, labels: { entailment: 3479, neutral: 3123, contradiction: 3213 }, firstId: '0' },
  { task: 'mnli', folder: 'mnli', split: 'dev', count: 9815, labels: { entailment: 3479, neutral: 3123, contradiction: 3213 }, firstId: '0' },
  { task: 'mnli', folder: 'mnli', split: 'train_subset', count: 8999, labels: { entailment: 3061, neutral: 2980, contradiction: 2958 }, firstId: '0' },
  { task: 'mnli', folder: 'mnli', split: 'dev_subset', count: 1000, labels: { entailment: 347, neutral: 333, contradiction: 320 }, firstId: '0' },
  { task: 'imdb', folder: 'imdb_subset', split: 'dev', count: 1000, labels: { '0': 500, '1': 500 }, firstId: '0' },
  { task: 'imdb', folder: 'imdb_subset', split: 'test', count: 1000, labels: { '0': 500, '1': 500 }, firstId: '0' },
  { task: 'scitail', folder: 'scitail', split: 'test', count: 2126, labels: { entailment: 842, not_entailment: 1284 }, firstId: '0' },
  { task: 'boolq', folder: 'boolq', split: 'dev', count: 3270, labels: { true: 2033, false: 1237 }, firstId: '0' },
];

function distribution(plugin: TaskPlugin, examples: readonly Example[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { label } of examples) {
    const name = plugin.head.type === 'classification' ? (plugin.head.labels[label as number] ?? 'out of range') : 'unexpected';
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe.skipIf(!hasShared('data'))('built-in tasks read the real files', () => {
  const registry = taskRegistry(createContainer([builtinTasks]));

  it.each(CASES)('$task $split from $folder: $count examples', async ({ task, folder, split, count, labels, firstId }) => {
    const plugin = registry.get(task);
    const examples = await readTaskSplit(plugin, split, { dataDir: sharedPath('data', folder) });
    expect(examples).toHaveLength(count);
    expect(examples[0]?.id).toBe(firstId);
    expect(new Set(examples.map((e) => e.id)).size).toBe(count);
    expect(examples.every((e) => e.text.trim() !== '')).toBe(true);
    if (labels) expect(distribution(plugin, examples)).toEqual(labels);
    else if (plugin.head.type === 'classification') expect(examples.every((e) => e.label === undefined)).toBe(true);
  });

  it('reads pairs with quotes kept as text (GLUE TSV has no quoting)', async () => {
    const [first] = await readTaskSplit(registry.get('mrpc'), 'train', { dataDir: sharedPath('data', 'mrpc'), maxExamples: 1 });
    expect(first).toEqual({
      id: '0',
      text: 'Amrozi accused his brother, whom he called "the witness", of deliberately distorting his evidence.',
      textPair: 'Referring to him as only "the witness", Amrozi accused his brother of deliberately distorting his evidence.',
      label: 1,
    });
  });

  it('reads STS-B scores as numbers in [0, 5]', async () => {
    const examples = await readTaskSplit(registry.get('stsb'), 'train', { dataDir: sharedPath('data', 'stsb') });
    expect(examples.slice(0, 2).map((e) => e.label)).toEqual([5, 3.8]);
    const scores = examples.map((e) => e.label as number);
    expect(Math.min(...scores)).toBe(0);
    expect(Math.max(...scores)).toBe(5);
  });

  it('reads SICK with Windows line endings without a trailing carriage return', async () => {
    const examples = await readTaskSplit(registry.get('sick'), 'test', { dataDir: sharedPath('data', 'sick') });
    expect(examples.some((e) => /\r/.test(`${e.text}${e.textPair}`))).toBe(false);
  });

  it('stops after maxExamples', async () => {
    const examples = await readTaskSplit(registry.get('sst2'), 'train', { dataDir: sharedPath('data', 'sst2'), maxExamples: 5 });
    expect(examples.map((e) => e.id)).toEqual(['0', '1', '2', '3', '4']);
  });

  it('says which files it looked for when a split is absent', async () => {
    await expect(readTaskSplit(registry.get('mnli'), 'train', { dataDir: sharedPath('data', 'mnli') })).rejects.toThrow(
      `task "mnli", split "train": expected train.tsv in ${sharedPath('data', 'mnli')}, found none`,
    );
  });
});

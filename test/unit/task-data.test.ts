import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExamples } from '../../src/data/read-examples';
import { loadTaskData } from '../../src/data/task-data';
import type { HeadSpec, TaskDataOptions, TaskPlugin } from '../../src/task/task-plugin';
import type { Encoding, Tokenizer } from '../../src/tokenizer/tokenizer';

const head: HeadSpec = { type: 'classification', labels: ['no', 'yes'] };

/** A TSV task: `text<TAB>label`, a header line. */
const plugin: TaskPlugin = {
  id: 'toy',
  description: 'toy',
  head,
  metrics: ['accuracy'],
  splits: ['train', 'dev', 'test'],
  read: (split: string, options: TaskDataOptions) => readExamples(join(options.dataDir, `${split}.tsv`), head, { text: 'text', label: 'label' }, options),
};

const tokenizer: Tokenizer = {
  padTokenId: 0,
  vocabSize: 10,
  encode: (text: string): Encoding => {
    const ids = [1, ...text.split(' ').map(() => 3), 2];
    return { inputIds: ids, tokenTypeIds: ids.map(() => 0), attentionMask: ids.map(() => 1) };
  },
};

function dataDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'af-task-data-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

describe('loadTaskData', () => {
  const request = { maxLength: 16, batchSize: 2, seed: 1, stage: 'extraction' };

  it('encodes train and dev, batches dev, and passes skipBadLines to the reader', async () => {
    const dir = dataDir({ 'train.tsv': 'text\tlabel\na b\tyes\nbroken line\nc\tno\n', 'dev.tsv': 'text\tlabel\nd e f\tno\n' });
    await expect(loadTaskData(plugin, tokenizer, { ...request, dataDir: dir })).rejects.toThrow(`${join(dir, 'train.tsv')}`);
    const data = await loadTaskData(plugin, tokenizer, { ...request, dataDir: dir, skipBadLines: true });
    expect(data.train.map((example) => example.label)).toEqual([1, 0]);
    expect(data.devBatches).toHaveLength(1);
    expect(data.devBatches[0]?.inputIds).toEqual([[1, 3, 3, 3, 2]]);
  });

  it('refuses an unlabelled evaluation split, naming the task, split, directory and stage', async () => {
    const dir = dataDir({ 'train.tsv': 'text\tlabel\na\tyes\n', 'test.tsv': 'text\nb\n' });
    const unlabelled: TaskPlugin = { ...plugin, read: (split, options) => readExamples(join(options.dataDir, `${split}.tsv`), head, split === 'test' ? { text: 'text' } : { text: 'text', label: 'label' }, options) };
    await expect(loadTaskData(unlabelled, tokenizer, { ...request, dataDir: dir, devSplit: 'test', stage: 'fusion' })).rejects.toThrow(
      `task "toy": the test split in ${dir} has no labels; fusion selects weights on labelled test data`,
    );
  });
});

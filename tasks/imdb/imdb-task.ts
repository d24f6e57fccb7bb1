import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, FileTask, readTextFile, skippingBadLines, taskModule, type Example, type HeadSpec, type TaskDataOptions, type TaskPlugin } from '../../src/index';

const head: HeadSpec = { type: 'classification', labels: ['0', '1'] };

/** JSON objects of rows `{id: {ori: review, label: "0"|"1"}}`, full (`train.json`) or subsampled (`train_subset.json`). */
function jsonSplit(name: string): { file: string; text: string; label: string }[] {
  return [`${name}.json`, `${name}_subset.json`].map((file) => ({ file, text: 'ori', label: 'label' }));
}

const jsonFiles = new FileTask({
  id: 'imdb',
  description: 'IMDB JSON files',
  head,
  metrics: ['accuracy'],
  splits: { train: jsonSplit('train'), dev: jsonSplit('dev'), test: jsonSplit('test') },
});

/** The original aclImdb layout: one review per file in `<split>/neg/` and `<split>/pos/`, HTML line breaks in the text. */
async function* reviewFolders(folder: string): AsyncGenerator<Example | DataError> {
  for (const [label, name] of ['neg', 'pos'].entries()) {
    const files = (await readdir(join(folder, name))).filter((file) => file.endsWith('.txt')).sort();
    for (const file of files) {
      const path = join(folder, name, file);
      const text = readTextFile(path).replace(/<br\s*\/?>/g, ' ').trim();
      yield text === '' ? new DataError(path, 1, undefined, 'expected a review, got an empty file') : { id: `${name}/${file.slice(0, -4)}`, text, label };
    }
  }
}

/**
 * IMDB movie reviews (Maas et al. 2011), positive or negative: the original `aclImdb` folders (`train/` and `test/`,
 * each with `neg/` and `pos/`), or JSON files of rows `train.json`, `dev.json`, `test.json` (or `*_subset.json`).
 */
export class ImdbTask implements TaskPlugin {
  readonly id = 'imdb';
  readonly description = 'IMDB: movie review sentiment, 2 classes, 1 = positive';
  readonly head = head;
  readonly metrics = ['accuracy'];
  readonly splits = ['train', 'dev', 'test'];

  async *read(split: string, options: TaskDataOptions): AsyncGenerator<Example> {
    const folder = join(options.dataDir, split);
    if (existsSync(join(folder, 'pos')) && existsSync(join(folder, 'neg'))) yield* skippingBadLines(folder, reviewFolders(folder), options);
    else yield* jsonFiles.read(split, options);
  }
}

export default taskModule(new ImdbTask());

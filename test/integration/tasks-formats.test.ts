// The built-in tasks as the CLI loads them: every distribution layout they accept (on small files written here, for
// data ../shared does not hold) and the leaderboard files they write.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createContainer, loadModules, readTaskSplit, taskRegistry, type TaskPlugin, type TaskRegistry } from '../../src/index';

const root = mkdtempSync(join(tmpdir(), 'tasks-formats-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes files (path → content) under a fresh data directory and returns it. */
function dataDir(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

let registry: TaskRegistry;
beforeAll(async () => {
  // Loaded by path, as a third-party plugin module is.
  registry = taskRegistry(createContainer(await loadModules(['./tasks/index.ts'], resolve(__dirname, '../..'))));
});

function task(id: string): TaskPlugin {
  return registry.get(id);
}

describe('built-in task module', () => {
  it('registers every built-in task with metrics and a train and dev split', () => {
    expect(registry.ids()).toEqual([
      'boolq', 'cb', 'cola', 'imdb', 'mnli', 'mrpc', 'qnli', 'qqp', 'rte', 'scitail', 'sick', 'sst2', 'stsb',
    ]);
    for (const id of registry.ids()) {
      expect(task(id).splits).toEqual(expect.arrayContaining(['train', 'dev']));
    }
    expect(Object.fromEntries(['mrpc', 'qqp', 'cola', 'stsb', 'cb', 'rte'].map((id) => [id, task(id).metrics]))).toEqual({
      mrpc: ['f1', 'accuracy'],
      qqp: ['f1', 'accuracy'],
      cola: ['matthews_correlation'],
      stsb: ['pearson', 'spearman'],
      cb: ['accuracy', 'macro_f1'],
      rte: ['accuracy'],
    });
  });
});

describe('layouts', () => {
  it('qqp: GLUE TSV with ids, labelled and unlabelled', async () => {
    const dir = dataDir('qqp', {
      'train.tsv': 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n201\t1\t2\tHow do I cook rice?\tWhat is the way to cook rice?\t1\n',
      'test.tsv': 'id\tquestion1\tquestion2\n0\tWhy?\tHow?\n',
    });
    expect(await readTaskSplit(task('qqp'), 'train', { dataDir: dir })).toEqual([
      { id: '201', text: 'How do I cook rice?', textPair: 'What is the way to cook rice?', label: 1 },
    ]);
    expect(await readTaskSplit(task('qqp'), 'test', { dataDir: dir })).toEqual([{ id: '0', text: 'Why?', textPair: 'How?' }]);
  });

  it('qqp: skipBadLines passes over a short line (older GLUE QQP files have some)', async () => {
    const dir = dataDir('qqp-bad', {
      'dev.tsv': 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tA?\tB?\t0\n2\t3\t4\tC?\n3\t5\t6\tD?\tE?\t1\n',
    });
    await expect(readTaskSplit(task('qqp'), 'dev', { dataDir: dir })).rejects.toThrow(`${join(dir, 'dev.tsv')} line 3: expected 6 tab-separated fields`);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const examples = await readTaskSplit(task('qqp'), 'dev', { dataDir: dir, skipBadLines: true });
      expect(examples.map((e) => e.id)).toEqual(['1', '3']);
      expect(warn.mock.calls).toEqual([[expect.stringContaining(`${join(dir, 'dev.tsv')}: skipped 1 bad line;`)]]);
    } finally {
      warn.mockRestore();
    }
  });

  it('mnli: GLUE TSV with gold_label among many columns', async () => {
    const header = 'index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label';
    const dir = dataDir('mnli', { 'train.tsv': `${header}\n0\t1\t1n\tgov\t(x)\t(y)\t(x)\t(y)\tA premise.\tA hypothesis.\tneutral\tneutral\n` });
    expect(await readTaskSplit(task('mnli'), 'train', { dataDir: dir })).toEqual([{ id: '0', text: 'A premise.', textPair: 'A hypothesis.', label: 1 }]);
  });

  it('boolq: the SuperGLUE layout (label, idx, val.jsonl) as well as Google\'s (answer, dev.jsonl)', async () => {
    const dir = dataDir('boolq', {
      'val.jsonl': '{"question": "is it", "passage": "It is.", "idx": 0, "label": true}\n',
      'test.jsonl': '{"question": "is it not", "passage": "No.", "idx": 0}\n',
    });
    expect(await readTaskSplit(task('boolq'), 'dev', { dataDir: dir })).toEqual([{ id: '0', text: 'is it', textPair: 'It is.', label: 1 }]);
    expect(await readTaskSplit(task('boolq'), 'test', { dataDir: dir })).toEqual([{ id: '0', text: 'is it not', textPair: 'No.' }]);
  });

  it("scitail: SciTail's own headerless tsv_format, with its entails/neutral labels", async () => {
    const dir = dataDir('scitail', { 'tsv_format/scitail_1.0_train.tsv': 'Plants make food.\tPlants photosynthesize.\tentails\nA.\tB.\tneutral\n' });
    const examples = await readTaskSplit(task('scitail'), 'train', { dataDir: dir });
    expect(examples.map((e) => [e.text, e.label])).toEqual([['Plants make food.', 0], ['A.', 1]]);
  });

  it('imdb: the original aclImdb folders, HTML line breaks removed', async () => {
    const dir = dataDir('imdb', {
      'train/neg/1_2.txt': 'Dull.<br /><br />Really dull.',
      'train/pos/0_9.txt': 'Great fun.',
      'train/pos/3_10.txt': 'Loved it.',
      'train/unsup/5_0.txt': 'not read',
    });
    expect(await readTaskSplit(task('imdb'), 'train', { dataDir: dir })).toEqual([
      { id: 'neg/1_2', text: 'Dull.  Really dull.', label: 0 },
      { id: 'pos/0_9', text: 'Great fun.', label: 1 },
      { id: 'pos/3_10', text: 'Loved it.', label: 1 },
    ]);
  });

  it('names the task and its splits for an unknown split', async () => {
    await expect(readTaskSplit(task('cb'), 'validation', { dataDir: root })).rejects.toThrow('task "cb": expected a split among train, dev, test, got "validation"');
  });
});

describe('leaderboard files', () => {
  const predictions = [
    { id: '0', value: 1 },
    { id: '1', value: 0 },
  ];

  it('GLUE: <TASK>.tsv with index and label strings', () => {
    expect(task('rte').formatPredictions?.('test', predictions)).toEqual({ fileName: 'RTE.tsv', content: 'index\tprediction\n0\tnot_entailment\n1\tentailment\n' });
    expect(task('cola').formatPredictions?.('test', predictions)).toEqual({ fileName: 'CoLA.tsv', content: 'index\tprediction\n0\t1\n1\t0\n' });
    expect(task('mnli').formatPredictions?.('test_mismatched', predictions)?.fileName).toBe('MNLI-mm.tsv');
  });

  it('GLUE regression: scores with three decimals', () => {
    expect(task('stsb').formatPredictions?.('test', [{ id: '0', value: 3.14159 }])?.content).toBe('index\tprediction\n0\t3.142\n');
  });

  it('SuperGLUE: JSONL with numeric idx and label strings', () => {
    expect(task('cb').formatPredictions?.('test', predictions)).toEqual({
      fileName: 'CB.jsonl',
      content: '{"idx":0,"label":"contradiction"}\n{"idx":1,"label":"entailment"}\n',
    });
    expect(task('boolq').formatPredictions?.('test', predictions)?.content).toBe('{"idx":0,"label":"true"}\n{"idx":1,"label":"false"}\n');
  });

  it('refuses labelled splits, out-of-range classes, and tasks without a leaderboard', () => {
    expect(() => task('rte').formatPredictions?.('dev', predictions)).toThrow('task "rte": leaderboard files exist for test, got split "dev"');
    expect(() => task('rte').formatPredictions?.('test', [{ id: '0', value: 2 }])).toThrow('prediction for example 0: expected a class index below 2, got 2');
    expect(task('sick').formatPredictions === undefined).toBe(true);
  });
});

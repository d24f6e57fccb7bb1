import { FileTask, taskModule } from '../../src/index';

const columns = { id: 'id', text: 'question1', textPair: 'question2' } as const;

/** QQP, Quora Question Pairs (GLUE): `train.tsv`, `dev.tsv` (label `is_duplicate`), `test.tsv`. */
export const qqpTask = new FileTask({
  id: 'qqp',
  description: 'QQP (GLUE): do the two questions ask the same thing? 2 classes, 1 = duplicate',
  head: { type: 'classification', labels: ['0', '1'] },
  metrics: ['f1', 'accuracy'],
  splits: {
    train: [{ file: 'train.tsv', ...columns, label: 'is_duplicate' }],
    dev: [{ file: 'dev.tsv', ...columns, label: 'is_duplicate' }],
    test: [{ file: 'test.tsv', ...columns }],
  },
  leaderboard: { test: { format: 'glue', fileName: 'QQP.tsv' } },
});

export default taskModule(qqpTask);

import { FileTask, taskModule } from '../../src/index';

const columns = { id: 'index', text: 'sentence1', textPair: 'sentence2' } as const;

/** STS-B, the Semantic Textual Similarity Benchmark (GLUE): `train.tsv`, `dev.tsv` (column `score`), `test.tsv`. */
export const stsbTask = new FileTask({
  id: 'stsb',
  description: 'STS-B (GLUE): similarity of two sentences, a score from 0 to 5 (regression)',
  head: { type: 'regression', range: [0, 5] },
  metrics: ['pearson', 'spearman'],
  splits: {
    train: [{ file: 'train.tsv', ...columns, label: 'score' }],
    dev: [{ file: 'dev.tsv', ...columns, label: 'score' }],
    test: [{ file: 'test.tsv', ...columns }],
  },
  leaderboard: { test: { format: 'glue', fileName: 'STS-B.tsv' } },
});

export default taskModule(stsbTask);

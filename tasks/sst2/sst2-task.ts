import { FileTask, taskModule } from '../../src/index';

/** SST-2, the Stanford Sentiment Treebank, binary (GLUE): `train.tsv`, `dev.tsv`, `test.tsv`. */
export const sst2Task = new FileTask({
  id: 'sst2',
  description: 'SST-2 (GLUE): sentence sentiment, 2 classes, 1 = positive',
  head: { type: 'classification', labels: ['0', '1'] },
  metrics: ['accuracy'],
  splits: {
    train: [{ file: 'train.tsv', text: 'sentence', label: 'label' }],
    dev: [{ file: 'dev.tsv', text: 'sentence', label: 'label' }],
    test: [{ file: 'test.tsv', id: 'index', text: 'sentence' }],
  },
  leaderboard: { test: { format: 'glue', fileName: 'SST-2.tsv' } },
});

export default taskModule(sst2Task);

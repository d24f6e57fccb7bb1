import { FileTask, taskModule } from '../../src/index';

const columns = { text: '#1 String', textPair: '#2 String' } as const;

/** MRPC, the Microsoft Research Paraphrase Corpus (GLUE): `train.tsv`, `dev.tsv` (label `Quality`), `test.tsv`. */
export const mrpcTask = new FileTask({
  id: 'mrpc',
  description: 'MRPC (GLUE): are the two sentences paraphrases? 2 classes, 1 = paraphrase',
  head: { type: 'classification', labels: ['0', '1'] },
  metrics: ['f1', 'accuracy'],
  splits: {
    train: [{ file: 'train.tsv', ...columns, label: 'Quality' }],
    dev: [{ file: 'dev.tsv', ...columns, label: 'Quality' }],
    test: [{ file: 'test.tsv', ...columns, id: 'index' }],
  },
  leaderboard: { test: { format: 'glue', fileName: 'MRPC.tsv' } },
});

export default taskModule(mrpcTask);

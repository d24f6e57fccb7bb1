import { FileTask, taskModule } from '../../src/index';

/** CoLA's train and dev files have no header: source, label, original annotation, sentence. */
const labelled = { header: false, text: 3, label: 1 } as const;

/** CoLA, the Corpus of Linguistic Acceptability (GLUE): `train.tsv`, `dev.tsv`, `test.tsv`. */
export const colaTask = new FileTask({
  id: 'cola',
  description: 'CoLA (GLUE): is the sentence grammatically acceptable? 2 classes, 1 = acceptable',
  head: { type: 'classification', labels: ['0', '1'] },
  metrics: ['matthews_correlation'],
  splits: {
    train: [{ file: 'train.tsv', ...labelled }],
    dev: [{ file: 'dev.tsv', ...labelled }],
    test: [{ file: 'test.tsv', id: 'index', text: 'sentence' }],
  },
  leaderboard: { test: { format: 'glue', fileName: 'CoLA.tsv' } },
});

export default taskModule(colaTask);

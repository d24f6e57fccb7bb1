import { FileTask, taskModule } from '../../src/index';

const glue = { id: 'index', text: 'question', textPair: 'sentence' } as const;
/** A JSON object of rows `{id: {text_a, text_b, label}}`: the labelled subsamples some distributions ship. */
const subset = { text: 'text_a', textPair: 'text_b', label: 'label' } as const;

/**
 * QNLI, Question-answering NLI (GLUE): `train.tsv`, `dev.tsv`, `test.tsv`; also the labelled subsamples
 * `train_subset.json` and `dev_subset.json` (directly or in `train_subset/`).
 */
export const qnliTask = new FileTask({
  id: 'qnli',
  description: 'QNLI (GLUE): does the sentence contain the answer to the question? 2 classes',
  head: { type: 'classification', labels: ['entailment', 'not_entailment'] },
  metrics: ['accuracy'],
  splits: {
    train: [{ file: 'train.tsv', ...glue, label: 'label' }],
    dev: [{ file: 'dev.tsv', ...glue, label: 'label' }],
    test: [{ file: 'test.tsv', ...glue }],
    train_subset: [{ file: 'train_subset.json', ...subset }, { file: 'train_subset/train_subset.json', ...subset }],
    dev_subset: [{ file: 'dev_subset.json', ...subset }, { file: 'train_subset/dev_subset.json', ...subset }],
  },
  leaderboard: { test: { format: 'glue', fileName: 'QNLI.tsv' } },
});

export default taskModule(qnliTask);

import { FileTask, taskModule, type SplitFile } from '../../src/index';

const glue = { id: 'index', text: 'sentence1', textPair: 'sentence2' } as const;
/** A JSONL conversion with `premise`, `hypothesis`, `label` per line (no id: rows are numbered). */
const jsonl = { text: 'premise', textPair: 'hypothesis', label: 'label' } as const;
/** A JSON object of rows `{id: {text_a, text_b, label}}`: the labelled subsamples some distributions ship. */
const subset = { text: 'text_a', textPair: 'text_b', label: 'label' } as const;

function dev(name: string): SplitFile[] {
  return [{ file: `${name}.tsv`, ...glue, label: 'gold_label' }, { file: `${name}.jsonl`, ...jsonl }];
}

/**
 * MNLI, Multi-Genre NLI (GLUE): `train.tsv`, `dev_matched.tsv`, `dev_mismatched.tsv`, `test_matched.tsv`,
 * `test_mismatched.tsv` (label `gold_label`); dev sets also as JSONL conversions; the labelled subsamples
 * `train_subset.json` and `dev_subset.json`. `dev` is `dev_matched`.
 */
export const mnliTask = new FileTask({
  id: 'mnli',
  description: 'MNLI (GLUE): does the premise entail, contradict or not decide the hypothesis? 3 classes',
  head: { type: 'classification', labels: ['entailment', 'neutral', 'contradiction'] },
  metrics: ['accuracy'],
  splits: {
    train: [{ file: 'train.tsv', ...glue, label: 'gold_label' }],
    dev: dev('dev_matched'),
    dev_matched: dev('dev_matched'),
    dev_mismatched: dev('dev_mismatched'),
    test_matched: [{ file: 'test_matched.tsv', ...glue }],
    test_mismatched: [{ file: 'test_mismatched.tsv', ...glue }],
    train_subset: [{ file: 'train_subset.json', ...subset }],
    dev_subset: [{ file: 'dev_subset.json', ...subset }],
  },
  leaderboard: {
    test_matched: { format: 'glue', fileName: 'MNLI-m.tsv' },
    test_mismatched: { format: 'glue', fileName: 'MNLI-mm.tsv' },
  },
});

export default taskModule(mnliTask);

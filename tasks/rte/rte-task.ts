import { FileTask, taskModule, type SplitFile } from '../../src/index';

/** GLUE's TSV layout (test has no label column). */
const glue = { id: 'index', text: 'sentence1', textPair: 'sentence2' } as const;
/** SuperGLUE's JSONL layout (test has no `label`). */
const superGlue = { id: 'idx', text: 'premise', textPair: 'hypothesis' } as const;

function split(tsv: string, jsonl: string, labelled: boolean): SplitFile[] {
  const label = labelled ? { label: 'label' } : {};
  return [{ file: tsv, ...glue, ...label }, { file: jsonl, ...superGlue, ...label }];
}

/**
 * RTE, Recognizing Textual Entailment: from GLUE's `train.tsv`/`dev.tsv`/`test.tsv` or SuperGLUE's
 * `train.jsonl`/`val.jsonl`/`test.jsonl`, whichever the data directory holds.
 */
export const rteTask = new FileTask({
  id: 'rte',
  description: 'RTE (GLUE/SuperGLUE): does the premise entail the hypothesis? 2 classes',
  head: { type: 'classification', labels: ['entailment', 'not_entailment'] },
  metrics: ['accuracy'],
  splits: {
    train: split('train.tsv', 'train.jsonl', true),
    dev: split('dev.tsv', 'val.jsonl', true),
    test: split('test.tsv', 'test.jsonl', false),
  },
  leaderboard: { test: { format: 'glue', fileName: 'RTE.tsv' } },
});

export default taskModule(rteTask);

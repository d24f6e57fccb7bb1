import { FileTask, taskModule } from '../../src/index';

const columns = { id: 'idx', text: 'premise', textPair: 'hypothesis' } as const;

/** CB, the CommitmentBank (SuperGLUE): `train.jsonl`, `val.jsonl`, `test.jsonl`. */
export const cbTask = new FileTask({
  id: 'cb',
  description: 'CommitmentBank (SuperGLUE): is the embedded clause entailed, contradicted or neither? 3 classes',
  head: { type: 'classification', labels: ['entailment', 'contradiction', 'neutral'] },
  metrics: ['accuracy', 'macro_f1'],
  splits: {
    train: [{ file: 'train.jsonl', ...columns, label: 'label' }],
    dev: [{ file: 'val.jsonl', ...columns, label: 'label' }],
    test: [{ file: 'test.jsonl', ...columns }],
  },
  leaderboard: { test: { format: 'superglue', fileName: 'CB.jsonl' } },
});

export default taskModule(cbTask);

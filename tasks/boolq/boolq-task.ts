import { FileTask, taskModule } from '../../src/index';

const columns = { text: 'question', textPair: 'passage' } as const;
/**
 * Google's release calls the label `answer` and has no ids; SuperGLUE's calls it `label` and numbers rows `idx` from 0
 * in file order, which is the row position both layouts fall back to.
 */
const labelled = { ...columns, label: ['label', 'answer'] } as const;

/** BoolQ, yes/no questions about a passage: Google's `train.jsonl`/`dev.jsonl` or SuperGLUE's `train.jsonl`/`val.jsonl`/`test.jsonl`. */
export const boolqTask = new FileTask({
  id: 'boolq',
  description: 'BoolQ (SuperGLUE): is the answer to the question about the passage yes? 2 classes',
  head: { type: 'classification', labels: ['false', 'true'] },
  metrics: ['accuracy'],
  splits: {
    train: [{ file: 'train.jsonl', ...labelled }],
    dev: [{ file: 'dev.jsonl', ...labelled }, { file: 'val.jsonl', ...labelled }],
    test: [{ file: 'test.jsonl', ...columns, id: 'idx' }],
  },
  leaderboard: { test: { format: 'superglue', fileName: 'BoolQ.jsonl' } },
});

export default taskModule(boolqTask);

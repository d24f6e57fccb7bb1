import { FileTask, taskModule } from '../../src/index';

const columns = { id: 'pair_ID', text: 'sentence_A', textPair: 'sentence_B', label: 'entailment_judgment' } as const;

/** SICK (SemEval-2014 Task 1), entailment: `SICK_train.txt`, `SICK_trial.txt` (dev), `SICK_test_annotated.txt`. */
export const sickTask = new FileTask({
  id: 'sick',
  description: 'SICK (SemEval-2014): entailment, contradiction or neutral between two sentences, 3 classes',
  head: { type: 'classification', labels: ['ENTAILMENT', 'NEUTRAL', 'CONTRADICTION'] },
  metrics: ['accuracy'],
  splits: {
    train: [{ file: 'SICK_train.txt', ...columns }],
    dev: [{ file: 'SICK_trial.txt', ...columns }],
    test: [{ file: 'SICK_test_annotated.txt', ...columns }],
  },
});

export default taskModule(sickTask);

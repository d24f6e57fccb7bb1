import { FileTask, taskModule, type SplitFile } from '../../src/index';

/**
 * SciTail's own `tsv_format` files have no header (premise, hypothesis, label) and say `entails`/`neutral`; JSONL
 * conversions use `premise`, `hypothesis` and `entailment`/`not_entailment`.
 */
function split(name: string): SplitFile[] {
  const tsv = { header: false, text: 0, textPair: 1, label: 2, labelMap: { entails: 'entailment', neutral: 'not_entailment' } } as const;
  return [
    { file: `${name}.jsonl`, text: 'premise', textPair: 'hypothesis', label: 'label' },
    { file: `scitail_1.0_${name}.tsv`, ...tsv },
    { file: `tsv_format/scitail_1.0_${name}.tsv`, ...tsv },
  ];
}

/** SciTail, science-question entailment: `tsv_format/scitail_1.0_{train,dev,test}.tsv` or `{train,dev,test}.jsonl`. */
export const scitailTask = new FileTask({
  id: 'scitail',
  description: 'SciTail: does the premise entail the science-question hypothesis? 2 classes',
  head: { type: 'classification', labels: ['entailment', 'not_entailment'] },
  metrics: ['accuracy'],
  splits: { train: split('train'), dev: split('dev'), test: split('test') },
});

export default taskModule(scitailTask);

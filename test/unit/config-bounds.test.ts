import 'reflect-metadata';
import { getMetadataStorage } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { FusionConfig, FusionTrainingConfig } from '../../fusion/fusion-config';
import { FusionOptions } from '../../fusion/fusion-options';
import { AdapterConfig } from '../../src/adapters/adapter-config';
import { validateConfig } from '../../src/config/validate';
import { ExperimentConfig, FusionRecipe } from '../../fusion/experiment-config';
import { ExtractionConfig, ExtractionTaskConfig } from '../../src/pipeline/extraction-config';
import { TrainingConfig } from '../../src/training/training-config';

const CONFIGS = { TrainingConfig, FusionTrainingConfig, AdapterConfig, ExtractionTaskConfig, ExtractionConfig, ExperimentConfig, FusionRecipe, FusionConfig, FusionOptions };

describe('every numeric configuration field has a lower and an upper bound', () => {
  for (const [name, type] of Object.entries(CONFIGS)) {
    it(name, () => {
      const metadata = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
      const rules = new Map<string, Set<string>>();
      for (const rule of metadata) rules.set(rule.propertyName, (rules.get(rule.propertyName) ?? new Set()).add(rule.name ?? ''));
      const numeric = [...rules].filter(([, names]) => names.has('isInt') || names.has('isNumber'));
      expect(numeric.length).toBeGreaterThan(0);
      const unbounded = numeric.filter(([, names]) => !names.has('min') || !names.has('max')).map(([property]) => property);
      expect(unbounded).toEqual([]);
    });
  }
});

describe('configuration values out of range and duplicates are refused, naming the field', () => {
  const base = { backbone: 'b', tasks: [{ id: 'rte', dataDir: 'd' }] };

  it('numbers past their bound', () => {
    expect(() => validateConfig(ExtractionConfig, { ...base, seed: -1, maxLength: 1e9, training: { learningRate: 1e3, batchSize: 1e12 } }, 'x.yaml')).toThrow(
      'invalid configuration in x.yaml:\n' +
        '  training.learningRate: must not be greater than 10, got 1000\n' +
        '  training.batchSize: must not be greater than 65536, got 1000000000000\n' +
        '  maxLength: must not be greater than 65536, got 1000000000\n' +
        '  seed: must not be less than 0, got -1',
    );
    expect(() => validateConfig(ExtractionConfig, { ...base, adapter: { reductionFactor: 1e-300 } })).toThrow('adapter.reductionFactor: must be a number from 1/64 to 1000000');
  });

  it('duplicate task ids, fusion targets and adapters', () => {
    expect(() => validateConfig(ExtractionConfig, { ...base, tasks: [{ id: 'rte', dataDir: 'a' }, { id: 'rte', dataDir: 'b' }] })).toThrow('tasks: must name each task id once, got');
    const fusion = { target: 'rte', adapters: ['rte', 'mnli'] };
    expect(() => validateConfig(ExperimentConfig, { ...base, fusions: [fusion, fusion] })).toThrow('fusions: must fuse each target once, got');
    expect(() => validateConfig(ExperimentConfig, { ...base, fusions: [{ target: 'rte', adapters: ['rte', 'rte'] }] })).toThrow('fusions.0.adapters: must name each adapter once, got ["rte","rte"]');
    expect(() => validateConfig(FusionConfig, { target: 'rte', dataDir: 'd', adapters: ['a', 'b', 'a'] })).toThrow('adapters: must name each adapter once, got ["a","b","a"]');
  });
});

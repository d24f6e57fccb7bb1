// The experiment file's typed fusion recipes: validated with the rest of the file (every error at once), with the
// fuse configuration's classes and defaults, and turned into the fuse stage's configuration.
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { ExperimentConfig, fusionStageConfig, FusionConfig, FusionOptions, FusionTrainingConfig } from '../../fusion/index';
import { ConfigValidationError, validateConfig } from '../../src/index';

const BASE = { backbone: 'models/tiny', tasks: [{ id: 'rte', dataDir: 'data/RTE', maxLength: 64 }, { id: 'sst2', dataDir: 'data/SST-2' }] };

describe('ExperimentConfig fusion recipes', () => {
  it("are typed with the fuse configuration's classes and defaults, the training seed the experiment's unless set", () => {
    const config = validateConfig(ExperimentConfig, {
      ...BASE,
      seed: 7,
      fusions: [
        { target: 'rte', adapters: ['sst2', 'rte'] },
        { target: 'sst2', adapters: ['sst2', 'rte'], training: { epochs: 2 }, regularizationTiming: 'adaptertrainer', fusion: { preset: 'static' } },
        { target: 'cola', adapters: ['sst2', 'rte'], training: { seed: 3 } },
      ],
    });
    const [plain, tuned, seeded] = config.fusions;
    expect(plain?.training).toBeInstanceOf(FusionTrainingConfig);
    expect(plain?.fusion).toBeInstanceOf(FusionOptions);
    expect([plain?.training.seed, plain?.training.learningRate, plain?.training.epochs, plain?.regularizationTiming]).toEqual([7, 5e-5, 10, 'same-step']);
    expect([tuned?.training.seed, tuned?.training.epochs, tuned?.regularizationTiming, tuned?.fusion.value]).toEqual([7, 2, 'adaptertrainer', false]);
    expect(seeded?.training.seed).toBe(3);
    expect(validateConfig(ExperimentConfig, { ...BASE, fusions: [{ target: 'rte', adapters: ['sst2', 'rte'] }] }).fusions[0]?.training.seed).toBe(42);
  });

  it('report every schema error of the file at once, each by its dotted path', () => {
    const raw = {
      ...BASE,
      fusions: [
        { target: 'rte', adapters: ['sst2'], fusion: { presett: 'dynamic' } },
        { target: 'RTE', adapters: ['sst2', 'rte'], training: { epochz: 2 }, regularizationTiming: 'later' },
      ],
    };
    let error: unknown;
    try {
      validateConfig(ExperimentConfig, raw, 'experiment.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as ConfigValidationError).problems.map((problem) => problem.path)).toEqual([
      'fusions.0.adapters', 'fusions.0.fusion.presett', 'fusions.1.target', 'fusions.1.regularizationTiming', 'fusions.1.training.epochz',
    ]);
    expect((error as Error).message).toContain('invalid configuration in experiment.yaml:\n  fusions.0.adapters: needs at least 2 adapters, got ["sst2"]');
  });

  it("become the fuse stage's configuration with what the experiment says for every stage", () => {
    const config = validateConfig(ExperimentConfig, { ...BASE, modules: ['./plugin.js'], maxLength: 32, fusions: [{ target: 'rte', adapters: ['sst2', 'rte'], maxExamples: 9 }, { target: 'cola', adapters: ['sst2', 'rte'] }] });
    const [recipe, stray] = config.fusions;
    const stage = fusionStageConfig(config, recipe as (typeof config.fusions)[number], 0, 'experiment.yaml');
    expect(stage).toBeInstanceOf(FusionConfig);
    expect(stage).toMatchObject({ target: 'rte', adapters: ['sst2', 'rte'], dataDir: 'data/RTE', backbone: 'models/tiny', tokenizer: 'models/tiny', maxLength: 64, maxExamples: 9, modules: ['./plugin.js'] });
    expect(() => fusionStageConfig(config, stray as (typeof config.fusions)[number], 1, 'experiment.yaml')).toThrow(
      'experiment.yaml: fusions.1.target: "cola" is not among the tasks (rte, sst2); give the recipe a dataDir',
    );
  });
});

describe('logAttentionEvery and inspect.tokens', () => {
  it('pass from a recipe to the fuse stage and to inspection, and must be positive integers', () => {
    const config = validateConfig(ExperimentConfig, { ...BASE, fusions: [{ target: 'rte', adapters: ['sst2', 'rte'], logAttentionEvery: 2 }], inspect: { tokens: 8 } });
    expect(fusionStageConfig(config, config.fusions[0] as (typeof config.fusions)[number], 0, 'experiment.yaml').logAttentionEvery).toBe(2);
    expect(config.inspect.tokens).toBe(8);
    const bad = () => validateConfig(ExperimentConfig, { ...BASE, fusions: [{ target: 'rte', adapters: ['sst2', 'rte'], logAttentionEvery: 0.5 }], inspect: { tokens: 0 } }, 'experiment.yaml');
    expect(bad).toThrow(ConfigValidationError);
    expect(bad).toThrow(/fusions\.0\.logAttentionEvery[^\n]*0\.5/);
    expect(bad).toThrow(/inspect\.tokens[^\n]*0/);
    expect(() => validateConfig(FusionConfig, { target: 'rte', dataDir: 'd', adapters: ['a', 'b'], logAttentionEvery: 0 })).toThrow(/logAttentionEvery[^\n]*0/);
  });
});

// `adapterfusion fuse` and `adapterfusion inspect` in-process, through the container the CLI builds (built-in tasks
// and the fusion module loaded at run time), on the built-in demo tasks with a tiny random backbone.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { DEMO_WORDS, FusionConfig, type FusionResult } from '../../fusion/index';
import { BottleneckAdapter, createContainer, RunDirectory, runProgram, stageRegistry, validateAdapterConfig, validateConfig } from '../../src/index';
import { SPECIAL_TOKENS, writeTinyBackbone } from '../tiny-bert';

const work = mkdtempSync(join(tmpdir(), 'af-fusion-cli-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runProgram(BUILTIN_MODULES, argv, { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err: err.replace(/^backend .*\n/, '') };
}

function writeConfig(name: string, config: object): string {
  const file = join(work, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe('adapterfusion fuse and inspect', () => {
  const backbone = join(work, 'backbone');
  const base = { target: 'demo-review', dataDir: '.', backbone, maxLength: 16, maxExamples: 24 };

  beforeAll(async () => {
    const config = await writeTinyBackbone(backbone, [...SPECIAL_TOKENS, 'review', ...DEMO_WORDS], 5, { initializerRange: 0.2 });
    // Untrained adapters stand in for extracted ones: the commands, not the learning, are under test here.
    for (const [i, name] of ['sentiment', 'topic'].entries()) await BottleneckAdapter.create(name, validateAdapterConfig({ preset: 'seq_bn' }), { config }, i).save(join(work, name));
  });

  it('trains a fusion from a config file, then reports its attention as a table and files', async () => {
    const config = writeConfig('fuse.json', { ...base, adapters: ['sentiment', 'topic'], training: { epochs: 1, batchSize: 8 } });
    const run = join(work, 'run');
    const fused = await cli('fuse', '--config', config, '--run', run);
    expect(fused.err).toContain('warning: fuse demo-review: batch size 8 (batchSize × gradientAccumulationSteps); fusion training is unstable below 16');
    expect(fused.code).toBe(0);
    expect(fused.out).toMatch(new RegExp(`^demo-review fused in 3 steps: ${join(run, 'fusion', 'demo-review')} \\(accuracy \\d\\.\\d{4}\\)\\n$`));
    const saved = JSON.parse(readFileSync(join(run, 'fusion', 'demo-review', 'adapter_fusion_config.json'), 'utf8'));
    expect(saved).toMatchObject({ name: 'sentiment,topic', adapter_names: ['sentiment', 'topic'], adapter_dirs: ['../../../sentiment', '../../../topic'] });
    expect(existsSync(join(run, 'fusion', 'demo-review', 'head', 'model_head.safetensors'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8'));
    expect(manifest.stages['fuse/demo-review']).toMatchObject({ adapters: ['sentiment', 'topic'], temperature: 1, steps: 3, config: { regularizationTiming: 'same-step', training: { learningRate: 5e-5 } } });
    expect((await cli('fuse', '--config', config, '--run', run)).out).toMatch(/^demo-review already fused: /);

    const out = join(work, 'report');
    const inspected = await cli('inspect', '--run', run, '--target', 'demo-review', '--per-class', '--ablate', '--out', out);
    expect(inspected.code).toBe(0);
    expect(inspected.out).toMatch(/fusion attention for demo-review over dev \(24 examples, \d+ tokens, T=1, accuracy \d\.\d{4}\)\n\s+sentiment\s+topic\nL0 /);
    expect(inspected.out).toContain('[negative]');
    expect(inspected.out).toMatch(/without sentiment: \d\.\d{4}/);
    expect(inspected.out).toContain(`wrote ${join(out, 'demo-review', 'attention.html')}`);
    const report = JSON.parse(readFileSync(join(out, 'demo-review', 'attention.json'), 'utf8'));
    expect(report.all.sites).toHaveLength(2);
    for (const site of report.all.sites) expect(site.mean[0] + site.mean[1]).toBeCloseTo(1, 5);
  });

  it('anneals the temperature as AdapterHub does when asked: every training and every evaluation call lowers it', async () => {
    const config = writeConfig('fuse-adapterhub.json', {
      ...base, adapters: ['sentiment', 'topic'], fusion: { temperature: true, temperatureSchedule: 'adapterhub' }, training: { epochs: 2, batchSize: 8 },
    });
    const run = join(work, 'run-adapterhub');
    expect((await cli('fuse', '--config', config, '--run', run)).code).toBe(0);
    const stage = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).stages['fuse/demo-review'];
    // 2 epochs of 3 training batches, each epoch followed by an evaluation of the 3 dev batches: 12 calls, 50 − 12 · 0.05.
    expect(stage.temperature).toMatchObject({ schedule: 'adapterhub', start: 50, forwardCalls: 12, end: 49.400000000000034 });
    // The kept weights' temperature: step 3 is the 3rd call; step 6 the 9th, after the first evaluation's 3 calls.
    expect(stage.temperature.atBestStep).toBe({ 3: 49.900000000000006, 6: 49.60000000000002 }[stage.bestStep as number]);
    const saved = JSON.parse(readFileSync(join(run, 'fusion', 'demo-review', 'adapter_fusion_config.json'), 'utf8'));
    expect(saved.inference_temperature).toBe(stage.temperature.atBestStep);
  });

  it('reports configuration mistakes with their dotted paths, and missing adapters and fusions by name', async () => {
    const bad = writeConfig('bad.json', { ...base, adapters: ['sentiment'], fusion: { preset: 'dynamik', temprature: true }, training: { learningRate: -1 } });
    const invalid = await cli('fuse', '--config', bad, '--run', join(work, 'bad-run'));
    expect(invalid.code).toBe(1);
    expect(invalid.err).toContain(`invalid configuration in ${bad}:`);
    expect(invalid.err).toContain('  adapters: needs at least 2 adapters, got ["sentiment"]');
    expect(invalid.err).toContain('  fusion.preset: must be one of the following values: dynamic, static, got "dynamik"');
    expect(invalid.err).toMatch(/ {2}fusion\.temprature: unknown key \(expected one of: dropoutProb, key, preset, query, queryBeforeLn, regularization, residualBefore, temperature, temperatureSchedule, value, valueBeforeSoftmax, valueInitialized\)/);
    expect(invalid.err).toContain('  training.learningRate: must not be less than 0, got -1');

    const missing = writeConfig('missing.json', { ...base, adapters: ['sentiment', 'nli'] });
    const notFound = await cli('fuse', '--config', missing, '--run', join(work, 'missing-run'));
    expect(notFound.err).toContain(`error: ${missing}: adapters.1 "nli": expected an adapter directory (with adapter_config.json) or the id of a task extracted in ${join(work, 'missing-run')}`);

    const noRun = await cli('fuse', '--config', writeConfig('norun.json', { ...base, adapters: ['sentiment', 'topic'] }));
    expect(noRun.err).toContain('no run directory: set "run" in the configuration or pass --run <dir>');

    const noFusion = await cli('inspect', '--run', join(work, 'empty-run'), '--target', 'demo-review');
    expect(noFusion).toMatchObject({ code: 1, err: `error: ${join(work, 'empty-run', 'manifest.json')}: no fusion trained for "demo-review" (fused targets: none); run "adapterfusion fuse" first\n` });
    expect(await cli('inspect', '--run', work)).toMatchObject({ code: 2, err: "error: required option '--target <task>' not specified\n(run with --help for usage)\n" });
  });

  it('validates the configuration before it loads any plugin module the configuration names', async () => {
    const marker = join(work, 'plugin-ran');
    writeFileSync(join(work, 'plugin.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default {};\n`);
    const bad = writeConfig('bad-with-modules.json', { ...base, adapters: ['sentiment'], modules: ['./plugin.mjs'] });
    const invalid = await cli('fuse', '--config', bad, '--run', join(work, 'bad-run'));
    expect(invalid.code).toBe(1);
    expect(invalid.err).toContain(`invalid configuration in ${bad}:\n  adapters: needs at least 2 adapters, got ["sentiment"]`);
    expect(existsSync(marker)).toBe(false);

    // A valid configuration loads it (the module exports no feature module, which is the error here).
    const valid = writeConfig('valid-with-modules.json', { ...base, adapters: ['sentiment', 'topic'], modules: ['./plugin.mjs'] });
    expect((await cli('fuse', '--config', valid, '--run', join(work, 'plugin-run'))).err).toContain('plugin module "./plugin.mjs": exports no module');
    expect(existsSync(marker)).toBe(true);
  });

  it('resumes an interrupted fusion to exactly the weights of an uninterrupted one', async () => {
    const stage = stageRegistry(createContainer(BUILTIN_MODULES)).get<FusionConfig, FusionResult>('fuse');
    const config = validateConfig(FusionConfig, {
      ...base,
      adapters: [join(work, 'sentiment'), join(work, 'topic')],
      fusion: { temperature: true, dropoutProb: 0 },
      training: { learningRate: 1e-3, epochs: 2, batchSize: 8, checkpointEverySteps: 2, earlyStoppingPatience: 0 },
    });
    const context = (runDir: string, log: (line: string) => void, resume = false) => ({ run: new RunDirectory(runDir), source: 'test', baseDir: work, log, resume });
    const straight = join(work, 'straight');
    await stage.run(config, context(straight, () => undefined));

    // Interrupted at the first evaluation (step 3), after the step-2 checkpoint.
    const interrupted = join(work, 'interrupted');
    const interrupt = (line: string) => {
      if (line.startsWith('evaluation at step 3')) throw new Error('interrupted');
    };
    await expect(stage.run(config, context(interrupted, interrupt))).rejects.toThrow('interrupted');
    expect(existsSync(join(interrupted, 'fusion', 'demo-review'))).toBe(false);
    const lines: string[] = [];
    await stage.run(config, context(interrupted, (line) => lines.push(line), true));
    expect(lines.some((line) => line.startsWith(`resumed from ${join(interrupted, 'checkpoints', 'fuse-demo-review')} at step 2`))).toBe(true);
    expect(lines.some((line) => line.startsWith('evaluation at step 3'))).toBe(true);

    const weights = (runDir: string) => readFileSync(join(runDir, 'fusion', 'demo-review', 'model_adapter_fusion.safetensors'));
    expect(weights(interrupted).equals(weights(straight))).toBe(true);
    const saved = JSON.parse(readFileSync(join(interrupted, 'fusion', 'demo-review', 'adapter_fusion_config.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(interrupted, 'manifest.json'), 'utf8'));
    // 24 examples in batches of 8: 3 steps per epoch, 6 planned; the schedule goes from 50 to 1 over them.
    expect(manifest.stages['fuse/demo-review'].temperature).toEqual({ schedule: 'linear', start: 50, end: 1, totalSteps: 6, atBestStep: saved.inference_temperature });
    expect([50 - 49 * (3 - 1) / 5, 1]).toContain(saved.inference_temperature);
  });

  it('refuses a tokenizer larger than the backbone\'s vocabulary before training', async () => {
    const big = join(work, 'big-tokenizer');
    mkdirSync(big, { recursive: true });
    writeFileSync(join(big, 'vocab.txt'), `${readFileSync(join(backbone, 'vocab.txt'), 'utf8')}extra\n`);
    const config = writeConfig('fuse-big.json', { ...base, tokenizer: big, adapters: ['sentiment', 'topic'], training: { epochs: 1, batchSize: 8 } });
    const run = join(work, 'run-big');
    const fused = await cli('fuse', '--config', config, '--run', run);
    expect(fused.code).toBe(1);
    expect(fused.err).toContain(`${big}: the tokenizer has ${DEMO_WORDS.length + 7} entries, more than the model's vocab_size ${DEMO_WORDS.length + 6} (${join(backbone, 'config.json')})`);
    expect(existsSync(join(run, 'checkpoints'))).toBe(false);
  });
});

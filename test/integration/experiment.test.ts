// The documented experiment file, with a tiny random backbone (the real BERT vocabulary) in place of bert-base and a
// few examples per task, runs end to end on the real GLUE files; stopped after extraction and run again, it skips
// the finished tasks.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runProgram } from '../../src/cli/program';
import { hasShared, sharedPath } from '../shared-fixtures';
import { writeTinyBackbone } from '../tiny-bert';

const REPO = resolve(__dirname, '..', '..');
const EXAMPLE = resolve(__dirname, '..', '..', 'docs', 'examples', 'glue-experiment.yaml');

/** A tiny backbone over the real BERT vocabulary, with Hugging Face's default dropout and initialisation. */
async function tinyBackbone(dir: string): Promise<void> {
  await writeTinyBackbone(dir, sharedPath('vocab', 'bert-base-uncased', 'vocab.txt'), 1, {
    numAttentionHeads: 2, maxPositionEmbeddings: 64, hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, initializerRange: 0.02,
  });
}

/** The parts of the experiment file the tests change. */
interface Experiment {
  backbone: string;
  maxLength: number;
  tasks: { id: string }[];
  training: object;
  fusions: { target?: string; training?: object; fusion?: object; adapters?: string[] }[];
}

/** The documented experiment in a temporary directory: a tiny backbone, the shared GLUE files, 48 examples, 1 epoch. */
async function quickExperiment(): Promise<{ dir: string; experiment: Experiment }> {
  const dir = mkdtempSync(join(tmpdir(), 'af-experiment-'));
  await tinyBackbone(join(dir, 'models', 'tiny'));
  const experiment = parse(readFileSync(EXAMPLE, 'utf8')) as Experiment;
  experiment.backbone = 'models/tiny';
  experiment.maxLength = 32;
  experiment.tasks = experiment.tasks.map((task) => ({ ...task, dataDir: sharedPath('data', task.id), maxExamples: 48 }));
  experiment.training = { ...experiment.training, epochs: 1, batchSize: 16 };
  return { dir, experiment };
}

describe.skipIf(!hasShared('data', 'rte') || !hasShared('vocab'))('adapterfusion run on the documented experiment', () => {
  it('extracts, fuses and reports on real GLUE files, and skips finished work when run again', async () => {
    const { dir, experiment } = await quickExperiment();
    experiment.fusions = experiment.fusions.map((recipe) => ({ ...recipe, training: { ...recipe.training, epochs: 1, batchSize: 16 } }));
    const file = join(dir, 'experiment.yaml');
    writeFileSync(file, stringify(experiment));

    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (text: string) => out.push(text), err: (text: string) => err.push(text) };
    expect(await runProgram(BUILTIN_MODULES, ['run', file], io), err.join('')).toBe(0);
    const printed = out.join('');
    expect(printed).toMatch(/adapter rte: dev accuracy 0\.\d+/);
    expect(printed).toMatch(/adapter mrpc: dev f1 0\.\d+, accuracy 0\.\d+/);
    expect(printed).toMatch(/adapter sst2: dev accuracy 0\.\d+/);
    expect(printed).toMatch(/fusion rte: dev accuracy 0\.\d+/);
    const report = JSON.parse(readFileSync(join(dir, 'runs', 'glue', 'reports', 'rte', 'attention.json'), 'utf8'));
    expect(report.adapters).toEqual(['sst2', 'mrpc', 'rte']);
    expect(report.perClass.map((entry: { key: string }) => entry.key).sort()).toEqual(['entailment', 'not_entailment']);

    const again: string[] = [];
    expect(await runProgram(BUILTIN_MODULES, ['run', file], { out: (text) => again.push(text), err: () => undefined })).toBe(0);
    expect(again.join('')).toContain('adapter rte: dev accuracy');
    expect(again.join('').match(/\(already done\)/g)).toHaveLength(3);
  });

  it('killed with SIGKILL after its first task, runs again without redoing that task', async () => {
    const { dir, experiment } = await quickExperiment();
    experiment.fusions = [];
    const file = join(dir, 'experiment.yaml');
    writeFileSync(file, stringify(experiment));

    const child = spawn(join(REPO, 'node_modules', '.bin', 'vite-node'), [join(REPO, 'test', 'integration', 'fixtures', 'run-cli.ts'), 'run', file], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exit = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('extract rte: saved')) child.kill('SIGKILL');
    });
    expect(await exit, stderr).toBe('SIGKILL');
    expect(stderr).not.toContain('extract mrpc: saved');

    const err: string[] = [];
    const out: string[] = [];
    expect(await runProgram(BUILTIN_MODULES, ['run', file], { out: (text) => out.push(text), err: (text) => err.push(text) })).toBe(0);
    expect(err.join('')).toContain('extract rte: already done');
    expect(err.join('')).toContain('extract mrpc: saved');
    expect(err.join('')).toContain('extract sst2: saved');
    expect(out.join('')).toMatch(/adapter rte: dev accuracy 0\.\d+ \(already done\)/);
  });

  it("checks every recipe's adapters against the tasks before anything trains", async () => {
    const { dir, experiment } = await quickExperiment();
    experiment.fusions = [...experiment.fusions, { ...experiment.fusions[0], target: 'mrpc', adapters: ['sst2', 'qnli'] }];
    const file = join(dir, 'experiment.yaml');
    writeFileSync(file, stringify(experiment));
    const err: string[] = [];
    expect(await runProgram(BUILTIN_MODULES, ['run', file], { out: () => undefined, err: (text) => err.push(text) })).toBe(1);
    expect(err.join('')).toContain(`error: ${file}: fusions.1: adapters.1 "qnli": expected an adapter directory (with adapter_config.json) or the id of a task extracted in ${join(dir, 'runs', 'glue')}`);
    expect(err.join('')).not.toContain('extract rte');
    expect(existsSync(join(dir, 'runs', 'glue', 'adapters'))).toBe(false);
  });
});

describe('adapterfusion run on a file with mistakes', () => {
  it('reports every schema error of the file at once, each recipe by its dotted path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-experiment-'));
    const experiment = parse(readFileSync(EXAMPLE, 'utf8')) as Experiment;
    const [recipe] = experiment.fusions;
    experiment.fusions = [
      { ...recipe, fusion: { presett: 'dynamic' } },
      { ...recipe, training: { epochz: 2 }, regularizationTiming: 'later' } as Experiment['fusions'][number],
    ];
    const file = join(dir, 'experiment.yaml');
    writeFileSync(file, stringify(experiment));
    const err: string[] = [];
    expect(await runProgram(BUILTIN_MODULES, ['run', file], { out: () => undefined, err: (text) => err.push(text) })).toBe(1);
    expect(err.join('')).toContain(`invalid configuration in ${file}:`);
    expect(err.join('')).toContain('  fusions.0.fusion.presett: unknown key');
    expect(err.join('')).toContain('  fusions.1.training.epochz: unknown key');
    expect(err.join('')).toContain('  fusions.1.regularizationTiming: must be one of the following values: same-step, adaptertrainer, got "later"');
  });
});

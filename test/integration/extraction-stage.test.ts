import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BottleneckAdapter } from '../../src/adapters/bottleneck-adapter';
import { BertModel } from '../../src/backbone/bert-model';
import { ConfigValidationError, validateConfig } from '../../src/config/validate';
import { encodeExamples } from '../../src/data/encode-examples';
import { makeBatches } from '../../src/data/make-batches';
import { readTaskSplit } from '../../src/data/read-task-split';
import { createContainer, taskRegistry } from '../../src/di/container';
import { loadHead } from '../../src/heads/prediction-head';
import { RunDirectory } from '../../src/io/run-directory';
import { ExtractionConfig } from '../../src/pipeline/extraction-config';
import { evaluateTask, ExtractionStage, type ExtractionTaskResult } from '../../src/pipeline/extraction-stage';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer';
import polarityModule, { POLARITY_BERT, PolarityTask, writePolarityBackbone } from './fixtures/polarity-task';

/** A fast recipe for the tiny task: a large learning rate, 6 epochs of 10 steps, a checkpoint every 5 steps. */
const RAW_CONFIG = {
  backbone: 'backbone',
  tasks: [{ id: 'polarity', dataDir: '.' }],
  adapter: { preset: 'seq_bn', reductionFactor: 4 },
  training: { learningRate: 1e-2, epochs: 6, batchSize: 32, earlyStoppingPatience: 0, checkpointEverySteps: 5 },
  maxLength: 16,
  seed: 3,
};

const REPO = resolve(__dirname, '..', '..');
const ADAPTER_COUNT = 2 * (2 * 8 * 32 + 32 + 8); // 2 layers × (2md + d + m), d = 32, m = 8
const HEAD_COUNT = 32 * 32 + 32 + 32 * 2 + 2;

/** Runs the CLI from source in its own process. */
function runCli(args: string[]): { child: ReturnType<typeof spawn>; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(join(REPO, 'node_modules', '.bin', 'vite-node'), [join(REPO, 'test', 'integration', 'fixtures', 'run-cli.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) => child.on('exit', (code, signal) => done({ code, signal, stderr })));
  return { child, exit };
}

describe('ExtractionStage (ST-A)', () => {
  it('validates its config: presets expand, paper defaults apply, errors name the path', () => {
    const config = validateConfig(ExtractionConfig, { backbone: 'b', tasks: [{ id: 'rte', dataDir: 'd' }], adapter: { preset: 'houlsby' } });
    expect(config.adapter).toMatchObject({ mhAdapter: true, nonLinearity: 'swish', reductionFactor: 16 });
    expect(config.training).toMatchObject({ learningRate: 1e-4, batchSize: 32, epochs: 30, earlyStoppingPatience: 3, schedule: 'linear' });
    expect(config).toMatchObject({ mode: 'st-a', maxLength: 128, seed: 42, modules: [] });
    expect(validateConfig(ExtractionConfig, { backbone: 'b', tasks: [{ id: 'rte', dataDir: 'd' }] }).adapter).toMatchObject({ mhAdapter: false, reductionFactor: 16 });
    const bad = { tasks: [{ id: 'RTE', dataDir: 'd' }], adapter: { preset: 'double_seq_bn', reductionFactor: 0 }, training: { batchSize: 0 } };
    expect(() => validateConfig(ExtractionConfig, bad, 'x.yaml')).toThrow(ConfigValidationError);
    expect(() => validateConfig(ExtractionConfig, bad, 'x.yaml')).toThrow(
      /in x\.yaml:\n {2}backbone: must be a string, got nothing\n.*tasks\.0\.id: must be a task id \(lower-case letters, digits, "_" or "-"\), got "RTE"\n.*adapter\.reductionFactor: .*got 0\n.*training\.batchSize: must not be less than 1, got 0/s,
    );
  });

  describe('on a learnable task with a tiny random backbone', () => {
    let root: string;
    let run: RunDirectory;
    let result: ExtractionTaskResult | undefined;
    const lines: string[] = [];
    let leaked = 0;

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'af-extract-'));
      await writePolarityBackbone(join(root, 'backbone'));
      run = new RunDirectory(join(root, 'run'));
      const stage = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, RAW_CONFIG));
      const before = tf.memory().numTensors;
      [result] = await stage.run({ run, baseDir: root, log: (line) => lines.push(line), progress: false });
      leaked = tf.memory().numTensors - before;
    });

    it('trains only adapter + head, to near-perfect dev accuracy, and releases every tensor', async () => {
      expect(result?.metrics.accuracy).toBeGreaterThanOrEqual(0.95);
      const reference = BertModel.random(POLARITY_BERT, 1);
      // 8 adapter tensors (2 layers × down/up weight/bias) + 4 head tensors trained; the 39 backbone tensors frozen.
      expect(lines).toContain(`training 12 tensors / ${ADAPTER_COUNT + HEAD_COUNT} parameters, frozen 39 tensors / ${reference.parameterCount()} parameters`);
      const share = ((100 * ADAPTER_COUNT) / reference.parameterCount()).toFixed(2);
      expect(lines).toContain(`extract polarity: adapter ${ADAPTER_COUNT} parameters (${share}% of the backbone's ${reference.parameterCount()}), head ${HEAD_COUNT}`);
      reference.dispose();
      expect(leaked).toBe(0);
    });

    it('saves adapter and head in AdapterHub layout, metrics and the manifest; the files reproduce the dev score', async () => {
      const manifest = run.readManifest();
      expect(manifest.backboneHash).toMatch(/^[0-9a-f]{64}$/);
      expect(manifest.environment).toMatchObject({ node: process.version });
      const record = manifest.stages['extract/polarity'];
      expect(record?.metrics).toEqual(result?.metrics);
      expect(record).toMatchObject({ seed: 3, adapterParameters: ADAPTER_COUNT, steps: 60, files: { adapter: join('adapters', 'polarity'), head: join('heads', 'polarity') } });
      const evaluations = readFileSync(run.metricsFile('extract', 'polarity'), 'utf8').trim().split('\n').filter((line) => line.includes('eval_accuracy'));
      expect(evaluations).toHaveLength(6);
      for (const file of ['adapters/polarity/adapter_config.json', 'adapters/polarity/adapter.safetensors', 'heads/polarity/head_config.json', 'heads/polarity/model_head.safetensors']) {
        expect(existsSync(join(run.root, file)), file).toBe(true);
      }

      const backbone = await BertModel.fromPretrained(join(root, 'backbone'));
      const adapter = await BottleneckAdapter.load(run.adapterDir('polarity'), backbone);
      const head = await loadHead(run.headDir('polarity'), { hiddenSize: 32 });
      const task = new PolarityTask();
      const dev = encodeExamples(await readTaskSplit(task, 'dev', { dataDir: '.' }), await loadTokenizer(join(root, 'backbone')), task.head, 16);
      const scores = await evaluateTask(makeBatches(dev, { batchSize: 32, shuffle: false, seed: 0 }), task, backbone, adapter, head);
      expect(scores).toEqual(result?.metrics);
      for (const owner of [adapter, head, backbone]) owner.dispose();
    });

    it('skips a task the run directory records as done', async () => {
      const again: string[] = [];
      const stage = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, RAW_CONFIG));
      const [skipped] = await stage.run({ run, baseDir: root, log: (line) => again.push(line) });
      expect(skipped).toMatchObject({ task: 'polarity', skipped: true, metrics: result?.metrics });
      expect(again.some((line) => line.startsWith('extract polarity: already done'))).toBe(true);
    });

    it('refuses task ids outside the config, an unknown task and a run directory made with another backbone', async () => {
      const stage = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, RAW_CONFIG));
      const other = new RunDirectory(join(root, 'other'));
      await expect(stage.run({ run: other, baseDir: root, only: ['rte', 'polarity', 'sst2'] })).rejects.toThrow('tasks rte, sst2: not in the configuration; its tasks are polarity');
      other.updateManifest({ backboneHash: 'f'.repeat(64), backbonePath: 'models/other' });
      await expect(stage.run({ run: other, baseDir: root })).rejects.toThrow(/manifest\.json: this run was made with the backbone models\/other \(sha256 f{64}\), but \S+\/backbone has sha256 [0-9a-f]{64}; use another run directory/);
      const mta = new RunDirectory(join(root, 'mt-a-run'));
      mta.recordStage('mt-a', { config: {} });
      await expect(stage.run({ run: mta, baseDir: root })).rejects.toThrow(`${mta.manifestPath}: expected a run without MT-A results, got stage "mt-a"`);
      const unknown = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, { ...RAW_CONFIG, tasks: [{ id: 'nli', dataDir: '.' }] }));
      await expect(unknown.run({ run: new RunDirectory(join(root, 'run2')), baseDir: root })).rejects.toThrow('unknown task "nli": registered tasks are polarity');
    });

    it('counts a task as done only while its files match the manifest; one with a file gone runs again (resuming its finished checkpoint) to the same bytes', async () => {
      const file = join(run.root, 'adapters', 'polarity', 'adapter.safetensors');
      const saved = readFileSync(file);
      rmSync(file);
      const stage = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, RAW_CONFIG));
      const again: string[] = [];
      // The stage runs again, and finds the checkpoint of its finished training: refused without --resume.
      await expect(stage.run({ run, baseDir: root, log: (line) => again.push(line), progress: false })).rejects.toThrow(
        `${run.checkpointDir('extract', 'polarity')}: holds the checkpoint of an earlier run of this stage (step 60, finished); run again with --resume to continue from it, or with --restart to discard it and start over`,
      );
      expect(again).toContain(`extract/polarity: ${run.manifestPath} records it as done, but ${join('adapters', 'polarity', 'adapter.safetensors')} is missing; running it again`);
      const [redone] = await stage.run({ run, baseDir: root, resume: true, log: () => undefined, progress: false });
      expect(redone).toMatchObject({ skipped: false, metrics: result?.metrics });
      expect(readFileSync(file).equals(saved)).toBe(true);
      writeFileSync(join(run.root, 'heads', 'polarity', 'head_config.json'), '{}');
      const changed: string[] = [];
      await expect(stage.run({ run, baseDir: root, log: (line) => changed.push(line) })).rejects.toThrow('holds the checkpoint');
      expect(changed).toContain(`extract/polarity: ${run.manifestPath} records it as done, but ${join('heads', 'polarity', 'head_config.json')} has changed since (its sha256 differs); running it again`);
      await stage.run({ run, baseDir: root, resume: true, log: () => undefined, progress: false });
    });

    it('refuses to resume a checkpoint over other data or another configuration, naming what differs', async () => {
      const other = new RunDirectory(join(root, 'fingerprint'));
      cpSync(run.checkpointDir('extract', 'polarity'), other.checkpointDir('extract', 'polarity'), { recursive: true });
      const fewer = { ...RAW_CONFIG, tasks: [{ id: 'polarity', dataDir: '.', maxExamples: 20 }] };
      const stage = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, fewer));
      await expect(stage.run({ run: other, baseDir: root, resume: true, log: () => undefined })).rejects.toThrow(
        `${other.checkpointDir('extract', 'polarity')}: was made with other inputs than this run: training data, evaluation data, configuration differ; resume with the same data and configuration, or run with --restart to start over`,
      );
    });

    it('refuses a tokenizer larger than the model\'s vocabulary before training', async () => {
      const big = join(root, 'big-tokenizer');
      mkdirSync(big, { recursive: true });
      writeFileSync(join(big, 'vocab.txt'), `${[...readFileSync(join(root, 'backbone', 'vocab.txt'), 'utf8').trim().split('\n'), 'extra'].join('\n')}\n`);
      const stage = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, { ...RAW_CONFIG, tokenizer: 'big-tokenizer' }));
      const lines: string[] = [];
      await expect(stage.run({ run: new RunDirectory(join(root, 'big')), baseDir: root, log: (line) => lines.push(line) })).rejects.toThrow(
        `${big}: the tokenizer has ${POLARITY_BERT.vocabSize + 1} entries, more than the model's vocab_size ${POLARITY_BERT.vocabSize} (${join(root, 'backbone', 'config.json')}); token ids past it have no embedding: use the tokenizer that belongs to this model`,
      );
      expect(lines.some((line) => line.startsWith('training'))).toBe(false);
    });

    it('adapterfusion extract killed with SIGKILL continues with --resume to the weights of an uninterrupted run', async () => {
      const configFile = join(root, 'extract.json');
      writeFileSync(configFile, JSON.stringify({ ...RAW_CONFIG, modules: [join(REPO, 'test', 'integration', 'fixtures', 'polarity-task.ts')] }));
      const runDir = join(root, 'killed');
      const args = ['extract', '--config', configFile, '--run', runDir, '--backend', 'wasm'];
      const state = join(runDir, 'checkpoints', 'extract-polarity', 'state.json');

      const first = runCli(args);
      let exited = false;
      void first.exit.then(() => (exited = true));
      // Kill as soon as the first checkpoint (step 5 of 60) is on disk.
      while (!exited && !existsSync(state)) await new Promise((wait) => setTimeout(wait, 20));
      first.child.kill('SIGKILL');
      const killed = await first.exit;
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const checkpoint = JSON.parse(readFileSync(state, 'utf8')) as { step: number; finished: boolean };
      expect(checkpoint.finished).toBe(false);
      expect(new RunDirectory(runDir).isDone('extract/polarity')).toBe(false);

      const second = await runCli([...args, '--resume']).exit;
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/resumed from .*extract-polarity at step (\d+)/);
      const resumedAt = Number(/at step (\d+)/.exec(second.stderr)?.[1]);
      expect(resumedAt).toBeGreaterThanOrEqual(5);
      expect(resumedAt).toBeLessThan(60);
      const resumed = new RunDirectory(runDir).readManifest().stages['extract/polarity'];
      expect(resumed?.metrics).toEqual(result?.metrics);
      for (const file of ['adapters/polarity/adapter.safetensors', 'heads/polarity/model_head.safetensors']) {
        expect(readFileSync(join(runDir, file)).equals(readFileSync(join(run.root, file))), file).toBe(true);
      }
    });
  });
});

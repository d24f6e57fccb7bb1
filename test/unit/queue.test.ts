// The queue's pure parts: seeds of an experiment, the flows it is submitted as, the job format check, progress parsing,
// status lines, which errors are never retried, and the lock files that keep two processes off the same work.
import 'reflect-metadata';
import { existsSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentConfig, experimentForSeed, experimentSeeds, seedRunDir, summarizeSeeds } from '../../fusion/index';
import { checkPayload, fileHash, IncompatibleJobError, isPermanent, planExperiment, progressOf, statusLine, type JobPayload } from '../../queue/index';
import { ConfigValidationError, DataError, FileLock, RunDirectory, validateConfig, withFileLockSync } from '../../src/index';

const TASKS = [{ id: 'a', dataDir: '.' }, { id: 'b', dataDir: '.' }, { id: 'c', dataDir: '.' }];
const experiment = (raw: Record<string, unknown>) => validateConfig(ExperimentConfig, { backbone: 'm', tasks: TASKS, ...raw });

describe('experiment seeds', () => {
  it('run each seed in seed-<n>/ (one seed keeps the plain layout), recipes following the seed unless they set one', () => {
    const config = experiment({ seeds: [7, 8], fusions: [{ target: 'a', adapters: ['a', 'b'] }, { target: 'b', adapters: ['a', 'b'], training: { seed: 3 } }] });
    expect(experimentSeeds(config)).toEqual([7, 8]);
    expect(seedRunDir(config, '/r', 8)).toBe(join('/r', 'seed-8'));
    expect(seedRunDir(experiment({}), '/r', 42)).toBe('/r');
    const eight = experimentForSeed(config, 8);
    expect([eight.seed, eight.fusions[0]?.training.seed, eight.fusions[1]?.training.seed]).toEqual([8, 8, 3]);
    expect(config.fusions[0]?.training.seed).toBe(42); // the original is left as it was
    expect(() => experiment({ seeds: [1, 1] })).toThrow(ConfigValidationError);
  });

  it('summarize each dev metric by seed with mean and sample standard deviation', () => {
    const root = mkdtempSync(join(tmpdir(), 'af-seeds-'));
    const config = experiment({ seeds: [1, 2] });
    new RunDirectory(join(root, 'seed-1')).recordStage('extract/a', { config: {}, metrics: { accuracy: 0.5 } });
    new RunDirectory(join(root, 'seed-2')).recordStage('extract/a', { config: {}, metrics: { accuracy: 0.7 } });
    const [summary] = summarizeSeeds(config, root);
    expect(summary?.values).toEqual([{ seed: 1, value: 0.5 }, { seed: 2, value: 0.7 }]);
    expect(summary?.mean).toBeCloseTo(0.6, 12);
    expect(summary?.std).toBeCloseTo(Math.sqrt(0.02), 12);
  });
});

describe('planExperiment', () => {
  it('makes per seed an inspect job over fuse jobs over the extractions they fuse; shared adapters are waited for', () => {
    const config = experiment({ seeds: [1, 2], fusions: [{ target: 'a', adapters: ['a', 'b'] }, { target: 'b', adapters: ['b', 'c'] }] });
    const flows = planExperiment(config, '/x/e.yaml', 'h', '/r', 'sub');
    expect(flows).toHaveLength(2);
    const [inspect] = flows;
    const id = (job: { opts?: { jobId?: string } }) => job.opts?.jobId?.split('.').slice(2).join('.');
    expect(id(inspect as never)).toBe('s1.inspect.report');
    expect((inspect?.data as JobPayload).targets).toEqual(['a', 'b']);
    const [first, second] = inspect?.children ?? [];
    expect(first?.children?.map(id)).toEqual(['s1.extract.a', 's1.extract.b']);
    expect(second?.children?.map(id)).toEqual(['s1.extract.c']);
    expect((second?.data as JobPayload).waitsFor).toEqual(['extract/b']);
    expect((first?.children?.[0]?.data as JobPayload)).toMatchObject({ format: 1, seed: 1, seedDir: join('/r', 'seed-1'), tasks: ['a'], experiment: '/x/e.yaml' });
  });

  it('submits extractions no fusion uses on their own, and MT-A as one job', () => {
    expect(planExperiment(experiment({}), '/e', 'h', '/r', 's').map((flow) => flow.opts?.jobId?.split('.').slice(2).join('.'))).toEqual(['s42.extract.a', 's42.extract.b', 's42.extract.c']);
    const mta = planExperiment(experiment({ mode: 'mt-a', fusions: [{ target: 'a', adapters: ['a', 'b'] }] }), '/e', 'h', '/r', 's');
    expect(mta[0]?.children?.[0]?.children?.map((job) => (job.data as JobPayload).tasks)).toEqual([['a', 'b', 'c']]);
  });
});

describe('jobs', () => {
  it('are refused, with the reason, when of another format or when the experiment file changed', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'af-job-')), 'e.yaml');
    writeFileSync(file, 'tasks: []\n');
    const payload = { format: 1, experiment: file, experimentHash: fileHash(file), runDir: '/r', seed: 1, seedDir: '/r' };
    expect(checkPayload('j', payload)).toEqual(payload);
    expect(() => checkPayload('j', { ...payload, format: 2 })).toThrow('job j: job format 2, but this worker runs format 1');
    writeFileSync(file, 'tasks: [x]\n');
    expect(() => checkPayload('j', payload)).toThrow(`job j: ${file} has changed since it was submitted`);
    expect(() => checkPayload('j', payload)).toThrow(IncompatibleJobError);
  });

  it('fail at once for bad data or configuration, and are retried for anything else', () => {
    expect(isPermanent(new DataError('f.tsv', 3, 'label', 'expected 0 or 1'))).toBe(true);
    expect(isPermanent(new ConfigValidationError([{ path: 'seed', message: 'expected an integer' }], 'e.yaml'))).toBe(true);
    expect(isPermanent(new Error('ENOSPC'))).toBe(false);
  });

  it("report progress read from the trainer's lines, shown as a status line", () => {
    const step = progressOf('step 3/12 epoch 0.38: loss 0.6931, learning rate 1.00e-2, grad norm 0.412, 300.0 examples/s, ETA 2s', undefined);
    expect(step).toEqual({ step: 3, totalSteps: 12, eta: '2s' });
    const evaluated = progressOf('evaluation at step 4 (epoch 0.50): accuracy 0.6094, f1 0.5; new best', step);
    expect(evaluated).toEqual({ step: 4, totalSteps: 12, eta: '2s', metric: 'accuracy 0.6094' });
    expect(progressOf('extract a: saved adapter and head', evaluated)).toBeUndefined();
    expect(statusLine('e.s.s1.extract.a', 'active', evaluated)).toBe(`${'e.s.s1.extract.a'.padEnd(44)} active           [#######-------------]  33%  step 4/12  accuracy 0.6094  ETA 2s`);
    expect(statusLine('j', 'failed', undefined, 'DataError: f.tsv')).toContain('[--------------------]   0%  DataError: f.tsv');
  });
});

describe('lock files', () => {
  it('keep a second holder waiting until the first releases', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'af-lock-')), 'locks', 'job.lock');
    const first = await FileLock.acquire(path, 'first');
    let waitedFor: string | undefined;
    let second: FileLock | undefined;
    const pending = FileLock.acquire(path, 'second', { pollMs: 10, onWait: (holder) => (waitedFor = holder?.purpose) }).then((lock) => (second = lock));
    await new Promise((done) => setTimeout(done, 80));
    expect(second).toBeUndefined();
    expect(waitedFor).toBe('first');
    first.release();
    await pending;
    expect(existsSync(path)).toBe(true);
    second?.release();
    expect(existsSync(path)).toBe(false);
  });

  it("are taken over when their holder stopped refreshing them, and name a live holder when they time out", () => {
    const path = join(mkdtempSync(join(tmpdir(), 'af-lock-')), 'manifest.json.lock');
    writeFileSync(path, JSON.stringify({ host: 'h', pid: 1, purpose: 'manifest' }));
    expect(() => withFileLockSync(path, 'me', () => 1, { timeoutMs: 100 })).toThrow(`${path}: still locked after 0.1 s by h pid 1 (manifest)`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expect(withFileLockSync(path, 'me', () => 2)).toBe(2);
    expect(existsSync(path)).toBe(false);
  });
});

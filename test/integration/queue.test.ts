// Experiments over workers through BullMQ: three tasks × two seeds and a fusion on three worker processes, one killed
// (kill -9) in the middle of a job, must finish with the files a local `run` writes, byte for byte. Needs a Redis on
// 127.0.0.1 (port ADAPTERFUSION_TEST_REDIS_PORT, default 6391: .ci/run starts one) and a built dist/.
import { Queue } from 'bullmq';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { buildDemoBackbone } from '../../fusion/index';
import { QUEUE_NAME } from '../../queue/index';
import { createContainer, lockHolder } from '../../src/index';

const REPO = resolve(__dirname, '..', '..');
const CLI = join(REPO, 'dist', 'bin', 'adapterfusion.js');
const PORT = Number(process.env.ADAPTERFUSION_TEST_REDIS_PORT ?? 6391);
const URL = `redis://127.0.0.1:${PORT}/9`;

/** True when Redis answers PING (asked from a child process: the suite decides to skip while it is collected). */
function redisAnswers(): boolean {
  const probe = `const s = require('node:net').connect(${PORT}, '127.0.0.1', () => s.write('PING\\r\\n'));
    s.setTimeout(1000, () => process.exit(1)); s.on('error', () => process.exit(1));
    s.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1));`;
  const answered = spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
  if (!answered) console.warn(`SKIPPED: the queue tests need Redis on 127.0.0.1:${PORT} (redis-server --port ${PORT}; .ci/run starts one)`);
  return answered;
}

const TASKS = ['demo-sentiment', 'demo-topic', 'demo-filler'];
const TRAINING = 'learningRate: 1.0e-2, epochs: 10, maxSteps: 60, batchSize: 8, evaluateEverySteps: 20, checkpointEverySteps: 2, logEverySteps: 1';
const EXPERIMENT = `backbone: base-model
tasks: [${TASKS.map((id) => `{ id: ${id}, dataDir: ., maxExamples: 64 }`).join(', ')}]
maxLength: 16
seeds: [7, 8]
adapter: { preset: seq_bn, reductionFactor: 4 }
training: { ${TRAINING} }
fusions: [{ target: demo-filler, adapters: [${TASKS.join(', ')}], training: { learningRate: 3.0e-3, epochs: 1, maxSteps: 6, batchSize: 8, logEverySteps: 1 } }]
`;

/** Every file of a run directory but the bookkeeping that differs by nature (manifest times, logs with speeds, checkpoints, locks). */
function resultFiles(root: string): string[] {
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]));
  return walk(root).map((file) => relative(root, file)).filter((file) => !/(^|\/)(manifest\.json|metrics\/.*|checkpoints\/.*|locks\/.*)$/.test(file)).sort();
}

function cli(args: string[], cwd: string): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, exit: new Promise((done) => child.on('exit', (code) => done(code))) };
}

const until = async (condition: () => boolean | Promise<boolean>, what: string, seconds: number, pollMs = 100) => {
  const deadline = Date.now() + seconds * 1000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((done) => setTimeout(done, pollMs));
  }
};

describe.skipIf(!redisAnswers())('adapterfusion run --queue with workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'af-queue-'));
  const workers: ReturnType<typeof cli>[] = [];
  let queue: Queue;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    queue = new Queue(QUEUE_NAME, { connection: { url: URL, maxRetriesPerRequest: null } });
    await queue.obliterate({ force: true });
    writeFileSync(join(dir, 'experiment.yaml'), EXPERIMENT);
    await buildDemoBackbone(createContainer(BUILTIN_MODULES), join(dir, 'base-model'), TASKS.map((id) => ({ id, dataDir: '.' })), 7);
  });

  afterAll(async () => {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await queue?.obliterate({ force: true });
    await queue?.close();
  });

  it('finishes despite a worker killed mid-job, with the files of a local run', async () => {
    const local = cli(['run', 'experiment.yaml', '--run', 'local'], dir);
    expect(await local.exit, local.output()).toBe(0);
    expect(local.output()).toMatch(/fuse\/demo-filler accuracy: seed 7 \d\.\d{4}, seed 8 \d\.\d{4}; mean \d\.\d{4} ± \d\.\d{4}/);

    const submit = cli(['run', 'experiment.yaml', '--run', 'queued', '--queue', URL], dir);
    expect(await submit.exit, submit.output()).toBe(0);
    expect(submit.output()).toContain('queued 10 jobs of');
    for (let i = 0; i < 3; i += 1) workers.push(cli(['worker', '--queue', URL, '--stalled-after', '2'], dir));
    // Kill (kill -9) the worker of the first extraction seen with a checkpoint but not finished: its job process holds
    // the job's lock file, which names it; its parent is the worker.
    let victim: { worker: ReturnType<typeof cli>; job: string } | undefined;
    await until(() => {
      for (const seed of ['seed-7', 'seed-8']) {
        for (const task of TASKS) {
          const lock = lockHolder(join(dir, 'queued', seed, 'locks', `extract-${task}.lock`));
          if (!lock || !existsSync(join(dir, 'queued', seed, 'checkpoints', `extract-${task}`, 'state.json'))) continue;
          const parent = Number(readFileSync(`/proc/${lock.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
          const worker = workers.find((candidate) => candidate.child.pid === parent);
          if (!worker) continue;
          worker.child.kill('SIGKILL');
          victim = { worker, job: lock.purpose };
          return true;
        }
      }
      return false;
    }, 'a worker in the middle of an extraction', 120, 10);
    await until(async () => (await queue.getJobCounts('completed')).completed === 10, 'every job to complete', 240);
    expect(await queue.getJobCounts('failed')).toEqual({ failed: 0 });
    // The killed job went back to the queue and another worker went on from its checkpoint.
    const others = workers.filter((worker) => worker !== victim?.worker).map((worker) => worker.output()).join('\n');
    expect(others).toMatch(new RegExp(`${victim?.job.replace(/\./g, '\\.')}: resumed from .* at step [1-9]`));

    const files = resultFiles(join(dir, 'local'));
    expect(files).toContain(join('seed-8', 'fusion', 'demo-filler', 'model_adapter_fusion.safetensors'));
    expect(files).toContain('seeds.json');
    expect(resultFiles(join(dir, 'queued'))).toEqual(files);
    for (const file of files) expect(readFileSync(join(dir, 'queued', file)).equals(readFileSync(join(dir, 'local', file))), file).toBe(true);
    for (const seed of ['seed-7', 'seed-8']) {
      const stages = (root: string) => JSON.parse(readFileSync(join(dir, root, seed, 'manifest.json'), 'utf8')).stages as Record<string, { metrics: unknown }>;
      const [queued, localStages] = [stages('queued'), stages('local')];
      expect(Object.keys(queued).sort()).toEqual(Object.keys(localStages).sort());
      for (const key of Object.keys(localStages)) expect(queued[key]?.metrics, key).toEqual(localStages[key]?.metrics);
    }

    const status = cli(['queue', 'status', '--queue', URL, '--run', join(dir, 'queued')], dir);
    expect(await status.exit).toBe(0);
    expect(status.output()).toMatch(/\.s7\.fuse\.0-demo-filler +completed +\[#{20}\] 100%/);
    expect(status.output()).toContain('dev metrics over seeds 7, 8');
  }, 400_000);

  it('fails a job with bad data once, with its named error, and runs the unrelated ones', async () => {
    mkdirSync(join(dir, 'rte-bad'));
    for (const split of ['train', 'dev']) writeFileSync(join(dir, 'rte-bad', `${split}.tsv`), 'index\tsentence1\tsentence2\tlabel\n0\tgood words\tfiller words\tmaybe\n');
    writeFileSync(join(dir, 'bad.yaml'), `backbone: base-model\nrun: bad\ntasks: [{ id: rte, dataDir: rte-bad }, { id: demo-topic, dataDir: ., maxExamples: 16 }]\nmaxLength: 16\ntraining: { epochs: 1, batchSize: 8 }\n`);
    const submit = cli(['run', 'bad.yaml', '--queue', URL], dir);
    expect(await submit.exit, submit.output()).toBe(0);
    const jobs = async () => (await queue.getJobs(['completed', 'failed'])).filter((job) => (job.data as { runDir: string }).runDir === join(dir, 'bad'));
    await until(async () => (await jobs()).length === 2, 'both jobs to settle', 120);
    const [rte, topic] = ['rte', 'demo-topic'].map(async (task) => (await jobs()).find((job) => job.name === 'extract' && (job.data as { tasks: string[] }).tasks[0] === task));
    const failed = await rte;
    expect(await failed?.getState()).toBe('failed');
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/^DataError: .*rte-bad\/train\.tsv.*label.*expected one of "entailment", "not_entailment", got "maybe"/);
    expect(await (await topic)?.getState()).toBe('completed');
  }, 200_000);
});

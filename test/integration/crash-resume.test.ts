// `extract`, `fuse` and `run` killed at seeded random points resume to byte-identical results. A kill is simulated in
// process at the k-th change the command makes to the disk (a write, rename, removal, append or new directory): that
// write is torn (a random prefix of it lands), and from then on nothing more reaches the disk, as after kill -9. Every
// such point is a place a real kill can hit, including between a checkpoint's weight files and its state.json.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/** The simulated kill: after `at` disk changes, tear the change and refuse every later one. */
const disk = vi.hoisted(() => ({ count: 0, at: Infinity, killed: false, tornBytes: 0 }));

class Killed extends Error {
  override name = 'Killed';
}

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const change = <A extends unknown[], R>(original: (...args: A) => R, tear?: (...args: A) => void) => (...args: A): R => {
    if (disk.killed) throw new Killed('the process was killed');
    disk.count += 1;
    if (disk.count >= disk.at) {
      disk.killed = true;
      tear?.(...args);
      throw new Killed(`killed at disk change ${disk.count}`);
    }
    return original(...args);
  };
  const tornWrite = (path: unknown, data: unknown): void => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data as Uint8Array);
    real.writeFileSync(path as string, bytes.subarray(0, Math.min(bytes.length, disk.tornBytes)));
  };
  return {
    ...real,
    writeFileSync: change(real.writeFileSync, tornWrite as typeof real.writeFileSync),
    appendFileSync: change(real.appendFileSync, tornWrite as typeof real.appendFileSync),
    renameSync: change(real.renameSync),
    rmSync: change(real.rmSync),
    unlinkSync: change(real.unlinkSync),
    mkdirSync: change(real.mkdirSync),
  };
});

type Index = typeof import('../../src/index');
let runProgram: Index['runProgram'];
let modules: (typeof import('../../bin/adapterfusion'))['BUILTIN_MODULES'];
const work = mkdtempSync(join(tmpdir(), 'af-crash-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command in process; `killAt` is the disk change the kill hits. */
async function cli(args: string[], killAt = Infinity): Promise<{ code: number; err: string; changes: number; killed: boolean }> {
  Object.assign(disk, { count: 0, at: killAt, killed: false });
  let err = '';
  const code = await runProgram(modules, args, { out: () => undefined, err: (text) => (err += text) });
  const result = { code, err, changes: disk.count, killed: disk.killed };
  Object.assign(disk, { at: Infinity, killed: false });
  return result;
}

/** Seeded choices (a small LCG: the test's own, so the kill points do not depend on the library's generator). */
let seed = 20261208;
const below = (n: number): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed % n;
};

/** Every file under `dir` by relative path, except the logs and the manifest, which hold timings. */
function files(dir: string, under = dir): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of readdirSync(under, { withFileTypes: true })) {
    const path = join(under, entry.name);
    if (entry.isDirectory()) for (const [name, bytes] of files(dir, path)) out.set(name, bytes);
    else if (!['manifest.json', 'attention.html'].includes(entry.name) && !relative(dir, path).startsWith('metrics')) out.set(relative(dir, path), readFileSync(path));
  }
  return out;
}

function expectSameFiles(dir: string, expected: Map<string, Buffer>, subdirs: readonly string[], what: string): void {
  const actual = files(dir);
  const keep = (name: string) => subdirs.some((subdir) => name.startsWith(subdir));
  expect([...actual.keys()].filter(keep).sort(), what).toEqual([...expected.keys()].filter(keep).sort());
  for (const [name, bytes] of expected) if (keep(name)) expect(actual.get(name)?.equals(bytes), `${what}: ${name}`).toBe(true);
}

const training = { learningRate: 1e-2, epochs: 2, batchSize: 8, checkpointEverySteps: 1, earlyStoppingPatience: 0 };
const tasks = [{ id: 'demo-sentiment', dataDir: '.', maxExamples: 24 }, { id: 'demo-review', dataDir: '.', maxExamples: 24 }];
const recipe = { target: 'demo-review', adapters: ['demo-sentiment', 'demo-review'], training: { ...training, learningRate: 1e-3 } };
const common = { backbone: 'backbone', tasks, adapter: { preset: 'seq_bn', reductionFactor: 8 }, training, maxLength: 16, seed: 3 };

describe('killed at seeded random points, every command resumes to byte-identical results', () => {
  let baseline: Map<string, Buffer>;
  let runChanges: number;

  beforeAll(async () => {
    // The setup file loaded the sources with the real node:fs; load them again to see the mock.
    vi.resetModules();
    ({ runProgram } = (await import(join(__dirname, '..', '..', 'src', 'index.ts'))) as Index);
    ({ BUILTIN_MODULES: modules } = (await import(join(__dirname, '..', '..', 'bin', 'adapterfusion.ts'))) as typeof import('../../bin/adapterfusion'));
    const { DEMO_WORDS } = (await import(join(__dirname, '..', '..', 'fusion', 'index.ts'))) as typeof import('../../fusion/index');
    const { SPECIAL_TOKENS, writeTinyBackbone } = (await import(join(__dirname, '..', 'tiny-bert.ts'))) as typeof import('../tiny-bert');
    await writeTinyBackbone(join(work, 'backbone'), [...SPECIAL_TOKENS, 'review', ...DEMO_WORDS], 5, { hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, initializerRange: 0.2 });
    writeFileSync(join(work, 'experiment.json'), JSON.stringify({ ...common, run: 'runs/x', fusions: [recipe] }));
    writeFileSync(join(work, 'extract.json'), JSON.stringify(common));
    writeFileSync(join(work, 'fuse.json'), JSON.stringify({ ...recipe, dataDir: '.', backbone: 'backbone', tokenizer: 'backbone', maxLength: 16, training: { seed: 3, ...recipe.training } }));
    const straight = await cli(['run', join(work, 'experiment.json'), '--run', join(work, 'straight')]);
    expect(straight.code, straight.err).toBe(0);
    runChanges = straight.changes;
    baseline = files(join(work, 'straight'));
    expect([...baseline.keys()].filter((name) => name.endsWith('.safetensors') && !name.startsWith('checkpoints')).length).toBe(6); // 2 adapters, 2 heads, the fusion and its head
  });

  /** Kills `args` at a seeded point among `changes`, resumes, and returns the run directory. */
  async function killAndResume(args: string[], runDir: string, changes: number): Promise<string> {
    const killAt = 1 + below(changes);
    disk.tornBytes = below(4096);
    const killed = await cli([...args, '--run', runDir], killAt);
    expect(killed.killed, `kill at change ${killAt} of ${changes}`).toBe(true);
    expect(killed.code).toBe(1);
    const resumed = await cli([...args, '--run', runDir, '--resume']);
    expect(resumed.code, `resume after a kill at change ${killAt} of ${changes}: ${resumed.err}`).toBe(0);
    return `kill at change ${killAt} of ${changes}`;
  }

  it('run', async () => {
    for (let i = 0; i < 2; i++) {
      const dir = join(work, `run-${i}`);
      const what = await killAndResume(['run', join(work, 'experiment.json')], dir, runChanges);
      expectSameFiles(dir, baseline, ['adapters', 'heads', 'fusion', 'reports'], what);
    }
  });

  it('extract, then fuse', async () => {
    const dir = join(work, 'stages');
    const extract = ['extract', '--config', join(work, 'extract.json')];
    // An uninterrupted extraction and fusion: what the killed ones must end with, and how many disk changes they make.
    const probe = await cli([...extract, '--run', join(work, 'probe')]);
    expect(probe.code, probe.err).toBe(0);
    expectSameFiles(join(work, 'probe'), baseline, ['adapters', 'heads'], 'extract as run does');
    const what = await killAndResume(extract, dir, probe.changes);
    expectSameFiles(dir, files(join(work, 'probe')), ['adapters', 'heads'], what);

    const fuse = ['fuse', '--config', join(work, 'fuse.json')];
    const fused = await cli([...fuse, '--run', join(work, 'probe')]);
    expect(fused.code, fused.err).toBe(0);
    for (let i = 0; i < 2; i++) {
      const copy = join(work, `fuse-${i}`);
      cpSync(dir, copy, { recursive: true });
      const fuseWhat = await killAndResume(fuse, copy, fused.changes);
      expectSameFiles(copy, files(join(work, 'probe')), ['fusion'], fuseWhat);
    }
  });

  it('leaves no temporary file where a resumed command wrote', () => {
    const leftovers = [...files(work).keys()].filter((name) => name.includes('.tmp-') && !name.startsWith('probe'));
    expect(leftovers).toEqual([]);
  });
});

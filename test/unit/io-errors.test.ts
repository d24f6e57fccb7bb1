// Every I/O failure names the path and the operation and says what to do: a full disk during a checkpoint write, a
// read-only file system, a configuration that is a folder, an empty or malformed manifest or checkpoint state. Disk
// faults are injected through node:fs, since a test cannot fill a disk or make one read-only.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

type Index = typeof import('../../src/index');
let readConfigFile: Index['readConfigFile'];
let validateConfig: Index['validateConfig'];
let writeFileAtomic: Index['writeFileAtomic'];
let FileError: Index['FileError'];
let readFileBounded: Index['readFileBounded'];
let readJsonFile: Index['readJsonFile'];
let RunDirectory: Index['RunDirectory'];
let Trainer: Index['Trainer'];
let TrainingConfig: Index['TrainingConfig'];

// The setup file has loaded the sources with the real node:fs; they are loaded again to see the mock.
beforeAll(async () => {
  vi.resetModules();
  const index = join(__dirname, '..', '..', 'src', 'index.ts');
  ({ readConfigFile, validateConfig, writeFileAtomic, FileError, readFileBounded, readJsonFile, RunDirectory, Trainer, TrainingConfig } = (await import(index)) as Index);
});

/** The system error the next matching write or directory creation fails with. */
const fault = vi.hoisted(() => ({ code: '', match: '' }));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const failing = <A extends unknown[], R>(call: string, original: (...args: A) => R) => (...args: A): R => {
    if (fault.code !== '' && String(args[0]).includes(fault.match)) {
      throw Object.assign(new Error(`${fault.code}: simulated, ${call} '${String(args[0])}'`), { code: fault.code });
    }
    return original(...args);
  };
  return { ...real, writeFileSync: failing('open', real.writeFileSync), mkdirSync: failing('mkdir', real.mkdirSync) };
});

afterEach(() => Object.assign(fault, { code: '', match: '' }));

const dir = mkdtempSync(join(tmpdir(), 'io-errors-'));

describe('writes', () => {
  it('a full disk: names the file and says to free space and resume; no temporary file is left', () => {
    Object.assign(fault, { code: 'ENOSPC', match: 'out.json' });
    const target = join(dir, 'full', 'out.json');
    mkdirSync(join(dir, 'full'));
    const error = (() => {
      try {
        writeFileAtomic(target, '{}');
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(FileError);
    expect((error as Error).message).toBe(
      `${target}: cannot write: no space left on the device; free some space and run the command again (with --resume to continue from the last checkpoint, which is intact)`,
    );
    expect(readdirSync(join(dir, 'full'))).toEqual([]);
  });

  it('a read-only file system: names the directory and says to choose a writable one', () => {
    Object.assign(fault, { code: 'EROFS', match: 'readonly' });
    const run = new RunDirectory(join(dir, 'readonly', 'run'));
    expect(() => run.updateManifest({ backbonePath: 'b' })).toThrow(
      `${join(dir, 'readonly', 'run')}: cannot create the directory: the file system is read-only; choose a writable location (for a run directory: --run <dir>)`,
    );
  });

  it('a full disk during a checkpoint write leaves the previous checkpoint, from which training resumes', async () => {
    const checkpoint = join(dir, 'train', 'checkpoint');
    const make = () => {
      const w = tf.variable(tf.scalar(3));
      const trainer = new Trainer<number>({
        config: validateConfig(TrainingConfig, { learningRate: 0.1, epochs: 6, schedule: 'constant', checkpointEverySteps: 2 }),
        trainable: new Map([['w', w]]),
        frozen: new Map(),
        loss: () => tf.square(w),
        checkpointDir: checkpoint,
        log: () => undefined,
        progress: false,
      });
      return { trainer, w };
    };
    const first = make();
    const fit = first.trainer.fit((epoch) => {
      if (epoch === 3) Object.assign(fault, { code: 'ENOSPC', match: 'trainable-4' });
      return [0];
    });
    await expect(fit).rejects.toThrow(`${join(checkpoint, 'trainable-4.safetensors')}: cannot write: no space left on the device`);
    first.trainer.dispose();
    first.w.dispose();
    Object.assign(fault, { code: '', match: '' });
    expect(JSON.parse(readFileSync(join(checkpoint, 'state.json'), 'utf8')).step).toBe(2);
    expect(readdirSync(checkpoint).filter((name) => name.includes('.tmp-'))).toEqual([]);
    const second = make();
    expect((await second.trainer.fit(() => [0], { resume: true })).steps).toBe(6);
    second.trainer.dispose();
    second.w.dispose();
  });
});

describe('reads', () => {
  it('a configuration that is a folder, a missing one, and one too large', () => {
    const folder = join(dir, 'config.yaml');
    mkdirSync(folder);
    expect(() => readConfigFile(folder)).toThrow(`${folder}: cannot read: it is a directory; expected a file`);
    expect(() => readConfigFile(join(dir, 'absent.json'))).toThrow(`${join(dir, 'absent.json')}: cannot read: it does not exist (check the path)`);
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(100));
    expect(() => readFileBounded(join(dir, 'big.bin'), 64)).toThrow(`${join(dir, 'big.bin')}: cannot read: it has 100 bytes, more than the 64 a file of this kind may have`);
    expect(() => readFileBounded('/dev/zero', 64)).toThrow('/dev/zero: cannot read: it is not a regular file');
  });

  it('an empty or malformed manifest names the file and what to do', () => {
    const run = new RunDirectory(join(dir, 'manifests'));
    mkdirSync(run.root);
    writeFileSync(run.manifestPath, '');
    expect(() => run.isDone('extract/rte')).toThrow(`${run.manifestPath}: cannot parse as JSON: the file is empty; expected a run manifest (restore it, or use another run directory)`);
    for (const content of ['null', '{"formatVersion": 1}', '{"formatVersion": 1, "stages": {"extract/rte": 3}}']) {
      writeFileSync(run.manifestPath, content);
      expect(() => run.isDone('extract/rte'), content).toThrow(`${run.manifestPath}: cannot read the run manifest: expected {"formatVersion": 1, "stages": {...}} with an object per stage, got ${content.replace(/\s/g, '')}; restore it, or use another run directory`);
    }
    writeFileSync(run.manifestPath, '{"formatVersion": 1, "stag');
    expect(() => run.readManifest()).toThrow(`${run.manifestPath}: cannot parse as JSON: `);
  });

  it('an empty or malformed checkpoint state names the file and says to restart', async () => {
    const checkpoint = join(dir, 'state', 'checkpoint');
    mkdirSync(checkpoint, { recursive: true });
    const w = tf.variable(tf.scalar(1));
    const trainer = () =>
      new Trainer<number>({ config: validateConfig(TrainingConfig, {}), trainable: new Map([['w', w]]), frozen: new Map(), loss: () => tf.square(w), checkpointDir: checkpoint, log: () => undefined });
    const state = join(checkpoint, 'state.json');
    writeFileSync(state, '');
    await expect(trainer().fit(() => [0], { resume: true })).rejects.toThrow(`${state}: cannot parse as JSON: the file is empty; expected the state of a training checkpoint (run with --restart to start over)`);
    writeFileSync(state, JSON.stringify({ formatVersion: 1, step: 2, totalSteps: 4, epoch: 0, position: 0, epochs: 0, randomState: 1, badEvaluations: 0, history: [], finished: false, stoppedEarly: false, config: {}, files: { trainable: '../../escape.safetensors', optimizer: 'optimizer-2.safetensors' } }));
    await expect(trainer().fit(() => [0], { resume: true })).rejects.toThrow(
      `${state}: expected "files" to name the checkpoint's .safetensors files in its directory, got {"trainable":"../../escape.safetensors","optimizer":"optimizer-2.safetensors"}; the checkpoint is damaged: run with --restart to start over`,
    );
    // --restart discards even a damaged checkpoint.
    const restarted = trainer();
    expect((await restarted.fit(() => [0], { restart: true })).steps).toBe(30);
    restarted.dispose();
    w.dispose();
  });

  it('JSON files name themselves and the kind of content expected', () => {
    writeFileSync(join(dir, 'bad.json'), '{"a": }');
    expect(() => readJsonFile(join(dir, 'bad.json'), 'an adapter configuration')).toThrow(new RegExp(`^${join(dir, 'bad.json')}: cannot parse as JSON: .*; expected an adapter configuration$`));
    writeFileSync(join(dir, 'latin1.json'), Buffer.from([0x7b, 0x22, 0xe8, 0x22, 0x3a, 0x31, 0x7d]));
    expect(() => readJsonFile(join(dir, 'latin1.json'))).toThrow(`${join(dir, 'latin1.json')}: cannot read: line 1: invalid UTF-8 at byte offset 2 (byte 0xE8)`);
  });
});

// `evaluate` and `predict` on a run made by `extract`: the scores match what extraction recorded, and predictions
// go to a file.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runProgram } from '../../src/cli/program';
import { POLARITY_BERT, writePolarityBackbone } from './fixtures/polarity-task';

const PLUGIN = resolve(__dirname, 'fixtures', 'polarity-task.ts');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runProgram(BUILTIN_MODULES, args, { out: (text) => out.push(text), err: (text) => err.push(text) });
  return { code, out: out.join(''), err: err.join('') };
}

describe('adapterfusion evaluate and predict', () => {
  let root: string;
  let recorded: Record<string, number>;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'af-evaluate-'));
    await writePolarityBackbone(join(root, 'backbone'));
    const config = {
      backbone: 'backbone',
      tasks: [{ id: 'polarity', dataDir: '.' }],
      adapter: { preset: 'seq_bn', reductionFactor: 4 },
      training: { learningRate: 1e-2, epochs: 3, batchSize: 32 },
      maxLength: 16,
      modules: [PLUGIN],
    };
    writeFileSync(join(root, 'extract.json'), JSON.stringify(config));
    const extracted = await cli(['extract', '--config', join(root, 'extract.json'), '--run', join(root, 'run')]);
    expect(extracted.code, extracted.err).toBe(0);
    recorded = JSON.parse(readFileSync(join(root, 'run', 'manifest.json'), 'utf8')).stages['extract/polarity'].metrics;
  });

  it('scores the adapter on dev exactly as extraction recorded it, and writes the metrics as JSON', async () => {
    const output = join(root, 'metrics.json');
    const result = await cli(['evaluate', '--run', join(root, 'run'), '--task', 'polarity', '--data', root, '--modules', PLUGIN, '--output', output]);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toBe(`polarity adapter dev: accuracy ${recorded.accuracy?.toFixed(4)}\n`);
    expect(JSON.parse(readFileSync(output, 'utf8'))).toMatchObject({ task: 'polarity', model: 'adapter', split: 'dev', metrics: recorded });
  });

  it('writes predictions with label names when the task has no leaderboard format', async () => {
    const result = await cli(['predict', '--run', join(root, 'run'), '--task', 'polarity', '--data', root, '--split', 'dev', '--modules', PLUGIN, '--out', join(root, 'predictions')]);
    expect(result.code, result.err).toBe(0);
    const file = join(root, 'predictions', 'polarity-dev.jsonl');
    expect(existsSync(file)).toBe(true);
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(rows.length).toBeGreaterThan(10);
    expect(rows[0]).toEqual({ id: 'dev-0', prediction: expect.stringMatching(/^(negative|positive)$/) });
  });

  it('says what is missing: no fusion for the task, or not a run directory', async () => {
    const noFusion = await cli(['evaluate', '--run', join(root, 'run'), '--task', 'polarity', '--data', root, '--with', 'fusion', '--modules', PLUGIN]);
    expect(noFusion.code).toBe(1);
    expect(noFusion.err).toContain(`no fusion for task "polarity" in ${join(root, 'run')}; run "adapterfusion fuse" first`);
    const notRun = await cli(['evaluate', '--run', root, '--task', 'polarity', '--data', root]);
    expect(notRun.code).toBe(2);
    expect(notRun.err).toContain(`--run ${root}: not a run directory (no manifest.json)`);
  });

  it('refuses a tokenizer larger than the model\'s vocabulary, in evaluate and predict', async () => {
    const big = join(root, 'big-tokenizer');
    mkdirSync(big, { recursive: true });
    writeFileSync(join(big, 'vocab.txt'), `${readFileSync(join(root, 'backbone', 'vocab.txt'), 'utf8')}extra\n`);
    const expected = `${big}: the tokenizer has ${POLARITY_BERT.vocabSize + 1} entries, more than the model's vocab_size ${POLARITY_BERT.vocabSize}`;
    for (const command of [['evaluate'], ['predict', '--out', join(root, 'never')]]) {
      const result = await cli([...command, '--run', join(root, 'run'), '--task', 'polarity', '--data', root, '--split', 'dev', '--tokenizer', big, '--modules', PLUGIN]);
      expect(result.code, command[0]).toBe(1);
      expect(result.err).toContain(expected);
    }
    expect(existsSync(join(root, 'never'))).toBe(false);
  });
});

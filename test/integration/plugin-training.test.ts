// The example third-party plugin of docs/writing-a-task-plugin.md, named by file path in a configuration, trains end
// to end through `adapterfusion extract` without any change to src/.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runProgram } from '../../src/cli/program';
import { hasShared, sharedPath } from '../shared-fixtures';
import { writeTinyBackbone } from '../tiny-bert';

const REPO = resolve(__dirname, '..', '..');

describe.skipIf(!hasShared('vocab', 'bert-base-uncased', 'vocab.txt'))('the example task plugin', () => {
  it('is loaded from the path in the config and trains: the training loss falls and the adapter is saved', async () => {
    const root = mkdtempSync(join(tmpdir(), 'af-plugin-'));
    const vocab = sharedPath('vocab', 'bert-base-uncased', 'vocab.txt');
    await writeTinyBackbone(join(root, 'backbone'), vocab, 3, { numAttentionHeads: 2, maxPositionEmbeddings: 64, initializerRange: 0.15 });
    writeFileSync(
      join(root, 'extract.yaml'),
      [
        'backbone: backbone',
        `modules: [${join(REPO, 'docs', 'examples', 'plugin', 'sentiment-task.ts')}]`,
        `tasks: [{ id: sentiment, dataDir: ${join(REPO, 'docs', 'examples', 'plugin', 'data')} }]`,
        'adapter: { preset: seq_bn, reductionFactor: 4 }',
        'training: { learningRate: 1.0e-2, epochs: 40, batchSize: 4, earlyStoppingPatience: 40, logEverySteps: 1 }',
        'maxLength: 32',
      ].join('\n'),
    );
    const out: string[] = [];
    const err: string[] = [];
    const code = await runProgram(BUILTIN_MODULES, ['extract', '--config', join(root, 'extract.yaml'), '--run', join(root, 'run')], {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
    });
    expect(code, err.join('')).toBe(0);
    expect(out.join('')).toMatch(/^sentiment {2}accuracy 0\.\d{4}/);
    const losses = readFileSync(join(root, 'run', 'metrics', 'extract-sentiment.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { loss?: number })
      .flatMap((record) => (record.loss === undefined ? [] : [record.loss]));
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean(losses.slice(-4))).toBeLessThan(0.5 * mean(losses.slice(0, 4)));
    expect(readFileSync(join(root, 'run', 'adapters', 'sentiment', 'adapter_config.json'), 'utf8')).toContain('"name": "sentiment"');
  });
});

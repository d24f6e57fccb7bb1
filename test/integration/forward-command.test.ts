// `adapterfusion forward` in-process: the example of docs/forward.md against the conformance fixture, and its errors.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BertModel } from '../../src/backbone/bert-model';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runProgram } from '../../src/cli/program';
import { hasShared, sharedPath } from '../shared-fixtures';
import { tinyBert } from '../tiny-bert';

const ROOT = resolve(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'af-forward-'));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runProgram(BUILTIN_MODULES, ['forward', ...argv], { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

/** Largest absolute difference between two nested number lists of the same shape. */
function maxAbsDiff(actual: unknown, expected: unknown): number {
  if (Array.isArray(actual) && Array.isArray(expected)) {
    expect(actual.length).toBe(expected.length);
    return Math.max(0, ...actual.map((item, i) => maxAbsDiff(item, expected[i])));
  }
  return Math.abs((actual as number) - (expected as number));
}

/** The outputs of one forward pass in the fixture's expected.json. */
interface ForwardOutputs {
  last_hidden_state: unknown;
  pooler_output: unknown;
  hidden_states: unknown;
}

/** The parts of the fixture's expected.json these tests read. */
interface ForwardFixture {
  input_ids: unknown;
  attention_mask: unknown;
  token_type_ids: unknown;
  base_only: ForwardOutputs;
  adapters_only: { a: ForwardOutputs };
  fusion_calls: (ForwardOutputs & { fusion_attentions: { output_adapter: unknown } })[];
}

describe.skipIf(!hasShared('conformance', 'adapterhub-seqbn-fusion'))('docs/forward.md example', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'forward.md'), 'utf8');
  // Read before the tests, not while vitest collects them: it runs a skipped suite's body too.
  let expected: ForwardFixture;
  beforeAll(() => {
    expected = JSON.parse(readFileSync(sharedPath('conformance', 'adapterhub-seqbn-fusion', 'expected.json'), 'utf8')) as ForwardFixture;
  });

  it('documents the fixture inputs', () => {
    const input = JSON.parse(/```json\n([\s\S]*?)```/.exec(doc)?.[1] ?? 'null');
    expect(input).toEqual({ input_ids: expected.input_ids, attention_mask: expected.attention_mask, token_type_ids: expected.token_type_ids });
  });

  /**
   * The documented `adapterfusion forward` commands, without the command name; paths are relative to the repository
   * root, as documented, and the JSON files they name go to a temp folder, where the documented input is written.
   */
  function documentedCommands(): string[][] {
    writeFileSync(join(work, 'ids.json'), /```json\n([\s\S]*?)```/.exec(doc)?.[1] ?? '');
    const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((block) => (block[1] ?? '').replace(/\\\n\s*/g, ' '));
    const commands = blocks.flatMap((block) => block.split('\n')).filter((line) => line.startsWith('adapterfusion forward'));
    return commands.map((command) => command.split(/\s+/).slice(2).map((word) => (word.endsWith('.json') ? join(work, word) : word.startsWith('../') ? resolve(ROOT, word) : word)));
  }

  it('runs the documented commands and reproduces base_only and adapters_only.a', async () => {
    const commands = documentedCommands();
    expect(commands).toHaveLength(3);
    const outputs: unknown[] = [];
    for (const argv of commands.slice(0, 2)) {
      const result = await run(argv);
      expect(result.err.replace(/^backend .*\n/, '')).toBe('');
      expect(result.code).toBe(0);
      const file = argv[argv.indexOf('--output') + 1] ?? '';
      expect(result.out).toBe(`wrote ${file}: last_hidden_state [2, 10, 32], pooler_output [2, 32], hidden_states 3 × [2, 10, 32]\n`);
      outputs.push(JSON.parse(readFileSync(file, 'utf8')));
    }
    const [base, adapter] = outputs as { last_hidden_state: unknown; pooler_output: unknown; hidden_states: unknown }[];
    for (const [actual, reference] of [[base, expected.base_only], [adapter, expected.adapters_only.a]] as const) {
      expect(maxAbsDiff(actual?.last_hidden_state, reference.last_hidden_state)).toBeLessThan(1e-4);
      expect(maxAbsDiff(actual?.pooler_output, reference.pooler_output)).toBeLessThan(1e-4);
      expect(maxAbsDiff(actual?.hidden_states, reference.hidden_states)).toBeLessThan(1e-4);
    }
    expect(maxAbsDiff(adapter?.last_hidden_state, base?.last_hidden_state)).toBeGreaterThan(0.01);
  });

  it('runs a fusion through the fusion module\'s loader and reproduces fusion_calls[0]', async () => {
    const argv = documentedCommands()[2] ?? [];
    expect(argv).toContain('--fusion');
    const result = await run(argv);
    expect(result.code, result.err).toBe(0);
    const fused = JSON.parse(readFileSync(argv[argv.indexOf('--output') + 1] ?? '', 'utf8'));
    const reference = expected.fusion_calls[0] as ForwardFixture['fusion_calls'][number];
    expect(maxAbsDiff(fused.last_hidden_state, reference.last_hidden_state)).toBeLessThan(1e-4);
    expect(maxAbsDiff(fused.pooler_output, reference.pooler_output)).toBeLessThan(1e-4);
    expect(maxAbsDiff(fused.hidden_states, reference.hidden_states)).toBeLessThan(1e-4);
    expect(maxAbsDiff(fused.fusion_attentions.output_adapter, reference.fusion_attentions.output_adapter)).toBeLessThan(1e-4);
  });
});

describe('adapterfusion forward errors', () => {
  const modelDir = join(work, 'tiny');
  const output = join(work, 'never.json');

  beforeAll(async () => {
    const model = BertModel.random(tinyBert({ vocabSize: 20, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16, maxPositionEmbeddings: 6 }), 1);
    await model.save(modelDir);
    model.dispose();
  });

  let inputs = 0;
  async function withInput(input: unknown, extra: string[] = []): Promise<{ code: number; err: string }> {
    const file = join(work, `input-${inputs++}.json`);
    writeFileSync(file, JSON.stringify(input));
    const { code, err } = await run(['--model', modelDir, '--input', file, '--output', output, ...extra]);
    return { code, err: err.replace(/^backend .*\n/, '').replaceAll(file, 'ids.json') };
  }

  it('writes outputs for ids without mask or token types', async () => {
    const file = join(work, 'plain.json');
    writeFileSync(file, JSON.stringify({ input_ids: [[2, 5, 3]] }));
    const result = await run(['--model', modelDir, '--input', file, '--output', join(work, 'plain-out.json')]);
    expect(result.code).toBe(0);
    const written = JSON.parse(readFileSync(join(work, 'plain-out.json'), 'utf8'));
    expect(written.hidden_states).toHaveLength(2);
    expect(written.pooler_output[0]).toHaveLength(8);
  });

  it('names the field and position of a bad id, mask value or row', async () => {
    expect(await withInput({ input_ids: [[2, 5], [2, 20]] })).toEqual({ code: 1, err: 'error: ids.json: "input_ids"[1][1]: expected token ids in [0, 20), got 20\n' });
    expect((await withInput({ input_ids: [[2, 5], [2]] })).err).toBe('error: ids.json: "input_ids"[1]: expected a row of 2 token ids (every row as long as the first), got [2]\n');
    expect((await withInput({ input_ids: [[2, 5]], attention_mask: [[1, 2]] })).err).toBe('error: ids.json: "attention_mask"[0][1]: expected mask values (0 or 1) in [0, 2), got 2\n');
    expect((await withInput({ input_ids: [[2, 5]], token_type_ids: [[0]] })).err).toBe('error: ids.json: "token_type_ids"[0]: expected a row of 2 token types, as input_ids has, got [0]\n');
    expect((await withInput({ input_ids: [[1, 2, 3, 4, 5, 6, 7]] })).err).toBe('error: ids.json: "input_ids": expected at most 6 tokens per sequence (the model\'s positions), got 7\n');
    expect((await withInput({ input_ids: [[1]], labels: [0] })).err).toBe('error: ids.json: unknown keys labels (expected input_ids, attention_mask, token_type_ids)\n');
  });

  it('refuses option combinations it cannot run, as usage errors', async () => {
    expect(await withInput({ input_ids: [[1]] }, ['--adapter', 'x', '--adapter', 'y'])).toEqual({ code: 2, err: 'error: 2 --adapter options need --fusion to combine them; give one adapter, or add --fusion <dir>\n' });
    expect(await withInput({ input_ids: [[1]] }, ['--temperature', '2'])).toEqual({ code: 2, err: 'error: --temperature applies to --fusion only\n' });
    expect((await run(['--input', 'x.json', '--output', output])).code).toBe(2);
  });
});

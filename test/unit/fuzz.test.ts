// Robustness as a property: valid data files, safetensors files, tokenizer files, configurations, manifests and
// checkpoint states are mutated (truncation, bit flips, huge lengths, wrong types, path tricks) with a seeded generator,
// and every outcome must be a success or one of the project's named errors whose message names the file: never an
// error from inside a library (a TypeError, a RangeError, a bare SyntaxError), a hang, or a temporary file left behind.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentConfig } from '../../fusion/experiment-config';
import { FusionConfig } from '../../fusion/fusion-config';
import {
  CheckpointError,
  ConfigValidationError,
  DataError,
  ExtractionConfig,
  FileError,
  loadConfigFile,
  loadTokenizer,
  readBertCheckpoint,
  readExamples,
  readSafetensors,
  RunDirectory,
  SafetensorsError,
  SeededRandom,
  TokenizerError,
  Trainer,
  TrainingConfig,
  validateConfig,
  WeightMismatchError,
  writeSafetensors,
  type BertConfig,
  type HeadSpec,
} from '../../src/index';

const NAMED_ERRORS = [DataError, FileError, SafetensorsError, WeightMismatchError, TokenizerError, ConfigValidationError, CheckpointError];
const CASES_PER_KIND = 40;

const root = mkdtempSync(join(tmpdir(), 'fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const random = new SeededRandom(20261208);
const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T;

/** Byte-level mutations: truncation, bit flips, inserted bytes (invalid UTF-8, quotes, line breaks), cut and doubled slices. */
function mutateBytes(bytes: Buffer): { bytes: Buffer; what: string } {
  const at = random.int(bytes.length + 1);
  switch (random.int(5)) {
    case 0:
      return { bytes: bytes.subarray(0, at), what: `truncated at ${at}` };
    case 1: {
      const copy = Buffer.from(bytes);
      const flips = 1 + random.int(8);
      for (let i = 0; i < flips && copy.length > 0; i++) {
        const position = random.int(copy.length);
        copy[position] = (copy[position] as number) ^ (1 << random.int(8));
      }
      return { bytes: copy, what: `${flips} bits flipped` };
    }
    case 2: {
      const inserted = Buffer.from(pick([[0xff], [0xe8], [0xc3], [0x00], [0x22], [0x0a], [0x0d], [0x5c], [0x7b], [0x5b], [0x2c, 0x22]]));
      return { bytes: Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]), what: `0x${inserted.toString('hex')} inserted at ${at}` };
    }
    case 3: {
      const end = Math.min(bytes.length, at + 1 + random.int(64));
      return { bytes: Buffer.concat([bytes.subarray(0, at), bytes.subarray(end)]), what: `bytes ${at}-${end} cut` };
    }
    default: {
      const end = Math.min(bytes.length, at + 1 + random.int(256));
      return { bytes: Buffer.concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)]), what: `bytes ${at}-${end} doubled` };
    }
  }
}

/** Values that break assumptions: wrong types, huge and negative numbers, path tricks, deep nesting. */
const HOSTILE: readonly unknown[] = [
  null, true, -1, 0, 1e308, -1e308, 2 ** 53 + 1, 0.5, '', 'x'.repeat(100_000), '../../../../etc/passwd', '/dev/zero', '/', '.', 'a/../../b',
  [], {}, [[[[[[[[[[[[]]]]]]]]]]]], { preset: 'dynamic' }, ['a', 'a'], { __proto__: { polluted: true } }, '\u0000', 'ü\uFFFF',
];

/** Sets, deletes or adds one value somewhere in a JSON value (a copy). */
function mutateJson(value: unknown): { value: unknown; what: string } {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const containers: { holder: Record<string, unknown> | unknown[]; path: string }[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    containers.push({ holder: node as Record<string, unknown>, path });
    for (const [key, child] of Object.entries(node)) walk(child, `${path}.${key}`);
  };
  walk(copy, '');
  const { holder, path } = pick(containers);
  const keys = Object.keys(holder);
  const key = random.int(4) === 0 || keys.length === 0 ? `unknown${random.int(3)}` : pick(keys);
  if (random.int(5) === 0 && !Array.isArray(holder)) {
    delete (holder)[key];
    return { value: copy, what: `${path}.${key} deleted` };
  }
  const hostile = pick(HOSTILE);
  (holder as Record<string, unknown>)[key] = hostile;
  return { value: copy, what: `${path}.${key} = ${JSON.stringify(hostile)?.slice(0, 40)}` };
}

/** Runs one case; a failure must be a named error that names `where`. */
async function expectNamedOutcome(kind: string, what: string, where: string, run: () => unknown): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('hang: no outcome within 5 s')), 5000)));
  try {
    await Promise.race([Promise.resolve().then(run), hang]);
  } catch (error) {
    const named = NAMED_ERRORS.some((type) => error instanceof type);
    const message = (error as Error).message;
    expect(named, `${kind}, ${what}: ${(error as Error).name}: ${message}\n${(error as Error).stack ?? ''}`).toBe(true);
    expect(message, `${kind}, ${what}`).toContain(where);
  } finally {
    clearTimeout(timer);
  }
}

let caseCount = 0;
function caseDir(): string {
  const dir = join(root, `case-${caseCount++}`);
  mkdirSync(dir);
  return dir;
}

describe('fuzzed inputs end in success or a named error', () => {
  const sentiment: HeadSpec = { type: 'classification', labels: ['neg', 'pos'] };
  const rows = Array.from({ length: 12 }, (_, i) => ({ id: `r${i}`, text: `text ${i} é, "q"`, label: i % 2 ? 'pos' : 'neg' }));
  const DATA: Record<string, string> = {
    tsv: `id\ttext\tlabel\n${rows.map((row) => `${row.id}\t${row.text}\t${row.label}`).join('\n')}\n`,
    csv: `id,text,label\n${rows.map((row) => `${row.id},"${row.text.replace(/"/g, '""')}",${row.label}`).join('\n')}\n`,
    jsonl: `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`,
    json: JSON.stringify(rows, null, 1),
  };

  it('data files (TSV, CSV, JSONL, JSON)', async () => {
    for (let i = 0; i < CASES_PER_KIND; i++) {
      const format = pick(Object.keys(DATA));
      const { bytes, what } = mutateBytes(Buffer.from(DATA[format] as string));
      const file = join(caseDir(), `data.${format}`);
      writeFileSync(file, bytes);
      const skipBadLines = random.int(2) === 0;
      await expectNamedOutcome(`data.${format}`, `${what}, skipBadLines ${skipBadLines}`, file, async () => {
        for await (const example of readExamples(file, sentiment, { id: 'id', text: 'text', label: 'label' }, { skipBadLines, warn: () => undefined })) void example;
      });
    }
  });

  it('safetensors files, alone and as a sharded checkpoint', async () => {
    const reference = join(root, 'reference.safetensors');
    writeSafetensors(reference, { 'a.weight': { shape: [3, 4], values: Float32Array.from({ length: 12 }, (_, i) => i / 7) }, 'b.bias': { shape: [4], values: new Float32Array(4) } }, { format: 'pt' });
    const valid = readFileSync(reference);
    for (let i = 0; i < CASES_PER_KIND; i++) {
      let mutated = mutateBytes(valid);
      if (random.int(4) === 0) {
        // A huge or inconsistent header length.
        const copy = Buffer.from(valid);
        const length = pick([2n ** 64n - 1n, 2n ** 53n, BigInt(copy.length), BigInt(copy.length - 7), 0n, 99999999n]);
        copy.writeBigUInt64LE(length, 0);
        mutated = { bytes: copy, what: `header length ${length}` };
      }
      const file = join(caseDir(), 'model.safetensors');
      writeFileSync(file, mutated.bytes);
      await expectNamedOutcome('safetensors', mutated.what, file, () => readSafetensors(file));
    }
    // A shard index whose names escape the directory or are not strings.
    const config = { modelType: 'bert', vocabSize: 8, hiddenSize: 4, numHiddenLayers: 1, numAttentionHeads: 1, intermediateSize: 8, hiddenAct: 'gelu', hiddenDropoutProb: 0, attentionProbsDropoutProb: 0, maxPositionEmbeddings: 8, typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0, initializerRange: 0.02 } as BertConfig;
    for (let i = 0; i < CASES_PER_KIND / 2; i++) {
      const dir = caseDir();
      writeFileSync(join(dir, 'model-1.safetensors'), valid);
      const { value, what } = mutateJson({ metadata: { total_size: 64 }, weight_map: { 'a.weight': 'model-1.safetensors', 'b.bias': 'model-1.safetensors' } });
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(value));
      await expectNamedOutcome('shard index', what, dir, () => readBertCheckpoint(dir, config));
    }
  });

  it('tokenizer files (vocab.txt, tokenizer.json, tokenizer_config.json)', async () => {
    const vocabulary = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', '##s', 'é', '!'];
    const tokenizerJson = {
      version: '1.0',
      added_tokens: vocabulary.slice(0, 5).map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocabulary.map((token, id) => [token, id])) },
    };
    for (let i = 0; i < CASES_PER_KIND; i++) {
      const dir = caseDir();
      const target = pick(['vocab.txt', 'tokenizer.json', 'tokenizer_config.json']);
      let what: string;
      if (target === 'vocab.txt') {
        const mutated = mutateBytes(Buffer.from(`${vocabulary.join('\n')}\n`));
        writeFileSync(join(dir, 'vocab.txt'), mutated.bytes);
        what = mutated.what;
      } else {
        const base = target === 'tokenizer.json' ? tokenizerJson : { do_lower_case: true, strip_accents: null };
        const structural = random.int(2) === 0;
        const mutated = structural ? mutateJson(base) : undefined;
        const bytes = structural ? Buffer.from(JSON.stringify(mutated?.value)) : mutateBytes(Buffer.from(JSON.stringify(base)));
        writeFileSync(join(dir, target), Buffer.isBuffer(bytes) ? bytes : bytes.bytes);
        if (target === 'tokenizer_config.json') writeFileSync(join(dir, 'vocab.txt'), `${vocabulary.join('\n')}\n`);
        what = mutated?.what ?? (Buffer.isBuffer(bytes) ? '' : bytes.what);
      }
      await expectNamedOutcome(target, what, dir, async () => {
        const tokenizer = await loadTokenizer(dir);
        // A tokenizer that loads must encode anything.
        tokenizer.encode('Hello worlds! é ü \u0000 日本', 'second text', { maxLength: 16 });
      });
    }
  });

  it('configurations (YAML and JSON)', async () => {
    const extraction = { backbone: 'models/bert', tasks: [{ id: 'rte', dataDir: 'data/RTE', maxExamples: 100 }], adapter: { preset: 'seq_bn', reductionFactor: 16, leaveOut: [0] }, training: { learningRate: 1e-4, epochs: 3, batchSize: 32 }, maxLength: 128, seed: 1 };
    const experiment = { ...extraction, run: 'runs/x', fusions: [{ target: 'rte', adapters: ['rte', 'mnli'], training: { epochs: 2 } }], inspect: { split: 'dev' } };
    const fusion = { target: 'rte', dataDir: 'data/RTE', adapters: ['rte', 'mnli'], fusion: { preset: 'dynamic', dropoutProb: 0.1 }, training: { learningRate: 5e-5 }, maxLength: 64 };
    const kinds = [
      { raw: extraction, type: ExtractionConfig },
      { raw: experiment, type: ExperimentConfig },
      { raw: fusion, type: FusionConfig },
    ] as const;
    for (let i = 0; i < CASES_PER_KIND; i++) {
      const kind = pick(kinds);
      const yaml = random.int(2) === 0;
      const file = join(caseDir(), yaml ? 'config.yaml' : 'config.json');
      const structural = random.int(3) > 0;
      const mutated = structural ? mutateJson(kind.raw) : mutateBytes(Buffer.from(JSON.stringify(kind.raw)));
      // JSON is YAML, so the same text serves both.
      writeFileSync(file, 'bytes' in mutated ? mutated.bytes : JSON.stringify(mutated.value));
      await expectNamedOutcome(kind.type.name, mutated.what, file, () => loadConfigFile(kind.type as new () => object, file));
    }
  });

  it('run manifests and checkpoint states', async () => {
    const run = new RunDirectory(join(root, 'manifest-source'));
    mkdirSync(join(run.root, 'adapters', 'rte'), { recursive: true });
    writeFileSync(join(run.root, 'adapters', 'rte', 'adapter_config.json'), '{}');
    run.recordStage('extract/rte', { config: { seed: 1 }, metrics: { accuracy: 0.5 }, files: { adapter: join('adapters', 'rte') } });
    const manifest = JSON.parse(readFileSync(run.manifestPath, 'utf8')) as unknown;

    const weights = new Map([['w', tf.variable(tf.tensor1d([1, 2]))]]);
    const trainer = (dir: string) =>
      new Trainer<number>({
        config: validateConfig(TrainingConfig, { epochs: 2, checkpointEverySteps: 1 }),
        trainable: weights,
        frozen: new Map(),
        loss: () => tf.sum(tf.square(weights.get('w') as tf.Variable)),
        checkpointDir: dir,
        log: () => undefined,
      });
    const source = join(root, 'checkpoint-source');
    const first = trainer(source);
    await first.fit(() => [0]);
    first.dispose();
    const state = JSON.parse(readFileSync(join(source, 'state.json'), 'utf8')) as unknown;

    for (let i = 0; i < CASES_PER_KIND; i++) {
      const dir = caseDir();
      if (random.int(2) === 0) {
        const { value, what } = mutateJson(manifest);
        cpTree(run.root, dir);
        writeFileSync(join(dir, 'manifest.json'), random.int(3) === 0 ? mutateBytes(Buffer.from(JSON.stringify(value))).bytes : JSON.stringify(value));
        await expectNamedOutcome('manifest.json', what, dir, () => new RunDirectory(dir).completedStage('extract/rte', () => undefined));
      } else {
        const { value, what } = mutateJson(state);
        cpTree(source, dir);
        writeFileSync(join(dir, 'state.json'), JSON.stringify(value));
        const resumed = trainer(dir);
        await expectNamedOutcome('state.json', what, dir, () => resumed.fit(() => [0], { resume: true }));
        resumed.dispose();
      }
    }
    tf.dispose([...weights.values()]);
  });

  it('leaves no temporary file behind', () => {
    const leftovers: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else if (entry.name.includes('.tmp-')) leftovers.push(join(dir, entry.name));
      }
    };
    walk(root);
    expect(leftovers).toEqual([]);
  });
});

/** Copies a directory's files (recursively) into another. */
function cpTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      mkdirSync(join(to, entry.name), { recursive: true });
      cpTree(join(from, entry.name), join(to, entry.name));
    } else {
      writeFileSync(join(to, entry.name), readFileSync(join(from, entry.name)));
    }
  }
}

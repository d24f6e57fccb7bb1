/**
 * Peak memory of MT-A training steps on the BERT-base shape (12 layers, hidden 768, random weights), batch 8 of
 * 128 tokens: the backbone, two tasks' adapters and heads all trainable, one optimizer step per task, as the MT-A
 * stage runs them. Run by hand (it takes minutes on two cores; docs/mt-a.md records the results):
 *
 *   npx vite-node test/integration/mt-a-memory.ts -- --micro-batch 2
 *
 * `--micro-batch n` splits each batch of 8 into 8/n accumulated micro-batches; `--steps n` sets the number of steps.
 */
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { BertModel, BottleneckAdapter, createHead, initBackend, Trainer, TrainingConfig, validateAdapterConfig, validateConfig } from '../../src/index';
import { logitsOf } from '../../src/pipeline/extraction-stage';

const BATCH = 8;
const SEQUENCE_LENGTH = 128;
const TASKS = ['first', 'second'];

interface MicroBatch {
  task: string;
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  labels: tf.Tensor1D;
}

const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'micro-batch': { type: 'string', default: '8' }, steps: { type: 'string', default: '2' } } });
  const microBatch = Number(values['micro-batch']);
  const steps = Number(values.steps);
  if (!Number.isInteger(microBatch) || microBatch < 1 || BATCH % microBatch !== 0) throw new Error(`--micro-batch: expected a divisor of ${BATCH}, got ${values['micro-batch']}`);
  const backend = await initBackend();
  const backbone = BertModel.random({
    modelType: 'bert', vocabSize: 30522, hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, intermediateSize: 3072,
    hiddenAct: 'gelu', hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, maxPositionEmbeddings: 512, typeVocabSize: 2,
    layerNormEps: 1e-12, padTokenId: 0,
  }, 1);
  const spec = { type: 'classification', labels: ['no', 'yes'] } as const;
  const adapters = new Map(TASKS.map((task, i) => [task, BottleneckAdapter.create(task, validateAdapterConfig({ preset: 'seq_bn' }), backbone, 10 + i)]));
  const heads = new Map(TASKS.map((task, i) => [task, createHead(task, spec, 768, 20 + i)]));
  const trainable = new Map([...backbone.weights, ...[...adapters.values()].flatMap((a) => [...a.variables]), ...[...heads.values()].flatMap((h) => [...h.variables])]);
  const config = validateConfig(TrainingConfig, { learningRate: 2e-5, batchSize: microBatch, gradientAccumulationSteps: BATCH / microBatch, schedule: 'constant', maxSteps: 1_000_000 });
  const trainer = new Trainer<MicroBatch>({
    config, trainable, frozen: new Map(), progress: false, log: (line) => console.log(line),
    loss: (batch, { random }) => {
      const adapter = adapters.get(batch.task) as BottleneckAdapter;
      const head = heads.get(batch.task) as ReturnType<typeof createHead>;
      const tensors = { inputIds: batch.inputIds, attentionMask: batch.attentionMask, tokenTypeIds: tf.zerosLike(batch.inputIds) };
      return head.loss(logitsOf(backbone, adapter, head, tensors, true, random.int(2 ** 31)), batch.labels);
    },
  });
  const wasmHeap = (): number | null => (tf.backend() as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? null;
  console.log(`backend ${backend.name}; ${trainable.size} trainable tensors, ${[...trainable.values()].reduce((n, v) => n + v.size, 0)} parameters; batch ${BATCH} × ${SEQUENCE_LENGTH} tokens in micro-batches of ${microBatch}`);
  for (let step = 0; step < steps; step++) {
    const task = TASKS[step % TASKS.length] as string;
    const micro: MicroBatch[] = Array.from({ length: BATCH / microBatch }, (_, i) => tf.tidy(() => ({
      task,
      inputIds: tf.randomUniformInt<tf.Rank.R2>([microBatch, SEQUENCE_LENGTH], 1000, 30000, 100 * step + i),
      attentionMask: tf.ones<tf.Rank.R2>([microBatch, SEQUENCE_LENGTH], 'int32'),
      labels: tf.randomUniformInt<tf.Rank.R1>([microBatch], 0, 2, 100 * step + i + 50),
    })));
    const started = performance.now();
    const result = await trainer.step(micro);
    const seconds = (performance.now() - started) / 1000;
    tf.dispose(micro.flatMap((m) => [m.inputIds, m.attentionMask, m.labels]));
    const memory = tf.memory();
    const heap = wasmHeap();
    console.log(JSON.stringify({
      step: result.step, task, seconds: Number(seconds.toFixed(1)), loss: Number(result.loss.toFixed(4)),
      tensors: memory.numTensors, tensorMiB: mib(memory.numBytes), wasmHeapMiB: heap === null ? null : mib(heap),
      rssMiB: mib(process.memoryUsage().rss), peakRssMiB: mib(process.resourceUsage().maxRSS * 1024),
    }));
  }
  trainer.dispose();
}

void main();

// ST-A extraction with a LoRA per task (`lora` in the extraction config) on the tiny polarity task.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoraModule } from '../../src/adapters/lora';
import { BertModel } from '../../src/backbone/bert-model';
import { validateConfig } from '../../src/config/validate';
import { encodeExamples } from '../../src/data/encode-examples';
import { makeBatches } from '../../src/data/make-batches';
import { readTaskSplit } from '../../src/data/read-task-split';
import { createContainer, taskRegistry } from '../../src/di/container';
import { loadHead } from '../../src/heads/prediction-head';
import { RunDirectory } from '../../src/io/run-directory';
import { ExtractionConfig } from '../../src/pipeline/extraction-config';
import { evaluateTask, ExtractionStage } from '../../src/pipeline/extraction-stage';
import { loadTaskModel } from '../../src/pipeline/task-model';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer';
import polarityModule, { POLARITY_BERT, PolarityTask, writePolarityBackbone } from './fixtures/polarity-task';

const RAW_CONFIG = {
  backbone: 'backbone',
  tasks: [{ id: 'polarity', dataDir: '.' }],
  lora: { r: 4, alpha: 8, attnMatrices: ['q', 'v'], outputLora: true },
  training: { learningRate: 1e-2, epochs: 6, batchSize: 32, earlyStoppingPatience: 0 },
  maxLength: 16,
  seed: 3,
};
const LORA_COUNT = 2 * (4 * (32 + 32) * 2 + 4 * (64 + 32)); // 2 layers × (q, v: r·(d + d); output: r·(I + d))
const HEAD_COUNT = 32 * 32 + 32 + 32 * 2 + 2;

describe('ExtractionStage with lora', () => {
  it('is refused for MT-A, naming the field', () => {
    expect(() => validateConfig(ExtractionConfig, { ...RAW_CONFIG, mode: 'mt-a' }, 'x.yaml')).toThrow('lora: is for mode st-a only (MT-A trains bottleneck adapters)');
  });

  it('trains only the LoRA matrices and the head, saves them in AdapterHub layout, and the files reproduce the dev score', async () => {
    const root = mkdtempSync(join(tmpdir(), 'af-lora-'));
    await writePolarityBackbone(join(root, 'backbone'));
    const run = new RunDirectory(join(root, 'run'));
    const lines: string[] = [];
    const stage = new ExtractionStage(taskRegistry(createContainer([polarityModule])), validateConfig(ExtractionConfig, RAW_CONFIG));
    const [result] = await stage.run({ run, baseDir: root, log: (line) => lines.push(line), progress: false });
    expect(result?.metrics.accuracy).toBeGreaterThanOrEqual(0.9);
    const reference = BertModel.random(POLARITY_BERT, 1);
    // 12 LoRA tensors (2 layers × 3 projections × A, B) + 4 head tensors train; the 39 backbone tensors stay frozen.
    expect(lines).toContain(`training 16 tensors / ${LORA_COUNT + HEAD_COUNT} parameters, frozen 39 tensors / ${reference.parameterCount()} parameters`);
    reference.dispose();
    expect(run.readManifest().stages['extract/polarity']).toMatchObject({ adapterParameters: LORA_COUNT, config: { lora: { r: 4, alpha: 8 } } });
    const saved = JSON.parse(readFileSync(join(run.adapterDir('polarity'), 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
    expect(saved.config).toMatchObject({ architecture: 'lora', r: 4, alpha: 8, output_lora: true });

    const backbone = await BertModel.fromPretrained(join(root, 'backbone'));
    const lora = LoraModule.load(run.adapterDir('polarity'), backbone);
    const head = await loadHead(run.headDir('polarity'), { hiddenSize: 32 });
    const task = new PolarityTask();
    const dev = encodeExamples(await readTaskSplit(task, 'dev', { dataDir: '.' }), await loadTokenizer(join(root, 'backbone')), task.head, 16);
    const batches = makeBatches(dev, { batchSize: 32, shuffle: false, seed: 0 });
    expect(await evaluateTask(batches, task, backbone, lora, head)).toEqual(result?.metrics);
    // Merged into the backbone, the plain model scores the same.
    lora.merge(backbone);
    expect(await evaluateTask(batches, task, backbone, { hook: () => Object.assign(() => undefined) }, head)).toEqual(result?.metrics);
    lora.unmerge();
    // `evaluate` loads a task's module through loadTaskModel: the LoRA too.
    const model = await loadTaskModel(createContainer([polarityModule]), run, 'polarity', 'adapter', { backbone: join(root, 'backbone') });
    expect(model.hook.projection).toBeDefined();
    model.dispose();
    for (const owner of [lora, head, backbone]) owner.dispose();
  });
});

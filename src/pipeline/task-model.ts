import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { BottleneckAdapter } from '../adapters/bottleneck-adapter';
import { isLoraDirectory, LoraModule } from '../adapters/lora';
import type { BertModel } from '../backbone/bert-model';
import type { SublayerHook } from '../backbone/sublayer-hook';
import { batchToTensors } from '../data/batch-to-tensors';
import type { Batch } from '../data/make-batches';
import type { Container } from '../di/container';
import { loadHead, type PredictionHead } from '../heads/prediction-head';
import { MTA_STAGE_KEY, type RunDirectory } from '../io/run-directory';
import type { SplitPredictions } from '../task/metrics';
import { loadComposition } from './composition-loader';
import { backboneForAdapters } from '../backbone/backbone-for-adapters';

/** Which trained model of a task to run: its own adapter (ST-A or MT-A) or its fusion. */
export type TaskModelKind = 'adapter' | 'fusion';

/** A task's trained model from a run directory, ready for inference. */
export interface TaskModel {
  readonly backbone: BertModel;
  readonly head: PredictionHead;
  readonly hook: SublayerHook;
  dispose(): void;
}

/**
 * Loads what a run trained for `task`: the backbone the run's adapters belong to (`backboneForAdapters`: the tuned one
 * after MT-A), then the task's adapter and head, or its fusion (with its adapters and head).
 *
 * @example
 * const model = await loadTaskModel(container, new RunDirectory('runs/glue'), 'rte', 'fusion');
 */
export async function loadTaskModel(
  container: Container,
  run: RunDirectory,
  task: string,
  kind: TaskModelKind,
  options: { backbone?: string; force?: boolean } = {},
): Promise<TaskModel> {
  const manifest = run.readManifest();
  const dir = kind === 'fusion' ? run.fusionDir(task) : run.adapterDir(task);
  if (!existsSync(dir)) throw new Error(`${dir}: no ${kind} for task "${task}" in ${run.root}; run "adapterfusion ${kind === 'fusion' ? 'fuse' : 'extract'}" first`);
  const backbone = await backboneForAdapters(run, options.backbone ?? (manifest.stages[MTA_STAGE_KEY] ? undefined : manifest.backbonePath), { force: options.force === true });
  try {
    if (kind === 'fusion') {
      const fusion = await loadComposition(container, dir, backbone);
      if (!fusion.head) throw new Error(`${dir}: the fusion was saved without its head (expected ${run.fusionHeadDir(task)})`);
      return { backbone, head: fusion.head, hook: fusion.hook(), dispose: () => (fusion.dispose(), backbone.dispose()) };
    }
    const adapter = isLoraDirectory(dir) ? LoraModule.load(dir, backbone) : await BottleneckAdapter.load(dir, backbone);
    const head = await loadHead(run.headDir(task), { hiddenSize: backbone.config.hiddenSize });
    return { backbone, head, hook: adapter.hook(), dispose: () => (adapter.dispose(), head.dispose(), backbone.dispose()) };
  } catch (error) {
    backbone.dispose();
    throw error;
  }
}

/**
 * Runs a task model over batches in inference mode; the backbone's last layer computes every token only where the head
 * reads them or `firstTokenOnly` is false (a hook that records every token's fusion attention).
 */
export async function predictWithModel(model: Pick<TaskModel, 'backbone' | 'head' | 'hook'>, batches: readonly Batch[], firstTokenOnly = model.head.readsFirstTokenOnly): Promise<SplitPredictions> {
  const out: SplitPredictions = { ids: [], predictions: [], golds: [] };
  const spec = model.head.spec;
  for (const batch of batches) {
    const logits = tf.tidy(() => {
      const { inputIds, attentionMask, tokenTypeIds } = batchToTensors(batch, spec);
      const output = model.backbone.forward({ inputIds, attentionMask, tokenTypeIds }, { hook: model.hook, firstTokenOnly });
      return model.head.forward(output.lastHiddenState, output.pooledOutput, false);
    });
    let predicted: (number | number[])[];
    try {
      predicted = await model.head.predict(logits);
    } finally {
      logits.dispose();
    }
    predicted.forEach((prediction, i) => {
      out.ids.push(batch.ids[i] ?? String(out.ids.length));
      out.predictions.push(prediction);
      out.golds.push(batch.labels?.[i]);
    });
  }
  return out;
}

// The example, the validated options and the parameter table of docs/lora.md are checked against the code; the
// TypeScript example runs on the tiny backbone.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LoraConfig, LoraModule } from '../../src/adapters/lora';
import { BertModel } from '../../src/backbone/bert-model';
import { validateConfig } from '../../src/config/validate';
import { tinyBert } from '../tiny-bert';

const DOC = readFileSync(resolve(__dirname, '..', '..', 'docs', 'lora.md'), 'utf8');
const BERT_BASE = { config: { modelType: 'bert', hiddenSize: 768, numHiddenLayers: 12, intermediateSize: 3072 }, parameters: 109_482_240 };

describe('docs/lora.md', () => {
  it('the yaml example validates to what the text says', () => {
    const [, yaml] = /```yaml\n([\s\S]*?)```/.exec(DOC) ?? [];
    const config = validateConfig(LoraConfig, (parse(yaml ?? '') as { lora: unknown }).lora, 'docs/lora.md');
    expect(config).toMatchObject({ r: 8, scaling: 2, attnMatrices: ['q', 'v'], outputLora: true, intermediateLora: false });
  });

  it('the options table lists every option with its default', () => {
    const defaults = new LoraConfig();
    const rows = [...DOC.matchAll(/^\| `(\w+)` \| `?([^`|]+?)`? \|/gm)].map(([, option, value]) => [option, value]);
    expect(rows.map(([option]) => option).sort()).toEqual(Object.keys(defaults).sort());
    for (const [option, value] of rows) expect(JSON.stringify((defaults as unknown as Record<string, unknown>)[option ?? '']).replaceAll(',', ', '), option).toBe(/^[\d[]|true|false/.test(value ?? '') ? value : JSON.stringify(value));
  });

  it('the BERT-base parameter table matches r·(in + out) per wrapped layer', () => {
    const rows = [...DOC.matchAll(/^\| (.+?) \| ([\d,]+) \| ([\d.]+) \|$/gm)];
    const configs = [{ r: 8 }, { r: 8, intermediateLora: true, outputLora: true }, { r: 1, alpha: 1, compositionMode: 'scale', initWeights: 'ia3', attnMatrices: ['k', 'v'], intermediateLora: true }];
    expect(rows.length).toBe(configs.length);
    configs.forEach((raw, i) => {
      const lora = LoraModule.create('x', validateConfig(LoraConfig, raw), BERT_BASE, 1);
      const count = lora.parameterCount();
      lora.dispose();
      expect(Number(rows[i]?.[2]?.replaceAll(',', ''))).toBe(count);
      expect(rows[i]?.[3]).toBe(((100 * count) / BERT_BASE.parameters).toFixed(2));
    });
  });

  it('the TypeScript example runs: saved, loaded and merged, the module computes the same', async () => {
    const [, code] = /```ts\n([\s\S]*?)```/.exec(DOC) ?? [];
    const dir = join(mkdtempSync(join(tmpdir(), 'lora-docs-')), 'rte');
    const backbone = BertModel.random(tinyBert(), 1);
    const inputs = { inputIds: tf.tensor2d([[2, 7, 9, 3]], undefined, 'int32'), attentionMask: tf.tensor2d([[1, 1, 1, 1]], undefined, 'int32') };
    const body = `${(code ?? '').replaceAll("'runs/demo/lora/rte'", 'dir')}\nreturn { lora, again, output };`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- runs the documented example verbatim
    const run = new Function('LoraModule', 'validateConfig', 'LoraConfig', 'backbone', 'inputs', 'dir', `return (async () => {\n${body}\n})();`) as (...args: unknown[]) => Promise<{ lora: LoraModule; again: LoraModule; output: { lastHiddenState: tf.Tensor } }>;
    const { lora, again, output } = await run(LoraModule, validateConfig, LoraConfig, backbone, inputs, dir);
    expect(again.config).toEqual(lora.config);
    const merged = backbone.forward(inputs).lastHiddenState; // B is zero at init: the update is 0 until trained
    expect(tf.max(tf.abs(tf.sub(merged, output.lastHiddenState))).dataSync()[0]).toBeLessThan(1e-5);
    again.unmerge();
    again.dispose();
    lora.dispose();
    backbone.dispose();
  });
});

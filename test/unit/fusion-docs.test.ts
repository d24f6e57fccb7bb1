// docs/fusion.md and docs/inspect.md are checked against the code: examples, defaults, tables and figures.
import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FusionConfig } from '../../fusion/fusion-config';
import { FusionLayer } from '../../fusion/fusion-layer';
import { FUSION_PRESETS, FusionOptions } from '../../fusion/fusion-options';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { buildProgram, validateConfig } from '../../src/index';

const DOCS = resolve(__dirname, '..', '..', 'docs');
const read = (file: string) => readFileSync(join(DOCS, file), 'utf8');
const fusionDoc = read('fusion.md');
const inspectDoc = read('inspect.md');
const BERT_BASE = { hiddenSize: 768, layers: 12, parameters: 109_482_240, tensors: 199, adapter: 894_528, twoClassHead: 592_130 };

const fields = (type: abstract new () => unknown) => [...new Set(getMetadataStorage().getTargetValidationMetadatas(type, '', true, false).map((m) => m.propertyName))];
/** The first column of every table row, backticks removed. */
const tableKeys = (markdown: string) => [...markdown.matchAll(/^\| `([^|]+)` \|/gm)].flatMap((match) => (match[1] ?? '').split(/`, `/));
const number = (text: string | undefined) => Number(text?.replaceAll(',', ''));

describe('docs/fusion.md', () => {
  it('its configuration example validates to the documented defaults', () => {
    const example = parse(/```yaml\n([\s\S]*?)```/.exec(fusionDoc)?.[1] ?? '');
    const config = validateConfig(FusionConfig, example, 'docs/fusion.md');
    expect(config).toMatchObject({ target: 'rte', adapters: ['sst2', 'mrpc', 'rte'], regularizationTiming: 'same-step', maxLength: 128, trainSplit: 'train', evalSplit: 'dev', modules: [] });
    expect({ ...config.fusion }).toEqual({ ...FUSION_PRESETS.create('dynamic') });
    const defaults = validateConfig(FusionConfig, { target: 'rte', dataDir: 'd', adapters: ['a', 'b'] }).training;
    expect(defaults).toMatchObject({ learningRate: 5e-5, epochs: 10, batchSize: 32, earlyStoppingPatience: 3, schedule: 'linear' });
  });

  it('documents every configuration field and fusion option, and the presets as the code defines them', () => {
    const documented = tableKeys(fusionDoc);
    for (const field of fields(FusionConfig)) expect(documented, `FusionConfig.${field}`).toContain(field);
    for (const field of fields(FusionOptions).filter((f) => f !== 'preset')) expect(documented, `FusionOptions.${field}`).toContain(field);
    const rows = [...fusionDoc.matchAll(/^\| `(\w+)` \| (true|false|null) \| (true|false|null) \|/gm)];
    expect(rows).toHaveLength(10);
    for (const [, field, dynamic, fixed] of rows) {
      expect(String(FUSION_PRESETS.create('dynamic')[field as keyof FusionOptions]), `dynamic ${field}`).toBe(dynamic);
      expect(String(FUSION_PRESETS.create('static')[field as keyof FusionOptions]), `static ${field}`).toBe(fixed);
    }
  });

  it('states the BERT-base parameter counts and log lines that the fusion layer gives', () => {
    const rows = [...fusionDoc.matchAll(/^\| (dynamic|static) \| ([\d,]+) \| ([\d,]+) \| ([\d.]+)% \|$/gm)];
    expect(rows).toHaveLength(2);
    const perLayer: Record<string, number> = {};
    for (const [, preset, layer, total, share] of rows) {
      const fusion = new FusionLayer({ hiddenSize: BERT_BASE.hiddenSize, settings: FUSION_PRESETS.create(preset as string), dropoutRate: 0, seed: 1 });
      perLayer[preset as string] = fusion.parameterCount();
      fusion.dispose();
      expect(number(layer)).toBe(perLayer[preset as string]);
      expect(number(total)).toBe(BERT_BASE.layers * number(layer));
      expect(share).toBe(((100 * number(total)) / BERT_BASE.parameters).toFixed(2));
    }
    const dynamic = BERT_BASE.layers * (perLayer.dynamic ?? NaN);
    expect(fusionDoc).toContain(`fusion ${dynamic} parameters (${((100 * dynamic) / BERT_BASE.parameters).toFixed(2)}% of the backbone), head ${BERT_BASE.twoClassHead}`);
    expect(fusionDoc).toContain(
      `training ${BERT_BASE.layers * 5 + 4} tensors / ${dynamic + BERT_BASE.twoClassHead} parameters, ` +
        `frozen ${BERT_BASE.tensors + 3 * BERT_BASE.layers * 4} tensors / ${BERT_BASE.parameters + 3 * BERT_BASE.adapter} parameters`,
    );
  });

  it('lists every option of the fuse and inspect commands', () => {
    const program = buildProgram(BUILTIN_MODULES, { out: () => undefined, err: () => undefined });
    for (const [name, doc] of [['fuse', fusionDoc], ['inspect', inspectDoc]] as const) {
      const command = program.commands.find((c) => c.name() === name);
      const flags = command?.options.map((option) => option.flags) ?? [];
      expect(flags.length).toBeGreaterThan(3);
      for (const flag of flags) expect(tableKeys(doc), `${name} ${flag}`).toContain(flag);
    }
  });
});

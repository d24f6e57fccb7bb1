// The examples and figures in docs/adapters.md and docs/extract.md are checked against the code.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bottleneckSize, moduleParameterCount, validateAdapterConfig } from '../../src/adapters/adapter-config';
import { validateConfig } from '../../src/config/validate';
import { ExtractionConfig } from '../../src/pipeline/extraction-config';

const DOCS = resolve(__dirname, '..', '..', 'docs');
const read = (file: string) => readFileSync(join(DOCS, file), 'utf8');
const yamlBlocks = (markdown: string) => [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => parse(match[1] ?? '') as unknown);
const BERT_BASE = { hiddenSize: 768, layers: 12, parameters: 109_482_240 };

describe('adapter and extraction docs', () => {
  it('docs/adapters.md: the preset example validates to what the text says', () => {
    const [example] = yamlBlocks(read('adapters.md')) as [{ adapter: unknown }];
    expect(validateAdapterConfig(example.adapter)).toMatchObject({ mhAdapter: true, outputAdapter: true, originalLnBefore: false, nonLinearity: 'swish', reductionFactor: 8 });
  });

  it('docs/adapters.md: the BERT-base parameter table matches 2md + d + m per module', () => {
    const rows = [...read('adapters.md').matchAll(/^\| (\d+)(?: \(default\))? \| (\d+) \| ([\d,]+) \| ([\d.]+) \| ([\d,]+) \| ([\d.]+) \|$/gm)];
    expect(rows.length).toBe(4);
    for (const [, factor, m, seq, seqShare, double, doubleShare] of rows) {
      const config = validateAdapterConfig({ reductionFactor: Number(factor) });
      expect(bottleneckSize(config, BERT_BASE.hiddenSize, 0)).toBe(Number(m));
      const perLayer = moduleParameterCount(BERT_BASE.hiddenSize, Number(m));
      expect(Number(seq?.replaceAll(',', ''))).toBe(BERT_BASE.layers * perLayer);
      expect(Number(double?.replaceAll(',', ''))).toBe(2 * BERT_BASE.layers * perLayer);
      expect(seqShare).toBe(((100 * BERT_BASE.layers * perLayer) / BERT_BASE.parameters).toFixed(2));
      expect(doubleShare).toBe(((200 * BERT_BASE.layers * perLayer) / BERT_BASE.parameters).toFixed(2));
    }
  });

  it('docs/extract.md: the example configuration validates with the documented defaults', () => {
    const [example] = yamlBlocks(read('extract.md'));
    const config = validateConfig(ExtractionConfig, example, 'docs/extract.md');
    expect(config.tasks.map((task) => task.id)).toEqual(['rte', 'sst2']);
    expect(config).toMatchObject({ mode: 'st-a', sampler: 'annealed', modules: [], maxLength: 128, seed: 42 });
    expect(config.adapter).toEqual(validateAdapterConfig({}));
  });
});

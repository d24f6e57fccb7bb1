import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AttentionRecorder } from '../../fusion/attention-recorder';
import { attentionHtml } from '../../fusion/attention-html';
import { attentionCsv, attentionTable, AttentionAggregator, type AttentionReport } from '../../fusion/attention-report';
import { explorerDataFromFiles, parseMetricsLines, parseStepLines } from '../../fusion/explorer-data';

describe('AttentionAggregator', () => {
  it('averages over non-padding tokens, overall, per class and per example', () => {
    const aggregator = new AttentionAggregator(['a', 'b'], { perClass: true, perExample: true });
    // Batch 1: example x (4 tokens) attends [3, 1] in total at layer 0; example y (2 tokens) [0.5, 1.5].
    aggregator.add(
      [
        { layer: 0, location: 'output_adapter', sums: [[3, 1], [0.5, 1.5]], tokens: [4, 2] },
        { layer: 1, location: 'output_adapter', sums: [[2, 2], [2, 0]], tokens: [4, 2] },
      ],
      [{ id: 'x', label: 'pos' }, { id: 'y', label: 'neg' }],
    );
    // Batch 2: example z (2 tokens), class pos.
    aggregator.add(
      [
        { layer: 0, location: 'output_adapter', sums: [[2, 0]], tokens: [2] },
        { layer: 1, location: 'output_adapter', sums: [[1, 1]], tokens: [2] },
      ],
      [{ id: 'z', label: 'pos' }],
    );
    const all = aggregator.group();
    expect(all).toMatchObject({ key: 'all', examples: 3, tokens: 8 });
    expect(all.sites[0]).toEqual({ layer: 0, location: 'output_adapter', mean: [5.5 / 8, 2.5 / 8] });
    expect(all.sites[1]?.mean).toEqual([5 / 8, 3 / 8]);
    expect(all.overall).toEqual([(5.5 / 8 + 5 / 8) / 2, (2.5 / 8 + 3 / 8) / 2]);
    const classes = aggregator.perClass();
    expect(classes.map((group) => [group.key, group.examples, group.tokens])).toEqual([['pos', 2, 6], ['neg', 1, 2]]);
    expect(classes[0]?.sites[0]?.mean).toEqual([5 / 6, 1 / 6]);
    expect(aggregator.perExample().map((group) => group.sites[0]?.mean)).toEqual([[0.75, 0.25], [0.25, 0.75], [1, 0]]);
  });

  it('counts the rows of a multiple-choice example under that example', () => {
    const aggregator = new AttentionAggregator(['a', 'b'], { perExample: true });
    aggregator.add([{ layer: 0, location: 'output_adapter', sums: [[1, 1], [3, 1], [2, 0], [0, 2]], tokens: [2, 4, 2, 2] }], [{ id: 'q1' }, { id: 'q2' }]);
    expect(aggregator.perExample().map((group) => [group.key, group.tokens, group.sites[0]?.mean])).toEqual([
      ['q1', 6, [4 / 6, 2 / 6]],
      ['q2', 4, [0.5, 0.5]],
    ]);
    expect(() => aggregator.add([{ layer: 0, location: 'output_adapter', sums: [[1, 0], [1, 0], [1, 0]], tokens: [1, 1, 1] }], [{ id: 'a' }, { id: 'b' }])).toThrow(
      'attention of 3 rows cannot belong to 2 examples',
    );
  });
});

function report(target: string, adapters: string[], weights: number[][]): AttentionReport {
  const sites = weights.map((mean, layer) => ({ layer, location: 'output_adapter' as const, mean }));
  const overall = adapters.map((_, n) => sites.reduce((s, site) => s + (site.mean[n] ?? 0), 0) / sites.length);
  return { target, fusion: adapters.join(','), split: 'dev', adapters, temperature: 1, all: { key: 'all', examples: 10, tokens: 57, sites, overall } };
}

describe('report formats', () => {
  const single: AttentionReport = {
    ...report('rte', ['mnli', 'sst<2>'], [[0.8, 0.2], [0.3, 0.7]]),
    perClass: [{ key: 'entailment', examples: 6, tokens: 30, sites: [], overall: [0.6, 0.4] }],
    ablation: { metric: 'accuracy', full: 0.7, withoutAdapter: [0.55, 0.71] },
  };

  it('writes CSV in long format', () => {
    expect(attentionCsv(single).split('\n').slice(0, 3)).toEqual([
      'scope,key,layer,location,adapter,weight,tokens',
      'all,all,0,output_adapter,mnli,0.800000,57',
      'all,all,0,output_adapter,sst<2>,0.200000,57',
    ]);
  });

  it('prints a table with the strongest adapter of each layer starred, per-class rows and the ablation', () => {
    const table = attentionTable(single);
    expect(table).toContain('fusion attention for rte over dev (10 examples, 57 tokens, T=1)');
    expect(table).toMatch(/L0\s+0\.800\*\s+0\.200 /);
    expect(table).toMatch(/L1\s+0\.300 \s+0\.700\*/);
    expect(table).toMatch(/\[entailment\]\s+0\.600\*/);
    expect(table).toContain('  without mnli: 0.5500 (-0.1500)');
  });

  it('renders a self-contained explorer with a heatmap per fusion, a target × adapter matrix and the targets side by side', () => {
    const html = attentionHtml({ reports: [single, report('cb', ['mnli', 'boolq'], [[0.1, 0.9]])], training: {} });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('Targets × adapters');
    expect(html.match(/<svg /g)).toHaveLength(7); // matrix, rte and cb side by side, rte, rte's class, rte's ablation, cb
    expect(html).toContain('sst&lt;2&gt;');
    expect(html).toContain('<title>rte: no boolq</title>'); // the matrix marks adapters a fusion lacks
    // Names reach the page escaped, in the markup and in the embedded JSON alike.
    expect(html).not.toContain('sst<2>');
    expect(html).toContain('"sst\\u003c2>"');
    // Every shaded cell is focusable and carries its exact weight.
    expect(html).toContain('tabindex="0" data-r="1" data-c="1" data-label="L1 · sst&lt;2&gt;" data-value="0.7"');
    expect(html).toContain('data-label="without mnli: accuracy 0.5500, change" data-value="' + String(0.55 - 0.7) + '"');
    // No external assets: the only URL is the SVG namespace, scripts are inline.
    expect([...html.matchAll(/https?:\/\/[^"\s]+/g)].map((m) => m[0]).every((url) => url === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).not.toMatch(/<(link|img)\b|<script[^>]*\bsrc=/);
    const data = JSON.parse(/<script type="application\/json" id="explorer-data">(.*?)<\/script>/s.exec(html)?.[1] ?? '');
    expect(data.reports[0]).toEqual(single);
  });

  it('shades tokens by their mean attention over sites and draws the training curves and attention snapshots', () => {
    const withTokens: AttentionReport = {
      ...single,
      tokens: [{ id: 'ex1', label: 'entailment', tokens: ['[CLS]', 'good'], sites: [
        { layer: 0, location: 'output_adapter', weights: [[0.2, 0.8], [0.6, 0.4]] },
        { layer: 1, location: 'output_adapter', weights: [[0.4, 0.6], [1, 0]] },
      ] }],
    };
    const html = attentionHtml({ reports: [withTokens], training: { rte: {
      metrics: [{ step: 1, loss: 0.7, learningRate: 1e-4 }, { step: 2, loss: 0.5, learningRate: 5e-5, eval_accuracy: 0.75 }],
      attention: [{ step: 2, sites: [], overall: [0.25, 0.75] }],
    } } });
    expect(html).toContain('data-label="mnli · good" data-value="0.8"');
    expect(html).toContain('data-label="sst&lt;2&gt; · [CLS]" data-value="0.7"');
    expect(html).toContain('data-label="loss at step 2" data-value="0.5"');
    expect(html).toContain('data-label="accuracy at step 2" data-value="0.75"');
    expect(html).toContain('data-label="step 2 · sst&lt;2&gt;" data-value="0.75"');
  });
});

describe('parseStepLines', () => {
  it('reads a metrics log, keeping the last line of a step a resumed run logged again', () => {
    expect(parseStepLines('{"step":2,"loss":0.5}\n{"step":1,"loss":0.7}\n\n{"step":2,"loss":0.4}\n', 'm.jsonl')).toEqual([{ step: 1, loss: 0.7 }, { step: 2, loss: 0.4 }]);
  });

  it('names the file and line of a bad line', () => {
    expect(() => parseStepLines('{"step":1}\nnot json\n', 'metrics/fuse-rte.jsonl')).toThrow('metrics/fuse-rte.jsonl:2: expected a JSON object per line, got "not json"');
    expect(() => parseStepLines('{"loss":1}\n', 'm.jsonl')).toThrow('m.jsonl:1: expected an object with a numeric "step", got {"loss":1}');
  });

  it('leaves the measured speed out of a metrics log, so two runs of the same training give the same report', () => {
    const run = (speed: number) => parseMetricsLines(`{"step":1,"loss":0.7,"learningRate":0.001,"examplesPerSecond":${speed},"eval_accuracy":0.5}\n`, 'm.jsonl');
    expect(run(812.5)).toEqual([{ step: 1, loss: 0.7, learningRate: 0.001, eval_accuracy: 0.5 }]);
    expect(run(812.5)).toEqual(run(97.25));
  });
});

describe('AttentionRecorder', () => {
  it('keeps per-token weights of only the first rows of each site when bounded, and no tensor', async () => {
    const recorder = new AttentionRecorder({ perToken: 5 });
    const before = tf.memory().numTensors;
    const probabilities = (offset: number) => tf.tensor3d([0, 1, 2, 3].map((row) => [[0.5, 0.5], [offset + row / 10, 1 - offset - row / 10]]), [4, 2, 2]);
    const mask = tf.tensor2d([[1, 1], [1, 0], [1, 1], [1, 1]], [4, 2], 'int32');
    for (const [layer, offset] of [[0, 0], [1, 0], [0, 0.5], [1, 0.5]] as const) {
      const p = probabilities(offset);
      recorder.record(layer, 'output_adapter', p, mask);
      p.dispose();
    }
    mask.dispose();
    const sites = await recorder.take();
    expect(tf.memory().numTensors).toBe(before);
    // Each layer keeps the 4 rows of the first batch and 1 of the second; sums cover every row.
    expect(sites.map((site) => site.perToken?.length)).toEqual([4, 4, 1, 1]);
    expect(sites[0]?.perToken?.[2]?.[1]?.[0]).toBeCloseTo(0.2, 6);
    expect(sites[3]?.perToken?.[0]?.[1]?.[0]).toBeCloseTo(0.5, 6);
    expect(sites[2]?.sums[1]).toEqual([0.5, 0.5]);
    expect(sites[3]?.tokens).toEqual([2, 1, 2, 2]);
  });
});

describe('explorerDataFromFiles', () => {
  const file = (name: string, text: string) => ({ name, text: async () => text });

  it("reads a run directory's reports and fusion logs, and leaves other files unread", async () => {
    const report: AttentionReport = { target: 'rte', fusion: 'a,b', split: 'dev', adapters: ['a', 'b'], temperature: 1, all: { key: 'all', examples: 1, tokens: 3, sites: [], overall: [0.4, 0.6] } };
    const unread = { name: 'adapter_model.safetensors', text: async () => { throw new Error('read'); } };
    const { data, ignored } = await explorerDataFromFiles([
      file('attention.json', JSON.stringify(report)),
      file('fuse-rte.jsonl', '{"step":1,"loss":0.5}\n'),
      file('fuse-attention-rte.jsonl', '{"step":1,"sites":[],"overall":[0.4,0.6]}\n'),
      unread,
    ]);
    expect(data).toEqual({ reports: [report], training: { rte: { metrics: [{ step: 1, loss: 0.5 }], attention: [{ step: 1, sites: [], overall: [0.4, 0.6] }] } } });
    expect(ignored).toEqual(['adapter_model.safetensors']);
  });

  it('names a file that is not a report', async () => {
    await expect(explorerDataFromFiles([file('attention.json', '{"target":"rte"}')])).rejects.toThrow('attention.json: expected a report written by "adapterfusion inspect", but it has no adapters, all');
    await expect(explorerDataFromFiles([file('attention.json', '{')])).rejects.toThrow('attention.json: expected JSON (');
  });
});

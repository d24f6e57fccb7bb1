import { describe, expect, it } from 'vitest';
import { attentionHtml } from '../../fusion/attention-html';
import { attentionCsv, attentionTable, AttentionAggregator, type AttentionReport } from '../../fusion/attention-report';

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

  it('renders self-contained HTML with a heatmap per fusion and a target × adapter matrix for several', () => {
    const html = attentionHtml([single, report('cb', ['mnli', 'boolq'], [[0.1, 0.9]])]);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('Targets × adapters');
    expect(html.match(/<svg /g)).toHaveLength(4); // matrix, rte, rte's class, cb
    expect(html).toContain('sst&lt;2&gt;');
    expect(html).toContain('<title>rte: no boolq</title>'); // the matrix marks adapters a fusion lacks
    expect(html).not.toContain('sst<2>');
    // No external assets: the only URL is the SVG namespace.
    expect([...html.matchAll(/https?:\/\/[^"\s]+/g)].map((m) => m[0]).every((url) => url === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).not.toMatch(/<(script|link|img)\b/);
  });
});

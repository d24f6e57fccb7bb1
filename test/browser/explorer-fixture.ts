// A two-target explorer fixture with every view: per class, per example, ablation, tokens, training curves, attention
// snapshots. Seeded, so the screenshots in docs/web.md are the same every run.
import type { AttentionGroup, AttentionReport, ExplorerData, SiteMeans } from '../../fusion/index';
import { SeededRandom } from '../../src/index';

const random = new SeededRandom(24);

function weights(n: number, favourite: number): number[] {
  const raw = Array.from({ length: n }, (_, i) => random.next() + (i === favourite ? 1.5 : 0.2));
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((value) => value / total);
}

function group(key: string, adapters: number, favourite: number, examples: number): AttentionGroup {
  const sites: SiteMeans[] = [0, 1, 2, 3].map((layer) => ({ layer, location: 'output_adapter', mean: weights(adapters, layer < 2 ? (favourite + 1) % adapters : favourite) }));
  const overall = Array.from({ length: adapters }, (_, n) => sites.reduce((sum, site) => sum + (site.mean[n] ?? 0), 0) / sites.length);
  return { key, examples, tokens: examples * 9, sites, overall };
}

const TOKENS = [
  ['[CLS]', 'a', 'gripping', 'story', ',', 'well', 'told', '[SEP]'],
  ['[CLS]', 'the', 'plot', 'never', 'quite', 'lands', '[SEP]'],
];

/** Reports of `rte` (3 adapters, everything) and `cb` (2 adapters, means only), with rte's training logs. */
export function explorerFixture(): ExplorerData {
  const adapters = ['mnli', 'sst2', 'rte'];
  const rte: AttentionReport = {
    target: 'rte',
    fusion: adapters.join(','),
    split: 'dev',
    adapters,
    temperature: 1,
    metrics: { accuracy: 0.7112 },
    all: group('all', 3, 0, 277),
    perClass: [group('entailment', 3, 0, 146), group('not_entailment', 3, 1, 131)],
    perExample: ['dev-0', 'dev-1', 'dev-2'].map((id, i) => group(id, 3, i % 3, 1)),
    tokens: TOKENS.map((tokens, e) => ({
      id: `dev-${e}`,
      label: e === 0 ? 'entailment' : 'not_entailment',
      tokens,
      sites: [0, 1, 2, 3].map((layer) => ({ layer, location: 'output_adapter' as const, weights: tokens.map((_, t) => weights(3, (t + layer + e) % 3)) })),
    })),
    ablation: { metric: 'accuracy', full: 0.7112, withoutAdapter: [0.5812, 0.6968, 0.6751] },
  };
  const cb: AttentionReport = { target: 'cb', fusion: 'mnli,rte', split: 'dev', adapters: ['mnli', 'rte'], temperature: 1, all: group('all', 2, 0, 56) };
  const metrics = Array.from({ length: 60 }, (_, i) => ({
    step: i + 1,
    loss: 1.1 * Math.exp(-i / 20) + 0.25 + 0.05 * random.next(),
    learningRate: 5e-5 * Math.min(1, (i + 1) / 6) * (1 - i / 60),
    ...((i + 1) % 10 === 0 ? { eval_accuracy: 0.55 + 0.16 * (1 - Math.exp(-(i + 1) / 25)) } : {}),
  }));
  const attention = [10, 20, 30, 40, 50, 60].map((step, i) => {
    const overall = [0.34 + 0.05 * i, 0.33 - 0.03 * i, 0.33 - 0.02 * i];
    return { step, sites: [], overall };
  });
  return { reports: [rte, cb], training: { rte: { metrics, attention } } };
}

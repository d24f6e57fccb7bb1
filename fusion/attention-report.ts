import type { SublayerLocation } from '../src/index';
import type { SiteAttention } from './attention-recorder';

/** Mean attention per adapter at one fusion site. */
export interface SiteMeans {
  layer: number;
  location: SublayerLocation;
  /** Per adapter (fusion order), the mean weight over the non-padding tokens aggregated. */
  mean: number[];
}

/** Attention aggregated over a group of examples (all, one gold class, one example). */
export interface AttentionGroup {
  /** `all`, the class label, or the example id. */
  key: string;
  examples: number;
  /** Non-padding tokens aggregated. */
  tokens: number;
  sites: SiteMeans[];
  /** Per adapter, the mean over sites of `sites[].mean`: one number per adapter for the whole model. */
  overall: number[];
}

/** One example's part of a batch, as the report needs it. */
export interface ReportExample {
  id: string;
  /** Gold class label (classification and multiple choice), when known. */
  label?: string;
}

/** The dev metric of the fusion, and with each adapter masked in turn (`inspect --ablate`). */
export interface AblationResult {
  metric: string;
  full: number;
  /** Per adapter (fusion order): the metric with that adapter masked (its weight removed, the others renormalised). */
  withoutAdapter: number[];
}

/** One example's fusion attention token by token (`inspect --tokens N`): the explorer's token view. */
export interface TokenAttention {
  /** Example id (with ` choice k` for each choice of a multiple-choice example). */
  id: string;
  label?: string;
  /** The example's non-padding tokens, as the tokenizer spells them. */
  tokens: string[];
  /** Per site, per token and adapter, the attention weight. [sites][tokens][N] */
  sites: { layer: number; location: SublayerLocation; weights: number[][] }[];
}

/** Which adapters a fusion attends to, layer by layer: what `adapterfusion inspect` writes. */
export interface AttentionReport {
  target: string;
  /** Fusion name (`a,b,c`). */
  fusion: string;
  split: string;
  adapters: string[];
  /** The softmax temperature used. */
  temperature: number;
  /** The task's metrics on the split with all adapters (when it has gold labels). */
  metrics?: Record<string, number>;
  all: AttentionGroup;
  perClass?: AttentionGroup[];
  perExample?: AttentionGroup[];
  /** The first examples' attention per token, when asked. */
  tokens?: TokenAttention[];
  ablation?: AblationResult;
}

interface Totals {
  examples: number;
  tokens: number;
  /** Per site key, Σ weights per adapter. */
  sums: Map<string, number[]>;
}

const siteKey = (layer: number, location: SublayerLocation): string => `${layer}/${location}`;

/**
 * Averages recorded fusion attention over non-padding tokens, overall and on request per gold class and per example.
 * Averages are token-weighted: every real token counts once, wherever it sits.
 *
 * @example
 * const aggregator = new AttentionAggregator(['sentiment', 'topic'], { perClass: true });
 * aggregator.add(recorder.take(), batch.ids.map((id, i) => ({ id, label: labels[i] })));
 * const all = aggregator.group('all');
 */
export class AttentionAggregator {
  private readonly sites: { layer: number; location: SublayerLocation }[] = [];
  private readonly all: Totals = emptyTotals();
  private readonly classes = new Map<string, Totals>();
  private readonly examples = new Map<string, Totals>();

  constructor(
    readonly adapters: readonly string[],
    private readonly options: { perClass?: boolean; perExample?: boolean } = {},
  ) {}

  /**
   * Adds one batch: the recorder's sites for it and its examples. Multiple-choice batches have several rows per
   * example (one per choice); they are counted under that example.
   */
  add(sites: readonly SiteAttention[], examples: readonly ReportExample[]): void {
    for (const site of sites) {
      const key = siteKey(site.layer, site.location);
      if (!this.sites.some((s) => siteKey(s.layer, s.location) === key)) this.sites.push({ layer: site.layer, location: site.location });
      const rowsPerExample = site.sums.length / examples.length;
      if (!Number.isInteger(rowsPerExample)) throw new Error(`attention of ${site.sums.length} rows cannot belong to ${examples.length} examples`);
      site.sums.forEach((sums, row) => {
        const example = examples[Math.floor(row / rowsPerExample)] as ReportExample;
        for (const totals of this.targets(example)) addSums(totals, key, sums);
      });
    }
    // Token and example counts come from one site: every site sees the same tokens.
    const first = sites[0];
    if (!first) return;
    const rowsPerExample = first.tokens.length / examples.length;
    examples.forEach((example, i) => {
      const tokens = first.tokens.slice(i * rowsPerExample, (i + 1) * rowsPerExample).reduce((a, b) => a + b, 0);
      for (const totals of this.targets(example)) {
        totals.examples += 1;
        totals.tokens += tokens;
      }
    });
  }

  /** The totals one example contributes to: all, its class, itself. */
  private targets(example: ReportExample): Totals[] {
    const targets = [this.all];
    if (this.options.perClass && example.label !== undefined) targets.push(getOrCreate(this.classes, example.label));
    if (this.options.perExample) targets.push(getOrCreate(this.examples, example.id));
    return targets;
  }

  /** The aggregate over every example added. */
  group(): AttentionGroup {
    return this.toGroup('all', this.all);
  }

  /** Per gold class, in order of first appearance. */
  perClass(): AttentionGroup[] {
    return [...this.classes].map(([label, totals]) => this.toGroup(label, totals));
  }

  /** Per example, in the order added. */
  perExample(): AttentionGroup[] {
    return [...this.examples].map(([id, totals]) => this.toGroup(id, totals));
  }

  private toGroup(key: string, totals: Totals): AttentionGroup {
    const sites = this.sites
      .map(({ layer, location }) => ({
        layer,
        location,
        mean: (totals.sums.get(siteKey(layer, location)) ?? this.adapters.map(() => 0)).map((sum) => (totals.tokens > 0 ? sum / totals.tokens : 0)),
      }))
      .sort((a, b) => a.layer - b.layer || a.location.localeCompare(b.location));
    const overall = this.adapters.map((_, n) => (sites.length ? sites.reduce((total, site) => total + (site.mean[n] ?? 0), 0) / sites.length : 0));
    return { key, examples: totals.examples, tokens: totals.tokens, sites, overall };
  }
}

function emptyTotals(): Totals {
  return { examples: 0, tokens: 0, sums: new Map() };
}

function getOrCreate(map: Map<string, Totals>, key: string): Totals {
  let totals = map.get(key);
  if (!totals) map.set(key, (totals = emptyTotals()));
  return totals;
}

function addSums(totals: Totals, key: string, sums: readonly number[]): void {
  const current = totals.sums.get(key) ?? sums.map(() => 0);
  totals.sums.set(key, current.map((value, n) => value + (sums[n] ?? 0)));
}

/** A short label for a site: `L3` for the feed-forward output, `L3 attn` for the attention output. */
export function siteLabel(site: { layer: number; location: SublayerLocation }): string {
  return `L${site.layer}${site.location === 'mh_adapter' ? ' attn' : ''}`;
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The report as CSV in long format, one row per group, site and adapter:
 * `scope,key,layer,location,adapter,weight,tokens` (scope `all`, `class` or `example`).
 */
export function attentionCsv(report: AttentionReport): string {
  const lines = ['scope,key,layer,location,adapter,weight,tokens'];
  const groups: [string, AttentionGroup][] = [
    ['all', report.all],
    ...(report.perClass ?? []).map((group): [string, AttentionGroup] => ['class', group]),
    ...(report.perExample ?? []).map((group): [string, AttentionGroup] => ['example', group]),
  ];
  for (const [scope, group] of groups) {
    for (const site of group.sites) {
      site.mean.forEach((weight, n) => {
        lines.push([scope, group.key, site.layer, site.location, report.adapters[n] ?? '', weight.toFixed(6), group.tokens].map(csvField).join(','));
      });
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A compact terminal table: one row per site, one column per adapter, the largest weight of each row starred; then
 * the per-class overall rows and the ablation, when present.
 */
export function attentionTable(report: AttentionReport): string {
  const width = Math.max(7, ...report.adapters.map((name) => name.length + 1));
  const labelWidth = Math.max(10, ...(report.perClass ?? []).map((group) => group.key.length + 2));
  const row = (label: string, values: readonly number[]) => {
    const best = values.indexOf(Math.max(...values));
    return label.padEnd(labelWidth) + values.map((v, n) => `${v.toFixed(3)}${n === best ? '*' : ' '}`.padStart(width)).join('');
  };
  const metrics = Object.entries(report.metrics ?? {}).map(([name, value]) => `, ${name} ${value.toFixed(4)}`).join('');
  const lines = [
    `fusion attention for ${report.target} over ${report.split} (${report.all.examples} examples, ${report.all.tokens} tokens, T=${report.temperature}${metrics})`,
    ''.padEnd(labelWidth) + report.adapters.map((name) => name.padStart(width)).join(''),
    ...report.all.sites.map((site) => row(siteLabel(site), site.mean)),
    row('mean', report.all.overall),
  ];
  for (const group of report.perClass ?? []) lines.push(row(`[${group.key}]`, group.overall));
  if (report.ablation) {
    const { metric, full, withoutAdapter } = report.ablation;
    lines.push(`${metric} with all adapters: ${full.toFixed(4)}`);
    withoutAdapter.forEach((value, n) => lines.push(`  without ${report.adapters[n] ?? n}: ${value.toFixed(4)} (${signed(value - full)})`));
  }
  return `${lines.join('\n')}\n`;
}

/** A change with its sign, to 4 decimals: `+0.0100`, `-0.1300`. */
export function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(4)}`;
}

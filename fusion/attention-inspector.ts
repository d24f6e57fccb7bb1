import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  backboneForAdapters,
  encodeExamples,
  loadTokenizer,
  makeBatches,
  predictWithModel,
  readTaskSplit,
  readTextFile,
  fusionStageKey,
  RunDirectory,
  scorePredictions,
  writeFileAtomic,
  writeJsonAtomic,
  WordPieceTokenizer,
  type Batch,
  type HeadSpec,
  type StageRecord,
  type TaskRegistry,
  type Tokenizer,
} from '../src/index';
import { loadFusionBundle } from './adapter-fusion-loader';
import { attentionHtml } from './attention-html';
import { AttentionRecorder, type SiteAttention } from './attention-recorder';
import { AttentionAggregator, attentionCsv, attentionTable, type AttentionReport, type TokenAttention } from './attention-report';
import { parseMetricsLines, parseStepLines, trainingLogFiles, type AttentionSnapshot, type TrainingLog } from './explorer-data';
import type { FusionStageRecord } from './fusion-stage';
import { evaluateBatches, type FusionModel } from './fusion-model';

/** The class name of a gold label, for per-class aggregation; undefined where classes do not apply. */
function className(head: HeadSpec, label: number | number[] | undefined): string | undefined {
  if (typeof label !== 'number') return undefined;
  if (head.type === 'classification') return head.labels[label] ?? String(label);
  if (head.type === 'multiple-choice') return `choice ${label}`;
  return undefined;
}

/** What to inspect and how. */
export interface InspectRequest {
  /** Run directory holding the trained fusions (`<run>/fusion/<target>`). */
  runDir: string;
  /** Target tasks whose fusions to inspect; several give a target × adapter matrix too. */
  targets: readonly string[];
  /** Split to run over (default: the split that selected the fusion's weights, usually `dev`). */
  split?: string;
  /** Also aggregate per gold class. */
  perClass?: boolean;
  /** Also report every example. */
  perExample?: boolean;
  /** Also keep the attention of the first this many examples token by token (the explorer's token view). */
  tokens?: number;
  /** Also measure the dev metric with each adapter masked in turn. */
  ablate?: boolean;
  /** Softmax temperature (default: the one the fusion was saved with, 1 unless its temperature schedule was on). */
  temperature?: number;
  /** Output directory (default `<run>/reports`); each target's files go to `<out>/<target>/`. */
  outDir?: string;
  /** Receives progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** What an inspection wrote. */
export interface InspectResult {
  /** Every file written. */
  files: string[];
  /** Compact terminal tables, one per target. */
  table: string;
}

/** The plugin modules the fusions of `targets` in a run were trained with: what a container must load to inspect them. */
export function fusionModules(runDir: string, targets: readonly string[]): string[] {
  const stages = new RunDirectory(runDir).readManifest().stages;
  const modules = targets.flatMap((target) => (stages[fusionStageKey(target)] as (StageRecord & Partial<FusionStageRecord>) | undefined)?.config?.modules ?? []);
  return [...new Set(modules)];
}

/** The training logs of a target's fusion in a run directory (empty where the run has none). */
export function readTrainingLog(run: RunDirectory, target: string): TrainingLog {
  const files = trainingLogFiles(target);
  const read = <T>(name: string, parse: (text: string, file: string) => T[]): T[] => {
    const file = join(run.root, 'metrics', name);
    return existsSync(file) ? parse(readTextFile(file), file) : [];
  };
  return { metrics: read(files.metrics, parseMetricsLines), attention: read(files.attention, parseStepLines<AttentionSnapshot>) };
}

/** A tokenizer's spelling of token ids (ids as numbers where it has no vocabulary to spell them). */
function spell(tokenizer: Tokenizer, ids: readonly number[]): string[] {
  return tokenizer instanceof WordPieceTokenizer ? tokenizer.convertIdsToTokens(ids) : ids.map(String);
}

/**
 * The token view of the rows whose per-token weights a bounded recorder kept: `sites` holds each batch's sites in the
 * order they ran, `perBatch` of them per batch.
 */
function tokenAttention(batches: readonly Batch[], sites: readonly SiteAttention[], perBatch: number, tokenizer: Tokenizer, label: (batch: Batch, i: number) => string | undefined): TokenAttention[] {
  const views: TokenAttention[] = [];
  batches.forEach((batch, b) => {
    const batchSites = sites.slice(b * perBatch, (b + 1) * perBatch);
    const rows = batchSites[0]?.perToken?.length ?? 0;
    const rowsPerExample = batch.inputIds.length / batch.ids.length;
    for (let row = 0; row < rows; row++) {
      const example = Math.floor(row / rowsPerExample);
      const real = (batch.attentionMask[row] ?? []).flatMap((on, t) => (on ? [t] : []));
      const exampleLabel = label(batch, example);
      views.push({
        id: `${batch.ids[example] ?? row}${rowsPerExample > 1 ? ` choice ${row % rowsPerExample}` : ''}`,
        ...(exampleLabel === undefined ? {} : { label: exampleLabel }),
        tokens: spell(tokenizer, real.map((t) => batch.inputIds[row]?.[t] ?? 0)),
        sites: batchSites.map((site) => ({ layer: site.layer, location: site.location, weights: real.map((t) => site.perToken?.[row]?.[t] ?? []) })),
      });
    }
  });
  return views;
}

/**
 * Runs each trained fusion of a run over a split in inference mode (`adapterfusion inspect`), records its attention,
 * and writes `attention.json`, `attention.csv` and a self-contained `attention.html` explorer per target (plus a
 * target × adapter page for several targets), with the fusion's training curves from the run's metrics logs. The registry must hold every target's task: load the modules its fusion was
 * trained with (`fusionModules`) into the container first.
 *
 * @example
 * const container = createContainer([...modules, ...(await loadModules(fusionModules('runs/demo', ['demo-review']), '/'))]);
 * const { table, files } = await new AttentionInspector(taskRegistry(container)).inspect({ runDir: 'runs/demo', targets: ['demo-review'], ablate: true });
 */
export class AttentionInspector {
  constructor(private readonly tasks: TaskRegistry) {}

  async inspect(request: InspectRequest): Promise<InspectResult> {
    const log = request.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    if (request.targets.length === 0) throw new Error('inspect: expected at least one target task, got none');
    const run = new RunDirectory(request.runDir);
    const stages = run.readManifest().stages;
    const reports: AttentionReport[] = [];
    for (const target of request.targets) {
      const record = stages[fusionStageKey(target)] as (StageRecord & FusionStageRecord) | undefined;
      if (!record) {
        const fused = Object.keys(stages).filter((key) => key.startsWith('fuse/')).map((key) => key.slice(5));
        throw new Error(`${run.manifestPath}: no fusion trained for "${target}" (fused targets: ${fused.length ? fused.join(', ') : 'none'}); run "adapterfusion fuse" first`);
      }
      reports.push(await this.inspectTarget(run, target, record, request, log));
    }

    const files: string[] = [];
    const write = (file: string, content: string | object) => {
      if (typeof content === 'string') writeFileAtomic(file, content);
      else writeJsonAtomic(file, content);
      files.push(file);
    };
    const outRoot = request.outDir ?? join(run.root, 'reports');
    const training = Object.fromEntries(reports.map((report) => [report.target, readTrainingLog(run, report.target)]));
    for (const report of reports) {
      const dir = join(outRoot, report.target);
      write(join(dir, 'attention.json'), report);
      write(join(dir, 'attention.csv'), attentionCsv(report));
      write(join(dir, 'attention.html'), attentionHtml({ reports: [report], training: { [report.target]: training[report.target] as TrainingLog } }));
    }
    if (reports.length > 1) write(join(outRoot, 'attention.html'), attentionHtml({ reports, training }));
    return { files, table: reports.map(attentionTable).join('\n') };
  }

  private async inspectTarget(run: RunDirectory, target: string, record: FusionStageRecord, request: InspectRequest, log: (line: string) => void): Promise<AttentionReport> {
    const { config } = record;
    const plugin = this.tasks.get(target);
    const backbone = await backboneForAdapters(run, config.backbone, { warn: log });
    try {
      const tokenizer = await loadTokenizer(config.tokenizer ?? (config.backbone as string));
      const bundle = await loadFusionBundle(run.fusionDir(target), backbone);
      const { fusion, adapters, head } = bundle;
      try {
        if (!head) throw new Error(`${run.fusionHeadDir(target)}: the fusion has no head; it was not trained by "adapterfusion fuse"`);
        const split = request.split ?? config.evalSplit;
        const examples = await readTaskSplit(plugin, split, { dataDir: config.dataDir, ...(config.maxExamples === undefined ? {} : { maxExamples: config.maxExamples }) });
        const batches: Batch[] = makeBatches(encodeExamples(examples, tokenizer, plugin.head, config.maxLength), {
          batchSize: config.training.batchSize,
          shuffle: false,
          seed: 0,
          padTokenId: tokenizer.padTokenId,
        });
        const temperature = request.temperature ?? bundle.temperature;
        const model: FusionModel = { backbone, adapters, fusion, head };
        const perClass = request.perClass === true && (plugin.head.type === 'classification' || plugin.head.type === 'multiple-choice');
        if (request.perClass && !perClass) log(`inspect ${target}: per-class attention needs a classification or multiple-choice task; "${target}" is ${plugin.head.type}`);
        const aggregator = new AttentionAggregator(fusion.adapterNames, { perClass, perExample: request.perExample === true });
        const recorder = new AttentionRecorder(request.tokens ? { perToken: request.tokens } : {});
        log(`inspect ${target}: fusion ${fusion.name} over ${examples.length} ${split} examples (temperature ${temperature})`);
        const predicted = await predictWithModel({ backbone, head, hook: fusion.hook({ temperature, recorder }) }, batches, false);
        // The recorder holds every site of every batch, in the order they ran.
        const sites = await recorder.take();
        const label = (batch: Batch, i: number) => className(plugin.head, batch.labels?.[i]);
        batches.forEach((batch, b) => {
          const examples = batch.ids.map((id, i) => {
            const gold = label(batch, i);
            return gold === undefined ? { id } : { id, label: gold };
          });
          aggregator.add(sites.slice(b * fusion.sites.length, (b + 1) * fusion.sites.length), examples);
        });
        const labelled = batches.every((batch) => batch.labels);
        const metrics = labelled ? scorePredictions(plugin.head, plugin.metrics, predicted) : undefined;
        const report: AttentionReport = {
          target,
          fusion: fusion.name,
          split,
          adapters: [...fusion.adapterNames],
          temperature,
          all: aggregator.group(),
          ...(metrics ? { metrics } : {}),
          ...(perClass ? { perClass: aggregator.perClass() } : {}),
          ...(request.perExample ? { perExample: aggregator.perExample() } : {}),
          ...(request.tokens ? { tokens: tokenAttention(batches, sites, fusion.sites.length, tokenizer, label) } : {}),
        };
        if (request.ablate) {
          if (!metrics) throw new Error(`inspect ${target}: --ablate needs gold labels, and the ${split} split has none`);
          const metric = plugin.metrics[0] as string;
          const withoutAdapter: number[] = [];
          for (const [n, name] of fusion.adapterNames.entries()) {
            log(`inspect ${target}: ${metric} without ${name}`);
            const mask = fusion.adapterNames.map((_, m) => (m === n ? 0 : 1));
            withoutAdapter.push((await evaluateBatches(model, batches, [metric], { temperature, adapterMask: mask }))[metric] as number);
          }
          report.ablation = { metric, full: metrics[metric] as number, withoutAdapter };
        }
        return report;
      } finally {
        fusion.dispose();
        head?.dispose();
        for (const adapter of adapters) adapter.dispose();
      }
    } finally {
      backbone.dispose();
    }
  }
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from './atomic';

/** Manifest key of a task's ST-A extraction. */
export function extractionStageKey(task: string): string {
  return `extract/${task}`;
}

/** Manifest key of the composition stage (fusion) of a target task. */
export function fusionStageKey(target: string): string {
  return `fuse/${target}`;
}

/** Manifest key of the MT-A stage (one stage for all its tasks). */
export const MTA_STAGE_KEY = 'mt-a';

/** What a finished stage recorded about itself in the manifest. */
export interface StageRecord {
  /** ISO time the stage finished. */
  finishedAt: string;
  /** The validated configuration it ran with. */
  config: unknown;
  /** Seeds it used. */
  seed?: number;
  /** Final or best metrics. */
  metrics?: Record<string, number>;
  /** Anything else worth keeping (files written, timings). */
  [key: string]: unknown;
}

/** The manifest of a run directory: enough to reproduce a result and refuse mismatched files. */
export interface RunManifest {
  /** Manifest format version. */
  formatVersion: 1;
  /** sha256 of the backbone weights the run started from. */
  backboneHash?: string;
  /** Path of the backbone directory as given. */
  backbonePath?: string;
  /** Package, tfjs and Node versions, and the backend. */
  environment?: Record<string, string>;
  /** Finished stages by key, e.g. `extract/rte`, `fuse/rte`, `mt-a`. */
  stages: Record<string, StageRecord>;
}

/**
 * The layout of one run on disk; every stage writes through it so the layout is defined once:
 *
 * ```
 * <run>/manifest.json                 backbone hash, configs, seeds, versions, finished stages
 * <run>/adapters/<task>/              adapter_config.json + adapter.safetensors (AdapterHub layout)
 * <run>/heads/<task>/                 head_config.json + model_head.safetensors
 * <run>/fusion/<target>/              adapter_fusion_config.json + model_adapter_fusion.safetensors, head/
 * <run>/backbone/                     MT-A only: the jointly tuned backbone (config.json + model.safetensors)
 * <run>/metrics/<stage>-<task>.jsonl  one line per evaluation
 * <run>/checkpoints/<stage>-<task>/   trainer state for --resume
 * <run>/reports/<target>/             attention.json, attention.csv, attention.html
 * ```
 */
export class RunDirectory {
  constructor(readonly root: string) {}

  adapterDir(task: string): string {
    return join(this.root, 'adapters', task);
  }

  headDir(task: string): string {
    return join(this.root, 'heads', task);
  }

  fusionDir(target: string): string {
    return join(this.root, 'fusion', target);
  }

  fusionHeadDir(target: string): string {
    return join(this.fusionDir(target), 'head');
  }

  backboneDir(): string {
    return join(this.root, 'backbone');
  }

  metricsFile(stage: string, task: string): string {
    return join(this.root, 'metrics', `${stage}-${task}.jsonl`);
  }

  checkpointDir(stage: string, task: string): string {
    return join(this.root, 'checkpoints', `${stage}-${task}`);
  }

  reportDir(target: string): string {
    return join(this.root, 'reports', target);
  }

  get manifestPath(): string {
    return join(this.root, 'manifest.json');
  }

  /** The manifest, or an empty one for a new run. */
  readManifest(): RunManifest {
    if (!existsSync(this.manifestPath)) return { formatVersion: 1, stages: {} };
    try {
      return JSON.parse(readFileSync(this.manifestPath, 'utf8')) as RunManifest;
    } catch (error) {
      throw new Error(`${this.manifestPath}: not a valid run manifest: ${(error as Error).message}`);
    }
  }

  /** Merges fields into the manifest and writes it atomically. */
  updateManifest(patch: Partial<Omit<RunManifest, 'stages'>>): RunManifest {
    const manifest = { ...this.readManifest(), ...patch };
    writeJsonAtomic(this.manifestPath, manifest);
    return manifest;
  }

  /** Records a finished stage (after its files are written), making it skippable on the next run. */
  recordStage(key: string, record: { config: unknown } & Partial<StageRecord>): void {
    const manifest = this.readManifest();
    manifest.stages[key] = { ...record, finishedAt: new Date().toISOString() };
    writeJsonAtomic(this.manifestPath, manifest);
  }

  /** True when the stage finished in an earlier run. */
  isDone(key: string): boolean {
    return key in this.readManifest().stages;
  }
}

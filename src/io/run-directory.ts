import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { writeJsonAtomic } from './atomic';
import { withFileLockSync } from './file-lock';
import { FileError, fileError, MAX_BINARY_FILE_BYTES, readFileBounded, readJsonFile } from './read-file';

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
  /** sha256 of every file the stage wrote (under the paths of `files`), by path relative to the run directory. */
  outputs?: Record<string, string>;
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

  /** The manifest, or an empty one for a new run; an unreadable or malformed one is a `FileError` naming it. */
  readManifest(): RunManifest {
    if (!existsSync(this.manifestPath)) return { formatVersion: 1, stages: {} };
    const json = readJsonFile(this.manifestPath, 'a run manifest (restore it, or use another run directory)');
    const manifest = json as Partial<RunManifest> | null;
    const isObject = (value: unknown): value is object => value !== null && typeof value === 'object' && !Array.isArray(value);
    if (!isObject(manifest) || manifest.formatVersion !== 1 || !isObject(manifest.stages) || !Object.values(manifest.stages).every(isObject)) {
      throw new FileError(
        this.manifestPath,
        'read the run manifest',
        `expected {"formatVersion": 1, "stages": {...}} with an object per stage, got ${JSON.stringify(json)?.slice(0, 80)}; restore it, or use another run directory`,
      );
    }
    return manifest as RunManifest;
  }

  /** Merges fields into the manifest and writes it atomically. */
  updateManifest(patch: Partial<Omit<RunManifest, 'stages'>>): RunManifest {
    return this.changeManifest((manifest) => Object.assign(manifest, patch));
  }

  /**
   * Records a finished stage (after its files are written), making it skippable on the next run; the sha256 of every
   * file under the paths its `files` names (relative to the run directory) goes in `outputs`.
   */
  recordStage(key: string, record: { config: unknown } & Partial<StageRecord>): void {
    const outputs: Record<string, string> = {};
    for (const path of stringsIn(record.files)) for (const file of this.filesUnder(path)) outputs[file] = this.hashOf(file);
    this.changeManifest((manifest) => {
      manifest.stages[key] = { ...record, outputs, finishedAt: new Date().toISOString() };
      return manifest;
    });
  }

  /** Read-modify-write under the manifest's lock file: stages running in parallel processes never lose each other's records. */
  private changeManifest(change: (manifest: RunManifest) => RunManifest): RunManifest {
    return withFileLockSync(`${this.manifestPath}.lock`, 'manifest', () => {
      const manifest = change(this.readManifest());
      writeJsonAtomic(this.manifestPath, manifest);
      return manifest;
    });
  }

  /** True when the manifest records the stage (its files unchecked; `completedStage` checks them). */
  isDone(key: string): boolean {
    return key in this.readManifest().stages;
  }

  /**
   * The record of a stage that finished in an earlier run and whose files are all still there as it wrote them
   * (sha256 against the manifest's `outputs`); otherwise undefined, with the reason logged, so the stage runs again.
   */
  completedStage(key: string, log: (line: string) => void): StageRecord | undefined {
    const record = this.readManifest().stages[key];
    if (!record) return undefined;
    for (const [file, hash] of Object.entries(record.outputs ?? {})) {
      const problem =
        !this.isInside(file) ? 'names a file outside the run directory'
        : !existsSync(join(this.root, file)) ? 'is missing'
        : this.hashOf(file) !== hash ? 'has changed since (its sha256 differs)'
        : undefined;
      if (problem !== undefined) {
        log(`${key}: ${this.manifestPath} records it as done, but ${file} ${problem}; running it again`);
        return undefined;
      }
    }
    return record;
  }

  /** Whether a path from the manifest stays inside the run directory. */
  private isInside(path: string): boolean {
    const rel = relative(this.root, resolve(this.root, path));
    return rel !== '' && !isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`);
  }

  /** Files under a path relative to the run directory (the path itself when it is a file), sorted. */
  private filesUnder(path: string): string[] {
    if (!this.isInside(path)) throw new Error(`${path}: expected a path inside the run directory ${this.root}`);
    const full = join(this.root, path);
    try {
      if (!existsSync(full)) return [];
      if (!statSync(full).isDirectory()) return [path];
      return readdirSync(full).sort().flatMap((entry) => this.filesUnder(join(path, entry)));
    } catch (error) {
      throw fileError(error, full, 'list the stage\'s files');
    }
  }

  private hashOf(file: string): string {
    return createHash('sha256').update(readFileBounded(join(this.root, file), MAX_BINARY_FILE_BYTES)).digest('hex');
  }
}

/** Every string in a value of nested objects (a stage record's `files`). */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(stringsIn);
}

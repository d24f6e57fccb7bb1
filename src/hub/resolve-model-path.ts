import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ProgressStream } from '../training/progress-bar';
import { HubCacheFolder } from './hub-cache';
import { HubClient } from './hub-client';
import { HubError } from './hub-error';
import { isCommitHash, parseHubId, type HubId } from './hub-id';
import { hubSettings } from './hub-settings';

/** Options of `resolveModelPath` and `downloadModel`. */
export interface ResolveModelOptions {
  /** Relative paths are taken from here (default: the working directory). */
  baseDir?: string;
  /** Environment variables to read (default: `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Where download progress bars draw (default: stderr when it is a terminal); null for none. */
  progress?: ProgressStream | null;
  /** One-line messages (default: to stderr). */
  log?: (line: string) => void;
}

const SHARD_INDEX = 'model.safetensors.index.json';
// What the library reads from a model, adapter, fusion or head repository: configs, vocabularies and safetensors
// weights. PyTorch, TensorFlow, Flax and ONNX weights, and files in subfolders, are left on the Hub.
const WANTED = /^[^/]+\.(json|txt|safetensors|model)$/;

/** The safetensors shards `model.safetensors.index.json` lists. */
function shardsOf(indexFile: string, id: HubId): Set<string> {
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { weight_map?: Record<string, unknown> };
  if (index.weight_map === undefined || typeof index.weight_map !== 'object')
    throw new HubError(`${id.repoId}@${id.revision}: ${SHARD_INDEX}: expected a weight_map, got none`);
  return new Set(Object.values(index.weight_map).filter((shard): shard is string => typeof shard === 'string'));
}

/**
 * Downloads (or finds in the cache) the files of a Hub model that the library reads, and returns its snapshot
 * directory. With `HF_HUB_OFFLINE` set, only the cache is used. See docs/models.md.
 *
 * @example
 * const dir = await downloadModel({ repoId: 'google-bert/bert-base-uncased', revision: 'main' });
 */
export async function downloadModel(id: HubId, options: ResolveModelOptions = {}): Promise<string> {
  const settings = hubSettings(options.env);
  const cache = new HubCacheFolder(settings.cacheDir, id.repoId);
  const commitInCache = isCommitHash(id.revision) ? id.revision : cache.readRef(id.revision);
  const cached = commitInCache !== undefined && existsSync(cache.snapshotDir(commitInCache)) ? cache.snapshotDir(commitInCache) : undefined;
  if (settings.offline) {
    const missing = commitInCache === undefined ? cache.refPath(id.revision) : cache.snapshotDir(commitInCache);
    if (cached === undefined)
      throw new HubError(`${id.repoId}@${id.revision}: HF_HUB_OFFLINE is set and the cache has no copy: ${missing} is missing; download it once without HF_HUB_OFFLINE (or give a local directory)`);
    return cached;
  }
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const progress = options.progress === undefined ? (process.stderr.isTTY ? process.stderr : null) : options.progress;
  const client = new HubClient(settings, progress, log);
  let listing: { commit: string; files: string[] };
  try {
    listing = await client.listFiles(id);
  } catch (error) {
    // As huggingface_hub does: without an answer from the Hub, a copy in the cache is used.
    if (!(error instanceof HubError && error.unreachable && cached !== undefined)) throw error;
    log(`${(error as Error).message.split(';')[0]}; using the copy in ${cached}`);
    return cached;
  }
  const { commit, files } = listing;
  let wanted = files.filter((file) => WANTED.test(file));
  if (wanted.length === 0)
    throw new HubError(`${id.repoId}@${id.revision}: none of its files is one the library reads (top-level .json, .txt, .safetensors or .model files); it holds ${files.join(', ') || 'no files'}`);
  if (!wanted.some((file) => file.endsWith('.safetensors')) && files.some((file) => file.endsWith('.bin')))
    log(`${id.repoId}@${id.revision}: its weights are PyTorch .bin files only, which are not downloaded; the library reads safetensors`);
  if (wanted.includes(SHARD_INDEX)) {
    const shards = shardsOf(await client.download(id, commit, SHARD_INDEX), id);
    wanted = wanted.filter((file) => !file.endsWith('.safetensors') || shards.has(file));
  }
  for (const file of wanted) await client.download(id, commit, file);
  if (id.revision !== commit) cache.writeRef(id.revision, commit);
  return cache.snapshotDir(commit);
}

/**
 * The local directory for a model, adapter, fusion or head given as a path or a Hub id: an existing path (relative
 * ones from `baseDir`) is returned as it is; `name`, `org/name` or `org/name@revision` that is no existing path is
 * downloaded from the Hugging Face Hub into its cache (see `downloadModel`); anything else is returned resolved, for
 * the loader to report as missing.
 *
 * @example
 * const dir = await resolveModelPath('google-bert/bert-base-uncased');
 * const model = await BertModel.fromPretrained(dir);
 */
export async function resolveModelPath(pathOrId: string, options: ResolveModelOptions = {}): Promise<string> {
  const local = isAbsolute(pathOrId) ? pathOrId : resolve(options.baseDir ?? process.cwd(), pathOrId);
  if (existsSync(local)) return local;
  const id = parseHubId(pathOrId);
  return id === null ? local : downloadModel(id, options);
}


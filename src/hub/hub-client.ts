import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ProgressBar, type ProgressStream } from '../training/progress-bar';
import { HubCacheFolder } from './hub-cache';
import { HubError } from './hub-error';
import type { HubId } from './hub-id';
import type { HubSettings } from './hub-settings';

/** What the Hub says about one file at a commit (from the headers of its resolve URL). */
interface FileMetadata {
  /** The blob name: the sha256 of an LFS file, the git blob hash of another. */
  etag: string;
  size: number;
}

const ATTEMPTS = 5;

function describe(id: HubId): string {
  return `${id.repoId}@${id.revision}`;
}

/** The ETag header without `W/` and quotes. */
function plainEtag(value: string | null): string | undefined {
  return value?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

/** Hex sha256 of a file, or its git blob hash (sha1 of `blob <size>\0` and the content). */
async function hashFile(path: string, kind: 'sha256' | 'git'): Promise<string> {
  const hash = createHash(kind === 'git' ? 'sha1' : 'sha256');
  if (kind === 'git') hash.update(`blob ${statSync(path).size}\0`);
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Talks to the Hub (or `HF_ENDPOINT`): the commit and file list of a revision, and each file into the cache,
 * resumed with `Range` after a dropped connection, checked against the size and hash the Hub gives, and renamed into
 * place only when whole.
 */
export class HubClient {
  constructor(
    private readonly settings: HubSettings,
    /** Where progress bars draw; null for none. */
    private readonly progress: ProgressStream | null,
    private readonly log: (line: string) => void,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'user-agent': 'adapterfusion', ...(this.settings.token ? { authorization: `Bearer ${this.settings.token}` } : {}), ...extra };
  }

  /** `fetch`, with a network failure reported as a HubError naming the model and the URL. */
  private async request(id: HubId, url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new HubError(`${describe(id)}: cannot reach ${url} (${cause}); check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only`, true);
    }
  }

  /** A HubError for an answer other than success, saying what to do about a 401/403 or 404. */
  private refusal(id: HubId, url: string, response: Response): HubError {
    const status = `${url} answered ${response.status} ${response.statusText}`.trim();
    if (response.status === 401 || response.status === 403) {
      const hint = this.settings.token
        ? 'the token in HF_TOKEN was refused: check that it is valid and grants access to this model (gated models need their terms accepted on the Hub)'
        : 'the model is private or gated, or does not exist: set HF_TOKEN to a token that can read it';
      return new HubError(`${describe(id)}: ${status}; ${hint}`);
    }
    if (response.status === 404) return new HubError(`${describe(id)}: ${status}; no such model, revision or file on ${this.settings.endpoint}`);
    return new HubError(`${describe(id)}: ${status}`);
  }

  /** The commit `id.revision` points to and the paths of the files in it. */
  async listFiles(id: HubId): Promise<{ commit: string; files: string[] }> {
    const url = `${this.settings.endpoint}/api/models/${id.repoId}/revision/${encodeURIComponent(id.revision)}`;
    const response = await this.request(id, url, { headers: this.headers() });
    if (!response.ok) throw this.refusal(id, url, response);
    const body = (await response.json()) as { sha?: unknown; siblings?: Array<{ rfilename?: unknown }> };
    if (typeof body.sha !== 'string' || !Array.isArray(body.siblings))
      throw new HubError(`${describe(id)}: ${url}: expected a model's sha and siblings, got ${JSON.stringify(body).slice(0, 200)}`);
    return { commit: body.sha, files: body.siblings.map((sibling) => sibling.rfilename).filter((name): name is string => typeof name === 'string') };
  }

  private resolveUrl(id: HubId, commit: string, file: string): string {
    return `${this.settings.endpoint}/${id.repoId}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * The file's blob name and size, from the headers of its resolve URL. An LFS file's redirect to its storage is not
   * followed (the headers are on the redirect); a relative redirect (a renamed repository) is.
   */
  private async metadata(id: HubId, commit: string, file: string): Promise<FileMetadata> {
    let url = this.resolveUrl(id, commit, file);
    let response = await this.request(id, url, { method: 'HEAD', redirect: 'manual', headers: this.headers({ 'accept-encoding': 'identity' }) });
    for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400 && response.headers.get('location')?.startsWith('/'); hops++) {
      url = new URL(response.headers.get('location') as string, url).href;
      response = await this.request(id, url, { method: 'HEAD', redirect: 'manual', headers: this.headers({ 'accept-encoding': 'identity' }) });
    }
    if (response.status >= 400) throw this.refusal(id, url, response);
    const answeredCommit = response.headers.get('x-repo-commit');
    if (answeredCommit !== null && answeredCommit !== commit)
      throw new HubError(`${describe(id)}: ${url} answered for commit ${answeredCommit}, expected ${commit}; run again`);
    const etag = plainEtag(response.headers.get('x-linked-etag') ?? response.headers.get('etag'));
    const size = Number(response.headers.get('x-linked-size') ?? response.headers.get('content-length') ?? NaN);
    if (etag === undefined || !Number.isInteger(size)) throw new HubError(`${describe(id)}: ${url}: expected ETag and size headers, got ${etag ?? 'no ETag'} and ${size}`);
    return { etag, size };
  }

  /**
   * `file` at `commit` into the cache: nothing is fetched when the snapshot already links it, or when its blob is
   * there (downloaded by this or by Python tools); else its blob is downloaded. Returns the snapshot path.
   */
  async download(id: HubId, commit: string, file: string): Promise<string> {
    const cache = new HubCacheFolder(this.settings.cacheDir, id.repoId);
    const snapshotFile = `${cache.snapshotDir(commit)}/${file}`;
    if (existsSync(snapshotFile)) return snapshotFile;
    const { etag, size } = await this.metadata(id, commit, file);
    const blob = cache.blobPath(etag);
    if (!existsSync(blob)) await this.fetchBlob(id, this.resolveUrl(id, commit, file), blob, { etag, size }, file);
    return cache.link(commit, file, etag);
  }

  /** Downloads into `<blob>.incomplete`, resuming it, then checks it and renames it to `blob`. */
  private async fetchBlob(id: HubId, url: string, blob: string, expected: FileMetadata, file: string): Promise<void> {
    const partial = `${blob}.incomplete`;
    mkdirSync(dirname(blob), { recursive: true });
    const bar = this.progress ? new ProgressBar(this.progress, Math.ceil(expected.size / 1024)) : null;
    if (!bar) this.log(`downloading ${id.repoId}/${file} (${expected.size} bytes)`);
    let failure: unknown;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const have = existsSync(partial) ? statSync(partial).size : 0;
      if (have >= expected.size) break;
      try {
        const response = await this.request(id, url, { headers: this.headers(have > 0 ? { range: `bytes=${have}-` } : {}) });
        if (!response.ok) throw this.refusal(id, url, response);
        // A server that ignores Range sends the whole file: start over.
        const append = have > 0 && response.status === 206;
        let done = append ? have : 0;
        // Each chunk is on disk before the next is read, so a dropped connection loses nothing already received.
        const output = await open(partial, append ? 'a' : 'w');
        try {
          for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) as AsyncIterable<Buffer>) {
            await output.write(chunk);
            done += chunk.length;
            bar?.update(Math.ceil(done / 1024), `kB ${file}`);
          }
        } finally {
          await output.close();
        }
        failure = undefined;
      } catch (error) {
        if (error instanceof HubError) throw error;
        failure = error;
      }
    }
    bar?.finish();
    const got = existsSync(partial) ? statSync(partial).size : 0;
    if (got !== expected.size) {
      const cause = failure === undefined ? '' : ` (${(failure as Error).message})`;
      throw new HubError(`${describe(id)}: ${file}: expected ${expected.size} bytes, got ${got} after ${ATTEMPTS} attempts${cause}; run again to resume from ${partial}`);
    }
    const kind = /^[0-9a-f]{64}$/.test(expected.etag) ? 'sha256' : /^[0-9a-f]{40}$/.test(expected.etag) ? 'git' : undefined;
    if (kind !== undefined) {
      const hash = await hashFile(partial, kind);
      if (hash !== expected.etag) {
        rmSync(partial);
        throw new HubError(`${describe(id)}: ${file}: expected ${kind === 'git' ? 'git blob hash' : 'sha256'} ${expected.etag}, got ${hash}; the download was removed, run again`);
      }
    }
    renameSync(partial, blob);
  }
}

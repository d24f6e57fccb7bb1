import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * One model's folder in the Hub cache, laid out as huggingface_hub lays it out, so that either can use what the other
 * downloaded: `models--org--name/blobs/<etag>` holds each file's content once, named by its ETag (the sha256 of a
 * large (LFS) file, the git blob hash of a small one); `snapshots/<commit>/<path>` is a relative symbolic link to the
 * blob; `refs/<revision>` holds the commit a branch or tag pointed to when last resolved.
 */
export class HubCacheFolder {
  /** `models--org--name` under the cache directory. */
  readonly root: string;

  constructor(cacheDir: string, repoId: string) {
    this.root = join(cacheDir, `models--${repoId.replaceAll('/', '--')}`);
  }

  /** `blobs/<etag>`. */
  blobPath(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  /** `refs/<revision>` (a revision with slashes, `refs/pr/1`, nests). */
  refPath(revision: string): string {
    return join(this.root, 'refs', revision);
  }

  /** `snapshots/<commit>`: the model directory the library reads. */
  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  /** The commit `refs/<revision>` holds, or undefined. */
  readRef(revision: string): string | undefined {
    const path = this.refPath(revision);
    return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
  }

  /** Points `refs/<revision>` at `commit` (written whole, then renamed into place). */
  writeRef(revision: string, commit: string): void {
    const path = this.refPath(revision);
    if (this.readRef(revision) === commit) return;
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, commit);
    renameSync(temporary, path);
  }

  /** Links `snapshots/<commit>/<file>` to the blob `etag` (a relative link, made beside it and renamed into place). */
  link(commit: string, file: string, etag: string): string {
    const path = join(this.snapshotDir(commit), file);
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    rmSync(temporary, { force: true });
    symlinkSync(relative(dirname(path), this.blobPath(etag)), temporary);
    renameSync(temporary, path);
    return path;
  }
}

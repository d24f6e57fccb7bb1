// Hub loading against a stand-in Hub on 127.0.0.1: the cache layout huggingface_hub uses, reuse of what is cached,
// offline use, resumed and verified downloads, sharded safetensors, and the errors for 401, 404 and bad content.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../src/hub/hub-error';
import { parseHubId } from '../../src/hub/hub-id';
import { resolveModelPath, type ResolveModelOptions } from '../../src/hub/resolve-model-path';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer';
import { gitHash, HubServer, sha256, type FixtureRepo } from '../hub-server';
import { unigramTokenizerJson } from './tokenizer-files';

const COMMIT = 'a'.repeat(40);
const CONFIG = Buffer.from('{"model_type": "bert"}\n');
const WEIGHTS = Buffer.from(Array.from({ length: 100_000 }, (_, index) => (index * 7) % 256));
const BERT: FixtureRepo = {
  repoId: 'org/tiny-bert',
  commit: COMMIT,
  revisions: ['v1'],
  formerName: 'tiny-bert-old',
  files: [
    { path: 'config.json', content: CONFIG },
    { path: 'vocab.txt', content: Buffer.from('[PAD]\n[UNK]\n') },
    { path: 'model.safetensors', content: WEIGHTS, lfs: true },
    { path: 'pytorch_model.bin', content: Buffer.from('not wanted'), lfs: true },
    { path: 'onnx/model.json', content: Buffer.from('{}') },
  ],
};
const shard = (index: number): Buffer => Buffer.alloc(5000 + index, index);
const SHARDED: FixtureRepo = {
  repoId: 'sharded',
  commit: 'b'.repeat(40),
  files: [
    { path: 'config.json', content: CONFIG },
    {
      path: 'model.safetensors.index.json',
      content: Buffer.from(JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } })),
    },
    { path: 'model-00001-of-00002.safetensors', content: shard(1), lfs: true },
    { path: 'model-00002-of-00002.safetensors', content: shard(2), lfs: true },
    { path: 'old-model.safetensors', content: shard(3), lfs: true },
  ],
};
const PRIVATE: FixtureRepo = { repoId: 'org/private', commit: 'c'.repeat(40), private: true, files: [{ path: 'config.json', content: CONFIG }] };
const XLMR: FixtureRepo = {
  repoId: 'org/tiny-xlmr',
  commit: 'e'.repeat(40),
  files: [{ path: 'tokenizer.json', content: Buffer.from(JSON.stringify(unigramTokenizerJson())), lfs: true }],
};

const PICKLES: FixtureRepo = { repoId: 'org/pickles', commit: 'f'.repeat(40), files: [{ path: 'pytorch_adapter.bin', content: Buffer.from('pickle'), lfs: true }] };

const server = new HubServer([BERT, SHARDED, PRIVATE, XLMR, PICKLES]);
let endpoint = '';
beforeAll(async () => {
  endpoint = await server.start();
});
afterAll(async () => server.close());

/** Options for a fresh cache (or `cache`) on the stand-in Hub, with the given extra environment. */
function options(env: NodeJS.ProcessEnv = {}, cache = mkdtempSync(join(tmpdir(), 'hub-cache-'))): ResolveModelOptions & { cache: string } {
  return { cache, env: { HF_ENDPOINT: endpoint, HF_HUB_CACHE: cache, ...env }, progress: null, log: () => undefined };
}

async function failure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(HubError);
  return (error as Error).message;
}

describe('Hub ids', () => {
  it('reads name, org/name and @revision, and leaves paths alone', () => {
    expect(parseHubId('bert-base-uncased')).toEqual({ repoId: 'bert-base-uncased', revision: 'main' });
    expect(parseHubId('FacebookAI/roberta-base@v1.0')).toEqual({ repoId: 'FacebookAI/roberta-base', revision: 'v1.0' });
    for (const path of ['./models/x', '/abs/dir', 'a/b/c', '..', 'models/', 'a--b/c', '-a', 'a b']) expect(parseHubId(path)).toBeNull();
  });
});

describe('resolveModelPath', () => {
  it('downloads into the huggingface_hub cache layout: blobs by ETag, relative snapshot links, refs', async () => {
    const settings = options();
    const dir = await resolveModelPath('org/tiny-bert', settings);
    const root = join(settings.cache, 'models--org--tiny-bert');
    expect(dir).toBe(join(root, 'snapshots', COMMIT));
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'vocab.txt']);
    expect(readFileSync(join(root, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    expect(readlinkSync(join(dir, 'model.safetensors'))).toBe(`../../blobs/${sha256(WEIGHTS)}`);
    expect(readlinkSync(join(dir, 'config.json'))).toBe(`../../blobs/${gitHash(CONFIG)}`);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(WEIGHTS)).toBe(true);
    expect(readdirSync(join(root, 'blobs')).sort()).toEqual([gitHash(CONFIG), gitHash(Buffer.from('[PAD]\n[UNK]\n')), sha256(WEIGHTS)].sort());
    // The LFS file came from the CDN path the resolve URL redirected to.
    expect(server.requests.some((request) => request.url === `/cdn/${sha256(WEIGHTS)}`)).toBe(true);
  });

  it('uses the cache: a second resolve, or one of a cache Python tools filled, downloads nothing', async () => {
    const settings = options();
    await resolveModelPath('org/tiny-bert', settings);
    const before = server.requests.length;
    expect(await resolveModelPath('org/tiny-bert', settings)).toBe(join(settings.cache, 'models--org--tiny-bert', 'snapshots', COMMIT));
    expect(server.requests.slice(before).map((request) => request.url)).toEqual([`/api/models/org/tiny-bert/revision/main`]);

    // A cache laid out by hand as huggingface_hub leaves it.
    const python = options();
    const root = join(python.cache, 'models--org--tiny-bert');
    mkdirSync(join(root, 'blobs'), { recursive: true });
    mkdirSync(join(root, 'snapshots', COMMIT), { recursive: true });
    mkdirSync(join(root, 'refs'));
    writeFileSync(join(root, 'refs', 'main'), COMMIT);
    for (const file of BERT.files.slice(0, 3)) {
      const etag = file.lfs ? sha256(file.content) : gitHash(file.content);
      writeFileSync(join(root, 'blobs', etag), file.content);
      symlinkSync(`../../blobs/${etag}`, join(root, 'snapshots', COMMIT, file.path));
    }
    const seen = server.requests.length;
    await resolveModelPath('org/tiny-bert', python);
    expect(server.requests.slice(seen).map((request) => request.method)).toEqual(['GET']); // the API only
  });

  it('with HF_HUB_OFFLINE=1 uses the cache without the network, and names what is missing', async () => {
    const settings = options();
    await resolveModelPath('org/tiny-bert@v1', settings);
    expect(readFileSync(join(settings.cache, 'models--org--tiny-bert', 'refs', 'v1'), 'utf8')).toBe(COMMIT);
    const offline = { ...settings, env: { ...settings.env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' } };
    const before = server.requests.length;
    expect(await resolveModelPath('org/tiny-bert@v1', offline)).toBe(join(settings.cache, 'models--org--tiny-bert', 'snapshots', COMMIT));
    expect(await resolveModelPath(`org/tiny-bert@${COMMIT}`, offline)).toBe(join(settings.cache, 'models--org--tiny-bert', 'snapshots', COMMIT));
    expect(server.requests.length).toBe(before);
    expect(await failure(resolveModelPath('org/tiny-bert@v2', offline))).toBe(
      `org/tiny-bert@v2: HF_HUB_OFFLINE is set and the cache has no copy: ${join(settings.cache, 'models--org--tiny-bert', 'refs', 'v2')} is missing; download it once without HF_HUB_OFFLINE (or give a local directory)`,
    );
  });

  it('resumes a dropped download with Range and checks it against the sha256', async () => {
    const settings = options();
    server.dropOnce.add('model.safetensors');
    const dir = await resolveModelPath('org/tiny-bert', settings);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(WEIGHTS)).toBe(true);
    const ranges = server.contentRequests().filter((request) => request.url.startsWith('/cdn/') && request.range);
    const resumedAt = Number(/bytes=(\d+)-/.exec(ranges[ranges.length - 1]?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(WEIGHTS.length / 2);
    expect(readdirSync(join(settings.cache, 'models--org--tiny-bert', 'blobs')).some((name) => name.endsWith('.incomplete'))).toBe(false);
  });

  it('refuses content that does not hash to its ETag, keeping nothing of it', async () => {
    const settings = options();
    server.corrupt.add('model.safetensors');
    try {
      const message = await failure(resolveModelPath('org/tiny-bert', settings));
      expect(message).toMatch(new RegExp(`^org/tiny-bert@main: model.safetensors: expected sha256 ${sha256(WEIGHTS)}, got [0-9a-f]{64}; the download was removed, run again$`));
    } finally {
      server.corrupt.clear();
    }
    const blobs = join(settings.cache, 'models--org--tiny-bert', 'blobs');
    expect(readdirSync(blobs).filter((name) => name.startsWith(sha256(WEIGHTS)))).toEqual([]);
    expect(existsSync(join(settings.cache, 'models--org--tiny-bert', 'snapshots', COMMIT, 'model.safetensors'))).toBe(false);
  });

  it('refuses a file the Hub serves from another commit than the one asked for', async () => {
    server.claimedCommit = '9'.repeat(40);
    try {
      expect(await failure(resolveModelPath('org/tiny-bert', options()))).toBe(
        `org/tiny-bert@main: ${endpoint}/org/tiny-bert/resolve/${COMMIT}/config.json answered for commit ${'9'.repeat(40)}, expected ${COMMIT}; run again`,
      );
    } finally {
      server.claimedCommit = undefined;
    }
  });

  it('fetches only the shards model.safetensors.index.json lists', async () => {
    const settings = options();
    const dir = await resolveModelPath('sharded', settings);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    expect(lstatSync(join(dir, 'model-00002-of-00002.safetensors')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'model-00002-of-00002.safetensors')).equals(shard(2))).toBe(true);
  });

  it('sends HF_TOKEN, and says what to do on 401 and 404', async () => {
    const settings = options();
    expect(await failure(resolveModelPath('org/private', settings))).toBe(
      `org/private@main: ${endpoint}/api/models/org/private/revision/main answered 401 Unauthorized; the model is private or gated, or does not exist: set HF_TOKEN to a token that can read it`,
    );
    const wrong = options({ HF_TOKEN: 'hf_wrong' });
    expect(await failure(resolveModelPath('org/private', wrong))).toMatch(/answered 401 Unauthorized; the token in HF_TOKEN was refused/);
    const dir = await resolveModelPath('org/private', options({ HF_TOKEN: server.token }));
    expect(readFileSync(join(dir, 'config.json')).equals(CONFIG)).toBe(true);
    expect(server.requests[server.requests.length - 1]?.authorization).toBe(`Bearer ${server.token}`);
    expect(await failure(resolveModelPath('org/missing', settings))).toBe(
      `org/missing@main: ${endpoint}/api/models/org/missing/revision/main answered 404 Not Found; no such model, revision or file on ${endpoint}`,
    );
    expect(await failure(resolveModelPath('org/tiny-bert@v9', settings))).toMatch(/^org\/tiny-bert@v9: .* answered 404 Not Found/);
  });

  it('prefers an existing local directory, and leaves a path that is no Hub id to the loader', async () => {
    const base = mkdtempSync(join(tmpdir(), 'hub-local-'));
    mkdirSync(join(base, 'org', 'tiny-bert'), { recursive: true });
    const before = server.requests.length;
    expect(await resolveModelPath('org/tiny-bert', { ...options(), baseDir: base })).toBe(join(base, 'org', 'tiny-bert'));
    expect(await resolveModelPath('./models/none', { ...options(), baseDir: base })).toBe(join(base, 'models', 'none'));
    expect(server.requests.length).toBe(before);
  });

  it('follows a renamed repository to its new name, caching under the name asked for', async () => {
    const settings = options();
    const dir = await resolveModelPath('tiny-bert-old', settings);
    expect(dir).toBe(join(settings.cache, 'models--tiny-bert-old', 'snapshots', COMMIT));
    expect(readFileSync(join(dir, 'model.safetensors')).equals(WEIGHTS)).toBe(true);
  });

  it('draws a progress bar per download on the stream it is given', async () => {
    let drawn = '';
    await resolveModelPath('org/tiny-bert', { ...options(), progress: { write: (text: string) => (drawn += text), columns: 200 } });
    const size = Math.ceil(WEIGHTS.length / 1024);
    expect(drawn).toContain(`\r\x1b[K[########################] ${size}/${size} kB model.safetensors\n`);
  });

  it('gives loadTokenizer a tokenizer from the Hub', async () => {
    const tokenizer = await loadTokenizer(await resolveModelPath('org/tiny-xlmr', options()));
    expect(tokenizer.encode('ab', 'abc').inputIds).toEqual([0, 7, 2, 2, 5, 9, 2]);
  });

  it('refuses a repository without a file the library reads, listing what it holds', async () => {
    expect(await failure(resolveModelPath('org/pickles', options()))).toBe(
      'org/pickles@main: none of its files is one the library reads (top-level .json, .txt, .safetensors or .model files); it holds pytorch_adapter.bin',
    );
  });

  it('names the endpoint it cannot reach, and then uses a copy in the cache if there is one', async () => {
    const settings = options({ HF_ENDPOINT: 'http://127.0.0.1:9' });
    expect(await failure(resolveModelPath('org/tiny-bert', settings))).toMatch(
      /^org\/tiny-bert@main: cannot reach http:\/\/127\.0\.0\.1:9\/api\/models\/org\/tiny-bert\/revision\/main \(.*\); check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only$/,
    );
    const online = options({}, settings.cache);
    const dir = await resolveModelPath('org/tiny-bert', online);
    const lines: string[] = [];
    expect(await resolveModelPath('org/tiny-bert', { ...settings, log: (line) => lines.push(line) })).toBe(dir);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^org/tiny-bert@main: cannot reach .*; using the copy in ${dir}$`))]);
    expect(await failure(resolveModelPath('org/private', { ...online, env: { ...online.env, HF_TOKEN: 'hf_wrong' } }))).toMatch(/answered 401/);
  });
});

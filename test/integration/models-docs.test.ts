// The example of docs/models.md: `adapterfusion forward` with a Hub id, against a stand-in Hub on 127.0.0.1 serving a
// tiny random BERT under that id, then again offline from the cache.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BertModel } from '../../src/backbone/bert-model';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runProgram } from '../../src/cli/program';
import { HubServer } from '../hub-server';

const ROOT = resolve(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'af-models-docs-'));
const REPO = 'google-bert/bert-base-uncased';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runProgram(BUILTIN_MODULES, argv, { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

/** The documented `adapterfusion` lines: their leading `NAME=value` settings and their arguments. */
function documentedCommands(): Array<{ env: Record<string, string>; argv: string[] }> {
  const doc = readFileSync(join(ROOT, 'docs', 'models.md'), 'utf8');
  const lines = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => (block[1] ?? '').split('\n'));
  return lines
    .filter((line) => line.includes('adapterfusion forward'))
    .map((line) => {
      const words = line.split(/\s+/);
      const start = words.indexOf('adapterfusion');
      const env = Object.fromEntries(words.slice(0, start).map((word) => word.split('=') as [string, string]));
      return { env, argv: words.slice(start + 1).map((word) => (word.endsWith('.json') ? join(work, word) : word)) };
    });
}

describe('docs/models.md example', () => {
  const local = join(work, 'local-bert');
  let hub: HubServer;

  beforeAll(async () => {
    const config = { modelType: 'bert', vocabSize: 120, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16, hiddenAct: 'gelu', hiddenDropoutProb: 0, attentionProbsDropoutProb: 0, maxPositionEmbeddings: 16, typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0 } as const;
    const model = BertModel.random(config, 3);
    await model.save(local);
    model.dispose();
    const files = readdirSync(local).map((path) => ({ path, content: readFileSync(join(local, path)), lfs: path.endsWith('.safetensors') }));
    hub = new HubServer([{ repoId: REPO, commit: 'd'.repeat(40), files }]);
    vi.stubEnv('HF_ENDPOINT', await hub.start());
    vi.stubEnv('HF_HUB_CACHE', join(work, 'hub-cache'));
    const forwardDoc = readFileSync(join(ROOT, 'docs', 'forward.md'), 'utf8');
    writeFileSync(join(work, 'ids.json'), /```json\n([\s\S]*?)```/.exec(forwardDoc)?.[1] ?? '');
  });
  afterEach(() => vi.unstubAllEnvs());
  afterAll(async () => hub.close());

  it('downloads the model by its Hub id, then runs it offline from the cache, computing what the local copy does', async () => {
    const commands = documentedCommands();
    expect(commands.map((command) => command.env)).toEqual([{}, { HF_HUB_OFFLINE: '1' }]);
    const reference = join(work, 'reference.json');
    expect((await run(['forward', '--model', local, '--input', join(work, 'ids.json'), '--output', reference])).code).toBe(0);

    const [online, offline] = commands as [(typeof commands)[number], (typeof commands)[number]];
    const first = await run(online.argv);
    expect(first.code, first.err).toBe(0);
    // config.json from its resolve URL; model.safetensors, an LFS file, redirected to the CDN.
    const resolveUrl = (file: string): string => `/${REPO}/resolve/${'d'.repeat(40)}/${file}`;
    expect(hub.contentRequests().map((request) => request.url)).toEqual([resolveUrl('config.json'), resolveUrl('model.safetensors'), expect.stringMatching(/^\/cdn\/[0-9a-f]{64}$/)]);
    const output = online.argv[online.argv.indexOf('--output') + 1] ?? '';
    expect(readFileSync(output, 'utf8')).toBe(readFileSync(reference, 'utf8'));

    const seen = hub.requests.length;
    for (const [name, value] of Object.entries(offline.env)) vi.stubEnv(name, value);
    const second = await run(offline.argv);
    expect(second.code, second.err).toBe(0);
    expect(hub.requests.length).toBe(seen);
    expect(readFileSync(output, 'utf8')).toBe(readFileSync(reference, 'utf8'));
  });
});

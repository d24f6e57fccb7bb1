// The TypeScript example of docs/backbone.md runs as written, against the source instead of the built package.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { hasShared } from '../shared-fixtures';

const ROOT = resolve(__dirname, '..', '..');

describe.skipIf(!hasShared('conformance', 'adapterhub-seqbn-fusion'))('docs/backbone.md example', () => {
  it('loads the fixture checkpoint, runs it and prints the output shapes', async () => {
    const doc = readFileSync(join(ROOT, 'docs', 'backbone.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    expect(example).toContain("from 'adapterfusion'");
    // Relative paths in the docs are relative to the repository root.
    const source = example.replace("from 'adapterfusion'", `from '${join(ROOT, 'src', 'index')}'`).replaceAll("'../shared/", `'${resolve(ROOT, '..', 'shared')}/`);
    const file = join(mkdtempSync(join(tmpdir(), 'af-docs-')), 'example.ts');
    writeFileSync(file, source);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await import(file);
    expect(log.mock.calls).toEqual([[[1, 5, 32], [1, 32]]]);
    log.mockRestore();
  });
});

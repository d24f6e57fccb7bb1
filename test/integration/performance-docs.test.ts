// The example of docs/performance.md runs as written (through the whole public API, so it takes seconds to load).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

describe('docs/performance.md example', () => {
  it('runs as written and prints the sublayer output shape', async () => {
    const root = resolve(__dirname, '..', '..');
    const example = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(root, 'docs', 'performance.md'), 'utf8'))?.[1] ?? '';
    expect(example).toContain("from 'adapterfusion'");
    const file = join(mkdtempSync(join(tmpdir(), 'af-performance-')), 'example.ts');
    writeFileSync(file, example.replace("from 'adapterfusion'", `from '${join(root, 'src', 'index')}'`));
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await import(file);
    expect(log.mock.calls).toEqual([[[2, 8, 32]]]);
    log.mockRestore();
  });
});

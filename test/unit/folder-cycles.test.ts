// The folder-cycle rule: the project has no cycle between folders, and a planted one is found, by the function and
// by the lint rule built on it.
import { ESLint } from 'eslint';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript module shared with the ESLint config, without type declarations
import { codeMapFolder, CODE_AREAS, findFolderCycles, noFolderCycle } from '../folder-cycles.mjs';

type Cycle = { folders: string[]; edges: string[] };
const find = findFolderCycles as (root: string, areas: readonly string[]) => Cycle[];

/** A project tree in a temporary directory: relative path → source. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'af-cycles-'));
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  return root;
}

describe('folder cycles', () => {
  it('finds none in the project', () => {
    expect(find(resolve(__dirname, '..', '..'), CODE_AREAS as readonly string[])).toEqual([]);
  });

  it('places files on the code map: src/<folder> with its subfolders, else the top-level folder', () => {
    const folder = codeMapFolder as (path: string) => string;
    expect(['src/index.ts', 'src/backend/kernels/wasm-simd.ts', 'src/io/atomic.ts', 'tasks/rte/rte-task.ts', 'fusion/index.ts'].map(folder)).toEqual([
      'src', 'src/backend', 'src/io', 'tasks', 'fusion',
    ]);
  });

  it('finds a planted cycle, type-only imports included, naming an import of each edge', () => {
    const root = tree({
      'src/a/x.ts': "import type { Y } from '../b/y';\nexport interface X { y: Y }\n",
      'src/b/y.ts': "export { helper } from '../c/z';\nexport interface Y { n: number }\n",
      'src/c/z.ts': "import { X } from '../a/x';\nexport const helper = (x: X) => x;\n",
      // Neither a subfolder of the same folder nor an import in a comment is an edge.
      'src/d/w.ts': "// import { X } from '../a/x';\nimport { v } from './deeper/v';\nexport const w = v;\n",
      'src/d/deeper/v.ts': "export const v = 1;\n",
      'src/a/uses-d.ts': "import { w } from '../d/w';\nexport const u = w;\n",
    });
    expect(find(root, ['src'])).toEqual([
      { folders: ['src/a', 'src/b', 'src/c'], edges: ['src/a/x.ts → src/b/y.ts', 'src/b/y.ts → src/c/z.ts', 'src/c/z.ts → src/a/x.ts'] },
    ]);
  });

  it('fails lint on every file of a planted cycle', async () => {
    const root = tree({
      'src/a/x.ts': "import { y } from '../b/y';\nexport const x = y;\n",
      'src/b/y.ts': "import type { X } from '../a/x';\nexport const y = 1;\nexport type Z = X;\n",
      'src/c/free.ts': "export const free = 1;\n",
    });
    const eslint = new ESLint({
      cwd: root,
      overrideConfigFile: true,
      overrideConfig: [{
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { local: { rules: { 'no-folder-cycle': noFolderCycle } } },
        rules: { 'local/no-folder-cycle': 'error' },
      }],
    });
    const results = await eslint.lintFiles(['src']);
    const messages = Object.fromEntries(results.map((result) => [result.filePath.slice(root.length + 1), result.messages.map((message) => message.message)]));
    const expected = 'folders src/a ⇄ src/b import each other (src/a/x.ts → src/b/y.ts; src/b/y.ts → src/a/x.ts); move the shared part into the lower folder';
    expect(messages).toEqual({ 'src/a/x.ts': [expected], 'src/b/y.ts': [expected], 'src/c/free.ts': [] });
  });
});

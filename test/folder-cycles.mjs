// Folder-level import cycles: a folder never imports a folder that imports it back (docs/ARCHITECTURE.md).
// Used by the `local/no-folder-cycle` lint rule (test/eslint.config.mjs) and tested in test/unit/folder-cycles.test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const IMPORT = /(?:^|[^.\w])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[^.\w])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[^.\w])import\s+['"]([^'"]+)['"]|\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Every .ts file under `dir` (declaration files and node_modules left out). */
function tsFiles(dir) {
  const files = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...tsFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

/** The .ts file a relative specifier names, if it exists. */
function resolveImport(from, specifier) {
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, 'index.ts'), base].find((path) => existsSync(path) && statSync(path).isFile());
}

/** The relative imports of one file (comments stripped, so examples in JSDoc do not count). */
function importsOf(file) {
  const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found = [];
  for (const match of source.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? match[3] ?? match[4];
    if (specifier?.startsWith('.')) {
      const target = resolveImport(file, specifier);
      if (target) found.push(target);
    }
  }
  return found;
}

/**
 * The folder a file belongs to on the code map (docs/ARCHITECTURE.md): `src/<folder>` for the core (its subfolders
 * are part of it; src/index.ts is `src`), the top-level folder elsewhere (`tasks`, `fusion`, `queue`, `bin`, `web`).
 *
 * @param {string} path a file path relative to the root, `/`-separated
 */
export function codeMapFolder(path) {
  const parts = path.split('/').slice(0, -1);
  return parts[0] === 'src' && parts.length > 1 ? `src/${parts[1]}` : (parts[0] ?? '.');
}

/**
 * The folders under `root` (within `areas`) that import each other in a cycle, each cycle as its folders (relative to
 * `root`, `/`-separated) with one import that makes each edge, so the message says which line to change.
 *
 * @param {string} root
 * @param {readonly string[]} areas top-level folders to walk
 * @returns {{ folders: string[]; edges: string[] }[]}
 */
export function findFolderCycles(root, areas) {
  const folderOf = (file) => codeMapFolder(relative(root, file).split(sep).join('/'));
  /** @type {Map<string, Map<string, string>>} folder → imported folder → an example `file → file` */
  const graph = new Map();
  for (const area of areas) {
    if (!existsSync(join(root, area))) continue;
    for (const file of tsFiles(join(root, area))) {
      const from = folderOf(file);
      if (!graph.has(from)) graph.set(from, new Map());
      for (const target of importsOf(file)) {
        const to = folderOf(target);
        if (to !== from && !graph.get(from).has(to)) graph.get(from).set(to, `${relative(root, file)} → ${relative(root, target)}`);
      }
    }
  }
  // Tarjan's strongly connected components: every component of more than one folder is a cycle.
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  let counter = 0;
  const visit = (node) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), index.get(next)));
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) {
        const members = new Set(component);
        const folders = component.sort();
        const edges = folders.flatMap((from) => [...(graph.get(from) ?? new Map())].filter(([to]) => members.has(to)).map(([, example]) => example));
        cycles.push({ folders, edges });
      }
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

/** The folders the rule walks: the project's code, tests left out (they may import anything). */
export const CODE_AREAS = ['src', 'tasks', 'fusion', 'queue', 'bin', 'web'];

/** ESLint rule: reports, on every file of a folder in a cycle, the cycle and the imports that close it. */
export const noFolderCycle = {
  meta: { type: 'problem', docs: { description: 'forbid import cycles between folders' }, schema: [] },
  create(context) {
    const root = context.cwd;
    const folder = codeMapFolder(relative(root, context.filename).split(sep).join('/'));
    const cycles = (noFolderCycle.cache ??= new Map());
    if (!cycles.has(root)) cycles.set(root, findFolderCycles(root, CODE_AREAS));
    const cycle = cycles.get(root).find((candidate) => candidate.folders.includes(folder));
    return {
      Program(node) {
        if (cycle) context.report({ node, message: `folders ${cycle.folders.join(' ⇄ ')} import each other (${cycle.edges.join('; ')}); move the shared part into the lower folder` });
      },
    };
  },
};

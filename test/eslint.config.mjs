// Type-checked lint rules; the one-way layer rules keep src/ independent of tasks/, fusion/, queue/, bin/ and web/, the
// web app on the public entries, the explorer's browser entry free of Node-only modules, and no folder imports a folder
// that imports it back (docs/ARCHITECTURE.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { noFolderCycle } from './folder-cycles.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'runs/**', '**/*.mjs', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: new URL('..', import.meta.url).pathname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Optional native packages are loaded with require() so that a missing one is a caught error, not a crash.
    files: ['src/backend/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/tasks/**', '**/fusion/**', '**/queue/**', '**/bin/**', '**/web/**', '../tasks', '../fusion', '../queue', '../bin', '../web'], message: 'src/ never imports tasks/, fusion/, queue/, bin/ or web/ (docs/ARCHITECTURE.md).' }] }],
    },
  },
  {
    files: ['bin/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./((src|tasks|fusion|queue)/(?!index$).+|web(/|$))', message: 'bin/ composes src/index.ts, tasks/index.ts, fusion/index.ts and queue/index.ts only.' }] }],
    },
  },
  {
    files: ['web/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./((src|fusion)/(?!index$|explorer$).+|src/explorer$|tasks|queue|bin)', message: 'web/ imports only src/index.ts, fusion/index.ts and fusion/explorer.ts (the browser entry).' }] }],
    },
  },
  {
    files: ['src/**/*.ts', 'tasks/**/*.ts', 'fusion/**/*.ts', 'queue/**/*.ts', 'bin/**/*.ts', 'web/**/*.ts'],
    plugins: { local: { rules: { 'no-folder-cycle': noFolderCycle } } },
    rules: { 'local/no-folder-cycle': 'error' },
  },
  {
    files: ['tasks/**/*.ts', 'fusion/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./(\\.\\./)*src/(?!index$).+', message: 'tasks/ and fusion/ import only src/index.ts.' },
        { regex: '^(\\.\\./)+(tasks|fusion|queue|bin|web)(/|$)', message: 'tasks/ and fusion/ never import each other, queue/, bin/ or web/.' },
      ] }],
    },
  },
  {
    files: ['queue/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./(\\.\\./)*(src|fusion)/(?!index$).+', message: 'queue/ imports only src/index.ts and fusion/index.ts.' },
        { regex: '^(\\.\\./)+(tasks|bin|web)(/|$)', message: 'queue/ never imports tasks/, bin/ or web/.' },
      ] }],
    },
  },
  {
    // The explorer's browser entry and what it imports reach no Node-only module (and the core for types only).
    files: ['fusion/explorer.ts', 'fusion/attention-html.ts', 'fusion/attention-report.ts', 'fusion/explorer-data.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./src/index$', allowTypeImports: true, message: 'the explorer takes only types from the core: its modules are bundled for browsers.' },
        { regex: '^(node:|fs$|path$|os$|child_process$|worker_threads$)', message: 'the explorer is bundled for browsers: no Node-only modules.' },
        { regex: '^\\./(?!attention-html$|attention-report$|explorer-data$)', allowTypeImports: true, message: 'the explorer imports only its own modules (attention-html, attention-report, explorer-data).' },
      ] }],
    },
  },
);

// Type-checked lint rules; the one-way layer rules keep src/ independent of tasks/, fusion/, queue/ and bin/, and no folder
// imports a folder that imports it back (docs/ARCHITECTURE.md).
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
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/tasks/**', '**/fusion/**', '**/queue/**', '**/bin/**', '../tasks', '../fusion', '../queue', '../bin'], message: 'src/ never imports tasks/, fusion/, queue/ or bin/ (docs/ARCHITECTURE.md).' }] }],
    },
  },
  {
    files: ['bin/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./(src|tasks|fusion|queue)/(?!index$).+', message: 'bin/ composes src/index.ts, tasks/index.ts, fusion/index.ts and queue/index.ts only.' }] }],
    },
  },
  {
    files: ['src/**/*.ts', 'tasks/**/*.ts', 'fusion/**/*.ts', 'queue/**/*.ts', 'bin/**/*.ts'],
    plugins: { local: { rules: { 'no-folder-cycle': noFolderCycle } } },
    rules: { 'local/no-folder-cycle': 'error' },
  },
  {
    files: ['tasks/**/*.ts', 'fusion/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./(\\.\\./)*src/(?!index$).+', message: 'tasks/ and fusion/ import only src/index.ts.' },
        { regex: '^(\\.\\./)+(tasks|fusion|queue|bin)(/|$)', message: 'tasks/ and fusion/ never import each other, queue/ or bin/.' },
      ] }],
    },
  },
  {
    files: ['queue/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./(\\.\\./)*(src|fusion)/(?!index$).+', message: 'queue/ imports only src/index.ts and fusion/index.ts.' },
        { regex: '^(\\.\\./)+(tasks|bin)(/|$)', message: 'queue/ never imports tasks/ or bin/.' },
      ] }],
    },
  },
);

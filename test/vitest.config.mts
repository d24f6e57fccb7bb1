import { defineConfig } from 'vitest/config';

// Four tiers, each a project: `unit` (fast, in-process: npm run test:unit), `integration` (commands, whole stages,
// child processes), `conformance` (against AdapterHub's numbers in ../shared) and `browser` (the attention explorer and
// web app in Debian's chromium; skipped without it). `npm test` runs all four.
const tier = (name: string) => ({ extends: true as const, test: { name, include: [`test/${name}/**/*.test.ts`] } });

export default defineConfig({
  test: {
    projects: [tier('unit'), tier('integration'), tier('conformance'), tier('browser')],
    // Training tests are CPU-heavy: two workers match the 2-core machines CI runs on.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/setup.ts'],
  },
});

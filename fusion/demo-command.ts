import type { Command } from 'commander';
import { resolve } from 'node:path';
import { backendOption, startBackend, type BackendPreference, type CliCommand } from '../src/index';
import { runDemo } from './demo';
import { printExperimentSummary } from './run-command';

/** `adapterfusion demo [--run <dir>]`: the built-in demo, from a fresh clone, with no network and no files from outside. */
export const demoCommand: CliCommand = {
  register: (program: Command, { io, container }) => {
    program
      .command('demo')
      .description('build a small backbone, train adapters on synthetic tasks, fuse them for a low-resource target, write the attention report')
      .option('--run <dir>', 'run directory', 'runs/demo')
      .addOption(backendOption())
      .action(async (options: { run: string; backend?: BackendPreference }) => {
        const started = performance.now();
        const backend = await startBackend(options);
        const result = await runDemo(await container(), { runDir: resolve(options.run), backend, log: (line) => io.err(`${line}\n`) });
        printExperimentSummary(result, io);
        io.out(`\ndemo finished in ${((performance.now() - started) / 1000).toFixed(0)} s; open ${resolve(options.run, 'reports')} for the report\n`);
      });
  },
};

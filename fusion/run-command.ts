import { Option, type Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { backendOption, loadConfigFile, startBackend, type BackendPreference, type CliCommand, type Io } from '../src/index';
import { ExperimentConfig } from './experiment-config';
import { runExperiment, type ExperimentResult } from './experiment-runner';

/** The closing lines of `run` and `demo`: what each stage produced and where the report is. */
export function printExperimentSummary(result: ExperimentResult, io: Io): void {
  const metrics = (values: Record<string, number>) => Object.entries(values).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ') || 'no metrics';
  for (const task of result.extraction) io.out(`adapter ${task.task}: dev ${metrics(task.metrics)}${task.skipped ? ' (already done)' : ''}\n`);
  for (const fusion of result.fusions) io.out(`fusion ${fusion.target}: dev ${metrics(fusion.metrics)}\n`);
  if (result.report) io.out(`\n${result.report.table}\nreport files:\n${result.report.files.map((file) => `  ${file}\n`).join('')}`);
}

/**
 * `adapterfusion run <experiment> [--run <dir>] [--resume | --restart] [--backend <name>]`: the whole pipeline of an experiment file
 * (extraction, fusions, attention report), skipping what an earlier run finished. The whole file is validated, every
 * error at once, before its plugin `modules` load and before anything trains.
 */
export const runCommand: CliCommand = {
  register: (program: Command, { io, container }) => {
    program
      .command('run')
      .description('run an experiment file: extract every task, train its fusions, write the attention report; finished work is skipped')
      .argument('<experiment>', 'experiment file (JSON or YAML)')
      .option('--run <dir>', "run directory (default: the experiment's `run`, relative to the file)")
      .option('--resume', 'continue interrupted stages from their checkpoints instead of starting them over')
      .addOption(new Option('--restart', 'discard the checkpoints of interrupted stages and start them over').conflicts('resume'))
      .addOption(backendOption())
      .action(async (file: string, options: { run?: string; resume?: boolean; restart?: boolean; backend?: BackendPreference }) => {
        const config = loadConfigFile(ExperimentConfig, file);
        const backend = await startBackend(options);
        const baseDir = dirname(resolve(file));
        const result = await runExperiment(await container(config.modules, baseDir), config, {
          baseDir,
          source: file,
          backend,
          resume: options.resume === true,
          restart: options.restart === true,
          log: (line) => io.err(`${line}\n`),
          ...(options.run ? { runDir: resolve(options.run) } : {}),
        });
        printExperimentSummary(result, io);
      });
  },
};

import { Option, type Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { backendOption, contributions, loadConfigFile, startBackend, type BackendPreference, type CliCommand, type Io } from '../src/index';
import { ExperimentConfig } from './experiment-config';
import { ExperimentQueue } from './experiment-queue';
import { runExperiment, type ExperimentResult, type SeedMetric } from './experiment-runner';

/** The closing lines of `run` and `demo`: what each stage produced and where the report is. */
export function printExperimentSummary(result: ExperimentResult, io: Io): void {
  for (const { seed, result: ofSeed } of result.seeds ?? []) {
    io.out(`seed ${seed} (${ofSeed.runDir}):\n`);
    printExperimentSummary(ofSeed, io);
    io.out('\n');
  }
  if (result.summary) printSeedSummary(result.summary, io);
  const metrics = (values: Record<string, number>) => Object.entries(values).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ') || 'no metrics';
  for (const task of result.extraction) io.out(`adapter ${task.task}: dev ${metrics(task.metrics)}${task.skipped ? ' (already done)' : ''}\n`);
  for (const fusion of result.fusions) io.out(`fusion ${fusion.target}: dev ${metrics(fusion.metrics)}\n`);
  if (result.report) io.out(`\n${result.report.table}\nreport files:\n${result.report.files.map((file) => `  ${file}\n`).join('')}`);
}

/** Each dev metric over the seeds: every seed's value, then mean ± standard deviation. */
export function printSeedSummary(summary: readonly SeedMetric[], io: Io): void {
  for (const { stage, metric, values, mean, std } of summary) {
    io.out(`${stage} ${metric}: ${values.map(({ seed, value }) => `seed ${seed} ${value.toFixed(4)}`).join(', ')}; mean ${mean.toFixed(4)} ± ${std.toFixed(4)}\n`);
  }
}

/**
 * `adapterfusion run <experiment> [--run <dir>] [--resume | --restart] [--queue <url>] [--backend <name>]`: the whole
 * pipeline of an experiment file (extraction, fusions, attention report), skipping what an earlier run finished; with
 * `--queue`, the `ExperimentQueue` a module contributes schedules it instead. The whole file is validated, every
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
      .option('--queue <url>', 'submit the experiment to the job queue at this Redis URL instead of running it (see docs/distributed.md)')
      .addOption(backendOption())
      .action(async (file: string, options: { run?: string; resume?: boolean; restart?: boolean; queue?: string; backend?: BackendPreference }) => {
        const config = loadConfigFile(ExperimentConfig, file);
        if (options.queue !== undefined) {
          const modules = await container(config.modules, dirname(resolve(file)));
          const [queue] = contributions<ExperimentQueue>(modules, ExperimentQueue);
          if (!queue) throw new Error('--queue: no loaded module submits experiments to a queue');
          await queue.submit({ url: options.queue, file: resolve(file), config, runDir: options.run ? resolve(options.run) : resolve(dirname(resolve(file)), config.run), container: modules }, io);
          return;
        }
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

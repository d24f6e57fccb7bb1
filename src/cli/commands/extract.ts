import { InvalidArgumentError, Option, type Command } from 'commander';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { BackendPreference } from '../../backend/backend';
import { loadConfigFile } from '../../config/validate';
import { RunDirectory } from '../../io/run-directory';
import { EXTRACTION_MODES, ExtractionConfig, type ExtractionMode } from '../../pipeline/extraction-config';
import { taskRegistry } from '../../di/container';
import { createExtractionStage } from '../../pipeline/extract-stage';
import { backendOption, startBackend, type CliCommand } from '../program';

/** `--tasks rte,sst2` → `['rte', 'sst2']`. */
function taskList(value: string): string[] {
  const ids = value.split(',').map((id) => id.trim()).filter((id) => id.length > 0);
  if (ids.length === 0) throw new InvalidArgumentError(`expected comma-separated task ids, got "${value}"`);
  return ids;
}

/** The run directory a config file gets when `--run` is not given: `runs/<config file name>`. */
export function defaultRunDir(configFile: string): string {
  return join('runs', basename(configFile, extname(configFile)));
}

/**
 * `adapterfusion extract --config <file> [--mode st-a|mt-a] [--run <dir>] [--tasks a,b] [--resume | --restart] [--backend <name>]`:
 * trains one adapter and head per task with the backbone frozen (ST-A), or, with `mode: mt-a` (or `--mode mt-a`), every
 * task jointly with the backbone.
 * Tasks already done in the run directory are skipped; `--resume` continues an interrupted one from its checkpoint.
 */
export const extractCommand: CliCommand = {
  register: (program: Command, { io, container }) => {
    program
      .command('extract')
      .description('train one bottleneck adapter and head per task with the backbone frozen (ST-A; mode mt-a trains all tasks jointly)')
      .requiredOption('--config <file>', 'extraction configuration (JSON or YAML)')
      .option('--run <dir>', 'run directory for adapters, heads, metrics and checkpoints (default: runs/<config file name>)')
      .option('--tasks <ids>', 'comma-separated task ids to extract (default: every task of the configuration)', taskList)
      .option('--resume', 'continue an interrupted task from its last checkpoint instead of starting it over')
      .addOption(new Option('--restart', 'discard the checkpoint of an interrupted task and start it over').conflicts('resume'))
      .addOption(new Option('--mode <mode>', "st-a: each task alone, backbone frozen; mt-a: all tasks jointly with the backbone (default: the configuration's mode)").choices(EXTRACTION_MODES))
      .addOption(backendOption())
      .action(async (options: { config: string; mode?: ExtractionMode; run?: string; tasks?: string[]; resume?: boolean; restart?: boolean; backend?: BackendPreference }) => {
        const backend = await startBackend(options);
        const config = loadConfigFile(ExtractionConfig, options.config);
        if (options.mode) config.mode = options.mode;
        const baseDir = dirname(resolve(options.config));
        const tasks = taskRegistry(await container(config.modules, baseDir));
        const run = new RunDirectory(options.run ?? defaultRunDir(options.config));
        const results = await createExtractionStage(tasks, config).run({
          run,
          baseDir,
          backend,
          resume: options.resume === true,
          restart: options.restart === true,
          log: (line) => io.err(`${line}\n`),
          ...(options.tasks ? { only: options.tasks } : {}),
        });
        const width = Math.max(...results.map((result) => result.task.length));
        for (const result of results) {
          const metrics = Object.entries(result.metrics).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ');
          io.out(`${result.task.padEnd(width)}  ${metrics || 'no metrics'}  ${result.adapterDir}${result.skipped ? '  (already done)' : ''}\n`);
        }
      });
  },
};

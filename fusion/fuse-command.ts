import { Option, type Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { backendOption, loadConfigFile, RunDirectory, stageRegistry, startBackend, type BackendPreference, type CliCommand } from '../src/index';
import { FusionConfig } from './fusion-config';
import type { FusionResult } from './fusion-stage';

interface FuseOptions {
  config: string;
  run?: string;
  resume?: boolean;
  restart?: boolean;
  backend?: BackendPreference;
}

/**
 * `adapterfusion fuse --config <file> [--run <dir>] [--resume | --restart]`: trains AdapterFusion for the configured target task
 * over frozen adapters (the `fuse` stage). The configuration is validated before its plugin `modules` load.
 */
export const fuseCommand: CliCommand = {
  register: (program: Command, { io, container }) => {
    program
      .command('fuse')
      .description('train AdapterFusion over frozen adapters for a target task (composition stage)')
      .requiredOption('--config <file>', 'fusion configuration, YAML or JSON (docs/fusion.md)')
      .option('--run <dir>', 'run directory (default: "run" in the configuration)')
      .option('--resume', 'continue an interrupted fusion from its last checkpoint')
      .addOption(new Option('--restart', 'discard the checkpoint of an interrupted fusion and start it over').conflicts('resume'))
      .addOption(backendOption())
      .action(async (options: FuseOptions) => {
        const config = loadConfigFile(FusionConfig, options.config);
        const baseDir = dirname(resolve(options.config));
        const runDir = options.run ?? (config.run === undefined ? undefined : resolve(baseDir, config.run));
        if (runDir === undefined) throw new Error(`${options.config}: no run directory: set "run" in the configuration or pass --run <dir>`);
        await startBackend(options);
        const fuse = stageRegistry(await container(config.modules, baseDir)).get<FusionConfig, FusionResult>('fuse');
        const context = { run: new RunDirectory(resolve(runDir)), baseDir, source: options.config, resume: options.resume === true, restart: options.restart === true, log: (line: string) => io.err(`${line}\n`) };
        fuse.check(config, context);
        const result = await fuse.run(config, context);
        const metrics = Object.entries(result.metrics).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ');
        const what = result.skipped ? 'already fused' : `fused in ${result.steps} steps`;
        io.out(`${result.target} ${what}: ${result.fusionDir}${metrics ? ` (${metrics})` : ''}\n`);
      });
  },
};

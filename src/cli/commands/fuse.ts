import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';
import type { BackendPreference } from '../../backend/backend';
import { CompositionStage } from '../../composition/composition-stage';
import { readConfigFile } from '../../config/validate';
import { resolveToken } from '../../di/container';
import { createCliContainer } from '../cli-container';
import { backendOption, startBackend, type CommandRegistration } from '../program';

interface FuseOptions {
  config: string;
  run?: string;
  resume?: boolean;
  backend?: BackendPreference;
}

/** The plugin modules a raw configuration names (the stage validates the rest). */
function modulesOf(raw: unknown): string[] {
  const modules = raw !== null && typeof raw === 'object' ? (raw as { modules?: unknown }).modules : undefined;
  return Array.isArray(modules) ? modules.filter((module): module is string => typeof module === 'string') : [];
}

/**
 * `adapterfusion fuse --config <file> [--run <dir>] [--resume]`: trains AdapterFusion for the configured target task
 * over frozen adapters (the composition stage, bound by the fusion module).
 */
export const fuseCommand: CommandRegistration = (program: Command, io) => {
  program
    .command('fuse')
    .description('train AdapterFusion over frozen adapters for a target task (composition stage)')
    .requiredOption('--config <file>', 'fusion configuration, YAML or JSON (docs/fusion.md)')
    .option('--run <dir>', 'run directory (default: "run" in the configuration)')
    .option('--resume', 'continue an interrupted fusion from its last checkpoint')
    .addOption(backendOption())
    .action(async (options: FuseOptions) => {
      await startBackend(options);
      const raw = readConfigFile(options.config);
      const baseDir = dirname(resolve(options.config));
      const container = await createCliContainer(modulesOf(raw), baseDir);
      const stage = resolveToken<CompositionStage>(container, CompositionStage);
      const result = await stage.run({
        config: raw,
        source: options.config,
        baseDir,
        ...(options.run === undefined ? {} : { runDir: resolve(options.run) }),
        resume: options.resume === true,
        log: (line) => io.err(`${line}\n`),
      });
      const metrics = Object.entries(result.metrics).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ');
      const what = result.skipped ? 'already fused' : `fused in ${result.steps} steps`;
      io.out(`${result.target} ${what}: ${result.fusionDir}${metrics ? ` (${metrics})` : ''}\n`);
    });
};

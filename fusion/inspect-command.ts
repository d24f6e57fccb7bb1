import type { Command } from 'commander';
import { resolve } from 'node:path';
import { backendOption, positiveInteger, positiveNumber, startBackend, taskRegistry, type BackendPreference, type CliCommand } from '../src/index';
import { AttentionInspector, fusionModules, type InspectRequest } from './attention-inspector';

/** What commander parses: the request's options under the command line's names. */
type InspectOptions = Pick<InspectRequest, 'split' | 'perClass' | 'perExample' | 'tokens' | 'ablate' | 'temperature'> & {
  run: string;
  target: string[];
  out?: string;
  backend?: BackendPreference;
};

/**
 * `adapterfusion inspect --run <dir> --target <task>`: which adapters each layer of a trained fusion attends to, as a
 * terminal table and as JSON, CSV and an HTML heatmap. Tasks come from the modules each fusion was trained with.
 */
export const inspectCommand: CliCommand = {
  register: (program: Command, { io, container }) => {
    program
      .command('inspect')
      .description('report which adapters each fusion layer attends to: terminal table, JSON, CSV and an HTML explorer')
      .requiredOption('--run <dir>', 'run directory holding the trained fusion(s)')
      .requiredOption('--target <task>', 'target task of a fusion; repeat it for a target × adapter matrix', (task: string, all: string[] | undefined) => [...(all ?? []), task])
      .option('--split <name>', 'split to run over (default: the one that selected the fusion, usually dev)')
      .option('--per-class', 'also aggregate per gold class')
      .option('--per-example', 'also report every example')
      .option('--tokens <n>', "also keep the first n examples' attention token by token (the explorer's token view)", positiveInteger)
      .option('--ablate', 'also report the dev metric with each adapter masked in turn')
      .option('--temperature <T>', 'fusion softmax temperature (default: the one the fusion was saved with)', positiveNumber)
      .option('--out <dir>', 'output directory (default: <run>/reports); each target gets <out>/<target>/')
      .addOption(backendOption())
      .action(async (options: InspectOptions) => {
        await startBackend(options);
        const runDir = resolve(options.run);
        const inspector = new AttentionInspector(taskRegistry(await container(fusionModules(runDir, options.target), '/')));
        const result = await inspector.inspect({
          runDir,
          targets: options.target,
          perClass: options.perClass === true,
          perExample: options.perExample === true,
          ablate: options.ablate === true,
          ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
          ...(options.split === undefined ? {} : { split: options.split }),
          ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
          ...(options.out === undefined ? {} : { outDir: resolve(options.out) }),
          log: (line) => io.err(`${line}\n`),
        });
        io.out(`${result.table}${result.files.map((file) => `wrote ${file}`).join('\n')}\n`);
      });
  },
};

import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BackendPreference } from '../../backend/backend';
import { encodeExamples } from '../../data/encode-examples';
import { makeBatches } from '../../data/make-batches';
import { readTaskSplit } from '../../data/read-task-split';
import { taskRegistry } from '../../di/container';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomic';
import { extractionStageKey, fusionStageKey, MTA_STAGE_KEY, RunDirectory } from '../../io/run-directory';
import { loadTaskModel, predictWithModel, type TaskModelKind } from '../../pipeline/task-model';
import { scorePredictions, type SplitPredictions } from '../../task/metrics';
import type { TaskPlugin } from '../../task/task-plugin';
import { checkTokenizerFitsModel, loadTokenizer } from '../../tokenizer/load-tokenizer';
import { resolveModelPath } from '../../hub/resolve-model-path';
import { backendOption, type CliCommand, type CliContext, positiveInteger, startBackend, UsageError } from '../program';

interface SplitOptions {
  run: string;
  task: string;
  data: string;
  split: string;
  with?: TaskModelKind;
  backbone?: string;
  tokenizer?: string;
  force?: boolean;
  maxLength?: number;
  batchSize: number;
  maxExamples?: number;
  modules: string[];
  backend?: BackendPreference;
}


/** The options `evaluate` and `predict` share. */
function splitCommand(program: Command, name: string, description: string, defaultSplit: string): Command {
  return program
    .command(name)
    .description(description)
    .requiredOption('--run <dir>', 'run directory holding the trained adapters and fusions')
    .requiredOption('--task <id>', 'task id')
    .requiredOption('--data <dir>', "directory with the task's files")
    .option('--split <name>', 'split to run over', defaultSplit)
    .addOption(new Option('--with <model>', "the task's own adapter or its fusion (default: the fusion when the run has one)").choices(['adapter', 'fusion']))
    .option('--backbone <dir>', "backbone directory (default: the run's; the tuned one after MT-A)")
    .option('--tokenizer <dir>', "directory with vocab.txt or tokenizer.json (default: the run's backbone directory)")
    .option('--force', 'run on a backbone other than the one the adapters were trained with')
    .option('--max-length <n>', 'tokens per sequence (default: what the model was trained with)', positiveInteger)
    .option('--batch-size <n>', 'examples per batch', positiveInteger, 32)
    .option('--max-examples <n>', 'read at most this many examples', positiveInteger)
    .option('--modules <paths...>', 'plugin modules registering more tasks', [])
    .addOption(backendOption());
}

/** Runs the chosen model of a task over a split: what `evaluate` scores and `predict` writes. */
async function runSplit(options: SplitOptions, context: CliContext): Promise<{ plugin: TaskPlugin; predictions: SplitPredictions; kind: TaskModelKind }> {
  await startBackend(options);
  const run = new RunDirectory(resolve(options.run));
  if (!existsSync(run.manifestPath)) throw new UsageError(`--run ${options.run}: not a run directory (no manifest.json)`);
  const container = await context.container(options.modules);
  const plugin = taskRegistry(container).get(options.task);
  const kind = options.with ?? (existsSync(run.fusionDir(options.task)) ? 'fusion' : 'adapter');
  const manifest = run.readManifest();
  const record = manifest.stages[kind === 'fusion' ? fusionStageKey(options.task) : extractionStageKey(options.task)] ?? manifest.stages[MTA_STAGE_KEY];
  const recorded = (record?.config ?? {}) as { maxLength?: number; tokenizer?: string };
  const tokenizerPathOrId = options.tokenizer ?? recorded.tokenizer ?? manifest.backbonePath;
  if (!tokenizerPathOrId) throw new UsageError(`--tokenizer: ${run.manifestPath} records no backbone directory; name the tokenizer directory`);
  const tokenizerDir = await resolveModelPath(tokenizerPathOrId);
  const tokenizer = await loadTokenizer(tokenizerDir);
  const model = await loadTaskModel(container, run, options.task, kind, { ...(options.backbone ? { backbone: await resolveModelPath(options.backbone) } : {}), force: options.force === true });
  try {
    checkTokenizerFitsModel(tokenizer, tokenizerDir, model.backbone.config, options.backbone ?? manifest.backbonePath ?? run.backboneDir());
    const examples = await readTaskSplit(plugin, options.split, { dataDir: resolve(options.data), ...(options.maxExamples ? { maxExamples: options.maxExamples } : {}) });
    const encoded = encodeExamples(examples, tokenizer, plugin.head, options.maxLength ?? recorded.maxLength ?? 128);
    const batches = makeBatches(encoded, { batchSize: options.batchSize, shuffle: false, seed: 0, padTokenId: tokenizer.padTokenId });
    context.io.err(`${options.task}: ${kind} over ${examples.length} ${options.split} examples\n`);
    return { plugin, predictions: await predictWithModel(model, batches), kind };
  } finally {
    model.dispose();
  }
}

/** `adapterfusion evaluate`: the task's metrics for its adapter or fusion on a labelled split. */
export const evaluateCommand: CliCommand = {
  register: (program: Command, context) => {
    const { io } = context;
    splitCommand(program, 'evaluate', "score a task's trained adapter or fusion on a labelled split with the task's metrics", 'dev')
      .option('--output <file>', 'also write the metrics as JSON')
      .action(async (options: SplitOptions & { output?: string }) => {
        const { plugin, predictions, kind } = await runSplit(options, context);
        const metrics = scorePredictions(plugin.head, plugin.metrics, predictions);
        if (options.output) writeJsonAtomic(options.output, { task: options.task, model: kind, split: options.split, examples: predictions.ids.length, metrics });
        io.out(`${options.task} ${kind} ${options.split}: ${Object.entries(metrics).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ')}\n`);
      });
  },
};

/**
 * `adapterfusion predict`: predictions on a split (usually the unlabelled test split), in the task's leaderboard
 * format when it has one, else as JSONL (`{"id", "prediction"}` with label names where the task has them).
 */
export const predictCommand: CliCommand = {
  register: (program: Command, context) => {
    const { io } = context;
    splitCommand(program, 'predict', "write a task's predictions on a split, in its leaderboard format when it has one", 'test')
      .requiredOption('--out <dir>', 'directory the predictions file goes to')
      .action(async (options: SplitOptions & { out: string }) => {
        const { plugin, predictions } = await runSplit(options, context);
        const values = predictions.ids.map((id, i) => ({ id, value: predictions.predictions[i] as number | number[] }));
        const file = plugin.formatPredictions?.(options.split, values) ?? {
          fileName: `${plugin.id}-${options.split}.jsonl`,
          content: values.map(({ id, value }) => `${JSON.stringify({ id, prediction: labelName(plugin, value) })}\n`).join(''),
        };
        const path = join(options.out, file.fileName);
        writeFileAtomic(path, file.content);
        io.out(`${path} (${values.length} predictions)\n`);
      });
  },
};

function labelName(plugin: TaskPlugin, value: number | number[]): unknown {
  const head = plugin.head;
  if (head.type === 'regression' || head.type === 'multiple-choice') return value;
  const name = (index: number) => head.labels[index] ?? index;
  return Array.isArray(value) ? value.map(name) : name(value);
}

import * as tf from '@tensorflow/tfjs-core';
import type { Command } from 'commander';
import { BottleneckAdapter } from '../../adapters/bottleneck-adapter';
import { loadComposition, type CompositionAttention, type LoadedComposition } from '../../pipeline/composition-loader';
import type { BertConfig } from '../../backbone/bert-config';
import { BertModel } from '../../backbone/bert-model';
import type { SublayerHook } from '../../backbone/sublayer-hook';
import type { BackendPreference } from '../../backend/backend';
import { resolveModelPath } from '../../hub/resolve-model-path';
import { writeFileAtomic } from '../../io/atomic';
import { readJsonFile } from '../../io/read-file';
import { backendOption, type CliCommand, type CliContext, positiveNumber, startBackend, UsageError } from '../program';

/** Token ids for one forward pass, as read from an input file and checked against the model. */
export interface ForwardInput {
  /** (B, T) */
  inputIds: number[][];
  /** 1 on real tokens, 0 on padding; all ones when the file has none. (B, T) */
  attentionMask: number[][];
  /** (B, T), when the file has them. */
  tokenTypeIds?: number[][];
}

/**
 * One integer matrix field of the input file, with every row `columns` long and every value in [0, limit).
 * Errors name the file, the field and the position.
 */
function integerMatrix(file: string, json: Record<string, unknown>, field: string, limit: number, what: string, rows?: number, columns?: number): number[][] {
  const value = json[field];
  const fail = (where: string, expected: string, got: unknown): never => {
    throw new Error(`${file}: "${field}"${where}: expected ${expected}, got ${JSON.stringify(got)?.slice(0, 60)}`);
  };
  if (!Array.isArray(value) || value.length === 0) return fail('', 'a non-empty list of rows (one per sequence)', value);
  if (rows !== undefined && value.length !== rows) fail('', `${rows} rows, as input_ids has`, `${value.length} rows`);
  const width = columns ?? (Array.isArray(value[0]) ? value[0].length : 0);
  value.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== width || width === 0) fail(`[${i}]`, `a row of ${width || 'at least one'} ${what}${columns === undefined ? ' (every row as long as the first)' : ', as input_ids has'}`, row);
    (row as unknown[]).forEach((item, j) => {
      if (!Number.isInteger(item) || (item as number) < 0 || (item as number) >= limit) fail(`[${i}][${j}]`, `${what} in [0, ${limit})`, item);
    });
  });
  return value as number[][];
}

/**
 * Reads `{"input_ids": [[...]], "attention_mask": [[...]], "token_type_ids": [[...]]}` (the last two optional) and
 * checks ids, mask and token types against the model's vocabularies and number of positions.
 *
 * @example
 * const input = readForwardInput('ids.json', model.config);
 */
export function readForwardInput(file: string, config: BertConfig): ForwardInput {
  const json = readJsonFile(file, 'JSON with input_ids');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${file}: expected a JSON object with input_ids, got ${JSON.stringify(json)?.slice(0, 60)}`);
  const fields = json as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !['input_ids', 'attention_mask', 'token_type_ids'].includes(key));
  if (unknown.length > 0) throw new Error(`${file}: unknown keys ${unknown.join(', ')} (expected input_ids, attention_mask, token_type_ids)`);
  const inputIds = integerMatrix(file, fields, 'input_ids', config.vocabSize, 'token ids');
  const rows = inputIds.length;
  const columns = inputIds[0]?.length ?? 0;
  const firstPosition = config.modelType === 'roberta' ? config.padTokenId + 1 : 0;
  if (firstPosition + columns > config.maxPositionEmbeddings) {
    throw new Error(`${file}: "input_ids": expected at most ${config.maxPositionEmbeddings - firstPosition} tokens per sequence (the model's positions), got ${columns}`);
  }
  const attentionMask = fields.attention_mask === undefined ? inputIds.map((row) => row.map(() => 1)) : integerMatrix(file, fields, 'attention_mask', 2, 'mask values (0 or 1)', rows, columns);
  if (fields.token_type_ids === undefined) return { inputIds, attentionMask };
  return { inputIds, attentionMask, tokenTypeIds: integerMatrix(file, fields, 'token_type_ids', config.typeVocabSize, 'token types', rows, columns) };
}

/** The hook for the options: a fusion (which loads its own adapters), one adapter, or none (the backbone alone). */
async function loadHook(options: ForwardOptions, model: BertModel, context: CliContext): Promise<{ hook?: SublayerHook; fusion?: LoadedComposition; release: () => void }> {
  if (options.fusion) {
    const adapterDirs: string[] = [];
    for (const dir of options.adapter) adapterDirs.push(await resolveModelPath(dir));
    const fusion = await loadComposition(await context.container(), await resolveModelPath(options.fusion), model, adapterDirs.length > 0 ? { adapterDirs } : {});
    const hook = fusion.hook({ recordAttention: true, ...(options.temperature === undefined ? {} : { temperature: options.temperature }) });
    return { hook, fusion, release: () => fusion.dispose() };
  }
  const [dir] = options.adapter;
  if (dir === undefined) return { release: () => undefined };
  const adapter = await BottleneckAdapter.load(await resolveModelPath(dir), model);
  return { hook: adapter.hook(), release: () => adapter.dispose() };
}

/** Fusion attention by location as the reference names it (`output_adapter`, `mh_adapter`): [layer][batch][token][adapter]. */
function attentionByLocation(sites: readonly CompositionAttention[]): Record<string, number[][][][]> {
  const byLocation: Record<string, number[][][][]> = {};
  for (const site of sites) (byLocation[site.location] ??= []).push(site.weights);
  return byLocation;
}

/** Runs the model on the input and writes the outputs as compact JSON; returns a one-line summary. */
async function writeOutputs(model: BertModel, input: ForwardInput, hook: SublayerHook | undefined, fusion: LoadedComposition | undefined, file: string): Promise<string> {
  const tensors = {
    inputIds: tf.tensor2d(input.inputIds, undefined, 'int32'),
    attentionMask: tf.tensor2d(input.attentionMask, undefined, 'int32'),
    ...(input.tokenTypeIds ? { tokenTypeIds: tf.tensor2d(input.tokenTypeIds, undefined, 'int32') } : {}),
  };
  const output = model.forward(tensors, { outputHiddenStates: true, ...(hook ? { hook } : {}) });
  const hiddenStates = output.hiddenStates ?? [];
  const result = {
    last_hidden_state: await output.lastHiddenState.array(),
    pooler_output: await output.pooledOutput.array(),
    hidden_states: await Promise.all(hiddenStates.map((state) => state.array())),
    ...(fusion ? { fusion_attentions: attentionByLocation(await fusion.takeAttention()) } : {}),
  };
  tf.dispose([...Object.values(tensors), output.lastHiddenState, output.pooledOutput, ...hiddenStates]);
  writeFileAtomic(file, `${JSON.stringify(result)}\n`);
  const [batch, length, hidden] = output.lastHiddenState.shape;
  return `wrote ${file}: last_hidden_state [${batch}, ${length}, ${hidden}], pooler_output [${batch}, ${hidden}], hidden_states ${hiddenStates.length} × [${batch}, ${length}, ${hidden}]`;
}

interface ForwardOptions {
  model: string;
  adapter: string[];
  fusion?: string;
  input: string;
  output: string;
  backend?: BackendPreference;
  temperature?: number;
}


/**
 * `adapterfusion forward`: runs the backbone (optionally with one adapter, or a fusion over several) on token ids from a
 * JSON file and writes last_hidden_state, pooler_output and hidden_states as JSON.
 */
export const forwardCommand: CliCommand = {
  register: (program: Command, context) => {
    const { io } = context;
    program
      .command('forward')
      .description('run the backbone (with an adapter or a fusion) on token ids from JSON and write its hidden states as JSON')
      .requiredOption('--model <dir>', 'Hugging Face model directory (config.json + model.safetensors) or Hub id (org/name[@revision])')
      .option('--adapter <dir>', 'adapter directory (AdapterHub layout) or Hub id; with --fusion, repeat it to give the fused adapters in order', (dir: string, all: string[]) => [...all, dir], [])
      .option('--fusion <dir>', 'fusion directory or Hub id; its adapters come from --adapter, else from the directories recorded when it was trained')
      .requiredOption('--input <file>', 'JSON with input_ids, and optionally attention_mask and token_type_ids (lists of rows)')
      .requiredOption('--output <file>', 'where to write the outputs as JSON')
      .option('--temperature <T>', 'fusion softmax temperature (default 1)', positiveNumber)
      .addOption(backendOption())
      .action(async (options: ForwardOptions) => {
        if (options.adapter.length > 1 && !options.fusion) throw new UsageError(`${options.adapter.length} --adapter options need --fusion to combine them; give one adapter, or add --fusion <dir>`);
        if (options.temperature !== undefined && !options.fusion) throw new UsageError('--temperature applies to --fusion only');
        await startBackend(options);
        const model = await BertModel.fromPretrained(await resolveModelPath(options.model), {
          warn: (line) => io.err(`${line}\n`),
          ...(process.env.ADAPTERFUSION_DEBUG ? { debug: (line: string) => io.err(`${line}\n`) } : {}),
        });
        try {
          const input = readForwardInput(options.input, model.config);
          const { hook, fusion, release } = await loadHook(options, model, context);
          try {
            io.out(`${await writeOutputs(model, input, hook, fusion, options.output)}\n`);
          } finally {
            release();
          }
        } finally {
          model.dispose();
        }
      });
  },
};

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  ADAPTER_CONFIG_FILE,
  BottleneckAdapter,
  HEAD_CONFIG_FILE,
  injectable,
  loadHead,
  readJsonFile,
  type BertModel,
  type CompositionLoader,
  type LoadedComposition,
  type PredictionHead,
} from '../src/index';
import { AdapterFusion, adapterNamesOf, FUSION_CONFIG_FILE } from './adapter-fusion';
import { AttentionRecorder } from './attention-recorder';

/** Top-level fields this project adds to `adapter_fusion_config.json` (AdapterHub ignores them). */
export interface FusionFileExtras {
  /** Directories of the fused adapters, in fusion order, relative to the fusion directory. */
  adapter_dirs?: string[];
  /** The temperature the fusion runs at after training (written when the temperature schedule was on). */
  inference_temperature?: number;
}

/** The fusion in `dir`, its adapters and its head (in `<dir>/head/` when present). */
export interface FusionBundle {
  fusion: AdapterFusion;
  adapters: BottleneckAdapter[];
  head?: PredictionHead;
  /** The temperature it was saved with (1 unless its temperature schedule was on). */
  temperature: number;
  /** Adapter directories, in fusion order. */
  adapterDirs: string[];
}

/**
 * Where a fusion's adapters are: `adapterDirs` when given, else the directories the fusion recorded, else
 * `<run>/adapters/<name>` for a fusion inside a run directory (`<run>/fusion/<target>`).
 */
export function fusionAdapterDirs(dir: string, adapterDirs?: readonly string[]): string[] {
  if (adapterDirs && adapterDirs.length > 0) return [...adapterDirs];
  const configFile = join(dir, FUSION_CONFIG_FILE);
  if (!existsSync(configFile)) throw new Error(`${dir}: not a fusion directory (no ${FUSION_CONFIG_FILE}); train one with "adapterfusion fuse"`);
  const json = readJsonFile(configFile) as Record<string, unknown> & FusionFileExtras;
  const names = adapterNamesOf(json, configFile);
  const recorded = Array.isArray(json.adapter_dirs) ? json.adapter_dirs.map((path) => resolve(dir, path)) : [];
  return names.map((name, i) => {
    const candidates = [recorded[i], join(dirname(dirname(dir)), 'adapters', name)].filter((path): path is string => path !== undefined);
    const found = candidates.find((path) => existsSync(join(path, ADAPTER_CONFIG_FILE)));
    if (!found) throw new Error(`${configFile}: cannot find adapter "${name}" (looked in ${candidates.join(', ')}); give the adapter directories in fusion order (--adapter)`);
    return found;
  });
}

/** Loads a fusion directory with its adapters and head for `backbone`; releases what it loaded if anything fails. */
export async function loadFusionBundle(dir: string, backbone: BertModel, adapterDirs?: readonly string[]): Promise<FusionBundle> {
  const dirs = fusionAdapterDirs(dir, adapterDirs);
  const adapters: BottleneckAdapter[] = [];
  try {
    for (const adapterDir of dirs) adapters.push(await BottleneckAdapter.load(adapterDir, backbone));
    const fusion = await AdapterFusion.load(dir, adapters, backbone);
    const json = readJsonFile(join(dir, FUSION_CONFIG_FILE)) as FusionFileExtras;
    const headDir = join(dir, 'head');
    const head = existsSync(join(headDir, HEAD_CONFIG_FILE)) ? await loadHead(headDir, { hiddenSize: backbone.config.hiddenSize, dropoutProb: backbone.config.hiddenDropoutProb }) : undefined;
    return { fusion, adapters, ...(head ? { head } : {}), temperature: json.inference_temperature ?? 1, adapterDirs: dirs };
  } catch (error) {
    for (const adapter of adapters) adapter.dispose();
    throw error;
  }
}

/**
 * Loads fusion directories wherever the core loads a saved composition (`adapterfusion forward --fusion <dir>`,
 * `evaluate` and `predict` on a fusion).
 *
 * @example
 * const fusion = await new AdapterFusionLoader().load('runs/demo/fusion/demo-review', backbone);
 * const output = backbone.forward(inputs, { hook: fusion.hook() });
 * fusion.dispose();
 */
@injectable()
export class AdapterFusionLoader implements CompositionLoader {
  readonly kind = 'AdapterFusion';
  readonly configFile = FUSION_CONFIG_FILE;

  async load(dir: string, backbone: BertModel, options: { adapterDirs?: readonly string[] } = {}): Promise<LoadedComposition> {
    const bundle = await loadFusionBundle(dir, backbone, options.adapterDirs);
    const { fusion, adapters, head, temperature } = bundle;
    const recorder = new AttentionRecorder({ perToken: true });
    return {
      name: fusion.name,
      adapterNames: fusion.adapterNames,
      temperature,
      ...(head ? { head } : {}),
      hook: (hookOptions = {}) =>
        fusion.hook({
          temperature: hookOptions.temperature ?? temperature,
          ...(hookOptions.adapterMask ? { adapterMask: hookOptions.adapterMask } : {}),
          ...(hookOptions.recordAttention ? { recorder } : {}),
        }),
      takeAttention: async () => (await recorder.take()).map(({ layer, location, perToken }) => ({ layer, location, weights: perToken ?? [] })),
      dispose: () => {
        fusion.dispose();
        head?.dispose();
        for (const adapter of adapters) adapter.dispose();
      },
    };
  }
}

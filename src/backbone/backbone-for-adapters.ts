import { BertModel } from './bert-model';
import { MTA_STAGE_KEY, type RunDirectory } from '../io/run-directory';

/**
 * The adapters of a run directory were trained with another backbone than the one asked for: MT-A adapters with
 * the backbone tuned alongside them, ST-A adapters with the backbone the run started from.
 */
export class BackboneMismatchError extends Error {
  override name = 'BackboneMismatchError';

  constructor(
    /** The backbone directory that was asked for. */
    readonly backboneDir: string,
    /** sha256 of the weights the adapters were trained with. */
    readonly expectedHash: string,
    /** sha256 of `backboneDir`'s weights, if it has any on file. */
    readonly gotHash: string | undefined,
    readonly hint: string,
  ) {
    super(`${backboneDir}: expected the backbone with weights sha256 ${expectedHash}, got sha256 ${gotHash ?? 'none (random weights)'}; ${hint}`);
  }
}

/**
 * Loads the backbone that the adapters of a run directory must run on, refusing one whose weights differ from the
 * weights they were trained with (unless `force`). After MT-A that is the jointly tuned backbone in `<run>/backbone`,
 * which is loaded when `requestedBackbone` is left out; the original pretrained backbone is refused, since MT-A
 * adapters only work on top of the backbone they were tuned with. After ST-A it is the backbone recorded in the
 * manifest, which `requestedBackbone` must name. Fusion and every command that runs a run's adapters load their
 * backbone through this function.
 *
 * @example
 * const backbone = await backboneForAdapters(new RunDirectory('runs/glue'), undefined); // MT-A: <run>/backbone
 * const forced = await backboneForAdapters(run, 'models/bert-base-uncased', { force: true, warn: console.warn });
 */
export async function backboneForAdapters(
  run: RunDirectory,
  requestedBackbone: string | undefined,
  options: { force?: boolean; warn?: (line: string) => void } = {},
): Promise<BertModel> {
  const manifest = run.readManifest();
  const mta = manifest.stages[MTA_STAGE_KEY];
  const dir = requestedBackbone ?? (mta ? run.backboneDir() : undefined);
  if (dir === undefined) {
    throw new Error(`${run.manifestPath}: the run holds ST-A adapters and no tuned backbone; name the backbone they were extracted with (${manifest.backbonePath ?? 'see backbonePath'})`);
  }
  const expectedHash = mta ? (mta.backboneHash as string | undefined) : manifest.backboneHash;
  const backbone = await BertModel.fromPretrained(dir);
  if (expectedHash === undefined || backbone.checkpointHash === expectedHash) return backbone;

  const hint = mta
    ? `the adapters in ${run.root} were trained by MT-A together with the backbone saved in ${run.backboneDir()}; leave the backbone out to use it, or force this one`
    : `the adapters in ${run.root} were extracted from ${manifest.backbonePath ?? 'another backbone'}; name that backbone, or force this one`;
  const mismatch = new BackboneMismatchError(dir, expectedHash, backbone.checkpointHash, hint);
  if (!options.force) {
    backbone.dispose();
    throw mismatch;
  }
  (options.warn ?? ((line: string) => process.stderr.write(`${line}\n`)))(`warning (forced): ${mismatch.message}`);
  return backbone;
}

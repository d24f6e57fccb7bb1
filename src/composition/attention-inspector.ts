/** Token of the attention inspector (`adapterfusion inspect`); the `fusion/` module binds the implementation. */
export const AttentionInspector = Symbol.for('adapterfusion.AttentionInspector');

/** What to inspect and how. */
export interface InspectRequest {
  /** Run directory holding the trained fusions (`<run>/fusion/<target>`). */
  runDir: string;
  /** Target tasks whose fusions to inspect; several give a target × adapter matrix too. */
  targets: readonly string[];
  /** Split to run over (default: the split that selected the fusion's weights, usually `dev`). */
  split?: string;
  /** Also aggregate per gold class. */
  perClass?: boolean;
  /** Also report every example. */
  perExample?: boolean;
  /** Also measure the dev metric with each adapter masked in turn. */
  ablate?: boolean;
  /** Softmax temperature (default: the one the fusion was saved with, 1 unless its temperature schedule was on). */
  temperature?: number;
  /** Output directory (default `<run>/reports`); each target's files go to `<out>/<target>/`. */
  outDir?: string;
  /** Receives progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** What an inspection wrote. */
export interface InspectResult {
  /** Every file written. */
  files: string[];
  /** Compact terminal tables, one per target. */
  table: string;
}

/**
 * Runs trained fusions over a split and reports which adapters each layer attends to.
 *
 * @example
 * const inspector = resolveToken<AttentionInspector>(container, AttentionInspector);
 * const { table } = await inspector.inspect({ runDir: 'runs/demo', targets: ['demo-review'], perClass: true });
 */
export interface AttentionInspector {
  inspect(request: InspectRequest): Promise<InspectResult>;
}

/** Token of the composition stage (AdapterFusion training); the `fusion/` module binds the implementation. */
export const CompositionStage = Symbol.for('adapterfusion.CompositionStage');

/** One run of the composition stage. */
export interface CompositionRequest {
  /** The raw stage configuration (parsed JSON or YAML); the stage validates it. */
  config: unknown;
  /** Where the configuration came from, named in errors. */
  source: string;
  /** The directory relative paths in the configuration are resolved against (the config file's directory). */
  baseDir: string;
  /** Run directory; overrides the configuration's `run`. */
  runDir?: string;
  /** Continue an interrupted run from its last checkpoint. */
  resume?: boolean;
  /** Receives progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** What a finished composition stage produced. */
export interface CompositionResult {
  target: string;
  /** True when the run directory already held this target's fusion, which was left as it was. */
  skipped: boolean;
  /** Directory of the trained fusion (AdapterHub layout), with the target head in `head/`. */
  fusionDir: string;
  /** Dev metrics of the kept (best) weights. */
  metrics: Record<string, number>;
  /** Optimizer steps done. */
  steps: number;
}

/**
 * Trains AdapterFusion for a target task over frozen adapters (`adapterfusion fuse`).
 *
 * @example
 * const stage = resolveToken<CompositionStage>(container, CompositionStage);
 * const result = await stage.run({ config: readConfigFile('fuse.yaml'), source: 'fuse.yaml', baseDir: '.' });
 */
export interface CompositionStage {
  /** Checks a raw stage configuration without running anything; throws a `ConfigValidationError` naming `source`. */
  validate(config: unknown, source: string): void;
  /**
   * Trains, saves and records the fusion; a target the run directory records as fused already is skipped (its
   * recorded metrics are returned).
   */
  run(request: CompositionRequest): Promise<CompositionResult>;
}

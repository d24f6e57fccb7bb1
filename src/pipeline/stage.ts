import type { BackendInfo } from '../backend/backend';
import { contributions, type Container } from '../di/container';
import type { RunDirectory } from '../io/run-directory';

/** Token under which pipeline stages are bound in the container (same name as the interface, by design). */
export const Stage = Symbol.for('adapterfusion.Stage');

/** Where and how a stage runs: the same for every stage of a pipeline. */
export interface StageContext {
  /** Where the stage reads earlier stages' results and writes its own. */
  run: RunDirectory;
  /** The directory relative paths of the configuration are resolved against (the configuration file's). */
  baseDir: string;
  /** Where the configuration came from, named in errors. */
  source: string;
  /** Continue an interrupted stage from its last checkpoint instead of starting it over. */
  resume?: boolean;
  /** Discard the checkpoint of an interrupted stage and start it over (without this or `resume`, such a checkpoint is an error). */
  restart?: boolean;
  /** The running backend, recorded in the manifest. */
  backend?: BackendInfo;
  /** Receives progress lines (default: stderr). */
  log?: (line: string) => void;
  /**
   * Task ids whose adapters an earlier stage of the same pipeline extracts into `run`: a pipeline checks every stage
   * before it runs the first, so `check` accepts these as if they were on disk already.
   */
  extracting?: readonly string[];
}

/**
 * One stage of a pipeline over a run directory (adapter extraction, fusion, ...), with a typed configuration. A
 * pipeline validates every stage's configuration and calls every `check` before the first `run`, so a mistake in its
 * last stage surfaces before anything trains. Modules contribute stages by binding them to the `Stage` token.
 *
 * @example
 * const fuse = stageRegistry(container).get<FusionConfig, FusionResult>('fuse');
 * fuse.check(config, context);
 * const result = await fuse.run(config, context);
 */
export interface Stage<Config extends object = object, Result = unknown> {
  /** Unique id (`extract`, `fuse`). */
  readonly id: string;
  /** Everything that can be checked before anything trains (task ids, data directories, adapters); throws naming the field. */
  check(config: Config, context: StageContext): void;
  /** Runs the stage; a stage the run directory records as done is skipped and its recorded result returned. */
  run(config: Config, context: StageContext): Promise<Result>;
}

/** The stages a container's modules contributed, by id. */
export class StageRegistry {
  private readonly byId = new Map<string, Stage>();

  constructor(stages: readonly Stage[]) {
    for (const stage of stages) {
      const existing = this.byId.get(stage.id);
      if (existing) throw new Error(`stage id "${stage.id}" is registered twice: by ${existing.constructor.name} and by ${stage.constructor.name}`);
      this.byId.set(stage.id, stage);
    }
  }

  /** The stage `id`; an unknown id lists the registered ones. */
  get<Config extends object, Result>(id: string): Stage<Config, Result> {
    const stage = this.byId.get(id);
    if (!stage) throw new Error(`unknown stage "${id}": registered stages are ${this.ids().join(', ') || '(none)'}; is the module that contributes it loaded?`);
    return stage as unknown as Stage<Config, Result>;
  }

  /** Registered ids, sorted. */
  ids(): string[] {
    return [...this.byId.keys()].sort();
  }
}

/** The stage registry of a container. */
export function stageRegistry(container: Container): StageRegistry {
  return new StageRegistry(contributions<Stage>(container, Stage));
}

import { inject, injectable, TaskRegistryToken } from '../di/container';
import type { TaskRegistry } from '../task/task-registry';
import type { ExtractionConfig } from './extraction-config';
import { ExtractionStage, type ExtractionTaskResult } from './extraction-stage';
import { MultiTaskExtractionStage } from './mt-a-stage';
import type { Stage, StageContext } from './stage';

/** The extraction stage a configuration's `mode` asks for: ST-A (each task alone) or MT-A (all jointly). */
export function createExtractionStage(tasks: TaskRegistry, config: ExtractionConfig): ExtractionStage | MultiTaskExtractionStage {
  return config.mode === 'mt-a' ? new MultiTaskExtractionStage(tasks, config) : new ExtractionStage(tasks, config);
}

/**
 * Adapter extraction as a pipeline stage (`extract`): ST-A or MT-A by the configuration's `mode`, over every task of
 * the configuration. The core module contributes it; `adapterfusion run` runs it before its fusions.
 *
 * @example
 * const extract = stageRegistry(container).get<ExtractionConfig, ExtractionTaskResult[]>('extract');
 */
@injectable()
export class ExtractStage implements Stage<ExtractionConfig, ExtractionTaskResult[]> {
  readonly id = 'extract';

  constructor(@inject(TaskRegistryToken) private readonly tasks: TaskRegistry) {}

  /** Every task id is registered. */
  check(config: ExtractionConfig): void {
    for (const task of config.tasks) this.tasks.get(task.id);
  }

  run(config: ExtractionConfig, context: StageContext): Promise<ExtractionTaskResult[]> {
    return createExtractionStage(this.tasks, config).run({
      run: context.run,
      baseDir: context.baseDir,
      resume: context.resume === true,
      restart: context.restart === true,
      ...(context.backend ? { backend: context.backend } : {}),
      ...(context.log ? { log: context.log } : {}),
    });
  }
}

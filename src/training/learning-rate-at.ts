import type { TrainingConfig } from './training-config';

/** Warm-up length in optimizer steps: `warmupSteps` when set, else `warmupRatio` of all steps, rounded up. */
export function warmupStepsOf(config: Pick<TrainingConfig, 'warmupSteps' | 'warmupRatio'>, totalSteps: number): number {
  return config.warmupSteps > 0 ? config.warmupSteps : Math.ceil(totalSteps * config.warmupRatio);
}

/**
 * The learning rate of the update that follows `step` completed updates (so the first update uses `step = 0`), as
 * Hugging Face `get_linear_schedule_with_warmup` and `get_constant_schedule_with_warmup` compute it: linear warm-up
 * from 0 over the warm-up steps, then linear decay to 0 at `totalSteps` (`linear`) or the peak rate (`constant`).
 *
 * @example
 * const config = validateConfig(TrainingConfig, { learningRate: 1e-3, warmupSteps: 10 });
 * learningRateAt(5, config, 100); // 5e-4, half-way through warm-up
 */
export function learningRateAt(
  step: number,
  config: Pick<TrainingConfig, 'learningRate' | 'schedule' | 'warmupSteps' | 'warmupRatio'>,
  totalSteps: number,
): number {
  const warmup = warmupStepsOf(config, totalSteps);
  if (step < warmup) return (config.learningRate * step) / Math.max(1, warmup);
  if (config.schedule === 'constant') return config.learningRate;
  return config.learningRate * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmup));
}

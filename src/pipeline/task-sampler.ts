import { SeededRandom } from '../util/random';

/**
 * How multi-task training picks the task of each step:
 * - `annealed`: p_i ∝ N_i^α with α = 1 − 0.8·epoch/(E − 1), from proportional in the first epoch to nearly uniform in
 *   the last (the AdapterFusion paper's MT-A recipe, after Stickland & Murray 2019);
 * - `proportional`: α = 1, every training example is equally likely to be seen;
 * - `sqrt`: α = 0.5, a fixed compromise that favours small tasks;
 * - `round-robin`: the tasks in turn, in the order given.
 */
export type SamplerKind = 'annealed' | 'proportional' | 'sqrt' | 'round-robin';

/** Every sampler kind, for config validation and `--help`. */
export const SAMPLER_KINDS: readonly SamplerKind[] = ['annealed', 'proportional', 'sqrt', 'round-robin'];

/** What a checkpoint keeps of a sampler so a resumed run draws the same tasks. */
export interface TaskSamplerState {
  /** The random generator's state. */
  random: number;
  /** Steps drawn so far (round-robin's position). */
  drawn: number;
}

function checkEpoch(epoch: number, epochs: number): void {
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`task sampler: epochs must be an integer ≥ 1, got ${epochs}`);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= epochs) {
    throw new RangeError(`task sampler: epoch must be an integer in [0, ${epochs - 1}], got ${epoch}`);
  }
}

/**
 * The exponent α of p_i ∝ N_i^α in a 0-based `epoch` of `epochs`; round-robin has none (undefined).
 *
 * @example
 * samplingExponent('annealed', 0, 3); // 1
 * samplingExponent('annealed', 2, 3); // 0.2
 */
export function samplingExponent(kind: SamplerKind, epoch: number, epochs: number): number | undefined {
  checkEpoch(epoch, epochs);
  switch (kind) {
    case 'annealed':
      // A single epoch has nothing to anneal towards: it samples proportionally.
      return epochs === 1 ? 1 : 1 - (0.8 * epoch) / (epochs - 1);
    case 'proportional':
      return 1;
    case 'sqrt':
      return 0.5;
    case 'round-robin':
      return undefined;
  }
}

/**
 * Draws the task of each multi-task training step, repeatably from a seed. `sizes` maps task ids to their numbers of
 * training examples N_i; round-robin visits the tasks in that order.
 *
 * @example
 * const sampler = new TaskSampler('annealed', { rte: 2490, mnli: 392702 }, { epochs: 3, seed: 42 });
 * const task = sampler.next(0); // 'mnli' with probability 392702 / 395192 in the first epoch
 */
export class TaskSampler {
  private readonly ids: string[];
  private readonly sizes: number[];
  private readonly random: SeededRandom;
  private drawn = 0;

  constructor(
    readonly kind: SamplerKind,
    sizes: Readonly<Record<string, number>>,
    readonly options: { epochs: number; seed: number },
  ) {
    this.ids = Object.keys(sizes);
    this.sizes = Object.values(sizes);
    if (this.ids.length === 0) throw new RangeError('task sampler: expected at least one task, got none');
    for (const [id, size] of Object.entries(sizes)) {
      if (!Number.isInteger(size) || size < 1) {
        throw new RangeError(`task sampler: task "${id}" needs a positive integer number of training examples, got ${size}`);
      }
    }
    checkEpoch(0, options.epochs);
    this.random = new SeededRandom(options.seed);
  }

  /** The probability of drawing each task in a 0-based epoch (round-robin: its long-run share, 1/n each). */
  probabilities(epoch: number): Record<string, number> {
    const alpha = samplingExponent(this.kind, epoch, this.options.epochs);
    const weights = this.sizes.map((size) => (alpha === undefined ? 1 : size ** alpha));
    const total = weights.reduce((a, b) => a + b, 0);
    return Object.fromEntries(this.ids.map((id, i) => [id, (weights[i] ?? 0) / total]));
  }

  /** The task of the next step in a 0-based epoch. */
  next(epoch: number): string {
    const probabilities = Object.values(this.probabilities(epoch));
    const index = this.kind === 'round-robin' ? this.drawn % this.ids.length : this.random.choose(probabilities);
    this.drawn++;
    return this.ids[index] as string;
  }

  /** The state to save in a checkpoint. */
  getState(): TaskSamplerState {
    return { random: this.random.getState(), drawn: this.drawn };
  }

  /** Continues from a state saved by `getState`. */
  setState(state: TaskSamplerState): void {
    this.random.setState(state.random);
    this.drawn = state.drawn;
  }
}

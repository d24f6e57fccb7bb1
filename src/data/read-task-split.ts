import type { Example, TaskDataOptions, TaskPlugin } from '../task/task-plugin';

/**
 * Reads one split of a task into memory, stopping after `maxExamples`. Unknown split names and empty splits are
 * errors that name the task.
 *
 * @example
 * const dev = await readTaskSplit(registry.get('rte'), 'dev', { dataDir: 'data/rte' });
 */
export async function readTaskSplit(plugin: TaskPlugin, split: string, options: TaskDataOptions): Promise<Example[]> {
  if (!plugin.splits.includes(split)) {
    throw new Error(`task "${plugin.id}": expected a split among ${plugin.splits.join(', ')}, got "${split}"`);
  }
  const limit = options.maxExamples ?? Infinity;
  const examples: Example[] = [];
  if (limit > 0) {
    for await (const example of plugin.read(split, options)) {
      examples.push(example);
      if (examples.length >= limit) break;
    }
  }
  if (examples.length === 0) throw new Error(`task "${plugin.id}", split "${split}": expected examples in ${options.dataDir}, got none`);
  return examples;
}

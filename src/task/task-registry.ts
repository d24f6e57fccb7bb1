import { isTaskId, TASK_ID_RULE } from './task-id';
import { TaskPlugin } from './task-plugin';

/** A task id was asked for that no plugin registered. */
export class UnknownTaskError extends Error {
  constructor(id: string, known: readonly string[]) {
    super(`unknown task "${id}": registered tasks are ${known.length ? known.join(', ') : '(none)'}; add a plugin module to "modules" in the config to register more`);
    this.name = 'UnknownTaskError';
  }
}

/** Two plugins claim the same id. */
export class DuplicateTaskError extends Error {
  constructor(id: string, first: TaskPlugin, second: TaskPlugin) {
    super(`task id "${id}" is registered twice: by ${first.constructor.name} and by ${second.constructor.name}; give one of them another id`);
    this.name = 'DuplicateTaskError';
  }
}

/** The task plugins a container knows, by id. */
export class TaskRegistry {
  private readonly byId = new Map<string, TaskPlugin>();

  constructor(plugins: readonly TaskPlugin[]) {
    for (const plugin of plugins) {
      if (!isTaskId(plugin.id)) throw new Error(`task plugin ${plugin.constructor.name}: id ${JSON.stringify(plugin.id)} is not ${TASK_ID_RULE}`);
      const existing = this.byId.get(plugin.id);
      if (existing) throw new DuplicateTaskError(plugin.id, existing, plugin);
      this.byId.set(plugin.id, plugin);
    }
  }

  /** The plugin for `id`; an unknown id lists the registered ones. */
  get(id: string): TaskPlugin {
    const plugin = this.byId.get(id);
    if (!plugin) throw new UnknownTaskError(id, this.ids());
    return plugin;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Registered ids, sorted. */
  ids(): string[] {
    return [...this.byId.keys()].sort();
  }
}

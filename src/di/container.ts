// The only file that calls inversify's API: a major-version change of inversify touches this file alone.
import 'reflect-metadata';
import { Container, ContainerModule, inject, injectable, type interfaces } from 'inversify';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TaskPlugin } from '../task/task-plugin';
import { TaskRegistry } from '../task/task-registry';

export { inject, injectable };
export type { Container };

/** A unit of features (task plugins, stages) that a container loads. */
export type FeatureModule = ContainerModule;

/** Token of the TaskRegistry built from every bound TaskPlugin. */
export const TaskRegistryToken = Symbol.for('adapterfusion.TaskRegistry');

/** Anything a module can bind: a class (constructed by the container) or a ready instance. */
export type Provider<T> = (new (...args: never[]) => T) | T;

function bindTo<T>(bind: interfaces.Bind, token: symbol, provider: Provider<T>): void {
  if (typeof provider === 'function') bind<T>(token).to(provider as interfaces.Newable<T>);
  else bind<T>(token).toConstantValue(provider);
}

/**
 * A module that registers task plugins: what a third-party plugin file exports.
 *
 * @example
 * export default taskModule(SentimentTask);
 */
export function taskModule(...plugins: Provider<TaskPlugin>[]): FeatureModule {
  return new ContainerModule((bind) => {
    for (const plugin of plugins) bindTo(bind, TaskPlugin, plugin);
  });
}

/** A module binding arbitrary tokens, for stages and services. */
export function featureModule(bindings: [symbol, Provider<unknown>][]): FeatureModule {
  return new ContainerModule((bind) => {
    for (const [token, provider] of bindings) bindTo(bind, token, provider);
  });
}

/** One module made of several, for a plugin file that ships more than one. */
export function combineModules(...modules: FeatureModule[]): FeatureModule {
  return new ContainerModule((...registryArguments) => {
    for (const module of modules) module.registry(...registryArguments);
  });
}

/** A fresh container with the core services and the given modules; no container is global. */
export function createContainer(modules: readonly FeatureModule[] = []): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(...modules);
  container
    .bind(TaskRegistryToken)
    .toDynamicValue((context) => new TaskRegistry(contributions<TaskPlugin>(context.container, TaskPlugin)));
  return container;
}

/**
 * Everything the container's modules bound to an extension-point token (task plugins, stages, commands, composition
 * loaders), in the order the modules were loaded; none is an empty list.
 *
 * @example
 * const commands = contributions<CliCommand>(container, CliCommand);
 */
export function contributions<T>(container: Pick<Container, 'isBound' | 'getAll'>, token: symbol): T[] {
  return container.isBound(token) ? container.getAll<T>(token) : [];
}

/** The task registry of a container. */
export function taskRegistry(container: Container): TaskRegistry {
  return container.get<TaskRegistry>(TaskRegistryToken);
}

function isFeatureModule(value: unknown): value is FeatureModule {
  return value instanceof ContainerModule ||
    (typeof value === 'object' && value !== null && typeof (value as { registry?: unknown }).registry === 'function' && 'id' in value);
}

/**
 * Loads plugin modules named in a config: a file path (relative to `baseDir`) or an installed package name.
 * The file or package must export a FeatureModule as `default` (or as any named export).
 */
export async function loadModules(specifiers: readonly string[], baseDir: string): Promise<FeatureModule[]> {
  const modules: FeatureModule[] = [];
  for (const specifier of specifiers) {
    const isPath = specifier.startsWith('.') || isAbsolute(specifier);
    const target = isPath ? resolve(baseDir, specifier) : specifier;
    if (isPath && !existsSync(target)) throw new Error(`plugin module "${specifier}": file ${target} does not exist`);
    let exported: Record<string, unknown>;
    try {
      exported = (await import(isPath ? pathToFileURL(target).href : target)) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`plugin module "${specifier}": could not be loaded: ${(error as Error).message}`);
    }
    const candidates = [exported.default, (exported.default as Record<string, unknown> | undefined)?.default, ...Object.values(exported)];
    const found = candidates.find(isFeatureModule);
    if (!found) throw new Error(`plugin module "${specifier}": exports no module; export default taskModule(YourTask) from it`);
    modules.push(found);
  }
  return modules;
}

import { resolve } from 'node:path';
import { createContainer, loadModules, type Container, type FeatureModule } from '../di/container';

/**
 * The built-in feature modules, loaded like third-party plugins so that src/ has no compile-time dependency on
 * tasks/ or fusion/ (docs/ARCHITECTURE.md, one-way layers).
 */
export const BUILTIN_MODULES: readonly string[] = [resolve(__dirname, '../../tasks/index'), resolve(__dirname, '../../fusion/index')];

/** Resolves a built-in module path to the file that exists (compiled .js next to the CLI, or .ts under tests). */
function existing(path: string): string {
  for (const ext of ['.js', '.ts']) {
    try {
      return require.resolve(path + ext);
    } catch {
      // try the next extension
    }
  }
  return path;
}

/**
 * The container every command resolves from: built-in tasks and fusion, plus plugin modules named in a config
 * (`modules`, paths relative to the config file's directory).
 */
export async function createCliContainer(pluginSpecifiers: readonly string[] = [], baseDir = process.cwd()): Promise<Container> {
  const builtins: FeatureModule[] = await loadModules(BUILTIN_MODULES.map(existing), '/');
  const plugins = await loadModules(pluginSpecifiers, baseDir);
  return createContainer([...builtins, ...plugins]);
}

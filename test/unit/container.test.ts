import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createContainer, injectable, loadModules, taskModule, taskRegistry, type Example, type TaskPlugin } from '../../src/index';

@injectable()
class ToyTask implements TaskPlugin {
  readonly id = 'toy';
  readonly description = 'a toy task';
  readonly head = { type: 'classification', labels: ['no', 'yes'] } as const;
  readonly metrics = ['accuracy'];
  readonly splits = ['train', 'dev'];
  async *read(): AsyncIterable<Example> {
    yield { id: '0', text: 'hello', label: 1 };
  }
}

@injectable()
class ToyTwin extends ToyTask {}

describe('task plugin container', () => {
  it('finds plugins bound by modules, each container fresh', () => {
    const registry = taskRegistry(createContainer([taskModule(ToyTask)]));
    expect(registry.ids()).toEqual(['toy']);
    expect(registry.get('toy')).toBeInstanceOf(ToyTask);
    expect(taskRegistry(createContainer()).ids()).toEqual([]);
  });

  it('refuses duplicate ids naming both classes', () => {
    const container = createContainer([taskModule(ToyTask), taskModule(ToyTwin)]);
    expect(() => taskRegistry(container)).toThrow('task id "toy" is registered twice: by ToyTask and by ToyTwin');
  });

  it('answers an unknown id with the registered ones', () => {
    const registry = taskRegistry(createContainer([taskModule(ToyTask)]));
    expect(() => registry.get('rte')).toThrow('unknown task "rte": registered tasks are toy');
  });

  it('loads a plugin module from a file path relative to the config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-plugin-'));
    writeFileSync(join(dir, 'empty.mjs'), 'export const nothing = 1;\n');
    await expect(loadModules(['./missing.mjs'], dir)).rejects.toThrow(`plugin module "./missing.mjs": file ${join(dir, 'missing.mjs')} does not exist`);
    await expect(loadModules(['./empty.mjs'], dir)).rejects.toThrow('plugin module "./empty.mjs": exports no module');
  });
});

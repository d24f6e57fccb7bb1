import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CliCommand,
  CompositionLoader,
  coreModule,
  createContainer,
  featureModule,
  inject,
  injectable,
  isTaskId,
  loadComposition,
  loadModules,
  runProgram,
  Stage,
  stageRegistry,
  taskModule,
  taskRegistry,
  TaskRegistryToken,
  type BertModel,
  type Example,
  type LoadedComposition,
  type StageContext,
  type TaskPlugin,
  type TaskRegistry,
} from '../../src/index';

@injectable()
class ToyTask implements TaskPlugin {
  readonly id: string = 'toy';
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

  it('refuses a plugin whose id is not a task id, the rule configurations check ids by', () => {
    @injectable()
    class ShoutingTask extends ToyTask {
      override readonly id = 'Toy';
    }
    expect(() => taskRegistry(createContainer([taskModule(ShoutingTask)]))).toThrow('task plugin ShoutingTask: id "Toy" is not a task id (lower-case letters, digits, "_" or "-")');
    expect(['toy', 'demo-review', 'sst_2', '3'].map(isTaskId)).toEqual([true, true, true, true]);
    expect(['Toy', 'a b', 'a/b', ''].map(isTaskId)).toEqual([false, false, false, false]);
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

/** A stage that counts a task's examples: what a third-party stage looks like. */
@injectable()
class CountStage implements Stage<{ task: string }, number> {
  readonly id = 'count';
  constructor(@inject(TaskRegistryToken) private readonly tasks: TaskRegistry) {}
  check(config: { task: string }): void {
    this.tasks.get(config.task);
  }
  async run(config: { task: string }, context: StageContext): Promise<number> {
    let count = 0;
    for await (const _ of this.tasks.get(config.task).read('train', { dataDir: context.baseDir })) count++;
    return count;
  }
}

@injectable()
class OtherCountStage extends CountStage {}

// The core's extension points beyond task plugins, each collected from the container the modules fill.
describe('extension points', () => {
  it('collects stages by id, built by the container with their injected services', async () => {
    const stages = stageRegistry(createContainer([coreModule, taskModule(ToyTask), featureModule([[Stage, CountStage]])]));
    expect(stages.ids()).toEqual(['count', 'extract']);
    const count = stages.get<{ task: string }, number>('count');
    expect(() => count.check({ task: 'nope' }, {} as StageContext)).toThrow('unknown task "nope": registered tasks are toy');
    expect(await count.run({ task: 'toy' }, { baseDir: '.' } as StageContext)).toBe(1);
    expect(() => stages.get('fuse')).toThrow('unknown stage "fuse": registered stages are count, extract; is the module that contributes it loaded?');
    expect(() => stageRegistry(createContainer([featureModule([[Stage, CountStage], [Stage, OtherCountStage]])]))).toThrow(
      'stage id "count" is registered twice: by CountStage and by OtherCountStage',
    );
  });

  it('builds the command line from the commands the modules contribute', async () => {
    const hello: CliCommand = { register: (program, { io }) => void program.command('hello').action(() => io.out('hello\n')) };
    const out: string[] = [];
    const io = { out: (text: string) => out.push(text), err: (text: string) => out.push(text) };
    expect(await runProgram([featureModule([[CliCommand, hello]])], ['hello'], io)).toBe(0);
    expect(await runProgram([featureModule([[CliCommand, hello]])], ['extract'], io)).toBe(2);
    expect(out.join('')).toContain("hello\nerror: unknown command 'extract'");
    out.length = 0;
    expect(await runProgram([coreModule], ['--help'], io)).toBe(0);
    expect(out.join('').match(/^ {2}([a-z]+) /gm)?.map((line) => line.trim())).toEqual(['extract', 'evaluate', 'predict', 'forward', 'doctor', 'help']);
  });

  it('loads a saved composition with the loader whose config file the directory holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-composition-'));
    mkdirSync(join(dir, 'stack'));
    writeFileSync(join(dir, 'stack', 'stack_config.json'), '{}');
    const loaded = { name: 'a,b' } as LoadedComposition;
    const stackLoader: CompositionLoader = { kind: 'Stack', configFile: 'stack_config.json', load: async () => loaded };
    const backbone = {} as BertModel;
    const container = createContainer([featureModule([[CompositionLoader, stackLoader]])]);
    expect(await loadComposition(container, join(dir, 'stack'), backbone)).toBe(loaded);
    await expect(loadComposition(container, dir, backbone)).rejects.toThrow(`${dir}: not a composition directory: expected one of stack_config.json (Stack)`);
    await expect(loadComposition(createContainer(), dir, backbone)).rejects.toThrow('expected a module that loads compositions (none is loaded)');
  });
});

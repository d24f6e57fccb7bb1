import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRunDir } from '../../src/cli/commands/extract';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { runProgram } from '../../src/cli/program';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runProgram(BUILTIN_MODULES, argv, { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

describe('adapterfusion extract', () => {
  it('puts runs under runs/<config file name> by default', () => {
    expect(defaultRunDir('configs/glue.yaml')).toBe(join('runs', 'glue'));
  });

  it('refuses a bad --tasks list and a missing --config as usage errors', async () => {
    const emptyTasks = await run(['extract', '--config', 'x.yaml', '--tasks', ' , ']);
    expect(emptyTasks.code).toBe(2);
    expect(emptyTasks.err).toContain('expected comma-separated task ids, got " , "');
    const noConfig = await run(['extract']);
    expect(noConfig.code).toBe(2);
    expect(noConfig.err).toContain("required option '--config <file>' not specified");
  });

  it('reports every configuration problem with the file and the path', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'af-cli-')), 'extract.yaml');
    writeFileSync(file, 'backbone: models/x\ntasks: []\nadapter: { preset: double_seq_bn, nonLinearity: relu7 }\n');
    const { code, err } = await run(['extract', '--config', file, '--backend', 'wasm']);
    expect(code).toBe(1);
    expect(err).toContain(`invalid configuration in ${file}:`);
    expect(err).toContain('  tasks: must contain at least 1 elements, got []');
    expect(err).toMatch(/adapter\.nonLinearity: must be one of the following values: .*got "relu7"/);
  });
});

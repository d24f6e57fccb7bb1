// Every `adapterfusion` command shown in README.md and docs/ must parse against the real command line: a renamed
// command or option fails here. The examples that compute something also run for real in their own tests.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { BUILTIN_MODULES } from '../../bin/adapterfusion';
import { buildProgram } from '../../src/cli/program';

const ROOT = resolve(__dirname, '..', '..');

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file));
  return ['README.md', ...docs];
}

/** Shell-like words of one command line (quotes respected; stops at pipes, redirections and `&&`). */
function words(line: string): string[] {
  const out: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\|\||&&|[|>;])|(\S+)/g;
  for (const match of line.matchAll(pattern)) {
    if (match[3]) break;
    out.push(match[1] ?? match[2] ?? match[4] ?? '');
  }
  return out;
}

/** `adapterfusion ...` invocations inside fenced sh/bash blocks, with line continuations joined. */
export function documentedCommands(markdown: string): string[][] {
  const commands: string[][] = [];
  for (const block of markdown.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    const lines = (block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n');
    for (const line of lines) {
      const argv = words(line.replace(/^\$\s*/, ''));
      const start = argv.findIndex((word) => word === 'adapterfusion' || word.endsWith('/adapterfusion.js'));
      if (start >= 0) commands.push(argv.slice(start + 1));
    }
  }
  return commands;
}

describe('commands in the documentation', () => {
  const cases = markdownFiles().flatMap((file) =>
    documentedCommands(readFileSync(join(ROOT, file), 'utf8')).map((argv) => ({ file, argv })),
  );

  it('finds the documented commands', () => {
    expect(cases.length).toBeGreaterThan(0);
    expect(documentedCommands('```sh\nnpx adapterfusion fuse --config "a b.yaml" \\\n  --run runs/x | tee log\n```')).toEqual([
      ['fuse', '--config', 'a b.yaml', '--run', 'runs/x'],
    ]);
  });

  it.each(cases.map((c) => [`${c.file}: adapterfusion ${c.argv.join(' ')}`, c.argv] as const))('%s parses', async (_name, argv) => {
    const errors: string[] = [];
    const program = buildProgram(BUILTIN_MODULES, { out: () => undefined, err: (text) => errors.push(text) });
    const stub = (commands: readonly Command[]): void => commands.forEach((command) => stub(command.action(() => undefined).commands));
    stub(program.commands);
    const parsed = program.parseAsync([...argv], { from: 'user' }).catch((error: unknown) => {
      if (!(error instanceof CommanderError && error.code === 'commander.helpDisplayed')) throw error;
    });
    await expect(parsed.then(() => errors.join(''))).resolves.toBe('');
  });
});

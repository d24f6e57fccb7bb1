#!/usr/bin/env node
import 'reflect-metadata';
import { demoCommand } from './commands/demo';
import { doctorCommand } from './commands/doctor';
import { evaluateCommand, predictCommand } from './commands/evaluate';
import { extractCommand } from './commands/extract';
import { forwardCommand } from './commands/forward';
import { fuseCommand } from './commands/fuse';
import { inspectCommand } from './commands/inspect';
import { runCommand } from './commands/run';
import { runProgram, type CommandRegistration } from './program';

/** Every subcommand of `adapterfusion`, in the order `--help` lists them. */
export const COMMANDS: readonly CommandRegistration[] = [
  extractCommand,
  fuseCommand,
  inspectCommand,
  runCommand,
  evaluateCommand,
  predictCommand,
  demoCommand,
  forwardCommand,
  doctorCommand,
];

if (require.main === module) {
  void runProgram(COMMANDS, process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

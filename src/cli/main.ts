#!/usr/bin/env node
import 'reflect-metadata';
import { doctorCommand } from './commands/doctor';
import { forwardCommand } from './commands/forward';
import { fuseCommand } from './commands/fuse';
import { inspectCommand } from './commands/inspect';
import { runProgram, type CommandRegistration } from './program';

/** Every subcommand of `adapterfusion`, in the order `--help` lists them. */
export const COMMANDS: readonly CommandRegistration[] = [doctorCommand, forwardCommand, fuseCommand, inspectCommand];

if (require.main === module) {
  void runProgram(COMMANDS, process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

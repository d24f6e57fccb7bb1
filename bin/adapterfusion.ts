#!/usr/bin/env node
// The `adapterfusion` command: the one place that composes the core with the built-in task plugins, fusion and the queue.
import 'reflect-metadata';
import fusionModule from '../fusion/index';
import queueModule from '../queue/index';
import { coreModule, runProgram, type FeatureModule } from '../src/index';
import tasksModule from '../tasks/index';

/** The modules the command line is made of, in the order `--help` lists their commands. */
export const BUILTIN_MODULES: readonly FeatureModule[] = [coreModule, tasksModule, fusionModule, queueModule];

if (require.main === module) {
  void runProgram(BUILTIN_MODULES, process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

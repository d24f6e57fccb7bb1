import { CliCommand, combineModules, CompositionLoader, featureModule, Stage, taskModule } from '../src/index';
import { AdapterFusionLoader } from './adapter-fusion-loader';
import { demoCommand } from './demo-command';
import { DEMO_TASKS } from './demo-tasks';
import { fuseCommand } from './fuse-command';
import { FusionStage } from './fusion-stage';
import { inspectCommand } from './inspect-command';
import { runCommand } from './run-command';

export * from './adapter-fusion';
export * from './adapter-fusion-loader';
export * from './attention-html';
export * from './attention-inspector';
export * from './attention-recorder';
export * from './attention-report';
export * from './demo';
export * from './demo-tasks';
export * from './experiment-config';
export * from './experiment-queue';
export * from './experiment-runner';
export * from './explorer-data';
export * from './fusion-config';
export * from './fusion-layer';
export * from './fusion-model';
export * from './fusion-options';
export * from './fusion-stage';
export * from './run-command';
export * from './stacked-adapters';

/**
 * Fusion as a feature module, built on src/index.ts alone: the `fuse` stage, the loader of fusion directories (for
 * `forward --fusion`, `evaluate` and `predict`), the commands `fuse`, `inspect`, `run` and `demo`, and the demo's
 * synthetic tasks.
 */
export default combineModules(
  taskModule(...DEMO_TASKS),
  featureModule([
    [Stage, FusionStage],
    [CompositionLoader, AdapterFusionLoader],
    [CliCommand, fuseCommand],
    [CliCommand, inspectCommand],
    [CliCommand, runCommand],
    [CliCommand, demoCommand],
  ]),
);

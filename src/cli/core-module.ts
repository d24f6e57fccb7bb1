import { featureModule, type FeatureModule } from '../di/container';
import { ExtractStage } from '../pipeline/extract-stage';
import { Stage } from '../pipeline/stage';
import { doctorCommand } from './commands/doctor';
import { evaluateCommand, predictCommand } from './commands/evaluate';
import { extractCommand } from './commands/extract';
import { forwardCommand } from './commands/forward';
import { CliCommand } from './program';

/**
 * What the core contributes to its own extension points: the `extract` stage and the subcommands that need nothing
 * beyond src/ (`extract`, `evaluate`, `predict`, `forward`, `doctor`). The command line loads it first.
 */
export const coreModule: FeatureModule = featureModule([
  [Stage, ExtractStage],
  [CliCommand, extractCommand],
  [CliCommand, evaluateCommand],
  [CliCommand, predictCommand],
  [CliCommand, forwardCommand],
  [CliCommand, doctorCommand],
]);

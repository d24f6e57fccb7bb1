import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BACKEND_PREFERENCES, initBackend, describeBackend, type BackendInfo, type BackendPreference } from '../backend/backend';
import { contributions, createContainer, loadModules, type Container, type FeatureModule } from '../di/container';

/** Exit codes of the command line: 0 ok, 1 failure, 2 usage error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A usage mistake (bad or missing option): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Option parser for values such as `--temperature 0.5`: a finite number above 0. */
export function positiveNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`expected a positive number, got "${text}"`);
  return value;
}

/** Option parser for counts such as `--batch-size 32`: a whole number of at least 1. */
export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`expected a positive integer, got "${text}"`);
  return value;
}

/** The `--backend` option every computing command takes. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'tensor backend (default: ADAPTERFUSION_BACKEND or auto)').choices([...BACKEND_PREFERENCES]);
}

/** Starts the backend a command asked for and says once, on stderr, what runs and why. */
export async function startBackend(options: { backend?: BackendPreference; quiet?: boolean }): Promise<BackendInfo> {
  const info = await initBackend(options.backend);
  if (!options.quiet) process.stderr.write(`${describeBackend(info)}\n`);
  return info;
}

/** Output streams, replaceable in tests. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Token under which modules bind their subcommands of `adapterfusion` (same name as the interface, by design). */
export const CliCommand = Symbol.for('adapterfusion.CliCommand');

/** What a subcommand gets besides the program: output streams and the containers its actions resolve from. */
export interface CliContext {
  io: Io;
  /**
   * A fresh container of the command line's modules plus the plugin modules named in a configuration (paths relative
   * to `baseDir`, default the working directory). Plugin modules run arbitrary code: validate the configuration
   * that names them first.
   */
  container: (pluginModules?: readonly string[], baseDir?: string) => Promise<Container>;
}

/**
 * A subcommand of `adapterfusion`, contributed by a module. `--help` lists them in the order the modules bind them.
 *
 * @example
 * export const helloCommand: CliCommand = {
 *   register: (program, { io }) => program.command('hello').action(() => io.out('hello\n')),
 * };
 * export default featureModule([[CliCommand, helloCommand]]);
 */
export interface CliCommand {
  /** Adds the subcommand (or several) to the program. */
  register(program: Command, context: CliContext): void;
}

/**
 * Builds the program from the subcommands `modules` contribute; commander's own exits become exceptions so `run`
 * decides codes.
 */
export function buildProgram(modules: readonly FeatureModule[], io: Io): Command {
  const program = new Command('adapterfusion')
    .description('Bottleneck adapters and AdapterFusion on TensorFlow.js: extract, fuse, inspect')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run with --help for usage)');
  const context: CliContext = {
    io,
    container: async (pluginModules = [], baseDir = process.cwd()) => createContainer([...modules, ...(await loadModules(pluginModules, baseDir))]),
  };
  for (const command of contributions<CliCommand>(createContainer(modules), CliCommand)) command.register(program, context);
  for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  return program;
}

/**
 * Runs the program of `modules`' subcommands on argv (without node and script), returning the exit code instead of
 * exiting.
 */
export async function runProgram(modules: readonly FeatureModule[], argv: readonly string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(modules, io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n`);
      return EXIT.usage;
    }
    io.err(`error: ${(error as Error).message ?? String(error)}\n`);
    if (process.env.ADAPTERFUSION_DEBUG) io.err(`${(error as Error).stack}\n`);
    return EXIT.failure;
  }
}

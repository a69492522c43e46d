import { Command, CommanderError } from 'commander';
import { UsageError } from './errors.js';

type Register = (program: Command) => void;

// Each command is imported only when it runs: the tuning and serving commands pull in TF.js and
// the wasm backend, which would otherwise cost every `tuneserve query` a second of start-up.
const COMMANDS: Record<string, () => Promise<Register>> = {
  up: async () => (await import('./commands/up.js')).registerUp,
  tune: async () => (await import('./commands/tune.js')).registerTune,
  train: async () => (await import('./commands/train.js')).registerTrain,
  evaluate: async () => (await import('./commands/evaluate.js')).registerEvaluate,
  trials: async () => (await import('./commands/trials.js')).registerTrials,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  query: async () => (await import('./commands/query.js')).registerQuery,
};

/** Builds the program with every command, or only `only` when it names one (faster start). */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('tuneserve')
    .description('Tune, train and serve TensorFlow.js models')
    .version('0.1.0')
    .exitOverride()
    // Commander's errors as one line, like every other bad-input message ("error: x" + a hint line otherwise).
    .configureOutput({
      outputError: (text, write) => write(`tuneserve: ${text.trim().replace(/^error: /, '')} (see --help)\n`),
    });
  program.hook('preAction', (_program, command) => capBudgets(command));
  const names = only !== undefined && only in COMMANDS ? [only] : Object.keys(COMMANDS);
  for (const name of names) {
    const register = await COMMANDS[name]!();
    register(program);
  }
  return program;
}

/**
 * TUNESERVE_QUICK=1 caps every tuning and training budget (smoke runs, the docs test): the commands run their
 * whole path on a few hundred examples in seconds. Flags above a cap are lowered, and the command says so.
 */
const QUICK_CAPS: Record<string, number> = {
  limitSamples: 300,
  maxTrials: 2,
  executionsPerTrial: 1,
  epochs: 1,
  maxEpochs: 2,
  top: 1,
};

function capBudgets(command: Command): void {
  if (!['1', 'true'].includes(process.env.TUNESERVE_QUICK ?? '')) return;
  const capped: string[] = [];
  for (const [key, cap] of Object.entries(QUICK_CAPS)) {
    const value = command.getOptionValue(key) as unknown;
    const known = command.options.some((o) => o.attributeName() === key);
    if (known && (typeof value !== 'number' || value > cap)) {
      command.setOptionValue(key, cap);
      capped.push(`${key}=${cap}`);
    }
  }
  if (capped.length > 0) process.stderr.write(`tuneserve: TUNESERVE_QUICK: ${capped.join(', ')}\n`);
}

/** Runs the CLI and returns the process exit code: 0 ok, 2 bad input, 1 anything else. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv.find((arg) => !arg.startsWith('-')));
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through exitOverride with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    // Loaded only on failure: the typed input errors live in the libraries the lazy commands load.
    const { isInputError } = await import('./adapters/pipeline-errors.js');
    if (err instanceof UsageError || isInputError(err)) {
      process.stderr.write(`tuneserve: ${err.message}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tuneserve: ${message}\n`);
    return 1;
  }
}

import { Command, CommanderError } from 'commander';
import { registerEvaluate } from './commands/evaluate.js';
import { registerQuery } from './commands/query.js';
import { registerServe } from './commands/serve.js';
import { registerTrain } from './commands/train.js';
import { registerTrials } from './commands/trials.js';
import { registerTune } from './commands/tune.js';
import { registerUp } from './commands/up.js';
import { UsageError } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('tuneserve')
    .description('Tune, train and serve TensorFlow.js models')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [
    registerUp,
    registerTune,
    registerTrain,
    registerEvaluate,
    registerTrials,
    registerServe,
    registerQuery,
  ]) {
    register(program);
  }
  return program;
}

/** Runs the CLI and returns the process exit code: 0 ok, 2 bad input, 1 anything else. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through exitOverride with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`tuneserve: ${err.message}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tuneserve: ${message}\n`);
    return 1;
  }
}

import type { Command } from 'commander';
import { UsageError } from '../errors.js';

// Placeholder until its issue lands: the command exists but says it is not built yet.
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('(not built yet)')
    .action(() => {
      throw new UsageError('`tuneserve train` is not built yet');
    });
}

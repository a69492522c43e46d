import type { Command } from 'commander';
import { UsageError } from '../errors.js';

// Placeholder until its issue lands: the command exists but says it is not built yet.
export function registerTrials(program: Command): void {
  program
    .command('trials')
    .description('(not built yet)')
    .action(() => {
      throw new UsageError('`tuneserve trials` is not built yet');
    });
}

import type { Command } from 'commander';
import { UsageError } from '../errors.js';

// Placeholder until its issue lands: the command exists but says it is not built yet.
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('(not built yet)')
    .action(() => {
      throw new UsageError('`tuneserve up` is not built yet');
    });
}

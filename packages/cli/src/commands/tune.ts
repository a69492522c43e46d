import type { Command } from 'commander';
import { UsageError } from '../errors.js';

// Placeholder until its issue lands: the command exists but says it is not built yet.
export function registerTune(program: Command): void {
  program
    .command('tune')
    .description('(not built yet)')
    .action(() => {
      throw new UsageError('`tuneserve tune` is not built yet');
    });
}

import type { Command } from 'commander';
import { UsageError } from '../errors.js';

// Placeholder until its issue lands: the command exists but says it is not built yet.
export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('(not built yet)')
    .action(() => {
      throw new UsageError('`tuneserve query` is not built yet');
    });
}

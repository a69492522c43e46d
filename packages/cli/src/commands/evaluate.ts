import type { Command } from 'commander';
import { UsageError } from '../errors.js';

// Placeholder until its issue lands: the command exists but says it is not built yet.
export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('(not built yet)')
    .action(() => {
      throw new UsageError('`tuneserve evaluate` is not built yet');
    });
}

/**
 * `tuneserve <command> --help` from the built CLI, to check that deployment files use real flags.
 * Starting the CLI loads TF.js (seconds on a busy machine), so answers are cached in a temp file
 * keyed by the build's modification time and shared by the test files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(import.meta.dirname, '../../packages/cli/dist/bin.js');

export function cliHelp(command: string): string {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -b)`);
  const cacheFile = join(tmpdir(), `tuneserve-cli-help-${statSync(CLI).mtimeMs}-${command}.txt`);
  if (existsSync(cacheFile)) return readFileSync(cacheFile, 'utf8');
  const help = execFileSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });
  writeFileSync(cacheFile, help);
  return help;
}

/** The flags of an argument list such as ["tune", "--space=seed", "--quiet"], without values. */
export function flagsOf(args: string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0] ?? a);
}

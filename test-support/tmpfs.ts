/**
 * A small real filesystem that runs out of space: a size-limited tmpfs mounted for one test, so
 * "disk full" is the kernel's own ENOSPC and not a simulation. Needs root (mount(2)); outside CI a
 * machine that cannot mount skips loudly, under CI=true it fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  unmount(): void;
}

/** Mounts a tmpfs of `bytes` (rounded up to whole pages by the kernel) on a fresh directory. */
export function mountSmallDisk(bytes: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'tuneserve-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  return {
    dir,
    unmount() {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True when a tmpfs can be mounted here; otherwise skips loudly, or throws under CI. */
export function canMountTmpfs(): boolean {
  try {
    mountSmallDisk(4096).unmount();
    return true;
  } catch (e) {
    const message = `cannot mount a tmpfs (needs root): ${(e as Error).message.split('\n')[0]}`;
    if (process.env.CI === 'true') throw new Error(`CI requires disk-full tests: ${message}`);
    process.stderr.write(`\n!!! SKIPPING disk-full tests: ${message}\n\n`);
    return false;
  }
}

/**
 * Gate for suites that need a system component (Chromium, PostgreSQL, podman, OpenBLAS, kubectl).
 * Outside CI a missing component skips the suite with one loud line naming the setup command;
 * with CI=true a missing component is a failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type Component = 'chromium' | 'postgres' | 'podman' | 'openblas' | 'kubectl';

export const TEST_PG_URL =
  process.env.TUNESERVE_TEST_PG_URL ?? 'postgres://tuneserve:tuneserve@127.0.0.1:5432/tuneserve_test';

function present(component: Component): boolean {
  switch (component) {
    case 'chromium':
      return existsSync('/usr/bin/chromium');
    case 'podman':
      return commandWorks('podman', ['--version']);
    case 'openblas':
      return existsSync('/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h') || existsSync('/usr/include/cblas.h');
    case 'postgres':
      return commandWorks('pg_isready', ['-h', '127.0.0.1', '-p', '5432']);
    case 'kubectl':
      return commandWorks('kubectl', ['kustomize', '--help']);
  }
}

function commandWorks(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Returns true when the component is usable; otherwise skips loudly, or throws under CI. */
export function hasSystem(component: Component): boolean {
  if (present(component)) return true;
  const message = `${component} is not available: run \`sudo bash scripts/setup-system.sh\` to install and start it`;
  if (process.env.CI === 'true') throw new Error(`CI requires ${message}`);
  process.stderr.write(`\n!!! SKIPPING ${component} tests: ${message}\n\n`);
  return false;
}

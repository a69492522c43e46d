// Builds the optional OpenBLAS accelerator (native/build/tuneserve_blas.node) at `npm install`.
// It must never fail the install: when a compiler, Node's headers or OpenBLAS are missing, or the
// build fails, it prints one line and exits 0, and @tuneserve/runtime runs on pure wasm instead.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'tuneserve_blas.node');
const say = (line) => console.log(`@tuneserve/runtime: ${line}`);

function firstExisting(candidates) {
  return candidates.find((p) => p && existsSync(p));
}

function which(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return cmd;
  } catch {
    return undefined;
  }
}

try {
  // The boolean words of src/env.ts (this runs at install, before TypeScript is compiled, so it cannot import it).
  // An unknown word is reported, not fatal: the install must not fail.
  const skip = (process.env.TUNESERVE_SKIP_NATIVE ?? '').trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(skip)) {
    say(`native accelerator skipped (TUNESERVE_SKIP_NATIVE=${process.env.TUNESERVE_SKIP_NATIVE}); using pure wasm`);
    process.exit(0);
  }
  if (!['', '0', 'false', 'no', 'off'].includes(skip)) {
    say(
      `TUNESERVE_SKIP_NATIVE must be 1/true/yes/on or 0/false/no/off, got "${process.env.TUNESERVE_SKIP_NATIVE}"; building`,
    );
  }
  const cc = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean).find(which);
  const nodeInclude = firstExisting([
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ]);
  const blasInclude = firstExisting([
    '/usr/include/x86_64-linux-gnu/openblas-pthread',
    '/usr/include/aarch64-linux-gnu/openblas-pthread',
    '/usr/include/openblas',
    '/usr/local/opt/openblas/include',
    '/opt/homebrew/opt/openblas/include',
  ]);
  if (!cc || !nodeInclude || !blasInclude || !existsSync(join(nodeInclude, 'node_api.h'))) {
    const missing = [
      !cc && 'a C compiler',
      !nodeInclude && "Node's headers",
      !blasInclude && 'OpenBLAS (libopenblas-dev)',
    ]
      .filter(Boolean)
      .join(', ');
    say(`OpenBLAS accelerator not built (missing ${missing || 'node_api.h'}); using pure wasm`);
    process.exit(0);
  }
  mkdirSync(join(here, 'build'), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const libDir = blasInclude.replace('/include/', '/lib/');
  execFileSync(
    cc,
    [
      '-O3',
      '-fno-math-errno',
      '-shared',
      '-fPIC',
      '-DNODE_GYP_MODULE_NAME=tuneserve_blas',
      `-I${nodeInclude}`,
      `-I${blasInclude}`,
      join(here, 'tuneserve_blas.c'),
      join(here, 'tuneserve_infer.c'),
      join(here, 'tuneserve_common.c'),
      ...(existsSync(libDir) ? [`-L${libDir}`] : []),
      '-lopenblas',
      '-lm',
      '-pthread',
      '-o',
      tmp,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  renameSync(tmp, out);
  say('OpenBLAS accelerator built');
} catch (e) {
  const detail =
    String(e?.stderr ?? e?.message ?? e)
      .split('\n')
      .find((l) => l.trim()) ?? 'unknown error';
  say(`OpenBLAS accelerator not built (${detail.trim()}); using pure wasm`);
}
process.exit(0);

/** Picks and initialises the fastest available TF.js backend and reports the choice in one log line. */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { parseInteger } from './env.js';
import { BackendError } from './errors.js';
import { type AcceleratorStatus, type BlasAddon, loadAccelerator } from './native/accelerator.js';
import { setWasmFixes } from './wasm/fixes.js';
import { threadedFailure, useThreadedWasm, wasmThreads } from './wasm/threaded.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  native: boolean;
  threads: number;
  accelerator: 'openblas' | 'none';
  fixes: boolean;
  reason: string;
}

export interface InitBackendOptions {
  /** Force a backend (the TUNESERVE_BACKEND environment variable overrides this). */
  backend?: BackendName;
  /** Use the OpenBLAS addon on wasm when it loads (default true). */
  accelerator?: boolean;
  /** Apply tuneserve's wasm kernel fixes and fused optimizers (default true). */
  fixes?: boolean;
  /**
   * XNNPACK threads on pure wasm (tfjs-backend-wasm's threaded SIMD build when > 1). Default: one per core when the
   * fixes are on and the OpenBLAS accelerator is unavailable or disabled (TUNESERVE_ACCELERATOR=0), else 1, so a
   * process that has the addon can still switch it on (its heap cannot be the threaded build's shared one). The
   * TUNESERVE_WASM_THREADS environment variable overrides this. Fixed by the process's first wasm initialisation.
   */
  threads?: number;
  /** Where the one-line summary goes (default stderr); false silences it. */
  log?: ((line: string) => void) | false;
}

function parseBackend(value: string, origin: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new BackendError(`unknown backend "${value}" (from ${origin}); expected one of: ${BACKEND_NAMES.join(', ')}`);
}

function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

let active: { key: string; info: Promise<BackendInfo> } | undefined;
let fixesActive = false;

/** True when the wasm backend is active with tuneserve's fixes (the fused optimizers apply). */
export function wasmFixesActive(): boolean {
  return fixesActive && tf.getBackend() === 'wasm';
}

/**
 * Idempotent: the same options return the same result; different options re-initialise (switching backend or
 * turning fixes/accelerator on or off), which is how the benchmark compares stock and tuneserve kernels.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const env = process.env.TUNESERVE_BACKEND?.trim();
  const forced = env ? parseBackend(env, 'TUNESERVE_BACKEND') : options.backend;
  if (forced !== undefined) parseBackend(forced, 'options.backend');
  const key = JSON.stringify([forced, options.accelerator ?? true, options.fixes ?? true, options.threads]);
  if (active?.key === key) return active.info;
  const info = choose(forced, env ? 'forced by TUNESERVE_BACKEND' : 'requested', options).then((result) => {
    const log = options.log === undefined ? (line: string) => process.stderr.write(`${line}\n`) : options.log;
    if (log) log(describe(result));
    return result;
  });
  active = { key, info };
  info.catch(() => {
    if (active?.info === info) active = undefined;
  });
  return info;
}

/** The one log line, e.g. "tuneserve runtime: backend=wasm fixes=on accelerator=openblas threads=1 (...)". */
export function describe(info: BackendInfo): string {
  return (
    `tuneserve runtime: backend=${info.name} fixes=${info.fixes ? 'on' : 'off'} accelerator=${info.accelerator} ` +
    `threads=${info.threads} (${info.reason})`
  );
}

async function choose(forced: BackendName | undefined, why: string, options: InitBackendOptions): Promise<BackendInfo> {
  const wantFixes = options.fixes ?? true;
  const wantAccel = options.accelerator ?? true;
  const hasNode = tfjsNodeInstalled();
  if (forced === 'tensorflow' || (forced === undefined && hasNode)) {
    if (!hasNode) throw new BackendError('backend "tensorflow" needs @tensorflow/tfjs-node, which is not installed');
    await import('@tensorflow/tfjs-node' as string);
    await setBackendOrThrow('tensorflow');
    applyFixes(false);
    const cores = (await import('node:os')).availableParallelism();
    return {
      name: 'tensorflow',
      native: true,
      threads: cores,
      accelerator: 'none',
      fixes: false,
      reason: forced ? why : '@tensorflow/tfjs-node is installed',
    };
  }
  const noNode = '@tensorflow/tfjs-node not installed';
  if (forced === 'cpu') {
    await setBackendOrThrow('cpu');
    applyFixes(false);
    return { name: 'cpu', native: false, threads: 1, accelerator: 'none', fixes: false, reason: why };
  }
  const threads = wasmThreadsWanted(options.threads, wantFixes);
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (threads > 1) useThreadedWasm(threads);
    await setBackendOrThrow('wasm');
  } catch (e) {
    if (forced === 'wasm') throw e;
    await setBackendOrThrow('cpu');
    applyFixes(false);
    const reason = `${noNode}; wasm failed to start: ${(e as Error).message}`;
    return { name: 'cpu', native: false, threads: 1, accelerator: 'none', fixes: false, reason };
  }
  const xnnThreads = wasmThreads();
  let accel: AcceleratorStatus = wantFixes && wantAccel ? loadAccelerator() : { loaded: false, reason: 'disabled' };
  if (accel.loaded && xnnThreads > 0) {
    accel = { loaded: false, reason: "it cannot address the threaded build's shared heap (chosen by the first start)" };
  }
  applyFixes(wantFixes, accel.addon);
  const parts = [forced ? why : noNode];
  parts.push(wantFixes ? 'wasm kernel fixes applied' : 'stock wasm kernels');
  if (wantFixes) parts.push(accel.loaded ? accel.reason : `no accelerator: ${accel.reason}`);
  if (xnnThreads > 0) parts.push(`threaded SIMD build, XNNPACK on ${xnnThreads} threads`);
  const failure = threadedFailure();
  if (failure) parts.push(`threaded build failed, single-threaded: ${failure}`);
  return {
    name: 'wasm',
    native: false,
    threads: Math.max(1, xnnThreads),
    accelerator: accel.loaded ? 'openblas' : 'none',
    fixes: wantFixes,
    reason: parts.join('; '),
  };
}

/** XNNPACK threads for a first wasm start: TUNESERVE_WASM_THREADS, else the option, else the default above. */
function wasmThreadsWanted(requested: number | undefined, fixes: boolean): number {
  const env = process.env.TUNESERVE_WASM_THREADS?.trim();
  if (env) {
    const n = parseInteger(env, 1);
    if (n === undefined) throw new BackendError(`TUNESERVE_WASM_THREADS must be a whole number >= 1, got "${env}"`);
    return n;
  }
  if (requested !== undefined) {
    if (!Number.isSafeInteger(requested) || requested < 1) {
      throw new BackendError(`options.threads must be a whole number >= 1, got ${requested}`);
    }
    return requested;
  }
  return fixes && !loadAccelerator().loaded ? availableParallelism() : 1;
}

function applyFixes(on: boolean, blas?: BlasAddon): void {
  setWasmFixes(on && tf.getBackend() === 'wasm', blas);
  fixesActive = on && tf.getBackend() === 'wasm';
}

async function setBackendOrThrow(name: BackendName): Promise<void> {
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendError(`backend "${name}" failed to initialise: ${(e as Error).message}`);
  }
  if (!ok) throw new BackendError(`backend "${name}" failed to initialise`);
  await tf.ready();
}

/** Picks and initialises the fastest available TF.js backend and reports the choice in one log line. */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { BackendError } from './errors.js';
import { type AcceleratorStatus, type BlasAddon, loadAccelerator } from './native/accelerator.js';
import { setWasmFixes } from './wasm/fixes.js';

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
  const key = JSON.stringify([forced, options.accelerator ?? true, options.fixes ?? true]);
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
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    await setBackendOrThrow('wasm');
  } catch (e) {
    if (forced === 'wasm') throw e;
    await setBackendOrThrow('cpu');
    applyFixes(false);
    const reason = `${noNode}; wasm failed to start: ${(e as Error).message}`;
    return { name: 'cpu', native: false, threads: 1, accelerator: 'none', fixes: false, reason };
  }
  const accel: AcceleratorStatus = wantFixes && wantAccel ? loadAccelerator() : { loaded: false, reason: 'disabled' };
  applyFixes(wantFixes, accel.addon);
  const parts = [forced ? why : noNode];
  parts.push(wantFixes ? 'wasm kernel fixes applied' : 'stock wasm kernels');
  if (wantFixes) parts.push(accel.loaded ? accel.reason : `no accelerator: ${accel.reason}`);
  return {
    name: 'wasm',
    native: false,
    threads: 1, // multithreaded wasm does not work in Node (tfjs #6081)
    accelerator: accel.loaded ? 'openblas' : 'none',
    fixes: wantFixes,
    reason: parts.join('; '),
  };
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

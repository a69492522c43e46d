/**
 * Whether the wasm fixes are on and which native addon they use. Its own module so that the kernels and the fused
 * optimizers can read it without importing the module that installs them (which imports them).
 */
import type { BlasAddon } from '../native/accelerator.js';

export interface FixState {
  on: boolean;
  blas?: BlasAddon;
}

let current: FixState = { on: false };

export function fixState(): FixState {
  return current;
}

export function setFixState(next: FixState): void {
  current = next;
}

/** The native addon the active fixes use, if any (the fused optimizers run their loops in it). */
export function activeAddon(): BlasAddon | undefined {
  return current.on ? current.blas : undefined;
}

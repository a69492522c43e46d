/**
 * Swaps tuneserve's wasm kernels in and out of the TF.js kernel registry. Each replacement keeps the stock kernel's
 * setupFunc (the wasm backend binds its C functions there) and the stock config is restored when fixes are turned off.
 */
import * as tf from '@tensorflow/tfjs';
import { replacementKernels } from './kernels.js';

let stock: Map<string, tf.KernelConfig> | undefined;
let state: { on: boolean; accelerated: boolean } = { on: false, accelerated: false };

export function setWasmFixes(on: boolean, accelerated: boolean): void {
  if (state.on === on && state.accelerated === accelerated) return;
  const replacements = replacementKernels(accelerated);
  if (!stock) {
    stock = new Map();
    for (const k of replacements) {
      const original = tf.getKernel(k.kernelName, 'wasm');
      if (original) stock.set(k.kernelName, original);
    }
  }
  for (const k of replacements) {
    if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    const original = stock.get(k.kernelName);
    if (on) {
      tf.registerKernel({ ...k, backendName: 'wasm', setupFunc: original?.setupFunc });
    } else if (original) {
      tf.registerKernel(original);
    }
  }
  state = { on, accelerated };
}

export function wasmFixesState(): { on: boolean; accelerated: boolean } {
  return { ...state };
}

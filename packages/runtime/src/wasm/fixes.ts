/**
 * Swaps tuneserve's wasm kernels in and out of the TF.js kernel registry. Each replacement keeps the stock kernel's
 * setupFunc (the wasm backend binds its C functions there); turning fixes off restores the stock configs.
 */
import * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../native/accelerator.js';
import { installConvBiasActGradient } from './conv.js';
import { installReluGradient } from './elementwise.js';
import { fixState, setFixState } from './fix-state.js';
import { REPLACED_KERNELS, replacementKernels } from './kernels.js';
import { installFusedLosses } from './losses.js';
import { installDenseGradient } from './matmul.js';
import { installUserApi } from './user-api.js';

let stock: Map<string, tf.KernelConfig> | undefined;

function stockKernels(): Map<string, tf.KernelConfig> {
  if (!stock) {
    stock = new Map();
    for (const name of REPLACED_KERNELS) {
      const original = tf.getKernel(name, 'wasm');
      if (original) stock.set(name, original);
    }
  }
  return stock;
}

/** Registers the replacements (with the addon when given) or restores the stock kernels. */
export function setWasmFixes(on: boolean, blas?: BlasAddon): void {
  const state = fixState();
  if (state.on === on && state.blas === blas) return;
  const originals = stockKernels();
  if (on && blas) installReluGradient();
  if (on) {
    installConvBiasActGradient();
    installDenseGradient();
    const active = () => fixState().on && tf.getBackend() === 'wasm';
    installUserApi(active);
    installFusedLosses(active);
  }
  const replacements = new Map(
    on
      ? replacementKernels((name) => originals.get(name) ?? tf.getKernel(name, 'wasm'), blas).map((k) => [
          k.kernelName,
          k,
        ])
      : [],
  );
  for (const name of REPLACED_KERNELS) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    const original = originals.get(name);
    const replacement = replacements.get(name);
    if (replacement) {
      tf.registerKernel({
        kernelName: name,
        backendName: 'wasm',
        kernelFunc: replacement.kernelFunc as unknown as tf.KernelFunc,
        setupFunc: original?.setupFunc,
      });
    } else if (original) {
      tf.registerKernel(original);
    }
  }
  setFixState({ on, blas });
}

export function wasmFixesState(): { on: boolean; accelerated: boolean } {
  const state = fixState();
  return { on: state.on, accelerated: state.blas !== undefined };
}

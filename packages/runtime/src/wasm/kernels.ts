import type * as tf from '@tensorflow/tfjs';

/** The kernels tuneserve replaces or adds on wasm (filled in by the kernel modules). */
export function replacementKernels(_accelerated: boolean): Omit<tf.KernelConfig, 'backendName'>[] {
  return [];
}

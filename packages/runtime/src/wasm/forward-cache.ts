/**
 * Buffers a training-time forward kernel computed as a by-product (im2col matrices, max-pool argmax) so that its
 * gradient kernel can reuse them instead of recomputing. Entries are keyed by a tensor's dataId plus a geometry key:
 * tensor data is immutable and a dataId object is never reused, so a matching dataId proves the contents are the
 * same. Bounded: beyond the capacity the oldest buffer is freed (its gradient then recomputes).
 */
import type * as tf from '@tensorflow/tfjs';
import type { WasmBackend } from './backend-access.js';

export class ForwardCache {
  private entries: { dataId: object; key: string; buffer: tf.TensorInfo; backend: WasmBackend }[] = [];
  constructor(private readonly capacity: number) {}

  put(backend: WasmBackend, owner: tf.TensorInfo, key: string, buffer: tf.TensorInfo): void {
    this.entries.push({ dataId: owner.dataId, key, buffer, backend });
    while (this.entries.length > this.capacity) {
      const old = this.entries.shift()!;
      old.backend.disposeData(old.buffer.dataId);
    }
  }

  /** Removes and returns the matching buffer; the caller owns (and frees) it. */
  take(owner: tf.TensorInfo, key: string): tf.TensorInfo | undefined {
    const i = this.entries.findIndex((e) => e.dataId === owner.dataId && e.key === key);
    if (i < 0) return undefined;
    return this.entries.splice(i, 1)[0]!.buffer;
  }
}

/** True inside a gradient computation (model.fit's forward pass), when a backward pass will follow. */
export function recordingGradients(tfEngine: { state: unknown }): boolean {
  return (tfEngine.state as { gradientDepth: number }).gradientDepth > 0;
}

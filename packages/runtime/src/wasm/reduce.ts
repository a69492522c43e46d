/**
 * Sum over a leading or trailing block of axes (bias gradients reduce [batch, h, w, c] over [0, 1, 2]) as one
 * streaming pass; the stock wasm kernel transposes the input first whenever the reduced axes are not innermost.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Kernel, KernelArgs } from './backend-access.js';
import { sizeOf } from './backend-access.js';

/** Native streaming row sum (the accelerator's), on heap offsets in floats. */
export interface SumNative {
  sumRows(heap: ArrayBufferLike, x: number, out: number, rows: number, inner: number): void;
}

export function sumKernel(stock: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[], native?: SumNative): Kernel {
  return (args) => {
    const x = args.inputs.x!;
    const rank = x.shape.length;
    const raw = args.attrs?.axis as number | number[] | undefined;
    const list = raw === undefined || raw === null ? [...Array(rank).keys()] : Array.isArray(raw) ? raw : [raw];
    const axes = [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
    const prefix = axes.every((a, i) => a === i);
    const suffix = axes.every((a, i) => a === rank - axes.length + i);
    if (x.dtype !== 'float32' || axes.length === 0 || !(prefix || suffix)) return stock(args);
    const keep = Boolean(args.attrs?.keepDims);
    const outShape = keep
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    const { backend } = args;
    const out = backend.makeOutput(outShape, 'float32');
    if (prefix && native) {
      const inner = sizeOf(x.shape.slice(axes.length));
      if (inner > 0 && inner <= 65536) {
        const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
        native.sumRows(backend.wasm.HEAPU8.buffer, at(x), at(out), sizeOf(x.shape) / inner, inner);
        return out;
      }
    }
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    const v = backend.typedArrayFromHeap(x) as Float32Array;
    if (prefix) {
      const inner = sizeOf(x.shape.slice(axes.length));
      const outer = inner === 0 ? 0 : v.length / inner;
      const acc = new Float64Array(inner);
      for (let r = 0; r < outer; r++) {
        const base = r * inner;
        for (let i = 0; i < inner; i++) acc[i]! += v[base + i]!;
      }
      o.set(acc);
    } else {
      const inner = sizeOf(x.shape.slice(rank - axes.length));
      for (let r = 0; r < o.length; r++) {
        let s = 0;
        const base = r * inner;
        for (let i = 0; i < inner; i++) s += v[base + i]!;
        o[r] = s;
      }
    }
    return out;
  };
}
